"""Lock the reference handler's bundled dependencies, transitive ones included, with hashes.

``lambda_src/requirements.in`` names what the functions import (one pinned line per package);
this writes ``lambda_src/requirements.txt``: every distribution pip resolves for the Lambda
platform, pinned, each with the sha256 of the file pip downloaded. The bundler installs from
that file, and pip refuses any file whose hash differs, so two machines never put different
bytes into one asset. The asset hash covers the lock (it is one of the hashed source files).

Usage: python tools/lock_lambda_requirements.py [--check]
    --check  exit 1 when requirements.txt is not what this would write today (newer releases
             of an unpinned transitive dependency also count as a difference).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "lambda_src" / "requirements.in"
LOCK = ROOT / "lambda_src" / "requirements.txt"
#: The Lambda platform the lock is resolved for. Every locked distribution must be a pure-Python
#: wheel, so one hash serves both architectures and every python3.1x runtime.
PLATFORM = (
    "--platform", "manylinux2014_x86_64", "--python-version", "3.14", "--implementation", "cp",
)  # fmt: skip

HEADER = """\
# Locked by tools/lock_lambda_requirements.py from requirements.in; do not edit by hand.
# Every distribution the functions bundle, transitive ones included, with its sha256.
"""


def _wheel_name_version(wheel: Path) -> tuple[str, str]:
    name, version = wheel.name.split("-")[:2]
    return name.replace("_", "-").lower(), version


def resolve() -> str:
    """The lock file's text for the current ``requirements.in``."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [
                sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                "--only-binary=:all:", *PLATFORM, "--requirement", str(SOURCE), "--dest", folder,
            ],
            check=True,
        )  # fmt: skip
        lines = [HEADER]
        for wheel in sorted(Path(folder).glob("*.whl")):
            if not wheel.name.endswith("-py3-none-any.whl"):
                raise SystemExit(
                    f"{wheel.name} is not a pure-Python wheel: the lock would differ by platform"
                )
            name, version = _wheel_name_version(wheel)
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            lines.append(f"{name}=={version} \\\n    --hash=sha256:{digest}\n")
        return "".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = resolve()
    if args.check:
        if LOCK.read_text() != text:
            print(f"{LOCK} is out of date: run python tools/lock_lambda_requirements.py")
            return 1
        return 0
    LOCK.write_text(text)
    print(f"wrote {LOCK}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

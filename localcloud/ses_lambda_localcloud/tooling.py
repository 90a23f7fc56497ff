"""The quiet-tooling environment and the dummy AWS credentials, from one source.

``tooling.env`` (next to this module, shipped in the package) lists the settings that keep the
CDK CLI, jsii and pip quiet and offline-friendly; the repository's Makefile includes the same
file. Tests, benchmarks and the local cloud's CDK runs take them from here, so nobody keeps a
copy. ``DUMMY_CREDENTIALS`` are what deployed code and the CDK CLI get: moto accepts any key,
and these can reach no real account.

``python -m ses_lambda_localcloud.tooling [CACHE_DIR]`` prints the settings as shell exports.
"""

from __future__ import annotations

import os
import re
import sys
from functools import cache
from pathlib import Path

ENV_FILE = Path(__file__).with_name("tooling.env")
_CACHE = "$(CACHE)"
_LINE = re.compile(r"^export\s+([A-Z][A-Z0-9_]*)\s*:=\s*(.*?)\s*$")

#: Credentials handed to deployed code and to the CDK CLI; moto accepts any.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@cache
def _entries() -> tuple[tuple[str, str], ...]:
    entries = []
    for number, line in enumerate(ENV_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"{ENV_FILE}:{number}: expected 'export NAME := value', got {line!r}")
        entries.append((match.group(1), match.group(2)))
    return tuple(entries)


def quiet_tooling(cache_dir: Path | None = None) -> dict[str, str]:
    """The quiet-tooling settings. The cache locations (``$(CACHE)/...``) are included only
    when ``cache_dir`` is given, resolved under it."""
    settings: dict[str, str] = {}
    for name, value in _entries():
        if _CACHE in value:
            if cache_dir is None:
                continue
            value = value.replace(_CACHE, str(cache_dir))
        settings[name] = value
    return settings


def apply_quiet_tooling(cache_dir: Path | None = None) -> None:
    """Set the quiet-tooling settings in this process where they are not set yet."""
    for name, value in quiet_tooling(cache_dir).items():
        os.environ.setdefault(name, value)


def isolated_aws_environment(region: str) -> dict[str, str]:
    """Dummy credentials, the region, and no shared config or credentials files: a child
    process with this environment cannot reach a real AWS account."""
    return {
        **DUMMY_CREDENTIALS,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cache_dir = Path(args[0]).resolve() if args else None
    for name, value in quiet_tooling(cache_dir).items():
        print(f"export {name}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

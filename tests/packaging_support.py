"""Building the two wheels from a copy of the repository, and a fresh virtualenv to install
them into (its dependencies come from the dev environment's site-packages)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def copy_source(destination: Path) -> Path:
    """A copy of the source tree, so that building leaves nothing behind in the repository."""
    shutil.copytree(
        ROOT,
        destination,
        ignore=shutil.ignore_patterns(
            ".venv",
            "node_modules",
            ".cache",
            ".git",
            "cdk.out",
            "build",
            "*.egg-info",
            "__pycache__",
            ".local-cloud",
            ".mypy_cache",
            ".ruff_cache",
            ".hypothesis",
            ".pytest_cache",
            "dist",
        ),
    )
    return destination


def build_wheel(project: Path, out: Path, pattern: str) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(project),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob(pattern)
    return built


def fresh_virtualenv(venv: Path) -> tuple[Path, Path]:
    """A virtualenv without pip whose site-packages reaches the dev environment's (for the
    dependencies: aws-cdk-lib, moto, ...); returns its python and its site-packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # Appended after the venv's own site-packages, and its .pth files (the editable installs
    # of this repository) are not processed: the wheels installed into the venv win.
    (site / "dev-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, site

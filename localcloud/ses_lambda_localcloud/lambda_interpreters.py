"""Which Python interpreter runs a function, and the runtime packages it sees besides its code.

A function declares its runtime (``python3.14``); Lambda runs it on that Python. The local cloud
looks for the same minor version on this machine: a ``python3.14`` on ``PATH`` that really is
3.14 (pyenv's shims are skipped: they fail for versions that are not selected), then pyenv's
installed versions (``$PYENV_ROOT/versions/3.14.*``, highest patch release first). When there is
none, the function runs on the local cloud's own interpreter, and every invocation record and log
stream says so (``Interpreter.fallback``).

What the function can import besides its own code: the managed Python runtimes include the AWS
SDK (boto3 and its dependencies). The local cloud links its own copies of those packages into
one directory (``runtime-site``); they are pure Python, so they import on any of these versions.
Compiled packages in the function's bundle are built for the declared runtime's version and
import only on that version: on a fallback interpreter they fail with ``ImportError``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .lifecycle import WORK

#: What the managed Python runtime provides besides the standard library: the AWS SDK for Python.
#: https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html ("Runtime-included SDK versions")
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
_RUNTIME = re.compile(r"^python(\d+)\.(\d+)$")
_lock = threading.Lock()
_cache: dict[str, Interpreter] = {}


@dataclass(frozen=True)
class Interpreter:
    """The interpreter that runs a function's environments."""

    path: str
    version: str  # e.g. "3.13.0"
    runtime: str  # the function's declared runtime, e.g. "python3.13"
    #: Why the declared runtime's interpreter is not the one that runs (None when it is).
    fallback: str | None = None

    @property
    def native(self) -> bool:
        """True when this is the local cloud's own interpreter (its bytecode caches are valid)."""
        return os.path.realpath(self.path) == os.path.realpath(sys.executable)

    def describe(self) -> str:
        text = f"{self.path} (Python {self.version})"
        return f"{text}, fallback: {self.fallback}" if self.fallback else text

    def summary(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "version": self.version,
            "runtime": self.runtime,
            "fallback": self.fallback,
        }


def for_runtime(runtime: str) -> Interpreter:
    """The interpreter for a declared runtime (found once per runtime name, then cached)."""
    with _lock:
        found = _cache.get(runtime)
        if found is None:
            found = _cache[runtime] = _find(runtime)
        return found


def forget() -> None:
    """Look again on the next invocation (a test, or an interpreter installed meanwhile)."""
    with _lock:
        _cache.clear()


def _own(runtime: str, reason: str | None) -> Interpreter:
    version = ".".join(str(part) for part in sys.version_info[:3])
    return Interpreter(path=sys.executable, version=version, runtime=runtime, fallback=reason)


def _find(runtime: str) -> Interpreter:
    match = _RUNTIME.match(runtime)
    if match is None:
        return _own(runtime, f"{runtime!r} names no Python version")
    wanted = (int(match.group(1)), int(match.group(2)))
    if sys.version_info[:2] == wanted:
        return _own(runtime, None)
    for candidate in _candidates(runtime, wanted):
        version = _probe(candidate)
        if version is not None and tuple(int(p) for p in version.split(".")[:2]) == wanted:
            return Interpreter(path=candidate, version=version, runtime=runtime)
    own = ".".join(str(part) for part in sys.version_info[:2])
    return _own(
        runtime,
        f"no {runtime} interpreter here (looked on PATH and in pyenv's versions); "
        f"ran on the local cloud's own Python {own}",
    )


def _candidates(runtime: str, wanted: tuple[int, int]) -> list[str]:
    name = f"python{wanted[0]}.{wanted[1]}"
    found: list[str] = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or Path(directory).name == "shims":
            continue  # pyenv's (and asdf's) shims re-dispatch, and fail for unselected versions
        on_path = shutil.which(name, path=directory)
        if on_path:
            found.append(on_path)
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    versions = root / "versions"
    if versions.is_dir():
        prefix = f"{wanted[0]}.{wanted[1]}."
        releases = [
            entry
            for entry in versions.iterdir()
            if entry.name.startswith(prefix) and entry.name[len(prefix) :].isdigit()
        ]
        releases.sort(key=lambda entry: int(entry.name[len(prefix) :]), reverse=True)
        for entry in releases:
            path = entry / "bin" / name
            if os.access(path, os.X_OK):
                found.append(str(path))
    return found


def _probe(path: str) -> str | None:
    """The interpreter's version, or None if it does not run."""
    try:
        done = WORK.run_process(
            [path, "-I", "-S", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout.decode("ascii", "replace").strip()
    return text if done.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+", text) else None


def shared_cache_dir() -> Path:
    """The local cloud's machine-wide cache (``$XDG_CACHE_HOME/ses-lambda-localcloud``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ses-lambda-localcloud"


def pycache_dir() -> Path:
    """Where the workers keep their bytecode (``-X pycache_prefix``), outside any code folder
    and any virtualenv."""
    return shared_cache_dir() / "pycache"


def _package_sources() -> list[Path]:
    sources = []
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        sources.append(origin.parent if origin.name == "__init__.py" else origin)
    return sources


def runtime_site() -> Path:
    """A directory holding only the runtime's own packages (links into this interpreter's).

    One per set of package locations, in the machine-wide cache: its paths stay the same from
    one start to the next, so other interpreters' bytecode of it (kept by path) is reused.
    """
    sources = _package_sources()
    key = hashlib.sha256("\n".join(str(p) for p in sources).encode()).hexdigest()[:16]
    site = shared_cache_dir() / f"runtime-site-{key}"
    if site.is_dir() and all((site / p.name).exists() for p in sources):
        return site
    with _lock:
        site.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=site.parent, prefix=".runtime-site-"))
        for source in sources:
            (staging / source.name).symlink_to(source, target_is_directory=source.is_dir())
        if site.exists():  # links that no longer resolve (a moved virtualenv): replace them
            shutil.rmtree(site, ignore_errors=True)
        try:
            staging.rename(site)
        except OSError:  # another process made it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return site


def prepare(interpreter: Interpreter) -> Path:
    """The runtime site, compiled for the interpreter (once) into ``pycache_dir``.

    The managed runtime's SDK comes compiled; compiling it here before the first environment
    starts keeps that one-time cost out of the init phase (and out of the function's timeout).
    Every worker, this interpreter's included, reads and writes bytecode there only
    (``-X pycache_prefix``), never next to the sources.
    """
    site = runtime_site()
    marker = site / f".compiled-{interpreter.version}"
    if not marker.exists():
        targets = [str(site / p.name) for p in _package_sources()]
        prefix = f"pycache_prefix={pycache_dir()}"
        done = WORK.run_process(
            [interpreter.path, "-I", "-S", "-X", prefix, "-m", "compileall", "-q", *targets],
            timeout=300,
        )
        if done.returncode >= 0:  # not killed (a file that does not compile is no reason)
            marker.touch()
    return site

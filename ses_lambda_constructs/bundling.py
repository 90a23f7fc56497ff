"""Bundling of Python Lambda code without Docker.

:class:`LocalPythonBundler` pip-installs a ``requirements.txt`` for the Lambda platform into the
asset and copies the source beside it. Results are cached on disk by a content hash of the
sources and the install options, so a second synth with unchanged code does no bundling work,
even in a fresh ``cdk.out``. When pip cannot run here, the CDK falls back to Docker bundling.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

#: Bump to invalidate every cached bundle when the bundling procedure changes.
BUNDLER_VERSION = "2"
CACHE_ENV = "SES_LAMBDA_CONSTRUCTS_BUNDLE_CACHE"
_IGNORED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", "tests"}
_IGNORED_SUFFIXES = {".pyc", ".pyo"}


def _cache_root() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ses-lambda-constructs" / "bundles"


def _source_files(source: Path) -> Iterable[Path]:
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in _IGNORED_DIRS for part in relative.parts):
            continue
        if path.is_file() and path.suffix not in _IGNORED_SUFFIXES:
            yield path


def _platform(architecture: lambda_.Architecture) -> str:
    return "manylinux2014_aarch64" if architecture.name == "arm64" else "manylinux2014_x86_64"


class PythonBundle:
    """What goes into a Python Lambda asset: a source folder plus its pinned requirements."""

    def __init__(
        self,
        source: Path,
        *,
        runtime: lambda_.Runtime,
        architecture: lambda_.Architecture,
        requirements: str = "requirements.txt",
        exclude: Iterable[str] = (),
        prune: Iterable[str] = (),
    ) -> None:
        """
        :param exclude: source files (relative POSIX paths) left out of the bundle.
        :param prune: glob patterns, relative to the bundle, of installed files and folders the
            function never imports; they are deleted after ``pip install``.
        """
        self.source = source.resolve()
        self.python_version = runtime.name.removeprefix("python")
        self.platform = _platform(architecture)
        self.requirements = requirements
        self.exclude = frozenset(exclude)
        self.prune = tuple(prune)
        self._fingerprint: str | None = None

    def files(self) -> list[Path]:
        return [
            path
            for path in _source_files(self.source)
            if path.relative_to(self.source).as_posix() not in self.exclude
        ]

    def fingerprint(self) -> str:
        """Content hash of the sources and of every option that changes the bundle.

        Computed once per bundle object (a synthesis reads the sources once).
        """
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def _compute_fingerprint(self) -> str:
        digest = hashlib.sha256()
        for part in (BUNDLER_VERSION, self.python_version, self.platform, self.requirements):
            digest.update(part.encode() + b"\0")
        for pattern in self.prune:
            digest.update(b"prune:" + pattern.encode() + b"\0")
        for path in self.files():
            digest.update(path.relative_to(self.source).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()

    def _cached_path(self) -> Path:
        return _cache_root() / self.fingerprint()

    def is_cached(self) -> bool:
        return self._cached_path().is_dir()

    def build(self, output_dir: Path) -> None:
        """Write the bundle into ``output_dir``, from the cache when it is there."""
        cached = self._cached_path()
        if not cached.is_dir():
            self._build_into_cache(cached)
        shutil.copytree(cached, output_dir, dirs_exist_ok=True)

    def _build_into_cache(self, cached: Path) -> None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=cached.parent))
        try:
            requirements = self.source / self.requirements
            if requirements.is_file() and requirements.read_text().strip():
                self._pip_install(requirements, staging)
                self._prune(staging)
            for path in self.files():
                relative = path.relative_to(self.source)
                if relative.as_posix() == self.requirements:
                    continue
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
            try:
                staging.rename(cached)
            except OSError:  # another process cached the same bundle first
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _prune(self, staging: Path) -> None:
        for pattern in self.prune:
            for path in staging.glob(pattern):
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()

    def _pip_install(self, requirements: Path, target: Path) -> None:
        command = [
            sys.executable, "-m", "pip", "install",
            "--requirement", str(requirements),
            "--target", str(target),
            "--platform", self.platform,
            "--implementation", "cp",
            "--python-version", self.python_version,
            "--only-binary=:all:",
            "--no-compile",
            "--quiet",
            "--disable-pip-version-check",
        ]  # fmt: skip
        subprocess.run(command, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # Console scripts carry the build machine's interpreter path; the function never runs them.
        shutil.rmtree(target / "bin", ignore_errors=True)


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    """``ILocalBundling`` that builds a :class:`PythonBundle` with this interpreter's pip."""

    def __init__(self, bundle: PythonBundle) -> None:
        self._bundle = bundle

    def try_bundle(self, output_dir: str, *args: object, **kwargs: object) -> bool:
        if not self._bundle.is_cached():
            try:
                subprocess.run(
                    [sys.executable, "-m", "pip", "--version"],
                    check=True,
                    capture_output=True,
                )
            except (OSError, subprocess.CalledProcessError):
                return False  # the CDK falls back to Docker bundling
        self._bundle.build(Path(output_dir))
        return True


def python_code(bundle: PythonBundle, runtime: lambda_.Runtime) -> lambda_.Code:
    """Lambda code for ``bundle``: local bundling, Docker only as fallback, hashed by content."""
    return lambda_.Code.from_asset(
        str(bundle.source),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=bundle.fingerprint(),
        bundling=BundlingOptions(
            image=runtime.bundling_image,
            local=LocalPythonBundler(bundle),
            command=[
                "bash",
                "-c",
                f"pip install -r {bundle.requirements} -t /asset-output --no-compile && "
                "cp -r --no-preserve=mode . /asset-output && rm -rf /asset-output/bin",
            ],
        ),
    )

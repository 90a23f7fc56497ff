"""What a user installs can be trusted: both distributions build, pass ``twine check``, carry the
licence and their metadata, declare every package they import, pin nothing exactly, and the
reference handler's asset is locked with hashes and built byte-identically from clean caches."""

from __future__ import annotations

import ast
import email.parser
import hashlib
import importlib.metadata
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_

from ses_lambda_constructs.bundling import PythonBundle
from ses_lambda_constructs.handler_bundle import reference_bundle
from tests.packaging_support import ROOT, copy_source

DISTRIBUTIONS = {
    "ses-lambda-constructs": (ROOT, ROOT / "ses_lambda_constructs"),
    "ses-lambda-localcloud": (ROOT / "localcloud", ROOT / "localcloud" / "ses_lambda_localcloud"),
}
LOCK = ROOT / "lambda_src" / "requirements.txt"
# Builds of both distributions and of the handler's asset: the end-to-end stage (make test-e2e).
pytestmark = pytest.mark.slow
LOCK_SOURCE = ROOT / "lambda_src" / "requirements.in"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """``python -m build`` (sdist and wheel) of both distributions, from a copy of the tree."""
    source = copy_source(tmp_path_factory.mktemp("release") / "src")
    artifacts: dict[str, list[Path]] = {}
    for name, (project, _) in DISTRIBUTIONS.items():
        folder = source / project.relative_to(ROOT)
        out = folder / "dist-release"
        subprocess.run(
            [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(folder)],
            check=True,
            capture_output=True,
        )
        artifacts[name] = sorted(out.iterdir())
    return artifacts


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode())


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_both_artifacts_pass_twine_check(built: dict[str, list[Path]], name: str) -> None:
    kinds = sorted(path.suffix for path in built[name])
    assert kinds == [".gz", ".whl"], built[name]
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, built[name])],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_wheel_carries_licence_readme_and_typed_marker(
    built: dict[str, list[Path]], name: str
) -> None:
    (wheel,) = (path for path in built[name] if path.suffix == ".whl")
    project, package = DISTRIBUTIONS[name]
    names = zipfile.ZipFile(wheel).namelist()
    licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
    assert zipfile.ZipFile(wheel).read(licence) == (ROOT / "LICENSE").read_bytes()
    assert f"{package.name}/py.typed" in names
    metadata = _metadata(wheel)
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert metadata.get_payload().strip() == (project / "README.md").read_text().strip()
    classifiers = metadata.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.14" in classifiers
    assert metadata["Requires-Python"] == ">=3.11"


def test_licence_is_apache_2_in_both_project_folders() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert (ROOT / "localcloud" / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes()


def _declared(project: Path) -> dict[str, str]:
    """Each runtime dependency's distribution name (normalised) and its version specifier."""
    table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    specs = list(table["dependencies"])
    for extra in table.get("optional-dependencies", {}).values():
        specs += [spec for spec in extra if not spec.startswith(table["name"])]
    declared = {}
    for spec in specs:
        match = re.match(r"([A-Za-z0-9_.-]+)(\[[^]]*\])?\s*(.*)", spec)
        assert match, spec
        declared[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[3]
    return declared


def _imported_top_level(package: Path) -> set[str]:
    names = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", package.name}


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_every_directly_imported_package_is_declared(name: str) -> None:
    project, package = DISTRIBUTIONS[name]
    declared = _declared(project)
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for module in sorted(_imported_top_level(package)):
        distributions = {re.sub(r"[-_.]+", "-", d).lower() for d in providers.get(module, [])}
        if module == "ses_lambda_constructs" or not distributions & declared.keys():
            missing[module] = sorted(distributions)
    # The local cloud may use the library's public API only where the library is installed beside
    # it (the CLI says so when it is not); nothing else may arrive undeclared.
    missing.pop("ses_lambda_constructs", None)
    assert not missing, f"{name} imports packages it does not declare: {missing}"


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_nothing_users_install_is_pinned_exactly(name: str) -> None:
    project, _ = DISTRIBUTIONS[name]
    table = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    pinned = [spec for spec in table["dependencies"] if "==" in spec]
    assert not pinned, f"{name} pins what users install into their environment: {pinned}"
    assert all(">=" in spec for spec in table["dependencies"]), table["dependencies"]


def test_lambda_lock_pins_every_distribution_with_a_hash() -> None:
    entries = re.findall(
        r"^([a-z0-9-]+)==(\S+) \\\n    --hash=sha256:([0-9a-f]{64})$", LOCK.read_text(), re.M
    )
    requirement_lines = [
        line for line in LOCK.read_text().splitlines() if line and not line.startswith((" ", "#"))
    ]
    assert entries and len(entries) == len(requirement_lines), LOCK.read_text()
    locked = {name: version for name, version, _ in entries}
    for line in LOCK_SOURCE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            assert locked.get(name.strip().lower()) == version.strip(), (line, locked)
    # boto3 comes with the Lambda runtime; a lock that drags it in would double the asset.
    assert "boto3" not in locked and "botocore" not in locked


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_handler_asset_is_byte_identical_from_two_clean_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN two empty bundle caches (two machines that never built the asset)
    trees = []
    for machine in ("a", "b"):
        monkeypatch.setenv("SES_LAMBDA_CONSTRUCTS_BUNDLE_CACHE", str(tmp_path / machine / "cache"))
        bundle = reference_bundle(lambda_.Runtime.PYTHON_3_14, lambda_.Architecture.X86_64)
        # WHEN each builds the handler's asset from the hash-locked requirements
        bundle.build(tmp_path / machine / "asset")
        trees.append((bundle.fingerprint(), _tree_digest(tmp_path / machine / "asset")))
    # THEN the asset hash and every byte of the bundle are the same
    assert trees[0] == trees[1]
    assert (tmp_path / "a" / "asset" / "aws_lambda_powertools").is_dir()
    assert not (tmp_path / "a" / "asset" / "requirements.in").exists()


def test_the_asset_hash_covers_the_lock(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "handler.py").write_text("def lambda_handler(event, context):\n    return None\n")
    (source / "requirements.txt").write_text(LOCK.read_text())
    options = {"runtime": lambda_.Runtime.PYTHON_3_14, "architecture": lambda_.Architecture.X86_64}
    before = PythonBundle(source, **options).fingerprint()
    (source / "requirements.txt").write_text(LOCK.read_text().replace("a", "b", 1))
    assert PythonBundle(source, **options).fingerprint() != before

"""The wheel carries the reference handler, and a consumer app outside the repo synthesizes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.packaging_support import build_wheel, copy_source, fresh_virtualenv

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    return build_wheel(copy_source(out / "src"), out, "ses_lambda_constructs-*.whl")


def test_wheel_contains_the_handler_and_package_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "ses_lambda_constructs/py.typed",
        "ses_lambda_constructs/data/receiving_regions.json",
        "ses_lambda_constructs/custom_resources/rule_set/index.py",
        "ses_lambda_constructs/lambda_src/handler.py",
        "ses_lambda_constructs/lambda_src/requirements.txt",
        "ses_lambda_constructs/lambda_src/ses_mail/__init__.py",
        # the values the constructs and the functions share, read by both
        "ses_lambda_constructs/lambda_src/ses_mail/contract.py",
    }
    assert expected <= names, sorted(expected - names)
    assert not any(name.startswith("tests/") or "__pycache__" in name for name in names)


def test_library_wheel_holds_no_local_cloud_code(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert not [name for name in names if "localcloud" in name or "moto" in name]
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [
        line.split(":", 1)[1].strip()
        for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert sorted(r.split(">")[0].split("<")[0].split("=")[0] for r in requires) == [
        "aws-cdk-lib",
        "constructs",
        "jsii",
    ]


@pytest.mark.slow
def test_consumer_app_outside_the_repo_synthesizes_from_the_wheel(
    wheel: Path, tmp_path: Path
) -> None:
    # GIVEN a fresh virtualenv holding only the wheel (its dependencies come from the dev env)
    python, site = fresh_virtualenv(tmp_path / "venv")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    app_dir = tmp_path / "consumer"
    app_dir.mkdir()
    shutil.copy(ROOT / "examples" / "support_inbox.py", app_dir / "app.py")

    # WHEN the example app is synthesized there
    env = {**os.environ, "CDK_OUTDIR": str(app_dir / "cdk.out"), "PYTHONPATH": ""}
    result = subprocess.run(
        [
            str(python),
            "-c",
            "import ses_lambda_constructs; print(ses_lambda_constructs.__file__); exec(open('app.py').read())",
        ],
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    # THEN the library came from the wheel and the handler asset holds the bundled handler
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.startswith(str(site)), result.stdout
    template = json.loads((app_dir / "cdk.out" / "SupportInbox.template.json").read_text())
    handler = next(
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == "handler.lambda_handler"
    )
    asset_hash = handler["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    bundle = app_dir / "cdk.out" / f"asset.{asset_hash}"
    assert (bundle / "handler.py").is_file()
    assert (bundle / "ses_mail").is_dir()
    assert (bundle / "ses_mail" / "contract.py").is_file()
    assert (bundle / "aws_lambda_powertools").is_dir()
    assert not (bundle / "requirements.txt").exists()
    # Pruned: pip metadata and the Powertools features the handler never imports.
    assert not list(bundle.glob("*.dist-info"))
    assert not (bundle / "aws_lambda_powertools" / "event_handler").exists()
    # What is left imports on its own: stdlib and the bundle, no site-packages.
    isolated = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path[:0] = [{str(bundle)!r}]; import handler, gate, forwarder",
        ],
        capture_output=True,
        text=True,
    )
    assert isolated.returncode == 0, isolated.stderr
    rules = [r for r in template["Resources"].values() if r["Type"] == "AWS::SES::ReceiptRule"]
    assert len(rules) == 2

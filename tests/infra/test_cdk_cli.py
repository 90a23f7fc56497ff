"""The real CDK CLI (the pinned one in node_modules) synthesizes the demo with no credentials."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_cdk_synth_writes_the_demo_template_offline(tmp_path: Path) -> None:
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        pytest.fail("the pinned CDK CLI is missing: run `make setup` (npm ci) first")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_EC2_METADATA_DISABLED="true", CDK_DISABLE_VERSION_CHECK="true")
    result = subprocess.run(
        [str(cdk), "synth", "--quiet", "--output", str(tmp_path / "out"), "--no-notices"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    template = json.loads((tmp_path / "out" / "SesLambdaDemo.template.json").read_text())
    types = {resource["Type"] for resource in template["Resources"].values()}
    assert {
        "AWS::SES::EmailIdentity",
        "AWS::SES::ReceiptRuleSet",
        "AWS::SES::ReceiptRule",
        "AWS::Lambda::Permission",
        "AWS::S3::BucketPolicy",
        "Custom::SesReceiptRuleSetActivation",
    } <= types
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert "missing" not in manifest, f"the demo needed context lookups: {manifest['missing']}"
    assert "Warning" not in result.stderr and "Error" not in result.stderr, result.stderr

"""Shared test set-up: quiet, offline tooling and one synthesis of each shared stack."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Before aws_cdk is imported anywhere: no Node end-of-life banners, caches in the project, dummy
# credentials so that nothing can reach a real account, no instance-metadata probes.
for key, value in {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "true",
    "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
    "JSII_RUNTIME_PACKAGE_CACHE_ROOT": str(ROOT / ".cache" / "jsii"),
    "CDK_HOME": str(ROOT / ".cache" / "cdk"),
    "SES_LAMBDA_CONSTRUCTS_BUNDLE_CACHE": str(ROOT / ".cache" / "bundles"),
    "AWS_EC2_METADATA_DISABLED": "true",
    "CDK_DISABLE_VERSION_CHECK": "true",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
}.items():
    os.environ.setdefault(key, value)
for key, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[key] = value
os.environ.pop("AWS_PROFILE", None)

"""Shared test set-up: quiet, offline tooling and one synthesis of each shared stack."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import settings

from ses_lambda_localcloud import tooling

ROOT = Path(__file__).resolve().parent.parent

# Before aws_cdk is imported anywhere: the Makefile's quiet tooling (no Node end-of-life
# banners, no instance-metadata probes, caches in the project), and dummy credentials so that
# nothing can reach a real account.
tooling.apply_quiet_tooling(ROOT / ".cache")
os.environ.update(tooling.DUMMY_CREDENTIALS, AWS_DEFAULT_REGION="us-east-1")
os.environ.pop("AWS_PROFILE", None)

# Hypothesis's per-example deadline is a timing assertion: on a shared 2-core machine a slow
# example says nothing about the code, so no property test fails for its speed (timings are
# measured by the benchmarks instead). A failure prints the blob that reproduces it.
settings.register_profile("project", deadline=None, print_blob=True)
settings.load_profile("project")

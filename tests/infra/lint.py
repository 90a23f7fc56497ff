"""cfn-lint over templates the tests synthesize, in-process and cached by content."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cfnlint.api import ManualArgs, lint

# W3005: a DependsOn that CloudFormation would infer anyway. The receipt rules keep theirs on
# purpose: SES checks the permission and the bucket policy when it creates the rule.
# W3010: hard-coded Availability Zones. A VPC in a stack bound to an account and region names
# that account's zones (the CDK looks them up; the tests supply them as context).
IGNORED_CHECKS = ["W3005", "W3010"]
_clean: set[str] = set()


def assert_cfn_lint_clean(template: dict[str, Any], *, name: str) -> None:
    body = json.dumps(template, sort_keys=True)
    digest = hashlib.sha256(body.encode()).hexdigest()
    if digest in _clean:
        return
    matches = lint(
        body,
        config=ManualArgs(regions=["us-east-1", "eu-west-1"], ignore_checks=IGNORED_CHECKS),
    )
    assert not matches, f"cfn-lint found problems in {name}:\n" + "\n".join(map(str, matches))
    _clean.add(digest)

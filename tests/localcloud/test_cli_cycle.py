"""The real CDK CLI against the local cloud: bootstrap, deploy, update, destroy (slow: ~30 s)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from ses_lambda_localcloud import cdk_cli, samples, sender
from ses_lambda_localcloud.server import LocalCloud
from ses_lambda_localcloud.target import Target

from .conftest import CDK_APP

STACK = "LocalCloudMini"
RECIPIENT = "support@mail.example.com"


def handler_version(target: Target, bucket: str) -> str:
    sent = sender.send(
        target,
        samples.documented_sample(RECIPIENT),
        recipients=[RECIPIENT],
        mail_from=samples.DOCUMENTED_SENDER,
    )
    assert sent.message_id, sent.rejected
    record = sender.wait_for(target, sent.message_id, timeout=60)
    assert record["status"] == "done", record
    body = (
        target.client("s3")
        .get_object(Bucket=bucket, Key=f"parsed/{sent.message_id}/message.json")["Body"]
        .read()
    )
    return str(json.loads(body)["version"])


@pytest.mark.slow
def test_bootstrap_deploy_update_destroy_with_the_cdk_cli(
    fresh: LocalCloud, target: Target, aws: Callable[[str], Any]
) -> None:
    app = f"{sys.executable} app.py"
    lines: list[str] = []
    timings: dict[str, float] = {}

    def run(name: str, action: Callable[[], Any]) -> None:
        started = time.monotonic()
        action()
        timings[name] = round(time.monotonic() - started, 1)

    run("bootstrap", lambda: cdk_cli.bootstrap(target, root=CDK_APP, echo=lines.append))
    run(
        "deploy",
        lambda: cdk_cli.deploy(
            target, stacks=[STACK], root=CDK_APP, app=app, bootstrap_first=False, echo=lines.append
        ),
    )
    outputs = cdk_cli.stack_outputs(target, STACK)
    started = time.monotonic()
    assert handler_version(target, outputs["BucketName"]) == "1"
    timings["one mail"] = round(time.monotonic() - started, 2)

    run(
        "update",
        lambda: cdk_cli.deploy(
            target,
            stacks=[STACK],
            root=CDK_APP,
            app=app,
            context=["handlerVersion=2"],
            bootstrap_first=False,
            echo=lines.append,
        ),
    )
    assert handler_version(target, outputs["BucketName"]) == "2"
    assert any("UPDATE_COMPLETE" in line and "AWS::Lambda::Function" in line for line in lines)

    run(
        "destroy",
        lambda: cdk_cli.destroy(
            target,
            stacks=[STACK],
            root=CDK_APP,
            app=app,
            context=["handlerVersion=2"],
            echo=lines.append,
        ),
    )
    summaries = aws("cloudformation").list_stacks()["StackSummaries"]
    assert {s["StackName"]: s["StackStatus"] for s in summaries}[STACK] == "DELETE_COMPLETE"
    assert aws("ses").describe_active_receipt_rule_set().get("Metadata") is None
    assert aws("ses").list_receipt_rule_sets()["RuleSets"] == []
    # The bucket has RemovalPolicy.RETAIN: it stays, as on AWS.
    assert outputs["BucketName"] in {b["Name"] for b in aws("s3").list_buckets()["Buckets"]}
    print(f"\nCDK CLI cycle timings (s): {timings}")

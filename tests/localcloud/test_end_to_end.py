"""The whole pipeline in this process: synthesized template -> local cloud -> SMTP -> S3 ->
deployed handler code -> parsed JSON, and the failures that must be visible."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ses_lambda_localcloud import assembly, report, samples, sender
from ses_lambda_localcloud.server import LocalCloud
from ses_lambda_localcloud.target import Target

from .conftest import synth

RECIPIENT = "support@mail.example.com"


def parsed_document(target: Target, bucket: str, message_id: str) -> dict[str, Any]:
    """The one delivery's document (``parsed/<messageId>/<delivery key>/message.json``)."""
    s3 = target.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"parsed/{message_id}/")
    keys = [o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith("/message.json")]
    assert len(keys) == 1, keys
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    return dict(json.loads(body))


def deliver(
    target: Target, message: bytes, recipient: str = RECIPIENT, timeout: float = 30
) -> tuple[sender.SendResult, dict[str, Any]]:
    """Send ``message`` to ``recipient`` over SMTP and wait until the rule set has run."""
    sent = sender.send(target, message, recipients=[recipient], mail_from="janedoe@example.com")
    assert sent.message_id, sent.rejected
    return sent, sender.wait_for(target, sent.message_id, timeout=timeout)


def test_documented_sample_is_stored_and_parsed_by_the_deployed_handler(
    target: Target, mini_stack: assembly.DeployResult
) -> None:
    # GIVEN the test app deployed, WHEN the documented sample arrives over SMTP
    sent = sender.send(
        target,
        samples.documented_sample(RECIPIENT),
        recipients=[RECIPIENT],
        mail_from=samples.DOCUMENTED_SENDER,
    )
    assert sent.accepted == [RECIPIENT] and sent.message_id
    record = sender.wait_for(target, sent.message_id, timeout=30)

    # THEN the raw message went to S3 first, then the handler parsed it
    assert record["status"] == "done", record
    (rule,) = record["rules"]
    assert [a["type"] for a in rule["actions"]] == ["S3", "Lambda"]
    bucket = mini_stack.outputs["BucketName"]
    raw = target.client("s3").get_object(Bucket=bucket, Key=f"raw/{sent.message_id}")
    stored = raw["Body"].read()
    assert stored.startswith(b"Return-Path: <janedoe@example.com>\r\nReceived: from ")
    document = parsed_document(target, bucket, sent.message_id)
    assert document["subject"] == "Test Subject"
    assert document["from"] == ["Jane Doe <janedoe@example.com>"]
    assert document["recipients"] == [RECIPIENT]
    assert document["verdicts"]["spamVerdict"] == "PASS"
    assert document["text"].startswith("This is a test message")


def test_attachment_sample_reaches_the_handler_with_its_attachment(
    target: Target, mini_stack: assembly.DeployResult
) -> None:
    sent, record = deliver(target, samples.attachment_sample(RECIPIENT))
    assert record["status"] == "done", record
    document = parsed_document(target, mini_stack.outputs["BucketName"], sent.message_id)
    assert document["attachments"] == ["report.csv"]
    assert "the report is attached" in document["text"]


def test_handler_logs_are_in_cloudwatch_logs(
    target: Target, mini_stack: assembly.DeployResult
) -> None:
    sent, record = deliver(target, samples.documented_sample(RECIPIENT))
    lambda_action = record["rules"][0]["actions"][1]["detail"]
    # The stream is the execution environment's: its invocations one after another.
    lines = report.log_lines(target, lambda_action["logGroup"], lambda_action["logStream"])
    assert lines[0].startswith("INIT_START Runtime Version: ")
    request_id = lambda_action["attempts"][-1]["requestId"]
    start = lines.index(f"START RequestId: {request_id} Version: $LATEST")
    end = next(
        i for i, line in enumerate(lines) if line.startswith(f"REPORT RequestId: {request_id}")
    )
    assert any(f"parsed {sent.message_id}" in line for line in lines[start:end])


def test_rejected_recipients_get_550_and_are_recorded(
    target: Target, mini_stack: assembly.DeployResult
) -> None:
    sent = sender.send(
        target,
        samples.documented_sample(RECIPIENT),
        recipients=[RECIPIENT, "nobody@mail.example.com", "someone@unverified.example.net"],
        mail_from="janedoe@example.com",
    )
    assert sent.accepted == [RECIPIENT]
    assert sent.rejected["nobody@mail.example.com"].startswith("550 5.1.1")
    assert "no enabled rule" in sent.rejected["nobody@mail.example.com"]
    assert "not a verified SES identity" in sent.rejected["someone@unverified.example.net"]
    rejected = [m for m in report.messages(target) if m["status"] == "rejected"]
    assert {r["rejected"][0]["recipient"] for r in rejected} >= {
        "nobody@mail.example.com",
        "someone@unverified.example.net",
    }


def test_failing_handler_is_retried_and_shown(
    target: Target, mini_stack: assembly.DeployResult
) -> None:
    message = samples.documented_sample(RECIPIENT).replace(
        b"MIME-Version: 1.0", b"X-Test-Fail: yes\r\nMIME-Version: 1.0"
    )
    _, record = deliver(target, message)
    assert record["status"] == "failed"
    detail = record["rules"][0]["actions"][1]["detail"]
    # Event invocations: the first try and Lambda's two retries.
    assert len(detail["attempts"]) == 3
    assert detail["error"]["errorType"] == "RuntimeError"
    text = "\n".join(report.render(target, record, logs=True, documents=False))
    assert "ERROR" in text and "asked to fail" in text


def test_update_changes_the_running_code_configuration(
    fresh: LocalCloud, target: Target, tmp_path: Path
) -> None:
    first = assembly.deploy_stack(
        target.client, synth(tmp_path / "v1"), "LocalCloudMini", fresh.region
    )
    assert first.ok, first.failures()
    second = assembly.deploy_stack(
        target.client,
        synth(tmp_path / "v2", handlerVersion="2", recipients=".example.com"),
        "LocalCloudMini",
        fresh.region,
    )
    assert second.status == "UPDATE_COMPLETE", second.failures()
    updated = {
        e["LogicalResourceId"]
        for e in second.events
        if e["ResourceStatus"] == "UPDATE_COMPLETE"
        and e["ResourceType"] != "AWS::CloudFormation::Stack"
    }
    assert any(name.startswith("Handler") for name in updated)
    assert any(name.startswith("RuleSetInbox") for name in updated)
    anyone = "anyone@mail.example.com"
    sent, record = deliver(target, samples.documented_sample(anyone), anyone)
    assert record["status"] == "done"
    document = parsed_document(target, second.outputs["BucketName"], sent.message_id)
    assert document["version"] == "2"

    deleted = assembly.delete_stack(target.client, "LocalCloudMini")
    assert deleted.status == "DELETE_COMPLETE", deleted.failures()
    skipped = {e["ResourceType"] for e in deleted.events if e["ResourceStatus"] == "DELETE_SKIPPED"}
    assert "AWS::S3::Bucket" in skipped  # RemovalPolicy.RETAIN, as on AWS
    assert target.client("ses").describe_active_receipt_rule_set().get("Metadata") is None


def test_fails_when_the_rule_is_created_before_its_bucket_policy(
    fresh: LocalCloud, target: Target, mini_assembly: Path, tmp_path: Path
) -> None:
    # GIVEN the synthesized template without the rule's DependsOn on the bucket policy
    broken = tmp_path / "cdk.out"
    shutil.copytree(mini_assembly, broken)
    template_path = broken / "LocalCloudMini.template.json"
    template = json.loads(template_path.read_text())
    rule = next(r for r in template["Resources"].values() if r["Type"] == "AWS::SES::ReceiptRule")
    rule["DependsOn"] = [d for d in rule["DependsOn"] if not d.startswith("RawPolicy")]
    template_path.write_text(json.dumps(template))
    # WHEN it is deployed, THEN SES's check fails the rule, and the stack rolls back
    result = assembly.deploy_stack(target.client, broken, "LocalCloudMini", fresh.region)
    assert result.status == "ROLLBACK_COMPLETE"
    (failure,) = result.failures()
    assert failure.startswith("RuleSetInbox")
    assert "Could not write to bucket" in failure
    assert target.client("ses").list_receipt_rule_sets()["RuleSets"] == []


def test_hardened_demo_receives_into_the_sse_kms_bucket_through_the_role(
    target: Target, hardened_demo_stack: assembly.DeployResult
) -> None:
    # The rule was created only because the local SES checks found the role (trust policy for
    # ses.amazonaws.com with this rule's SourceArn, s3:PutObject under raw/) and no bucket
    # statement for SES; the bucket encrypts with the customer managed key by default.
    bucket = hardened_demo_stack.outputs["RawMessageBucket"]
    s3 = target.client("s3")
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    assert "ses.amazonaws.com" not in policy
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    _, record = deliver(target, samples.attachment_sample(RECIPIENT), timeout=60)
    assert record["status"] == "done", record
    raw = s3.head_object(Bucket=bucket, Key=f"raw/{record['message_id']}")
    assert raw["ServerSideEncryption"] == "aws:kms"
    outputs = report.parsed_outputs(target, record)
    documents = [v["json"] for k, v in outputs.items() if k.endswith("/message.json")]
    assert documents, outputs
    assert "Quarterly report" in json.dumps(documents[0])


def test_demo_app_with_the_reference_handler(
    target: Target, demo_stack: assembly.DeployResult
) -> None:
    _, record = deliver(target, samples.attachment_sample(RECIPIENT), timeout=60)
    assert record["status"] == "done", record
    outputs = report.parsed_outputs(target, record)
    documents = [v["json"] for k, v in outputs.items() if k.endswith("/message.json")]
    assert documents, outputs
    assert "Quarterly report" in json.dumps(documents[0])

"""SES receiving semantics: rule order, actions in order, dispositions, Stop, Bounce, AddHeader,
SNS, verdicts, the event shape, and the checks at rule creation (SES API, no CloudFormation)."""

from __future__ import annotations

import base64
import io
import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ses_lambda_localcloud import lambda_interpreters, report, sender
from ses_lambda_localcloud.server import LocalCloud
from ses_lambda_localcloud.target import Target

from .conftest import FIXTURES, grant, wait_until

ACCOUNT = "123456789012"
DOMAIN = "rx.example.com"
BUCKET = "rx-mail"
RULE_SET = "rx-set"
# Returns its event; and the disposition named in the Subject (RequestResponse).
CODE = """
def handler(event, context):
    subject = event["Records"][0]["ses"]["mail"]["commonHeaders"].get("subject", "")
    result = {"event": event}
    if subject.startswith("STOP_"):
        result["disposition"] = subject
    return result
"""


def rule_arn(rule: str) -> str:
    return f"arn:aws:ses:us-east-1:{ACCOUNT}:receipt-rule-set/{RULE_SET}:receipt-rule/{rule}"


class Setup:
    def __init__(self, aws: Callable[[str], Any], target: Target) -> None:
        self.aws = aws
        self.target = target
        self.ses = aws("ses")
        self.ses.verify_domain_identity(Domain=DOMAIN)
        aws("s3").create_bucket(Bucket=BUCKET)
        aws("s3").put_bucket_policy(
            Bucket=BUCKET,
            Policy=json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ses.amazonaws.com"},
                            "Action": "s3:PutObject",
                            "Resource": f"arn:aws:s3:::{BUCKET}/*",
                            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                        }
                    ]
                }
            ),
        )
        role = aws("iam").create_role(RoleName="rx", AssumeRolePolicyDocument="{}")["Role"]
        grant(aws, "rx", "s3:PutObject", "s3:GetObject")  # the functions' own writes
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("index.py", CODE)
        self.function_arn = aws("lambda").create_function(
            FunctionName="rx-fn",
            Runtime="python3.13",
            Role=role["Arn"],
            Handler="index.handler",
            Code={"ZipFile": buffer.getvalue()},
        )["FunctionArn"]
        self.ses.create_receipt_rule_set(RuleSetName=RULE_SET)
        self.ses.set_active_receipt_rule_set(RuleSetName=RULE_SET)

    def permit(self, rule: str) -> None:
        self.aws("lambda").add_permission(
            FunctionName="rx-fn",
            StatementId=f"ses-{rule}",
            Action="lambda:InvokeFunction",
            Principal="ses.amazonaws.com",
            SourceAccount=ACCOUNT,
            SourceArn=rule_arn(rule),
        )

    def rule(
        self,
        name: str,
        actions: list[dict[str, Any]],
        *,
        recipients: list[str] | None = None,
        after: str | None = None,
        enabled: bool = True,
        scan: bool = True,
    ) -> None:
        if any("LambdaAction" in a for a in actions):
            self.permit(name)
        rule = {
            "Name": name,
            "Enabled": enabled,
            "ScanEnabled": scan,
            "Actions": actions,
            "Recipients": recipients if recipients is not None else [DOMAIN],
        }
        extra = {"After": after} if after else {}
        self.ses.create_receipt_rule(RuleSetName=RULE_SET, Rule=rule, **extra)

    def s3(self, prefix: str) -> dict[str, Any]:
        return {"S3Action": {"BucketName": BUCKET, "ObjectKeyPrefix": prefix}}

    def invoke(self, kind: str = "RequestResponse") -> dict[str, Any]:
        return {"LambdaAction": {"FunctionArn": self.function_arn, "InvocationType": kind}}

    def send(
        self, subject: str = "hello", to: str = f"someone@{DOMAIN}", extra_headers: str = ""
    ) -> dict[str, Any]:
        message = (
            f"From: Sender <sender@example.org>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"{extra_headers}Date: Tue, 1 Oct 2024 09:00:00 +0000\r\n"
            "Message-ID: <m@example.org>\r\n\r\nbody\r\n"
        ).encode()
        sent = sender.send(self.target, message, recipients=[to], mail_from="sender@example.org")
        assert sent.message_id, sent.rejected
        return sender.wait_for(self.target, sent.message_id, timeout=30)

    def object(self, key: str) -> bytes:
        return bytes(self.aws("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


@pytest.fixture
def rx(fresh: LocalCloud, aws: Callable[[str], Any], target: Target) -> Setup:
    return Setup(aws, target)


def actions_of(record: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (rule["rule"], action["type"]) for rule in record["rules"] for action in rule["actions"]
    ]


def test_matching_rules_run_in_order_with_their_actions_in_order(rx: Setup) -> None:
    rx.rule("first", [rx.s3("one/"), rx.invoke()])
    rx.rule("second", [rx.s3("two/")], after="first")
    rx.rule("other", [rx.s3("three/")], recipients=["nobody@rx.example.com"], after="second")
    record = rx.send()
    assert actions_of(record) == [("first", "S3"), ("first", "Lambda"), ("second", "S3")]
    assert rx.object(f"one/{record['message_id']}") == rx.object(f"two/{record['message_id']}")


def test_stop_rule_disposition_skips_the_rest_of_the_rule_only(rx: Setup) -> None:
    rx.rule("first", [rx.invoke(), rx.s3("skipped/")])
    rx.rule("second", [rx.s3("kept/")], after="first")
    record = rx.send(subject="STOP_RULE")
    assert actions_of(record) == [("first", "Lambda"), ("second", "S3")]
    assert record["rules"][0]["actions"][0]["detail"]["disposition"] == "STOP_RULE"


def test_stop_rule_set_disposition_ends_all_processing(rx: Setup) -> None:
    rx.rule("first", [rx.invoke(), rx.s3("skipped/")])
    rx.rule("second", [rx.s3("skipped-too/")], after="first")
    record = rx.send(subject="STOP_RULE_SET")
    assert actions_of(record) == [("first", "Lambda")]


def test_event_invocations_ignore_dispositions(rx: Setup) -> None:
    rx.rule("first", [rx.invoke("Event"), rx.s3("kept/")])
    record = rx.send(subject="STOP_RULE_SET")
    assert actions_of(record) == [("first", "Lambda"), ("first", "S3")]


def test_stop_bounce_and_add_header_actions(rx: Setup) -> None:
    rx.rule(
        "first",
        [
            {"AddHeaderAction": {"HeaderName": "X-Routed", "HeaderValue": "first"}},
            rx.s3("tagged/"),
            {
                "BounceAction": {
                    "SmtpReplyCode": "550",
                    "StatusCode": "5.1.1",
                    "Message": "mailbox closed",
                    "Sender": f"postmaster@{DOMAIN}",
                }
            },
            {"StopAction": {"Scope": "RuleSet"}},
        ],
    )
    rx.rule("second", [rx.s3("never/")], after="first")
    record = rx.send()
    assert actions_of(record) == [
        ("first", "AddHeader"),
        ("first", "S3"),
        ("first", "Bounce"),
        ("first", "Stop"),
    ]
    assert rx.object(f"tagged/{record['message_id']}").startswith(b"X-Routed: first\r\n")
    bounces = rx.target.local("bounces")["bounces"]
    assert bounces[-1]["to"] == "sender@example.org"
    assert bounces[-1]["message"] == "mailbox closed"


def test_sns_action_publishes_the_whole_message(rx: Setup, aws: Callable[[str], Any]) -> None:
    topic = aws("sns").create_topic(Name="rx-topic")["TopicArn"]
    queue_url = aws("sqs").create_queue(QueueName="rx-queue")["QueueUrl"]
    aws("sns").subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=(f"arn:aws:sqs:us-east-1:{ACCOUNT}:rx-queue")
    )
    rx.rule("first", [{"SNSAction": {"TopicArn": topic, "Encoding": "Base64"}}])
    record = rx.send(subject="via sns")
    messages = wait_until(lambda: aws("sqs").receive_message(QueueUrl=queue_url).get("Messages"))
    envelope = json.loads(messages[0]["Body"])
    notification = json.loads(envelope["Message"])
    assert notification["notificationType"] == "Received"
    assert notification["mail"]["messageId"] == record["message_id"]
    assert notification["receipt"]["action"] == {
        "type": "SNS",
        "topicArn": topic,
        "encoding": "BASE64",  # SES's spelling, not the rule's "Base64"
    }
    assert b"Subject: via sns" in base64.b64decode(notification["content"])


def test_disabled_rules_neither_match_nor_run(rx: Setup, target: Target) -> None:
    rx.rule("off", [rx.s3("off/")], enabled=False)
    sent = sender.send(
        target,
        b"Subject: x\r\n\r\nx\r\n",
        recipients=[f"a@{DOMAIN}"],
        mail_from="sender@example.org",
    )
    assert sent.accepted == []
    assert "no enabled rule" in sent.rejected[f"a@{DOMAIN}"]


def test_verdicts_follow_scanning_and_the_local_override_header(rx: Setup) -> None:
    rx.rule("scanned", [rx.invoke()], recipients=[f"scanned@{DOMAIN}"])
    rx.rule("unscanned", [rx.invoke()], recipients=[f"plain@{DOMAIN}"], scan=False, after="scanned")

    def receipt(record: dict[str, Any]) -> dict[str, Any]:
        result = record["rules"][0]["actions"][0]["detail"]["result"]
        return dict(result["event"]["Records"][0]["ses"]["receipt"])

    scanned = receipt(rx.send(to=f"scanned@{DOMAIN}"))
    assert scanned["spamVerdict"] == {"status": "PASS"}
    assert scanned["dkimVerdict"] == {"status": "GRAY"}
    unscanned = receipt(rx.send(to=f"plain@{DOMAIN}"))
    assert unscanned["spamVerdict"] == {"status": "DISABLED"}
    overridden = receipt(
        rx.send(
            to=f"scanned@{DOMAIN}",
            extra_headers=("X-LocalCloud-Verdicts: spam=FAIL; dmarc=FAIL; dmarcPolicy=reject\r\n"),
        )
    )
    assert overridden["spamVerdict"] == {"status": "FAIL"}
    assert overridden["dmarcVerdict"] == {"status": "FAIL"}
    assert overridden["dmarcPolicy"] == "reject"


def _paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path with the type at its end: {"Records[].ses.mail.source:str", ...}."""
    if isinstance(value, dict):
        return set().union(*(_paths(v, f"{prefix}.{k}") for k, v in value.items())) or {prefix}
    if isinstance(value, list):
        return _paths(value[0], f"{prefix}[]") if value else {f"{prefix}[]"}
    return {f"{prefix}:{type(value).__name__}"}


def test_lambda_event_has_the_documented_shape(rx: Setup) -> None:
    rx.rule("first", [rx.invoke("Event")])
    record = rx.send()
    event = record["rules"][0]["actions"][0]["detail"]["result"]["event"]
    documented = json.loads((FIXTURES / "ses-lambda-event.json").read_text())
    ours, theirs = _paths(event), _paths(documented)
    # Everything the documented event has, with the same types; and besides it only the DMARC
    # verdict, which SES has added since that example was written.
    assert theirs - ours == set()
    assert ours - theirs == {".Records[].ses.receipt.dmarcVerdict.status:str"}
    receipt = event["Records"][0]["ses"]["receipt"]
    assert receipt["action"] == {
        "type": "Lambda",
        "functionArn": rx.function_arn,
        "invocationType": "Event",
    }
    assert receipt["recipients"] == [f"someone@{DOMAIN}"]
    assert receipt["processingTimeMillis"] >= 0


# Writes one object of its own, in a bucket no receipt action names.
WRITER_CODE = """
import json
import boto3

def handler(event, context):
    mail = event["Records"][0]["ses"]["mail"]
    boto3.client("s3").put_object(
        Bucket="elsewhere",
        Key=f"seen/{mail['messageId']}.json",
        Body=json.dumps({"subject": mail["commonHeaders"]["subject"]}),
    )
"""


def test_show_reports_every_object_written_while_the_message_was_processed(
    rx: Setup, aws: Callable[[str], Any], target: Target
) -> None:
    s3 = aws("s3")
    s3.create_bucket(Bucket="elsewhere")
    s3.put_object(Bucket="elsewhere", Key="written-before.txt", Body=b"not this message's")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", WRITER_CODE)
    role = aws("iam").get_role(RoleName="rx")["Role"]
    writer = aws("lambda").create_function(
        FunctionName="writer",
        Runtime="python3.13",
        Role=role["Arn"],
        Handler="index.handler",
        Code={"ZipFile": buffer.getvalue()},
    )["FunctionArn"]
    aws("lambda").add_permission(
        FunctionName="writer",
        StatementId="ses",
        Action="lambda:InvokeFunction",
        Principal="ses.amazonaws.com",
        SourceAccount=ACCOUNT,
        SourceArn=rule_arn("first"),
    )
    invoke = {"LambdaAction": {"FunctionArn": writer, "InvocationType": "RequestResponse"}}
    rx.rule("first", [rx.s3("raw/"), invoke])

    record = rx.send(subject="which objects")

    message_id = record["message_id"]
    assert record["status"] == "done", record
    written = report.parsed_outputs(target, record)
    assert sorted(written) == [
        f"s3://elsewhere/seen/{message_id}.json",
        f"s3://{BUCKET}/raw/{message_id}",
    ]
    assert written[f"s3://elsewhere/seen/{message_id}.json"]["json"] == {"subject": "which objects"}
    lines = report.render(target, record, logs=False)
    assert f"    s3://elsewhere/seen/{message_id}.json (28 bytes)" in lines


def test_fails_to_create_a_rule_when_ses_may_not_write_to_the_bucket(
    rx: Setup, aws: Callable[[str], Any]
) -> None:
    aws("s3").create_bucket(Bucket="no-policy")
    with pytest.raises(ClientError, match="Could not write to bucket: no-policy"):
        rx.ses.create_receipt_rule(
            RuleSetName=RULE_SET,
            Rule={
                "Name": "r",
                "Enabled": True,
                "Actions": [{"S3Action": {"BucketName": "no-policy"}}],
            },
        )


def test_fails_to_create_a_rule_when_ses_may_not_invoke_the_function(rx: Setup) -> None:
    with pytest.raises(ClientError, match="Could not invoke Lambda function"):
        rx.ses.create_receipt_rule(
            RuleSetName=RULE_SET, Rule={"Name": "r", "Enabled": True, "Actions": [rx.invoke()]}
        )


def test_rule_quotas_are_enforced(rx: Setup) -> None:
    # SES quotas page, email receiving: 500 recipients per receipt rule, 10 actions per rule.
    rx.ses.create_receipt_rule(
        RuleSetName=RULE_SET,
        Rule={
            "Name": "five-hundred",
            "Enabled": True,
            "Recipients": [f"r{i}@{DOMAIN}" for i in range(500)],
            "Actions": [],
        },
    )
    with pytest.raises(ClientError, match="has 501 recipients; SES allows 500"):
        rx.ses.create_receipt_rule(
            RuleSetName=RULE_SET,
            Rule={
                "Name": "many",
                "Enabled": True,
                "Recipients": [f"r{i}@{DOMAIN}" for i in range(501)],
                "Actions": [],
            },
        )
    with pytest.raises(ClientError, match="SES allows 10"):
        rx.ses.create_receipt_rule(
            RuleSetName=RULE_SET,
            Rule={"Name": "busy", "Enabled": True, "Actions": [rx.s3("x/")] * 11},
        )


def test_no_active_rule_set_rejects_everyone(rx: Setup, target: Target) -> None:
    rx.rule("first", [rx.s3("x/")])
    rx.ses.set_active_receipt_rule_set()
    sent = sender.send(
        target,
        b"Subject: x\r\n\r\nx\r\n",
        recipients=[f"a@{DOMAIN}"],
        mail_from="sender@example.org",
    )
    assert "no receipt rule set is active" in sent.rejected[f"a@{DOMAIN}"]


def test_accepted_mail_is_stored_before_the_reply_and_before_processing(tmp_path: Any) -> None:
    from ses_lambda_localcloud.receiving.receiver import Receiver

    # A receiver whose worker is not running: accepting must still have stored the message.
    receiver = Receiver(account_id=ACCOUNT, region="us-east-1", spool_dir=tmp_path)
    record = receiver.accept(
        mail_from="a@example.org",
        recipients=[f"b@{DOMAIN}"],
        data=b"Subject: kept\r\n\r\nbody\r\n",
        helo="client",
        peer_ip="::1",
    )
    stored = (tmp_path / f"{record.message_id}.eml").read_bytes()
    assert stored.startswith(b"Return-Path: <a@example.org>\r\nReceived: from client")
    assert stored.endswith(b"Subject: kept\r\n\r\nbody\r\n")
    assert record.status == "queued" and not record.done.is_set()


@pytest.mark.skipif(sys.version_info[:2] == (3, 13), reason="the function's runtime is this one")
def test_the_report_names_the_interpreter_and_its_fallback(
    rx: Setup, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No python3.13 anywhere: the function runs on the local cloud's own interpreter.
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    lambda_interpreters.forget()
    try:
        rx.rule("r1", [rx.invoke("Event")])
        record = rx.send()
    finally:
        lambda_interpreters.forget()
    (attempt,) = record["rules"][0]["actions"][0]["detail"]["attempts"]
    assert attempt["interpreter"]["path"] == sys.executable
    assert "no python3.13 interpreter here" in attempt["interpreter"]["fallback"]
    text = "\n".join(report.render(rx.target, record, logs=True, documents=False))
    assert "cold start, init" in text
    assert "FALLBACK from python3.13: no python3.13 interpreter here" in text
    assert "[WARNING] local cloud: python3.13: no python3.13 interpreter here" in text

"""IAM and KMS enforced on the local endpoint: a function's requests are evaluated as its
execution role's session, and what AWS refuses comes back as the service's own error."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ses_lambda_localcloud import guard, runtime
from ses_lambda_localcloud.iam import gate
from ses_lambda_localcloud.server import LocalCloud

from .conftest import wait_until
from .test_lambda import zipped

ACCOUNT = runtime.ACCOUNT_ID
ROLE = "probe-role"
FUNCTION = "iam-probe"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{FUNCTION}"

#: Calls one SDK operation as the function's role and returns the outcome.
PROBE = """
import boto3
from botocore.exceptions import ClientError
def handler(event, context):
    client = boto3.client(event["service"])
    try:
        getattr(client, event["op"])(**event["args"])
    except ClientError as error:
        return {"ok": False, "code": error.response["Error"]["Code"],
                "message": error.response["Error"]["Message"]}
    return {"ok": True}
"""


class Probe:
    def __init__(self, aws: Callable[[str], Any]) -> None:
        self.aws = aws
        self.iam = aws("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        self.role_arn = self.iam.create_role(
            RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
        aws("lambda").create_function(
            FunctionName=FUNCTION,
            Runtime="python3.13",
            Role=self.role_arn,
            Handler="index.handler",
            Code={"ZipFile": zipped(PROBE)},
            Timeout=30,
        )

    def grant(self, *statements: dict[str, Any]) -> None:
        document = {"Version": "2012-10-17", "Statement": list(statements)}
        self.iam.put_role_policy(
            RoleName=ROLE, PolicyName="grants", PolicyDocument=json.dumps(document)
        )

    def call(self, service: str, op: str, **args: Any) -> dict[str, Any]:
        response = self.aws("lambda").invoke(
            FunctionName=FUNCTION,
            Payload=json.dumps({"service": service, "op": op, "args": args}),
        )
        body = json.loads(response["Payload"].read())
        assert "ok" in body, body
        return body


@pytest.fixture
def probe(fresh: LocalCloud, aws: Callable[[str], Any]) -> Iterator[Probe]:
    gate.set_mode("enforce")
    yield Probe(aws)
    gate.set_mode(fresh.iam)


def _control(cloud: LocalCloud, path: str) -> urllib.request.Request:
    """A request to one of the local cloud's control paths, with its per-start token."""
    return urllib.request.Request(
        f"{cloud.endpoint_url}{path}", headers={guard.TOKEN_HEADER: cloud.control_token or ""}
    )


def allow(action: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def denied(action: str, resource: str, why: str, *, quoted: bool = False) -> str:
    shown = f'"{resource}"' if quoted else resource
    return (
        f"User: {SESSION} is not authorized to perform: {action} on resource: {shown} because {why}"
    )


def test_s3_read_needs_an_identity_policy_and_is_refused_as_s3_refuses(
    probe: Probe, aws: Callable[[str], Any]
) -> None:
    aws("s3").create_bucket(Bucket="mail")
    aws("s3").put_object(Bucket="mail", Key="parsed/a.json", Body=b"{}")
    outcome = probe.call("s3", "get_object", Bucket="mail", Key="parsed/a.json")
    assert outcome == {
        "ok": False,
        "code": "AccessDenied",
        "message": denied(
            "s3:GetObject",
            "arn:aws:s3:::mail/parsed/a.json",
            "no identity-based policy allows the s3:GetObject action",
            quoted=True,
        ),
    }
    probe.grant(allow("s3:GetObject", "arn:aws:s3:::mail/parsed/*"))
    assert probe.call("s3", "get_object", Bucket="mail", Key="parsed/a.json")["ok"]
    assert not probe.call("s3", "get_object", Bucket="mail", Key="raw/a")["ok"]


def test_sse_kms_objects_need_the_key_for_the_caller_through_s3(
    probe: Probe, aws: Callable[[str], Any]
) -> None:
    key_arn = aws("kms").create_key()["KeyMetadata"]["Arn"]  # default policy: delegates to IAM
    aws("s3").create_bucket(Bucket="sealed")
    aws("s3").put_object(
        Bucket="sealed", Key="m", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn
    )
    probe.grant(allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::sealed/*"))
    read = probe.call("s3", "get_object", Bucket="sealed", Key="m")
    assert read["message"] == denied(
        "kms:Decrypt",
        key_arn,
        "no identity-based policy allows the kms:Decrypt action",
        quoted=True,  # S3 answers, in its own message shape
    )
    write = probe.call(
        "s3",
        "put_object",
        Bucket="sealed",
        Key="n",
        Body="y",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key_arn,
    )
    assert write["message"] == denied(
        "kms:GenerateDataKey",
        key_arn,
        "no identity-based policy allows the kms:GenerateDataKey action",
        quoted=True,
    )
    via_sqs = {"StringEquals": {"kms:ViaService": f"sqs.{runtime.DEFAULT_REGION}.amazonaws.com"}}
    probe.grant(
        allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::sealed/*"),
        {**allow(["kms:Decrypt", "kms:GenerateDataKey"], key_arn), "Condition": via_sqs},
    )
    assert not probe.call("s3", "get_object", Bucket="sealed", Key="m")["ok"]  # wrong service
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{runtime.DEFAULT_REGION}.amazonaws.com"}}
    probe.grant(
        allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::sealed/*"),
        {**allow(["kms:Decrypt", "kms:GenerateDataKey"], key_arn), "Condition": via_s3},
    )
    assert probe.call("s3", "get_object", Bucket="sealed", Key="m")["ok"]
    assert probe.call(
        "s3",
        "put_object",
        Bucket="sealed",
        Key="n",
        Body="y",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key_arn,
    )["ok"]


def test_a_key_policy_that_does_not_delegate_refuses_what_iam_allows(
    probe: Probe, aws: Callable[[str], Any]
) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/someone-else"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    key_arn = aws("kms").create_key(Policy=json.dumps(policy), BypassPolicyLockoutSafetyCheck=True)[
        "KeyMetadata"
    ]["Arn"]
    probe.grant(allow("kms:*"))
    outcome = probe.call("kms", "generate_data_key", KeyId=key_arn, KeySpec="AES_256")
    assert outcome["code"] == "AccessDeniedException"
    assert outcome["message"] == denied(
        "kms:GenerateDataKey", key_arn, "no key policy allows the kms:GenerateDataKey action"
    )


def test_an_explicit_deny_in_a_bucket_policy_wins(probe: Probe, aws: Callable[[str], Any]) -> None:
    aws("s3").create_bucket(Bucket="guarded")
    aws("s3").put_bucket_policy(
        Bucket="guarded",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::guarded/*",
                        "Condition": {
                            "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}
                        },
                    }
                ],
            }
        ),
    )
    probe.grant(allow("s3:PutObject", "arn:aws:s3:::guarded/*"))
    plain = probe.call("s3", "put_object", Bucket="guarded", Key="k", Body="x")
    assert plain["message"].endswith("because explicit deny in a resource-based policy")
    # The request's own encryption header is in the context: the common policy allows it.
    encrypted = probe.call(
        "s3", "put_object", Bucket="guarded", Key="k", Body="x", ServerSideEncryption="aws:kms"
    )
    assert encrypted["ok"], encrypted


@pytest.mark.parametrize(
    ("service", "op", "code", "action"),
    [
        ("sqs", "send_message", "AccessDenied", "sqs:SendMessage"),
        ("sns", "publish", "AuthorizationError", "sns:Publish"),
        ("events", "put_events", "AccessDeniedException", "events:PutEvents"),
        ("cloudwatch", "put_metric_data", "AccessDenied", "cloudwatch:PutMetricData"),
        ("logs", "put_log_events", "AccessDeniedException", "logs:PutLogEvents"),
        ("ses", "send_email", "AccessDenied", "ses:SendEmail"),
        ("sesv2", "send_email", "AccessDeniedException", "ses:SendEmail"),
    ],
)
def test_each_service_refuses_with_its_own_error(
    probe: Probe, aws: Callable[[str], Any], service: str, op: str, code: str, action: str
) -> None:
    queue_url = aws("sqs").create_queue(QueueName="q")["QueueUrl"]
    topic_arn = aws("sns").create_topic(Name="t")["TopicArn"]
    args = {
        "sqs": {"QueueUrl": queue_url, "MessageBody": "x"},
        "sns": {"TopicArn": topic_arn, "Message": "x"},
        "events": {"Entries": [{"Source": "probe", "DetailType": "d", "Detail": "{}"}]},
        "cloudwatch": {"Namespace": "Probe", "MetricData": [{"MetricName": "m", "Value": 1.0}]},
        "logs": {
            "logGroupName": "g",
            "logStreamName": "s",
            "logEvents": [{"timestamp": 1, "message": "m"}],
        },
        "ses": {
            "Source": "a@example.com",
            "Destination": {"ToAddresses": ["b@example.com"]},
            "Message": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
        },
        "sesv2": {
            "FromEmailAddress": "a@example.com",
            "Destination": {"ToAddresses": ["b@example.com"]},
            "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
        },
    }[service]
    outcome = probe.call(service, op, **args)
    assert outcome["ok"] is False, outcome
    assert outcome["code"] == code
    assert f"is not authorized to perform: {action} on resource:" in outcome["message"]
    assert "because no identity-based policy allows" in outcome["message"]


def test_audit_mode_allows_and_records_and_the_journal_serves_denials(
    probe: Probe, fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    aws("s3").create_bucket(Bucket="audited")
    gate.set_mode("audit")
    assert probe.call("s3", "put_object", Bucket="audited", Key="k", Body="x")["ok"]
    with urllib.request.urlopen(_control(fresh, "/_localcloud/iam")) as response:
        journal = json.loads(response.read())
    (entry,) = [d for d in journal["denials"] if d["action"] == "s3:PutObject"]
    assert entry["enforced"] is False
    assert entry["function"] == FUNCTION and entry["principal"] == SESSION
    assert entry["reason"] == "no identity-based policy allows the s3:PutObject action"


def test_calls_outside_the_map_are_allowed_and_listed(probe: Probe, fresh: LocalCloud) -> None:
    assert probe.call("s3", "list_buckets")["ok"]
    with urllib.request.urlopen(_control(fresh, "/_localcloud/iam")) as response:
        journal = json.loads(response.read())
    assert any(name.startswith("s3:") for name in journal["notEvaluated"])


def test_on_failure_destinations_are_sent_with_the_function_role(
    probe: Probe, fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    queue_url = aws("sqs").create_queue(QueueName="failures")["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{fresh.region}:{ACCOUNT}:failures"
    aws("lambda").put_function_event_invoke_config(
        FunctionName=FUNCTION,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )

    def fail_once() -> None:
        aws("lambda").invoke(FunctionName=FUNCTION, InvocationType="Event", Payload=b"{}")

    fail_once()  # the event has no "service": the handler raises
    (entry,) = wait_until(
        lambda: [d for d in gate.JOURNAL.denials(FUNCTION) if d.action == "sqs:SendMessage"], 30
    )
    assert entry.resource == queue_arn and entry.principal == SESSION
    assert entry.reason == "no identity-based policy allows the sqs:SendMessage action"
    probe.grant(allow("sqs:SendMessage", queue_arn))
    fail_once()
    assert wait_until(lambda: aws("sqs").receive_message(QueueUrl=queue_url).get("Messages"), 30)


def test_admin_uploads_meet_a_require_sse_kms_bucket_policy_with_their_headers(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    # The bucket policy is evaluated with the request's encryption headers in the context, so
    # the common "deny unless aws:kms" policy refuses plain uploads and admits encrypted ones.
    s3 = aws("s3")
    s3.create_bucket(Bucket="requires-kms")
    s3.put_bucket_policy(
        Bucket="requires-kms",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::requires-kms/*",
                        "Condition": {
                            "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}
                        },
                    }
                ],
            }
        ),
    )
    s3.put_object(Bucket="requires-kms", Key="a", Body=b"x", ServerSideEncryption="aws:kms")
    with pytest.raises(Exception, match=r"AccessDenied|403"):
        s3.put_object(Bucket="requires-kms", Key="b", Body=b"x")


def _events_key_policy(allow_events: bool) -> str:
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if allow_events:
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": "*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@pytest.mark.parametrize(("allow_events", "status"), [(False, "lost"), (True, "delivered")])
def test_eventbridge_needs_the_key_policy_of_an_encrypted_queue_target(
    fresh: LocalCloud, aws: Callable[[str], Any], allow_events: bool, status: str
) -> None:
    key_arn = aws("kms").create_key(Policy=_events_key_policy(allow_events))["KeyMetadata"]["Arn"]
    sqs = aws("sqs")
    queue_url = sqs.create_queue(QueueName="sealed", Attributes={"KmsMasterKeyId": key_arn})[
        "QueueUrl"
    ]
    queue_arn = f"arn:aws:sqs:{fresh.region}:{ACCOUNT}:sealed"
    events = aws("events")
    rule_arn = events.put_rule(Name="to-sealed", EventPattern=json.dumps({"source": ["probe"]}))[
        "RuleArn"
    ]
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": queue_arn,
                            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                        }
                    ],
                }
            )
        },
    )
    events.put_targets(
        Rule="to-sealed",
        Targets=[{"Id": "q", "Arn": queue_arn, "RetryPolicy": {"MaximumRetryAttempts": 0}}],
    )
    events.put_events(Entries=[{"Source": "probe", "DetailType": "d", "Detail": "{}"}])

    def outcome() -> Any:
        for event in fresh_events(fresh):
            for rule in event["matched"]:
                for target in rule["targets"]:
                    if target["status"] != "pending":
                        return target
        return None

    target = wait_until(outcome, 30)
    assert target["status"] == status, target
    if not allow_events:
        assert "no key policy allows the kms:GenerateDataKey action" in target["error"]


def fresh_events(cloud: LocalCloud) -> list[dict[str, Any]]:
    with urllib.request.urlopen(_control(cloud, "/_localcloud/events")) as response:
        return list(json.loads(response.read())["events"])


def test_reading_a_secret_needs_its_grant_and_the_key_through_secrets_manager(
    probe: Probe, aws: Callable[[str], Any]
) -> None:
    manager = aws("secretsmanager")
    key_arn = aws("kms").create_key()["KeyMetadata"]["Arn"]  # default policy: delegates to IAM
    plain = manager.create_secret(Name="plain", SecretString="x")["ARN"]
    sealed = manager.create_secret(Name="sealed", SecretString="y", KmsKeyId=key_arn)["ARN"]

    # By name or by ARN, the resource is the secret's full ARN.
    for secret_id in ("plain", plain):
        outcome = probe.call("secretsmanager", "get_secret_value", SecretId=secret_id)
        assert outcome == {
            "ok": False,
            "code": "AccessDeniedException",
            "message": denied(
                "secretsmanager:GetSecretValue",
                plain,
                "no identity-based policy allows the secretsmanager:GetSecretValue action",
            ),
        }
    probe.grant(allow("secretsmanager:GetSecretValue", plain))
    assert probe.call("secretsmanager", "get_secret_value", SecretId="plain")["ok"]
    assert not probe.call("secretsmanager", "get_secret_value", SecretId="sealed")["ok"]

    # A customer managed key: kms:Decrypt for the caller, through Secrets Manager.
    probe.grant(allow("secretsmanager:GetSecretValue", [plain, sealed]))
    outcome = probe.call("secretsmanager", "get_secret_value", SecretId="sealed")
    assert outcome["message"] == denied(
        "kms:Decrypt", key_arn, "no identity-based policy allows the kms:Decrypt action"
    )
    via = {"StringEquals": {"kms:ViaService": f"sqs.{runtime.DEFAULT_REGION}.amazonaws.com"}}
    probe.grant(
        allow("secretsmanager:GetSecretValue", [plain, sealed]),
        {**allow("kms:Decrypt", key_arn), "Condition": via},
    )
    assert not probe.call("secretsmanager", "get_secret_value", SecretId="sealed")["ok"]
    via = {
        "StringEquals": {
            "kms:ViaService": f"secretsmanager.{runtime.DEFAULT_REGION}.amazonaws.com",
            "kms:EncryptionContext:SecretARN": sealed,
        }
    }
    probe.grant(
        allow("secretsmanager:GetSecretValue", [plain, sealed]),
        {**allow("kms:Decrypt", key_arn), "Condition": via},
    )
    assert probe.call("secretsmanager", "get_secret_value", SecretId="sealed")["ok"]
    # DescribeSecret is an action of its own.
    assert not probe.call("secretsmanager", "describe_secret", SecretId="plain")["ok"]

"""The grants of the forwarder (its on-failure destination included), the reader
(``grant_read_messages``), the reply sender (``grant_send_replies``) and a subscription's queue
target and dead-letter queue (queue and key policies for EventBridge) are each needed: with all of
them the path works under enforcement, and with one removed the request it covers is refused the
way AWS refuses it.

The verdict gate (``lambda_src/gate.py``) gets no grant to remove: it reads only its event and
makes no AWS call beyond its logs, which the local cloud does not evaluate (docs/local-cloud.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ses_lambda_localcloud import assembly, runtime, samples
from ses_lambda_localcloud.iam import gate
from ses_lambda_localcloud.server import LocalCloud
from ses_lambda_localcloud.target import Target

from .conftest import wait_until
from .test_end_to_end import deliver
from .test_iam_enforcement import PROBE
from .test_iam_grants import Roles, denials
from .test_lambda import zipped

STACK = "LocalGrantPaths"
RECIPIENT = "support@mail.example.com"
DESTINATION = "jane@mailbox.example.org"
ACCOUNT = runtime.ACCOUNT_ID
READER = "grant-reader"


@pytest.fixture(name="roles")
def removable_grants(aws: Callable[[str], Any]) -> Iterator[Roles]:
    saved = Roles(aws)
    yield saved
    saved.restore()


@pytest.fixture
def grants_stack(fresh: LocalCloud, target: Target, tmp_path: Path) -> assembly.DeployResult:
    """A forwarding receiver on a bucket with a customer managed key, and a role given the
    reader and reply grants."""
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms

    from ses_lambda_constructs import EmailReceiver, ForwardingRoute

    app = cdk.App(outdir=str(tmp_path / "out"))
    stack = cdk.Stack(app, STACK)
    receiver = EmailReceiver(
        stack,
        "Inbound",
        domain_name="mail.example.com",
        activate_rule_set=True,
        encryption_key=kms.Key(stack, "Key"),
        routes=[ForwardingRoute(id="Forward", recipients=[RECIPIENT], destinations=[DESTINATION])],
    )
    consumer = iam.Role(stack, "Consumer", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    receiver.grant_read_messages(consumer)
    receiver.grant_send_replies(consumer)
    cdk.CfnOutput(stack, "ConsumerRole", value=consumer.role_name)
    cdk.CfnOutput(stack, "ConsumerRoleArn", value=consumer.role_arn)
    assert receiver.store is not None and receiver.encryption_key is not None
    cdk.CfnOutput(stack, "Bucket", value=receiver.store.bucket.bucket_name)
    cdk.CfnOutput(stack, "KeyArn", value=receiver.encryption_key.key_arn)
    app.synth()
    result = assembly.deploy_stack(target.client, tmp_path / "out", STACK, fresh.region)
    assert result.ok, result.failures()
    return result


def _forwarder(record: dict[str, Any]) -> str:
    action = next(a for rule in record["rules"] for a in rule["actions"] if a["type"] == "Lambda")
    return str(action["detail"]["functionArn"]).rsplit(":", 1)[-1]


def _session(role: str, function: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{function}"


def _assert_refused(found: dict[str, Any], action: str, role: str, function: str) -> None:
    session = _session(role, function)
    assert found["action"] == action, found
    assert found["principal"] == session, found
    assert found["message"].startswith(
        f"User: {session} is not authorized to perform: {action} on resource: "
    ), found
    assert "no identity-based policy allows" in found["reason"], found


def test_the_forwarder_needs_each_of_its_grants(
    target: Target,
    aws: Callable[[str], Any],
    grants_stack: assembly.DeployResult,
    roles: Roles,
) -> None:
    assert gate.mode() == "enforce"
    # With every grant: read from raw/ (SSE-KMS), sent through SES, outcome written.
    _, record = deliver(target, samples.attachment_sample(RECIPIENT), timeout=60)
    assert record["status"] == "done", record
    function = _forwarder(record)
    arn = aws("lambda").get_function_configuration(FunctionName=function)["Role"]
    role = str(arn).rsplit("/", 1)[-1]
    assert denials(target, function) == []

    cases = [
        ("s3:GetObject", "raw/", "s3:GetObject"),
        ("kms:Decrypt", "", "kms:Decrypt"),
        ("s3:PutObject", "forwarded/", "s3:PutObject"),
        ("kms:GenerateDataKey", "", "kms:GenerateDataKey"),
        # SES v2 SendEmail (raw content included) is authorized as ses:SendEmail (Service
        # Authorization Reference, "Actions defined by Amazon SES v2"), the only send action the
        # forwarder is granted.
        ("ses:SendEmail", "identity/", "ses:SendEmail"),
    ]
    for action, resource_part, refused in cases:
        roles.remove(role, action, resource_part)
        before = len(denials(target, function))
        deliver(target, samples.attachment_sample(RECIPIENT), timeout=60)
        try:
            found = wait_until(lambda: denials(target, function)[before:], 60)  # noqa: B023
        except AssertionError:
            raise AssertionError(
                f"removing {action} on *{resource_part}* was not refused"
            ) from None
        _assert_refused(found[0], refused, role, function)
        roles.restore()

    # The on-failure destination: when every attempt failed, Lambda sends the record to the
    # forwarder's failures queue with the function's role (Lambda Developer Guide, "Capturing
    # records of Lambda asynchronous invocations").
    roles.remove(role, "s3:GetObject", "raw/")
    roles.remove(role, "sqs:SendMessage", "FailuresQueue")
    before = len(denials(target, function))
    deliver(target, samples.attachment_sample(RECIPIENT), timeout=60)

    def destination_refused() -> list[dict[str, Any]]:
        new = denials(target, function)[before:]
        return [d for d in new if d["action"] == "sqs:SendMessage"]

    try:
        (found,) = wait_until(destination_refused, 60)
    except AssertionError:
        raise AssertionError("the on-failure destination was not refused") from None
    _assert_refused(found, "sqs:SendMessage", role, function)
    assert "FailuresQueue" in found["message"], found


def test_the_reader_and_reply_grants_are_each_needed(
    target: Target,
    aws: Callable[[str], Any],
    grants_stack: assembly.DeployResult,
    roles: Roles,
) -> None:
    assert gate.mode() == "enforce"
    outputs = grants_stack.outputs
    role, bucket = outputs["ConsumerRole"], outputs["Bucket"]
    aws("lambda").create_function(
        FunctionName=READER,
        Runtime="python3.13",
        Role=outputs["ConsumerRoleArn"],
        Handler="index.handler",
        Code={"ZipFile": zipped(PROBE)},
        Timeout=30,
    )
    key = "parsed/m-1/message.json"
    aws("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=b"{}",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=outputs["KeyArn"],
    )

    def call(service: str, op: str, **args: Any) -> dict[str, Any]:
        response = aws("lambda").invoke(
            FunctionName=READER,
            Payload=json.dumps({"service": service, "op": op, "args": args}),
        )
        body: dict[str, Any] = json.loads(response["Payload"].read())
        assert "ok" in body, body
        return body

    def reply(source: str) -> dict[str, Any]:
        return call(
            "ses",
            "send_email",
            Source=source,
            Destination={"ToAddresses": [DESTINATION]},
            Message={"Subject": {"Data": "Re: hello"}, "Body": {"Text": {"Data": "thanks"}}},
        )

    read = {"Bucket": bucket, "Key": key}
    # With the grants: the parsed message is read (SSE-KMS) and a reply sent from support+label@.
    assert call("s3", "get_object", **read) == {"ok": True}
    assert reply("support+t-1@mail.example.com") == {"ok": True}
    assert denials(target, READER) == []

    # A From outside the receiving identities is refused by the ses:FromAddress condition.
    before = len(denials(target, READER))
    refused = reply("billing@mail.example.com")
    assert refused["ok"] is False and refused["code"] == "AccessDenied", refused
    _assert_refused(denials(target, READER)[before], "ses:SendEmail", role, READER)

    # The raw messages stay out of reach of the reader.
    raw = call("s3", "get_object", Bucket=bucket, Key="raw/m-1")
    assert raw["ok"] is False and raw["code"] == "AccessDenied", raw

    cases = [
        ("s3:GetObject", "parsed/", "s3", read, "AccessDenied", "s3:GetObject"),
        ("kms:Decrypt", "", "s3", read, "AccessDenied", "kms:Decrypt"),
        ("ses:SendEmail", "identity/", "ses", None, "AccessDenied", "ses:SendEmail"),
    ]
    for action, resource_part, service, args, code, evaluated in cases:
        roles.remove(role, action, resource_part)
        before = len(denials(target, READER))
        if args is None:
            outcome = reply("support@mail.example.com")
        else:
            outcome = call(service, "get_object", **args)
        assert outcome["ok"] is False and outcome["code"] == code, (action, outcome)
        assert outcome["message"].startswith(f"User: {_session(role, READER)} is not"), outcome
        _assert_refused(denials(target, READER)[before], evaluated, role, READER)
        roles.restore()


@pytest.fixture
def subscription_stack(fresh: LocalCloud, target: Target, tmp_path: Path) -> assembly.DeployResult:
    """A receiver whose events go to an SSE-KMS queue of the user's, with the subscription's
    own dead-letter queue encrypted with the receiver's key."""
    import aws_cdk as cdk
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_sqs as sqs

    from ses_lambda_constructs import EmailReceiver, EmailTarget, Route

    app = cdk.App(outdir=str(tmp_path / "out"))
    stack = cdk.Stack(app, "LocalGrantTargets")
    receiver = EmailReceiver(
        stack,
        "Inbound",
        domain_name="mail.example.com",
        activate_rule_set=True,
        encryption_key=kms.Key(stack, "Key"),
        routes=[Route(id="Support", recipients=[RECIPIENT])],
    )
    queue_key = kms.Key(stack, "QueueKey")
    queue = sqs.Queue(
        stack,
        "Inbox",
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=queue_key,
        enforce_ssl=True,
    )
    subscription = receiver.subscribe("Inbox", EmailTarget.queue(queue), retry_attempts=0)
    cdk.CfnOutput(stack, "QueueUrl", value=queue.queue_url)
    cdk.CfnOutput(stack, "QueueKeyId", value=queue_key.key_id)
    cdk.CfnOutput(stack, "DeadLetterUrl", value=subscription.dead_letter_queue.queue_url)
    assert receiver.encryption_key is not None
    cdk.CfnOutput(stack, "KeyId", value=receiver.encryption_key.key_id)
    app.synth()
    result = assembly.deploy_stack(
        target.client, tmp_path / "out", "LocalGrantTargets", fresh.region
    )
    assert result.ok, result.failures()
    return result


def test_subscription_targets_need_their_queue_and_key_policies(
    target: Target, aws: Callable[[str], Any], subscription_stack: assembly.DeployResult
) -> None:
    assert gate.mode() == "enforce"
    outputs = subscription_stack.outputs
    sqs, kms = aws("sqs"), aws("kms")
    queue, dead_letters = outputs["QueueUrl"], outputs["DeadLetterUrl"]

    def policy(url: str) -> dict[str, Any]:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
        return dict(json.loads(attributes["Attributes"]["Policy"]))

    def key_policy(key: str) -> dict[str, Any]:
        document = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
        return dict(json.loads(document) if isinstance(document, str) else document)

    def without_events(document: dict[str, Any]) -> str:
        kept = [s for s in document["Statement"] if "events.amazonaws.com" not in json.dumps(s)]
        assert len(kept) < len(document["Statement"]), document
        return json.dumps({**document, "Statement": kept})

    saved_queues = {url: policy(url) for url in (queue, dead_letters)}
    saved_keys = {key: key_policy(key) for key in (outputs["QueueKeyId"], outputs["KeyId"])}

    def remove_queue_grant(url: str) -> None:
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": without_events(saved_queues[url])}
        )

    def remove_key_grant(key: str) -> None:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=without_events(saved_keys[key]))

    def restore() -> None:
        for url, document in saved_queues.items():
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(document)})
        for key, document in saved_keys.items():
            kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(document))

    def delivery() -> dict[str, Any]:
        _, record = deliver(target, samples.attachment_sample(RECIPIENT), timeout=60)
        assert record["status"] == "done", record

        def outcome() -> Any:
            events = target.local(f"events?message={record['message_id']}")["events"]
            for event in events:
                if event["complete"]:
                    (rule,) = event["matched"]
                    (delivered,) = rule["targets"]
                    return delivered
            return None

        return dict(wait_until(outcome, 60))

    def dead_lettered() -> list[dict[str, Any]]:
        answer = sqs.receive_message(
            QueueUrl=dead_letters, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        messages = list(answer.get("Messages", []))
        for message in messages:
            sqs.delete_message(QueueUrl=dead_letters, ReceiptHandle=message["ReceiptHandle"])
        return messages

    try:
        # With every grant: the event lands in the encrypted queue.
        assert delivery()["status"] == "delivered"
        assert sqs.receive_message(QueueUrl=queue)["Messages"]

        # The queue policy's grant to EventBridge: refused, the event goes to the dead letters.
        remove_queue_grant(queue)
        refused = delivery()
        assert refused["status"] == "dead-lettered", refused
        assert refused["error"].startswith("NO_PERMISSIONS: EventBridge may not send to"), refused
        (letter,) = dead_lettered()
        assert letter["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_PERMISSIONS"
        restore()

        # The key policy's grant to EventBridge on the queue's customer managed key.
        remove_key_grant(outputs["QueueKeyId"])
        refused = delivery()
        assert refused["status"] == "dead-lettered", refused
        assert "no key policy allows the kms:GenerateDataKey action" in refused["error"], refused
        assert len(dead_lettered()) == 1
        restore()

        # The dead-letter queue's policy, then its key's policy: the failed event is lost.
        remove_queue_grant(queue)
        remove_queue_grant(dead_letters)
        refused = delivery()
        assert refused["status"] == "lost", refused
        assert "its policy does not let events.amazonaws.com send" in refused["error"], refused
        restore()

        remove_queue_grant(queue)
        remove_key_grant(outputs["KeyId"])
        refused = delivery()
        assert refused["status"] == "lost", ("dead-letter key", refused)
        assert "no key policy allows the kms:GenerateDataKey action" in refused["error"], refused
        assert dead_lettered() == []
        restore()
    finally:
        restore()

"""The receipt rule actions, one small function per action type, and the dispatch table
``ACTIONS`` keyed by the action's name in the SES API and CloudFormation (``S3Action``,
``LambdaAction``, ...). Each function takes the message's run, the rule, the rule's matched
recipients and the action's properties, and returns the action's record and a stop signal
(``STOP_RULE``, ``STOP_RULE_SET`` or None).

Action types and their properties: https://docs.aws.amazon.com/ses/latest/APIReference/API_ReceiptAction.html
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import lambda_runner
from ..outbox import OUTBOX
from . import mail as mailmod
from .records import ActionRecord

if TYPE_CHECKING:
    from .run import MessageRun

#: SES_FACTS.md: the SNS action carries the message only up to 150 KB; bigger mail bounces.
SNS_CONTENT_LIMIT = 150 * 1024
#: SES waits at most 30 seconds for a RequestResponse invocation.
REQUEST_RESPONSE_LIMIT_SECONDS = 30

Action = Callable[
    ["MessageRun", dict[str, Any], list[str], dict[str, Any]], tuple[ActionRecord, str | None]
]


def s3_action(
    run: MessageRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
) -> tuple[ActionRecord, None]:
    from ..moto_ext.moto_internals import s3_backends
    from ..moto_ext.ses_checks import s3_put_decision
    from ..policy import Decision

    bucket = body["BucketName"]
    key = f"{body.get('ObjectKeyPrefix') or ''}{run.record.message_id}"
    detail: dict[str, Any] = {"bucket": bucket, "key": key}
    decision = s3_put_decision(run.receiver.ses, bucket, key, run.source_arn(rule))
    if decision is not Decision.ALLOW:
        detail["error"] = f"SES could not write to bucket {bucket}: " + (
            "it does not exist" if decision is None else "its policy does not allow it"
        )
        return ActionRecord("S3", "failed", detail), None
    if body.get("KmsKeyArn"):
        detail["note"] = "KMS client-side encryption is not emulated; stored as plain text"
    s3_backends[run.account]["aws"].put_object(bucket, key, run.message)
    detail["size"] = len(run.message)
    run.notify(
        body.get("TopicArn"),
        run.receipt(
            rule,
            recipients,
            {
                "type": "S3",
                "topicArn": body.get("TopicArn"),
                "bucketName": bucket,
                "objectKeyPrefix": body.get("ObjectKeyPrefix") or "",
                "objectKey": key,
            },
        ),
    )
    return ActionRecord("S3", "ok", detail), None


def lambda_action(
    run: MessageRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
) -> tuple[ActionRecord, str | None]:
    from ..moto_ext.moto_internals import lambda_backends
    from ..moto_ext.ses_checks import lambda_invoke_decision
    from ..policy import Decision

    function_arn = body["FunctionArn"]
    invocation_type = body.get("InvocationType") or "Event"
    detail: dict[str, Any] = {"functionArn": function_arn, "invocationType": invocation_type}
    decision = lambda_invoke_decision(run.receiver.ses, function_arn, run.source_arn(rule))
    if decision is not Decision.ALLOW:
        detail["error"] = f"SES could not invoke {function_arn}: " + (
            "it does not exist" if decision is None else "its policy does not allow it"
        )
        return ActionRecord("Lambda", "failed", detail), None
    fn = lambda_backends[run.account][run.region].get_function(function_arn)
    action = {"type": "Lambda", "functionArn": function_arn, "invocationType": invocation_type}
    if body.get("TopicArn"):
        action["topicArn"] = body["TopicArn"]
    receipt = run.receipt(rule, recipients, action)
    event = {
        "Records": [
            {
                "eventSource": "aws:ses",
                "eventVersion": "1.0",
                "ses": {"mail": run.mail(), "receipt": receipt},
            }
        ]
    }
    run.notify(body.get("TopicArn"), receipt)
    sent_before = len(OUTBOX)
    if invocation_type == "RequestResponse":
        invocation = lambda_runner.invoke(fn, event)
        attempts = [invocation]
    else:
        attempts = lambda_runner.invoke_async(fn, event)
        invocation = attempts[-1]
    detail["attempts"] = [a.summary() for a in attempts]
    # What the function sent through SES while it ran (a forwarder's copies): the receiver
    # runs one message's actions at a time, so these are this invocation's sends.
    sent = OUTBOX.messages(sent_before)
    if sent:
        detail["sent"] = [message.summary() for message in sent]
    detail["result"] = invocation.result
    detail["logGroup"] = invocation.log_group
    detail["logStream"] = invocation.log_stream
    if not invocation.ok:
        detail["error"] = invocation.error
        return ActionRecord("Lambda", "failed", detail), None
    signal = None
    if invocation_type == "RequestResponse":
        if invocation.duration_ms > REQUEST_RESPONSE_LIMIT_SECONDS * 1000:
            detail["note"] = "took longer than SES's 30 s limit: SES would not wait for it"
        elif isinstance(invocation.result, dict):
            disposition = invocation.result.get("disposition")
            if disposition in ("STOP_RULE", "STOP_RULE_SET"):
                signal = disposition
    return ActionRecord("Lambda", "ok", detail), signal


def sns_action(
    run: MessageRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
) -> tuple[ActionRecord, None]:
    topic = body["TopicArn"]
    encoding = body.get("Encoding") or "UTF-8"
    detail: dict[str, Any] = {"topicArn": topic, "encoding": encoding}
    if len(run.message) > SNS_CONTENT_LIMIT:
        bounce = run.bounce(rule, "550", "5.3.4", "Message too large for the SNS action (150 KB)")
        detail.update(error="message larger than 150 KB: SES bounces it", bounce=bounce)
        return ActionRecord("SNS", "failed", detail), None
    if encoding.upper() == "BASE64":
        content = base64.b64encode(run.message).decode("ascii")
    else:
        content = run.message.decode("utf-8", errors="replace")
    run.notify(
        topic,
        run.receipt(
            rule,
            recipients,
            {
                "type": "SNS",
                "topicArn": topic,
                "encoding": encoding,
            },
        ),
        content=content,
    )
    return ActionRecord("SNS", "ok", detail), None


def stop_action(
    run: MessageRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
) -> tuple[ActionRecord, str]:
    run.notify(
        body.get("TopicArn"),
        run.receipt(
            rule,
            recipients,
            {
                "type": "Stop",
                "topicArn": body.get("TopicArn"),
            },
        ),
    )
    return ActionRecord("Stop", "ok", {"scope": body.get("Scope", "RuleSet")}), "STOP_RULE_SET"


def bounce_action(
    run: MessageRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
) -> tuple[ActionRecord, None]:
    bounce = run.bounce(
        rule,
        body.get("SmtpReplyCode", "550"),
        body.get("StatusCode", ""),
        body.get("Message", ""),
        sender=body.get("Sender"),
    )
    run.notify(
        body.get("TopicArn"),
        run.receipt(
            rule,
            recipients,
            {
                "type": "Bounce",
                "topicArn": body.get("TopicArn"),
                "smtpReplyCode": bounce["smtpReplyCode"],
                "statusCode": bounce["statusCode"],
                "message": bounce["message"],
                "sender": bounce["sender"],
            },
        ),
    )
    return ActionRecord("Bounce", "ok", {"bounce": bounce}), None


def add_header_action(
    run: MessageRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
) -> tuple[ActionRecord, None]:
    name, value = body["HeaderName"], body["HeaderValue"]
    run.message = mailmod.prepend_headers(run.message, [(name, value)])
    return ActionRecord("AddHeader", "ok", {"header": f"{name}: {value}"}), None


def not_emulated(kind: str) -> Action:
    """An action type the local cloud records as skipped (WorkMail, Connect): no such service
    runs locally."""

    def skipped(
        run: MessageRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
    ) -> tuple[ActionRecord, None]:
        return ActionRecord(
            type=kind,
            status="skipped",
            detail={"reason": f"{kind} is not emulated by the local cloud"},
        ), None

    return skipped


ACTIONS: dict[str, Action] = {
    "S3Action": s3_action,
    "LambdaAction": lambda_action,
    "SNSAction": sns_action,
    "StopAction": stop_action,
    "BounceAction": bounce_action,
    "AddHeaderAction": add_header_action,
    "WorkmailAction": not_emulated("WorkmailAction"),
    "ConnectAction": not_emulated("ConnectAction"),
}

"""The receipt rule actions, one small function per action type, and the dispatch table
``ACTIONS`` keyed by the action's name in the SES API and CloudFormation (``S3Action``,
``LambdaAction``, ...). Each function takes the message's run, the rule, the rule's matched
recipients and the action's properties, and returns the action's record and a stop signal
(``STOP_RULE``, ``STOP_RULE_SET`` or None).

Action types and their properties: https://docs.aws.amazon.com/ses/latest/APIReference/API_ReceiptAction.html
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

from .. import lambda_async, lambda_runner
from ..lifecycle import WORK
from ..outbox import OUTBOX
from . import mail as mailmod
from .protocols import Action, RuleRun
from .records import ActionRecord

#: The SNS action carries messages up to 150 KB, headers included; bigger mail bounces (SES
#: Developer Guide, "Service quotas", email receiving,
#: https://docs.aws.amazon.com/ses/latest/dg/quotas.html, and "Publish to Amazon SNS topic
#: action", https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action-sns.html).
SNS_CONTENT_LIMIT = 150 * 1024
#: SES waits at most 30 seconds for a RequestResponse invocation (SES API reference,
#: LambdaAction, InvocationType: a 30-second timeout on RequestResponse invocations,
#: https://docs.aws.amazon.com/ses/latest/APIReference/API_LambdaAction.html).
REQUEST_RESPONSE_LIMIT_SECONDS: float = 30
#: A failed Lambda action keeps the event it gave the function (``detail["event"]``) so that
#: the inbox can invoke the function again with it; an event larger than this (as JSON) is not
#: kept. A local bound of the inbox, not an AWS limit: the event's headers are already cut to
#: ``mail.LAMBDA_HEADERS_LIMIT_BYTES``, so real events stay well below it.
REPLAY_EVENT_LIMIT_BYTES = 256 * 1024


def s3_action(
    run: RuleRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
) -> tuple[ActionRecord, None]:
    from ..moto_ext.moto_internals import s3_backends
    from ..moto_ext.ses_checks import s3_put_decision
    from ..policy import Decision

    bucket = body["BucketName"]
    key = f"{body.get('ObjectKeyPrefix') or ''}{run.record.message_id}"
    detail: dict[str, Any] = {"bucket": bucket, "key": key}
    role_arn = body.get("IamRoleArn")
    decision = s3_put_decision(run.ses, bucket, key, run.source_arn(rule), role_arn)
    if decision is not Decision.ALLOW:
        detail["error"] = f"SES could not write to bucket {bucket}: " + (
            "it (or the action's role) does not exist"
            if decision is None
            else "the action's role does not allow it"
            if role_arn
            else "its policy does not allow it"
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
                # Observed in real notifications, not in the guide's samples (docs/ses-facts.md).
                "objectKeyPrefix": body.get("ObjectKeyPrefix") or "",
                "objectKey": key,
            },
        ),
    )
    return ActionRecord("S3", "ok", detail), None


def lambda_action(
    run: RuleRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
) -> tuple[ActionRecord, str | None]:
    from ..moto_ext.moto_internals import lambda_backends
    from ..moto_ext.ses_checks import lambda_invoke_decision
    from ..policy import Decision

    function_arn = body["FunctionArn"]
    invocation_type = body.get("InvocationType") or "Event"
    detail: dict[str, Any] = {"functionArn": function_arn, "invocationType": invocation_type}
    decision = lambda_invoke_decision(run.ses, function_arn, run.source_arn(rule))
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
                "ses": {
                    "mail": run.mail(headers_limit=mailmod.LAMBDA_HEADERS_LIMIT_BYTES),
                    "receipt": receipt,
                },
            }
        ]
    }
    run.notify(body.get("TopicArn"), receipt)
    sent_before = len(OUTBOX)
    if invocation_type != "RequestResponse":
        # SES hands the event to Lambda's queue and goes on with the next action; the message's
        # record is finished once the queued invocation has its outcome (MessageRun.settle).
        outcome = ActionRecord("Lambda", "queued", detail)
        run.queued(
            lambda_async.submit(fn, event),
            functools.partial(
                _record_outcome, outcome=outcome, sent_before=sent_before, event=event
            ),
        )
        return outcome, None
    outcome = ActionRecord("Lambda", "queued", detail)
    # SES waits at most REQUEST_RESPONSE_LIMIT_SECONDS; the invocation itself runs on (Lambda
    # does not end a function because its caller stopped waiting) on a thread the local cloud
    # owns, so stopping ends it too.
    finished: list[lambda_runner.Invocation] = []
    limit = REQUEST_RESPONSE_LIMIT_SECONDS
    WORK.spawn(
        lambda: finished.append(lambda_runner.invoke(fn, event)),
        name=f"lambda-request-response-{fn.function_name}",
    ).join(limit)
    if not finished:
        outcome.status = "failed"
        detail["error"] = {
            "errorType": "RequestResponseTimeout",
            "errorMessage": f"SES stopped waiting for the RequestResponse invocation after "
            f"{limit} s (the function may still be running)",
        }
        keep_for_replay(detail, event)
        return outcome, None
    invocation = _record_outcome(finished, outcome, sent_before, event=event)
    signal = None
    if invocation.ok and isinstance(invocation.result, dict):
        disposition = invocation.result.get("disposition")
        if disposition in ("STOP_RULE", "STOP_RULE_SET"):
            signal = disposition
    return outcome, signal


def keep_for_replay(detail: dict[str, Any], event: dict[str, Any]) -> None:
    """Keep a failed invocation's event in its action's detail, if it is small enough."""
    size = len(json.dumps(event, default=str).encode())
    if size <= REPLAY_EVENT_LIMIT_BYTES:
        detail["event"] = event
    else:
        detail["eventNotKept"] = (
            f"the event ({size} bytes as JSON) is larger than the {REPLAY_EVENT_LIMIT_BYTES} "
            "bytes kept for a replay"
        )


def _record_outcome(
    attempts: list[lambda_runner.Invocation],
    outcome: ActionRecord,
    sent_before: int,
    event: dict[str, Any] | None = None,
) -> lambda_runner.Invocation:
    """Fill the Lambda action's record from the invocation's attempts; returns the last. A
    failed invocation keeps ``event`` for a replay (``keep_for_replay``)."""
    detail = outcome.detail
    invocation = attempts[-1]
    detail["attempts"] = [a.summary() for a in attempts]
    # What the function sent through SES while it ran (a forwarder's copies): the requests
    # signed with the credentials of the environments that ran these attempts (each
    # environment has its own, and runs one invocation at a time).
    keys = {a.access_key_id for a in attempts if a.access_key_id}
    sent = [m for m in OUTBOX.messages(sent_before) if m.access_key_id in keys]
    if sent:
        detail["sent"] = [message.summary() for message in sent]
    detail["result"] = invocation.result
    detail["logGroup"] = invocation.log_group
    detail["logStream"] = invocation.log_stream
    outcome.status = "ok" if invocation.ok else "failed"
    if not invocation.ok:
        detail["error"] = invocation.error
        if event is not None:
            keep_for_replay(detail, event)
    return invocation


def sns_action(
    run: RuleRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
) -> tuple[ActionRecord, None]:
    topic = body["TopicArn"]
    encoding = body.get("Encoding") or "UTF-8"
    detail: dict[str, Any] = {"topicArn": topic, "encoding": encoding}
    # The rule says "UTF-8" or "Base64" (SES API reference, SNSAction); the notification says
    # "BASE64" (guide, "Sample incoming email event", the SNS action's notification) and, in the
    # same spelling, "UTF8".
    spelling = "BASE64" if encoding.upper() == "BASE64" else "UTF8"
    if len(run.message) > SNS_CONTENT_LIMIT:
        bounce = run.bounce(rule, "550", "5.3.4", "Message too large for the SNS action (150 KB)")
        detail.update(error="message larger than 150 KB: SES bounces it", bounce=bounce)
        return ActionRecord("SNS", "failed", detail), None
    if spelling == "BASE64":
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
                "encoding": spelling,
            },
        ),
        content=content,
    )
    return ActionRecord("SNS", "ok", detail), None


def stop_action(
    run: RuleRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
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
    run: RuleRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
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
    run: RuleRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
) -> tuple[ActionRecord, None]:
    name, value = body["HeaderName"], body["HeaderValue"]
    run.message = mailmod.prepend_headers(run.message, [(name, value)])
    return ActionRecord("AddHeader", "ok", {"header": f"{name}: {value}"}), None


def not_emulated(kind: str) -> Action:
    """An action type the local cloud records as skipped (WorkMail, Connect): no such service
    runs locally."""

    def skipped(
        run: RuleRun, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
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

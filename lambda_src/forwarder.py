"""Reference forwarder: re-sends each received message to its destinations with SES v2.

Lambda handler string: ``forwarder.lambda_handler``. It runs after the S3 action, reads the
raw message from ``RAW_MESSAGE_BUCKET`` (spooled to /tmp above 256 KiB, never past the send
limit), rewrites its header section (``ses_mail.forwarding``: From, Reply-To, the fields SES
rejects or that break re-sending) and sends one copy per destination with ``SendEmail`` and
``Content.Raw``. Configuration comes only from environment variables set by the ``Forwarder``
construct (see ``ses_mail.forwarding.ForwarderConfig``).

Per message it writes ``<FORWARD_PREFIX><messageId>/outcome.json`` (``status`` per destination)
and, for each copy, a marker ``<FORWARD_PREFIX><messageId>/sent/<destination>-<digest>``
created with ``If-None-Match: *`` *before* the send: a redelivered or retried event finds the
marker and never sends the same copy twice. A failed send deletes its marker so that the retry
sends it.

Outcomes that retrying cannot change are recorded and not raised: verdicts failing the policy
(``rejected``), over SES's 40 MB send limit (``too_large``), a line over 1,000 characters
(``line_too_long``), a destination inside the receiving domains or the hop limit reached
(``loop``). A send that fails (SES's ``MessageRejected`` for an unverified address in the
sandbox, throttling, anything else) is logged naming the destination and raised after every
destination was tried, so Lambda retries, then the on-failure queue keeps the event.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from aws_io import download_raw_message, s3_client, ses_client
from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from ses_mail import HandlerConfig, OutputWriteError, SesNotification, parse_event
from ses_mail import metric_names as names
from ses_mail.forwarding import (
    MAX_LINE_BYTES,
    Delivery,
    ForwarderConfig,
    base64_size,
    forward_marker_key,
    forward_outcome_key,
    hop_count,
    longest_line,
    plan_deliveries,
    read_header_section,
    rewrite_headers,
)
from ses_mail.keys import raw_message_key

if TYPE_CHECKING:
    pass

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME") or names.FORWARDER_SERVICE
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or names.NAMESPACE

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


class ForwardFailedError(Exception):
    """A copy could not be sent; raised so that Lambda retries the event."""

    def __init__(self, message_id: str, destination: str, code: str, detail: str) -> None:
        super().__init__(
            f"message {message_id}: forwarding to {destination} failed ({code}): {detail}"
        )
        self.destination = destination
        self.code = code


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Forward every record of an SES event; see the module docstring for the outcomes."""
    config = ForwarderConfig.from_environ(os.environ)
    metrics.add_dimension(
        name=names.FUNCTION_DIMENSION, value=names.function_name(context, SERVICE_NAME)
    )
    try:
        notifications = parse_event(event)
    except Exception:
        metrics.add_metric(name=names.INVALID_EVENTS, unit=MetricUnit.Count, value=1)
        logger.exception("event rejected: not an SES receipt event")
        raise
    failures: list[Exception] = []
    results: list[dict[str, Any]] = []
    for notification in notifications:
        logger.set_correlation_id(notification.message_id)
        logger.append_keys(message_id=notification.message_id)
        metrics.add_metric(name=names.MESSAGES_RECEIVED, unit=MetricUnit.Count, value=1)
        try:
            results.append(forward_notification(notification, config))
        except Exception as error:
            metrics.add_metric(name=names.FORWARDS_FAILED, unit=MetricUnit.Count, value=1)
            logger.exception(
                "message not forwarded; the invocation fails so that it is retried",
                extra={"error_type": type(error).__name__},
            )
            failures.append(error)
    if failures:
        raise failures[0]
    return {"messages": results}


def forward_notification(notification: SesNotification, config: ForwarderConfig) -> dict[str, Any]:
    """Apply the policy, read the raw message once and send each copy; return the outcome."""
    message_id = notification.message_id
    outcome: dict[str, Any] = {
        "messageId": message_id,
        "recipients": list(notification.recipients),
        "destinations": {},
    }
    failed = config.verdict_policy.failed(notification.verdicts)
    if failed:
        metrics.add_metric(name=names.FORWARDS_REFUSED_BY_VERDICT, unit=MetricUnit.Count, value=1)
        logger.warning("message not forwarded: verdicts failed", extra={"verdicts": failed})
        return _finish(config, outcome, "rejected", reason=f"verdicts failed: {', '.join(failed)}")
    deliveries, loops = plan_deliveries(notification.recipients, config)
    for loop in loops:
        outcome["destinations"][loop.destination] = {
            "status": "loop",
            "reason": "destination is inside a receiving domain",
        }
        metrics.add_metric(name=names.FORWARD_LOOPS_BLOCKED, unit=MetricUnit.Count, value=1)
        logger.error(
            "destination is inside a receiving domain: not forwarded (it would loop)",
            extra={"destination": loop.destination, "recipient": loop.recipient},
        )
    if not deliveries:
        if not loops:
            _count_no_destination(notification.recipients)
        return _finish(config, outcome, "loop" if loops else "no_destination")
    if config.raw_bucket is None:
        raise ForwardFailedError(message_id, "*", "Configuration", "RAW_MESSAGE_BUCKET is not set")
    key = raw_message_key(config.raw_prefix, message_id)
    # The body must fit SES's limit once base64-encoded: 3/4 of it, plus room for the headers.
    read_limit = config.max_send_bytes * 3 // 4
    with download_raw_message(
        config.raw_bucket, key, message_id, HandlerConfig(max_message_bytes=read_limit)
    ) as (body, size):
        outcome["size"] = size
        if body is None:
            return _not_forwarded(
                config, outcome, "too_large", f"{size} bytes is over SES's send limit", size
            )
        return _forward(notification, config, outcome, deliveries, body, size)


def _forward(
    notification: SesNotification,
    config: ForwarderConfig,
    outcome: dict[str, Any],
    deliveries: list[Delivery],
    raw: IO[bytes],
    size: int,
) -> dict[str, Any]:
    message_id = notification.message_id
    try:
        section = read_header_section(raw)
    except ValueError as error:  # a header section over 1 MiB: no retry can change that
        return _not_forwarded(config, outcome, "unparseable", str(error), size)
    hops = hop_count(section)
    if hops >= config.max_hops:
        metrics.add_metric(name=names.FORWARD_LOOPS_BLOCKED, unit=MetricUnit.Count, value=1)
        logger.error(
            "message already forwarded the maximum number of times: not forwarded again",
            extra={"hops": hops, "max_hops": config.max_hops},
        )
        return _finish(config, outcome, "loop", reason=f"{hops} forwarding hops")
    longest = longest_line(raw)
    if longest > MAX_LINE_BYTES:
        return _not_forwarded(
            config,
            outcome,
            "line_too_long",
            f"a line of {longest} bytes; SES accepts at most {MAX_LINE_BYTES}",
            size,
        )
    raw.seek(section.body_offset)
    body = raw.read()
    errors: list[ForwardFailedError] = []
    for delivery in deliveries:
        rewrite = rewrite_headers(
            section,
            from_address=delivery.from_address,
            recipient=delivery.recipient,
            envelope_sender=notification.source,
        )
        total = len(rewrite.header) + len(body)
        entry: dict[str, Any] = {"from": rewrite.from_address, "size": total}
        outcome["destinations"][delivery.destination] = entry
        if base64_size(total) > config.max_send_bytes:
            entry.update(status="too_large", reason=f"{total} bytes is over SES's send limit")
            metrics.add_metric(name=names.FORWARDS_TOO_LARGE, unit=MetricUnit.Count, value=1)
            continue
        marker = forward_marker_key(config.forward_prefix, message_id, delivery.destination)
        if not _claim(config.raw_bucket or "", marker, message_id, delivery):
            if _marker_status(config.raw_bucket or "", marker, message_id) != "sent":
                # Another invocation holds the claim: it is sending now, or it died between
                # claim and send. Fail, so that the retry (or, past the retries, the
                # on-failure queue and its alarm) settles it; never send a second copy blindly.
                entry["status"] = "in_progress"
                logger.error(
                    "copy claimed by another invocation but not marked sent",
                    extra={"destination": delivery.destination, "marker": marker},
                )
                errors.append(
                    ForwardFailedError(
                        message_id, delivery.destination, "InProgress", f"marker {marker}"
                    )
                )
                continue
            entry["status"] = "duplicate"
            metrics.add_metric(name=names.FORWARDS_DEDUPLICATED, unit=MetricUnit.Count, value=1)
            logger.info(
                "copy already sent (or being sent) by an earlier invocation: not sent again",
                extra={"destination": delivery.destination, "marker": marker},
            )
            continue
        try:
            response = ses_client().send_email(
                FromEmailAddress=rewrite.from_address,
                Destination={"ToAddresses": [delivery.destination]},
                Content={"Raw": {"Data": rewrite.header + body}},
            )
        except (BotoCoreError, ClientError) as error:
            _release(config.raw_bucket or "", marker, message_id)
            error_code = (
                error.response.get("Error", {}).get("Code", "Error")
                if isinstance(error, ClientError)
                else type(error).__name__
            )
            entry.update(status="failed", error=error_code, detail=str(error)[:500])
            metrics.add_metric(name=names.FORWARDS_REJECTED_BY_SES, unit=MetricUnit.Count, value=1)
            hint = (
                " (in the SES sandbox every destination must be a verified identity)"
                if error_code == "MessageRejected"
                else ""
            )
            logger.error(
                f"SES refused to send the copy to {delivery.destination}{hint}",
                extra={
                    "destination": delivery.destination,
                    "from": rewrite.from_address,
                    "error_code": error_code,
                    "error": str(error)[:500],
                },
            )
            errors.append(
                ForwardFailedError(message_id, delivery.destination, error_code, str(error))
            )
            continue
        sent_id = response.get("MessageId", "")
        entry.update(
            status="sent", sesMessageId=sent_id, removedHeaders=sorted(set(rewrite.removed))
        )
        _put(
            config.raw_bucket or "",
            marker,
            json.dumps({"status": "sent", "sesMessageId": sent_id, "at": _now()}).encode(),
            message_id,
        )
        metrics.add_metric(name=names.FORWARDS_SENT, unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=names.FORWARDED_BYTES, unit=MetricUnit.Bytes, value=total)
        logger.info(
            "copy sent",
            extra={
                "destination": delivery.destination,
                "from": rewrite.from_address,
                "size": total,
                "hops": rewrite.hops,
                "removed_headers": sorted(set(rewrite.removed)),
                "ses_message_id": sent_id,
            },
        )
    statuses = {e.get("status") for e in outcome["destinations"].values()}
    done = statuses & {"sent", "duplicate"}
    status = "failed" if errors else ("forwarded" if done else "not_forwarded")
    _finish(config, outcome, status)
    if errors:
        raise errors[0]
    return outcome


def _count_no_destination(recipients: tuple[str, ...] | list[str]) -> None:
    """One ``MessagesWithoutDestination`` per message no destination covered (with the function's
    dimensions, as every metric of the forwarder; the Forwarder construct alarms on it)."""
    logger.warning(
        "message not forwarded: no destination for its recipients",
        extra={"recipients": list(recipients)},
    )
    metrics.add_metric(name=names.MESSAGES_WITHOUT_DESTINATION, unit=MetricUnit.Count, value=1)


def _not_forwarded(
    config: ForwarderConfig, outcome: dict[str, Any], status: str, reason: str, size: int
) -> dict[str, Any]:
    metrics.add_metric(name=names.MESSAGES_NOT_FORWARDED, unit=MetricUnit.Count, value=1)
    logger.warning(
        "message not forwarded; outcome recorded, raw message kept",
        extra={"reason": status, "detail": reason, "size": size},
    )
    return _finish(config, outcome, status, reason=reason)


def _finish(
    config: ForwarderConfig, outcome: dict[str, Any], status: str, reason: str | None = None
) -> dict[str, Any]:
    outcome["status"] = status
    if reason is not None:
        outcome["reason"] = reason
    outcome["at"] = _now()
    if config.raw_bucket is not None:
        key = forward_outcome_key(config.forward_prefix, outcome["messageId"])
        body = json.dumps(outcome, indent=2, sort_keys=True).encode("utf-8")
        _put(config.raw_bucket, key, body, outcome["messageId"])
        logger.info("forwarding outcome stored", extra={"status": status, "key": key})
    return outcome


def _claim(bucket: str, key: str, message_id: str, delivery: Delivery) -> bool:
    """Create the marker only if it does not exist yet (S3 conditional write); ``False`` when
    an earlier invocation created it."""
    body = json.dumps({"status": "sending", "recipient": delivery.recipient, "at": _now()})
    try:
        s3_client().put_object(
            Bucket=bucket,
            Key=key,
            Body=body.encode("utf-8"),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # 412 PreconditionFailed: the marker exists; 409 ConditionalRequestConflict: another
        # writer is creating it right now (S3 User Guide, "conditional writes").
        if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (412, 409):
            return False
        raise OutputWriteError(message_id, f"s3://{bucket}/{key}", str(error)) from error
    except BotoCoreError as error:
        raise OutputWriteError(message_id, f"s3://{bucket}/{key}", str(error)) from error
    return True


def _marker_status(bucket: str, key: str, message_id: str) -> str | None:
    """The ``status`` written in a marker (``sending`` or ``sent``); ``None`` when it is gone."""
    try:
        response = s3_client().get_object(Bucket=bucket, Key=key)
        document = json.loads(response["Body"].read())
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise OutputWriteError(message_id, f"s3://{bucket}/{key}", str(error)) from error
    except (BotoCoreError, ValueError) as error:
        raise OutputWriteError(message_id, f"s3://{bucket}/{key}", str(error)) from error
    status = document.get("status") if isinstance(document, dict) else None
    return status if isinstance(status, str) else None


def _release(bucket: str, key: str, message_id: str) -> None:
    """Delete a marker whose send failed, so that the retry sends the copy."""
    try:
        s3_client().delete_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError):
        logger.exception(
            "marker of a failed send could not be deleted: a retry will not send this copy",
            extra={"marker": key},
        )


def _put(bucket: str, key: str, body: bytes, message_id: str) -> None:
    try:
        s3_client().put_object(
            Bucket=bucket, Key=key, Body=body, ContentType="application/json; charset=utf-8"
        )
    except (BotoCoreError, ClientError) as error:
        raise OutputWriteError(message_id, f"s3://{bucket}/{key}", str(error)) from error


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

"""Reference SES email handler: every receipt becomes a parsed result stored in S3.

Lambda handler string: ``handler.lambda_handler``. Configuration comes only from environment
variables set by the construct (see ``ses_mail.config`` and docs/handler.md). The work itself is
done by the pure ``ses_mail`` core; this module does the I/O: it reads the raw MIME from S3 (or
the SNS ``content``), writes ``<PARSED_PREFIX><messageId>/<delivery key>/message.json`` (one
per receipt rule that invoked it: see ``ses_mail.keys.delivery_key``) and the attachments under
``<PARSED_PREFIX><messageId>/attachments/``, puts one event per delivery on EventBridge when
``EVENT_BUS_NAME`` is set (only after everything the event points to is stored), logs and emits
metrics.

Outcomes per message (``status`` in message.json):

- ``processed``: parsed; attachments then ``message.json`` written (a retry rewrites the same keys);
- ``rejected``: a verdict named in ``REJECT_ON_VERDICTS`` is ``FAIL``; the body is not read. A
  ``RequestResponse`` invocation returns ``{"disposition": "STOP_RULE_SET"}``;
- ``too_large`` / ``unparseable``: over ``MAX_MESSAGE_BYTES`` or a parsing limit; retrying cannot
  help, so the outcome is stored and the raw message stays where SES put it.

Every outcome is also put on the bus as one event (detail-type ``Email Received``, ``Email
Rejected``, ``Email Too Large`` or ``Email Unparseable``; see docs/handler.md). Delivery is at
least once: a retried invocation puts the event again, consumers deduplicate on ``deliveryId``
(two receipt rules matching one message are two deliveries with one ``messageId``).

Anything else (malformed event, raw message missing, S3 write or PutEvents failure) raises a
``ses_mail.SesMailError`` after every record was tried, so Lambda retries an ``Event``
invocation and its on-failure destination receives the event: no accepted mail is lost silently.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from tempfile import SpooledTemporaryFile
from typing import IO, TYPE_CHECKING, Any, cast

from aws_io import (
    SPOOL_MEMORY_BYTES,
    download_raw_message,
    events_client,
    s3_client,
    secrets_client,
)
from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from reply_split import split_reply
from ses_mail import (
    DISPOSITION_CONTINUE,
    DISPOSITION_STOP_RULE_SET,
    EventPublishError,
    HandlerConfig,
    MessageUnavailableError,
    OutputWriteError,
    ParsedMessage,
    RawLocation,
    ReplyAddresses,
    ReplyToken,
    SesNotification,
    UnparseableMessageError,
    attachment_key,
    build_document,
    build_entry,
    encode_document,
    entry_size,
    message_document_key,
    parse_event,
    parse_message,
    raw_message_key,
    read_conversation,
)
from ses_mail import metric_names as names

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME") or names.HANDLER_SERVICE
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or names.NAMESPACE

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Process every record of an SES event; see the module docstring for the outcomes."""
    config = HandlerConfig.from_environ(os.environ)
    metrics.add_dimension(
        name=names.FUNCTION_DIMENSION, value=names.function_name(context, SERVICE_NAME)
    )
    try:
        notifications = parse_event(event)
    except Exception:
        metrics.add_metric(name=names.INVALID_EVENTS, unit=MetricUnit.Count, value=1)
        logger.exception("event rejected: not an SES receipt event")
        raise
    stop = False
    failures: list[Exception] = []
    unstored: list[dict[str, Any]] = []
    for notification in notifications:
        logger.set_correlation_id(notification.message_id)
        logger.append_keys(message_id=notification.message_id)
        metrics.add_metric(name=names.MESSAGES_RECEIVED, unit=MetricUnit.Count, value=1)
        try:
            document = process_notification(notification, config)
            publish_event(notification, config, document)
        except Exception as error:
            metrics.add_metric(name=names.MESSAGES_FAILED, unit=MetricUnit.Count, value=1)
            logger.exception(
                "message not processed; the invocation will fail so that it is retried",
                extra={"error_type": type(error).__name__},
            )
            failures.append(error)
            continue
        if document["status"] == "rejected" and notification.action.is_request_response:
            stop = True
        if config.raw_bucket is None:
            unstored.append(document)
    if failures:
        raise failures[0]
    response: dict[str, Any] = {
        "disposition": DISPOSITION_STOP_RULE_SET if stop else DISPOSITION_CONTINUE
    }
    if unstored:
        response["messages"] = unstored
    return response


def process_notification(notification: SesNotification, config: HandlerConfig) -> dict[str, Any]:
    """Apply the verdict policy, read, parse and store one message; return its document."""
    raw = RawLocation(
        bucket=config.raw_bucket,
        key=raw_message_key(config.raw_prefix, notification.message_id)
        if config.raw_bucket
        else None,
    )
    failed = config.verdict_policy.failed(notification.verdicts)
    if failed:
        metrics.add_metric(name=names.MESSAGES_REJECTED, unit=MetricUnit.Count, value=1)
        return _store_outcome(
            notification, config, build_document(notification, raw=raw, rejected_by=failed)
        )
    if notification.content is not None:
        raw = RawLocation(source="content", size=len(notification.content))
        return _parse_and_store(notification, config, notification.content, raw)
    if raw.bucket is None or raw.key is None:
        raise MessageUnavailableError(
            notification.message_id,
            "RAW_MESSAGE_BUCKET",
            "the variable is not set and the event carries no content",
        )
    with download_raw_message(raw.bucket, raw.key, notification.message_id, config) as (body, size):
        raw = RawLocation(source="s3", bucket=raw.bucket, key=raw.key, size=size)
        if body is None:
            limit = config.max_message_bytes
            error = UnparseableMessageError(
                "too_large", f"{size} bytes is more than MAX_MESSAGE_BYTES={limit}"
            )
            return _store_unparsed(notification, config, raw, error)
        return _parse_and_store(notification, config, body, raw)


def publish_event(
    notification: SesNotification, config: HandlerConfig, document: dict[str, Any]
) -> None:
    """Put the event of a stored outcome on ``EVENT_BUS_NAME`` (if set); raise if it was not
    accepted.

    Called only once message.json and every attachment are written, so everything the event
    points to exists when a consumer receives it.
    """
    bus = config.event_bus
    if bus is None:
        return
    key = (
        message_document_key(config.parsed_prefix, notification.message_id, notification.recipients)
        if config.raw_bucket
        else None
    )
    try:
        entry = build_entry(
            document,
            event_bus=bus,
            source=config.event_source,
            bucket=config.raw_bucket,
            message_key=key,
        )
    except ValueError as error:  # only for keys or a bucket far beyond S3's limits
        raise EventPublishError(notification.message_id, bus, str(error)) from error
    context = {
        "event_bus": bus,
        "detail_type": entry["DetailType"],
        "entry_bytes": entry_size(entry),
        "truncated": json.loads(entry["Detail"])["truncated"],
    }
    try:
        response = events_client().put_events(Entries=[cast("PutEventsRequestEntryTypeDef", entry)])
    except (BotoCoreError, ClientError) as error:
        metrics.add_metric(name=names.EVENTS_FAILED, unit=MetricUnit.Count, value=1)
        logger.error("PutEvents call failed", extra={**context, "error": str(error)})
        raise EventPublishError(notification.message_id, bus, str(error)) from error
    result = (response.get("Entries") or [{}])[0]
    if response.get("FailedEntryCount") or "EventId" not in result:
        # PutEvents answers 200 even when an entry is refused: FailedEntryCount counts them and
        # the entry carries ErrorCode and ErrorMessage (PutEvents, API reference, "Response
        # Elements": https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html).
        code = result.get("ErrorCode", "no EventId")
        problem = f"{code}: {result.get('ErrorMessage', 'entry not accepted')}"
        metrics.add_metric(name=names.EVENTS_FAILED, unit=MetricUnit.Count, value=1)
        logger.error("PutEvents refused the entry", extra={**context, "error": problem})
        raise EventPublishError(notification.message_id, bus, problem)
    metrics.add_metric(name=names.EVENTS_PUBLISHED, unit=MetricUnit.Count, value=1)
    logger.info("event put", extra={**context, "event_id": result["EventId"]})


def _parse_and_store(
    notification: SesNotification,
    config: HandlerConfig,
    source: bytes | IO[bytes],
    raw: RawLocation,
) -> dict[str, Any]:
    try:
        parsed = parse_message(source, config.parse_limits())
    except UnparseableMessageError as error:
        return _store_unparsed(notification, config, raw, error)
    # Read before the attachments are stored and released: a delivery report is one of them.
    conversation = read_conversation(
        parsed,
        ses_message_id=notification.message_id,
        envelope_source=notification.source,
        split=split_reply,
    )
    if config.reply_address_secret is not None:
        conversation = replace(
            conversation,
            reply_address=_reply_address(config.reply_address_secret, notification.recipients),
        )
    keys = _store_attachments(notification, config, parsed)
    document = build_document(
        notification, raw=raw, parsed=parsed, attachment_keys=keys, conversation=conversation
    )
    metrics.add_metric(name=names.MESSAGES_PROCESSED, unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=names.MESSAGE_BYTES, unit=MetricUnit.Bytes, value=parsed.size)
    metrics.add_metric(name=names.ATTACHMENTS, unit=MetricUnit.Count, value=len(keys))
    logger.info(
        "message parsed",
        extra={
            "size": parsed.size,
            "attachments": len(keys),
            "has_text": parsed.text is not None,
            "has_html": parsed.html is not None,
            "defects": len(parsed.defects),
            "action": notification.action.type,
        },
    )
    if parsed.defects:
        logger.warning("message has MIME defects", extra={"defects": parsed.defects[:20]})
    del parsed  # frees the bodies before the upload of message.json
    return _store_outcome(notification, config, document)


REPLY_KEYS_TTL_SECONDS = 300.0
"""The reply-address keys are read again after this long, so a rotation reaches warm
functions within five minutes (the previous key keeps verifying meanwhile)."""
_reply_keys: dict[str, tuple[float, ReplyAddresses]] = {}


def _reply_address(secret: str, recipients: Sequence[str]) -> ReplyToken | None:
    """The first recipient with a reply-address token, verified; keys cached per secret."""
    now = time.monotonic()
    cached = _reply_keys.get(secret)
    if cached is None or now - cached[0] > REPLY_KEYS_TTL_SECONDS:
        cached = (now, ReplyAddresses.from_secret(secrets_client(), secret))
        _reply_keys[secret] = cached
    for recipient in recipients:
        token = cached[1].verify(recipient)
        if token is not None:
            if not token.valid:
                logger.warning("reply address token not valid")
            return token
    return None


def _store_attachments(
    notification: SesNotification, config: HandlerConfig, parsed: ParsedMessage
) -> list[str | None]:
    """Write each attachment beside message.json, one decoded attachment in memory at a time."""
    keys: list[str | None] = []
    for attachment in parsed.attachments:
        if config.raw_bucket is None:
            attachment.sha256  # noqa: B018 - computes size and digest for the document
            attachment.release()
            keys.append(None)
            continue
        key = attachment_key(
            config.parsed_prefix, notification.message_id, attachment.index, attachment.safe_name
        )
        with SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as content:
            attachment.write_to(content)
            attachment.release()  # the encoded copy in the parsed tree is no longer needed
            content.seek(0)
            _put(config.raw_bucket, key, content, attachment.content_type, notification.message_id)
        keys.append(key)
    return keys


def _store_unparsed(
    notification: SesNotification,
    config: HandlerConfig,
    raw: RawLocation,
    error: UnparseableMessageError,
) -> dict[str, Any]:
    too_large = error.code == "too_large"
    metrics.add_metric(
        name=names.MESSAGES_TOO_LARGE if too_large else names.MESSAGES_UNPARSEABLE,
        unit=MetricUnit.Count,
        value=1,
    )
    logger.warning(
        "message not parsed; outcome stored, raw message kept",
        extra={"reason": error.code, "detail": error.problem, "size": raw.size},
    )
    return _store_outcome(notification, config, build_document(notification, raw=raw, error=error))


def _store_outcome(
    notification: SesNotification, config: HandlerConfig, document: dict[str, Any]
) -> dict[str, Any]:
    status = document["status"]
    if config.raw_bucket is None:
        logger.warning("RAW_MESSAGE_BUCKET is not set: the document is returned, not stored")
        return document
    key = message_document_key(
        config.parsed_prefix, notification.message_id, notification.recipients
    )
    body = encode_document(document)
    _put(config.raw_bucket, key, body, "application/json; charset=utf-8", notification.message_id)
    logger.info(
        "message stored",
        extra={"status": status, "key": key, "verdicts": document["verdicts"]},
    )
    return document


def _put(
    bucket: str, key: str, body: bytes | IO[bytes], content_type: str, message_id: str
) -> None:
    try:
        s3_client().put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    except (BotoCoreError, ClientError) as error:
        raise OutputWriteError(message_id, f"s3://{bucket}/{key}", str(error)) from error

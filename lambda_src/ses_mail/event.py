"""Typed view of SES receipt events: the direct Lambda action shape and the SNS-wrapped shape.

Both shapes carry the same ``mail`` and ``receipt`` objects (docs/ses-facts.md,
"The stored copy and the event shapes"):

- direct Lambda action: ``Records[].eventSource == "aws:ses"`` with ``Records[].ses.mail`` and
  ``Records[].ses.receipt``; the body is never included.
- SNS-wrapped: ``Records[].EventSource == "aws:sns"`` with ``Records[].Sns.Message``, a JSON string
  holding ``notificationType: "Received"``, ``mail``, ``receipt`` and, for the SNS action only,
  ``content`` (the raw MIME, base64 or UTF-8 as ``receipt.action.encoding`` says).

Optional verdicts (``dkimVerdict``, ``dmarcVerdict``, ``dmarcPolicy``) may be absent. Anything that
is not one of these shapes raises :class:`~.errors.InvalidEventError` naming the JSON path.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import InvalidEventError

VERDICT_NAMES: tuple[str, ...] = ("spam", "virus", "spf", "dkim", "dmarc")
"""The verdicts SES reports, in the order used throughout the output."""

INVOCATION_EVENT = "Event"
INVOCATION_REQUEST_RESPONSE = "RequestResponse"

MAX_MESSAGE_ID_LENGTH = 255
_MESSAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]*")


@dataclass(frozen=True, slots=True)
class Verdicts:
    """The receipt verdicts: ``PASS``, ``FAIL``, ``GRAY``, ``PROCESSING_FAILED`` or ``DISABLED``.

    ``None`` means SES did not report that verdict. ``dmarc_policy`` (``none``, ``quarantine``,
    ``reject``) only appears when DMARC fails.
    """

    spam: str | None = None
    virus: str | None = None
    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None
    dmarc_policy: str | None = None

    def status(self, name: str) -> str | None:
        """The status of verdict ``name`` (one of :data:`VERDICT_NAMES`)."""
        if name not in VERDICT_NAMES:
            raise KeyError(name)
        value: str | None = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class ReceiptAction:
    """``receipt.action``: the action that delivered this event.

    ``fields`` keeps every string field SES sent (``type``, ``functionArn``, ``invocationType``,
    ``topicArn``, ``bucketName``, ``objectKey``, ``encoding``...), with SES's own names.
    """

    type: str
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def invocation_type(self) -> str:
        """``RequestResponse`` or ``Event`` (the default, also for SNS deliveries)."""
        return self.fields.get("invocationType") or INVOCATION_EVENT

    @property
    def is_request_response(self) -> bool:
        return self.invocation_type == INVOCATION_REQUEST_RESPONSE


@dataclass(frozen=True, slots=True)
class SesNotification:
    """One received message as described by one event record."""

    message_id: str
    """``mail.messageId``, validated: safe to use as an S3 key segment."""
    event_source: str
    """``aws:ses`` (direct Lambda action) or ``aws:sns`` (SNS-wrapped notification)."""
    source: str
    """Envelope sender (``mail.source``, the SMTP ``MAIL FROM``)."""
    destination: tuple[str, ...]
    """``mail.destination``: the To and Cc addresses of the message's header (SES guide,
    "Contents of notifications for Amazon SES email receiving"); the envelope recipients are in
    ``recipients``."""
    recipients: tuple[str, ...]
    """``receipt.recipients``: the envelope recipients that this receipt rule matched."""
    timestamp: str | None
    """``receipt.timestamp`` (when the action ran), else ``mail.timestamp``."""
    headers_truncated: bool
    """``mail.headersTruncated``: the event's headers are incomplete; read them from the MIME."""
    common_headers: Mapping[str, str | tuple[str, ...]]
    """``mail.commonHeaders`` as sent (values are strings or tuples of strings)."""
    verdicts: Verdicts
    action: ReceiptAction
    content: bytes | None = None
    """The raw MIME carried by an SNS action notification, decoded; otherwise ``None``."""
    field_path: str = ""
    """JSON path of the notification inside the event, for error messages."""


def validate_message_id(value: object, field_path: str = "mail.messageId") -> str:
    """Return ``value`` if it is a safe SES message id, else raise :class:`InvalidEventError`.

    The id becomes an S3 key segment, so it must be 1-255 characters from ``A-Z a-z 0-9 . _ + = -``,
    start with a letter or digit and contain no ``..`` (real SES ids are lowercase alphanumeric).
    This rejects ``/``, ``..``, whitespace and control characters.
    """
    if not isinstance(value, str):
        raise InvalidEventError(field_path, f"must be a string, got {_type_name(value)}")
    if not value:
        raise InvalidEventError(field_path, "must not be empty")
    if len(value) > MAX_MESSAGE_ID_LENGTH:
        raise InvalidEventError(field_path, f"longer than {MAX_MESSAGE_ID_LENGTH} characters")
    if not _MESSAGE_ID.fullmatch(value) or ".." in value:
        raise InvalidEventError(
            field_path,
            f"{_preview(value)} is not a safe message id (allowed: letters, digits and ._+=-, "
            "starting with a letter or digit, no '..')",
        )
    return value


def parse_event(event: object) -> list[SesNotification]:
    """Validate a Lambda event and return one :class:`SesNotification` per record.

    Accepts the direct SES Lambda action event and SNS-wrapped receipt notifications (records of
    both kinds may be mixed). Raises :class:`InvalidEventError` naming the first missing or
    invalid field; no record is returned unless the whole event is valid.
    """
    root = _mapping(event, "event")
    records = root.get("Records")
    if records is None:
        raise InvalidEventError("Records", "missing")
    if not isinstance(records, list):
        raise InvalidEventError("Records", f"must be a list, got {_type_name(records)}")
    if not records:
        raise InvalidEventError("Records", "must contain at least one record")
    return [_parse_record(record, f"Records[{index}]") for index, record in enumerate(records)]


def parse_notification(notification: object, field_path: str = "notification") -> SesNotification:
    """Parse one SES receipt notification (the JSON SES publishes to SNS), e.g. read from SQS.

    ``notificationType`` must be ``Received``; ``content``, when present, is decoded to bytes.
    """
    body = _mapping(notification, field_path)
    kind = body.get("notificationType")
    if kind != "Received":
        problem = "missing" if kind is None else f"must be 'Received', got {_preview(kind)}"
        raise InvalidEventError(f"{field_path}.notificationType", problem)
    parsed = _parse_mail_and_receipt(body, field_path, "aws:sns")
    raw_content = body.get("content")
    if raw_content is None:
        return parsed
    content_path = f"{field_path}.content"
    if not isinstance(raw_content, str):
        raise InvalidEventError(content_path, f"must be a string, got {_type_name(raw_content)}")
    content = decode_content(raw_content, parsed.action.fields.get("encoding"), content_path)
    return replace(parsed, content=content)


def decode_content(content: str, encoding: str | None, field_path: str = "content") -> bytes:
    """Decode the ``content`` of an SNS action notification to the raw MIME bytes.

    ``encoding`` is ``receipt.action.encoding``: ``BASE64`` or ``UTF8``. When it is absent the
    content is base64 if it decodes as strict base64 (a MIME message never does: its header
    lines contain ``:`` and spaces), else UTF-8 text.
    """
    kind = (encoding or "").upper().replace("-", "")
    if kind == "UTF8":
        return content.encode("utf-8", "surrogateescape")
    if kind not in ("", "BASE64"):
        raise InvalidEventError(
            field_path, f"unknown receipt.action.encoding {_preview(encoding)} (BASE64 or UTF8)"
        )
    compact = "".join(content.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as error:
        if kind == "BASE64":
            raise InvalidEventError(field_path, f"is not valid base64 ({error})") from None
    return content.encode("utf-8", "surrogateescape")


def _parse_record(record: object, path: str) -> SesNotification:
    body = _mapping(record, path)
    source = body.get("eventSource", body.get("EventSource"))
    if source == "aws:ses" or (source is None and "ses" in body):
        ses = _mapping(body.get("ses"), f"{path}.ses")
        return _parse_mail_and_receipt(ses, f"{path}.ses", "aws:ses")
    if source == "aws:sns" or (source is None and "Sns" in body):
        sns = _mapping(body.get("Sns"), f"{path}.Sns")
        message_path = f"{path}.Sns.Message"
        message = sns.get("Message")
        if message is None:
            raise InvalidEventError(message_path, "missing")
        if isinstance(message, str):
            try:
                message = json.loads(message)
            except (ValueError, RecursionError) as error:
                raise InvalidEventError(message_path, f"is not valid JSON ({error})") from None
        return parse_notification(message, message_path)
    if source is None:
        raise InvalidEventError(f"{path}.eventSource", "missing (expected 'aws:ses' or 'aws:sns')")
    raise InvalidEventError(
        f"{path}.eventSource", f"{_preview(source)} is neither 'aws:ses' nor 'aws:sns'"
    )


def _parse_mail_and_receipt(body: Mapping[str, Any], path: str, source: str) -> SesNotification:
    mail_path, receipt_path = f"{path}.mail", f"{path}.receipt"
    mail = _mapping(body.get("mail"), mail_path)
    receipt = _mapping(body.get("receipt"), receipt_path)
    message_id = validate_message_id(mail.get("messageId"), f"{mail_path}.messageId")
    timestamp = _optional_str(receipt, "timestamp", receipt_path) or _optional_str(
        mail, "timestamp", mail_path
    )
    truncated = mail.get("headersTruncated", False)
    if not isinstance(truncated, bool):
        raise InvalidEventError(f"{mail_path}.headersTruncated", "must be true or false")
    return SesNotification(
        message_id=message_id,
        event_source=source,
        source=_optional_str(mail, "source", mail_path) or "",
        destination=_str_list(mail, "destination", mail_path),
        recipients=_str_list(receipt, "recipients", receipt_path),
        timestamp=timestamp,
        headers_truncated=truncated,
        common_headers=_common_headers(mail.get("commonHeaders"), f"{mail_path}.commonHeaders"),
        verdicts=_verdicts(receipt, receipt_path),
        action=_action(receipt.get("action"), f"{receipt_path}.action"),
        field_path=path,
    )


def _verdicts(receipt: Mapping[str, Any], path: str) -> Verdicts:
    statuses: dict[str, str | None] = {}
    for name in VERDICT_NAMES:
        key = f"{name}Verdict"
        value = receipt.get(key)
        if value is None:
            statuses[name] = None
            continue
        verdict = _mapping(value, f"{path}.{key}")
        statuses[name] = _optional_str(verdict, "status", f"{path}.{key}")
    policy = receipt.get("dmarcPolicy")
    if isinstance(policy, Mapping):  # tolerate {"status": "REJECT"} as well as "reject"
        policy = _optional_str(policy, "status", f"{path}.dmarcPolicy")
    elif policy is not None and not isinstance(policy, str):
        problem = f"must be a string, got {_type_name(policy)}"
        raise InvalidEventError(f"{path}.dmarcPolicy", problem)
    return Verdicts(dmarc_policy=policy, **statuses)


def _action(value: object, path: str) -> ReceiptAction:
    if value is None:
        raise InvalidEventError(path, "missing")
    action = _mapping(value, path)
    kind = action.get("type")
    if not isinstance(kind, str) or not kind:
        raise InvalidEventError(f"{path}.type", "missing" if kind is None else "must be a string")
    fields = {key: item for key, item in action.items() if isinstance(item, str)}
    invocation = action.get("invocationType")
    if invocation is not None and invocation not in (
        INVOCATION_EVENT,
        INVOCATION_REQUEST_RESPONSE,
    ):
        raise InvalidEventError(
            f"{path}.invocationType", f"{_preview(invocation)} is not 'Event' or 'RequestResponse'"
        )
    return ReceiptAction(type=kind, fields=fields)


def _common_headers(value: object, path: str) -> dict[str, str | tuple[str, ...]]:
    if value is None:
        return {}
    headers = _mapping(value, path)
    result: dict[str, str | tuple[str, ...]] = {}
    for name, item in headers.items():
        if isinstance(item, str):
            result[name] = item
        elif isinstance(item, list) and all(isinstance(entry, str) for entry in item):
            result[name] = tuple(item)
        else:
            raise InvalidEventError(f"{path}.{name}", "must be a string or a list of strings")
    return result


def _mapping(value: object, path: str) -> Mapping[str, Any]:
    if value is None:
        raise InvalidEventError(path, "missing")
    if not isinstance(value, Mapping):
        raise InvalidEventError(path, f"must be an object, got {_type_name(value)}")
    return value


def _optional_str(container: Mapping[str, Any], key: str, path: str) -> str | None:
    value = container.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InvalidEventError(f"{path}.{key}", f"must be a string, got {_type_name(value)}")


def _str_list(container: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = container.get(key)
    if value is None:
        return ()
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise InvalidEventError(f"{path}.{key}[{index}]", "must be a string")
        return tuple(value)
    raise InvalidEventError(f"{path}.{key}", f"must be a list of strings, got {_type_name(value)}")


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _preview(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"

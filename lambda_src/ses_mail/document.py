"""The output document (``message.json``); its schema is ``message.schema.json`` beside this file.

``build_document`` is the only producer; tests validate its output against the schema, whose
``additionalProperties: false`` keeps the two from drifting apart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import contract
from .conversation import Conversation, conversation_document, read_conversation
from .errors import UnparseableMessageError
from .event import SesNotification
from .headers import Address, MessageHeaders, headers_from_event
from .keys import delivery_id
from .mime import ParsedMessage

#: 2: one document per delivery (``deliveryId``, ``<messageId>/<delivery key>/message.json``).
SCHEMA_VERSION = 2
SCHEMA_PATH = Path(__file__).with_name("message.schema.json")

STATUS_PROCESSED = contract.STATUS_PROCESSED
STATUS_REJECTED = contract.STATUS_REJECTED
STATUS_TOO_LARGE = contract.STATUS_TOO_LARGE
STATUS_UNPARSEABLE = contract.STATUS_UNPARSEABLE


@dataclass(frozen=True, slots=True)
class RawLocation:
    """Where the raw MIME was read from: ``source`` is ``s3``, ``content`` or ``None``."""

    source: str | None = None
    bucket: str | None = None
    key: str | None = None
    size: int | None = None


def load_schema() -> dict[str, Any]:
    """The JSON Schema of ``message.json``."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def build_document(
    notification: SesNotification,
    *,
    raw: RawLocation,
    parsed: ParsedMessage | None = None,
    attachment_keys: Sequence[str | None] = (),
    rejected_by: Sequence[str] = (),
    error: UnparseableMessageError | None = None,
    conversation: Conversation | None = None,
) -> dict[str, Any]:
    """Build the ``message.json`` document of one message.

    The status follows from the arguments: ``rejected`` when ``rejected_by`` names failed
    verdicts, ``too_large``/``unparseable`` when ``error`` is given, else ``processed`` (which
    needs ``parsed``). ``attachment_keys[i]`` is where attachment ``i`` was stored.
    ``conversation`` is read from ``parsed`` when not given (give it when the attachments were
    released: a delivery status report is one of them); it is ``null`` for unparsed mail.
    """
    if rejected_by:
        status = STATUS_REJECTED
    elif error is not None:
        status = STATUS_TOO_LARGE if error.code == "too_large" else STATUS_UNPARSEABLE
    elif parsed is not None:
        status = STATUS_PROCESSED
    else:
        raise ValueError("a processed document needs the parsed message")
    if status != STATUS_PROCESSED:
        parsed = None
    headers = parsed.headers if parsed else headers_from_event(notification.common_headers)
    if parsed is not None and conversation is None:
        conversation = read_conversation(
            parsed, ses_message_id=notification.message_id, envelope_source=notification.source
        )
    verdicts = notification.verdicts
    return {
        "schemaVersion": SCHEMA_VERSION,
        "messageId": notification.message_id,
        "deliveryId": delivery_id(notification.message_id, notification.recipients),
        "status": status,
        "receivedAt": notification.timestamp,
        "envelope": {
            "source": notification.source,
            "recipients": list(notification.recipients),
            "destination": list(notification.destination),
        },
        "delivery": {
            "eventSource": notification.event_source,
            "action": {"type": notification.action.type, **notification.action.fields},
        },
        "verdicts": {
            "spam": verdicts.spam,
            "virus": verdicts.virus,
            "spf": verdicts.spf,
            "dkim": verdicts.dkim,
            "dmarc": verdicts.dmarc,
            "dmarcPolicy": verdicts.dmarc_policy,
        },
        "rejection": {"verdicts": list(rejected_by)} if rejected_by else None,
        "headersSource": "mime" if parsed else "event",
        "headersTruncated": notification.headers_truncated,
        "headers": _headers(headers),
        "text": parsed.text if parsed else None,
        "html": parsed.html if parsed else None,
        "attachments": _attachments(parsed, attachment_keys) if parsed else [],
        "raw": {"source": raw.source, "bucket": raw.bucket, "key": raw.key, "size": raw.size},
        "defects": list(parsed.defects) if parsed else [],
        "error": _error(error) if status in (STATUS_TOO_LARGE, STATUS_UNPARSEABLE) else None,
        "conversation": conversation_document(conversation) if parsed and conversation else None,
    }


def encode_document(document: dict[str, Any]) -> bytes:
    """``document`` as compact UTF-8 JSON (lone surrogates from hostile input become ``?``)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "replace"
    )


def _error(error: UnparseableMessageError | None) -> dict[str, str] | None:
    return {"code": error.code, "message": error.problem} if error else None


def _headers(headers: MessageHeaders) -> dict[str, Any]:
    return {
        "from": _addresses(headers.from_),
        "to": _addresses(headers.to),
        "cc": _addresses(headers.cc),
        "replyTo": _addresses(headers.reply_to),
        "subject": headers.subject,
        "date": headers.date,
        "dateIso": headers.date_iso,
        "messageId": headers.message_id,
        "inReplyTo": headers.in_reply_to,
        "references": list(headers.references),
    }


def _addresses(addresses: Sequence[Address]) -> list[dict[str, str]]:
    return [{"name": item.name, "address": item.address} for item in addresses]


def _attachments(parsed: ParsedMessage, keys: Sequence[str | None]) -> list[dict[str, Any]]:
    if keys and len(keys) != len(parsed.attachments):
        raise ValueError("attachment_keys must have one entry per attachment")
    return [
        {
            "index": attachment.index,
            "partId": attachment.part_id,
            "filename": attachment.filename,
            "contentType": attachment.content_type,
            "disposition": attachment.disposition,
            "contentId": attachment.content_id,
            "size": attachment.size,
            "sha256": attachment.sha256,
            "key": keys[attachment.index] if keys else None,
        }
        for attachment in parsed.attachments
    ]

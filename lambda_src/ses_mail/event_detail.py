"""The EventBridge event of a stored message: its ``detail`` and the PutEvents entry around it.

The detail's schema is ``email_event.schema.json`` beside this file. ``build_entry`` is the only
producer: it turns a ``message.json`` document into one ``PutEvents`` entry whose size, computed
the way EventBridge computes it, stays within the 1 MB entry limit. The size rule:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html (Time counts 14
bytes when given; Source, DetailType, Detail and each Resources entry count the bytes of their
UTF-8 form). The limit: AWS raised it from 256 KB to 1 MB for EventBridge event buses (AWS Compute
Blog, "More room to build: serverless services now support payloads up to 1 MB", 2026-01-29);
see ``MAX_ENTRY_BYTES`` for how many bytes that is taken to be.

What is cut to fit, in this order, each step only when the previous one was not enough:

1. the text body, then the html body: text keeps priority, it gets all the space the rest of the
   detail leaves, html gets what text leaves; both are cut at a character boundary (so the
   UTF-8 form is never split inside a character) and flagged ``truncated``;
2. the attachment list, from its end (each remaining entry is complete);
3. the headers, envelope lists and error text, clipped to bounded lengths (only pathological
   input, far beyond what SES accepts, reaches this step).

Whenever anything is cut, the detail's top-level ``truncated`` is true; the whole message is
always in ``message.json`` at ``location.messageKey``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from . import contract

#: 2.0: ``deliveryId`` is the idempotency key, ``location.messageKey`` the delivery's document.
DETAIL_SCHEMA_VERSION = "2.0"
DETAIL_SCHEMA_PATH = Path(__file__).with_name("email_event.schema.json")
DEFAULT_EVENT_SOURCE = contract.EVENT_SOURCE

DETAIL_TYPES: Mapping[str, str] = {
    status: detail_type for status, detail_type in contract.DETAIL_TYPE_OF_STATUS.items()
}
"""``detail-type`` of the event for each ``status``."""

EVENTBRIDGE_ENTRY_LIMIT_BYTES = 1_000_000
"""EventBridge's entry limit, 1 MB, read as 1,000,000 bytes: AWS's pages do not say whether
their MB is 10^6 or 2^20 bytes, and the smaller reading fits under both (docs/ses-facts.md,
"EventBridge")."""
MAX_ENTRY_BYTES = EVENTBRIDGE_ENTRY_LIMIT_BYTES - 1
"""The largest entry the builder produces: below 1 MB under either reading of MB, so an entry
is accepted whether the limit is inclusive or, as the 256 KB limit was ("must be less than
256KB", PutEvents API reference), exclusive."""
TIME_BYTES = 14
"""What a given ``Time`` adds to the entry size (eb-putevent-size.html)."""

MAX_SOURCE_LENGTH = contract.MAX_EVENT_SOURCE_LENGTH
"""PutEventsRequestEntry ``Source``: 1 to 256 characters, the ``aws.`` prefix is reserved
(https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html)."""

# Last-resort clipping (step 3): lengths tried in turn until the detail fits.
_CLIP_STEPS: tuple[tuple[int, int], ...] = ((998, 100), (200, 20), (64, 5), (0, 0))


def load_detail_schema() -> dict[str, Any]:
    """The JSON Schema of the event ``detail``."""
    schema: dict[str, Any] = json.loads(DETAIL_SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def detail_type(status: str) -> str:
    """The ``detail-type`` of an outcome; ``KeyError`` for an unknown status."""
    return DETAIL_TYPES[status]


def build_detail(
    document: Mapping[str, Any], *, bucket: str | None, message_key: str | None
) -> dict[str, Any]:
    """The full (untruncated) detail of a ``message.json`` document stored at ``message_key``.

    Envelope source and recipients are lowercased (SES matches recipients case-insensitively, so
    EventBridge patterns on them can be written in lowercase); ``destination`` is kept as sent.
    """
    envelope = document["envelope"]
    verdicts = document["verdicts"]
    raw = document["raw"]
    error = document["error"]
    return {
        "schemaVersion": DETAIL_SCHEMA_VERSION,
        "messageId": document["messageId"],
        "deliveryId": document["deliveryId"],
        "receivedAt": document["receivedAt"],
        "status": document["status"],
        "envelope": {
            "source": envelope["source"].lower(),
            "recipients": [address.lower() for address in envelope["recipients"]],
            "destination": list(envelope["destination"]),
        },
        "verdicts": {
            "spam": verdicts["spam"],
            "virus": verdicts["virus"],
            "spf": verdicts["spf"],
            "dkim": verdicts["dkim"],
            "dmarc": verdicts["dmarc"],
            "dmarcPolicy": verdicts["dmarcPolicy"],
            "rejection": _rejection(document["rejection"]),
        },
        "headers": dict(document["headers"]),
        "text": _body(document["text"]),
        "html": _body(document["html"]),
        "attachments": [
            {
                "index": item["index"],
                "filename": item["filename"],
                "contentType": item["contentType"],
                "size": item["size"],
                "sha256": item["sha256"],
                "key": item["key"],
            }
            for item in document["attachments"]
        ],
        "location": {"bucket": bucket, "messageKey": message_key, "rawKey": raw["key"]},
        "truncated": False,
        "error": f"{error['code']}: {error['message']}" if error else None,
        "conversation": _conversation(document.get("conversation")),
    }


def build_entry(
    document: Mapping[str, Any],
    *,
    event_bus: str,
    source: str = DEFAULT_EVENT_SOURCE,
    bucket: str | None,
    message_key: str | None,
    limit: int = MAX_ENTRY_BYTES,
) -> dict[str, Any]:
    """The PutEvents entry of one stored message, at most ``limit`` bytes as EventBridge counts.

    ``Time`` is the document's ``receivedAt`` when it parses as ISO 8601 (else it is left out and
    EventBridge uses the time of the call). Raises ``ValueError`` only if even the clipped
    detail cannot fit, which needs a ``source``, bucket or keys far beyond their AWS limits.
    """
    kind = detail_type(document["status"])
    time = _time(document.get("receivedAt"))
    fixed = _utf8_size(source) + _utf8_size(kind) + (TIME_BYTES if time is not None else 0)
    detail = fit_detail(
        build_detail(document, bucket=bucket, message_key=message_key), limit - fixed
    )
    entry: dict[str, Any] = {
        "Source": source,
        "DetailType": kind,
        "Detail": encode_detail(detail),
        "EventBusName": event_bus,
        "Resources": [],
    }
    if time is not None:
        entry["Time"] = time
    return entry


def entry_size(entry: Mapping[str, Any]) -> int:
    """The size EventBridge counts for a PutEvents entry (eb-putevent-size.html)."""
    size = TIME_BYTES if entry.get("Time") is not None else 0
    size += _utf8_size(entry["Source"]) + _utf8_size(entry["DetailType"])
    if entry.get("Detail") is not None:
        size += _utf8_size(entry["Detail"])
    for resource in entry.get("Resources") or ():
        size += _utf8_size(resource)
    return size


def encode_detail(detail: Mapping[str, Any]) -> str:
    """``detail`` as the compact JSON string sent as ``Detail`` (lone surrogates become ``?``)."""
    text = json.dumps(detail, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "replace").decode("utf-8")


def fit_detail(detail: dict[str, Any], budget: int) -> dict[str, Any]:
    """``detail`` cut (see the module docstring) so that its encoded form is at most ``budget``
    bytes; returned unchanged when it already fits."""
    if _body_chars(detail) <= budget and _detail_size(detail) <= budget:
        return detail
    fitted = dict(detail, truncated=True)
    # ``true`` is one byte shorter than ``false``: without this reserve, flipping the flag alone
    # could make the detail fit with nothing cut, and the flag would lie.
    budget -= 1
    full_text, full_html = detail["text"], detail["html"]
    fitted["text"] = _cut_body(full_text, "")
    fitted["html"] = _cut_body(full_html, "")
    if _detail_size(fitted) <= budget:
        fitted["text"] = _fit_body(fitted, "text", full_text, budget)
        fitted["html"] = _fit_body(fitted, "html", full_html, budget)
        return fitted
    attachments: list[dict[str, Any]] = detail["attachments"]
    fitted["attachments"] = []
    if _detail_size(fitted) <= budget:
        count = _largest(len(attachments), lambda n: _size_with(fitted, attachments[:n]) <= budget)
        fitted["attachments"] = attachments[:count]
        return fitted
    for max_chars, max_items in _CLIP_STEPS:
        fitted["headers"] = _clip(detail["headers"], max_chars, max_items)
        fitted["envelope"] = _clip(detail["envelope"], max_chars, max_items)
        fitted["error"] = _clip(detail["error"], max_chars, max_items)
        if _detail_size(fitted) <= budget:
            return fitted
    raise ValueError(
        f"the event detail of {detail['messageId']!r} cannot fit in {budget} bytes even with "
        "every optional field cut (is the event source, bucket or key far too long?)"
    )


def _fit_body(
    fitted: dict[str, Any], name: str, full: dict[str, Any] | None, budget: int
) -> dict[str, Any] | None:
    """The longest prefix of body ``name`` that keeps ``fitted`` within ``budget``."""
    if full is None:
        return None
    whole = dict(fitted, **{name: full})
    if _body_chars(whole) <= budget and _detail_size(whole) <= budget:
        return full
    content: str = full["content"]
    # The body is cut from here on (the whole did not fit), so its flag is true for every
    # candidate prefix and the size is the rest of the detail (with that body empty) plus the
    # encoded prefix: only the prefix is encoded while searching.
    room = budget - _detail_size(dict(fitted, **{name: _cut_body(full, "")}))
    # Every character takes at least one byte, so no prefix longer than ``room`` fits.
    candidate = content[: max(min(room, len(content) - 1), 0)]
    length = _largest(len(candidate), lambda n: _string_size(candidate[:n]) <= room)
    return _cut_body(full, candidate[:length])


def _string_size(text: str) -> int:
    """Bytes that ``text`` adds inside a JSON document: its escaped form, without the quotes."""
    return _utf8_size(json.dumps(text, ensure_ascii=False)) - 2


def _size_with(fitted: dict[str, Any], attachments: list[dict[str, Any]]) -> int:
    return _detail_size(dict(fitted, attachments=attachments))


def _cut_body(full: dict[str, Any] | None, content: str) -> dict[str, Any] | None:
    if full is None:
        return None
    return {"content": content, "truncated": content != full["content"], "size": full["size"]}


def _largest(upper: int, fits: Callable[[int], bool]) -> int:
    """The largest ``n`` in ``0..upper`` with ``fits(n)``, for a monotone ``fits`` true at 0."""
    low, high = 0, upper
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _clip(value: Any, max_chars: int, max_items: int) -> Any:
    if isinstance(value, str):
        return value[:max_chars]
    if isinstance(value, list):
        return [_clip(item, max_chars, max_items) for item in value[:max_items]]
    if isinstance(value, dict):
        return {key: _clip(item, max_chars, max_items) for key, item in value.items()}
    return value


MAX_EVENT_ADDRESS_CHARS = 320
"""A reported recipient's address is clipped to this length in the event (RFC 5321 section
4.5.3.1: a local part of 64 and a domain of 255 octets at most)."""


def _conversation(conversation: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The event's shortened ``conversation``: its size is bounded (the reply text comes from a
    bounded start of the body, at most 100 recipients with clipped addresses), so the cuts of
    :func:`fit_detail` never need to touch it."""
    if not conversation:
        return None
    reply = conversation["reply"]
    status = conversation["deliveryStatus"]
    return {
        "kind": conversation["kind"],
        "threadId": conversation["threadId"],
        "replyText": reply["text"] if reply else None,
        "replySignature": reply["signature"] if reply else None,
        "deliveryStatus": (
            {
                "permanent": status["permanent"],
                "recipients": [
                    {
                        "address": item["address"][:MAX_EVENT_ADDRESS_CHARS].lower(),
                        "action": item["action"],
                        "status": item["status"],
                        "permanent": item["permanent"],
                    }
                    for item in status["recipients"]
                ],
            }
            if status
            else None
        ),
        "feedbackType": conversation["feedbackType"],
        "listId": conversation["listId"],
        "replyAddress": _reply_address(conversation.get("replyAddress")),
    }


def _reply_address(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not value:
        return None
    return {
        "address": value["address"][:MAX_EVENT_ADDRESS_CHARS].lower(),
        "payload": value["payload"],
        "valid": value["valid"],
    }


def _body(content: str | None) -> dict[str, Any] | None:
    if content is None:
        return None
    return {"content": content, "truncated": False, "size": _utf8_size(content)}


def _rejection(rejection: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]] | None:
    return {"verdicts": list(rejection["verdicts"])} if rejection else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _body_chars(detail: Mapping[str, Any]) -> int:
    """Characters of the bodies: a lower bound of their encoded size (one byte at least each),
    which spares encoding a 40 MB body only to learn that it does not fit."""
    return sum(len(body["content"]) for body in (detail["text"], detail["html"]) if body)


def _detail_size(detail: Mapping[str, Any]) -> int:
    return _utf8_size(json.dumps(detail, ensure_ascii=False, separators=(",", ":")))


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "replace"))

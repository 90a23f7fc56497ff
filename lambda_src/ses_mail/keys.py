"""S3 keys of the raw message and of the parsed output, and safe file names for attachments.

Keys depend only on the prefixes, the (validated) SES message id, the recipients the receipt rule
matched (the document of each rule's delivery has its own key) and each attachment's index and
name (attachments are the same for every delivery of a message), so processing the same message
twice rewrites the same keys (duplicates happen on retries:
docs/ses-facts.md, "Lambda action").
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence

from .event import validate_message_id

MESSAGE_DOCUMENT = "message.json"
ATTACHMENTS_FOLDER = "attachments"
MAX_NAME_BYTES = 120
_KEPT_PUNCTUATION = frozenset(" ._-()+,=@~")
_EXTENSIONS = {
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "text/csv": ".csv",
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/json": ".json",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
}


def raw_message_key(raw_prefix: str, message_id: str) -> str:
    """Where the SES S3 action stored the raw MIME: ``<raw prefix><messageId>``."""
    return f"{raw_prefix}{validate_message_id(message_id)}"


def output_prefix(parsed_prefix: str, message_id: str) -> str:
    """The folder of one message's output: ``<parsed prefix><messageId>/``."""
    return f"{parsed_prefix}{validate_message_id(message_id)}/"


def delivery_key(recipients: Sequence[str]) -> str:
    """The delivery's part of its id: 16 hex digits of SHA-256 over the recipients the receipt
    rule matched (``receipt.recipients``), lowercased (SES matches them case-insensitively),
    deduplicated, sorted and joined by newlines.

    Two receipt rules that match one message invoke the handler once each, with the same
    ``messageId`` and the recipients each rule matched: this keeps their records apart, while a
    retried invocation of one rule gets the same key again.
    """
    canonical = "\n".join(sorted({r.strip().lower() for r in recipients}))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def delivery_id(message_id: str, recipients: Sequence[str]) -> str:
    """``<messageId>/<delivery key>``: the idempotency key of one rule's delivery of a message."""
    return f"{validate_message_id(message_id)}/{delivery_key(recipients)}"


def message_document_key(parsed_prefix: str, message_id: str, recipients: Sequence[str]) -> str:
    """``<parsed prefix><messageId>/<delivery key>/message.json``: one document per delivery."""
    return f"{parsed_prefix}{delivery_id(message_id, recipients)}/{MESSAGE_DOCUMENT}"


def attachment_key(parsed_prefix: str, message_id: str, index: int, safe_name: str) -> str:
    """``<parsed prefix><messageId>/attachments/<index>-<safe name>``.

    The index keeps keys unique when two attachments share a name and can never collide with
    ``message.json``; ``safe_name`` must come from :func:`safe_filename`.
    """
    if index < 0:
        raise ValueError("attachment index must not be negative")
    if safe_filename(safe_name, fallback="") != safe_name or not safe_name:
        raise ValueError(f"{safe_name!r} is not a safe file name; use safe_filename()")
    return f"{output_prefix(parsed_prefix, message_id)}{ATTACHMENTS_FOLDER}/{index}-{safe_name}"


def default_filename(content_type: str) -> str:
    """A file name for a part that has none: ``part`` plus an extension for well-known types."""
    return "part" + _EXTENSIONS.get(content_type.lower(), ".bin")


def safe_filename(name: str | None, *, fallback: str = "part.bin") -> str:
    """A file name that is safe as the last segment of an S3 key and on any file system.

    Keeps only the last path component (``../../etc/passwd`` gives ``passwd``, ``C:\\x\\a.exe``
    gives ``a.exe``), normalises to NFC, replaces control, format (e.g. right-to-left override),
    separator and shell-special characters with ``_``, collapses repeats, strips leading and
    trailing dots, spaces and underscores (no hidden files, no ``..``), and truncates to
    120 UTF-8 bytes keeping the extension. Letters and digits of every script are kept. An empty
    result gives ``fallback``.
    """
    if not name:
        return fallback
    text = unicodedata.normalize("NFC", name.replace("\\", "/"))
    parts = [segment for segment in text.split("/") if segment.strip(" .")]
    text = parts[-1] if parts else ""
    cleaned: list[str] = []
    for char in text:
        # No whitespace is alphanumeric and the space is the only kept one: tabs, line breaks
        # and no-break spaces are replaced.
        keep = char.isalnum() or char in _KEPT_PUNCTUATION
        replacement = char if keep else "_"
        if cleaned and replacement in "_ ." and cleaned[-1] == replacement:
            continue
        cleaned.append(replacement)
    text = "".join(cleaned).strip(" ._")
    if not text:
        return fallback
    return _truncate(text, MAX_NAME_BYTES)


def _truncate(name: str, limit: int) -> str:
    """``name`` (cleaned: it starts with neither a dot nor a space) within ``limit`` bytes.

    The stem keeps at least ``limit - 17`` bytes, so it always keeps its first character.
    """
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension.encode("utf-8")) > 16:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    budget = limit - len(suffix.encode("utf-8"))
    encoded = stem.encode("utf-8")[:budget]
    return encoded.decode("utf-8", "ignore").rstrip(" ._") + suffix

"""What SES does to a received message before its actions see it: the headers it adds, and the
``mail`` object of the Lambda/SNS event (headers, commonHeaders, destination), as SES fills them.
"""

from __future__ import annotations

import re
import secrets
import string
from datetime import UTC, datetime
from email import policy
from email.parser import BytesHeaderParser
from email.utils import format_datetime, getaddresses
from typing import Any

#: SES truncates the ``headers`` list of an event beyond 10 KB (``headersTruncated``).
HEADERS_LIMIT_BYTES = 10 * 1024
_ID_ALPHABET = string.ascii_lowercase + string.digits
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def new_message_id() -> str:
    """An SES-style message id: 40 characters, lower-case letters and digits, safe as a key."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(40))


def iso_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def header_block_end(raw: bytes) -> int:
    """Offset of the blank line that ends the header block (or len(raw) if none)."""
    match = re.search(rb"\r?\n\r?\n", raw)
    return match.start() if match else len(raw)


def received_headers(
    *,
    mail_from: str,
    recipients: list[str],
    message_id: str,
    helo: str,
    peer_ip: str,
    region: str,
    moment: datetime,
) -> bytes:
    """The ``Return-Path`` and ``Received`` headers SES prepends to every message it stores."""
    first = recipients[0] if recipients else ""
    received = (
        f"from {helo} ({helo} [{peer_ip}])\r\n by inbound-smtp.{region}.amazonaws.com with "
        f"SMTP id {message_id}\r\n for {first};\r\n {format_datetime(moment)}"
    )
    return f"Return-Path: <{mail_from}>\r\nReceived: {received}\r\n".encode(
        "utf-8", "surrogateescape"
    )


def prepend_headers(raw: bytes, headers: list[tuple[str, str]]) -> bytes:
    block = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return block.encode("utf-8", "surrogateescape") + raw


def _unfold(value: str) -> str:
    return _FOLD.sub("", value).strip()


def raw_headers(raw: bytes) -> list[tuple[str, str]]:
    """Header names and unfolded raw values, in order (RFC 2047 words left encoded)."""
    message = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[: header_block_end(raw) + 4])
    return [(name, _unfold(str(value))) for name, value in message.raw_items()]


def _decoded(raw: bytes) -> Any:
    return BytesHeaderParser(policy=policy.default).parsebytes(raw[: header_block_end(raw) + 4])


def _addresses(values: list[str]) -> list[str]:
    """Each address as written ("Jane Doe <jane@example.com>"), one list item per address."""
    result = []
    for name, address in getaddresses(values):
        if not address:
            continue
        result.append(f"{name} <{address}>" if name else address)
    return result


def _safe_get(message: Any, name: str) -> list[str]:
    try:
        values = message.get_all(name) or []
        return [str(v) for v in values]
    except Exception:  # a malformed header: fall back to nothing rather than fail the mail
        return []


def common_headers(raw: bytes, mail_from: str) -> dict[str, Any]:
    message = _decoded(raw)
    headers: dict[str, Any] = {}
    for field, key in (
        ("From", "from"),
        ("To", "to"),
        ("Cc", "cc"),
        ("Bcc", "bcc"),
        ("Reply-To", "replyTo"),
        ("Sender", "sender"),
    ):
        values = _addresses(_safe_get(message, field))
        if values:
            headers[key] = values[0] if key == "sender" else values
    return_path = _safe_get(message, "Return-Path")
    headers["returnPath"] = (
        _addresses(return_path)[0] if return_path and _addresses(return_path) else mail_from
    )
    raw_values = {name.lower(): value for name, value in reversed(raw_headers(raw))}
    for field, key in (("message-id", "messageId"), ("date", "date")):
        if field in raw_values:
            headers[key] = raw_values[field]  # as written, not normalized
    subject = _safe_get(message, "Subject")
    if subject:
        headers["subject"] = subject[0]  # decoded (RFC 2047)
    return headers


def destination(raw: bytes) -> list[str]:
    """``mail.destination``: the To and Cc addresses of the MIME headers (bare addresses)."""
    message = _decoded(raw)
    values = _safe_get(message, "To") + _safe_get(message, "Cc")
    return [address for _, address in getaddresses(values) if address]


def mail_object(raw: bytes, *, message_id: str, mail_from: str, moment: datetime) -> dict[str, Any]:
    headers: list[dict[str, str]] = []
    size = 0
    truncated = False
    for name, value in raw_headers(raw):
        size += len(name) + len(value) + 4
        if size > HEADERS_LIMIT_BYTES:
            truncated = True
            break
        headers.append({"name": name, "value": value})
    return {
        "timestamp": iso_timestamp(moment),
        "source": mail_from,
        "messageId": message_id,
        "destination": destination(raw),
        "headersTruncated": truncated,
        "headers": headers,
        "commonHeaders": common_headers(raw, mail_from),
    }

"""What SES does to a received message before its actions see it: the header fields it prepends
to the stored copy, and the ``mail`` object of the Lambda/SNS event (headers, commonHeaders,
destination), as SES fills them.

Sources (SES Developer Guide):

- the Lambda event and SNS notification samples,
  https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action-lambda-event.html and
  https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-examples.html:
  the prepended fields and their order, ``mail.headers`` values unfolded (a line break and the
  whitespace character after it read as one space: the stored ``multipart/alternative;
  \\r\\n\\tboundary=`` is listed as ``multipart/alternative;  boundary=``), display names quoted in
  ``commonHeaders`` (``"\\"Doe, John\\" <sender@example.com>"``);
- the notification contents,
  https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html: the
  fields of ``mail`` and ``commonHeaders``, and the 10 KB limit of ``headers``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import string
from collections.abc import Iterable
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.utils import format_datetime, getaddresses
from typing import Any

from .verdicts import LocalVerdicts

#: SES truncates the ``headers`` list of an event beyond 10 KB (``headersTruncated``; guide,
#: "Contents of notifications for Amazon SES email receiving", mail object).
HEADERS_LIMIT_BYTES = 10 * 1024
_ID_ALPHABET = string.ascii_lowercase + string.digits
#: A fold: a line break and the whitespace character that continues the field (RFC 5322 2.2.3).
_FOLD = re.compile(r"\r?\n[ \t]")
#: RFC 5322 3.2.3 atext (plus UTF-8 beyond ASCII, RFC 6532 3.2): a display name made only of
#: these and single spaces between them is a phrase of atoms; anything else must be quoted.
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+")
_ADDRESS_FIELDS = (
    ("From", "from"),
    ("To", "to"),
    ("Cc", "cc"),
    ("Bcc", "bcc"),
    ("Reply-To", "replyTo"),
    ("Sender", "sender"),
)


def new_message_id() -> str:
    """An SES-style message id: 40 characters, lower-case letters and digits, safe as a key."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(40))


def iso_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def header_block_end(raw: bytes) -> int:
    """Offset of the blank line that ends the header block (or len(raw) if none)."""
    match = re.search(rb"\r?\n\r?\n", raw)
    return match.start() if match else len(raw)


# --- the stored copy -------------------------------------------------------------------------


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
    """The ``Return-Path`` and ``Received`` fields SES prepends to every message it stores,
    folded as in the guide's SNS notification sample (its ``content``)."""
    return _block(
        _received_fields(mail_from, recipients, message_id, helo, peer_ip, region, moment)
    )


def ses_headers(
    *,
    mail_from: str,
    recipients: list[str],
    message_id: str,
    helo: str,
    peer_ip: str,
    region: str,
    moment: datetime,
    verdicts: LocalVerdicts,
    message: bytes,
) -> bytes:
    """Every field SES prepends to the stored copy, in the order of the guide's samples:
    ``Return-Path``, ``Received``, ``X-SES-Spam-Verdict`` and ``X-SES-Virus-Verdict`` (only when
    a matching rule scans), ``Received-SPF``, ``Authentication-Results``, ``X-SES-RECEIPT``,
    ``X-SES-DKIM-SIGNATURE``; then the sender's message follows unchanged.

    The values carry the verdicts the local cloud assigned (:mod:`.verdicts`), in the syntax of
    RFC 7208 section 9.1 (Received-SPF) and RFC 8601 (Authentication-Results).
    ``X-SES-RECEIPT`` is opaque in SES; locally it encodes the message id. SES signs its
    ``X-SES-DKIM-SIGNATURE`` with amazonses.com's key, which the local cloud does not have: its
    ``bh=`` is the real body hash (RFC 6376 3.7, simple body canonicalization) and ``b=`` is
    empty (unsigned).
    """
    fields = _received_fields(mail_from, recipients, message_id, helo, peer_ip, region, moment)
    if verdicts.scanned:
        fields.append(("X-SES-Spam-Verdict", verdicts.spam))
        fields.append(("X-SES-Virus-Verdict", verdicts.virus))
    from_domain = _from_domain(message) or mail_from.rpartition("@")[2] or "unknown"
    envelope = f"client-ip={peer_ip}; envelope-from={mail_from}; helo={helo};"
    spf = verdicts.spf_result
    spf_comment = f"(spfCheck: {verdicts.spf_reason(mail_from.rpartition('@')[2], peer_ip)})"
    fields.append(("Received-SPF", f"{spf} {spf_comment} {envelope}"))
    fields.append(
        (
            "Authentication-Results",
            f"amazonses.com;\r\n spf={spf} {spf_comment} {envelope}\r\n"
            f" dkim={verdicts.dkim_result} header.i=@{from_domain};\r\n"
            f" dmarc={verdicts.dmarc_result} header.from={from_domain};",
        )
    )
    receipt = base64.b64encode(f"local-cloud:{region}:{message_id}".encode()).decode("ascii")
    fields.append(("X-SES-RECEIPT", receipt))
    body_hash = base64.b64encode(hashlib.sha256(_simple_body(message)).digest()).decode("ascii")
    fields.append(
        (
            "X-SES-DKIM-SIGNATURE",
            "a=rsa-sha256; q=dns/txt; b=; c=relaxed/simple;\r\n"
            f" s=local-cloud; d=amazonses.com; t={int(moment.timestamp())}; v=1;\r\n"
            f" bh={body_hash};\r\n"
            " h=From:To:Cc:Bcc:Subject:Date:Message-ID:MIME-Version:Content-Type:X-SES-RECEIPT;",
        )
    )
    return _block(fields)


def _received_fields(
    mail_from: str,
    recipients: list[str],
    message_id: str,
    helo: str,
    peer_ip: str,
    region: str,
    moment: datetime,
) -> list[tuple[str, str]]:
    first = recipients[0] if recipients else ""
    received = (
        f"from {helo} ({helo} [{peer_ip}])\r\n by inbound-smtp.{region}.amazonaws.com with "
        f"SMTP id {message_id}\r\n for {first};\r\n {format_datetime(moment.astimezone(UTC))} (UTC)"
    )
    return [("Return-Path", f"<{mail_from}>"), ("Received", received)]


def _block(fields: Iterable[tuple[str, str]]) -> bytes:
    return "".join(f"{name}: {value}\r\n" for name, value in fields).encode(
        "utf-8", "surrogateescape"
    )


def prepend_headers(raw: bytes, headers: list[tuple[str, str]]) -> bytes:
    return _block(headers) + raw


def _simple_body(message: bytes) -> bytes:
    """RFC 6376 3.4.3: the body with trailing empty lines removed, ending in one CRLF."""
    end = header_block_end(message)
    match = re.match(rb"\r?\n\r?\n", message[end:])
    body = message[end + match.end() :] if match else b""
    body = re.sub(rb"(?<!\r)\n", b"\r\n", body)
    body = body.rstrip(b"\r\n")
    return body + b"\r\n"


def _from_domain(message: bytes) -> str | None:
    for name, value in raw_headers(message):
        if name.lower() == "from":
            addresses = [address for _, address in getaddresses([value]) if "@" in address]
            return addresses[0].rpartition("@")[2].lower() if addresses else None
    return None


# --- the mail object -------------------------------------------------------------------------


def unfold(value: str) -> str:
    """A field value as SES lists it: each fold (line break + whitespace) read as one space."""
    return _FOLD.sub(" ", value).strip()


def raw_headers(raw: bytes) -> list[tuple[str, str]]:
    """Header names and unfolded values as written, in order (RFC 2047 words left encoded)."""
    message = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[: header_block_end(raw) + 4])
    return [(name, unfold(str(value))) for name, value in message.raw_items()]


def decoded_value(value: str) -> str:
    """``value`` with RFC 2047 encoded words decoded and 8-bit bytes read as UTF-8, as SES lists
    it in ``mail.headers`` (a raw ``=?UTF-8?Q?a=40b=2Ec?= <a@b.c>`` is listed as
    ``a@b.c <a@b.c>``); a value that does not decode is kept as written."""
    text = value
    if "=?" in value:
        try:
            text = str(make_header(decode_header(value)))
        except Exception:  # a malformed encoded word: keep the value as written
            text = value
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _decoded(raw: bytes) -> Any:
    return BytesHeaderParser(policy=policy.default).parsebytes(raw[: header_block_end(raw) + 4])


def quote_display_name(name: str) -> str:
    """``name`` as RFC 5322 3.4 allows it before ``<address>``: as is when it is a phrase of
    atoms, otherwise a quoted-string (``"Doe, John"``, ``"a@b.c"``, ``"J. R."``)."""
    words = name.split(" ")
    if all(word and _ATEXT.fullmatch(word) for word in words):
        return name
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _mailboxes(message: Any, field: str) -> list[tuple[str, str]]:
    """(display name, address) of every mailbox of every ``field`` header, groups flattened."""
    found: list[tuple[str, str]] = []
    try:
        headers = message.get_all(field) or []
    except Exception:  # a header the registry cannot even build: nothing from it
        return found
    for header in headers:
        try:
            found += [(item.display_name, item.addr_spec) for item in header.addresses]
        except Exception:  # a malformed header: read it leniently
            found += getaddresses([str(header)])
    return [(name, address) for name, address in found if address and address != "<>"]


def _formatted(mailboxes: list[tuple[str, str]]) -> list[str]:
    return [
        f"{quote_display_name(name)} <{address}>" if name else address
        for name, address in mailboxes
    ]


def common_headers(raw: bytes, mail_from: str) -> dict[str, Any]:
    """``mail.commonHeaders``: every address field's mailboxes (all fields of that name, e.g.
    two ``To:`` fields), display names quoted where RFC 5322 requires; ``messageId`` and
    ``date`` as written; ``subject`` decoded."""
    message = _decoded(raw)
    headers: dict[str, Any] = {}
    for field, key in _ADDRESS_FIELDS:
        values = _formatted(_mailboxes(message, field))
        if values:
            headers[key] = values
    return_path = _mailboxes(message, "Return-Path")
    headers["returnPath"] = return_path[0][1] if return_path else mail_from
    written = {name.lower(): value for name, value in reversed(raw_headers(raw))}
    for field, key in (("message-id", "messageId"), ("date", "date")):
        if field in written:
            headers[key] = written[field]
    if "subject" in written:
        headers["subject"] = decoded_value(written["subject"])
    return headers


def destination(raw: bytes) -> list[str]:
    """``mail.destination``: the To and Cc addresses of the MIME headers (bare addresses)."""
    message = _decoded(raw)
    return [address for _, address in _mailboxes(message, "To") + _mailboxes(message, "Cc")]


def mail_object(raw: bytes, *, message_id: str, mail_from: str, moment: datetime) -> dict[str, Any]:
    headers: list[dict[str, str]] = []
    size = 0
    truncated = False
    for name, value in raw_headers(raw):
        value = decoded_value(value)
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

"""The headers the output reports, read robustly from a parsed message or from the SES event.

Structured parsing uses the stdlib header registry of ``policy.default``. It is pure Python and
some inputs are super-linear (thousands of encoded words) or recursive (deeply nested comments),
so each value is capped at ``max_chars`` before parsing and every failure falls back to the raw
value with a defect noted; a hostile header never aborts the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email import policy as email_policy
from email import utils as email_utils
from email.message import Message

from .text import recover_escapes, recover_text, without_controls

DEFAULT_MAX_HEADER_CHARS = 32_768

_WANTED = (
    "from",
    "to",
    "cc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
)
_MSG_ID = re.compile(r"<[^<>\s]*>")
_FOLD = re.compile(r"\r?\n")
_ENCODED_WORD = r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?="
_ADJACENT_ENCODED_WORDS = re.compile(rf"({_ENCODED_WORD})[ \t]+(?={_ENCODED_WORD})")
_EMPTY_ADDRESSES = frozenset({"", "<>"})


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox: display name (decoded, may be empty) and address (``addr-spec``)."""

    name: str
    address: str


@dataclass(frozen=True, slots=True)
class MessageHeaders:
    """The message headers reported in the output, decoded to text."""

    from_: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    subject: str | None = None
    date: str | None = None
    """The ``Date`` header as written by the sender."""
    date_iso: str | None = None
    """``date`` as ISO 8601 (``None`` when unparseable; no offset given means UTC)."""
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    defects: tuple[str, ...] = field(default=(), compare=False)


def read_headers(message: Message, max_chars: int = DEFAULT_MAX_HEADER_CHARS) -> MessageHeaders:
    """Read the reported headers from the top level of ``message``; never raises.

    The first occurrence of each header counts (RFC 5322 allows one of each).
    """
    raw: dict[str, str] = {}
    for name, value in message.raw_items():
        key = name.strip().lower()
        if key in _WANTED and key not in raw and isinstance(value, str):
            raw[key] = value
    return _headers_from_raw(raw, max_chars)


def headers_from_event(
    common_headers: Mapping[str, str | tuple[str, ...]],
    max_chars: int = DEFAULT_MAX_HEADER_CHARS,
) -> MessageHeaders:
    """Build :class:`MessageHeaders` from the event's ``mail.commonHeaders``.

    Used when the MIME is not parsed (rejected or oversized mail). SES reports no
    ``In-Reply-To``/``References`` there, and may truncate (``mail.headersTruncated``).
    """
    names = {
        "from": "from",
        "to": "to",
        "cc": "cc",
        "replyTo": "reply-to",
        "subject": "subject",
        "date": "date",
        "messageId": "message-id",
    }
    raw: dict[str, str] = {}
    for event_name, header in names.items():
        value = common_headers.get(event_name)
        if value is None:
            continue
        raw[header] = value if isinstance(value, str) else ", ".join(value)
    return _headers_from_raw(raw, max_chars)


def _headers_from_raw(raw: Mapping[str, str], max_chars: int) -> MessageHeaders:
    defects: list[str] = []
    values: dict[str, str] = {}
    for name, value in raw.items():
        text = recover_text(_FOLD.sub("", value)).strip()
        if len(text) > max_chars:
            defects.append(
                f"{name} header has {len(text)} characters; only the first {max_chars} were read"
            )
            cut = text.rfind(",", 0, max_chars) if name in ("from", "to", "cc", "reply-to") else -1
            text = text[: cut if cut > 0 else max_chars]
        values[name] = text
    date = values.get("date")
    return MessageHeaders(
        from_=_addresses("from", values.get("from"), defects),
        to=_addresses("to", values.get("to"), defects),
        cc=_addresses("cc", values.get("cc"), defects),
        reply_to=_addresses("reply-to", values.get("reply-to"), defects),
        subject=_unstructured("subject", values.get("subject"), defects),
        date=without_controls(date) if date is not None else None,
        date_iso=_iso_date(date),
        message_id=_single_id(values.get("message-id")),
        in_reply_to=_single_id(values.get("in-reply-to")),
        references=_id_list(values.get("references")),
        defects=tuple(defects),
    )


def _addresses(name: str, value: str | None, defects: list[str]) -> tuple[Address, ...]:
    """The mailboxes of an address header; the same on every supported Python.

    Two inputs that the stdlib's parser reads differently across releases are settled first or
    after: whitespace between adjacent encoded words is dropped before parsing (RFC 2047 section
    6.2 says to ignore it; Python 3.11 kept it in display names), and entries without an address
    (the ``<>`` that Python 3.13.x/3.14 add for text after the last mailbox, e.g. ``a@example.com
    junk``) are dropped.
    """
    if value is None or not value.strip():
        return ()
    value = _ADJACENT_ENCODED_WORDS.sub(r"\1", value)
    value, quoted = _quote_unquoted_names(value)
    if quoted:
        defects.append(
            f"{name} header: a display name with special characters (such as @) was not quoted;"
            " the address in angle brackets was read as the mailbox"
        )
    try:
        header = email_policy.default.header_factory(name, value)
        _note_header_defects(name, header, defects)
        found: Iterable[tuple[str, str]] = [
            (item.display_name, item.addr_spec) for item in header.addresses
        ]
    except Exception as error:  # hostile input: fall back, record, go on
        defects.append(f"{name} header not parseable ({type(error).__name__}); read leniently")
        try:
            found = email_utils.getaddresses([value])
        except Exception:
            return (Address(name="", address=without_controls(value)),)
    return tuple(
        Address(name=without_controls(recover_escapes(display)), address=without_controls(spec))
        for display, spec in found
        if spec.strip() not in _EMPTY_ADDRESSES or (display and not spec)
    )


def _split_top_level(value: str) -> list[str]:
    """``value`` split at the commas outside quoted strings, comments and angle brackets."""
    items: list[str] = []
    start = depth = 0
    quoted = angle = escaped = False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\" and (quoted or depth):
            escaped = True
        elif quoted:
            quoted = char != '"'
        elif char == '"':
            quoted = True
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth:
            continue
        elif char == "<":
            angle = True
        elif char == ">":
            angle = False
        elif char == "," and not angle:
            items.append(value[start:index])
            start = index + 1
    items.append(value[start:])
    return items


def _quote_unquoted_names(value: str) -> tuple[str, bool]:
    """Quote display names that carry special characters unquoted, e.g. the phishing form
    ``billing@bank.example <attacker@evil.example>``; ``(value, whether one was quoted)``.

    RFC 5322 section 3.4: a mailbox is ``[display-name] angle-addr``, and the mailbox is the
    address in the angle brackets. A display name with ``@`` (or ``[``, ``]``) unquoted is not
    valid syntax, and the stdlib parser then reads the display text as the address; the meaning
    is clear, so the name is quoted before parsing. Group syntax (``name: ...;``), quoted
    strings and comments are left as they are.
    """
    if "<" not in value or not any(c in value for c in "@[]"):
        return value, False
    items = _split_top_level(value)
    changed = False
    for index, item in enumerate(items):
        stripped = item.strip()
        group = suffix = ""
        if stripped.endswith(";"):  # the last mailbox of a group
            stripped, suffix = stripped[:-1].rstrip(), ";"
        head, colon, rest = stripped.partition(":")
        if colon and not any(c in head for c in '"(<'):  # the first mailbox of a group
            group, stripped = head + colon, rest.strip()
        opening = stripped.rfind("<")
        if not stripped.endswith(">") or opening <= 0:
            continue
        name = stripped[:opening].strip()
        if not name or any(c in name for c in '"()<>:;\\') or not any(c in name for c in "@[]"):
            continue
        items[index] = f' {group}"{name}" {stripped[opening:]}{suffix}'
        changed = True
    return (",".join(items), True) if changed else (value, False)


def _unstructured(name: str, value: str | None, defects: list[str]) -> str | None:
    if value is None:
        return None
    try:
        header = email_policy.default.header_factory(name, value)
        _note_header_defects(name, header, defects)
        decoded = str(header)
    except Exception as error:  # hostile input: keep the raw value
        defects.append(f"{name} header not decodable ({type(error).__name__}); kept as sent")
        decoded = value
    return without_controls(decoded)


def _note_header_defects(name: str, header: object, defects: list[str]) -> None:
    kinds = sorted({type(defect).__name__ for defect in getattr(header, "defects", ())})
    if kinds:
        defects.append(f"{name} header: {', '.join(kinds[:5])}")


def _iso_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        parsed = email_utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.isoformat()


def _single_id(value: str | None) -> str | None:
    if value is None:
        return None
    found = _MSG_ID.search(value)
    text = found.group(0) if found else " ".join(value.split())
    return without_controls(text) or None


def _id_list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    found = _MSG_ID.findall(value) or value.split()
    return tuple(without_controls(item) for item in found)

"""Forwarding: where a received message goes, and its header section rewritten for re-sending.

Pure functions over bytes and the parsed event; the forwarder entry point (``forwarder.py``)
does the S3 and SES I/O. The body of a message is never touched: only the header section is
rewritten, so every MIME part (and every attachment) reaches the destination byte for byte.

The rules applied, with their sources (see docs/forwarding.md):

- ``From`` becomes an address of the receiving domain, because SES sends only from verified
  identities (https://docs.aws.amazon.com/ses/latest/dg/send-email-raw.html,
  https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html); its display name
  keeps the original sender's (``Jane Doe via support@example.com``); the original ``From`` is
  kept in ``X-Original-From``, and ``Reply-To`` is set to it unless the message had one.
- Fields that SES accepts at most once (https://docs.aws.amazon.com/ses/latest/dg/header-fields.html)
  keep their first occurrence only.
- ``Message-ID`` and ``Date`` are overwritten by SES (same page): the original ``Message-ID`` is
  kept in ``X-Original-Message-ID`` (threading still works through ``In-Reply-To`` and
  ``References``, which stay).
- ``DKIM-Signature`` and ``DomainKey-Signature`` are removed: they sign the original ``From``,
  which no longer exists, and SES signs the forwarded message with the domain's Easy DKIM key
  (https://docs.aws.amazon.com/ses/latest/dg/send-email-authentication-dkim-easy.html).
- ``Return-Path`` is removed: SES sets it from the envelope sender of the new message (the
  stored copy starts with the one SES added on receipt; RFC 5321 section 4.4 has the final
  delivery server add it). ``Sender`` is removed: it would name the original sender as the
  agent that sent this message (RFC 5322 section 3.6.2), an address SES may not send for.
- Every ``X-SES-*`` field is removed: SES prepends some on receipt (``X-SES-RECEIPT``,
  ``X-SES-DKIM-SIGNATURE``, verdicts) and reads others when sending
  (``X-SES-CONFIGURATION-SET``, ``X-SES-MESSAGE-TAGS``, ``X-SES-SOURCE-ARN``,
  ``X-SES-FROM-ARN``, ``X-SES-RETURN-PATH-ARN``:
  https://docs.aws.amazon.com/ses/latest/dg/using-configuration-sets-in-email.html,
  https://docs.aws.amazon.com/ses/latest/dg/sending-authorization-delegate-sender-tasks-email.html),
  which a stranger's message must not choose for us.
- ``Bcc`` is removed: the destination is given to SES explicitly.
- A hop counter (``X-Forward-Hops``) is added; a message that arrives with the limit reached is
  not forwarded again (loop guard, together with the destination check against the receiving
  domains).
- Lines longer than 1,000 characters (with CRLF) make SES reject raw content
  (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_RawMessage.html, RFC 5321
  section 4.5.3.1.6): such a message is not forwarded.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email import policy as email_policy
from email.headerregistry import Address as HeaderAddress
from email.parser import BytesParser
from typing import IO

from . import contract
from .errors import ConfigurationError
from .headers import MessageHeaders, read_headers
from .text import recover_escapes, without_controls
from .verdicts import VerdictPolicy

#: SES v2 (and SMTP) sends messages up to 40 MB after base64 encoding; SES v1 only 10 MB
#: (https://docs.aws.amazon.com/ses/latest/dg/quotas.html, "Message quotas"). Read as decimal
#: megabytes, the smaller reading, as a sender must; the local cloud's SendEmail uses the same
#: number. Received mail has its own limit, ``mime.DEFAULT_MAX_MESSAGE_BYTES`` (docs/ses-facts.md,
#: "Sending (the forwarder)").
MAX_SEND_BASE64_BYTES = contract.MAX_SEND_BASE64_BYTES
#: RFC 5321 section 4.5.3.1.6: at most 1,000 octets per line including CRLF; the RawMessage
#: reference repeats it for SES.
MAX_LINE_BYTES = 1000
DEFAULT_MAX_HOPS = contract.DEFAULT_MAX_HOPS
HOPS_HEADER = "X-Forward-Hops"
ORIGINAL_FROM_HEADER = "X-Original-From"
ORIGINAL_TO_HEADER = "X-Original-To"
ORIGINAL_MESSAGE_ID_HEADER = "X-Original-Message-ID"
DEFAULT_FORWARD_PREFIX = contract.FORWARD_PREFIX
#: Key in the destination map that applies to every recipient without an entry of its own.
ANY_RECIPIENT = "*"

#: https://docs.aws.amazon.com/ses/latest/dg/header-fields.html: fields that can't appear more
#: than once in the header section of a message (lower case).
SINGLE_FIELDS = frozenset(
    name.lower()
    for name in [
        "Accept-Language",
        "acceptLanguage",
        "Archived-At",
        "Auto-Submitted",
        "Bounces-to",
        "Comments",
        "Content-Alternative",
        "Content-Base",
        "Content-Class",
        "Content-Description",
        "Content-Disposition",
        "Content-Duration",
        "Content-ID",
        "Content-Language",
        "Content-Length",
        "Content-Location",
        "Content-MD5",
        "Content-Transfer-Encoding",
        "Content-Type",
        "Date",
        "Delivered-To",
        "Disposition-Notification-Options",
        "Disposition-Notification-To",
        "DKIM-Signature",
        "DomainKey-Signature",
        "Errors-To",
        "From",
        "Importance",
        "In-Reply-To",
        "Keywords",
        "List-Archive",
        "List-Help",
        "List-Id",
        "List-Owner",
        "List-Post",
        "List-Subscribe",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "Message-Context",
        "Message-ID",
        "MIME-Version",
        "Organization",
        "Original-From",
        "Original-Message-ID",
        "Original-Recipient",
        "Original-Subject",
        "Precedence",
        "Priority",
        "References",
        "Reply-To",
        "Return-Path",
        "Return-Receipt-To",
        "Sender",
        "Solicitation",
        "Sensitivity",
        "Subject",
        "Thread-Index",
        "Thread-Topic",
        "User-Agent",
        "VBR-Info",
    ]
)
#: Removed before re-sending (the module docstring says why for each).
REMOVED_FIELDS = frozenset(
    {
        "dkim-signature",
        "domainkey-signature",
        "return-path",
        "sender",
        "message-id",
        "bcc",
        HOPS_HEADER.lower(),
        ORIGINAL_FROM_HEADER.lower(),
        ORIGINAL_TO_HEADER.lower(),
        ORIGINAL_MESSAGE_ID_HEADER.lower(),
    }
)
REMOVED_PREFIXES = ("x-ses-",)


@dataclass(frozen=True, slots=True)
class HeaderField:
    """One field of the header section as stored: ``raw`` holds its lines with their endings."""

    name: str
    raw: bytes

    @property
    def key(self) -> str:
        return self.name.strip().lower()

    @property
    def value(self) -> str:
        """The unfolded value, decoded leniently (RFC 6532 allows UTF-8)."""
        text = self.raw.decode("utf-8", "surrogateescape")
        _, _, value = text.partition(":")
        return " ".join(value.split())


@dataclass(frozen=True, slots=True)
class HeaderSection:
    """The header section of a raw message and where its body starts."""

    fields: tuple[HeaderField, ...]
    body_offset: int
    """Byte offset of the body (after the blank line, or of the first line that is no field)."""
    separator_missing: bool = False
    """The header section ended at a line that is not a field, with no blank line before it."""

    def first(self, name: str) -> HeaderField | None:
        key = name.lower()
        return next((f for f in self.fields if f.key == key), None)

    def count(self, name: str) -> int:
        key = name.lower()
        return sum(1 for f in self.fields if f.key == key)


def read_header_section(stream: IO[bytes], max_bytes: int = 1 << 20) -> HeaderSection:
    """Read the header section from the start of ``stream`` (at most ``max_bytes`` of it).

    A field starts at a line ``name: value`` and continues over lines that start with a space
    or a tab. The section ends at the first empty line or, as the stdlib parser reads it, at the
    first line that is neither (that line then starts the body).
    """
    stream.seek(0)
    fields: list[tuple[str, bytearray]] = []
    offset = 0
    missing = False
    while True:
        line = stream.readline(MAX_LINE_BYTES * 64)
        if not line:
            break
        if line in (b"\r\n", b"\n"):
            offset += len(line)
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1].extend(line)
            offset += len(line)
        else:
            name, colon, _ = line.partition(b":")
            if not colon or not name or any(c <= 32 or c >= 127 for c in name):
                missing = True
                break
            fields.append((name.decode("ascii"), bytearray(line)))
            offset += len(line)
        if offset > max_bytes:
            raise ValueError(f"header section longer than {max_bytes} bytes")
    return HeaderSection(
        fields=tuple(HeaderField(name=n, raw=bytes(r)) for n, r in fields),
        body_offset=offset,
        separator_missing=missing,
    )


def hop_count(section: HeaderSection) -> int:
    """The value of this forwarder's hop header (0 when absent or unreadable)."""
    found = section.first(HOPS_HEADER)
    if found is None:
        return 0
    try:
        return max(0, int(found.value.split()[0]))
    except (ValueError, IndexError):
        return 0


def longest_line(stream: IO[bytes], start: int = 0) -> int:
    """The length in bytes (with its line ending) of the longest line from ``start`` on."""
    stream.seek(start)
    longest = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 2)
        if not line:
            return longest
        if not line.endswith(b"\n"):
            # Either the last line or a chunk of an over-long line: count the rest of it too.
            length = len(line)
            while line and not line.endswith(b"\n"):
                line = stream.readline(1 << 16)
                length += len(line)
            longest = max(longest, length)
            continue
        longest = max(longest, len(line))


def base64_size(size: int) -> int:
    """Bytes of ``size`` bytes once base64-encoded (what SES's size quota counts)."""
    return 4 * ((size + 2) // 3)


def original_headers(section: HeaderSection) -> MessageHeaders:
    """The original From, Reply-To, Message-ID... parsed by the core's robust header reader."""
    raw = b"".join(f.raw for f in section.fields if f.key in _READ_FIELDS)
    message = BytesParser(policy=email_policy.default).parsebytes(raw + b"\r\n", headersonly=True)
    return read_headers(message)


_READ_FIELDS = frozenset({"from", "reply-to", "message-id", "subject"})


@dataclass(frozen=True, slots=True)
class Rewrite:
    """The rewritten header section of one forwarded copy and what changed."""

    header: bytes
    from_address: str
    reply_to: str | None
    removed: tuple[str, ...]
    """Names of the fields removed (lower case, one entry per removed field)."""
    hops: int


def rewrite_headers(
    section: HeaderSection,
    *,
    from_address: str,
    recipient: str,
    envelope_sender: str | None,
) -> Rewrite:
    """The header section to send in place of the original one (body unchanged).

    ``from_address`` is the verified address the copy is sent from, ``recipient`` the address
    the message was received for, ``envelope_sender`` the SMTP ``MAIL FROM`` (used when the
    message has no readable ``From``).
    """
    original = original_headers(section)
    first = original.from_[0] if original.from_ else None
    display = first.name if first is not None else ""
    address = ""
    if first is not None and _usable(first.address):
        address = _ascii_address(first.address)
    elif first is not None and not display:
        display = first.address  # an unusable address still tells the reader who wrote
    if not address and envelope_sender and _usable(envelope_sender):
        address = _ascii_address(envelope_sender)
    display = _clean_text(display)
    shown = display or address
    name = f"{shown} via {recipient}" if shown else f"via {recipient}"
    from_field, _ = _mailbox_field("From", name, _ascii_address(from_address))

    kept: list[bytes] = []
    removed: list[str] = []
    seen: set[str] = set()
    for item in section.fields:
        key = item.key
        if key == "from" or key in REMOVED_FIELDS or key.startswith(REMOVED_PREFIXES):
            removed.append(key)
            continue
        if key in SINGLE_FIELDS and key in seen:
            removed.append(key)
            continue
        seen.add(key)
        kept.append(_crlf(item.raw))

    reply_to: str | None = None
    added: list[str] = [from_field]
    if section.first("reply-to") is None and address:
        reply_field, reply_to = _mailbox_field("Reply-To", display, address)
        added.append(reply_field)
    elif original.reply_to:
        reply_to = ", ".join(a.address for a in original.reply_to)  # kept as sent
    original_from = section.first("from")
    if original_from is not None:
        added.append(_field(ORIGINAL_FROM_HEADER, _text_tokens(_clean_text(original_from.value))))
    added.append(_field(ORIGINAL_TO_HEADER, _text_tokens(_clean_text(_ascii_address(recipient)))))
    if original.message_id:
        added.append(
            _field(ORIGINAL_MESSAGE_ID_HEADER, _text_tokens(_clean_text(original.message_id)))
        )
    hops = hop_count(section) + 1
    added.append(f"{HOPS_HEADER}: {hops}")
    header = b"".join(line.encode("ascii", "replace") + b"\r\n" for line in added)
    header += b"".join(kept) + b"\r\n"
    return Rewrite(
        header=header,
        from_address=from_address,
        reply_to=reply_to,
        removed=tuple(removed),
        hops=hops,
    )


def _crlf(raw: bytes) -> bytes:
    """A field's lines with CRLF endings (SMTP's, and what SES's raw content expects)."""
    lines = raw.splitlines()
    return b"".join(line + b"\r\n" for line in lines)


# --- writing the added fields ------------------------------------------------------------------
#
# Every added field is built as a list of tokens (atoms, the pieces of one quoted string, encoded
# words, an angle address) and folded once, with CRLF, at the spaces between tokens. No token
# holds a line break, so folding can never produce an empty line (which would end the header
# section), and every token is short enough for its line to stay within the limits below.

#: RFC 5322 section 2.1.1: a line should be at most 78 characters (and must be at most 998),
#: without the CRLF.
FOLD_WIDTH = 78
#: RFC 2047 section 2: an encoded word is at most 75 characters.
MAX_ENCODED_WORD_CHARS = 75
#: RFC 5321 section 4.5.3.1.3: a path (an address with its angle brackets) is at most 256
#: octets, so an address at most 254.
MAX_ADDRESS_CHARS = 254
#: Longest word written as it is (longer words become encoded words, which split anywhere);
#: with a field name, quotes and a folding space around it, well within 998 characters.
MAX_PLAIN_WORD_CHARS = 900
#: UTF-8 bytes per ``=?utf-8?b?...?=`` word: 45 bytes are 60 base64 characters, 72 in all.
_ENCODED_WORD_BYTES = 45
_ENCODED_WORD_SHAPE = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
#: RFC 5322 section 3.2.3: the characters of an atom.
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")


def _clean_text(value: str) -> str:
    """``value`` as one line of proper text: whitespace collapsed, controls removed.

    Bytes the parser could not decode arrive as surrogate escapes (an encoded word with invalid
    UTF-8, a multibyte character split across two encoded words, the ``unknown-8bit`` charset,
    raw 8-bit bytes); :func:`~.text.recover_escapes` reads them as the handler does.
    """
    return " ".join(without_controls(recover_escapes(value)).split())


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 "B" encoded words of UTF-8, split between characters.

    Spaces are encoded inside the words: the white space between two encoded words is not
    part of the text (RFC 2047 section 6.2). A word ends after the last space that fits in
    it, if any, so that a reader that wrongly keeps that white space (Python 3.11's parser
    does) shows a doubled space rather than a word cut in two.
    """
    words: list[str] = []
    chunk: list[bytes] = []
    size = 0
    for char in text:
        data = char.encode("utf-8")
        while size + len(data) > _ENCODED_WORD_BYTES and chunk:
            cut = max((i + 1 for i, piece in enumerate(chunk) if piece == b" "), default=0)
            cut = cut or len(chunk)
            words.append(_b_word(b"".join(chunk[:cut])))
            chunk = chunk[cut:]
            size = sum(len(piece) for piece in chunk)
        chunk.append(data)
        size += len(data)
    if chunk:
        words.append(_b_word(b"".join(chunk)))
    return words


def _b_word(data: bytes) -> str:
    return "=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="


def _phrase_tokens(name: str) -> list[str]:
    """A display name (clean text) as the words of an RFC 5322 phrase.

    The name's words are taken in runs. A run of ASCII words stays readable: atoms when every
    word is one, else one quoted string (which may be folded at its spaces: RFC 5322 section
    3.2.4 allows folding white space inside it). A run of words with other characters, very
    long words or text that would read as an encoded word becomes encoded words (RFC 2047
    section 5 (3) allows them in a phrase); the space between two runs is the white space
    between two words of the phrase, which readers keep.
    """
    tokens: list[str] = []
    words = name.split(" ") if name else []
    start = 0
    while start < len(words):
        plain = _plain(words[start])
        end = start + 1
        while end < len(words) and _plain(words[end]) == plain:
            end += 1
        run = words[start:end]
        if not plain:
            tokens.extend(_encoded_words(" ".join(run)))
        elif all(_ATOM.fullmatch(word) for word in run):
            tokens.extend(run)
        else:
            quoted = [word.replace("\\", "\\\\").replace('"', '\\"') for word in run]
            quoted[0] = '"' + quoted[0]
            quoted[-1] += '"'
            tokens.extend(quoted)
        start = end
    return tokens


def _plain(word: str) -> bool:
    """``word`` can be written as it is in a phrase (an atom or inside a quoted string)."""
    return (
        word.isascii()
        and word.isprintable()
        and "=?" not in word
        and len(word) <= MAX_PLAIN_WORD_CHARS
    )


def _text_tokens(value: str) -> list[str]:
    """Unstructured text (clean) as tokens: ASCII words as they are, runs of other words (and
    of over-long words) as encoded words (RFC 2047 section 5 (1))."""
    tokens: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            # The white space after a preceding encoded word would be dropped by readers.
            lead = " " if tokens and _ENCODED_WORD_SHAPE.fullmatch(tokens[-1]) else ""
            tokens.extend(_encoded_words(lead + " ".join(run)))
            run.clear()

    for word in value.split():
        if _too_long_encoded_word(word):
            run.append(_decoded(word))  # written again in words of at most 75 characters
        elif word.isascii() and len(word) <= MAX_PLAIN_WORD_CHARS:
            flush()
            tokens.append(word)
        else:
            run.append(word)
    flush()
    return tokens


def _too_long_encoded_word(word: str) -> bool:
    return any(
        len(found.group()) > MAX_ENCODED_WORD_CHARS for found in _ENCODED_WORD_SHAPE.finditer(word)
    )


def _decoded(word: str) -> str:
    """``word`` with its encoded words decoded (as the stdlib reads unstructured text)."""
    try:
        text = str(email_policy.default.header_factory("x-original-from", word))
    except Exception:  # hostile encoded words: keep the word as sent
        return word
    return _clean_text(text) or word


def _field(name: str, tokens: Sequence[str]) -> str:
    """``name: token token ...`` folded with CRLF before a token that would pass 78 columns."""
    start = f"{name}:"
    lines: list[str] = []
    current = start
    for token in tokens:
        if len(current) + 1 + len(token) > FOLD_WIDTH and current != start:
            lines.append(current)
            current = " " + token
        else:
            current += " " + token
    lines.append(current)
    return "\r\n".join(lines)


def _mailbox_field(name: str, display: str, address: str) -> tuple[str, str]:
    """The field ``name: display <address>`` folded, and its value unfolded."""
    field_text = _field(name, [*_phrase_tokens(_clean_text(display)), f"<{address}>"])
    return field_text, " ".join(field_text.split(" ", 1)[1].split())


def _usable(address: str) -> bool:
    """An ``addr-spec`` that can stand in a 7-bit header (``local@domain``, no spaces)."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() or ord(c) < 32 for c in address):
        return False
    ascii_form = _ascii_address(address)
    return ascii_form.isascii() and len(ascii_form) <= MAX_ADDRESS_CHARS


def _ascii_address(address: str) -> str:
    """The address with an internationalised domain in its A-label form."""
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    if len(local) >= 2 and local[0] == local[-1] == '"':
        # A quoted local part (RFC 5322 3.4.1) is the mailbox of its content: unquote it, and
        # the address is quoted again below only as much as it needs.
        local = re.sub(r"\\(.)", r"\1", local[1:-1])
    with contextlib.suppress(UnicodeError):
        domain = domain.encode("idna").decode("ascii")
    try:
        return str(HeaderAddress(username=local, domain=domain).addr_spec)
    except (ValueError, IndexError):
        return f"{local}@{domain}"


# --- where a message goes ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """One copy to send: to ``destination``, for ``recipient``, from ``from_address``."""

    recipient: str
    destination: str
    from_address: str


@dataclass(frozen=True, slots=True)
class ForwarderConfig:
    """The forwarder's settings, read from the environment the construct sets."""

    raw_bucket: str | None = None
    raw_prefix: str = ""
    forward_prefix: str = DEFAULT_FORWARD_PREFIX
    destinations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Recipient (address, domain or ``*``) to destination addresses."""
    from_address: str | None = None
    """Fixed From address; default: the recipient the message was received for."""
    receiving_domains: tuple[str, ...] = ()
    verdict_policy: VerdictPolicy = field(default_factory=VerdictPolicy)
    max_hops: int = DEFAULT_MAX_HOPS
    max_send_bytes: int = MAX_SEND_BASE64_BYTES

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ForwarderConfig:
        """Read ``RAW_MESSAGE_BUCKET``, ``RAW_MESSAGE_PREFIX``, ``FORWARD_PREFIX``,
        ``FORWARD_DESTINATIONS`` (JSON object), ``FORWARD_FROM``, ``RECEIVING_DOMAINS``
        (comma-separated), ``REJECT_ON_VERDICTS``, ``MAX_FORWARD_HOPS``; raises
        :class:`ConfigurationError` naming the variable."""
        raw = environ.get("FORWARD_DESTINATIONS", "").strip()
        if not raw:
            raise ConfigurationError("FORWARD_DESTINATIONS", "is not set")
        try:
            loaded = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ConfigurationError("FORWARD_DESTINATIONS", f"is not JSON: {error}") from None
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str)
            and isinstance(v, list)
            and v
            and all(isinstance(a, str) and "@" in a for a in v)
            for k, v in loaded.items()
        ):
            raise ConfigurationError(
                "FORWARD_DESTINATIONS",
                "must map recipients to non-empty lists of addresses, e.g. "
                '{"support@example.com": ["a@example.org"]}',
            )
        hops_text = environ.get("MAX_FORWARD_HOPS", "").strip() or str(DEFAULT_MAX_HOPS)
        try:
            hops = int(hops_text)
        except ValueError:
            raise ConfigurationError(
                "MAX_FORWARD_HOPS", f"{hops_text!r} is not an integer"
            ) from None
        if hops < 1:
            raise ConfigurationError("MAX_FORWARD_HOPS", f"must be at least 1, got {hops}")
        verdicts = environ.get("REJECT_ON_VERDICTS")
        prefix = environ.get("FORWARD_PREFIX", DEFAULT_FORWARD_PREFIX)
        if not prefix or prefix.startswith("/") or ".." in prefix.split("/"):
            raise ConfigurationError("FORWARD_PREFIX", f"{prefix!r} is not a usable key prefix")
        return cls(
            raw_bucket=environ.get("RAW_MESSAGE_BUCKET", "").strip() or None,
            raw_prefix=environ.get("RAW_MESSAGE_PREFIX", ""),
            forward_prefix=prefix,
            destinations={
                k.strip().lower(): tuple(a.strip() for a in v) for k, v in loaded.items()
            },
            from_address=_sender(environ.get("FORWARD_FROM", "").strip() or None),
            receiving_domains=tuple(
                d.strip().lower().strip(".")
                for d in environ.get("RECEIVING_DOMAINS", "").split(",")
                if d.strip()
            ),
            verdict_policy=VerdictPolicy()
            if verdicts is None
            else VerdictPolicy.from_setting(verdicts, "REJECT_ON_VERDICTS"),
            max_hops=hops,
        )


def _sender(address: str | None) -> str | None:
    """``FORWARD_FROM`` if SES can send from it: the local part of a sending address is 7-bit
    ASCII, since SES does not support SMTPUTF8 (Amazon SES API reference, ``Destination`` and
    ``SendEmail``); a domain in Unicode is sent in its A-label form."""
    if address is not None and not _usable(address):
        raise ConfigurationError(
            "FORWARD_FROM",
            f"{address!r} is not an address SES can send from (a local part in 7-bit ASCII, "
            "a domain, no spaces)",
        )
    return address


def destinations_for(recipient: str, destinations: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """The destinations of one recipient: its address, then without ``+label``, then its domain
    and each parent domain, then ``*`` (the first entry found wins)."""
    address = recipient.strip().lower()
    local, _, domain = address.rpartition("@")
    candidates = [address]
    if "+" in local:
        candidates.append(f"{local.split('+', 1)[0]}@{domain}")
    labels = domain.split(".")
    candidates += [".".join(labels[i:]) for i in range(len(labels) - 1)]
    candidates += ["." + ".".join(labels[i:]) for i in range(1, len(labels) - 1)]
    candidates.append(ANY_RECIPIENT)
    for candidate in candidates:
        if candidate in destinations:
            return tuple(destinations[candidate])
    return ()


def in_domains(address: str, domains: Iterable[str]) -> bool:
    """``address`` is at one of ``domains`` or one of their subdomains."""
    host = address.rpartition("@")[2].strip().lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


def plan_deliveries(
    recipients: Sequence[str], config: ForwarderConfig
) -> tuple[list[Delivery], list[Delivery]]:
    """``(deliveries, loops)``: one delivery per destination (the first recipient that maps to
    it wins); ``loops`` are destinations inside the receiving domains, never sent."""
    deliveries: list[Delivery] = []
    loops: list[Delivery] = []
    seen: set[str] = set()
    for recipient in recipients:
        for destination in destinations_for(recipient, config.destinations):
            key = destination.lower()
            if key in seen:
                continue
            seen.add(key)
            delivery = Delivery(
                recipient=recipient,
                destination=destination,
                from_address=config.from_address or recipient,
            )
            if in_domains(destination, config.receiving_domains):
                loops.append(delivery)
            else:
                deliveries.append(delivery)
    return deliveries, loops


def forward_outcome_key(forward_prefix: str, message_id: str) -> str:
    """``<forward prefix><messageId>/outcome.json``: what happened to each destination."""
    from .keys import output_prefix

    return output_prefix(forward_prefix, message_id) + "outcome.json"


def forward_marker_key(forward_prefix: str, message_id: str, destination: str) -> str:
    """``<forward prefix><messageId>/sent/<destination>-<digest>``: written once, before the
    send. The destination is made a safe file name for people to read, and the first 16 hex
    digits of the SHA-256 of its lowercase form keep two destinations that one file name would
    merge (``a/b@x`` and ``b@x``) apart."""
    from .keys import output_prefix, safe_filename

    address = destination.lower()
    name = safe_filename(address, fallback="destination")
    digest = hashlib.sha256(address.encode("utf-8")).hexdigest()[:16]
    return f"{output_prefix(forward_prefix, message_id)}sent/{name}-{digest}"

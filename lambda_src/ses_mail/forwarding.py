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

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email import policy as email_policy
from email.headerregistry import Address as HeaderAddress
from email.parser import BytesParser
from email.utils import formataddr
from typing import IO

from .errors import ConfigurationError
from .headers import MessageHeaders, read_headers
from .verdicts import VerdictPolicy

#: SES v2 (and SMTP) sends messages up to 40 MB after base64 encoding; SES v1 only 10 MB
#: (https://docs.aws.amazon.com/ses/latest/dg/quotas.html, "Message quotas"). Read as decimal
#: megabytes, the smaller reading, as a sender must; the local cloud's SendEmail uses the same
#: number. Received mail has its own limit, ``mime.DEFAULT_MAX_MESSAGE_BYTES`` (docs/ses-facts.md,
#: "Sending (the forwarder)").
MAX_SEND_BASE64_BYTES = 40_000_000
#: RFC 5321 section 4.5.3.1.6: at most 1,000 octets per line including CRLF; the RawMessage
#: reference repeats it for SES.
MAX_LINE_BYTES = 1000
DEFAULT_MAX_HOPS = 3
HOPS_HEADER = "X-Forward-Hops"
ORIGINAL_FROM_HEADER = "X-Original-From"
ORIGINAL_TO_HEADER = "X-Original-To"
ORIGINAL_MESSAGE_ID_HEADER = "X-Original-Message-ID"
DEFAULT_FORWARD_PREFIX = "forwarded/"
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
    shown = display or address
    name = f"{shown} via {recipient}" if shown else f"via {recipient}"
    new_from = _mailbox(name, from_address)

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
    added: list[str] = [f"From: {new_from}"]
    if section.first("reply-to") is None and address:
        reply_to = _mailbox(display, address)
        added.append(f"Reply-To: {reply_to}")
    elif original.reply_to:
        reply_to = ", ".join(a.address for a in original.reply_to)  # kept as sent
    original_from = section.first("from")
    if original_from is not None:
        added.append(_fold(ORIGINAL_FROM_HEADER, _ascii_value(original_from)))
    added.append(f"{ORIGINAL_TO_HEADER}: {_ascii_address(recipient)}")
    if original.message_id:
        added.append(_fold(ORIGINAL_MESSAGE_ID_HEADER, original.message_id))
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


def _mailbox(name: str, address: str) -> str:
    """``name <address>`` with the name quoted or RFC 2047 encoded as needed (ASCII out)."""
    name = " ".join(name.replace("\r", " ").replace("\n", " ").split())
    return formataddr((name, _ascii_address(address)), charset="utf-8")


def _usable(address: str) -> bool:
    """An ``addr-spec`` that can stand in a 7-bit header (``local@domain``, no spaces)."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() or ord(c) < 32 for c in address):
        return False
    return _ascii_address(address).isascii()


def _ascii_address(address: str) -> str:
    """The address with an internationalised domain in its A-label form."""
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    with contextlib.suppress(UnicodeError):
        domain = domain.encode("idna").decode("ascii")
    try:
        return str(HeaderAddress(username=local, domain=domain).addr_spec)
    except (ValueError, IndexError):
        return f"{local}@{domain}"


def _ascii_value(item: HeaderField) -> str:
    """A field value as 7-bit text: RFC 2047 encoded when the original carried raw UTF-8."""
    value = item.value
    if value.isascii():
        return value
    from email.header import Header

    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return Header(text, "utf-8").encode()


def _fold(name: str, value: str, width: int = 76) -> str:
    """``name: value`` folded at spaces so that no line exceeds 998 characters."""
    words = value.split(" ")
    lines: list[str] = []
    current = f"{name}:"
    for word in words:
        if len(current) + 1 + len(word) > width and current.strip() != f"{name}:":
            lines.append(current)
            current = " " + word
        else:
            current += " " + word
    lines.append(current)
    out: list[str] = []
    for line in lines:
        while len(line) > 998:
            out.append(line[:998])
            line = " " + line[998:]
        out.append(line)
    return "\r\n".join(out)


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
            from_address=environ.get("FORWARD_FROM", "").strip() or None,
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
    """``<forward prefix><messageId>/sent/<destination>``: written once, before the send."""
    from .keys import output_prefix, safe_filename

    name = safe_filename(destination.lower(), fallback="destination")
    return f"{output_prefix(forward_prefix, message_id)}sent/{name}"

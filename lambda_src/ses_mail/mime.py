"""Parse raw MIME with the stdlib ``email`` package (``policy.default``), within bounds.

``parse_message`` feeds the input to ``BytesFeedParser`` in 64 KiB chunks and returns the headers,
the text and HTML bodies (decoded with their charsets) and the attachments, whose content is
decoded only when asked for, one at a time.

Hostile input gets a clear outcome instead of an exhausted Lambda:

- every part and header is counted while the parser creates it (``max_parts``,
  ``max_headers``); nesting deeper than the interpreter's recursion limit is reported;
- the parser's memory is estimated while feeding (:func:`estimate_parse_memory`) and parsing
  stops at ``max_parse_memory``; this bounds "line bombs" (millions of tiny lines, each a
  Python object) whatever their size;
- header values, charsets, transfer encodings and file names that cannot be decoded are
  read leniently and recorded in ``defects``; they never abort the message.

All of these raise :class:`~.errors.UnparseableMessageError` (a limit) or nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email import policy as email_policy
from email.feedparser import BytesFeedParser
from email.message import EmailMessage, Message
from typing import IO, Any, BinaryIO

from . import contract
from .decoding import iter_decoded, raw_header, raw_payload
from .errors import UnparseableMessageError
from .headers import DEFAULT_MAX_HEADER_CHARS, MessageHeaders, read_headers
from .keys import default_filename, safe_filename
from .text import decode_bytes, recover_text, without_controls

DEFAULT_MAX_MESSAGE_BYTES = contract.MAX_MESSAGE_BYTES
"""SES's S3 action stores messages up to 40 MB, headers included (SES Developer Guide,
https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action-s3.html). The page does not say
how many bytes its MB holds: read as 40 MiB, the larger reading, so that no message SES stored is
refused as too large; the library and the local cloud use the same number (docs/ses-facts.md,
"S3 action"). Sending has its own limit, ``forwarding.MAX_SEND_BASE64_BYTES``."""
FEED_CHUNK_BYTES = 1 << 16
MAX_DEFECTS = 100
LINE_OVERHEAD_BYTES = 80
"""Upper bound of what one line costs the stdlib parser beyond its characters (a ``str`` object
of 49+ bytes rounded up by the allocator, plus list slots)."""

_BODY_TYPES = ("text/plain", "text/html")
_LINE_BREAK = re.compile(r"\r?\n")
_QUOTED_PAIR = re.compile(r"\\(.)")
_PART_HEADER = re.compile(r"^content-(?:type|disposition|transfer-encoding)[ \t]*:", re.I | re.M)
_MIME_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,128}")


def estimate_parse_memory(size: int, lines: int) -> int:
    """Upper estimate of the stdlib parser's peak memory for ``size`` bytes in ``lines`` lines.

    The parser keeps every part's payload (1x), and while it reads a part it holds that part's
    lines as separate strings and then their join (1x more plus ``LINE_OVERHEAD_BYTES`` a line).
    For ordinary mail (base64 lines of 78 bytes) this is about 3x the size.
    """
    return 2 * size + LINE_OVERHEAD_BYTES * lines


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Bounds applied while parsing; the defaults suit SES's 40 MB maximum."""

    max_bytes: int | None = DEFAULT_MAX_MESSAGE_BYTES
    """Larger input raises ``UnparseableMessageError("too_large")``; ``None``: no limit."""
    max_parts: int = 1000
    """MIME parts (including those of attached messages) before ``too_many_parts``."""
    max_headers: int = 10_000
    """Header fields in all parts together before ``too_many_headers``."""
    max_header_chars: int = DEFAULT_MAX_HEADER_CHARS
    """Longest header value given to the structured header parser; longer ones are cut."""
    max_parse_memory: int | None = 4 * DEFAULT_MAX_MESSAGE_BYTES
    """Estimated parser memory (:func:`estimate_parse_memory`) before ``too_many_lines``."""


class Attachment:
    """One non-body leaf part: an attachment or an inline part (e.g. an image of the HTML).

    Metadata is read at parse time; the content is decoded on demand, so a message with many
    large attachments is never decoded all at once. ``size`` and ``sha256`` are computed on first
    use (by :meth:`read` if that comes first).
    """

    __slots__ = (
        "_defects",
        "_defects_noted",
        "_part",
        "_sha256",
        "_size",
        "content_id",
        "content_type",
        "disposition",
        "filename",
        "index",
        "part_id",
        "safe_name",
    )

    def __init__(
        self,
        *,
        index: int,
        part_id: str,
        part: Message,
        filename: str | None,
        content_type: str,
        disposition: str,
        content_id: str | None,
        defects: list[str],
    ) -> None:
        self.index = index
        """Position among the message's attachments, from 0, in document order."""
        self.part_id = part_id
        """IMAP-style part number, e.g. ``2`` or ``1.3``."""
        self.filename = filename
        """The decoded file name as the sender gave it (may be ``None`` or unsafe)."""
        self.safe_name = safe_filename(filename, fallback=default_filename(content_type))
        """A file name safe for S3 keys and file systems (see :func:`~.keys.safe_filename`)."""
        self.content_type = content_type
        self.disposition = disposition
        """``attachment`` or ``inline``."""
        self.content_id = content_id
        """``Content-ID`` without angle brackets (what ``cid:`` URLs in the HTML refer to)."""
        self._part: Message | None = part
        self._defects = defects
        self._defects_noted = False
        self._size: int | None = None
        self._sha256: str | None = None

    def __repr__(self) -> str:
        return (
            f"Attachment(index={self.index}, filename={self.filename!r}, "
            f"content_type={self.content_type!r}, disposition={self.disposition!r})"
        )

    @property
    def size(self) -> int:
        """Decoded size in bytes."""
        if self._size is None:
            self._measure()
        assert self._size is not None
        return self._size

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the decoded content."""
        if self._sha256 is None:
            self._measure()
        assert self._sha256 is not None
        return self._sha256

    def iter_chunks(self) -> Iterator[bytes]:
        """Yield the decoded content in slices of about 1 MiB."""
        part = self._part
        if part is None:
            raise RuntimeError(f"attachment {self.index} was released")
        found: list[str] = []
        yield from iter_decoded(part, found)
        if not self._defects_noted:
            self._defects_noted = True
            for defect in found:
                _add(self._defects, f"part {self.part_id}: {defect}")

    def write_to(self, file: IO[bytes]) -> int:
        """Stream the decoded content into ``file`` (also fixes ``size`` and ``sha256``).

        Holds one slice of about 1 MiB at a time. Returns the number of bytes written.
        """
        return self._stream(file.write)

    def read(self) -> bytes:
        """The whole decoded content (also fixes ``size`` and ``sha256``)."""
        chunks = list(self.iter_chunks())
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        del chunks
        self._size = len(data)
        self._sha256 = hashlib.sha256(data).hexdigest()
        return data

    def release(self) -> None:
        """Drop the encoded payload from the parsed tree to free memory; reading is then over."""
        part, self._part = self._part, None
        if part is not None:
            part.set_payload("")

    def _measure(self) -> None:
        self._stream(None)

    def _stream(self, write: Callable[[bytes], object] | None) -> int:
        digest, size = hashlib.sha256(), 0
        for chunk in self.iter_chunks():
            digest.update(chunk)
            size += len(chunk)
            if write is not None:
                write(chunk)
        self._size, self._sha256 = size, digest.hexdigest()
        return size


@dataclass(slots=True)
class ParsedMessage:
    """The result of :func:`parse_message`."""

    message: EmailMessage
    """The stdlib tree, for anything this summary leaves out."""
    headers: MessageHeaders
    text: str | None
    """The first ``text/plain`` body part that is not an attachment, decoded (line ends
    ``\\n``), or ``None``."""
    html: str | None
    """The first ``text/html`` body part that is not an attachment, decoded (line ends
    ``\\n``), or ``None``."""
    attachments: list[Attachment]
    """Every other leaf part, in document order (a ``message/*`` part is one attachment: the
    attached message's bytes exactly as they arrived)."""
    defects: list[str]
    """What was wrong with the message and how it was read anyway (at most 100 entries)."""
    size: int
    """Size of the raw message in bytes."""


def parse_message(
    source: bytes | bytearray | memoryview | BinaryIO | Iterable[bytes],
    limits: ParseLimits | None = None,
) -> ParsedMessage:
    """Parse a raw MIME message.

    ``source`` is the message as bytes, a binary file object (read in 64 KiB chunks from its
    current position) or an iterable of byte chunks (e.g. ``StreamingBody.iter_chunks()``).

    Raises :class:`~.errors.UnparseableMessageError` when a limit of ``limits`` is exceeded or the
    stdlib parser gives up; never anything else for any input bytes.
    """
    limits = limits or ParseLimits()
    budget = _Budget(limits)
    parser = BytesFeedParser(_factory=budget.new_message, policy=email_policy.default)
    budget.reset()  # the parser probes its factory once on construction
    try:
        for chunk in _chunks(source):
            budget.consume(chunk)
            parser.feed(chunk)
        root = parser.close()
    except UnparseableMessageError:
        raise
    except RecursionError:
        raise UnparseableMessageError(
            "nesting_too_deep", "MIME parts are nested deeper than the parser can follow"
        ) from None
    except Exception as error:  # a stdlib parser bug must not escape as a crash
        raise UnparseableMessageError(
            "parser_error", f"the stdlib parser failed: {type(error).__name__}: {error}"[:300]
        ) from error
    budget.closed = True
    if not isinstance(root, EmailMessage):  # pragma: no cover - the factory makes EmailMessages
        raise UnparseableMessageError("parser_error", "the parser returned no message")
    return _summarise(root, budget.size, limits)


class _GuardedMessage(EmailMessage):
    """An ``EmailMessage`` that counts header fields against the parse budget, and keeps the
    body of a ``message/*`` part as the bytes that arrived.

    The stdlib parser reads the body of a ``message/rfc822`` (or any ``message/*``) part as a
    nested message, and writing that out again (``BytesGenerator``) is not the same bytes: how
    a continuation line, a control character or an 8-bit header is re-serialised has changed
    between Python releases, so the stored ``.eml``, its size and its SHA-256 depended on the
    interpreter. While the parser runs, such a part therefore reports itself as a leaf
    (``application/octet-stream``); the parser keeps its body as text, and once parsing is over
    the part answers with its real content type again. The attachment is then the body decoded
    by its Content-Transfer-Encoding (7bit/8bit/binary per RFC 2046 section 5.2.1: the bytes as
    sent).
    """

    _budget: _Budget | None = None

    def set_raw(self, name: str, value: Any) -> None:
        budget = self._budget
        if budget is not None and not budget.closed:
            budget.header()
        super().set_raw(name, value)

    def get_boundary(self, failobj: Any = None) -> Any:
        """The boundary, also when it is unquoted and holds ``=`` or another special character.

        ``boundary=----=_NextPart_000_...`` (as Outlook-era mailers wrote it) is not valid
        RFC 2045 syntax (section 5.1: such a value must be quoted), and ``policy.default`` cuts
        it at the ``=``, so no part is found. The meaning is clear: the value runs to the next
        ``;``, as the stdlib's ``compat32`` policy reads it.
        """
        boundary = super().get_boundary(failobj)
        raw = raw_header(self, "content-type")
        found = _raw_params(raw).get("boundary") if raw is not None else None
        if found is not None and not found[1] and found[0] and found[0] != boundary:
            return found[0]
        return boundary

    def get_content_type(self) -> str:
        content_type = super().get_content_type()
        budget = self._budget
        if budget is not None and not budget.closed and content_type.startswith("message/"):
            return "application/octet-stream"
        return content_type


class _Budget:
    __slots__ = ("closed", "headers", "limits", "lines", "parts", "size")

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self.closed = False
        self.parts = self.headers = self.size = self.lines = 0

    def reset(self) -> None:
        self.parts = self.headers = self.size = self.lines = 0

    def new_message(self, policy: Any = email_policy.default) -> EmailMessage:
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise UnparseableMessageError(
                "too_many_parts", f"more than {self.limits.max_parts} MIME parts"
            )
        message = _GuardedMessage(policy)
        message._budget = self
        return message

    def header(self) -> None:
        self.headers += 1
        if self.headers > self.limits.max_headers:
            raise UnparseableMessageError(
                "too_many_headers", f"more than {self.limits.max_headers} header fields"
            )

    def consume(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.lines += chunk.count(b"\n")
        limits = self.limits
        if limits.max_bytes is not None and self.size > limits.max_bytes:
            raise UnparseableMessageError(
                "too_large", f"the message is larger than {limits.max_bytes} bytes"
            )
        if limits.max_parse_memory is not None:
            estimate = estimate_parse_memory(self.size, self.lines)
            if estimate > limits.max_parse_memory:
                raise UnparseableMessageError(
                    "too_many_lines",
                    f"{self.lines} lines in the first {self.size} bytes would need about "
                    f"{estimate} bytes to parse (limit {limits.max_parse_memory})",
                )


def _chunks(source: bytes | bytearray | memoryview | BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        for start in range(0, len(view), FEED_CHUNK_BYTES):
            yield view[start : start + FEED_CHUNK_BYTES].tobytes()
        return
    read = getattr(source, "read", None)
    if callable(read):
        while chunk := read(FEED_CHUNK_BYTES):
            yield bytes(chunk)
        return
    for chunk in source:
        if chunk:
            yield bytes(chunk)


def _summarise(root: EmailMessage, size: int, limits: ParseLimits) -> ParsedMessage:
    defects: list[str] = []
    headers = read_headers(root, limits.max_header_chars)
    defects.extend(headers.defects)
    text: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    for part, part_id, content_type, is_leaf in _walk(root, defects):
        if not is_leaf:
            continue
        disposition = _disposition(part, part_id, defects)
        if disposition != "attachment" and content_type in _BODY_TYPES and not part.is_multipart():
            if content_type == "text/plain" and text is None:
                text = _decode_text(part, part_id, defects)
                continue
            if content_type == "text/html" and html is None:
                html = _decode_text(part, part_id, defects)
                continue
        attachments.append(
            Attachment(
                index=len(attachments),
                part_id=part_id,
                part=part,
                filename=_filename(part, part_id, defects),
                content_type=content_type,
                disposition=disposition or "inline",
                content_id=_content_id(part),
                defects=defects,
            )
        )
    return ParsedMessage(
        message=root,
        headers=headers,
        text=text,
        html=html,
        attachments=attachments,
        defects=defects,
        size=size,
    )


def _walk(root: Message, defects: list[str]) -> Iterator[tuple[Message, str, str, bool]]:
    """Every part in document order: part, IMAP-style number, content type, is it a leaf.

    Iterative, so deep nesting cannot exhaust the stack; notes each part's parser defects.
    Leaves are the non-multipart parts; ``message/*`` parts are leaves too (an attached message
    is one attachment), and so is a ``multipart/*`` part whose boundary is missing (the parser
    keeps its body as text). A non-multipart root is part ``1``.
    """
    stack: list[tuple[Message, str]] = [(root, "")]
    while stack:
        part, part_id = stack.pop()
        label = part_id or "root"
        for defect in part.defects:
            _add(defects, f"part {label}: {type(defect).__name__}")
        content_type = _content_type(part, label, defects)
        payload = raw_payload(part)
        children: list[object] | None = None
        if isinstance(payload, list) and content_type.startswith("multipart/"):
            children = payload
            _note_epilogue(part, label, defects)
        yield part, part_id or "1", content_type, children is None
        if children is not None:
            prefix = f"{part_id}." if part_id else ""
            stack.extend(
                (child, f"{prefix}{number}")
                for number, child in reversed(list(enumerate(children, start=1)))
                if isinstance(child, Message)
            )


def _note_epilogue(part: Message, label: str, defects: list[str]) -> None:
    """Record content after a multipart's closing boundary.

    RFC 2046 section 5.1.1 has readers ignore the epilogue, so nothing in it is reported as a
    body or an attachment; but a part placed there is a known way to slip a file past scanners
    that read it, so a consumer is told it was there (and whether it looks like a MIME part).
    """
    epilogue = part.epilogue
    if not isinstance(epilogue, str) or not epilogue.strip():
        return
    size = len(epilogue.strip().encode("utf-8", "surrogateescape"))
    shape = " that looks like a MIME part" if _PART_HEADER.search(epilogue) else ""
    _add(
        defects,
        f"part {label}: {size} bytes after the closing boundary{shape} were ignored"
        " (RFC 2046 section 5.1.1)",
    )


def _content_type(part: Message, part_id: str, defects: list[str]) -> str:
    try:
        content_type = part.get_content_type()
    except Exception as error:  # hostile header
        _add(defects, f"part {part_id}: unreadable Content-Type ({type(error).__name__})")
        return "application/octet-stream"
    if _MIME_TYPE.fullmatch(content_type):
        return content_type
    _add(defects, f"part {part_id}: invalid Content-Type; read as application/octet-stream")
    return "application/octet-stream"


def _disposition(part: Message, part_id: str, defects: list[str]) -> str | None:
    try:
        value = part.get_content_disposition()
    except Exception as error:  # hostile header
        _add(defects, f"part {part_id}: unreadable Content-Disposition ({type(error).__name__})")
        return "attachment"
    return value if value in ("attachment", "inline") else None


def _filename(part: Message, part_id: str, defects: list[str]) -> str | None:
    try:
        name = part.get_filename()
    except Exception as error:  # hostile header
        _add(defects, f"part {part_id}: unreadable file name ({type(error).__name__})")
        return None
    if isinstance(name, tuple):  # an RFC 2231 value the stdlib left undecoded
        name = name[2]
    unquoted = _unquoted_filename(part)
    if unquoted is not None:
        name = unquoted
    if not isinstance(name, str):
        return None
    return without_controls(recover_text(name)).strip() or None


def _unquoted_filename(part: Message) -> str | None:
    """The file name when the sender left it unquoted, read up to the next ``;`` and with its
    RFC 2047 encoded words decoded; ``None`` when it was quoted, RFC 2231-encoded or absent.

    RFC 2045 section 5.1 wants such values quoted, and ``policy.default`` keeps only the first
    word (``filename=my report.pdf``) or nothing (``filename==?utf-8?B?...?=``). Mail user
    agents read the whole value (RFC 2183 names the parameter; RFC 2047 section 5 does not allow
    encoded words in parameters, but many mailers write them). The same place is looked up as by
    ``Message.get_filename``: ``filename`` of Content-Disposition, else ``name`` of Content-Type.
    """
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        raw = raw_header(part, header)
        if raw is None:
            continue
        params = _raw_params(raw)
        if any(key.startswith(param + "*") for key in params):
            return None  # RFC 2231: the stdlib decodes it
        found = params.get(param)
        if found is None:
            continue
        value, quoted = found
        if quoted or not value:
            return None
        if "=?" in value:
            with contextlib.suppress(Exception):  # hostile encoded words: kept as sent
                value = str(email_policy.default.header_factory("x-filename", value))
        return value
    return None


def _raw_params(value: str) -> dict[str, tuple[str, bool]]:
    """The parameters of a Content-Type or Content-Disposition value as the stdlib's
    ``compat32`` policy reads them: each from its ``=`` to the next ``;`` outside a quoted
    string. ``{lower-case name: (value, was it quoted)}``; the first occurrence wins."""
    value = _LINE_BREAK.sub("", value)
    params: dict[str, tuple[str, bool]] = {}
    segments: list[str] = []
    start = 0
    quoted = escaped = False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            segments.append(value[start:index])
            start = index + 1
    segments.append(value[start:])
    for segment in segments[1:]:
        name, equals, text = segment.partition("=")
        name, text = name.strip().lower(), text.strip()
        if not equals or not name or name in params:
            continue
        if len(text) >= 2 and text[0] == text[-1] == '"':
            params[name] = (_QUOTED_PAIR.sub(r"\1", text[1:-1]), True)
        else:
            params[name] = (text, False)
    return params


def _content_id(part: Message) -> str | None:
    value = raw_header(part, "content-id")
    if value is None:
        return None
    return without_controls(recover_text(" ".join(value.split()))).strip("<> ")[:998] or None


def _decode_text(part: Message, part_id: str, defects: list[str]) -> str:
    local: list[str] = []
    data = b"".join(iter_decoded(part, local))
    try:
        charset = part.get_content_charset()
    except Exception as error:  # hostile header
        local.append(f"unreadable charset ({type(error).__name__})")
        charset = None
    text = decode_bytes(data, charset, local)
    del data
    for defect in local:
        _add(defects, f"part {part_id}: {defect}")
    return text.replace("\r\n", "\n") if "\r" in text else text


def _add(defects: list[str], entry: str) -> None:
    if len(defects) < MAX_DEFECTS:
        defects.append(entry)
    elif len(defects) == MAX_DEFECTS:
        defects.append("more defects were not recorded")

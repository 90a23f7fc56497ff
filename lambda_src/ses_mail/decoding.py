"""Content-Transfer-Encoding decoders that work in bounded slices of a part's payload.

``Message.get_payload(decode=True)`` holds the encoded text, an ASCII copy, the list of its lines,
their join and the result at once (about 4-5x the part). These decoders walk the payload in
slices of about 1 MiB and yield decoded bytes, so decoding adds one slice to the part itself.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from email.message import Message

SLICE_CHARS = 1 << 20
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]+")
#: What a slice may hold to be decoded as it is: the alphabet, padding and line ends.
_NOT_BASE64_LINES = re.compile(r"[^A-Za-z0-9+/=\r\n]")
_IDENTITY = frozenset({"", "7bit", "8bit", "binary"})
_UUENCODE = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})


def raw_header(part: Message, name: str) -> str | None:
    """The first ``name`` header of ``part`` as sent, without the stdlib's header parsing."""
    for key, value in part.raw_items():
        if key.strip().lower() == name and isinstance(value, str):
            return value
    return None


def transfer_encoding(part: Message) -> str:
    """The part's Content-Transfer-Encoding, lowercased (``""`` when absent)."""
    return " ".join((raw_header(part, "content-transfer-encoding") or "").split()).lower()


def raw_payload(part: Message) -> object:
    """The payload exactly as the parser stored it.

    ``Message.get_payload()`` re-decodes a payload holding 8-bit bytes with the part's declared
    charset (so a Latin-1 body would be decoded twice) and copies the whole payload to check for
    them; the parser's own attribute has the bytes intact (as surrogate escapes).
    """
    return part._payload  # type: ignore[attr-defined]


def iter_decoded(part: Message, defects: list[str]) -> Iterator[bytes]:
    """Yield the decoded content of a non-multipart ``part`` in slices; never raises.

    Unknown encodings yield the bytes as sent (like the stdlib). Problems are appended to
    ``defects``.
    """
    payload = raw_payload(part)
    if payload is None:
        return
    if not isinstance(payload, str):
        defects.append("part has no text payload")
        return
    encoding = transfer_encoding(part)
    if encoding == "base64":
        yield from _iter_base64(payload, defects)
    elif encoding == "quoted-printable":
        for piece in _slices(payload, avoid_split_before="="):
            yield binascii.a2b_qp(_as_bytes(piece))
    elif encoding in _UUENCODE:
        decoded = part.get_payload(decode=True)
        if isinstance(decoded, bytes):
            yield decoded
    else:
        if encoding not in _IDENTITY:
            defects.append(f"unknown Content-Transfer-Encoding {encoding[:40]!r}; kept as sent")
        for piece in _slices(payload):
            yield _as_bytes(piece)


def _as_bytes(text: str) -> bytes:
    # The parser read the bytes as ASCII with surrogate escapes; this restores them exactly.
    return text.encode("utf-8", "surrogateescape")


def _slices(payload: str, avoid_split_before: str = "") -> Iterator[str]:
    """Slices of at most about ``SLICE_CHARS``, cut after a line end whenever possible."""
    start, total = 0, len(payload)
    while start < total:
        end = start + SLICE_CHARS
        if end < total:
            cut = payload.rfind("\n", start, end)
            if cut > start:
                end = cut + 1
            elif avoid_split_before:
                escape = payload.rfind(avoid_split_before, end - 2, end)
                if escape > start:
                    end = escape
        yield payload[start:end]
        start = end


def _iter_base64(payload: str, defects: list[str]) -> Iterator[bytes]:
    """Lenient base64: ignores characters outside the alphabet, repairs missing padding.

    Fast path: a slice of only the alphabet and line ends, cut at a line end, holds whole
    4-character groups (lines are multiples of 4 characters in practice) and decodes directly.
    Otherwise the slow path strips foreign characters (noting them once) and carries incomplete
    groups into the next slice; text after ``=`` padding starts a new group (concatenated
    encodings decode completely).
    """
    pending = ""
    repaired = False
    for piece in _slices(payload):
        pad = piece.find("=")
        if (
            not pending
            and (pad < 0 or not piece[pad:].strip("=\r\n\t "))
            and not _NOT_BASE64_LINES.search(piece)
        ):
            try:
                yield binascii.a2b_base64(piece)
                continue
            except (binascii.Error, ValueError):
                pass
        cleaned = _NOT_BASE64.sub("", piece)
        if not repaired and len(cleaned) + piece.count("\n") + piece.count("\r") != len(piece):
            repaired = True
            defects.append("base64 data has characters outside the alphabet; they were skipped")
        data = pending + cleaned
        while (pad := data.find("=")) >= 0:
            end = pad
            while end < len(data) and data[end] == "=":
                end += 1
            yield _decode_final_group(data[:pad], defects, padding=end - pad)
            data = data[end:]
        usable = len(data) - len(data) % 4
        if usable:
            yield binascii.a2b_base64(data[:usable])
        pending = data[usable:]
    if pending:
        yield _decode_final_group(pending, defects)


def _decode_final_group(data: str, defects: list[str], padding: int = 0) -> bytes:
    """Decode the last group of an encoding, ``padding`` ``=`` characters having followed it."""
    remainder = len(data) % 4
    if remainder == 1:
        defects.append("base64 data has a stray final character; it was dropped")
        data = data[:-1]
    elif remainder:
        if padding < 4 - remainder:
            defects.append("base64 padding is missing; it was added")
        data += "=" * (4 - remainder)
    return binascii.a2b_base64(data) if data else b""

"""Turning bytes of unknown quality into text: charsets, 8-bit headers, control characters."""

from __future__ import annotations

import codecs
import re
from email import charset as email_charset

# Pure-Python codecs that are quadratic or refuse errors="replace"; a hostile Content-Type may
# name them, so they are treated as unknown charsets.
_REFUSED_CODECS = frozenset({"punycode", "idna"})


def codec_for(charset: str | None) -> str | None:
    """The Python codec name for a MIME charset label, or ``None`` if it is unknown or unsafe."""
    if not charset:
        return None
    label = charset.strip().strip("\"'").lower()
    if not label or len(label) > 64:
        return None
    label = email_charset.ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    if info.name in _REFUSED_CODECS or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None, defects: list[str] | None = None) -> str:
    """Decode ``data`` declared as ``charset``; never raises.

    A known charset decodes with replacement characters for invalid bytes. A missing or ASCII
    label on 8-bit data (common in practice) is read as UTF-8 if valid, else as Windows-1252.
    An unknown charset is read the same way and noted in ``defects``.
    """
    codec = codec_for(charset)
    if codec is not None and codec != "ascii":
        try:
            return data.decode(codec, "replace")
        except (LookupError, UnicodeError, ValueError, TypeError) as error:
            if defects is not None:
                defects.append(f"charset {charset!r} failed ({type(error).__name__}); used UTF-8")
    elif charset and codec is None and defects is not None:
        defects.append(f"unknown charset {charset.strip()[:64]!r}; decoded as UTF-8")
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("windows-1252", "replace")


def recover_text(value: str) -> str:
    """Turn a header value read by the parser (8-bit bytes as surrogate escapes) into text.

    Raw UTF-8 in headers (RFC 6532) becomes proper text; other 8-bit bytes are read as
    Windows-1252. Lone surrogates that are not escapes become U+FFFD.
    """
    if value.isascii():
        return value
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return decode_bytes(raw, None)


_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")
_SURROGATES = re.compile("[\ud800-\udfff]")


def recover_escapes(value: str) -> str:
    """``value`` with the bytes a decoder left as surrogate escapes turned into text.

    The stdlib decodes an encoded word whose bytes are invalid in its charset (a multibyte
    character split across two encoded words, stray 8-bit bytes, ``unknown-8bit``) with
    ``surrogateescape``. Each run of escapes is read as UTF-8 when it is valid UTF-8 (which
    joins a split character again), else as Windows-1252, the rule of :func:`recover_text`;
    any other lone surrogate becomes U+FFFD.
    """
    if value.isascii() or not _SURROGATES.search(value):
        return value
    value = _ESCAPED_BYTES.sub(lambda run: recover_text(run.group()), value)
    return _SURROGATES.sub("\ufffd", value)


def without_controls(value: str) -> str:
    """``value`` with C0/C1 control characters (except tab) replaced by spaces."""
    if value.isprintable():
        return value
    return "".join(
        " " if (ord(char) < 32 and char != "\t") or 127 <= ord(char) < 160 else char
        for char in value
    )

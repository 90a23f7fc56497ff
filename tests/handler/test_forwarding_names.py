"""The forwarder's header rewrite with international, undecodable, long and folded names.

A named regression test per way the rewrite used to fail, then one property-based test of the
rewrite over generated From fields (RFC 2047 in several charsets, invalid bytes, RFC 6532 raw
UTF-8, folding, quoting, commas, lengths up to the line limit) and generated other fields.
"""

from __future__ import annotations

import base64
import io
import re
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage

import pytest
from handler_support import FUZZ
from hypothesis import example, given
from hypothesis import strategies as st
from ses_mail.forwarding import (
    HeaderSection,
    Rewrite,
    hop_count,
    read_header_section,
    rewrite_headers,
)
from ses_mail.headers import read_headers

FROM = "support@example.com"
RECIPIENT = "support@example.com"
ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
#: Fields after From in the regression messages: each must reach the destination as a field.
LATER_FIELDS = (
    b"To: Team <team@example.com>",
    b"Cc: Omar <omar@example.org>",
    b"Subject: Angebot",
    b"Date: Tue, 1 Dec 2026 10:00:00 +0100",
    b"MIME-Version: 1.0",
    b"Content-Type: text/plain; charset=utf-8",
    b"References: <a@example.de> <b@example.de>",
    b"X-Forward-Hops: 1",
)
BODY = b"Guten Tag,\r\n\r\nanbei das Angebot.\r\n"


def message(from_field: bytes, *fields: bytes) -> bytes:
    return b"\r\n".join([from_field, *fields]) + b"\r\n\r\n" + BODY


def rewrite(raw: bytes) -> tuple[HeaderSection, Rewrite, bytes]:
    section = read_header_section(io.BytesIO(raw))
    result = rewrite_headers(
        section, from_address=FROM, recipient=RECIPIENT, envelope_sender="bounce@example.net"
    )
    return section, result, result.header + raw[section.body_offset :]


def parsed(copy: bytes) -> EmailMessage:
    found = message_from_bytes(copy, policy=email_policy.default)
    assert isinstance(found, EmailMessage)
    return found


def display_name(copy: bytes) -> str:
    """The From display name as the project's reader (and RFC 2047 section 6.2) reads it."""
    return read_headers(parsed(copy)).from_[0].name


# --- one regression test per defect --------------------------------------------------------


def test_a_folded_raw_utf8_name_keeps_every_later_field_in_the_header_section() -> None:
    raw = message("From: Jürgen Müller-Lüdenscheidt <juergen@example.de>".encode(), *LATER_FIELDS)
    _, result, copy = rewrite(raw)

    again = read_header_section(io.BytesIO(copy))
    assert again.body_offset == len(result.header)
    assert copy[again.body_offset :] == BODY
    names = [f.name for f in again.fields]
    for field in LATER_FIELDS:
        assert field.split(b":")[0].decode() in names
    assert hop_count(again) == 2  # the loop guard still sees the hops
    assert display_name(copy) == f"Jürgen Müller-Lüdenscheidt via {RECIPIENT}"
    assert parsed(copy)["Reply-To"].addresses[0].addr_spec == "juergen@example.de"


@pytest.mark.parametrize(
    ("from_field", "expected"),
    [
        # a multibyte character split across two encoded words: rejoined
        (b"=?utf-8?B?SsO=?= =?utf-8?B?vHJnZW4=?= <j@example.de>", "Jürgen"),
        (b"=?utf-8?Q?J=C3?= =?utf-8?Q?=BCrgen?= <j@example.de>", "Jürgen"),
        # stray 0xFF after valid UTF-8: read as Windows-1252, like the handler's 8-bit headers
        (b"=?utf-8?B?w6E=?= =?utf-8?B?/w==?= <j@example.de>", "áÿ"),
        (b"=?utf-8?Q?M=FCller?= <j@example.de>", "Müller"),
        (b"=?unknown-8bit?Q?M=FCller?= <j@example.de>", "Müller"),
        (b"=?unknown-8bit?B?/////w==?= <j@example.de>", "ÿÿÿÿ"),
    ],
)
def test_encoded_words_with_invalid_utf8_are_forwarded(from_field: bytes, expected: str) -> None:
    _, result, copy = rewrite(message(b"From: " + from_field, *LATER_FIELDS))

    assert display_name(copy) == f"{expected} via {RECIPIENT}"
    assert result.reply_to is not None and result.reply_to.endswith("<j@example.de>")
    assert result.header.isascii()


def test_rewritten_from_and_reply_to_stay_within_998_characters_a_line() -> None:
    # A name of 1,500 characters, folded in the input as RFC 5322 asks.
    words = [f"Abteilung{n}," for n in range(120)]
    lines = [" ".join(words[i : i + 6]) for i in range(0, len(words), 6)]
    from_field = ('From: "' + "\r\n ".join(lines) + '" <dept@example.de>').encode()
    _, result, copy = rewrite(message(from_field, *LATER_FIELDS))

    assert max(len(line) for line in result.header.split(b"\r\n")) <= 998
    assert display_name(copy) == f"{' '.join(words)} via {RECIPIENT}"
    assert parsed(copy)["Reply-To"].addresses[0].display_name == " ".join(words)


def test_non_ascii_names_are_encoded_in_words_of_at_most_75_characters() -> None:
    name = "Σωκράτης Παπαδόπουλος-Οικονομόπουλος, Λογιστήριο Θεσσαλονίκης"
    _, result, copy = rewrite(message(f'From: "{name}" <s@example.gr>'.encode(), *LATER_FIELDS))

    words = ENCODED_WORD.findall(result.header)
    assert len(words) > 2
    assert max(len(word) for word in words) <= 75
    assert display_name(copy) == f"{name} via {RECIPIENT}"


def test_an_address_longer_than_a_path_allows_falls_back_to_the_envelope_sender() -> None:
    local = "a" * 300  # RFC 5321 section 4.5.3.1.3: a path has at most 256 octets
    _, result, copy = rewrite(message(f"From: Long <{local}@example.net>".encode()))
    assert max(len(line) for line in result.header.split(b"\r\n")) <= 998
    assert result.reply_to is not None and "bounce@example.net" in result.reply_to
    assert display_name(copy) == f"Long via {RECIPIENT}"


# --- the property-based test of the rewrite -------------------------------------------------

_NAME_CHARS = st.characters(
    blacklist_categories=["Cs", "Cc", "Cf", "Zl", "Zp"],
    whitelist_characters=' ,"\\@<>().;:',
)
_CHARSETS = ["utf-8", "iso-8859-1", "iso-8859-15", "windows-1252", "koi8-r", "shift_jis", "gb2312"]


@st.composite
def _encoded_name(draw: st.DrawFn) -> bytes:
    """A name as RFC 2047 encoded words: text in a charset, or bytes invalid in it."""
    charset = draw(st.sampled_from([*_CHARSETS, "unknown-8bit"]))
    if charset != "unknown-8bit" and draw(st.booleans()):
        text = draw(st.text(_NAME_CHARS, min_size=1, max_size=120))
        data = text.encode(charset, "replace")
    else:
        data = draw(st.binary(min_size=1, max_size=120))  # invalid bytes, split characters
    words: list[bytes] = []
    size = draw(st.integers(1, 40))  # a small size splits multibyte characters across words
    for start in range(0, len(data), size):
        piece = data[start : start + size]
        if draw(st.booleans()):
            encoded = b"B?" + base64.b64encode(piece)
        else:
            encoded = b"Q?" + b"".join(
                bytes([c]) if 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 else b"=%02X" % c
                for c in piece
            )
        words.append(b"=?" + charset.encode() + b"?" + encoded + b"?=")
    return b" ".join(words)


@st.composite
def _raw_name(draw: st.DrawFn) -> bytes:
    """A name in raw UTF-8 (RFC 6532), quoted (with escapes) or not, up to the line limit."""
    text = " ".join(draw(st.text(_NAME_CHARS, min_size=1, max_size=1000)).split())
    if not text:
        text = "x"
    if draw(st.booleans()):
        return b'"' + text.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'
    return text.replace('"', "").replace("<", "").replace(">", "").encode() or b"x"


def _fold(value: bytes, width: int) -> bytes:
    """``value`` folded at its spaces before ``width`` columns where it can be (RFC 5322 3.2.2)."""
    out: list[bytes] = []
    line = b""
    for word in value.split(b" "):
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = line + b" " + word if line else word
    out.append(line)
    return b"\r\n ".join(out)


_ADDRESSES = st.one_of(
    st.emails().filter(lambda a: len(a) <= 200),
    st.sampled_from(["jürgen@münchen.example", "o'brien+tag@example.ie", "bad address"]),
)


@st.composite
def _from_field(draw: st.DrawFn) -> bytes:
    name = draw(st.one_of(st.just(b""), _encoded_name(), _raw_name()))
    address = draw(_ADDRESSES).encode()
    if name and draw(st.booleans()):  # a second mailbox after a comma
        name = name + b" <first@example.org>, " + draw(_raw_name())
    value = name + b" <" + address + b">" if name else address
    return b"From: " + _fold(value, draw(st.integers(40, 990)))


_HEADER_TEXT = st.text(
    st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=200
).map(lambda t: " ".join(t.split()) or "x")
_OTHER_FIELD = st.tuples(
    st.sampled_from(
        [
            "To",
            "Cc",
            "Subject",
            "Date",
            "MIME-Version",
            "Content-Type",
            "References",
            "In-Reply-To",
            "Reply-To",
            "Sender",
            "Return-Path",
            "Message-ID",
            "DKIM-Signature",
            "X-SES-Spam-Verdict",
            "X-Forward-Hops",
            "X-Mailer",
            "Received",
        ]
    ),
    _HEADER_TEXT,
).map(lambda nv: (nv[0] + ": " + nv[1]).encode())

#: What the forwarder removes (its module docstring gives the reasons); every other field stays.
_REMOVED = {
    "from",
    "sender",
    "return-path",
    "message-id",
    "dkim-signature",
    "domainkey-signature",
    "bcc",
    "x-forward-hops",
    "x-original-from",
    "x-original-to",
    "x-original-message-id",
}
#: Fields SES accepts once (Amazon SES header fields); To and Cc are not among them.
_ONCE = {"subject", "date", "mime-version", "content-type", "references"}
_ONCE |= {"in-reply-to", "reply-to"}
_ADDED = {"from", "reply-to", "x-original-from", "x-original-to", "x-original-message-id"}
_ADDED |= {"x-forward-hops"}


def _defect_names(name: str, value: str) -> list[str]:
    header = email_policy.default.header_factory(name, value)
    return sorted(type(d).__name__ for d in header.defects)


@FUZZ
@given(
    from_field=_from_field(),
    before=st.lists(_OTHER_FIELD, max_size=4),
    after=st.lists(_OTHER_FIELD, max_size=8),
    body=st.binary(max_size=300),
)
@example(
    from_field="From: Jürgen Müller-Lüdenscheidt <juergen@example.de>".encode(),
    before=[],
    after=list(LATER_FIELDS),
    body=BODY,
)
def test_the_rewrite_keeps_the_message_intact_for_any_name(
    from_field: bytes, before: list[bytes], after: list[bytes], body: bytes
) -> None:
    raw = b"\r\n".join([*before, from_field, *after]) + b"\r\n\r\n" + body
    section = read_header_section(io.BytesIO(raw))
    result = rewrite_headers(
        section, from_address=FROM, recipient=RECIPIENT, envelope_sender="bounce@example.net"
    )
    copy = result.header + raw[section.body_offset :]

    # The body is byte-identical, and the header section ends exactly where it was written.
    again = read_header_section(io.BytesIO(copy))
    assert again.body_offset == len(result.header)
    assert not again.separator_missing
    assert copy[again.body_offset :] == body

    # Every line of the header section is at most 998 characters (RFC 5322 2.1.1), every line
    # ends with CRLF, and every encoded word the rewrite wrote is at most 75 (RFC 2047 2).
    lines = result.header.split(b"\r\n")
    assert max(len(line) for line in lines) <= 998
    assert not any(b"\r" in line or b"\n" in line for line in lines)
    written = again.fields[: _count_added(again)]
    assert {f.key for f in written} <= _ADDED
    written_raw = b"".join(f.raw for f in written)
    assert written_raw.isascii()
    for word in ENCODED_WORD.findall(written_raw):
        assert len(word) <= 75

    # Every field of the input stays, in order, but those the forwarder removes.
    seen: set[str] = set()
    expected: list[bytes] = []
    for item in section.fields:
        if item.key in _REMOVED or item.key.startswith("x-ses-"):
            continue
        if item.key in _ONCE and item.key in seen:
            continue
        seen.add(item.key)
        expected.append(item.raw)
    assert [f.raw for f in again.fields[_count_added(again) :]] == expected

    # The copy re-parses with no new defects: the written fields have none, the kept ones
    # those they had, and the message none it did not have.
    message = parsed(copy)
    original = message_from_bytes(raw, policy=email_policy.default)
    for item in written:
        assert _defect_names(item.name, item.value) == [], item.raw
    before_defects = {type(d).__name__ for d in original.defects}
    assert {type(d).__name__ for d in message.defects} <= before_defects

    # One From, the verified address; the hop counter one more than it was.
    froms = message.get_all("From") or []
    assert len(froms) == 1 and froms[0].addresses[0].addr_spec == FROM
    assert hop_count(again) == hop_count(section) + 1
    assert read_headers(message).from_[0].name.endswith(f"via {RECIPIENT}")


def _count_added(section: HeaderSection) -> int:
    """The rewrite writes its fields first: From, [Reply-To], X-Original-*, X-Forward-Hops."""
    for index, item in enumerate(section.fields):
        if item.key == "x-forward-hops":
            return index + 1
    raise AssertionError("no X-Forward-Hops field written")

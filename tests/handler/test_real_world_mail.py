"""Shapes of real-world mail that other parsers read and the stdlib's ``policy.default`` does not.

Each has a message in the corpus (``emails/``, sources in its README) and a property-based test
of the reading over generated values.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import handler
import pytest
from handler_support import (
    BUCKET,
    FUZZ,
    MESSAGE_ID,
    RAW_PREFIX,
    FakeLambdaContext,
    document_key,
    documented_event,
    email_bytes,
    read_json,
)
from hypothesis import given
from hypothesis import strategies as st
from ses_mail import Address, parse_message
from ses_mail.forwarding import read_header_section, rewrite_headers

# --- the address in angle brackets is the mailbox --------------------------------------------


def test_a_display_name_that_looks_like_an_address_is_not_the_mailbox() -> None:
    # A test message of the mail-parser project (see emails/README.md).
    headers = parse_message(email_bytes("display-name-address.eml")).headers

    assert headers.from_ == (Address("alice@example.com", "bob@example.com"),)
    assert headers.to == (
        Address("Charlie Brown", "charlie@example.com"),
        Address("", "dave@example.com"),
    )
    assert headers.cc == (Address("eve@example.com", "frank@example.com"),)
    assert headers.reply_to == (Address("henry@example.com", "ivan@example.com"),)


def test_the_phishing_form_is_recorded_as_a_defect() -> None:
    raw = b"From: billing@bank.example <attacker@evil.example>\r\n\r\nPay now.\r\n"
    parsed = parse_message(raw)
    assert parsed.headers.from_ == (Address("billing@bank.example", "attacker@evil.example"),)
    assert any("from header: a display name with special characters" in d for d in parsed.defects)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "Team: a@b.example <c@d.example>, e <f@g.example>;",
            [Address("a@b.example", "c@d.example"), Address("e", "f@g.example")],
        ),
        (
            '"q@x.example" <r@s.example>, t@u.example <v@w.example>',
            [Address("q@x.example", "r@s.example"), Address("t@u.example", "v@w.example")],
        ),
        ("[Support] <help@example.com>", [Address("[Support]", "help@example.com")]),
        ("plain@example.com", [Address("", "plain@example.com")]),
        ("undisclosed-recipients:;", []),
    ],
)
def test_address_lists_with_unquoted_specials(value: str, expected: list[Address]) -> None:
    raw = f"To: {value}\r\n\r\nx\r\n".encode()
    assert list(parse_message(raw).headers.to) == expected


def test_the_forwarder_replies_to_the_address_in_angle_brackets() -> None:
    raw = b"From: billing@bank.example <attacker@evil.example>\r\nSubject: x\r\n\r\nbody\r\n"
    section = read_header_section(io.BytesIO(raw))
    result = rewrite_headers(
        section,
        from_address="support@example.com",
        recipient="support@example.com",
        envelope_sender="bounce@example.net",
    )
    assert result.reply_to == '"billing@bank.example" <attacker@evil.example>'


_PHRASE_CHARS = st.characters(
    whitelist_categories=["Lu", "Ll", "Nd"], whitelist_characters="@.-_!#$%&'*+/=?^`{|}~[] "
)
_LOCAL = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789.-_+"), min_size=1)


@FUZZ
@given(
    names=st.lists(
        st.tuples(st.text(_PHRASE_CHARS, min_size=1, max_size=40), _LOCAL),
        min_size=1,
        max_size=4,
    )
)
def test_any_unquoted_name_with_an_at_sign_keeps_its_angle_address(
    names: list[tuple[str, str]],
) -> None:
    mailboxes: list[Address] = []
    fields: list[str] = []
    for index, (text, local) in enumerate(names):
        name = " ".join(text.split()) or "x"
        name = name if "@" in name else name + "@x"
        local = local.strip(".").replace("..", ".") or "a"
        address = f"{local}@host{index}.example"
        fields.append(f"{name} <{address}>")
        mailboxes.append(Address(name, address))
    raw = ("From: " + ", ".join(fields) + "\r\n\r\nx\r\n").encode()
    found = parse_message(raw).headers.from_
    assert [m.address for m in found] == [m.address for m in mailboxes]
    assert [" ".join(m.name.split()) for m in found] == [m.name for m in mailboxes]


# --- an unquoted boundary holding "=" --------------------------------------------------------


def test_an_outlook_style_unquoted_boundary_splits_the_message() -> None:
    parsed = parse_message(email_bytes("outlook-unquoted-boundary.eml"))

    assert parsed.text == "Hallo,\n\ndie Lieferung für KW 50 ist unterwegs.\n\nGrüße\nLisa\n"
    assert parsed.html is not None and "die Lieferung für KW 50 ist unterwegs." in parsed.html
    assert [(a.part_id, a.filename, a.content_type) for a in parsed.attachments] == [
        ("2", "Lieferschein.txt", "text/plain")
    ]
    assert parsed.attachments[0].read() == b"Lieferschein 4711\nPosition 1: 20 Kisten\n"
    assert parsed.defects == []


_BCHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_-./:=?"


def _multipart(boundary_param: str, boundary: str) -> bytes:
    return (
        "From: a@example.com\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/alternative; {boundary_param}; charset=x\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
        f"--{boundary}\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
        f"--{boundary}--\r\n"
    ).encode()


@FUZZ
@given(boundary=st.text(st.sampled_from(_BCHARS), min_size=1, max_size=70))
def test_any_boundary_reads_the_same_quoted_or_not(boundary: str) -> None:
    # RFC 2046 section 5.1.1: a boundary is 1 to 70 of these characters (no final space).
    quoted = parse_message(_multipart(f'boundary="{boundary}"', boundary))
    unquoted = parse_message(_multipart(f"boundary={boundary}", boundary))
    assert (quoted.text, quoted.html) == ("plain", "<p>html</p>")
    assert (unquoted.text, unquoted.html) == ("plain", "<p>html</p>")
    assert unquoted.attachments == [] and unquoted.defects == quoted.defects


# --- unquoted file names ----------------------------------------------------------------------


def test_unquoted_encoded_and_spaced_file_names_are_read_whole() -> None:
    parsed = parse_message(email_bytes("unquoted-filenames.eml"))
    assert [a.filename for a in parsed.attachments] == [
        "Счёт на оплату №17.pdf",
        "Annual report 2026.pdf",
        "Q3 figures final.csv",
    ]
    assert [a.safe_name for a in parsed.attachments][1] == "Annual report 2026.pdf"


def test_quoted_and_rfc2231_file_names_are_left_to_the_stdlib() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b'--b\r\nContent-Disposition: attachment; filename="a; b.txt"\r\n\r\nx\r\n'
        b"--b\r\nContent-Disposition: attachment; filename*=utf-8''%C3%A4%20b.txt\r\n\r\nx\r\n"
        b"--b\r\nContent-Disposition: attachment; filename*0=long; filename*1=name.txt\r\n\r\nx\r\n"
        b"--b--\r\n"
    )
    assert [a.filename for a in parse_message(raw).attachments] == [
        "a; b.txt",
        "ä b.txt",
        "longname.txt",
    ]


_NAME = st.text(
    st.characters(blacklist_categories=["Cs", "Cc", "Cf", "Zl", "Zp"], blacklist_characters=';"\\'),
    min_size=1,
    max_size=60,
).map(lambda t: " ".join(t.split()))


@FUZZ
@given(name=_NAME.filter(bool), form=st.sampled_from(["encoded", "spaced"]))
def test_any_unquoted_file_name_is_read_whole(name: str, form: str) -> None:
    if form == "encoded":
        value = "=?utf-8?B?" + base64.b64encode(name.encode()).decode() + "?="
    else:
        name = name.encode("ascii", "ignore").decode().strip() or "report.pdf"
        name = " ".join(name.split())
        value = name
    raw = (
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        f"--b\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Disposition: attachment; filename={value}\r\n\r\nx\r\n--b--\r\n"
    ).encode()
    (attachment,) = parse_message(raw).attachments
    assert attachment.filename == name


# --- content after the closing boundary -------------------------------------------------------


def test_a_part_after_the_closing_boundary_is_recorded_in_message_json(
    s3: Any, schema_validator: Any
) -> None:
    raw = email_bytes("after-closing-boundary.eml")
    s3.put_object(Bucket=BUCKET, Key=f"{RAW_PREFIX}{MESSAGE_ID}", Body=raw)

    handler.lambda_handler(documented_event(), FakeLambdaContext())

    document = read_json(s3, document_key())
    schema_validator.validate(document)
    assert [a["filename"] for a in document["attachments"]] == ["invoice.pdf"]
    assert document["defects"] == [
        "part root: 268 bytes after the closing boundary that looks like a MIME part were"
        " ignored (RFC 2046 section 5.1.1)"
    ]


@pytest.mark.parametrize(
    ("epilogue", "defect"),
    [
        (b"", None),
        (b"\r\n\r\n  \r\n", None),
        (b"A list footer\r\n", "part root: 13 bytes after the closing boundary were ignored"),
    ],
)
def test_only_content_after_the_closing_boundary_is_a_defect(
    epilogue: bytes, defect: str | None
) -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n--b--\r\n" + epilogue
    )
    defects = parse_message(raw).defects
    assert defects == ([] if defect is None else [f"{defect} (RFC 2046 section 5.1.1)"])


# --- display names whose encoded words do not decode -----------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (b"=?utf-8?B?SsO=?= =?utf-8?B?vHJnZW4=?=", "Jürgen"),  # a character split in two
        (b"=?utf-8?Q?M=FCller?=", "Müller"),  # Latin-1 labelled UTF-8
        (b"=?unknown-8bit?Q?M=FCller?=", "Müller"),
        (b"=?utf-8?B?w6E=?= =?utf-8?B?/w==?=", "áÿ"),
    ],
)
def test_display_names_with_undecodable_bytes_are_read_as_text(value: bytes, name: str) -> None:
    raw = b"From: " + value + b" <j@example.de>\r\n\r\nx\r\n"
    assert parse_message(raw).headers.from_ == (Address(name, "j@example.de"),)

"""MIME parsing of the .eml corpus: headers, bodies, charsets, attachments, defects."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
from handler_support import EMAILS, email_bytes
from ses_mail import Address, parse_message


def test_plain_message_headers_are_all_read() -> None:
    parsed = parse_message(email_bytes("plain-7bit.eml"))

    headers = parsed.headers
    assert headers.from_ == (Address("Jane Doe", "janedoe@example.com"),)
    assert headers.to == (
        Address("John Doe", "johndoe@example.com"),
        Address("", "support@example.com"),
    )
    assert headers.cc == (Address("Team, Sales", "sales@example.com"),)
    assert headers.reply_to == (Address("Jane", "jane.doe@work.example.org"),)
    assert headers.subject == "Quarterly numbers"
    assert headers.date == "Wed, 7 Oct 2015 12:34:56 -0700"
    assert headers.date_iso == "2015-10-07T12:34:56-07:00"
    assert headers.message_id == "<0123456789@mailer.example.com>"
    assert headers.in_reply_to == "<parent-1@example.com>"
    assert headers.references == ("<root-0@example.com>", "<parent-1@example.com>")
    assert parsed.text == "Hello John,\n\nthe numbers are attached to the next mail.\n\nJane\n"
    assert parsed.html is None
    assert parsed.attachments == []
    assert parsed.defects == []
    assert parsed.size == len(email_bytes("plain-7bit.eml"))


def test_multipart_alternative_with_crlf_and_encoded_headers() -> None:
    raw = email_bytes("multipart-alternative.eml")
    assert b"\r\n" in raw  # stored the way SES stores mail

    parsed = parse_message(raw)

    assert parsed.headers.from_ == (Address("Jürgen Müller", "juergen@example.de"),)
    assert parsed.headers.subject == "Réunion de lancement 📅"
    assert parsed.text == "Hallo John,\n\nviele Grüße aus Köln!\n"
    assert parsed.html == '<div dir="ltr">Hallo John,<br><br>viele Grüße aus Köln!</div>\n'
    assert parsed.attachments == []


def test_nested_multipart_finds_bodies_inline_image_and_attachment() -> None:
    parsed = parse_message(email_bytes("nested-multipart.eml"))

    assert parsed.text == "Please find the report attached."
    assert parsed.html is not None and 'src="cid:logo@example.com"' in parsed.html
    image, report = parsed.attachments
    assert (image.index, image.part_id, image.content_type) == (0, "1.2", "image/png")
    assert (image.disposition, image.content_id, image.filename) == (
        "inline",
        "logo@example.com",
        None,
    )
    assert image.safe_name == "part.png"
    assert image.read().startswith(b"\x89PNG\r\n")
    assert (report.index, report.part_id, report.filename) == (1, "2", "report.pdf")
    assert (report.content_type, report.disposition) == ("application/pdf", "attachment")
    content = report.read()
    assert content.startswith(b"%PDF-1.4") and content.endswith(b"%%EOF\n")
    assert report.size == len(content)
    assert report.sha256 == hashlib.sha256(content).hexdigest()


def test_attachments_size_and_digest_are_computed_without_reading() -> None:
    parsed = parse_message(email_bytes("no-text-part.eml"))
    (scan,) = parsed.attachments
    expected = base64.b64decode(
        "JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCg=="
    )
    assert (scan.size, scan.sha256) == (len(expected), hashlib.sha256(expected).hexdigest())
    sink = io.BytesIO()
    assert scan.write_to(sink) == len(expected)
    assert sink.getvalue() == expected


def test_message_without_text_part() -> None:
    parsed = parse_message(email_bytes("no-text-part.eml"))
    assert parsed.text is None and parsed.html is None
    assert [a.filename for a in parsed.attachments] == ["scan_0001.pdf"]


def test_html_only_message() -> None:
    parsed = parse_message(email_bytes("html-only.eml"))
    assert parsed.text is None
    assert parsed.html == "<html><body><h1>Neuigkeiten</h1><p>Schöne Grüße</p></body></html>\n"
    assert parsed.headers.subject == "Neuigkeiten für Sie"


def test_quoted_printable_body() -> None:
    parsed = parse_message(email_bytes("quoted-printable.eml"))
    assert parsed.text == (
        "A long line that is wrapped with a soft line break so that no line is longer than "
        "seventy-six characters in transit.\n"
        "Equals sign: 1 + 1 = 2\n"
        "Umlauts: äöü €\n"
        "Trailing space kept: \n"
    )


def test_base64_body() -> None:
    parsed = parse_message(email_bytes("base64-text.eml"))
    assert parsed.text == (
        "Hello from base64.\nLänder: Österreich, Schweiz, Åland.\nNon-Latin: Привет, 世界, 😀\n"
    )


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("latin1-8bit.eml", "text", "Café crème à Paris, déjà vu.\n"),
        ("windows-1252-qp.eml", "text", "Preis: 10 €, “Angebot” gilt bis März.\n"),
        ("shift-jis-base64.eml", "text", "こんにちは世界。請求書を添付します。\n"),
        ("koi8-r-html.eml", "html", "<p>Привет, мир!</p>\n"),
        ("iso-2022-jp.eml", "text", "日本語のメールです。\n"),
        ("gb2312-base64.eml", "text", "你好，世界"),  # noqa: RUF001 - full-width comma
    ],
)
def test_non_utf8_charsets_are_decoded(name: str, body: str, expected: str) -> None:
    parsed = parse_message(email_bytes(name))
    assert getattr(parsed, body) == expected
    assert parsed.defects == []


def test_encoded_word_subject_in_a_non_utf8_charset() -> None:
    assert parse_message(email_bytes("iso-2022-jp.eml")).headers.subject == "件名です"


def test_non_ascii_attachment_names_in_every_common_form() -> None:
    parsed = parse_message(email_bytes("non-ascii-filenames.eml"))

    names = [(a.filename, a.safe_name) for a in parsed.attachments]

    assert names == [
        ("Prüfbericht – Q3.pdf", "Prüfbericht _ Q3.pdf"),  # noqa: RUF001 - RFC 2231 UTF-8
        ("報告書.txt", "報告書.txt"),  # RFC 2047 encoded word (what Gmail and Outlook send)
        ("résumé.docx", "résumé.docx"),  # raw UTF-8 bytes (RFC 6532)
        ("отчёт.xlsx", "отчёт.xlsx"),  # RFC 2231 continuation
        ("été.txt", "été.txt"),  # RFC 2231 ISO-8859-1
    ]
    assert parsed.attachments[1].read() == "報告書の本文".encode()
    assert parsed.attachments[4].read() == b"\xe9t\xe9"  # an attachment is never re-encoded


def test_attached_message_is_one_eml_attachment() -> None:
    parsed = parse_message(email_bytes("attached-message.eml"))

    assert parsed.text == "See the forwarded message below."
    assert parsed.html is None  # the forwarded message's bodies stay inside it
    (forwarded,) = parsed.attachments
    assert (forwarded.content_type, forwarded.filename) == ("message/rfc822", "original.eml")
    inner = parse_message(forwarded.read())
    assert inner.headers.subject == "Original question"
    assert inner.text == "Where is my order?"
    assert inner.html == "<p>Where is my order?</p>"


@pytest.mark.parametrize(
    "inner",
    [
        b"From: inner@example.com\r\nSubject: a\x0bb\x0cc\x1cd\x85e\r\n\r\nbody\r\n",
        b"  continued: the first line is a continuation\r\nFrom: inner@example.com\r\n\r\nx\r\n",
        b"From: inner@example.com\nSubject: " + b"long " * 40 + b"\n\n\xc3\xa9t\xc3\xa9\n",
    ],
    ids=["control-characters", "continuation-first", "lf-only-8bit-long-subject"],
)
def test_attached_message_is_stored_as_the_bytes_that_arrived(inner: bytes) -> None:
    raw = (
        b"From: fwd@example.com\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--b1--\r\n"
    )
    (attached,) = parse_message(raw).attachments

    assert attached.content_type == "message/rfc822"
    assert attached.read() == inner  # never re-serialised (that differs between Pythons)
    assert attached.size == len(inner)


def test_malformed_mime_is_read_as_far_as_possible_and_defects_listed() -> None:
    parsed = parse_message(email_bytes("malformed-mime.eml"))

    assert parsed.headers.from_ == (Address("broken sender", "broken@example.net"),)
    assert parsed.headers.date == "not a date at all"
    assert parsed.headers.date_iso is None
    assert parsed.text == "Body in an unknown charset: café"
    assert parsed.html == "<p>truncated html"
    (broken,) = parsed.attachments
    assert broken.read() == b"hello world"
    text = "\n".join(parsed.defects)
    assert "CloseBoundaryNotFoundDefect" in text
    assert "unknown charset 'x-no-such-charset'" in text
    assert "outside the alphabet" in text
    assert "padding is missing" in text


def test_malformed_headers_end_the_header_block_like_the_stdlib() -> None:
    parsed = parse_message(email_bytes("malformed-headers.eml"))

    assert parsed.text is not None and parsed.text.startswith("This line is not a header\n")
    assert parsed.headers.subject == "=?utf-8?q?unterminated encoded word"
    assert "part root: MissingHeaderBodySeparatorDefect" in parsed.defects
    assert any(d.startswith("to header:") for d in parsed.defects)


@pytest.mark.parametrize("name", sorted(p.name for p in EMAILS.glob("*.eml")))
def test_every_fixture_parses_the_same_from_bytes_file_and_chunks(name: str) -> None:
    raw = email_bytes(name)
    from_bytes = parse_message(raw)
    from_file = parse_message(io.BytesIO(raw))
    from_chunks = parse_message(raw[i : i + 7] for i in range(0, len(raw), 7))
    for other in (from_file, from_chunks):
        assert other.headers == from_bytes.headers
        assert (other.text, other.html) == (from_bytes.text, from_bytes.html)
        assert [a.sha256 for a in other.attachments] == [a.sha256 for a in from_bytes.attachments]


def test_release_frees_the_payload_and_forbids_reading() -> None:
    parsed = parse_message(email_bytes("nested-multipart.eml"))
    report = parsed.attachments[1]
    digest = report.sha256
    report.release()
    assert report.sha256 == digest  # known values stay
    with pytest.raises(RuntimeError, match="released"):
        report.read()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"From: a@example.com junk", (Address("", "a@example.com"),)),
        (
            b"From: b@example.com (note) trailing, c@example.com",
            (Address("", "b@example.com"), Address("", "c@example.com")),
        ),
        (b"From: user@[IPv6:2001:db8::1], <>", (Address("", "user@[IPv6:2001:db8::1]"),)),
        (
            b"From: =?utf-8?q?J=C3=BCrgen?= =?utf-8?q?_M=C3=BCller?= <jm@example.com>",
            (Address("Jürgen Müller", "jm@example.com"),),
        ),
    ],
    ids=["trailing-text", "comment-and-trailing-text", "null-address", "adjacent-encoded-words"],
)
def test_address_headers_read_the_same_on_every_python(
    header: bytes, expected: tuple[Address, ...]
) -> None:
    parsed = parse_message(header + b"\r\nSubject: s\r\n\r\nbody\r\n")
    assert parsed.headers.from_ == expected

"""Hostile and broken MIME: every case ends in a parsed message or a named limit, within bounds."""

from __future__ import annotations

import base64
import os
import tracemalloc
from collections.abc import Iterator

import pytest
from handler_support import email_bytes
from ses_mail import (
    ParseLimits,
    UnparseableMessageError,
    estimate_parse_memory,
    parse_message,
)

HEAD = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: s\r\n"


def nested(depth: int) -> bytes:
    body = b"Content-Type: text/plain\r\n\r\ndeepest text\r\n"
    for level in range(depth):
        boundary = b"level%d" % level
        body = (
            b"Content-Type: multipart/mixed; boundary="
            + boundary
            + b"\r\n\r\n--"
            + boundary
            + b"\r\n"
            + body
            + b"--"
            + boundary
            + b"--\r\n"
        )
    return HEAD + body


def many_parts(count: int) -> bytes:
    parts = b"".join(
        b"--p\r\nContent-Type: application/octet-stream\r\n\r\nx%d\r\n" % index
        for index in range(count)
    )
    return HEAD + b"Content-Type: multipart/mixed; boundary=p\r\n\r\n" + parts + b"--p--\r\n"


def test_moderate_nesting_is_parsed_iteratively() -> None:
    parsed = parse_message(nested(60))
    assert parsed.text == "deepest text"


def test_fails_when_nesting_exceeds_what_the_parser_can_follow() -> None:
    with pytest.raises(UnparseableMessageError) as raised:
        parse_message(nested(3000), ParseLimits(max_parts=1_000_000))
    assert raised.value.code == "nesting_too_deep"


def test_fails_when_there_are_more_parts_than_the_limit() -> None:
    with pytest.raises(UnparseableMessageError) as raised:
        parse_message(many_parts(5000))
    assert raised.value.code == "too_many_parts"
    assert "1000" in raised.value.problem


def test_deep_nesting_meets_the_part_limit_first_by_default() -> None:
    with pytest.raises(UnparseableMessageError) as raised:
        parse_message(nested(1500))
    assert raised.value.code in ("too_many_parts", "nesting_too_deep")


def test_hundreds_of_parts_within_the_limit_are_all_listed() -> None:
    parsed = parse_message(many_parts(900))
    assert len(parsed.attachments) == 900
    assert parsed.attachments[899].read() == b"x899"
    assert len({a.part_id for a in parsed.attachments}) == 900


def test_fails_when_there_are_too_many_header_fields() -> None:
    bomb = b"".join(b"X-H%d: v\r\n" % i for i in range(20_000))
    with pytest.raises(UnparseableMessageError) as raised:
        parse_message(HEAD + bomb + b"\r\nbody")
    assert raised.value.code == "too_many_headers"


def test_huge_address_header_is_cut_before_structured_parsing() -> None:
    # 50,000 recipients in one To header: unbounded, the stdlib parser is super-linear
    to = b", ".join(b"user%d@example.com" % i for i in range(50_000))
    parsed = parse_message(b"From: a@example.com\r\nTo: " + to + b"\r\n\r\nbody")
    assert 1000 < len(parsed.headers.to) < 2000
    assert parsed.headers.to[0].address == "user0@example.com"
    assert any("to header has" in d and "only the first 32768" in d for d in parsed.defects)
    assert parsed.text == "body"


def test_thousands_of_encoded_words_are_cut_before_decoding() -> None:
    subject = b" ".join(b"=?utf-8?q?caf=C3=A9?=" for _ in range(20_000))
    parsed = parse_message(b"Subject: " + subject + b"\r\n\r\nbody")
    assert parsed.headers.subject is not None and parsed.headers.subject.startswith("cafécafé")
    assert any(d.startswith("subject header has") for d in parsed.defects)


def test_deeply_nested_comments_in_an_address_fall_back_to_lenient_reading() -> None:
    raw = b"From: " + b"(" * 3000 + b"x" + b")" * 3000 + b" a@example.com\r\n\r\nbody"
    parsed = parse_message(raw)
    assert parsed.text == "body"
    assert any(d.startswith("from header not parseable (RecursionError)") for d in parsed.defects)


def test_fails_when_a_line_bomb_would_exhaust_memory() -> None:
    # GIVEN 3 MB of empty lines (each line costs the stdlib parser a Python object)
    limits = ParseLimits(max_parse_memory=8 * 1024 * 1024)
    bomb = HEAD + b"\r\n" + b"\n" * 3_000_000

    # WHEN it is parsed, THEN parsing stops at the memory estimate, before the memory is spent
    tracemalloc.start()
    try:
        with pytest.raises(UnparseableMessageError) as raised:
            parse_message(iter([bomb[i : i + 65536] for i in range(0, len(bomb), 65536)]), limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert raised.value.code == "too_many_lines"
    assert peak < 2 * limits.max_parse_memory + len(bomb)  # the input list itself is counted


def test_fails_when_the_message_is_larger_than_the_limit() -> None:
    def stream() -> Iterator[bytes]:
        yield HEAD + b"\r\n"
        while True:  # an endless body: the limit, not the input, ends parsing
            yield b"A" * 76 + b"\r\n"

    with pytest.raises(UnparseableMessageError) as raised:
        parse_message(stream(), ParseLimits(max_bytes=100_000))
    assert raised.value.code == "too_large"


def test_estimate_covers_ordinary_mail_within_three_times_its_size() -> None:
    # base64 attachments have 78-byte lines: 2x + 80 bytes per line is about 3x
    size = 40 * 1024 * 1024
    assert estimate_parse_memory(size, size // 78) < 3.1 * size


def test_parser_peak_memory_stays_near_three_times_the_message() -> None:
    # GIVEN a 4 MB message, nearly all of it one base64 attachment
    content = os.urandom(3_000_000)
    raw = (
        HEAD + b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain"
        b"\r\n\r\nhi\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(content).replace(b"\n", b"\r\n")
        + b"--b--\r\n"
    )

    # WHEN it is parsed from a file and its attachment streamed out
    import io

    class Sink(io.RawIOBase):
        def write(self, data: object) -> int:
            return len(data)  # type: ignore[arg-type]

    source = io.BytesIO(raw)
    tracemalloc.start()
    try:
        parsed = parse_message(source)
        (attachment,) = parsed.attachments
        attachment.write_to(Sink())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # THEN the peak stays within the parser's own estimate plus one feed chunk (about 3x here)
    assert attachment.size == len(content)
    assert peak < estimate_parse_memory(len(raw), raw.count(b"\n")) + 1024 * 1024
    assert peak < 3.1 * len(raw)


@pytest.mark.parametrize(
    ("encoding", "body", "expected"),
    [
        ("base64", b"!!!!", b""),
        ("base64", b"====", b""),
        ("base64", b"aGVsbG8=d29ybGQ=", b"helloworld"),  # concatenated encodings
        ("base64", b"aGVs\xffbG8=", b"hello"),  # an 8-bit byte inside
        ("base64", b"a", b""),
        ("quoted-printable", b"=ZZ=4", b"=ZZ=4"),
        ("x-made-up", b"raw bytes", b"raw bytes"),
        ("7bit", b"nul\x00byte", b"nul\x00byte"),
        ("x-uuencode", b"begin 644 f\n%:&5L;&\\\n`\nend\n", b"hello"),
    ],
)
def test_invalid_transfer_encodings_are_decoded_leniently(
    encoding: str, body: bytes, expected: bytes
) -> None:
    raw = (
        HEAD
        + b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: "
        + encoding.encode()
        + b"\r\n\r\n"
        + body
    )
    (attachment,) = parse_message(raw).attachments
    assert attachment.read() == expected


@pytest.mark.parametrize("charset", ["punycode", "idna", "zlib", "base64", "x-none", "a" * 200, ""])
def test_unusable_charsets_fall_back_to_utf8(charset: str) -> None:
    raw = HEAD + b'Content-Type: text/plain; charset="' + charset.encode() + b'"\r\n\r\ncaf\xc3\xa9'
    assert parse_message(raw).text == "café"


def test_eight_bit_garbage_in_headers_is_decoded() -> None:
    raw = b"From: \xff\xfe <a@example.com>\r\nSubject: caf\xe9 \xc3\xa9\r\n\r\nbody"
    parsed = parse_message(raw)
    assert parsed.headers.subject is not None
    assert parsed.headers.from_[0].address == "a@example.com"


def test_content_type_with_control_characters_becomes_octet_stream() -> None:
    raw = HEAD + b"Content-Type: app\x01lication/x\r\n\r\nbody"
    (attachment,) = parse_message(raw).attachments
    assert attachment.content_type == "application/octet-stream"


@pytest.mark.parametrize("cut", range(40, len(email_bytes("nested-multipart.eml")), 97))
def test_truncated_messages_parse_as_far_as_they_go(cut: int) -> None:
    parsed = parse_message(email_bytes("nested-multipart.eml")[:cut])
    for attachment in parsed.attachments:
        assert attachment.size == len(attachment.read())


def test_random_bytes_are_a_message_too() -> None:
    parsed = parse_message(os.urandom(20_000))
    assert parsed.size == 20_000

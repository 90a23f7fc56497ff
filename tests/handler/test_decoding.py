"""The sliced Content-Transfer-Encoding decoders, on payloads larger than one slice.

Every decoded result is compared with the stdlib's own decoding of the same payload (the
reference the sliced decoders replace), and every yielded piece is checked against the slice
bound that keeps decoding memory at one slice.
"""

from __future__ import annotations

import base64
import binascii
import os
import quopri
from email.message import Message

import pytest
from handler_support import FUZZ
from hypothesis import given
from hypothesis import strategies as st
from ses_mail.decoding import SLICE_CHARS, iter_decoded, raw_header, transfer_encoding


def part(payload: str | None, encoding: str | None) -> Message:
    message = Message()
    if encoding is not None:
        message["Content-Transfer-Encoding"] = encoding
    if payload is not None:
        message.set_payload(payload)
    return message


def decode(message: Message) -> tuple[list[bytes], list[str]]:
    defects: list[str] = []
    pieces = list(iter_decoded(message, defects))
    return pieces, defects


def lines_of(data: bytes, width: int = 76) -> str:
    text = base64.b64encode(data).decode("ascii")
    return "".join(text[i : i + width] + "\r\n" for i in range(0, len(text), width))


# --- base64 -----------------------------------------------------------------------------------


def test_base64_over_several_slices_decodes_like_the_stdlib_in_bounded_pieces() -> None:
    data = os.urandom(2 * SLICE_CHARS)
    message = part(lines_of(data), "base64")
    pieces, defects = decode(message)
    assert b"".join(pieces) == data == message.get_payload(decode=True)
    assert defects == []
    assert len(pieces) >= 3  # 2.7 MiB of base64 text: three slices
    assert all(len(piece) <= SLICE_CHARS for piece in pieces)


@pytest.mark.parametrize("shift", [1, 2, 3, 5])
def test_base64_in_one_line_with_foreign_characters_carries_groups_across_slices(
    shift: int,
) -> None:
    # One line longer than a slice: the cut is inside the line, and `shift` foreign characters
    # at the start move every 4-character group across the slice boundary. Both slices need
    # the repair; the skipped characters are reported once.
    data = os.urandom(SLICE_CHARS)
    text = "!" * shift + base64.b64encode(data).decode("ascii") + "!"
    pieces, defects = decode(part(text, "base64"))
    assert b"".join(pieces) == data
    assert len(pieces) >= 2 and all(len(piece) <= SLICE_CHARS for piece in pieces)
    assert defects == ["base64 data has characters outside the alphabet; they were skipped"]


def test_base64_foreign_characters_are_reported_once_and_line_breaks_never() -> None:
    data = os.urandom(SLICE_CHARS)
    text = lines_of(data)
    middle = len(text) // 2
    noisy = "*" + text[:middle] + "#" + text[middle:] + "*"
    pieces, defects = decode(part(noisy, "base64"))
    assert b"".join(pieces) == data
    assert defects == ["base64 data has characters outside the alphabet; they were skipped"]
    pieces, defects = decode(part(text.replace("\r\n", "\n"), "base64"))
    assert b"".join(pieces) == data and defects == []


@pytest.mark.parametrize(
    ("text", "expected", "defects"),
    [
        ("QUJD", b"ABC", []),
        ("QUI=", b"AB", []),
        ("QUI", b"AB", ["base64 padding is missing; it was added"]),
        ("QQ", b"A", ["base64 padding is missing; it was added"]),
        ("QUJDR", b"ABC", ["base64 data has a stray final character; it was dropped"]),
        ("QUJDR=", b"ABC", ["base64 data has a stray final character; it was dropped"]),
        (
            "QUJDQUJDR==QQ==",
            b"ABCABCA",
            ["base64 data has a stray final character; it was dropped"],
        ),
        # Concatenated encodings: the text after each padding starts a new group.
        ("QQ==QUI=QUJD", b"AABABC", []),
        ("QQ==\r\nQUI=\r\nQUJD\r\n", b"AABABC", []),
        ("QQ===QUI", b"AAB", ["base64 padding is missing; it was added"]),
        ("QQ=QUJD", b"AABC", ["base64 padding is missing; it was added"]),  # one "=" of two
        ("QQ==XX", b"A]", ["base64 padding is missing; it was added"]),
        ("==QUJD!", b"ABC", ["base64 data has characters outside the alphabet; they were skipped"]),
        # Whole groups around a stray character: skipped and reported.
        ("QU!JD", b"ABC", ["base64 data has characters outside the alphabet; they were skipped"]),
        (
            "QUJD QUJD",
            b"ABCABC",
            ["base64 data has characters outside the alphabet; they were skipped"],
        ),
        ("====", b"", []),
        ("", b"", []),
    ],
)
def test_base64_repairs(text: str, expected: bytes, defects: list[str]) -> None:
    pieces, found = decode(part(text, "base64"))
    assert b"".join(pieces) == expected
    assert found == defects


def test_base64_padding_in_a_later_slice_starts_a_new_group() -> None:
    first = os.urandom(SLICE_CHARS // 2 + 1)  # its encoding ends with "=" padding
    second = os.urandom(SLICE_CHARS // 2)
    text = lines_of(first) + lines_of(second)
    pieces, defects = decode(part(text, "base64"))
    assert b"".join(pieces) == first + second
    assert defects == []


@FUZZ
@given(data=st.binary(max_size=3000), cut=st.integers(min_value=0, max_value=4000))
def test_base64_with_a_foreign_character_anywhere_decodes_the_data(data: bytes, cut: int) -> None:
    text = base64.b64encode(data).decode("ascii")
    noisy = text[:cut] + "\x07" + text[cut:]
    pieces, defects = decode(part(noisy, "base64"))
    assert b"".join(pieces) == data
    assert defects == ["base64 data has characters outside the alphabet; they were skipped"]


# --- quoted-printable ----------------------------------------------------------------------------


@pytest.mark.parametrize("before_end", [1, 2, 3, 4])
def test_quoted_printable_never_splits_an_escape_at_a_slice_boundary(before_end: int) -> None:
    # One line longer than a slice, with an escape starting `before_end` characters before the
    # slice ends: a cut inside "=C3" would decode as a literal "=" and two letters.
    head = "a" * (SLICE_CHARS - before_end)
    text = head + "=C3=A4" + "b" * 100
    message = part(text, "quoted-printable")
    pieces, defects = decode(message)
    assert (
        b"".join(pieces)
        == message.get_payload(decode=True)
        == head.encode() + "ä".encode() + b"b" * 100
    )
    assert defects == []
    assert all(len(piece) <= SLICE_CHARS for piece in pieces)


def test_quoted_printable_over_several_slices_decodes_like_the_stdlib() -> None:
    text = "Grüße aus Köln = 1 + 1, " * 100_000  # about 2.5 MB, lines of 76 with soft breaks
    encoded = quopri.encodestring(text.encode("utf-8")).decode("ascii")
    message = part(encoded, "quoted-printable")
    pieces, defects = decode(message)
    assert b"".join(pieces) == text.encode("utf-8") == message.get_payload(decode=True)
    assert len(pieces) >= 3 and defects == []


def test_quoted_printable_cut_after_a_line_end_near_the_slice_end() -> None:
    # A line end right before the slice end is where the slice is cut; an escape after it
    # belongs to the next slice.
    text = "a" * (SLICE_CHARS - 3) + "=\n" + "=C3=A4" * 10
    pieces, _ = decode(part(text, "quoted-printable"))
    assert b"".join(pieces) == binascii.a2b_qp(text.encode())
    assert len(pieces[0]) == SLICE_CHARS - 3


# --- identity and other encodings ------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "7bit", "8bit", "binary", " 8BIT ", "Binary"])
def test_identity_encodings_keep_the_bytes_as_sent(encoding: str | None) -> None:
    text = "Café\n".encode("latin-1").decode("ascii", "surrogateescape") * 3
    pieces, defects = decode(part(text, encoding))
    assert b"".join(pieces) == "Café\n".encode("latin-1") * 3
    assert defects == []


def test_identity_payloads_are_cut_after_a_line_end_within_a_slice() -> None:
    line = "x" * 99 + "\n"
    text = line * (SLICE_CHARS // 100 + 10)
    pieces, _ = decode(part(text, "8bit"))
    assert b"".join(pieces) == text.encode()
    assert all(piece.endswith(b"\n") for piece in pieces)
    assert all(len(piece) <= SLICE_CHARS for piece in pieces)
    assert len(pieces[0]) == (SLICE_CHARS // 100) * 100


def test_a_line_longer_than_a_slice_is_cut_at_the_slice_size() -> None:
    text = "y" * (SLICE_CHARS + 10)
    pieces, _ = decode(part(text, None))
    assert [len(piece) for piece in pieces] == [SLICE_CHARS, 10]
    text = "y" * SLICE_CHARS
    assert [len(piece) for piece in decode(part(text, None))[0]] == [SLICE_CHARS]


def test_a_line_end_at_the_start_of_a_slice_does_not_end_it() -> None:
    text = "\n" + "z" * (SLICE_CHARS + 5)
    pieces, _ = decode(part(text, None))
    assert [len(piece) for piece in pieces] == [SLICE_CHARS, 6]


def test_an_unknown_encoding_keeps_the_bytes_and_is_reported() -> None:
    pieces, defects = decode(part("plain text\n", "X-Custom"))
    assert b"".join(pieces) == b"plain text\n"
    assert defects == ["unknown Content-Transfer-Encoding 'x-custom'; kept as sent"]
    long_name = "x-" + "q" * 60
    _, defects = decode(part("t", long_name))
    assert defects == [f"unknown Content-Transfer-Encoding {long_name[:40]!r}; kept as sent"]


@pytest.mark.parametrize("encoding", ["x-uuencode", "uuencode", "uue", "x-uue"])
def test_uuencoded_parts_decode_like_the_stdlib(encoding: str) -> None:
    data = b"uuencoded content\n" * 5
    text = "begin 644 file.txt\n" + binascii.b2a_uu(data[:45]).decode()
    text += binascii.b2a_uu(data[45:]).decode() + "`\nend\n"
    pieces, defects = decode(part(text, encoding))
    assert b"".join(pieces) == data
    assert defects == []


def test_a_part_without_payload_yields_nothing_and_a_multipart_is_reported() -> None:
    assert decode(part(None, "base64")) == ([], [])
    container = Message()
    container.attach(part("x", None))
    assert decode(container) == ([], ["part has no text payload"])


def test_the_encoding_and_headers_are_read_as_sent() -> None:
    message = part("x", " Quoted-\r\n Printable ")
    message["X-Other"] = "1"
    message["x-other"] = "2"
    assert transfer_encoding(message) == "quoted- printable"
    assert transfer_encoding(part("x", "\tBASE64 ")) == "base64"
    assert transfer_encoding(part("x", None)) == ""
    assert raw_header(message, "x-other") == "1"
    assert raw_header(message, "x-missing") is None


@pytest.mark.parametrize("shift", [1, 2, 3])
def test_base64_groups_carried_into_a_clean_slice_keep_their_order(shift: int) -> None:
    # The first slice needs the repair and leaves an incomplete group; the last slice is clean
    # and would decode as it is, but must start with the group carried into it.
    data = os.urandom(SLICE_CHARS)
    text = "!" * shift + base64.b64encode(data).decode("ascii")
    pieces, defects = decode(part(text, "base64"))
    assert b"".join(pieces) == data
    assert defects == ["base64 data has characters outside the alphabet; they were skipped"]


@pytest.mark.parametrize(("before_end", "first"), [(1, 1), (2, 2), (3, 2), (4, 3)])
def test_a_quoted_printable_slice_is_cut_only_before_an_escape_it_would_split(
    before_end: int, first: int
) -> None:
    # The slice ends SLICE_CHARS characters in unless that splits "=C3" or "=A4"; then it ends
    # right before the escape, and not earlier.
    head = "a" * (SLICE_CHARS - before_end)
    pieces, _ = decode(part(head + "=C3=A4" + "b" * 100, "quoted-printable"))
    assert len(pieces[0]) == SLICE_CHARS - first


def test_an_escape_far_after_the_slice_end_does_not_move_the_cut() -> None:
    text = "a" * (SLICE_CHARS - 1) + "=41" + "b" * 1000 + "=42" + "c" * 10
    pieces, _ = decode(part(text, "quoted-printable"))
    assert all(len(piece) <= SLICE_CHARS for piece in pieces)
    text = "a" * 5 + "=41" + "b" * (SLICE_CHARS + 10)
    pieces, _ = decode(part(text, "quoted-printable"))
    assert len(pieces[0]) == SLICE_CHARS - 2  # five letters, one escaped byte, then letters


def test_a_payload_of_exactly_one_slice_is_one_piece() -> None:
    text = "x\n" + "y" * (SLICE_CHARS - 2)
    assert [len(piece) for piece in decode(part(text, None))[0]] == [SLICE_CHARS]

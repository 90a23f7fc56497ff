"""The forwarding core's rules one by one: which fields the rewrite keeps and adds, the
configuration read from the environment, the destination lookup, the loop guard and the keys
of the send-once markers and outcomes."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import re
from email import message_from_bytes
from email import policy as email_policy
from email.header import decode_header, make_header
from email.message import Message

import pytest
from ses_mail import ConfigurationError, VerdictPolicy
from ses_mail.forwarding import (
    DEFAULT_FORWARD_PREFIX,
    DEFAULT_MAX_HOPS,
    ForwarderConfig,
    HeaderSection,
    Rewrite,
    destinations_for,
    forward_marker_key,
    forward_outcome_key,
    hop_count,
    in_domains,
    longest_line,
    plan_deliveries,
    read_header_section,
    rewrite_headers,
)
from ses_mail.headers import MessageHeaders, read_headers

MESSAGE_ID = "o3vrnil0e2ic28tr"
_SHAPE = (
    "must map recipients to non-empty lists of addresses, e.g. "
    '{"support@example.com": ["a@example.org"]}'
)
DESTINATIONS = '{"*": ["a@example.org"]}'


def section(*fields: str, body: str = "Body\r\n") -> tuple[HeaderSection, bytes]:
    raw = "".join(f"{field}\r\n" for field in fields).encode() + b"\r\n" + body.encode()
    return read_header_section(io.BytesIO(raw)), raw


def header_lines(header: bytes) -> list[str]:
    """The fields of a rewritten header section, unfolded, in order."""
    text = header.decode("ascii")
    assert text.endswith("\r\n\r\n")
    unfolded = text[: -len("\r\n\r\n")].replace("\r\n ", " ")
    return unfolded.split("\r\n")


def rewrite(*fields: str, envelope_sender: str | None = "bounce@example.net") -> list[str]:
    found, _ = section(*fields)
    result = rewrite_headers(
        found,
        from_address="support@example.com",
        recipient="support@example.com",
        envelope_sender=envelope_sender,
    )
    return header_lines(result.header)


def rewritten_copy(
    *fields: str, from_address: str = "support@example.com"
) -> tuple[bytes, Message]:
    """The rewritten header section of ``fields`` (no envelope sender), as bytes and parsed as a
    reader would."""
    found, _ = section(*fields)
    result = rewrite_headers(
        found, from_address=from_address, recipient="support@example.com", envelope_sender=None
    )
    return result.header, message_from_bytes(result.header + b"body", policy=email_policy.default)


# --- the header rewrite -----------------------------------------------------------------------


def test_a_repeated_single_field_keeps_its_first_occurrence_and_every_later_field() -> None:
    found, _ = section(
        "From: Jane <jane@example.net>",
        "Subject: first",
        "Subject: second",
        "To: team@example.com",
        "Date: Tue, 1 Dec 2026 10:00:00 +0100",
        "Comments: one",
        "Comments: two",
        "X-Custom: 1",
        "X-Custom: 2",
        "Received: from a",
        "Received: from b",
    )
    result = rewrite_headers(
        found,
        from_address="support@example.com",
        recipient="support@example.com",
        envelope_sender=None,
    )
    lines = header_lines(result.header)
    kept = lines[lines.index("X-Forward-Hops: 1") + 1 :]
    assert kept == [
        "Subject: first",
        "To: team@example.com",
        "Date: Tue, 1 Dec 2026 10:00:00 +0100",
        "Comments: one",
        "X-Custom: 1",
        "X-Custom: 2",  # not a single-instance field: every occurrence stays
        "Received: from a",
        "Received: from b",
    ]
    assert result.removed == ("from", "subject", "comments")


def test_removed_fields_are_listed_once_each_and_never_sent() -> None:
    found, _ = section(
        "Return-Path: <bounce@example.net>",
        "X-SES-Spam-Verdict: PASS",
        "X-Ses-Receipt: abc",
        "DKIM-Signature: v=1",
        "DomainKey-Signature: a=rsa",
        "Sender: list@example.net",
        "Message-ID: <m@example.net>",
        "Bcc: hidden@example.net",
        "X-Original-To: old@example.com",
        "X-Original-From: old@example.net",
        "X-Original-Message-ID: <old@example.net>",
        "From: jane@example.net",
        "X-SESAME: open",  # not the X-SES- prefix
    )
    result = rewrite_headers(
        found,
        from_address="support@example.com",
        recipient="support@example.com",
        envelope_sender=None,
    )
    assert result.removed == (
        "return-path",
        "x-ses-spam-verdict",
        "x-ses-receipt",
        "dkim-signature",
        "domainkey-signature",
        "sender",
        "message-id",
        "bcc",
        "x-original-to",
        "x-original-from",
        "x-original-message-id",
        "from",
    )
    lines = header_lines(result.header)
    assert lines == [
        'From: "jane@example.net via support@example.com" <support@example.com>',
        "Reply-To: <jane@example.net>",
        "X-Original-From: jane@example.net",
        "X-Original-To: support@example.com",
        "X-Original-Message-ID: <m@example.net>",
        "X-Forward-Hops: 1",
        "X-SESAME: open",
    ]
    assert result.reply_to == "<jane@example.net>"
    assert result.hops == 1
    assert result.from_address == "support@example.com"


def test_the_added_fields_name_the_sender_and_keep_an_existing_reply_to() -> None:
    lines = rewrite(
        "From: Jane Doe <jane@example.net>",
        "Reply-To: Desk <desk@example.net>, other@example.net",
        "X-Forward-Hops: 2",
    )
    assert lines[:5] == [
        'From: "Jane Doe via support@example.com" <support@example.com>',
        "X-Original-From: Jane Doe <jane@example.net>",
        "X-Original-To: support@example.com",
        "X-Forward-Hops: 3",
        "Reply-To: Desk <desk@example.net>, other@example.net",
    ]
    found, _ = section(
        "From: Jane Doe <jane@example.net>", "Reply-To: Desk <desk@example.net>, other@example.net"
    )
    result = rewrite_headers(
        found,
        from_address="support@example.com",
        recipient="support@example.com",
        envelope_sender=None,
    )
    assert result.reply_to == "desk@example.net, other@example.net"


def test_without_a_usable_from_the_envelope_sender_is_named() -> None:
    assert rewrite("Subject: no sender")[:3] == [
        'From: "bounce@example.net via support@example.com" <support@example.com>',
        "Reply-To: <bounce@example.net>",
        "X-Original-To: support@example.com",
    ]
    # An unusable address still tells the reader who wrote; replies go to the envelope sender.
    assert rewrite("From: jane")[:2] == [
        'From: "jane via support@example.com" <support@example.com>',
        "Reply-To: jane <bounce@example.net>",
    ]
    assert rewrite("From: Jane <jane>")[:2] == [
        'From: "Jane via support@example.com" <support@example.com>',
        "Reply-To: Jane <bounce@example.net>",
    ]
    # Neither: the copy says only whom it was received for, and has no Reply-To.
    lines = rewrite("Subject: x", envelope_sender="")
    assert lines[:2] == [
        'From: "via support@example.com" <support@example.com>',
        "X-Original-To: support@example.com",
    ]
    assert not any(line.startswith("Reply-To:") for line in lines)
    lines = rewrite("Subject: x", envelope_sender="no-at-sign")
    assert not any(line.startswith("Reply-To:") for line in lines)


def test_an_international_domain_is_written_in_its_a_label_form() -> None:
    lines = rewrite("From: Jürgen <j@bücher.example>")
    assert lines[1] == "Reply-To: =?utf-8?b?SsO8cmdlbg==?= <j@xn--bcher-kva.example>"


# --- reading the header section -------------------------------------------------------------


def test_the_header_section_ends_at_the_blank_line_and_keeps_continuations() -> None:
    found, raw = section(
        "Subject: a", "\tcontinued", "To: b@example.com", body="X: not a field\r\n"
    )
    assert [(f.name, f.raw) for f in found.fields] == [
        ("Subject", b"Subject: a\r\n\tcontinued\r\n"),
        ("To", b"To: b@example.com\r\n"),
    ]
    assert found.fields[0].value == "a continued"
    assert raw[found.body_offset :] == b"X: not a field\r\n"
    assert not found.separator_missing
    unix = b"A: 1\n B\n\nbody"
    found = read_header_section(io.BytesIO(unix))
    assert unix[found.body_offset :] == b"body" and found.fields[0].value == "1 B"


@pytest.mark.parametrize(
    "line",
    [
        b"no colon here\r\n",
        b": empty name\r\n",
        b"Bad Name: x\r\n",
        b"N\xc3\xa4me: x\r\n",
        b"\x7fX: y\r\n",
    ],
)
def test_a_line_that_is_no_field_ends_the_section_and_starts_the_body(line: bytes) -> None:
    raw = b"Subject: a\r\n" + line + b"rest\r\n"
    found = read_header_section(io.BytesIO(raw))
    assert [f.name for f in found.fields] == ["Subject"]
    assert found.separator_missing
    assert raw[found.body_offset :] == line + b"rest\r\n"


def test_a_continuation_before_any_field_is_no_field() -> None:
    found = read_header_section(io.BytesIO(b" leading\r\nSubject: a\r\n\r\n"))
    assert found.fields == () and found.separator_missing and found.body_offset == 0


def test_a_header_section_of_exactly_the_limit_is_read() -> None:
    raw = b"X: " + b"a" * 95 + b"\r\n"  # 100 bytes
    assert read_header_section(io.BytesIO(raw + b"\r\n"), max_bytes=100).body_offset == 102
    with pytest.raises(ValueError, match="longer than 99 bytes"):
        read_header_section(io.BytesIO(raw + b"\r\n"), max_bytes=99)


def test_a_section_without_a_body_ends_at_the_end_of_the_stream() -> None:
    found = read_header_section(io.BytesIO(b"Subject: a\r\nTo: b"))
    assert [f.key for f in found.fields] == ["subject", "to"]
    assert found.body_offset == len(b"Subject: a\r\nTo: b") and not found.separator_missing
    assert found.first("TO") is found.fields[1] and found.first("cc") is None
    assert found.count("Subject") == 1 and found.count("cc") == 0


@pytest.mark.parametrize(
    ("value", "hops"),
    [("2", 2), (" 7 extra", 7), ("-3", 0), ("x", 0), ("", 0), (None, 0)],
)
def test_hop_count(value: str | None, hops: int) -> None:
    fields = ["Subject: a"] + ([] if value is None else [f"X-Forward-Hops: {value}"])
    assert hop_count(section(*fields)[0]) == hops


def test_longest_line_counts_line_endings_and_over_long_lines_in_full() -> None:
    assert longest_line(io.BytesIO(b"")) == 0
    assert longest_line(io.BytesIO(b"ab\r\nc")) == 4
    assert longest_line(io.BytesIO(b"abc")) == 3
    long = b"x" * 5000
    assert longest_line(io.BytesIO(b"a\n" + long + b"\nb\n")) == 5001
    assert longest_line(io.BytesIO(b"a\n" + long)) == 5000
    assert longest_line(io.BytesIO(b"skip\n" + b"yy\n"), start=5) == 3


# --- configuration -----------------------------------------------------------------------------


def test_the_configuration_is_read_from_every_variable() -> None:
    config = ForwarderConfig.from_environ(
        {
            "FORWARD_DESTINATIONS": '{" Support@Example.com ": [" a@example.org ", "b@example.org"]}',
            "RECEIVING_DOMAINS": "Example.com., mail.example.org ,,",
            "RAW_MESSAGE_BUCKET": " bucket ",
            "RAW_MESSAGE_PREFIX": "raw/",
            "FORWARD_PREFIX": "copies/",
            "FORWARD_FROM": " noreply@example.com ",
            "REJECT_ON_VERDICTS": "virus",
            "MAX_FORWARD_HOPS": " 5 ",
        }
    )
    assert config.destinations == {"support@example.com": ("a@example.org", "b@example.org")}
    assert config.receiving_domains == ("example.com", "mail.example.org")
    assert config.raw_bucket == "bucket"
    assert config.raw_prefix == "raw/"
    assert config.forward_prefix == "copies/"
    assert config.from_address == "noreply@example.com"
    assert config.verdict_policy == VerdictPolicy(frozenset({"virus"}))
    assert config.max_hops == 5


def test_the_configuration_defaults() -> None:
    config = ForwarderConfig.from_environ({"FORWARD_DESTINATIONS": DESTINATIONS})
    assert config.receiving_domains == ()
    assert config.raw_bucket is None and config.raw_prefix == ""
    assert config.forward_prefix == DEFAULT_FORWARD_PREFIX == "forwarded/"
    assert config.from_address is None
    assert config.verdict_policy == VerdictPolicy()
    assert config.max_hops == DEFAULT_MAX_HOPS == 3
    empty = ForwarderConfig.from_environ(
        {"FORWARD_DESTINATIONS": DESTINATIONS, "REJECT_ON_VERDICTS": "", "MAX_FORWARD_HOPS": " "}
    )
    assert empty.verdict_policy == VerdictPolicy(frozenset())
    assert empty.max_hops == 3
    assert (
        ForwarderConfig.from_environ(
            {"FORWARD_DESTINATIONS": DESTINATIONS, "MAX_FORWARD_HOPS": "1"}
        ).max_hops
        == 1
    )


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("FORWARD_DESTINATIONS", "  ", "is not set"),
        ("FORWARD_DESTINATIONS", "{", "is not JSON: Expecting property name"),
        ("FORWARD_DESTINATIONS", '{"a@example.com": []}', _SHAPE),
        ("FORWARD_DESTINATIONS", '{"a@example.com": "b@example.org"}', _SHAPE),
        ("FORWARD_DESTINATIONS", '{"a@example.com": {"b@example.org": 1}}', _SHAPE),
        ("FORWARD_DESTINATIONS", '{"a@example.com": ["no-at-sign"]}', _SHAPE),
        ("FORWARD_DESTINATIONS", '{"a@example.com": [1]}', _SHAPE),
        ("FORWARD_DESTINATIONS", '{"a@example.com": ["b@example.org", "c"]}', _SHAPE),
        ("FORWARD_DESTINATIONS", '["a@example.org"]', _SHAPE),
        ("MAX_FORWARD_HOPS", "two", "'two' is not an integer"),
        ("MAX_FORWARD_HOPS", "-1", "must be at least 1, got -1"),
        ("FORWARD_PREFIX", "", "'' is not a usable key prefix"),
        ("FORWARD_PREFIX", "/abs/", "'/abs/' is not a usable key prefix"),
        ("FORWARD_PREFIX", "a/../b/", "'a/../b/' is not a usable key prefix"),
        (
            "REJECT_ON_VERDICTS",
            "spam,phish",
            "unknown verdict(s) phish; use a comma-separated subset of spam,virus,spf,dkim,dmarc",
        ),
    ],
)
def test_fails_when_the_configuration_is_wrong(variable: str, value: str, problem: str) -> None:
    environ = {"FORWARD_DESTINATIONS": DESTINATIONS, variable: value}
    with pytest.raises(ConfigurationError) as raised:
        ForwarderConfig.from_environ(environ)
    assert raised.value.variable == variable
    assert raised.value.problem.startswith(problem)
    assert str(raised.value).startswith(f"invalid configuration: {variable}: {problem}")


def test_fails_when_the_destinations_are_not_set_at_all() -> None:
    with pytest.raises(ConfigurationError) as raised:
        ForwarderConfig.from_environ({"RECEIVING_DOMAINS": "example.com"})
    assert (raised.value.variable, raised.value.problem) == ("FORWARD_DESTINATIONS", "is not set")


# --- destinations and loops ------------------------------------------------------------------------


def test_destination_lookup_tries_each_parent_domain_before_the_wildcard() -> None:
    table = {
        "eu.mail.example.com": ("eu@example.org",),
        ".example.com": ("sub@example.org",),
        "example.com": ("apex@example.org",),
    }
    assert destinations_for("x@eu.mail.example.com", table) == ("eu@example.org",)
    # A domain entry covers its subdomains and comes before a leading-dot entry.
    assert destinations_for("x@us.mail.example.com", table) == ("apex@example.org",)
    assert destinations_for("x@example.com", table) == ("apex@example.org",)
    del table["example.com"]
    assert destinations_for("x@us.mail.example.com", table) == ("sub@example.org",)
    assert destinations_for("x@example.com", table) == ()
    assert destinations_for("x@example.net", table) == ()
    assert destinations_for("x@com", {"com": ("tld@example.org",)}) == ()
    assert destinations_for("x@example.com", {".com": ("tld@example.org",), ".": ("x@y.z",)}) == ()
    # The domain is after the last "@" (a quoted local part may hold one).
    assert destinations_for('"a@b"@Example.com', {"example.com": ("q@example.org",)}) == (
        "q@example.org",
    )
    assert destinations_for(" Jane+a+b@Example.COM ", {"jane@example.com": ("j@example.org",)}) == (
        "j@example.org",
    )


@pytest.mark.parametrize(
    ("address", "inside"),
    [
        ("a@example.com", True),
        ("a@Mail.Example.com.", True),
        ("a@badexample.com", False),
        ("a@example.com.evil.org", False),
        ("a@example.org", False),
        ('"x@evil.org"@example.com', True),
        ('"x@example.com"@evil.org', False),
    ],
)
def test_in_domains(address: str, inside: bool) -> None:
    assert in_domains(address, ("example.com", "other.net")) is inside


def test_every_recipient_is_planned_with_its_own_from_address_unless_one_is_fixed() -> None:
    config = ForwarderConfig(
        destinations={"a@example.com": ("x@example.org",), "b@example.com": ("y@example.org",)},
    )
    deliveries, loops = plan_deliveries(["a@example.com", "b@example.com"], config)
    assert [(d.recipient, d.destination, d.from_address) for d in deliveries] == [
        ("a@example.com", "x@example.org", "a@example.com"),
        ("b@example.com", "y@example.org", "b@example.com"),
    ]
    assert loops == []
    repeated = ForwarderConfig(
        destinations={
            "a@example.com": ("x@example.org",),
            "b@example.com": ("X@Example.org", "z@example.org"),
        },
    )
    deliveries, _ = plan_deliveries(["a@example.com", "b@example.com"], repeated)
    assert [(d.recipient, d.destination) for d in deliveries] == [
        ("a@example.com", "x@example.org"),
        ("b@example.com", "z@example.org"),  # after a destination already planned
    ]
    # Addresses that differ in more than case are different mailboxes, even where an
    # uppercase form would merge them.
    distinct = ForwarderConfig(destinations={"*": ("straße@example.org", "STRASSE@example.org")})
    assert len(plan_deliveries(["a@example.com"], distinct)[0]) == 2
    fixed = ForwarderConfig(destinations=config.destinations, from_address="noreply@example.com")
    deliveries, _ = plan_deliveries(["a@example.com"], fixed)
    assert deliveries[0].from_address == "noreply@example.com"


# --- keys ----------------------------------------------------------------------------------------------


def test_the_outcome_and_send_once_marker_keys() -> None:
    assert forward_outcome_key("forwarded/", MESSAGE_ID) == f"forwarded/{MESSAGE_ID}/outcome.json"
    digest = hashlib.sha256(b"team@example.org").hexdigest()[:16]
    assert forward_marker_key("forwarded/", MESSAGE_ID, "Team@Example.ORG") == (
        f"forwarded/{MESSAGE_ID}/sent/team@example.org-{digest}"
    )
    # Two spellings of one destination share one marker: it is sent once.
    assert forward_marker_key("f/", MESSAGE_ID, "a@example.org") == forward_marker_key(
        "f/", MESSAGE_ID, "A@EXAMPLE.ORG"
    )
    dots = hashlib.sha256(b"..").hexdigest()[:16]
    assert forward_marker_key("f/", MESSAGE_ID, "..") == f"f/{MESSAGE_ID}/sent/destination-{dots}"
    with pytest.raises(ValueError):
        forward_marker_key("f/", "../other", "a@example.org")


def test_an_over_long_encoded_word_in_the_original_from_is_written_again_in_short_ones() -> None:
    name = "Jürgen Müller " * 5
    word = "=?utf-8?b?" + base64.b64encode(name.encode()).decode() + "?="
    assert len(word) > 75  # RFC 2047 section 2 allows 75
    header, copy = rewritten_copy(f"From: {word} <j@example.net>")
    assert str(copy["X-Original-From"]) == f"{name.strip()} <j@example.net>"
    words = re.findall(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=", header)
    assert words and all(len(w) <= 75 for w in words)


def test_an_over_long_encoded_word_of_nothing_but_spaces_is_kept_as_sent() -> None:
    word = "=?utf-8?b?" + base64.b64encode(b" " * 60).decode() + "?="
    _, copy = rewritten_copy(f"From: {word} <j@example.net>")
    assert str(copy["X-Original-From"]) == f"{word} <j@example.net>"


def test_kept_fields_keep_their_folding_with_crlf_line_ends() -> None:
    raw = b"From: a@example.net\nSubject: one\n\ttwo\n three\nTo: b@example.com\n\nbody"
    result = rewrite_headers(
        read_header_section(io.BytesIO(raw)),
        from_address="support@example.com",
        recipient="support@example.com",
        envelope_sender=None,
    )
    assert b"\r\nSubject: one\r\n\ttwo\r\n three\r\nTo: b@example.com\r\n\r\n" in result.header


def test_no_reply_to_is_reported_when_there_is_no_sender_to_reply_to() -> None:
    found, _ = section("Subject: x")
    result = rewrite_headers(
        found,
        from_address="support@example.com",
        recipient="support@example.com",
        envelope_sender="",
    )
    assert result.reply_to is None


def _encoded_words_of(line: bytes) -> list[bytes]:
    return [
        base64.b64decode(found.group(1)) for found in re.finditer(rb"=\?utf-8\?b\?([^?]*)\?=", line)
    ]


@pytest.mark.parametrize(
    "name",
    [
        "Jürgen Müller-Lüdenscheidt Köln Düsseldorf Würzburg Göttingen Lübeck Türkheim",
        "Ü" * 40 + "ä" * 30,  # no space to cut at
        "é" + "a" * 100,
        "Zoë " * 30,
    ],
)
def test_encoded_words_are_filled_up_to_45_bytes_and_cut_after_the_last_space(name: str) -> None:
    found, _ = section(f"From: {name} <j@example.net>")
    result = rewrite_headers(
        found,
        from_address="support@example.com",
        recipient="support@example.com",
        envelope_sender=None,
    )
    reply_to = result.header.split(b"\r\nReply-To:")[1].split(b"\r\nX-Original-From")[0]
    words = _encoded_words_of(reply_to)
    assert b"".join(words).decode() == " ".join(name.split())
    assert all(len(word) <= 45 for word in words)
    for word, following in itertools.pairwise(words):
        if b" " in word:
            assert word.endswith(b" ")  # cut after its last space
        else:  # full: the next character did not fit
            assert len(word) + len(following.decode()[0].encode()) > 45


def test_a_plain_word_after_an_international_one_stays_readable() -> None:
    found, _ = section("From: Jürgen Bob <j@example.net>")
    result = rewrite_headers(
        found,
        from_address="support@example.com",
        recipient="support@example.com",
        envelope_sender=None,
    )
    from_field = result.header.split(b"\r\nReply-To:")[0].replace(b"\r\n", b"")
    assert from_field == (
        b'From: =?utf-8?b?SsO8cmdlbg==?= "Bob via support@example.com" <support@example.com>'
    )


def _rewritten(from_field: str) -> tuple[Rewrite, MessageHeaders, Message]:
    raw = f"From: {from_field}\r\n\r\nbody".encode()
    result = rewrite_headers(
        read_header_section(io.BytesIO(raw)),
        from_address="support@example.com",
        recipient="support@example.com",
        envelope_sender="bounce@example.net",
    )
    copy = message_from_bytes(result.header + b"body", policy=email_policy.compat32)
    return result, read_headers(copy), copy


@pytest.mark.parametrize(
    ("from_field", "name"),
    [
        ("Ann Bob Jürgen <j@example.net>", "Ann Bob Jürgen"),  # a plain run, then an encoded one
        ('"Jane \\"JJ\\" D\\\\oe" <j@example.net>', 'Jane "JJ" D\\oe'),  # escaped in quotes
        # A name whose text looks like an encoded word is encoded, not quoted: quoted, it would
        # be decoded by the reader.
        ("=?utf-8?b?PT91dGYtOD9xP3g/PQ==?= <j@example.net>", "=?utf-8?q?x?="),
        ("W" * 900 + " <j@example.net>", "W" * 900),
        ("W" * 901 + " <j@example.net>", "W" * 901),
    ],
)
def test_the_display_name_reads_back_as_sent(from_field: str, name: str) -> None:
    result, headers, _ = _rewritten(from_field)
    assert headers.from_[0].name == f"{name} via support@example.com"
    assert headers.reply_to[0].name == name
    if name.isascii() and "=?" not in name and len(name) <= 900:
        assert name.replace("\\", "\\\\").replace('"', '\\"').encode() in result.header
    assert all(len(line) <= 998 for line in result.header.split(b"\r\n"))


def test_long_plain_words_are_encoded_only_above_900_characters() -> None:
    for length, plain in ((900, True), (901, False)):
        header = _rewritten("W" * length + " <j@example.net>")[0].header.replace(b"\r\n ", b" ")
        fields = dict(line.split(b": ", 1) for line in header.split(b"\r\n") if line)
        assert (b"W" * length in fields[b"From"]) is plain
        assert (b"W" * length in fields[b"X-Original-From"]) is plain


def test_the_space_after_an_encoded_word_of_the_original_from_is_kept() -> None:
    _, _, copy = _rewritten("=?utf-8?q?Caf=C3=A9?= Müller <a@example.net>")
    original = str(make_header(decode_header(copy["X-Original-From"])))
    assert original == "Café Müller <a@example.net>"


def test_an_encoded_word_of_75_characters_is_kept_as_it_is() -> None:
    word = "=?utf-8?q?" + "a" * 63 + "?="
    assert len(word) == 75
    result, _, _ = _rewritten(f"{word} <j@example.net>")
    assert f"X-Original-From: {word}".encode() in result.header


@pytest.mark.parametrize(
    "from_field",
    [
        '"a b"@example.com',  # white space in the address
        "@example.com",  # no local part
        "j@" + "ü" * 70 + ".example",  # a label too long for IDNA
        "j@example.net@",  # no domain
    ],
)
def test_an_unusable_from_address_gives_way_to_the_envelope_sender(from_field: str) -> None:
    result, headers, _ = _rewritten(from_field)
    assert headers.reply_to[0].address == "bounce@example.net"
    assert result.reply_to is not None and result.reply_to.endswith("<bounce@example.net>")


def test_an_address_of_254_characters_is_usable() -> None:
    domain = ".".join(["d" * 63, "e" * 63, "f" * 50]) + ".example"
    address = "l" * (254 - 1 - len(domain)) + "@" + domain
    assert len(address) == 254
    _, headers, _ = _rewritten(f"Jane <{address}>")
    assert headers.reply_to[0].address == address


def test_a_field_name_of_any_printable_character_but_the_colon_is_a_field() -> None:
    found = read_header_section(io.BytesIO(b"X-!#$%&'*+-.^_`|~: v\r\n\r\nbody"))
    assert [f.name for f in found.fields] == ["X-!#$%&'*+-.^_`|~"]
    assert found.separator_missing is False


@pytest.mark.parametrize("length", range(1, 60))
def test_a_field_is_folded_only_where_the_next_token_would_pass_78_columns(length: int) -> None:
    result, _, _ = _rewritten("A" * length + " B C D E F G H <j@example.net>")
    lines = result.header.split(b"\r\n\r\n")[0].split(b"\r\n")
    field = [lines[0], *itertools.takewhile(lambda line: line.startswith(b" "), lines[1:])]
    assert all(len(line) <= 78 for line in field)
    for line, following in itertools.pairwise(field):
        assert len(line) + len(following.split(b" ")[1]) + 1 > 78


def test_a_run_of_international_words_reads_back_with_its_spaces() -> None:
    _, _, copy = _rewritten("Jürgen Müller-Lüdenscheidt Köln <j@example.net>")
    original = str(make_header(decode_header(copy["X-Original-From"])))
    assert original == "Jürgen Müller-Lüdenscheidt Köln <j@example.net>"


# --- defects the mutation run pointed at -------------------------------------------------------


def test_destinations_that_one_file_name_would_merge_have_their_own_markers() -> None:
    # "a/b@example.org" and "b@example.org" are two mailboxes ('/' is atext, RFC 5322 3.2.3);
    # a shared send-once marker would make the second look sent and it would never be.
    destinations = ["a/b@example.org", "b@example.org", "a_b@example.org", "a*b@example.org"]
    keys = {forward_marker_key("f/", MESSAGE_ID, d) for d in destinations}
    assert len(keys) == len(destinations)
    assert all(k.startswith(f"f/{MESSAGE_ID}/sent/") and k.count("/") == 3 for k in keys)


def test_a_quoted_local_part_is_written_as_the_same_mailbox() -> None:
    _, copy = rewritten_copy(
        "From: someone@example.net",
        "To: support@example.com",
        from_address='"help desk"@example.com',
    )
    assert copy["From"].addresses[0].addr_spec == '"help desk"@example.com'


def test_forward_from_must_be_an_address_ses_can_send_from() -> None:
    environ = {
        "FORWARD_DESTINATIONS": '{"*": ["a@example.org"]}',
        "FORWARD_FROM": "jürgen@example.com",
    }
    with pytest.raises(ConfigurationError) as raised:
        ForwarderConfig.from_environ(environ)
    assert raised.value.variable == "FORWARD_FROM"
    assert "'jürgen@example.com'" in str(raised.value)

"""The pure forwarding core: destination lookup, loop planning, and the header rewrite fuzzed."""

from __future__ import annotations

import io
from email import message_from_bytes
from email import policy as email_policy

import pytest
from handler_support import FUZZ
from hypothesis import given
from hypothesis import strategies as st
from ses_mail import ConfigurationError
from ses_mail.forwarding import (
    MAX_LINE_BYTES,
    ForwarderConfig,
    base64_size,
    destinations_for,
    longest_line,
    plan_deliveries,
    read_header_section,
    rewrite_headers,
)

TABLE = {
    "support@example.com": ("a@example.org",),
    "example.com": ("b@example.org",),
    ".example.net": ("c@example.org",),
    "*": ("d@example.org",),
}


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [
        ("support@example.com", "a@example.org"),
        ("Support+VIP@Example.com", "a@example.org"),  # +label and case, as SES matches
        ("sales@example.com", "b@example.org"),
        ("sales@mail.example.com", "b@example.org"),  # a parent domain entry covers it
        ("x@eu.example.net", "c@example.org"),
        ("x@example.net", "d@example.org"),  # .example.net is its subdomains only
        ("x@elsewhere.org", "d@example.org"),
    ],
)
def test_destination_lookup_order(recipient: str, expected: str) -> None:
    assert destinations_for(recipient, TABLE) == (expected,)


def test_each_destination_is_planned_once_and_loops_are_set_apart() -> None:
    config = ForwarderConfig(
        destinations={
            "a@example.com": ("x@example.org", "team@example.com"),
            "b@example.com": ("X@example.org",),
        },
        receiving_domains=("example.com",),
    )
    deliveries, loops = plan_deliveries(["a@example.com", "b@example.com"], config)
    assert [(d.recipient, d.destination) for d in deliveries] == [
        ("a@example.com", "x@example.org")
    ]
    assert [d.destination for d in loops] == ["team@example.com"]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FORWARD_DESTINATIONS", "", "is not set"),
        ("FORWARD_DESTINATIONS", "[1]", "must map recipients"),
        ("MAX_FORWARD_HOPS", "zero", "'zero' is not an integer"),
        ("MAX_FORWARD_HOPS", "0", "must be at least 1"),
        ("FORWARD_PREFIX", "../x/", "not a usable key prefix"),
        ("REJECT_ON_VERDICTS", "spam,nonsense", "nonsense"),
    ],
)
def test_fails_when_a_variable_is_wrong(variable: str, value: str, message: str) -> None:
    environ = {"FORWARD_DESTINATIONS": '{"*": ["a@example.org"]}', variable: value}
    with pytest.raises(ConfigurationError, match=variable) as raised:
        ForwarderConfig.from_environ(environ)
    assert message in str(raised.value)


def test_sizes_and_lines() -> None:
    assert base64_size(3) == 4 and base64_size(4) == 8
    text = b"a\r\n" + b"b" * (MAX_LINE_BYTES + 5) + b"\r\nc"
    assert longest_line(io.BytesIO(text)) == MAX_LINE_BYTES + 7


def test_fails_when_the_header_section_is_over_its_limit() -> None:
    raw = b"X-Long: " + b"a" * 100 + b"\r\n" + b"X-More: b\r\n" * 200 + b"\r\nbody"
    with pytest.raises(ValueError, match="header section longer than 1000 bytes"):
        read_header_section(io.BytesIO(raw), max_bytes=1000)


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=80
)
_FIELD = st.tuples(
    st.sampled_from(
        [
            "From",
            "Reply-To",
            "Sender",
            "Subject",
            "Message-ID",
            "DKIM-Signature",
            "X-SES-Configuration-Set",
            "Return-Path",
            "To",
            "X-Forward-Hops",
            "Content-Type",
        ]
    ),
    _TEXT,
)


@FUZZ
@given(fields=st.lists(_FIELD, max_size=12), body=st.binary(max_size=200))
def test_the_rewrite_always_gives_one_verified_from_and_keeps_the_body(
    fields: list[tuple[str, str]], body: bytes
) -> None:
    raw = b"".join(f"{n}: {v}\r\n".encode("utf-8", "surrogateescape") for n, v in fields)
    raw += b"\r\n" + body
    section = read_header_section(io.BytesIO(raw))
    rewrite = rewrite_headers(
        section,
        from_address="support@example.com",
        recipient="support@example.com",
        envelope_sender="sender@example.net",
    )
    copy = rewrite.header + raw[section.body_offset :]
    assert copy.endswith(body)
    header = rewrite.header.decode("ascii", "replace")
    assert header.count("\r\nFrom: ") + header.startswith("From: ") == 1
    parsed = message_from_bytes(copy, policy=email_policy.default)
    assert parsed["From"].addresses[0].addr_spec == "support@example.com"
    for name in (
        "Sender",
        "Return-Path",
        "DKIM-Signature",
        "Message-ID",
        "X-SES-Configuration-Set",
    ):
        assert parsed.get_all(name) is None

"""The reported headers, from the SES event's ``commonHeaders`` and from a parsed message: every
field, the caps on hostile lengths, and the readings of ids, dates and address lists."""

from __future__ import annotations

from email import message_from_bytes
from email import policy as email_policy

import pytest
from handler_support import FUZZ
from hypothesis import given
from hypothesis import strategies as st
from ses_mail.headers import Address, MessageHeaders, headers_from_event, read_headers

#: The commonHeaders of an SES receipt event (the event reference's example, plus Cc, Reply-To
#: and a list of several recipients).
COMMON_HEADERS = {
    "from": ["Jane Doe <janedoe@example.com>"],
    "to": ["johndoe@example.com", "Team <team@example.org>"],
    "cc": ["carol@example.net"],
    "replyTo": ["Desk <desk@example.com>"],
    "returnPath": "janedoe@example.com",
    "messageId": "<0123456789example.com>",
    "date": "Wed, 7 Oct 2015 12:34:56 -0700",
    "subject": "=?utf-8?q?Gr=C3=BC=C3=9Fe?=",
}


def test_every_common_header_of_the_event_is_reported() -> None:
    assert headers_from_event(COMMON_HEADERS) == MessageHeaders(
        from_=(Address(name="Jane Doe", address="janedoe@example.com"),),
        to=(
            Address(name="", address="johndoe@example.com"),
            Address(name="Team", address="team@example.org"),
        ),
        cc=(Address(name="", address="carol@example.net"),),
        reply_to=(Address(name="Desk", address="desk@example.com"),),
        subject="Grüße",
        date="Wed, 7 Oct 2015 12:34:56 -0700",
        date_iso="2015-10-07T12:34:56-07:00",
        message_id="<0123456789example.com>",
        in_reply_to=None,
        references=(),
    )


def test_absent_common_headers_are_absent_and_lists_may_be_strings() -> None:
    found = headers_from_event({"to": "a@example.com, b@example.com", "subject": None})
    assert [a.address for a in found.to] == ["a@example.com", "b@example.com"]
    assert found.from_ == () and found.subject is None and found.date is None
    assert found.message_id is None and found.defects == ()


def test_the_same_headers_read_from_the_message() -> None:
    raw = (
        b"From: Jane Doe <janedoe@example.com>\r\n"
        b"To: johndoe@example.com, Team <team@example.org>\r\n"
        b"Cc: carol@example.net\r\n"
        b"Reply-To: Desk <desk@example.com>\r\n"
        b"Message-ID: <0123456789example.com>\r\n"
        b"Date: Wed, 7 Oct 2015 12:34:56 -0700\r\n"
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
        b"In-Reply-To: <parent@example.com>\r\n"
        b"References: <root@example.com>\r\n <parent@example.com>\r\n"
        b"Subject: a second subject is ignored\r\n"
        b"From: second@example.com\r\n"
        b"\r\nbody\r\n"
    )
    found = read_headers(message_from_bytes(raw, policy=email_policy.compat32))
    assert found == headers_from_event(COMMON_HEADERS).__class__(
        **{
            **{
                name: getattr(headers_from_event(COMMON_HEADERS), name)
                for name in MessageHeaders.__slots__
            },
            "in_reply_to": "<parent@example.com>",
            "references": ("<root@example.com>", "<parent@example.com>"),
        }
    )


def test_an_address_header_over_the_cap_is_cut_at_a_comma_and_reported() -> None:
    value = "a@example.com, b@example.com, c@example.com"
    found = headers_from_event({"to": [value], "cc": ["x" * 40 + "@example.com"]}, max_chars=30)
    assert [a.address for a in found.to] == ["a@example.com", "b@example.com"]
    assert found.defects[:2] == (
        "to header has 43 characters; only the first 30 were read",
        "cc header has 52 characters; only the first 30 were read",
    )
    assert found.cc[0].address.startswith("x" * 30)  # no comma: cut at the cap


def test_a_text_header_over_the_cap_is_cut_at_the_cap() -> None:
    found = headers_from_event({"subject": "a, b, " + "x" * 40}, max_chars=30)
    assert found.subject == "a, b, " + "x" * 24
    assert found.defects == ("subject header has 46 characters; only the first 30 were read",)
    exact = headers_from_event({"subject": "y" * 30}, max_chars=30)
    assert exact.subject == "y" * 30 and exact.defects == ()


def test_folded_values_are_unfolded_and_trimmed() -> None:
    found = headers_from_event({"subject": "  one\r\n two\n three  "})
    assert found.subject == "one two three"


@pytest.mark.parametrize(
    ("date", "iso"),
    [
        ("Wed, 7 Oct 2015 12:34:56 -0700", "2015-10-07T12:34:56-07:00"),
        ("Wed, 7 Oct 2015 12:34:56", "2015-10-07T12:34:56+00:00"),  # no offset: UTC
        ("7 Oct 2015 12:34:56 +0000", "2015-10-07T12:34:56+00:00"),
        ("not a date", None),
        ("", None),
    ],
)
def test_the_date_as_iso_8601(date: str, iso: str | None) -> None:
    found = headers_from_event({"date": date})
    assert found.date == date
    assert found.date_iso == iso


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@example.com>", "<a@example.com>"),
        ("junk <a@example.com> <b@example.com>", "<a@example.com>"),
        ("no  angle\tbrackets", "no angle brackets"),
        ("   ", None),
    ],
)
def test_a_message_id_is_the_first_id_or_the_text(value: str, expected: str | None) -> None:
    assert headers_from_event({"messageId": value}).message_id == expected


def test_references_are_the_ids_or_else_the_words() -> None:
    raw = b"References: <a@x> junk <b@y>\r\nIn-Reply-To: plain words\r\n\r\n"
    found = read_headers(message_from_bytes(raw, policy=email_policy.compat32))
    assert found.references == ("<a@x>", "<b@y>")
    assert found.in_reply_to == "plain words"
    raw = b"References: one two\r\n\r\n"
    assert read_headers(message_from_bytes(raw, policy=email_policy.compat32)).references == (
        "one",
        "two",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "billing@bank.example <attacker@evil.example>",
            [("billing@bank.example", "attacker@evil.example")],
        ),
        (
            "a@example.com, billing@bank.example <x@evil.example>",
            [("", "a@example.com"), ("billing@bank.example", "x@evil.example")],
        ),
        (
            "Team: [ops] <ops@example.com>, b@example.com;",
            [("[ops]", "ops@example.com"), ("", "b@example.com")],
        ),
        (
            "Team: a@example.com, q@bank.example <q@evil.example>;",
            [("", "a@example.com"), ("q@bank.example", "q@evil.example")],
        ),
    ],
)
def test_unquoted_special_display_names_are_names(
    value: str, expected: list[tuple[str, str]]
) -> None:
    found = headers_from_event({"from": [value]})
    assert [(a.name, a.address) for a in found.from_] == expected
    assert found.defects == (
        "from header: a display name with special characters (such as @) was not quoted; "
        "the address in angle brackets was read as the mailbox",
    )


@pytest.mark.parametrize(
    "value",
    [
        '"quoted@name" <a@example.com>',
        "(comment@x) <a@example.com>",
        "plain <a@example.com>",
        "a@example.com",
        "x@y <a@example.com> trailing",
        "x@y <a <b@example.com>",
        "<a@example.com>",
    ],
)
def test_names_that_need_no_quoting_are_left_alone(value: str) -> None:
    found = headers_from_event({"from": [value]})
    assert not any("was not quoted" in defect for defect in found.defects)


def test_commas_inside_quotes_comments_and_angle_brackets_do_not_split_mailboxes() -> None:
    value = (
        '"Doe, Jane" <jane@example.com>, (a, comment) b@example.com, '
        '"q\\", x@y" <q@example.com>, (c\\), d) w@example.com, z@bank.example <z@example.com>'
    )
    found = headers_from_event({"to": [value]})
    assert [a.address for a in found.to] == [
        "jane@example.com",
        "b@example.com",
        "q@example.com",
        "w@example.com",
        "z@example.com",
    ]
    assert found.to[0].name == "Doe, Jane"
    assert found.to[4].name == "z@bank.example"


def test_entries_without_an_address_are_dropped_and_a_bare_name_is_kept() -> None:
    assert headers_from_event({"to": ["a@example.com, <>"]}).to == (Address("", "a@example.com"),)
    assert headers_from_event({"to": ["   "]}).to == ()
    named = headers_from_event({"to": ["undisclosed-recipients:;"]})
    assert named.to == ()


def test_header_defects_are_named_and_hostile_values_fall_back() -> None:
    found = headers_from_event({"from": ["Jane <jane@example.com"]})
    assert found.from_ == (Address("Jane", "jane@example.com"),)
    assert found.defects and found.defects[0].startswith("from header: ")
    subject = headers_from_event({"subject": "=?utf-8?q?broken"})
    assert subject.subject == "=?utf-8?q?broken"


@FUZZ
@given(names=st.lists(st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True), min_size=1, max_size=5))
def test_a_list_of_mailboxes_reads_back_in_order(names: list[str]) -> None:
    value = ", ".join(f"{name} <{name.lower()}@example.com>" for name in names)
    found = headers_from_event({"to": [value], "cc": names and [f"{n}@example.org" for n in names]})
    assert [(a.name, a.address) for a in found.to] == [
        (n, f"{n.lower()}@example.com") for n in names
    ]
    assert [a.address for a in found.cc] == [f"{n}@example.org" for n in names]


def test_an_absent_header_does_not_hide_the_ones_after_it() -> None:
    found = headers_from_event(
        {"from": None, "subject": None, "date": "7 Oct 2015 12:34:56 +0000", "messageId": "<m@x>"}
    )
    assert found.date == "7 Oct 2015 12:34:56 +0000" and found.message_id == "<m@x>"


@pytest.mark.parametrize(("event_name", "field"), [("from", "from_"), ("replyTo", "reply_to")])
def test_every_address_header_over_the_cap_is_cut_at_a_comma(event_name: str, field: str) -> None:
    found = headers_from_event({event_name: ["a@example.com, b@example.com, c@example.com"]}, 30)
    assert [a.address for a in getattr(found, field)] == ["a@example.com", "b@example.com"]


def test_a_comma_first_is_no_place_to_cut() -> None:
    found = headers_from_event({"to": [", " + "a" * 40 + "@example.com"]}, max_chars=30)
    assert found.to == (Address("", "a" * 28),)
    # Each kind of defect the parser found is named once.
    assert found.defects[1] == "to header: InvalidHeaderDefect, ObsoleteHeaderDefect"


def test_adjacent_encoded_words_make_one_word() -> None:
    found = headers_from_event({"from": ["=?utf-8?q?J=C3=BC?= =?utf-8?q?rgen?= <j@example.com>"]})
    assert found.from_ == (Address("Jürgen", "j@example.com"),)


def test_only_names_with_special_characters_are_quoted() -> None:
    quoted = headers_from_event({"from": ["X@bank.example <x@evil.example>"]})
    assert quoted.from_ == (Address("X@bank.example", "x@evil.example"),)
    plain = headers_from_event({"from": ["Xavier <xavier@example.com>, [ops] <ops@example.com>"]})
    assert [(a.name, a.address) for a in plain.from_] == [
        ("Xavier", "xavier@example.com"),
        ("[ops]", "ops@example.com"),
    ]
    assert len(plain.defects) == 1  # for "[ops]" only


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "a@example.com,billing@bank.example <x@evil.example>",  # no space after the comma
            [("", "a@example.com"), ("billing@bank.example", "x@evil.example")],
        ),
        (
            "Team: q@bank.example <q@evil.example> ;",  # space before the group's end
            [("q@bank.example", "q@evil.example")],
        ),
        (
            "XTeam: q@bank.example <q@evil.example>;",
            [("q@bank.example", "q@evil.example")],
        ),
        ("@<x@evil.example>", [("@", "x@evil.example")]),
    ],
)
def test_special_names_are_quoted_in_every_position(
    value: str, expected: list[tuple[str, str]]
) -> None:
    found = headers_from_event({"to": [value]})
    assert [(a.name, a.address) for a in found.to] == expected


def test_an_address_cut_in_the_middle_is_left_out() -> None:
    found = headers_from_event({"to": ["a@example.com, " + "b" * 30 + "@example.com"]}, 30)
    assert found.to == (Address("", "a@example.com"),)


def test_a_name_without_special_characters_is_left_as_it_is() -> None:
    assert headers_from_event({"from": ["Xavier <x@example.com>"]}).defects == ()


def test_the_last_mailbox_of_a_group_is_quoted_before_a_spaced_end() -> None:
    found = headers_from_event({"to": ["Team: a@example.com, q@bank.example <q@evil.example> ;"]})
    assert [(a.name, a.address) for a in found.to] == [
        ("", "a@example.com"),
        ("q@bank.example", "q@evil.example"),
    ]


@pytest.mark.parametrize(
    ("event_name", "field"),
    [("from", "from_"), ("to", "to"), ("cc", "cc"), ("replyTo", "reply_to")],
)
def test_every_address_header_cut_by_the_cap_keeps_whole_mailboxes(
    event_name: str, field: str
) -> None:
    found = headers_from_event({event_name: ["a@example.com, " + "b" * 30 + "@example.com"]}, 30)
    assert getattr(found, field) == (Address("", "a@example.com"),)
    found = headers_from_event({event_name: ["a, " + "b" * 40 + "@example.com"]}, 30)
    assert [a.address for a in getattr(found, field)] == ["a"]  # a comma at index 1 is a cut


@pytest.mark.parametrize(
    ("event_name", "header"), [("cc", "cc"), ("replyTo", "reply-to"), ("to", "to")]
)
def test_defects_name_their_header(event_name: str, header: str) -> None:
    found = headers_from_event({event_name: ["billing@bank.example <x@evil.example>"]})
    assert found.defects[0].startswith(f"{header} header: a display name")

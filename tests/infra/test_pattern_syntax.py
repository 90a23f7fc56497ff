"""EventBridge's pattern syntax, rule by rule, as the synth-time check applies it.

Every rule is tested from both sides: the smallest valid form passes and the nearest invalid
one fails naming the field and the value (Event Ruler README, "Comparison operators" and
"Creating event patterns" in the EventBridge User Guide).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import aws_cdk as cdk
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ses_lambda_constructs import (
    MailKind,
    MailStatus,
    ValidationError,
    email_event_pattern,
    validate_event_pattern,
)
from ses_lambda_constructs.event_patterns import (
    DETAIL_TYPES,
    escape_wildcard,
    validate_event_source,
    validate_wildcard,
)


def check(element: Any) -> None:
    validate_event_pattern("p", {"detail": {"x": [element]}})


def fails(element: Any, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check(element)
    assert message in str(raised.value)


# --- wildcards -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["", "*", "a*b", "*a*", "\\*", "\\\\", "\\**", "a\\*\\*b", "\\\\*"]
)
def test_valid_wildcards(value: str) -> None:
    validate_wildcard("w", value)
    check({"wildcard": value})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("**", "consecutive '*'"),
        ("a**", "consecutive '*'"),
        ("\\*x**", "consecutive '*'"),  # after an escape the check goes on
        ("\\\\**", "consecutive '*'"),
        ("a\\*b\\x", "a backslash may only escape"),  # the second escape is checked too
        ("\\*\\", "a backslash may only escape"),  # a backslash at the end
        ("\\a", "a backslash may only escape"),
        ("*\\x", "a backslash may only escape"),
    ],
)
def test_invalid_wildcards(value: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        validate_wildcard("subject_wildcard", value)
    assert message in str(raised.value)
    assert f"subject_wildcard {value!r}" in str(raised.value)


def test_escaping_a_wildcard() -> None:
    assert escape_wildcard("a\\b*c") == "a\\\\b\\*c"
    assert escape_wildcard("plain") == "plain"


@settings(deadline=None)
@given(st.text(max_size=30))
def test_an_escaped_value_is_a_valid_wildcard_matching_only_itself(value: str) -> None:
    escaped = escape_wildcard(value)
    validate_wildcard("w", escaped)
    assert escaped.replace("\\*", "*").replace("\\\\", "\\") == value


# --- numeric -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operand",
    [
        ["=", 0],
        ["<", 5e9],
        [">=", -5e9],
        ["<=", 1.5],
        [">", 0, "<", 1],
        [">=", 0, "<=", 0.5],
        [">", -5e9, "<=", 5e9],
    ],
)
def test_valid_numeric_conditions(operand: list[Any]) -> None:
    check({"numeric": operand})


@pytest.mark.parametrize(
    ("operand", "message"),
    [
        ([">", 0, "<", "5"], "compares with '5'"),  # the upper bound's type
        ([">", "0", "<", 5], "compares with '0'"),
        ([">", 0, "<", True], "compares with True"),
        ([">", 0, "<", 5.000001e9], "between -5e9 and 5e9"),
        (["<", -5.000001e9], "between -5e9 and 5e9"),
        ([">", 0, "<", 0], "with low < high"),
        ([">", 1, "<", 0], "with low < high"),
        (["<", 0, "<", 1], "must be a range"),
        ([">", 0, ">", 1], "must be a range"),
        (["=", 0, "<", 1], "must be a range"),
        ([">", 0, "=", 1], "must be a range"),
        ([">", 0, "~", 1], "has the operator '~'; use one of =, <, <=, >, >="),
        (["<"], "must be [op, number] or [op, number, op, number]"),
        ([">", 0, "<"], "must be [op, number] or"),
        ([">", 0, "<", 1, "=", 2, "=", 3], "must be [op, number] or"),
        ("> 0", "must be [op, number] or"),
        ((">", 0), "must be [op, number] or [op, number, op, number]; got ('>', 0)"),
    ],
)
def test_invalid_numeric_conditions(operand: Any, message: str) -> None:
    fails({"numeric": operand}, message)
    with pytest.raises(ValidationError, match=r"p\.detail\.x\[0\]\.numeric"):
        check({"numeric": operand})


# --- the other operators ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "element",
    [
        "text",
        0,
        1.5,
        True,
        None,
        {"prefix": "a"},
        {"suffix": "a"},
        {"prefix": {"equals-ignore-case": "a"}},
        {"suffix": {"equals-ignore-case": "a"}},
        {"equals-ignore-case": "a"},
        {"anything-but": "a"},
        {"anything-but": 3},
        {"anything-but": ["a", "b"]},
        {"anything-but": [1, 2.5]},
        {"anything-but": {"prefix": "a"}},
        {"anything-but": {"suffix": "a"}},
        {"anything-but": {"equals-ignore-case": "a"}},
        {"anything-but": {"equals-ignore-case": ["a", "b"]}},
        {"anything-but": {"wildcard": "a*"}},
        {"anything-but": {"wildcard": ["a*", "b*"]}},
        {"anything-but": {"equals-ignore-case": "a**"}},  # no wildcard there
        {"exists": True},
        {"exists": False},
        {"cidr": "10.0.0.0/24"},
        {"cidr": "2001:db8::/32"},
        {"cidr": "10.0.0.1"},
    ],
)
def test_valid_elements(element: Any) -> None:
    check(element)


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ({"prefix": {"equals-ignore-case": 1}}, "p.detail.x[0].prefix must be a string; got 1"),
        ({"prefix": {"wildcard": "a"}}, "takes a string or {'equals-ignore-case': string}"),
        ({"suffix": {"equals-ignore-case": "a", "x": "b"}}, "takes a string or"),
        ({"suffix": 1}, "p.detail.x[0].suffix must be a string"),
        ({"equals-ignore-case": 1}, "p.detail.x[0].equals-ignore-case must be a string"),
        ({"wildcard": 1}, "p.detail.x[0].wildcard must be a string"),
        ({"wildcard": "a**"}, "consecutive '*'"),
        ({"anything-but": True}, "takes a value, a list of strings or of numbers"),
        ({"anything-but": None}, "takes a value, a list"),
        ({"anything-but": [True]}, "must list only strings or only numbers"),
        ({"anything-but": {"prefix": 1}}, "p.detail.x[0].anything-but.prefix must be a string"),
        ({"anything-but": {"suffix": 1}}, "anything-but.suffix must be a string"),
        ({"anything-but": {"wildcard": []}}, "anything-but.wildcard is an empty list"),
        ({"anything-but": {"equals-ignore-case": []}}, "equals-ignore-case is an empty list"),
        ({"anything-but": {"equals-ignore-case": ["a", 1]}}, "equals-ignore-case must be a string"),
        ({"anything-but": {"wildcard": ["a", "b**"]}}, "consecutive '*'"),
        ({"anything-but": {"wildcard": "b**"}}, "p.detail.x[0].anything-but.wildcard 'b**'"),
        ({"anything-but": {"equals-ignore-case": 1}}, "equals-ignore-case must be a string"),
        ({"anything-but": {"exists": True}}, "takes a value, a list"),
        ({"anything-but": {"prefix": "a", "suffix": "b"}}, "takes a value, a list"),
        ({"exists": 1}, "p.detail.x[0].exists must be true or false; got 1"),
        ({"cidr": 10}, "p.detail.x[0].cidr must be a string"),
        ({"cidr": "not-an-ip"}, "must be an IP prefix such as '10.0.0.0/24'; got 'not-an-ip'"),
        ({}, "must be a value or an object with one operator; got {}"),
        (["nested"], "must be a value or an object with one operator"),
        ({"regex": "x"}, "unknown operator 'regex'"),
    ],
)
def test_invalid_elements(element: Any, message: str) -> None:
    fails(element, message)


# --- fields, objects and $or ---------------------------------------------------------------------------


def test_nested_objects_and_or_are_checked_all_the_way_down() -> None:
    validate_event_pattern("p", {"$or": [{"a": ["x"]}, {"b": {"c": [1]}}]})
    with pytest.raises(ValidationError, match=r"p\.\$or\[1\]\.b\.c\[0\]\.prefix must be a string"):
        validate_event_pattern("p", {"$or": [{"a": ["x"]}, {"b": {"c": [{"prefix": 1}]}}]})
    with pytest.raises(ValidationError, match=r"p\.\$or must be a list of at least two patterns"):
        validate_event_pattern("p", {"$or": {"a": ["x"]}})
    with pytest.raises(ValidationError, match=r"p\.\$or\[0\] must be a non-empty object"):
        validate_event_pattern("p", {"$or": [["a"], {"b": ["c"]}]})
    with pytest.raises(ValidationError, match=r"p\.a\.b\.c is an empty list"):
        validate_event_pattern("p", {"a": {"b": {"c": []}}})
    with pytest.raises(ValidationError, match=r"p has an invalid field name ''"):
        validate_event_pattern("p", {"": ["x"]})
    with pytest.raises(ValidationError, match=r"p has an invalid field name 1"):
        validate_event_pattern("p", {1: ["x"]})
    with pytest.raises(ValidationError, match=r"p\.a must be a list of values \(e\.g\. \[3\]\)"):
        validate_event_pattern("p", {"a": 3})


def test_unresolved_field_names_and_values_are_left_to_cloudformation() -> None:
    token = cdk.Fn.ref("SomeParameter")
    validate_event_pattern("p", {"a": token})  # a token may stand for the whole list
    validate_event_pattern("p", {token: "anything"})
    validate_event_pattern("p", {"a": [token]})


def test_a_pattern_must_be_a_non_empty_json_object() -> None:
    for pattern in ({}, [], "x", None):
        with pytest.raises(ValidationError, match="p must be a non-empty JSON object"):
            validate_event_pattern("p", pattern)  # type: ignore[arg-type]
    # A mapping that is no dict passes the syntax check but cannot be written as JSON.
    with pytest.raises(ValidationError, match="p is not JSON"):
        validate_event_pattern("p", {"a": MappingProxyType({"b": ["c"]})})


# --- email_event_pattern's own fields -------------------------------------------------------------------


def test_statuses_choose_detail_types_once_each_in_order() -> None:
    pattern = email_event_pattern(
        statuses=[MailStatus.REJECTED, MailStatus.PROCESSED, MailStatus.REJECTED]
    )
    assert pattern["detail-type"] == ["Email Rejected", "Email Received"]
    assert email_event_pattern(detail_types=[*list(reversed(DETAIL_TYPES)), "Email Received"])[
        "detail-type"
    ] == list(reversed(DETAIL_TYPES))
    assert [status.detail_type for status in MailStatus] == list(DETAIL_TYPES)


def test_subject_prefixes_and_wildcards_are_alternatives() -> None:
    pattern = email_event_pattern(subject_prefix=["[Ticket", "Re:"], subject_wildcard=["*urgent*"])
    assert pattern["detail"]["headers"]["subject"] == [
        {"prefix": "[Ticket"},
        {"prefix": "Re:"},
        {"wildcard": "*urgent*"},
    ]
    with pytest.raises(ValidationError, match="subject_wildcard values must be non-empty strings"):
        email_event_pattern(subject_wildcard=[""])
    with pytest.raises(
        ValidationError, match="subject_prefix values must be non-empty strings; got 3"
    ):
        email_event_pattern(subject_prefix=[3])  # type: ignore[list-item]


def test_kinds_are_listed_once_each() -> None:
    pattern = email_event_pattern(kinds=[MailKind.LIST, MailKind.PERSON, MailKind.LIST])
    assert pattern["detail"]["conversation"]["kind"] == ["list", "person"]


def test_address_conditions_cover_labels_domains_and_subdomains_once_each() -> None:
    pattern = email_event_pattern(
        recipients=[
            "Help*Desk@Example.com",
            "help*desk@example.com",
            "example.org",
            ".example.net",
        ],
        senders=["a@b.example"],
    )
    assert pattern["detail"]["envelope"]["recipients"] == [
        "help*desk@example.com",
        {"wildcard": "help\\*desk+*@example.com"},
        {"suffix": "@example.org"},
        {"suffix": ".example.net"},
    ]
    assert pattern["detail"]["envelope"]["source"] == ["a@b.example", {"wildcard": "a+*@b.example"}]


def test_a_raw_pattern_merges_into_the_filters_and_is_not_changed() -> None:
    raw = {"detail": {"verdicts": {"spam": ["PASS"]}, "headers": {"to": [{"exists": True}]}}}
    pattern = email_event_pattern(subject_prefix=["x"], pattern=raw)
    assert pattern["detail"]["headers"] == {"subject": [{"prefix": "x"}], "to": [{"exists": True}]}
    assert pattern["detail"]["verdicts"] == {"spam": ["PASS"]}
    assert raw == {
        "detail": {"verdicts": {"spam": ["PASS"]}, "headers": {"to": [{"exists": True}]}}
    }
    same = email_event_pattern(pattern={"source": ["ses-lambda-constructs"], "account": ["1"]})
    assert same["source"] == ["ses-lambda-constructs"]
    assert same["account"] == ["1"]  # fields after an equal one are merged too
    with pytest.raises(ValidationError, match=r"pattern\.detail is also set by a filter"):
        email_event_pattern(subject_prefix=["x"], pattern={"detail": ["y"]})
    with pytest.raises(ValidationError) as raised:
        email_event_pattern(
            subject_prefix=["x"], pattern={"detail": {"headers": {"subject": ["y"]}}}
        )
    assert str(raised.value) == (
        'pattern.detail.headers.subject is also set by a filter ([{"prefix": "x"}]); '
        'got ["y"]: set each field in one place'
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "event_source must be 1-256 characters; got ''"),
        ("   ", "event_source must be 1-256 characters"),
        ("a" * 257, "event_source must be 1-256 characters"),
        ("aws.mail", "event_source 'aws.mail': the 'aws.' prefix is reserved for AWS"),
        (3, "event_source must be 1-256 characters; got 3"),
    ],
)
def test_fails_when_an_event_source_is_invalid(value: Any, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        validate_event_source("event_source", value)
    assert message in str(raised.value)


def test_valid_event_sources() -> None:
    assert validate_event_source("s", "a" * 256) == "a" * 256
    assert validate_event_source("s", "awsome.mail") == "awsome.mail"
    assert validate_event_source("s", "my.aws.mail") == "my.aws.mail"


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("recipients", ("a@example.com",)),
        ("senders", ["a@example.com"]),
        ("kinds", [MailKind.PERSON]),
    ],
)
def test_lists_may_be_any_sequence_but_not_tokens_or_strings(prop: str, value: Any) -> None:
    email_event_pattern(**{prop: value})
    with pytest.raises(ValidationError, match=f"{prop} must be a list, got the string"):
        email_event_pattern(**{prop: "x"})
    with pytest.raises(ValidationError, match=f"{prop} must be a list, got the string"):
        email_event_pattern(**{prop: b"x"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"statuses": []}, "statuses is empty: EventBridge does not allow an empty list of values"),
        ({"detail_types": []}, "detail_types is empty: EventBridge does not allow an empty list"),
        ({"subject_prefix": []}, "subject_prefix is empty: EventBridge does not allow"),
        ({"subject_wildcard": []}, "subject_wildcard is empty: EventBridge does not allow"),
        ({"subject_wildcard": ["a**"]}, "subject_wildcard 'a**': EventBridge does not allow"),
        ({"statuses": "processed"}, "statuses must be a list, got the string 'processed'"),
        (
            {"detail_types": ["Email Sent"]},
            "detail_types has 'Email Sent'; the reference handler puts 'Email Received', "
            "'Email Rejected', 'Email Too Large', 'Email Unparseable'",
        ),
        (
            {"statuses": [MailStatus.REJECTED], "detail_types": ["Email Rejected"]},
            "give statuses or detail_types, not both: each status is one detail-type (got "
            "statuses=[<MailStatus.REJECTED: 'rejected'>], detail_types=['Email Rejected'])",
        ),
    ],
)
def test_errors_name_the_filter(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        email_event_pattern(**kwargs)
    assert str(raised.value).startswith(message)


def test_a_detail_type_may_be_a_token() -> None:
    token = cdk.Fn.ref("DetailType")
    assert email_event_pattern(detail_types=[token])["detail-type"] == [token]

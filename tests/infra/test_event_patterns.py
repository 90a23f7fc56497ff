"""Event patterns from mail fields, and the synth-time checks of EventBridge's pattern syntax."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs

from ses_lambda_constructs import (
    EmailEvents,
    EmailTarget,
    MailKind,
    MailStatus,
    ValidationError,
    email_event_pattern,
    validate_event_pattern,
)
from tests.infra.conftest import ACCOUNT_ENV


def recipients_of(pattern: dict[str, Any]) -> list[Any]:
    return pattern["detail"]["envelope"]["recipients"]  # type: ignore[no-any-return]


def test_default_pattern_is_processed_mail_from_the_library_source() -> None:
    assert email_event_pattern() == {
        "source": ["ses-lambda-constructs"],
        "detail-type": ["Email Received"],
    }


@pytest.mark.parametrize(
    ("recipient", "conditions"),
    [
        # an address also matches its +label forms, as SES's recipient conditions do
        ("Help@Example.COM", ["help@example.com", {"wildcard": "help+*@example.com"}]),
        ("example.com", [{"suffix": "@example.com"}]),
        (".example.com", [{"suffix": ".example.com"}]),
        # characters that are special in a wildcard are escaped in the +label form
        ("a*b@example.com", ["a*b@example.com", {"wildcard": "a\\*b+*@example.com"}]),
    ],
)
def test_recipient_forms(recipient: str, conditions: list[Any]) -> None:
    assert recipients_of(email_event_pattern(recipients=[recipient])) == conditions


def test_filters_combine_and_values_alternate() -> None:
    pattern = email_event_pattern(
        event_source="acme.mail",
        recipients=["support@example.com", "support@example.com", "example.org"],
        senders=["Boss@Example.net"],
        subject_prefix=["[ticket]", "Re:"],
        subject_wildcard=["*invoice*"],
        statuses=[MailStatus.PROCESSED, MailStatus.TOO_LARGE],
        pattern={"detail": {"verdicts": {"dmarc": ["PASS"]}}},
    )
    assert pattern == {
        "source": ["acme.mail"],
        "detail-type": ["Email Received", "Email Too Large"],
        "detail": {
            "envelope": {
                "recipients": [
                    "support@example.com",
                    {"wildcard": "support+*@example.com"},
                    {"suffix": "@example.org"},
                ],
                "source": ["boss@example.net", {"wildcard": "boss+*@example.net"}],
            },
            "headers": {
                "subject": [{"prefix": "[ticket]"}, {"prefix": "Re:"}, {"wildcard": "*invoice*"}]
            },
            "verdicts": {"dmarc": ["PASS"]},
        },
    }


def test_kinds_filter_on_the_conversation_kind_and_default_to_every_kind() -> None:
    pattern = email_event_pattern(kinds=[MailKind.PERSON, MailKind.LIST, MailKind.PERSON])
    assert pattern == {
        "source": ["ses-lambda-constructs"],
        "detail-type": ["Email Received"],
        "detail": {"conversation": {"kind": ["person", "list"]}},
    }
    assert "detail" not in email_event_pattern()


def test_the_kinds_are_the_reference_handler_s_vocabulary() -> None:
    from lambda_src.ses_mail.kinds import KINDS

    assert sorted(kind.value for kind in MailKind) == sorted(KINDS)


def test_fails_when_kinds_are_not_mail_kinds() -> None:
    with pytest.raises(ValidationError, match=r"kinds must be MailKind values.*'person'"):
        email_event_pattern(kinds=["person"])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="kinds is empty"):
        email_event_pattern(kinds=[])


def test_detail_types_instead_of_statuses() -> None:
    pattern = email_event_pattern(detail_types=["Email Rejected"])
    assert pattern["detail-type"] == ["Email Rejected"]


def test_raw_pattern_may_use_every_operator() -> None:
    raw = {
        "$or": [
            {"detail": {"attachments": {"contentType": [{"prefix": "application/pdf"}]}}},
            {"detail": {"text": {"size": [{"numeric": [">", 0, "<=", 1000]}]}}},
        ],
        "detail": {
            "verdicts": {
                "spam": [{"anything-but": ["FAIL", "GRAY"]}],
                "virus": [{"anything-but": {"prefix": "F"}}],
                "dkim": [{"equals-ignore-case": "pass"}],
                "dmarcPolicy": [None, {"exists": False}],
                "spf": [{"anything-but": {"wildcard": ["F*", "G*"]}}],
            },
            "headers": {"subject": [{"suffix": {"equals-ignore-case": "urgent"}}]},
            "truncated": [False],
        },
    }
    pattern = email_event_pattern(pattern=raw)
    assert pattern["$or"] == raw["$or"]
    assert pattern["detail"] == raw["detail"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"recipients": []}, "recipients is empty: EventBridge does not allow an empty list"),
        ({"recipients": "a@example.com"}, "recipients must be a list, got the string"),
        (
            {"recipients": ["not an address"]},
            "recipients has a malformed recipient 'not an address'",
        ),
        ({"senders": ["@example.com"]}, "senders has a malformed recipient '@example.com'"),
        ({"subject_prefix": [""]}, "subject_prefix values must be non-empty strings; got ''"),
        ({"subject_wildcard": ["**x"]}, "consecutive '*'"),
        ({"subject_wildcard": ["a\\b"]}, "a backslash may only escape '*' or '\\'"),
        (
            {"statuses": [MailStatus.PROCESSED], "detail_types": ["Email Received"]},
            "give statuses or detail_types, not both",
        ),
        ({"statuses": ["processed"]}, "statuses must be MailStatus values"),
        ({"detail_types": ["Email Sent"]}, "detail_types has 'Email Sent'"),
        ({"event_source": ""}, "event_source must be 1-256 characters; got ''"),
        ({"event_source": "aws.ses"}, "the 'aws.' prefix is reserved for AWS"),
        (
            {
                "recipients": ["a@example.com"],
                "pattern": {"detail": {"envelope": {"recipients": ["b"]}}},
            },
            "pattern.detail.envelope.recipients is also set by a filter",
        ),
        ({"pattern": {"source": ["other"]}}, "pattern.source is also set by a filter"),
        ({"pattern": {"detail": {"status": []}}}, "pattern.detail.status is an empty list"),
        ({"pattern": {"detail": {"status": "processed"}}}, "pattern.detail.status must be a list"),
        ({"pattern": {"detail": {}}}, "pattern.detail is an empty object"),
        ({"pattern": {"detail": {"x": [{"regex": "a.*"}]}}}, "unknown operator 'regex'"),
        (
            {"pattern": {"detail": {"x": [{"prefix": 1}]}}},
            "pattern.detail.x[0].prefix must be a string",
        ),
        (
            {"pattern": {"detail": {"x": [{"prefix": "a", "suffix": "b"}]}}},
            "must be a value or an object with one operator",
        ),
        (
            {"pattern": {"detail": {"x": [{"anything-but": ["a", 1]}]}}},
            "must list only strings or only numbers",
        ),
        ({"pattern": {"detail": {"x": [{"anything-but": []}]}}}, "is an empty list"),
        ({"pattern": {"detail": {"x": [{"exists": "yes"}]}}}, "exists must be true or false"),
        ({"pattern": {"detail": {"x": [{"numeric": ["~", 1]}]}}}, "has the operator '~'"),
        ({"pattern": {"detail": {"x": [{"numeric": ["<", 1, ">", 0]}]}}}, "must be a range"),
        ({"pattern": {"detail": {"x": [{"numeric": [">", 6e9]}]}}}, "between -5e9 and 5e9"),
        ({"pattern": {"detail": {"x": [{"cidr": "10.0.0.0/99"}]}}}, "must be an IP prefix"),
        (
            {"pattern": {"$or": [{"detail": {"x": ["a"]}}]}},
            "pattern.$or must be a list of at least two",
        ),
        ({"pattern": {"$or": [{"a": ["b"]}, {}]}}, "pattern.$or[1] must be a non-empty object"),
        ({"pattern": ["not", "a", "mapping"]}, "pattern must be a mapping"),
    ],
)
def test_fails_when_a_pattern_is_invalid(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as error:
        email_event_pattern(**kwargs)
    assert message in str(error.value)


def test_fails_when_a_raw_pattern_is_empty() -> None:
    with pytest.raises(ValidationError, match="must be a non-empty JSON object"):
        validate_event_pattern("pattern", {})


@pytest.fixture
def mail_events() -> EmailEvents:
    stack = cdk.Stack(cdk.App(), "Subscriptions", env=ACCOUNT_ENV)
    return EmailEvents(stack, "Mail")


def queue_target(mail_events: EmailEvents) -> EmailTarget:
    return EmailTarget.queue(sqs.Queue(mail_events, "Inbox"))


def test_fails_when_retry_attempts_are_out_of_range(mail_events: EmailEvents) -> None:
    with pytest.raises(ValidationError, match=r"retry_attempts must be between 0 and 185.*got 186"):
        mail_events.subscribe("Sub", queue_target(mail_events), retry_attempts=186)


def test_fails_when_max_event_age_is_out_of_range(mail_events: EmailEvents) -> None:
    with pytest.raises(ValidationError, match="max_event_age must be between 60 seconds and 24"):
        mail_events.subscribe(
            "Sub", queue_target(mail_events), max_event_age=cdk.Duration.seconds(30)
        )


def test_fails_when_a_subscription_id_is_used_twice(mail_events: EmailEvents) -> None:
    target = queue_target(mail_events)
    mail_events.subscribe("Sub", target)
    with pytest.raises(ValidationError, match="subscribe: the id 'Sub' is used twice"):
        mail_events.subscribe("Sub", target)


def test_fails_when_a_subscription_pattern_is_invalid(mail_events: EmailEvents) -> None:
    with pytest.raises(ValidationError, match="recipients has a malformed recipient 'x@'"):
        mail_events.subscribe("Sub", queue_target(mail_events), recipients=["x@"])


def test_fails_when_the_event_source_is_empty() -> None:
    stack = cdk.Stack(cdk.App(), "Empty", env=ACCOUNT_ENV)
    with pytest.raises(ValidationError, match="event_source must be 1-256 characters"):
        EmailEvents(stack, "Mail", event_source=" ")


def test_a_subscription_on_kinds_puts_them_in_its_rule(mail_events: EmailEvents) -> None:
    subscription = mail_events.subscribe(
        "People", queue_target(mail_events), kinds=[MailKind.PERSON]
    )
    assert subscription.pattern["detail"] == {"conversation": {"kind": ["person"]}}
    rules = [
        resource
        for resource in cdk.assertions.Template.from_stack(cdk.Stack.of(mail_events))
        .to_json()["Resources"]
        .values()
        if resource["Type"] == "AWS::Events::Rule"
    ]
    assert [rule["Properties"]["EventPattern"]["detail"] for rule in rules] == [
        {"conversation": {"kind": ["person"]}}
    ]

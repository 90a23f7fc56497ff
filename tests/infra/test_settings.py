"""The receiver's typed settings and the one subscription-options object.

Each setting accepts exactly the values AWS accepts (the bounds cited in settings.py) and
refuses the others with a message naming the prop and the value; the receiver builds them once,
before it defines anything.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, get_type_hints

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from hypothesis import given, settings
from hypothesis import strategies as st

from ses_lambda_constructs import (
    EmailEvents,
    EmailReceiver,
    EmailTarget,
    MailKind,
    MailStatus,
    ValidationError,
    Verdict,
)
from ses_lambda_constructs.settings import (
    EventSettings,
    FailureSettings,
    HandlerSettings,
    ReceiverSettings,
    StorageSettings,
)
from ses_lambda_constructs.subscription import SubscriptionKeywords, SubscriptionOptions
from tests.infra.conftest import make_stack


def storage(**changes: Any) -> StorageSettings:
    return StorageSettings(
        **{
            "store_raw_messages": True,
            "raw_message_prefix": "raw/",
            "raw_message_expiration": None,
            "removal_policy": cdk.RemovalPolicy.RETAIN,
            **changes,
        }
    )


def handler(**changes: Any) -> HandlerSettings:
    return HandlerSettings(
        **{
            "parsed_prefix": "parsed/",
            "reject_on_verdicts": (Verdict.SPAM,),
            "runtime": lambda_.Runtime.PYTHON_3_13,
            **changes,
        }
    )


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(min_value=-5, max_value=10), st.booleans(), st.floats(0, 3)))
def test_failure_retries_are_lambdas_asynchronous_bounds(value: Any) -> None:
    valid = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2
    if valid:
        built = FailureSettings(
            retry_attempts=value, max_event_age=cdk.Duration.hours(1), alarm_topic=None
        )
        assert built.retry_attempts == value
    else:
        with pytest.raises(
            ValidationError,
            match=re.escape(
                f"retry_attempts must be an integer between 0 and 2 (Lambda's asynchronous invocation retries); got {value!r}"
            ),
        ):
            FailureSettings(
                retry_attempts=value, max_event_age=cdk.Duration.hours(1), alarm_topic=None
            )


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=30 * 3600))
def test_failure_event_age_is_60_seconds_to_6_hours(seconds: int) -> None:
    age = cdk.Duration.seconds(seconds)
    if 60 <= seconds <= 6 * 3600:
        assert FailureSettings(retry_attempts=2, max_event_age=age, alarm_topic=None)
    else:
        with pytest.raises(ValidationError, match="max_event_age must be between 60 seconds"):
            FailureSettings(retry_attempts=2, max_event_age=age, alarm_topic=None)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=10 * 86400))
def test_storage_expiration_is_whole_days(seconds: int) -> None:
    expiration = cdk.Duration.seconds(seconds)
    if seconds % 86400 == 0:
        assert storage(raw_message_expiration=expiration).raw_message_expiration is expiration
    else:
        with pytest.raises(ValidationError, match="raw_message_expiration must be a whole"):
            storage(raw_message_expiration=expiration)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([*Verdict, *(v.value for v in Verdict)]), max_size=5))
def test_handler_verdicts_are_kept_as_a_tuple_of_verdicts(verdicts: list[Any]) -> None:
    built = handler(reject_on_verdicts=verdicts)
    assert built.reject_on_verdicts == tuple(Verdict(v) for v in verdicts)
    assert all(isinstance(v, Verdict) for v in built.reject_on_verdicts)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: storage(store_raw_messages="yes"),
            "store_raw_messages must be True or False; got 'yes'",
        ),
        (
            lambda: storage(raw_message_expiration=30),
            "raw_message_expiration must be a Duration; got 30",
        ),
        (
            lambda: storage(removal_policy="retain"),
            "removal_policy must be a RemovalPolicy; got 'retain'",
        ),
        (
            lambda: handler(reject_on_verdicts="spam"),
            "reject_on_verdicts must be a list of Verdict; got the string 'spam'",
        ),
        (
            lambda: handler(reject_on_verdicts=["junk"]),
            "reject_on_verdicts has 'junk', which is not a Verdict",
        ),
        (
            lambda: handler(runtime=lambda_.Runtime.NODEJS_22_X),
            "handler_runtime must be a Python runtime",
        ),
        (
            lambda: handler(runtime="python3.13"),
            "handler_runtime must be a lambda Runtime; got 'python3.13'",
        ),
        (lambda: handler(parsed_prefix=""), "parsed_prefix"),
        (lambda: EventSettings(event_bus=None, event_source=" "), "event_source must be 1-256"),
        (
            lambda: ReceiverSettings(
                storage=storage(raw_message_prefix="mail/"),
                handler=handler(parsed_prefix="mail/parsed/"),
                failures=FailureSettings(
                    retry_attempts=2, max_event_age=cdk.Duration.hours(6), alarm_topic=None
                ),
                events=EventSettings(event_bus=None, event_source="s"),
                verdict_gate=False,
            ),
            "raw_message_prefix ('mail/') and parsed_prefix ('mail/parsed/') overlap",
        ),
        (
            lambda: ReceiverSettings(
                storage=storage(),
                handler=handler(reject_on_verdicts=()),
                failures=FailureSettings(
                    retry_attempts=2, max_event_age=cdk.Duration.hours(6), alarm_topic=None
                ),
                events=EventSettings(event_bus=None, event_source="s"),
                verdict_gate=True,
            ),
            "verdict_gate=True needs at least one verdict in reject_on_verdicts",
        ),
    ],
)
def test_each_setting_names_the_prop_and_the_value(build: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        build()


def test_settings_are_frozen_and_built_once_by_the_receiver() -> None:
    stack = make_stack()
    receiver = EmailReceiver(
        stack, "Receiver", rule_set_name="r", retry_attempts=1, parsed_prefix="out/"
    )
    assert receiver.settings.failures.retry_attempts == 1
    assert receiver.settings.handler.parsed_prefix == "out/"
    with pytest.raises(dataclasses.FrozenInstanceError):
        receiver.settings.handler.parsed_prefix = "x/"  # type: ignore[misc]


# --- subscription options -----------------------------------------------------------------


def test_the_keywords_are_the_options_fields() -> None:
    """The keyword arguments of every subscribe are typed by SubscriptionKeywords; it lists
    exactly the fields of SubscriptionOptions, with the same types."""
    names = [f.name for f in dataclasses.fields(SubscriptionOptions)]
    assert list(SubscriptionKeywords.__annotations__) == names
    assert get_type_hints(SubscriptionKeywords) == get_type_hints(SubscriptionOptions)
    assert not SubscriptionKeywords.__required_keys__


_VALUES: dict[str, Any] = {
    "recipients": st.lists(st.sampled_from(["a@example.com", "example.org"]), min_size=1),
    "senders": st.lists(st.sampled_from(["b@example.net", ".example.net"]), min_size=1),
    "subject_prefix": st.lists(st.sampled_from(["Invoice", "Re:"]), min_size=1),
    "statuses": st.lists(st.sampled_from(list(MailStatus)), min_size=1, unique=True),
    "kinds": st.lists(st.sampled_from(list(MailKind)), min_size=1, unique=True),
    "retry_attempts": st.integers(0, 185),
    "max_event_age": st.integers(60, 86400).map(cdk.Duration.seconds),
    "rule_name": st.sampled_from(["one", "two"]),
    "description": st.text(min_size=1, max_size=10),
    "enabled": st.booleans(),
}


@settings(max_examples=100, deadline=None)
@given(
    st.fixed_dictionaries({}, optional=_VALUES),
    st.fixed_dictionaries({}, optional=_VALUES),
)
def test_keywords_replace_the_fields_of_the_options_they_name(
    base: dict[str, Any], keywords: dict[str, Any]
) -> None:
    options = SubscriptionOptions(**base)
    built = SubscriptionOptions.of(options, keywords)  # type: ignore[arg-type]
    for field in dataclasses.fields(SubscriptionOptions):
        expected = keywords.get(
            field.name, base.get(field.name, getattr(SubscriptionOptions(), field.name))
        )
        assert getattr(built, field.name) == expected, field.name
    assert SubscriptionOptions.of(None, keywords) == SubscriptionOptions(**keywords)  # type: ignore[arg-type]


def test_an_unknown_keyword_names_itself_and_the_options() -> None:
    with pytest.raises(
        TypeError, match="subscribe got unknown option\\(s\\) kind; the options are recipients"
    ):
        SubscriptionOptions.of(None, {"kind": [MailKind.PERSON]})  # type: ignore[typeddict-unknown-key]


def test_options_are_checked_once_built() -> None:
    with pytest.raises(ValidationError, match=r"retry_attempts must be between 0 and 185.*got 186"):
        SubscriptionOptions(retry_attempts=186)
    with pytest.raises(ValidationError, match="options must be a SubscriptionOptions; got"):
        SubscriptionOptions.of({"kinds": []}, {})  # type: ignore[arg-type]


def test_every_entry_point_takes_keywords_or_the_object_alike() -> None:
    """receiver.subscribe, EmailEvents.subscribe and EmailSubscription give one rule for one
    set of options, however they are passed."""
    stack = make_stack()
    receiver = EmailReceiver(stack, "Receiver", rule_set_name="r")
    events = EmailEvents(stack, "Events")
    queue = sqs.Queue(stack, "Queue")
    options = SubscriptionOptions(kinds=[MailKind.PERSON], subject_prefix=["Invoice"])
    by_keywords = receiver.subscribe(
        "A", EmailTarget.queue(queue), kinds=[MailKind.PERSON], subject_prefix=["Invoice"]
    )
    by_object = receiver.subscribe("B", EmailTarget.queue(queue), options=options)
    on_events = events.subscribe("C", EmailTarget.queue(queue), options=options)
    overridden = events.subscribe(
        "D", EmailTarget.queue(queue), options=options, subject_prefix=["Order"]
    )
    assert by_keywords.options == by_object.options == on_events.options == options
    assert by_keywords.pattern == by_object.pattern
    assert overridden.options == dataclasses.replace(options, subject_prefix=["Order"])
    assert overridden.pattern["detail"]["headers"] == {"subject": [{"prefix": "Order"}]}

"""The handler puts one EventBridge event per message: moto's S3, EventBridge and SQS, end to end.

Events are observed as a subscriber sees them (a rule on the bus targets an SQS queue); the
order of writes and put is observed on the real PutEvents call through botocore's event hooks.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from typing import Any

import handler
import pytest
from handler_support import (
    BUCKET,
    EVENT_BUS,
    FUZZ,
    MESSAGE_ID,
    RAW_PREFIX,
    FakeLambdaContext,
    MailBus,
    all_keys,
    document_key,
    documented_event,
    email_bytes,
    read_json,
    sns_event,
    with_receipt,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from ses_mail import (
    DETAIL_TYPES,
    MAX_ENTRY_BYTES,
    ConfigurationError,
    EventPublishError,
    delivery_key,
    entry_size,
)
from test_fuzz import mime_parts, mutated_corpus

DOCUMENT_KEY = document_key()
RAW_KEY = f"{RAW_PREFIX}{MESSAGE_ID}"


def store_raw(s3: Any, raw: bytes, message_id: str = MESSAGE_ID) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{RAW_PREFIX}{message_id}", Body=raw)


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = handler.lambda_handler(event, FakeLambdaContext())
    return result


def metric_values(captured: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in captured.splitlines():
        if not line.startswith("{") or "_aws" not in line:
            continue
        document = json.loads(line)
        for definition in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            name = definition["Name"]
            value = document[name]
            values[name] = values.get(name, 0) + (sum(value) if isinstance(value, list) else value)
    return values


def on_put_events(hook: str, callback: Callable[..., Any]) -> None:
    """Register ``callback`` on the handler's own EventBridge client for PutEvents."""
    handler.events_client().meta.events.register(f"{hook}.events.PutEvents", callback)


def test_processed_mail_is_announced_after_everything_it_points_to_is_stored(
    s3: Any, mail_bus: MailBus, detail_validator: Any
) -> None:
    # GIVEN a message with attachments, and an observer of the real PutEvents call
    store_raw(s3, email_bytes("nested-multipart.eml"))
    keys_at_put: list[list[str]] = []
    on_put_events("before-call", lambda **_: keys_at_put.append(all_keys(s3)))

    # WHEN the handler processes it
    invoke(documented_event())

    # THEN one event reached the subscriber, put once every object it names existed
    (event,) = mail_bus.received()
    assert event["source"] == "ses-lambda-constructs"
    assert event["detail-type"] == "Email Received"
    detail = event["detail"]
    detail_validator.validate(detail)
    assert detail["messageId"] == MESSAGE_ID
    assert detail["status"] == "processed"
    assert detail["location"] == {"bucket": BUCKET, "messageKey": DOCUMENT_KEY, "rawKey": RAW_KEY}
    named = [DOCUMENT_KEY, RAW_KEY, *(item["key"] for item in detail["attachments"])]
    assert len(detail["attachments"]) == 2
    assert keys_at_put == [sorted(named)] == [all_keys(s3)]
    document = read_json(s3, DOCUMENT_KEY)
    assert detail["headers"] == document["headers"]
    assert detail["text"]["content"] == document["text"]
    assert [item["sha256"] for item in detail["attachments"]] == [
        item["sha256"] for item in document["attachments"]
    ]


def rejected(s3: Any, env: Callable[..., None]) -> dict[str, Any]:
    return with_receipt(documented_event(), spamVerdict={"status": "FAIL"})


def too_large(s3: Any, env: Callable[..., None]) -> dict[str, Any]:
    env(MAX_MESSAGE_BYTES="1000")
    store_raw(s3, email_bytes("nested-multipart.eml"))
    return documented_event()


def unparseable(s3: Any, env: Callable[..., None]) -> dict[str, Any]:
    # More MIME parts than the parser's limit (ParseLimits.max_parts, 1000).
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\n%d\r\n" % n for n in range(1001))
    head = b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    store_raw(s3, head + parts + b"--b--\r\n")
    return documented_event()


def processed(s3: Any, env: Callable[..., None]) -> dict[str, Any]:
    store_raw(s3, email_bytes("plain-7bit.eml"))
    return documented_event()


@pytest.mark.parametrize(
    ("make_event", "status", "detail_type"),
    [
        (processed, "processed", "Email Received"),
        (rejected, "rejected", "Email Rejected"),
        (too_large, "too_large", "Email Too Large"),
        (unparseable, "unparseable", "Email Unparseable"),
    ],
)
def test_every_outcome_puts_its_own_detail_type(
    s3: Any,
    mail_bus: MailBus,
    handler_env: Callable[..., None],
    detail_validator: Any,
    capsys: pytest.CaptureFixture[str],
    make_event: Callable[..., dict[str, Any]],
    status: str,
    detail_type: str,
) -> None:
    event = make_event(s3, handler_env)

    invoke(event)

    (received,) = mail_bus.received()
    assert received["detail-type"] == detail_type
    detail = received["detail"]
    detail_validator.validate(detail)
    assert detail["status"] == status == read_json(s3, DOCUMENT_KEY)["status"]
    assert detail["envelope"]["recipients"] == ["johndoe@example.com"]
    if status == "rejected":
        assert detail["verdicts"]["rejection"] == {"verdicts": ["spam"]}
    if status in ("too_large", "unparseable"):
        assert detail["error"].startswith(read_json(s3, DOCUMENT_KEY)["error"]["code"] + ": ")
    assert metric_values(capsys.readouterr().out)["EventsPublished"] == 1


def test_a_body_over_the_entry_limit_is_cut_to_fit(
    s3: Any, mail_bus: MailBus, detail_validator: Any, handler_logs: io.StringIO
) -> None:
    # GIVEN a 1.2 MB text body, over the 1 MB entry limit (ASCII: moto hands the event to the
    # test's SQS queue with non-ASCII characters as \\u escapes, which would overrun SQS's 1 MiB;
    # cutting at a character boundary is proven in test_event_detail.py)
    body = "e" * 1_200_000
    raw = (
        "From: Jane <jane@example.com>\r\nTo: john@example.com\r\nSubject: big\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + body
    ).encode()
    store_raw(s3, raw)
    sizes: list[int] = []
    on_put_events(
        "provide-client-params", lambda params, **_: sizes.append(entry_size(params["Entries"][0]))
    )

    # WHEN it is handled
    invoke(documented_event())

    # THEN the entry sent was within EventBridge's limit, and the detail says what was cut
    assert len(sizes) == 1 and MAX_ENTRY_BYTES - 1 <= sizes[0] <= MAX_ENTRY_BYTES
    detail = mail_bus.received()[0]["detail"]
    detail_validator.validate(detail)
    assert detail["truncated"] is True
    text = detail["text"]
    assert text["truncated"] is True
    assert text["size"] == len(body.encode()) == 1_200_000
    assert set(text["content"]) == {"e"}
    assert read_json(s3, DOCUMENT_KEY)["text"] == body  # message.json keeps the whole body
    logs = [json.loads(line) for line in handler_logs.getvalue().splitlines()]
    (put,) = [line for line in logs if line["message"] == "event put"]
    assert (put["truncated"], put["entry_bytes"]) == (True, sizes[0])


def test_fails_when_the_bus_does_not_exist(
    s3: Any,
    mail_bus: MailBus,
    handler_env: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a bus name that moto's EventBridge does not know
    handler_env(EVENT_BUS_NAME="no-such-bus")
    store_raw(s3, email_bytes("plain-7bit.eml"))

    # WHEN the message is handled, THEN the invocation fails naming the bus and the error
    with pytest.raises(EventPublishError) as failure:
        invoke(documented_event())
    assert failure.value.event_bus == "no-such-bus"
    assert failure.value.message_id == MESSAGE_ID
    assert "ResourceNotFoundException" in str(failure.value)
    assert "Event bus no-such-bus does not exist" in str(failure.value)
    # the outcome is stored, so a retry rewrites it and puts the event again
    assert DOCUMENT_KEY in all_keys(s3)
    metrics = metric_values(capsys.readouterr().out)
    assert metrics["EventsFailed"] == 1 and metrics["MessagesFailed"] == 1
    assert "EventsPublished" not in metrics


def test_fails_when_the_entry_is_refused(
    s3: Any, mail_bus: MailBus, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a PutEvents request whose entry EventBridge refuses (the call itself succeeds with
    # FailedEntryCount 1): the Detail is corrupted on its way out, and moto answers for real
    store_raw(s3, email_bytes("plain-7bit.eml"))
    answers: list[dict[str, Any]] = []

    def corrupt(params: dict[str, Any], **_: Any) -> None:
        params["Entries"][0]["Detail"] = "{not json"

    on_put_events("provide-client-params", corrupt)
    on_put_events("after-call", lambda parsed, **_: answers.append(parsed))

    # WHEN the message is handled, THEN the invocation fails with the entry's error
    with pytest.raises(EventPublishError, match=r"MalformedDetail: Detail is malformed"):
        invoke(documented_event())
    assert answers[0]["FailedEntryCount"] == 1
    assert mail_bus.received() == []
    assert metric_values(capsys.readouterr().out)["EventsFailed"] == 1


def test_a_retry_puts_the_event_again_with_the_same_message_id(s3: Any, mail_bus: MailBus) -> None:
    store_raw(s3, email_bytes("plain-7bit.eml"))

    invoke(documented_event())
    invoke(documented_event())  # Lambda retrying a failed invocation delivers the same event

    events = mail_bus.received()
    assert len(events) == 2
    assert events[0]["detail"] == events[1]["detail"]
    assert events[0]["detail"]["messageId"] == MESSAGE_ID
    assert (
        events[0]["detail"]["deliveryId"] == f"{MESSAGE_ID}/{delivery_key(['johndoe@example.com'])}"
    )


def test_every_record_puts_its_own_event(s3: Any, mail_bus: MailBus) -> None:
    event = documented_event()
    second = json.loads(json.dumps(event["Records"][0]))
    second["ses"]["mail"]["messageId"] = "second0message0id"
    event["Records"].append(second)
    store_raw(s3, email_bytes("plain-7bit.eml"))
    store_raw(s3, email_bytes("html-only.eml"), "second0message0id")

    invoke(event)

    ids = sorted(item["detail"]["messageId"] for item in mail_bus.received())
    assert ids == sorted([MESSAGE_ID, "second0message0id"])


def test_the_bus_can_be_named_by_its_arn(
    s3: Any, mail_bus: MailBus, handler_env: Callable[..., None]
) -> None:
    # The construct sets EVENT_BUS_NAME to the bus ARN; PutEvents accepts a name or an ARN.
    arn = mail_bus.events.describe_event_bus(Name=EVENT_BUS)["Arn"]
    handler_env(EVENT_BUS_NAME=arn)
    store_raw(s3, email_bytes("plain-7bit.eml"))

    invoke(documented_event())

    (event,) = mail_bus.received()
    assert event["detail"]["messageId"] == MESSAGE_ID


def test_event_source_is_configurable(
    s3: Any, mail_bus: MailBus, handler_env: Callable[..., None]
) -> None:
    handler_env(EVENT_SOURCE="com.example.mail")
    mail_bus.events.put_rule(
        Name="every-mail-event",
        EventBusName=EVENT_BUS,
        EventPattern=json.dumps({"source": ["com.example.mail"]}),
    )
    store_raw(s3, email_bytes("plain-7bit.eml"))

    invoke(documented_event())

    (event,) = mail_bus.received()
    assert event["source"] == "com.example.mail"


def test_without_a_bucket_the_event_carries_no_location(
    s3: Any, mail_bus: MailBus, handler_env: Callable[..., None], detail_validator: Any
) -> None:
    handler_env(RAW_MESSAGE_BUCKET=None)
    content = base64.b64encode(email_bytes("plain-7bit.eml")).decode()

    invoke(sns_event(content=content))

    detail = mail_bus.received()[0]["detail"]
    detail_validator.validate(detail)
    assert detail["location"] == {"bucket": None, "messageKey": None, "rawKey": None}
    assert detail["text"]["content"].startswith("Hello John,")


def test_without_a_bus_no_events_client_is_created(s3: Any) -> None:
    store_raw(s3, email_bytes("plain-7bit.eml"))
    handler.events_client.cache_clear()

    invoke(documented_event())

    assert handler.events_client.cache_info().currsize == 0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("EVENT_SOURCE", "aws.ses", "EVENT_SOURCE: 'aws.ses': the 'aws.' prefix is reserved"),
        ("EVENT_SOURCE", "s" * 257, "EVENT_SOURCE: longer than 256 characters"),
        ("EVENT_BUS_NAME", "my bus", "EVENT_BUS_NAME: 'my bus' is not an event bus name or ARN"),
    ],
)
def test_fails_when_the_event_settings_are_invalid(
    s3: Any, handler_env: Callable[..., None], variable: str, value: str, message: str
) -> None:
    handler_env(**{variable: value})
    with pytest.raises(ConfigurationError, match=message.replace(".", r"\.")) as failure:
        invoke(documented_event())
    assert failure.value.variable == variable


@settings(FUZZ, max_examples=40)
@given(st.one_of(mime_parts(), mutated_corpus(), st.binary(max_size=1000)))
def test_fuzz_any_message_gets_a_valid_event_that_agrees_with_message_json(
    s3: Any, mail_bus: MailBus, raw: bytes
) -> None:
    # GIVEN any bytes delivered as an SNS action's content
    content = base64.b64encode(raw).decode()
    mail_bus.seen.clear()

    # WHEN the handler runs
    invoke(sns_event(content=content, encoding="BASE64"))

    # THEN one schema-valid event arrived (MailBus validates it) and agrees with message.json
    (received,) = mail_bus.received()
    detail = received["detail"]
    document = read_json(s3, DOCUMENT_KEY)
    assert detail["status"] == document["status"]
    assert received["detail-type"] == DETAIL_TYPES[document["status"]]
    assert detail["headers"] == document["headers"]
    for name in ("text", "html"):
        if document[name] is None:
            assert detail[name] is None
        else:
            assert document[name].startswith(detail[name]["content"])
            assert detail[name]["truncated"] is (detail[name]["content"] != document[name])
            assert detail["truncated"] or not detail[name]["truncated"]
    assert [item["key"] for item in detail["attachments"]] == [
        item["key"] for item in document["attachments"]
    ]


def test_two_rules_matching_one_message_give_two_deliveries(s3: Any, mail_bus: MailBus) -> None:
    """Each receipt rule's invocation gets its own message.json and its own event, told apart
    by ``deliveryId``; neither overwrites the other."""
    store_raw(s3, email_bytes("plain-7bit.eml"))
    support = with_receipt(documented_event(), recipients=["support@example.com"])
    sales = with_receipt(
        documented_event(), recipients=["sales@example.com", "Support@Example.com"]
    )

    invoke(support)
    invoke(sales)

    support_doc = read_json(s3, document_key(recipients=["support@example.com"]))
    sales_doc = read_json(s3, document_key(recipients=["sales@example.com", "support@example.com"]))
    assert support_doc["envelope"]["recipients"] == ["support@example.com"]
    assert sales_doc["envelope"]["recipients"] == ["sales@example.com", "Support@Example.com"]
    assert support_doc["messageId"] == sales_doc["messageId"] == MESSAGE_ID
    assert support_doc["deliveryId"] != sales_doc["deliveryId"]
    details = [e["detail"] for e in mail_bus.received()]
    assert sorted(d["deliveryId"] for d in details) == sorted(
        [support_doc["deliveryId"], sales_doc["deliveryId"]]
    )
    for detail in details:
        document = read_json(s3, detail["location"]["messageKey"])
        assert document["deliveryId"] == detail["deliveryId"]

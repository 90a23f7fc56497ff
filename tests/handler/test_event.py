"""The event model: both SES event shapes, verdicts, content decoding, and malformed events."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from handler_support import MESSAGE_ID, documented_event, email_bytes, sns_event, with_receipt
from ses_mail import (
    InvalidEventError,
    Verdicts,
    decode_content,
    parse_event,
    parse_notification,
    validate_message_id,
)


def test_documented_lambda_event_is_read_completely() -> None:
    # GIVEN the SES Lambda action event from AWS's documentation
    event = documented_event()

    # WHEN it is parsed
    (notification,) = parse_event(event)

    # THEN every field the handler uses is there, typed
    assert notification.message_id == MESSAGE_ID
    assert notification.event_source == "aws:ses"
    assert notification.source == "janedoe@example.com"
    assert notification.destination == ("johndoe@example.com",)
    assert notification.recipients == ("johndoe@example.com",)
    assert notification.timestamp == "1970-01-01T00:00:00.000Z"
    assert notification.headers_truncated is False
    assert notification.common_headers["subject"] == "Test Subject"
    assert notification.common_headers["from"] == ("Jane Doe <janedoe@example.com>",)
    assert notification.verdicts == Verdicts(spam="PASS", virus="PASS", spf="PASS", dkim="PASS")
    assert notification.action.type == "Lambda"
    assert notification.action.invocation_type == "Event"
    assert not notification.action.is_request_response
    assert notification.action.fields["functionArn"].endswith(":function:Example")
    assert notification.content is None


def test_sns_wrapped_notification_with_base64_content() -> None:
    # GIVEN an SNS action notification carrying the raw message base64-encoded
    raw = email_bytes("plain-7bit.eml")
    event = sns_event(content=base64.b64encode(raw).decode(), encoding="BASE64")

    # WHEN it is parsed
    (notification,) = parse_event(event)

    # THEN it reads like the direct shape, plus the decoded content
    assert notification.event_source == "aws:sns"
    assert notification.message_id == MESSAGE_ID
    assert notification.action.type == "SNS"
    assert notification.action.invocation_type == "Event"
    assert notification.verdicts.spam == "PASS"
    assert notification.content == raw


def test_sns_wrapped_notification_with_utf8_content() -> None:
    raw = email_bytes("multipart-alternative.eml")
    event = sns_event(content=raw.decode("utf-8"), encoding="UTF8")

    (notification,) = parse_event(event)

    assert notification.content == raw


@pytest.mark.parametrize("name", ["plain-7bit.eml", "multipart-alternative.eml"])
def test_content_without_encoding_is_recognised(name: str) -> None:
    raw = email_bytes(name)
    assert decode_content(base64.b64encode(raw).decode(), None) == raw
    assert decode_content(raw.decode("utf-8"), None) == raw


def test_sns_notification_of_another_action_has_no_content() -> None:
    # GIVEN an S3 action's topic notification (no content field)
    (notification,) = parse_event(sns_event(content=None))
    assert notification.content is None


def test_parse_notification_reads_the_bare_sns_message() -> None:
    event = sns_event(content="From: a@example.com\r\n\r\nhi", encoding="UTF8")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    notification = parse_notification(message)
    assert notification.content == b"From: a@example.com\r\n\r\nhi"


def test_every_record_is_returned_in_order() -> None:
    event = documented_event()
    second = copy.deepcopy(event["Records"][0])
    second["ses"]["mail"]["messageId"] = "second0message0id"
    event["Records"].append(second)
    event["Records"].extend(sns_event()["Records"])

    ids = [n.message_id for n in parse_event(event)]

    assert ids == [MESSAGE_ID, "second0message0id", MESSAGE_ID]


def test_optional_verdicts_may_be_absent_and_dmarc_policy_is_read() -> None:
    event = with_receipt(
        documented_event(),
        dkimVerdict=None,
        dmarcVerdict={"status": "FAIL"},
        dmarcPolicy="reject",
        spamVerdict={"status": "DISABLED"},
        virusVerdict={"status": "PROCESSING_FAILED"},
        spfVerdict={"status": "GRAY"},
    )

    (notification,) = parse_event(event)

    assert notification.verdicts == Verdicts(
        spam="DISABLED",
        virus="PROCESSING_FAILED",
        spf="GRAY",
        dkim=None,
        dmarc="FAIL",
        dmarc_policy="reject",
    )


def test_request_response_invocation_is_recognised() -> None:
    event = with_receipt(
        documented_event(),
        action={
            "type": "Lambda",
            "invocationType": "RequestResponse",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:gate",
        },
    )
    (notification,) = parse_event(event)
    assert notification.action.is_request_response


def test_headers_truncated_is_read() -> None:
    event = documented_event()
    event["Records"][0]["ses"]["mail"]["headersTruncated"] = True
    (notification,) = parse_event(event)
    assert notification.headers_truncated is True


def _mutate(path: str, value: Any) -> dict[str, Any]:
    """The documented event with the value at a dotted path replaced (``...`` deletes it)."""
    event = documented_event()
    node: Any = event
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is ...:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return event


MALFORMED = [
    # (event, field named in the error, words in the problem)
    (None, "event", "missing"),
    ([], "event", "must be an object"),
    ({}, "Records", "missing"),
    ({"Records": {}}, "Records", "must be a list"),
    ({"Records": []}, "Records", "at least one"),
    ({"Records": ["x"]}, "Records[0]", "must be an object"),
    ({"Records": [{}]}, "Records[0].eventSource", "missing"),
    ({"Records": [{"eventSource": "aws:s3"}]}, "Records[0].eventSource", "neither"),
    (_mutate("Records.0.ses", ...), "Records[0].ses", "missing"),
    (_mutate("Records.0.ses.mail", ...), "Records[0].ses.mail", "missing"),
    (_mutate("Records.0.ses.receipt", 7), "Records[0].ses.receipt", "must be an object"),
    (
        _mutate("Records.0.ses.mail.messageId", ...),
        "Records[0].ses.mail.messageId",
        "must be a string",
    ),
    (_mutate("Records.0.ses.mail.messageId", ""), "Records[0].ses.mail.messageId", "empty"),
    (_mutate("Records.0.ses.mail.messageId", "../../etc"), "Records[0].ses.mail.messageId", "safe"),
    (_mutate("Records.0.ses.mail.messageId", "a/b"), "Records[0].ses.mail.messageId", "safe"),
    (_mutate("Records.0.ses.mail.messageId", "ab..cd"), "Records[0].ses.mail.messageId", "safe"),
    (_mutate("Records.0.ses.mail.messageId", "id\x00x"), "Records[0].ses.mail.messageId", "safe"),
    (_mutate("Records.0.ses.mail.messageId", "a" * 256), "Records[0].ses.mail.messageId", "longer"),
    (_mutate("Records.0.ses.mail.source", 5), "Records[0].ses.mail.source", "must be a string"),
    (_mutate("Records.0.ses.mail.destination", "x@y"), "Records[0].ses.mail.destination", "list"),
    (
        _mutate("Records.0.ses.mail.headersTruncated", "no"),
        "Records[0].ses.mail.headersTruncated",
        "true or false",
    ),
    (
        _mutate("Records.0.ses.mail.commonHeaders.from", 1),
        "Records[0].ses.mail.commonHeaders.from",
        "string",
    ),
    (
        _mutate("Records.0.ses.receipt.recipients", [1]),
        "Records[0].ses.receipt.recipients[0]",
        "string",
    ),
    (
        _mutate("Records.0.ses.receipt.spamVerdict", "PASS"),
        "Records[0].ses.receipt.spamVerdict",
        "object",
    ),
    (
        _mutate("Records.0.ses.receipt.virusVerdict.status", 1),
        "Records[0].ses.receipt.virusVerdict.status",
        "string",
    ),
    (
        _mutate("Records.0.ses.receipt.dmarcPolicy", 3),
        "Records[0].ses.receipt.dmarcPolicy",
        "string",
    ),
    (_mutate("Records.0.ses.receipt.action", ...), "Records[0].ses.receipt.action", "missing"),
    (
        _mutate("Records.0.ses.receipt.action.type", ...),
        "Records[0].ses.receipt.action.type",
        "missing",
    ),
    (
        _mutate("Records.0.ses.receipt.action.invocationType", "Sync"),
        "Records[0].ses.receipt.action.invocationType",
        "RequestResponse",
    ),
]


@pytest.mark.parametrize(("event", "field", "problem"), MALFORMED)
def test_fails_when_the_event_is_malformed(event: Any, field: str, problem: str) -> None:
    with pytest.raises(InvalidEventError) as raised:
        parse_event(event)
    assert raised.value.field == field
    assert problem in raised.value.problem
    assert str(raised.value).startswith(f"invalid SES event: {field}: ")


SNS_MALFORMED = [
    ({"Sns": {}}, "Records[0].Sns.Message", "missing"),
    ({"Sns": {"Message": "{not json"}}, "Records[0].Sns.Message", "not valid JSON"),
    ({"Sns": {"Message": "[]"}}, "Records[0].Sns.Message", "must be an object"),
    (
        {"Sns": {"Message": '{"notificationType": "Bounce"}'}},
        "Records[0].Sns.Message.notificationType",
        "Received",
    ),
    ({"Sns": {"Message": "{}"}}, "Records[0].Sns.Message.notificationType", "missing"),
    (
        {"Sns": {"Message": '{"notificationType": "Received"}'}},
        "Records[0].Sns.Message.mail",
        "missing",
    ),
]


@pytest.mark.parametrize(("record", "field", "problem"), SNS_MALFORMED)
def test_fails_when_the_sns_message_is_malformed(
    record: dict[str, Any], field: str, problem: str
) -> None:
    with pytest.raises(InvalidEventError) as raised:
        parse_event({"Records": [{"EventSource": "aws:sns", **record}]})
    assert raised.value.field == field
    assert problem in raised.value.problem


def test_fails_when_base64_content_is_invalid() -> None:
    event = sns_event(content="this is not base64!", encoding="BASE64")
    with pytest.raises(InvalidEventError) as raised:
        parse_event(event)
    assert raised.value.field == "Records[0].Sns.Message.content"
    assert "base64" in raised.value.problem


def test_fails_when_content_encoding_is_unknown() -> None:
    with pytest.raises(InvalidEventError, match="encoding"):
        parse_event(sns_event(content="x", encoding="ROT13"))


def test_fails_when_content_is_not_a_string() -> None:
    event = sns_event(content="x")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["content"] = 12
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    with pytest.raises(InvalidEventError, match=r"Sns\.Message\.content: must be a string"):
        parse_event(event)


@pytest.mark.parametrize(
    "message_id",
    ["o3vrnil0e2ic28tr", "0123456789abcdefghijklmnopqrstuvwxyz0001", "A.b_c-d+e=f", "x" * 255],
)
def test_valid_message_ids_are_accepted(message_id: str) -> None:
    assert validate_message_id(message_id) == message_id


@pytest.mark.parametrize(
    "message_id",
    [
        "",
        ".",
        "..",
        ".hidden",
        "a/b",
        "a\\b",
        "a..b",
        "-x",
        "a b",
        "a\tb",
        "a\nb",
        "é",
        "a" * 256,
        "a%2F",
        "a\x7f",
    ],
)
def test_fails_when_message_id_is_unsafe(message_id: str) -> None:
    with pytest.raises(InvalidEventError) as raised:
        validate_message_id(message_id)
    assert raised.value.field == "mail.messageId"

"""The reference handler end to end, against S3 in moto: events in, message.json and files out."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
from collections.abc import Callable
from typing import Any

import handler
import pytest
from handler_support import (
    BUCKET,
    EMAILS,
    MESSAGE_ID,
    PARSED_PREFIX,
    RAW_PREFIX,
    FakeLambdaContext,
    all_keys,
    document_key,
    documented_event,
    email_bytes,
    read_json,
    sns_event,
    with_receipt,
)
from ses_mail import (
    ConfigurationError,
    InvalidEventError,
    MessageUnavailableError,
    OutputWriteError,
)

DOCUMENT_KEY = document_key()
RAW_KEY = f"{RAW_PREFIX}{MESSAGE_ID}"


def store_raw(s3: Any, name: str, message_id: str = MESSAGE_ID) -> bytes:
    raw = email_bytes(name)
    s3.put_object(Bucket=BUCKET, Key=f"{RAW_PREFIX}{message_id}", Body=raw)
    return raw


def invoke(event: dict[str, Any], context: FakeLambdaContext | None = None) -> dict[str, Any]:
    result: dict[str, Any] = handler.lambda_handler(event, context or FakeLambdaContext())
    return result


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def emitted_metrics(captured: str) -> list[dict[str, Any]]:
    """The EMF metric documents Powertools printed."""
    return [line for line in json_lines(captured) if "_aws" in line]


def metric_values(metrics: list[dict[str, Any]]) -> dict[str, float]:
    values: dict[str, float] = {}
    for document in metrics:
        for definition in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            name = definition["Name"]
            value = document[name]
            values[name] = values.get(name, 0) + (sum(value) if isinstance(value, list) else value)
    return values


def test_documented_event_is_parsed_and_stored(s3: Any, schema_validator: Any) -> None:
    # GIVEN the raw message stored by the S3 action at <raw prefix><messageId>
    store_raw(s3, "plain-7bit.eml")

    # WHEN the documented Lambda action event arrives
    result = invoke(documented_event())

    # THEN message.json is written beside nothing else, valid against the schema
    assert result == {"disposition": "CONTINUE"}
    assert all_keys(s3) == [DOCUMENT_KEY, RAW_KEY]
    document = read_json(s3, DOCUMENT_KEY)
    schema_validator.validate(document)
    assert document["messageId"] == MESSAGE_ID
    assert document["status"] == "processed"
    assert document["receivedAt"] == "1970-01-01T00:00:00.000Z"
    assert document["envelope"] == {
        "source": "janedoe@example.com",
        "recipients": ["johndoe@example.com"],
        "destination": ["johndoe@example.com"],
    }
    assert document["delivery"] == {
        "eventSource": "aws:ses",
        "action": {
            "type": "Lambda",
            "invocationType": "Event",
            "functionArn": "arn:aws:lambda:us-west-2:111122223333:function:Example",
        },
    }
    assert document["verdicts"] == {
        "spam": "PASS",
        "virus": "PASS",
        "spf": "PASS",
        "dkim": "PASS",
        "dmarc": None,
        "dmarcPolicy": None,
    }
    assert document["rejection"] is None
    assert document["headersSource"] == "mime"
    assert document["headers"]["from"] == [{"name": "Jane Doe", "address": "janedoe@example.com"}]
    assert document["headers"]["subject"] == "Quarterly numbers"
    assert document["headers"]["references"] == ["<root-0@example.com>", "<parent-1@example.com>"]
    assert document["text"].startswith("Hello John,\n")
    assert document["html"] is None
    assert document["attachments"] == []
    assert document["raw"] == {
        "source": "s3",
        "bucket": BUCKET,
        "key": RAW_KEY,
        "size": len(email_bytes("plain-7bit.eml")),
    }
    assert document["defects"] == []
    assert document["error"] is None


def test_attachments_are_stored_beside_the_document(s3: Any, schema_validator: Any) -> None:
    store_raw(s3, "nested-multipart.eml")

    invoke(documented_event())

    document = read_json(s3, DOCUMENT_KEY)
    schema_validator.validate(document)
    image, report = document["attachments"]
    assert image["key"] == f"{PARSED_PREFIX}{MESSAGE_ID}/attachments/0-part.png"
    assert report["key"] == f"{PARSED_PREFIX}{MESSAGE_ID}/attachments/1-report.pdf"
    assert (image["contentId"], image["disposition"], image["partId"]) == (
        "logo@example.com",
        "inline",
        "1.2",
    )
    for entry in (image, report):
        stored = s3.get_object(Bucket=BUCKET, Key=entry["key"])
        body = stored["Body"].read()
        assert len(body) == entry["size"]
        assert hashlib.sha256(body).hexdigest() == entry["sha256"]
        assert stored["ContentType"] == entry["contentType"]
    assert all_keys(s3) == sorted([DOCUMENT_KEY, RAW_KEY, image["key"], report["key"]])


def test_sns_notification_with_content_needs_no_raw_object(s3: Any, schema_validator: Any) -> None:
    # GIVEN an SNS action notification carrying the message, and nothing under the raw prefix
    raw = email_bytes("multipart-alternative.eml")
    event = sns_event(content=base64.b64encode(raw).decode(), encoding="BASE64")

    # WHEN it is handled
    result = invoke(event)

    # THEN the content was parsed and stored like any other message
    assert result == {"disposition": "CONTINUE"}
    document = read_json(s3, DOCUMENT_KEY)
    schema_validator.validate(document)
    assert document["status"] == "processed"
    assert document["delivery"]["eventSource"] == "aws:sns"
    assert document["delivery"]["action"]["type"] == "SNS"
    assert document["raw"] == {"source": "content", "bucket": None, "key": None, "size": len(raw)}
    assert document["text"] == "Hallo John,\n\nviele Grüße aus Köln!\n"


def test_both_event_shapes_give_the_same_parsed_message(s3: Any) -> None:
    store_raw(s3, "nested-multipart.eml")
    invoke(documented_event())
    direct = read_json(s3, DOCUMENT_KEY)

    invoke(sns_event(content=None))  # an S3 action's topic: no content, read from S3
    wrapped = read_json(s3, DOCUMENT_KEY)

    for volatile in ("delivery",):
        direct.pop(volatile), wrapped.pop(volatile)
    assert wrapped == direct


def test_every_record_is_processed(s3: Any) -> None:
    event = documented_event()
    second = copy.deepcopy(event["Records"][0])
    second["ses"]["mail"]["messageId"] = "second0message0id"
    event["Records"].append(second)
    store_raw(s3, "plain-7bit.eml")
    store_raw(s3, "html-only.eml", "second0message0id")

    invoke(event)

    assert read_json(s3, DOCUMENT_KEY)["headers"]["subject"] == "Quarterly numbers"
    second_document = read_json(s3, document_key("second0message0id"))
    assert second_document["headers"]["subject"] == "Neuigkeiten für Sie"


def _action(invocation: str) -> dict[str, str]:
    return {
        "type": "Lambda",
        "invocationType": invocation,
        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:handler",
    }


DISPOSITIONS = [
    # (REJECT_ON_VERDICTS, receipt changes, rejected?)
    ("spam,virus", {}, False),
    ("spam,virus", {"spamVerdict": {"status": "FAIL"}}, True),
    ("spam,virus", {"virusVerdict": {"status": "FAIL"}}, True),
    ("spam,virus", {"spamVerdict": {"status": "GRAY"}}, False),
    ("spam,virus", {"virusVerdict": {"status": "PROCESSING_FAILED"}}, False),
    (
        "spam,virus",
        {"spamVerdict": {"status": "DISABLED"}, "virusVerdict": {"status": "DISABLED"}},
        False,
    ),
    ("spam,virus", {"dkimVerdict": {"status": "FAIL"}, "spfVerdict": {"status": "FAIL"}}, False),
    ("spf", {"spfVerdict": {"status": "FAIL"}}, True),
    ("dkim", {"dkimVerdict": {"status": "FAIL"}}, True),
    ("dkim", {"dkimVerdict": None}, False),
    ("dmarc", {"dmarcVerdict": {"status": "FAIL"}, "dmarcPolicy": "reject"}, True),
    ("", {"spamVerdict": {"status": "FAIL"}, "virusVerdict": {"status": "FAIL"}}, False),
]


@pytest.mark.parametrize("invocation", ["Event", "RequestResponse"])
@pytest.mark.parametrize(("reject_on", "receipt", "rejected"), DISPOSITIONS)
def test_verdict_dispositions(
    s3: Any,
    handler_env: Callable[..., None],
    schema_validator: Any,
    invocation: str,
    reject_on: str,
    receipt: dict[str, Any],
    rejected: bool,
) -> None:
    # GIVEN a verdict policy and a receipt with these verdicts
    handler_env(REJECT_ON_VERDICTS=reject_on)
    store_raw(s3, "nested-multipart.eml")
    event = with_receipt(documented_event(), action=_action(invocation), **receipt)

    # WHEN the handler is invoked this way
    result = invoke(event)

    # THEN RequestResponse answers SES; failing mail is recorded as rejected and not processed
    stop = rejected and invocation == "RequestResponse"
    assert result == {"disposition": "STOP_RULE_SET" if stop else "CONTINUE"}
    document = read_json(s3, DOCUMENT_KEY)
    schema_validator.validate(document)
    if rejected:
        assert document["status"] == "rejected"
        failed = [
            name
            for name in ("spam", "virus", "spf", "dkim", "dmarc")
            if name in reject_on.split(",")
            and (receipt.get(f"{name}Verdict") or {}).get("status") == "FAIL"
        ]
        assert document["rejection"] == {"verdicts": failed}
        assert (document["text"], document["html"], document["attachments"]) == (None, None, [])
        assert all_keys(s3) == [DOCUMENT_KEY, RAW_KEY]  # no attachment was written
    else:
        assert document["status"] == "processed"
        assert len(document["attachments"]) == 2


def test_rejected_mail_is_recorded_without_reading_the_body(
    s3: Any, schema_validator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN spam, and no raw object at all (so any read would fail)
    event = with_receipt(documented_event(), spamVerdict={"status": "FAIL"})

    # WHEN it is handled
    invoke(event)

    # THEN the outcome is stored with the event's headers, and counted
    document = read_json(s3, DOCUMENT_KEY)
    schema_validator.validate(document)
    assert document["status"] == "rejected"
    assert document["headersSource"] == "event"
    assert document["headers"]["subject"] == "Test Subject"
    assert document["headers"]["from"] == [{"name": "Jane Doe", "address": "janedoe@example.com"}]
    assert document["headers"]["dateIso"] == "2015-10-07T12:34:56-07:00"
    assert document["raw"] == {"source": None, "bucket": BUCKET, "key": RAW_KEY, "size": None}
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metric_values(metrics) == {"MessagesReceived": 1, "MessagesRejected": 1}


def test_processing_twice_rewrites_the_same_keys(s3: Any) -> None:
    # GIVEN a message with attachments, processed once
    store_raw(s3, "nested-multipart.eml")
    invoke(documented_event())
    first_keys = all_keys(s3)
    first = {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in first_keys}

    # WHEN Lambda delivers the same event again (a retry)
    invoke(documented_event())

    # THEN the same keys hold the same bytes and nothing was added
    assert all_keys(s3) == first_keys
    assert {
        key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in first_keys
    } == first


def test_fails_when_the_raw_message_is_missing_but_processes_the_other_records(
    s3: Any, capsys: pytest.CaptureFixture[str], handler_logs: io.StringIO
) -> None:
    # GIVEN two records, the first one's raw object missing
    event = documented_event()
    missing = copy.deepcopy(event["Records"][0])
    missing["ses"]["mail"]["messageId"] = "missing0message"
    event["Records"].insert(0, missing)
    store_raw(s3, "plain-7bit.eml")

    # WHEN it is handled, THEN the invocation fails naming the object (so Lambda retries) ...
    with pytest.raises(MessageUnavailableError) as raised:
        invoke(event)
    assert raised.value.location == f"s3://{BUCKET}/{RAW_PREFIX}missing0message"
    assert "NoSuchKey" in raised.value.problem
    # ... after the second record was processed anyway
    assert read_json(s3, DOCUMENT_KEY)["status"] == "processed"
    metrics = emitted_metrics(capsys.readouterr().out)
    failure = next(r for r in json_lines(handler_logs.getvalue()) if r["level"] == "ERROR")
    assert failure["correlation_id"] == "missing0message"
    assert failure["error_type"] == "MessageUnavailableError"
    assert metric_values(metrics)["MessagesFailed"] == 1


def test_fails_when_no_bucket_is_configured_and_the_event_has_no_content(
    s3: Any, handler_env: Callable[..., None]
) -> None:
    handler_env(RAW_MESSAGE_BUCKET=None)
    with pytest.raises(MessageUnavailableError) as raised:
        invoke(documented_event())
    assert raised.value.location == "RAW_MESSAGE_BUCKET"


def test_without_a_bucket_sns_content_is_parsed_and_returned(
    s3: Any, handler_env: Callable[..., None], schema_validator: Any
) -> None:
    handler_env(RAW_MESSAGE_BUCKET=None)
    raw = email_bytes("nested-multipart.eml")

    result = invoke(sns_event(content=base64.b64encode(raw).decode()))

    (document,) = result["messages"]
    schema_validator.validate(document)
    assert result["disposition"] == "CONTINUE"
    assert [a["key"] for a in document["attachments"]] == [None, None]
    assert document["attachments"][1]["sha256"] == hashlib.sha256(parse_pdf_from(raw)).hexdigest()
    assert all_keys(s3) == []


def parse_pdf_from(raw: bytes) -> bytes:
    from ses_mail import parse_message

    return parse_message(raw).attachments[1].read()


def test_fails_when_the_output_cannot_be_written(s3: Any, handler_env: Callable[..., None]) -> None:
    handler_env(RAW_MESSAGE_BUCKET="no-such-bucket-anywhere")
    event = sns_event(content=base64.b64encode(email_bytes("plain-7bit.eml")).decode())
    with pytest.raises(OutputWriteError) as raised:
        invoke(event)
    assert raised.value.location == f"s3://no-such-bucket-anywhere/{DOCUMENT_KEY}"


def test_fails_when_the_event_is_malformed(s3: Any, handler_logs: io.StringIO) -> None:
    event = {"Records": [{"eventSource": "aws:ses", "ses": {"mail": {}, "receipt": {}}}]}
    with pytest.raises(InvalidEventError) as raised:
        invoke(event)
    assert raised.value.field == "Records[0].ses.mail.messageId"
    (error,) = [r for r in json_lines(handler_logs.getvalue()) if r["level"] == "ERROR"]
    assert "Records[0].ses.mail.messageId" in error["exception"]
    assert all_keys(s3) == []


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_fails_when_the_configuration_is_invalid(s3: Any, handler_env: Callable[..., None]) -> None:
    handler_env(REJECT_ON_VERDICTS="spam,malware")
    with pytest.raises(ConfigurationError, match="REJECT_ON_VERDICTS"):
        invoke(documented_event())


def test_oversized_message_gets_a_clear_outcome_and_stays_raw(
    s3: Any, handler_env: Callable[..., None], schema_validator: Any
) -> None:
    # GIVEN a limit below the message's size
    handler_env(MAX_MESSAGE_BYTES="1000")
    raw = store_raw(s3, "nested-multipart.eml")

    # WHEN it is handled
    result = invoke(documented_event())

    # THEN the invocation succeeds (a retry cannot help) and the outcome says why
    assert result == {"disposition": "CONTINUE"}
    document = read_json(s3, DOCUMENT_KEY)
    schema_validator.validate(document)
    assert document["status"] == "too_large"
    assert document["error"]["code"] == "too_large"
    assert "MAX_MESSAGE_BYTES=1000" in document["error"]["message"]
    assert document["raw"]["size"] == len(raw)
    assert document["headersSource"] == "event"
    assert all_keys(s3) == [DOCUMENT_KEY, RAW_KEY]


def test_oversized_sns_content_gets_the_same_outcome(
    s3: Any, handler_env: Callable[..., None]
) -> None:
    handler_env(MAX_MESSAGE_BYTES="1000")
    event = sns_event(content=base64.b64encode(email_bytes("nested-multipart.eml")).decode())
    invoke(event)
    assert read_json(s3, DOCUMENT_KEY)["status"] == "too_large"


def test_unparseable_message_gets_a_clear_outcome(s3: Any, schema_validator: Any) -> None:
    # GIVEN MIME nested far deeper than any mailer produces
    parts = b"Content-Type: text/plain\r\n\r\nleaf\r\n"
    for depth in range(1500):
        boundary = b"b%d" % depth
        parts = (
            b"Content-Type: multipart/mixed; boundary="
            + boundary
            + b"\r\n\r\n--"
            + boundary
            + b"\r\n"
            + parts
            + b"--"
            + boundary
            + b"--\r\n"
        )
    s3.put_object(Bucket=BUCKET, Key=RAW_KEY, Body=b"From: a@example.com\r\n" + parts)

    result = invoke(documented_event())

    assert result == {"disposition": "CONTINUE"}
    document = read_json(s3, DOCUMENT_KEY)
    schema_validator.validate(document)
    assert document["status"] == "unparseable"
    assert document["error"]["code"] in ("nesting_too_deep", "too_many_parts")


def test_truncated_headers_flag_is_kept_and_headers_come_from_the_mime(s3: Any) -> None:
    event = documented_event()
    event["Records"][0]["ses"]["mail"]["headersTruncated"] = True
    store_raw(s3, "plain-7bit.eml")
    invoke(event)
    document = read_json(s3, DOCUMENT_KEY)
    assert document["headersTruncated"] is True
    assert document["headersSource"] == "mime"
    assert len(document["headers"]["to"]) == 2


@pytest.mark.parametrize("name", sorted(p.name for p in EMAILS.glob("*.eml")))
def test_every_fixture_goes_through_the_handler_to_a_valid_document(
    s3: Any, schema_validator: Any, name: str
) -> None:
    store_raw(s3, name)
    invoke(documented_event())
    document = read_json(s3, DOCUMENT_KEY)
    schema_validator.validate(document)
    assert document["status"] == "processed"
    for entry in document["attachments"]:
        assert entry["key"].startswith(f"{PARSED_PREFIX}{MESSAGE_ID}/attachments/{entry['index']}-")


def test_hostile_attachment_names_never_escape_the_message_folder(s3: Any) -> None:
    store_raw(s3, "hostile-filenames.eml")

    invoke(documented_event())

    document = read_json(s3, DOCUMENT_KEY)
    folder = f"{PARSED_PREFIX}{MESSAGE_ID}/attachments/"
    keys = [entry["key"] for entry in document["attachments"]]
    assert len(keys) == len(set(keys)) == 10
    for key in keys:
        name = key.removeprefix(folder)
        assert key.startswith(folder) and "/" not in name and "\\" not in name
        assert ".." not in name and name.split("-", 1)[1][0] != "."
        assert all(ch.isprintable() for ch in name) and "\u202e" not in name
        assert len(name.encode()) <= 125
    assert keys[0] == f"{folder}0-passwd"
    assert document["attachments"][0]["filename"] == "../../etc/passwd"  # as sent, for the record
    assert set(all_keys(s3)) == {DOCUMENT_KEY, RAW_KEY, *keys}


def test_logs_carry_the_message_id_but_no_addresses_or_bodies(
    s3: Any, capsys: pytest.CaptureFixture[str], handler_logs: io.StringIO
) -> None:
    store_raw(s3, "plain-7bit.eml")

    invoke(documented_event())

    metrics = emitted_metrics(capsys.readouterr().out)
    output = handler_logs.getvalue()
    info = [record for record in json_lines(output) if record["level"] == "INFO"]
    assert info and all(record["correlation_id"] == MESSAGE_ID for record in info)
    for secret in ("janedoe@example.com", "johndoe@example.com", "Hello John", "Quarterly"):
        assert secret not in output
    assert metric_values(metrics) == {
        "MessagesReceived": 1,
        "MessagesProcessed": 1,
        "MessageBytes": len(email_bytes("plain-7bit.eml")),
        "Attachments": 0,
    }
    assert metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SesLambdaConstructsTests"


def test_too_large_and_unparseable_are_counted_apart_per_function(
    s3: Any, capsys: pytest.CaptureFixture[str], handler_env: Callable[..., None]
) -> None:
    # GIVEN a message over MAX_MESSAGE_BYTES, then one nested past the parsing limit
    handler_env(MAX_MESSAGE_BYTES="1000")
    store_raw(s3, "nested-multipart.eml")
    invoke(documented_event())
    too_large = emitted_metrics(capsys.readouterr().out)
    handler_env(MAX_MESSAGE_BYTES=None)
    parts = b"Content-Type: text/plain\r\n\r\nleaf\r\n"
    for depth in range(1500):
        boundary = b"b%d" % depth
        parts = b"Content-Type: multipart/mixed; boundary=%s\r\n\r\n--%s\r\n%s--%s--\r\n" % (
            boundary,
            boundary,
            parts,
            boundary,
        )
    s3.put_object(Bucket=BUCKET, Key=RAW_KEY, Body=b"From: a@example.com\r\n" + parts)

    # WHEN it is handled
    invoke(documented_event())
    unparseable = emitted_metrics(capsys.readouterr().out)

    # THEN each outcome has its own metric, and every metric names the function it came from
    assert metric_values(too_large) == {"MessagesReceived": 1, "MessagesTooLarge": 1}
    assert metric_values(unparseable) == {"MessagesReceived": 1, "MessagesUnparseable": 1}
    for document in too_large + unparseable:
        [dimensions] = document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        assert sorted(dimensions) == ["FunctionName", "service"]
        assert document["FunctionName"] == FakeLambdaContext().function_name
        assert document["service"] == handler.SERVICE_NAME


def test_attachment_metrics_count_every_stored_file(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    store_raw(s3, "non-ascii-filenames.eml")
    invoke(documented_event())
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metric_values(metrics)["Attachments"] == 5

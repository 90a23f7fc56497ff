"""The typed reader on real events: handler -> moto EventBridge -> rule -> SQS -> ReceivedEmail."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from typing import Any

import handler
import pytest
from handler_support import (
    BUCKET,
    LAMBDA_SRC,
    MESSAGE_ID,
    RAW_PREFIX,
    FakeLambdaContext,
    MailBus,
    document_key,
    documented_event,
    email_bytes,
    read_json,
    with_receipt,
)
from ses_mail.reader import (
    AttachmentRef,
    Body,
    EmailEventError,
    Envelope,
    Location,
    MailAddress,
    ReceivedEmail,
)

DOCUMENT_KEY = document_key()


def deliver(s3: Any, bus: MailBus, email: str | None, event: dict[str, Any] | None = None) -> str:
    """Run the handler on one message and return the SQS body its event arrived in."""
    if email is not None:
        s3.put_object(Bucket=BUCKET, Key=f"{RAW_PREFIX}{MESSAGE_ID}", Body=email_bytes(email))
    handler.lambda_handler(event or documented_event(), FakeLambdaContext())
    bus.received()
    (body,) = [json.dumps(item) for item in bus.seen]
    return body


@pytest.fixture
def real_event(s3: Any, mail_bus: MailBus) -> dict[str, Any]:
    """The event of a processed message with two attachments, as its subscriber got it."""
    event: dict[str, Any] = json.loads(deliver(s3, mail_bus, "nested-multipart.eml"))
    return event


def test_a_processed_message_reads_back_typed(s3: Any, real_event: dict[str, Any]) -> None:
    mail = ReceivedEmail.from_event(real_event)

    document = read_json(s3, DOCUMENT_KEY)
    assert mail.detail_type == "Email Received"
    assert mail.source == "ses-lambda-constructs"
    assert mail.event_id == real_event["id"]
    assert mail.schema_version == "2.0"
    assert mail.message_id == MESSAGE_ID
    assert mail.delivery_id == document["deliveryId"]
    assert mail.status == "processed"
    assert mail.received_at == document["receivedAt"]
    assert mail.envelope == Envelope(
        source="janedoe@example.com",
        recipients=("johndoe@example.com",),
        destination=("johndoe@example.com",),
    )
    assert (mail.verdicts.spam, mail.verdicts.dmarc, mail.verdicts.rejected_by) == (
        "PASS",
        None,
        (),
    )
    assert mail.headers.subject == document["headers"]["subject"]
    assert mail.headers.from_ == tuple(MailAddress(**item) for item in document["headers"]["from"])
    assert mail.headers.references == tuple(document["headers"]["references"])
    assert mail.text == Body(
        content=document["text"], truncated=False, size=len(document["text"].encode())
    )
    assert mail.text_content == document["text"]
    assert mail.location == Location(
        bucket=BUCKET, message_key=DOCUMENT_KEY, raw_key=f"{RAW_PREFIX}{MESSAGE_ID}"
    )
    assert mail.truncated is False and mail.error is None
    assert [a.sha256 for a in mail.attachments] == [a["sha256"] for a in document["attachments"]]


def test_read_message_returns_the_stored_document(s3: Any, real_event: dict[str, Any]) -> None:
    mail = ReceivedEmail.from_event(real_event)

    assert mail.read_message(s3) == read_json(s3, DOCUMENT_KEY)


def test_open_attachment_streams_the_stored_content(s3: Any, real_event: dict[str, Any]) -> None:
    mail = ReceivedEmail.from_event(real_event)
    assert len(mail.attachments) == 2

    for attachment in mail.attachments:
        digest = hashlib.sha256()
        chunks = 0
        with mail.open_attachment(s3, attachment) as body:
            for chunk in body.iter_chunks(16):
                digest.update(chunk)
                chunks += 1
        assert digest.hexdigest() == attachment.sha256
        assert chunks == -(-attachment.size // 16)  # read in 16-byte chunks, not at once
    with mail.open_attachment(s3, mail.attachments[1].index) as by_index:
        assert by_index.attachment == mail.attachments[1]
        content = b"".join(by_index)  # plain iteration: 64 KiB chunks
    assert hashlib.sha256(content).hexdigest() == mail.attachments[1].sha256


def test_an_sqs_message_body_reads_the_same(s3: Any, mail_bus: MailBus) -> None:
    body = deliver(s3, mail_bus, "plain-7bit.eml")

    assert ReceivedEmail.from_event(body) == ReceivedEmail.from_event(json.loads(body))
    assert ReceivedEmail.from_event(body.encode()).message_id == MESSAGE_ID


def test_a_rejected_message_reads_back_with_its_verdicts(s3: Any, mail_bus: MailBus) -> None:
    event = with_receipt(documented_event(), spamVerdict={"status": "FAIL"})

    mail = ReceivedEmail.from_event(deliver(s3, mail_bus, None, event))

    assert mail.detail_type == "Email Rejected"
    assert mail.status == "rejected"
    assert mail.verdicts.spam == "FAIL"
    assert mail.verdicts.rejected_by == ("spam",)
    assert mail.text is None and mail.attachments == ()
    assert mail.read_message(s3)["status"] == "rejected"


def test_newer_minor_versions_and_added_fields_are_accepted(real_event: dict[str, Any]) -> None:
    event = copy.deepcopy(real_event)
    event["detail"]["schemaVersion"] = "2.7"
    event["detail"]["somethingNew"] = {"x": 1}

    assert ReceivedEmail.from_event(event).schema_version == "2.7"


def test_a_1x_detail_reads_with_the_message_id_as_its_delivery_id(
    real_event: dict[str, Any],
) -> None:
    """Events put before deliveries had ids (waiting in a queue, replayed) still read."""
    event = copy.deepcopy(real_event)
    event["detail"]["schemaVersion"] = "1.0"
    del event["detail"]["deliveryId"]

    mail = ReceivedEmail.from_event(event)
    assert mail.delivery_id == mail.message_id == MESSAGE_ID


def broken(event: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    event = copy.deepcopy(event)
    *parents, last = path.split(".")
    target = event
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return event


@pytest.mark.parametrize(
    ("path", "value", "field", "problem"),
    [
        ("detail", KeyError, "detail", "missing"),
        ("detail", [], "detail", "must be an object, got list"),
        ("detail.schemaVersion", "3.0", "detail.schemaVersion", "'3.0' is not supported"),
        ("detail.status", "lost", "detail.status", "'lost' is not one of processed, rejected"),
        ("detail-type", "Email Rejected", "detail-type", "does not match detail.status"),
        ("source", 7, "source", "must be a string, got int"),
        ("detail.messageId", KeyError, "detail.messageId", "missing"),
        ("detail.verdicts.spam", "MAYBE", "detail.verdicts.spam", "'MAYBE' is not one of PASS"),
        ("detail.envelope.recipients", "a@b", "detail.envelope.recipients", "must be an array"),
        ("detail.headers.to.0.address", None, "detail.headers.to[0].address", "must be a string"),
        ("detail.text.size", -1, "detail.text.size", "must be a non-negative integer"),
        ("detail.truncated", "no", "detail.truncated", "must be true or false, got str"),
        ("detail.attachments.1.sha256", 5, "detail.attachments[1].sha256", "must be a string"),
    ],
)
def test_fails_when_the_event_is_malformed(
    real_event: dict[str, Any], path: str, value: Any, field: str, problem: str
) -> None:
    with pytest.raises(EmailEventError) as failure:
        ReceivedEmail.from_event(broken(real_event, path, value))

    assert failure.value.field == field
    assert problem in failure.value.problem
    assert str(failure.value).startswith(f"invalid email event: {field}: ")


def test_fails_when_the_body_is_not_json() -> None:
    with pytest.raises(EmailEventError, match=r"^invalid email event: event: is not valid JSON"):
        ReceivedEmail.from_event("{nope")


def test_fails_to_read_what_was_not_stored(s3: Any, real_event: dict[str, Any]) -> None:
    event = broken(real_event, "detail.location.bucket", None)
    event = broken(event, "detail.attachments.0.key", None)
    mail = ReceivedEmail.from_event(event)

    with pytest.raises(EmailEventError, match=r"detail\.location\.bucket: is null"):
        mail.read_message(s3)
    with pytest.raises(EmailEventError, match=r"detail\.attachments\[0\]\.key: is null"):
        mail.open_attachment(s3, mail.attachments[0])
    with pytest.raises(IndexError, match="has no attachment 9"):
        mail.open_attachment(s3, 9)
    assert isinstance(mail.attachments[0], AttachmentRef)


def test_the_reader_imports_no_boto3_and_no_cdk() -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import ses_mail.reader; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'aws_cdk')]; "
        "assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(LAMBDA_SRC)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr

"""Conversations through the handler: kind, thread, reply text in message.json and the event."""

from __future__ import annotations

from typing import Any

import handler
from handler_support import (
    BUCKET,
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
from ses_mail import build_document, parse_event, parse_message, thread_id


def _handle(s3: Any, name: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    s3.put_object(Bucket=BUCKET, Key=f"{RAW_PREFIX}{MESSAGE_ID}", Body=email_bytes(f"kinds/{name}"))
    event = event or documented_event()
    handler.lambda_handler(event, FakeLambdaContext())
    recipients = event["Records"][0]["ses"]["receipt"]["recipients"]
    return read_json(s3, document_key(MESSAGE_ID, recipients))


def test_a_reply_gets_its_own_text_and_the_thread_of_the_first_message(
    s3: Any, schema_validator: Any
) -> None:
    document = _handle(s3, "gmail-reply.eml")

    schema_validator.validate(document)
    conversation = document["conversation"]
    assert conversation["kind"] == "person"
    assert conversation["reply"] == {
        "text": "Thanks, the new toner fixed it.\n\nDana",
        "signature": None,
        "source": "text",
        "inputCut": False,
    }
    assert conversation["threadRoot"] == "CAfirst@mail.gmail.com"
    assert conversation["threadId"] == thread_id("<CAfirst@mail.gmail.com>")
    assert conversation["htmlText"] is None
    assert document["text"].startswith("Thanks, the new toner fixed it.")  # the body is whole


def test_a_bounce_names_its_failed_recipient_after_its_report_was_stored(
    s3: Any, schema_validator: Any
) -> None:
    # The report is an attachment: it is stored and released before message.json is built.
    document = _handle(s3, "dsn-permanent.eml")

    schema_validator.validate(document)
    conversation = document["conversation"]
    assert conversation["kind"] == "delivery_status"
    assert conversation["deliveryStatus"]["permanent"] is True
    assert [
        (item["address"], item["status"], item["permanent"])
        for item in conversation["deliveryStatus"]["recipients"]
    ] == [("nobody@example.net", "5.1.1", True), ("later@example.net", "4.4.1", False)]
    assert any(item["contentType"] == "message/delivery-status" for item in document["attachments"])


def test_an_html_only_reply_gets_a_text_body_and_its_reply_text(
    s3: Any, schema_validator: Any
) -> None:
    document = _handle(s3, "outlook-html-only.eml")

    schema_validator.validate(document)
    conversation = document["conversation"]
    assert document["text"] is None
    assert conversation["htmlText"]["cut"] is False
    assert "The printer is still jammed." in conversation["htmlText"]["content"]
    assert conversation["reply"]["source"] == "html"
    assert " ".join(conversation["reply"]["text"].split()) == "Hi, The printer is still jammed."


def test_an_out_of_office_answer_is_an_auto_reply_in_the_event(
    s3: Any, mail_bus: MailBus, detail_validator: Any
) -> None:
    _handle(s3, "gmail-vacation.eml")

    (event,) = mail_bus.received()
    detail = event["detail"]
    detail_validator.validate(detail)
    assert detail["conversation"]["kind"] == "auto_reply"
    assert detail["conversation"]["threadId"] == thread_id("<ack-42@mail.example.com>")


def test_a_bounce_event_names_the_failed_recipient(
    s3: Any, mail_bus: MailBus, detail_validator: Any
) -> None:
    _handle(s3, "dsn-permanent.eml")

    detail = mail_bus.received()[0]["detail"]
    detail_validator.validate(detail)
    status = detail["conversation"]["deliveryStatus"]
    assert status["permanent"] is True
    assert status["recipients"][0] == {
        "address": "nobody@example.net",
        "action": "failed",
        "status": "5.1.1",
        "permanent": True,
    }


def test_unparsed_mail_has_no_conversation(s3: Any, schema_validator: Any) -> None:
    event = with_receipt(documented_event(), spamVerdict={"status": "FAIL"})
    document = _handle(s3, "person.eml", event)
    schema_validator.validate(document)
    assert (document["status"], document["conversation"]) == ("rejected", None)


def test_build_document_reads_the_conversation_itself_when_not_given(
    schema_validator: Any,
) -> None:
    (notification,) = parse_event(documented_event())
    parsed = parse_message(email_bytes("kinds/list-post.eml"))
    document = build_document(notification, raw=_no_raw(), parsed=parsed)
    schema_validator.validate(document)
    assert document["conversation"]["kind"] == "list"
    assert document["conversation"]["listId"] == "Users of the device <users.lists.example.org>"


def _no_raw() -> Any:
    from ses_mail import RawLocation

    return RawLocation()


PEOPLE_ONLY = {
    "source": ["ses-lambda-constructs"],
    "detail": {"conversation": {"kind": ["person"]}},
}
"""What ``email_event_pattern(kinds=[MailKind.PERSON])`` adds (tests/infra checks that side)."""


def test_a_rule_on_kind_gets_people_s_mail_and_not_auto_replies(s3: Any, mail_bus: MailBus) -> None:
    import json

    queue = mail_bus.sqs.create_queue(QueueName="people-only")["QueueUrl"]
    arn = mail_bus.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    mail_bus.events.put_rule(
        Name="people-only", EventBusName="mail-events", EventPattern=json.dumps(PEOPLE_ONLY)
    )
    mail_bus.events.put_targets(
        Rule="people-only",
        EventBusName="mail-events",
        Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}],
    )

    for name in ("gmail-vacation.eml", "gmail-reply.eml", "dsn-permanent.eml"):
        _handle(s3, name)

    assert len(mail_bus.received()) == 3  # the catch-all rule got every kind
    delivered = mail_bus.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    kinds = [json.loads(item["Body"])["detail"]["conversation"]["kind"] for item in delivered]
    assert kinds == ["person"]


def _reply_secret(handler_env: Any) -> Any:
    import base64
    import json

    import boto3
    from ses_mail import ReplyAddresses

    keys = {"current": base64.b64encode(b"k" * 32).decode()}
    client = boto3.client("secretsmanager", region_name="us-east-1")
    arn = client.create_secret(Name="reply-keys", SecretString=json.dumps(keys))["ARN"]
    handler_env(REPLY_ADDRESS_SECRET_ARN=arn)
    handler.secrets_client.cache_clear()
    handler._reply_keys.clear()
    return ReplyAddresses([b"k" * 32])


def _to(event: dict[str, Any], recipient: str) -> dict[str, Any]:
    changed = with_receipt(event, recipients=[recipient])
    changed["Records"][0]["ses"]["mail"]["destination"] = [recipient]
    return changed


def test_a_reply_to_a_signed_address_carries_its_verified_payload(
    s3: Any, handler_env: Any, mail_bus: MailBus, schema_validator: Any
) -> None:
    addresses = _reply_secret(handler_env)
    minted = addresses.mint("support@mail.example.com", "ticket-42")

    document = _handle(s3, "gmail-reply.eml", _to(documented_event(), minted))

    schema_validator.validate(document)
    assert document["conversation"]["replyAddress"] == {
        "address": minted,
        "payload": "ticket-42",
        "valid": True,
    }
    detail = mail_bus.received()[0]["detail"]
    assert detail["conversation"]["replyAddress"]["payload"] == "ticket-42"


def test_a_forged_reply_address_is_reported_not_valid_and_without_payload(
    s3: Any, handler_env: Any, schema_validator: Any
) -> None:
    from ses_mail import ReplyAddresses

    _reply_secret(handler_env)
    forged = ReplyAddresses([b"x" * 32]).mint("support@mail.example.com", "ticket-1")

    document = _handle(s3, "gmail-reply.eml", _to(documented_event(), forged))

    schema_validator.validate(document)
    assert document["conversation"]["replyAddress"] == {
        "address": forged,
        "payload": None,
        "valid": False,
    }


def test_without_reply_keys_no_address_is_verified(s3: Any) -> None:
    document = _handle(s3, "gmail-reply.eml", _to(documented_event(), "support+abc@example.com"))
    assert document["conversation"]["replyAddress"] is None

"""Received mail as EventBridge events, end to end on the deployed demo stack: SMTP -> handler ->
PutEvents -> the demo's subscription rule -> its ticket function; only matching mail gets there
(the conversation itself: ``test_conversation``)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from ses_lambda_localcloud import assembly, samples
from ses_lambda_localcloud.target import Target
from tests.handler import handler_support

from .test_end_to_end import RECIPIENT, deliver


def events_of(target: Target, message_id: str) -> list[dict[str, Any]]:
    return list(target.local(f"events?message={message_id}&wait=60", timeout=70)["events"])


def test_only_the_matching_message_reaches_the_subscribed_consumer(
    target: Target, demo_stack: assembly.DeployResult
) -> None:
    # the handler's pure core, as a consumer's function imports it from the reader layer
    assert handler_support.LAMBDA_SRC.is_dir()
    from ses_mail import load_detail_schema
    from ses_mail.reader import ReceivedEmail

    # GIVEN the demo stack: a ticket function subscribed to processed mail for the demo address
    bucket = demo_stack.outputs["RawMessageBucket"]
    s3 = target.client("s3")

    # WHEN a message arrives, and then one that SES marks as spam (rejected by the handler)
    sent, record = deliver(target, samples.documented_sample(RECIPIENT), timeout=60)
    spam = b"X-LocalCloud-Verdicts: spam=FAIL\r\n" + samples.documented_sample(RECIPIENT)
    spam_sent, spam_record = deliver(target, spam, timeout=60)
    assert record["status"] == spam_record["status"] == "done", (record, spam_record)

    # THEN the first is announced as "Email Received" and the ticket function recorded it
    (received,) = events_of(target, str(sent.message_id))
    assert received["detail_type"] == "Email Received"
    event = received["event"]
    jsonschema.validate(event["detail"], load_detail_schema())
    (rule,) = received["matched"]
    (outcome,) = rule["targets"]
    assert outcome["status"] == "delivered", outcome
    (invocation,) = outcome["invocations"]
    assert invocation["ok"], invocation
    key = f"tickets/{sent.message_id}.json"
    # A new ticket; not acknowledged, since nothing authenticated the sample's sender.
    assert invocation["result"] == {
        "record": key,
        "ticket": str(sent.message_id)[:16],
        "new": True,
        "acknowledged": False,
        "why": "its sender is not authenticated (DMARC GRAY, SPF GRAY, DKIM GRAY): "
        "the sender may be forged",
    }
    ticket = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert ticket["messageId"] == sent.message_id and ticket["subject"] == "Test Subject"

    # and the typed reader a consumer uses reads the same event and the full message.json
    email = ReceivedEmail.from_event(event)
    assert email.message_id == sent.message_id and email.envelope.recipients == (RECIPIENT,)
    assert email.read_message(s3)["messageId"] == sent.message_id

    # THEN the second is announced as "Email Rejected", which the subscription does not match
    (rejected,) = events_of(target, str(spam_sent.message_id))
    assert rejected["detail_type"] == "Email Rejected"
    jsonschema.validate(rejected["event"]["detail"], load_detail_schema())
    assert rejected["matched"] == [] and rejected["rules_checked"] == 1
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="tickets/").get("Contents", [])
    assert [item["Key"] for item in listed] == [key]

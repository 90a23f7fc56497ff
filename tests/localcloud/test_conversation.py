"""The demo's conversation end to end on the deployed demo stack, under enforced IAM: a ticket is
opened and acknowledged from a signed reply address, the customer's reply lands in its thread
with its own text, an out-of-office answer opens nothing, a bounce names its failed recipient;
without the keys' read grant the desk's read of the secret is refused the AWS way."""

from __future__ import annotations

import json
from collections.abc import Callable
from email import message_from_bytes, policy
from typing import Any

from ses_lambda_localcloud import assembly, demo_conversation
from ses_lambda_localcloud.iam import gate
from ses_lambda_localcloud.outbox import OUTBOX
from ses_lambda_localcloud.target import Target
from tests.handler import handler_support

from .conftest import wait_until
from .test_end_to_end import RECIPIENT
from .test_iam_grants import Roles, denials, role_of


def test_the_demo_conversation(
    target: Target, aws: Callable[[str], Any], demo_stack: assembly.DeployResult
) -> None:
    assert gate.mode() == "enforce"
    before = len(target.local("iam")["denials"])
    conversation = demo_conversation.Conversation(target, RECIPIENT)
    lines: list[str] = []
    found = demo_conversation.run(conversation, lines.append)
    assert len(lines) >= 12, lines

    # A customer's message opens a ticket; the acknowledgement goes out, threaded and marked
    # automatic, from support+<token>@ carrying the ticket id.
    opened = found["open_ticket"].facts
    assert opened["kind"] == "person"
    ticket = opened["result"]["ticket"]
    assert ticket == opened["messageId"][:16] and opened["result"]["acknowledged"] is True
    ack = opened["ack"]
    headers = dict(ack["headers"])
    assert ack["destinations"] == [demo_conversation.CUSTOMER]
    assert headers["From"].startswith("support+") and headers["From"].endswith("@mail.example.com")
    assert headers["Subject"] == f"Re: {demo_conversation.SUBJECT}"
    assert headers["Auto-Submitted"] == "auto-replied"
    # SES wrote its own Message-ID (the Amazon SES header fields page).
    assert headers["Message-ID"] == f"<{ack['messageId']}@email.amazonses.com>"
    secret = demo_stack.outputs["ReplyAddressKeys"]
    value = aws("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
    assert handler_support.LAMBDA_SRC.is_dir()  # ses_mail importable, as the reader layer has it
    from ses_mail import ReplyAddresses

    token = ReplyAddresses.from_secret_string(value).verify(headers["From"])
    assert token is not None and token.valid and token.payload == ticket
    raw = next(m.raw for m in OUTBOX.messages() if m.message_id == ack["messageId"])
    assert "Your ticket" in str(message_from_bytes(raw, policy=policy.default).get_body())

    # The customer's reply lands in the same thread with its own text, the token valid.
    replied = found["reply"].facts
    assert replied["thread"] == opened["thread"]
    assert replied["replyAddress"] == {"address": headers["From"], "payload": ticket, "valid": True}
    assert replied["replyText"] == demo_conversation.REPLY_TEXT
    assert replied["result"] == {
        "record": f"tickets/{replied['messageId']}.json",
        "ticket": ticket,
        "new": False,
    }
    assert replied["sent"] == []
    bucket = demo_stack.outputs["RawMessageBucket"]
    s3 = target.client("s3")
    record = json.loads(
        s3.get_object(Bucket=bucket, Key=f"tickets/{replied['messageId']}.json")["Body"].read()
    )
    assert record["ticket"] == ticket and record["reply"] == demo_conversation.REPLY_TEXT

    # The out-of-office answer is an automatic reply: no ticket, nothing sent.
    away = found["out_of_office"].facts
    assert away["kind"] == "auto_reply" and away["matched"] == [] and away["sent"] == []
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="tickets/")["Contents"]
    assert sorted(item["Key"] for item in listed) == sorted(
        f"tickets/{found[step].facts['messageId']}.json" for step in ("open_ticket", "reply")
    )

    # The bounce names its failed recipient, permanently.
    bounced = found["bounce"].facts
    assert bounced["kind"] == "delivery_status" and bounced["results"] == []
    assert bounced["deliveryStatus"] == {
        "permanent": True,
        "recipients": [
            {
                "address": demo_conversation.FAILED_RECIPIENT,
                "action": "failed",
                "status": "5.1.1",
                "permanent": True,
            }
        ],
    }
    # Every request of the functions was evaluated and allowed.
    assert target.local("iam")["denials"][before:] == []

    # Without the keys' read grant, the desk's read of the secret is refused the AWS way (on the
    # same deployed stack: one deploy for both).
    tickets = demo_stack.outputs["TicketFunction"]
    roles = Roles(aws)
    roles.remove(role_of(aws, tickets), "secretsmanager:GetSecretValue")
    try:
        before = len(denials(target, tickets))
        conversation = demo_conversation.Conversation(target, RECIPIENT)
        message = demo_conversation.first_message(RECIPIENT)
        message_id, event = conversation._deliver(message, demo_conversation.CUSTOMER)
        found = wait_until(lambda: denials(target, tickets)[before:], 60)
    finally:
        roles.restore()
    assert found[0]["action"] == "secretsmanager:GetSecretValue"
    assert found[0]["resource"] == secret
    assert found[0]["message"].startswith(
        f"User: {found[0]['principal']} is not authorized to perform: "
        f"secretsmanager:GetSecretValue on resource: {secret}"
    )
    assert "no identity-based policy allows" in found[0]["reason"]
    # The event's delivery failed (and is retried), so nothing was acknowledged.
    assert conversation._results(event) == [] and message_id

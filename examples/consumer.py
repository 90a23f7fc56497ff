#!/usr/bin/env python3
"""Consuming received mail: your own function subscribed to the "Email Received" events.

The receiver's reference handler parses each message and puts one event per message on the
receiver's EventBridge bus. This app subscribes a function of its own to the processed mail for
the billing address whose subject starts with "Invoice", and a queue to everything rejected.
The function reads the event with the typed reader from the reader layer
(``from ses_mail.reader import ReceivedEmail``), nothing copied by hand.

Run it like any CDK app (``cdk synth --app "python examples/consumer.py"``); a test synthesizes
it.
"""

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ses_lambda_constructs import EmailReceiver, EmailTarget, MailStatus, Route

INVOICES = """
import boto3
from ses_mail.reader import ReceivedEmail

s3 = boto3.client("s3")


def handler(event, context):
    email = ReceivedEmail.from_event(event)  # raises, naming the field, on a malformed event
    text = email.text_content or ""
    if email.truncated:  # the event was cut to fit 1 MB: read the whole message.json
        text = (email.read_message(s3).get("text") or {}).get("content") or ""
    for attachment in email.attachments:
        if attachment.content_type == "application/pdf":
            with email.open_attachment(s3, attachment) as stream:
                size = sum(len(chunk) for chunk in stream)
            print(f"invoice PDF {attachment.filename}: {size} bytes")
    # delivery is at least once: email.delivery_id is the idempotency key (one per route)
    return {
        "deliveryId": email.delivery_id,
        "messageId": email.message_id,
        "subject": email.headers.subject,
        "chars": len(text),
    }
"""


class InvoiceInboxStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        receiver = EmailReceiver(
            self,
            "Inbound",
            domain_name="billing.example.com",
            rule_set_name="billing-inbound",
            routes=[Route(id="Billing", recipients=["billing.example.com"])],
        )
        invoices = lambda_.Function(
            self,
            "Invoices",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_inline(INVOICES),
            layers=[receiver.reader_layer()],  # ses_mail, under /opt/python
            timeout=cdk.Duration.seconds(30),
        )
        receiver.grant_read_messages(invoices)  # parsed/ only: message.json and attachments
        receiver.subscribe(
            "Invoices",
            EmailTarget.function(invoices),
            recipients=["invoices@billing.example.com"],  # also invoices+label@
            subject_prefix=["Invoice"],
        )
        rejected = sqs.Queue(self, "Rejected", enforce_ssl=True)
        receiver.subscribe(
            "Rejected",
            EmailTarget.queue(rejected),
            statuses=[MailStatus.REJECTED, MailStatus.TOO_LARGE, MailStatus.UNPARSEABLE],
        )


app = cdk.App()
InvoiceInboxStack(
    app, "InvoiceInbox", env=cdk.Environment(account="111122223333", region="eu-west-1")
)
app.synth()

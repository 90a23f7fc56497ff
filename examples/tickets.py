#!/usr/bin/env python3
"""Conversations: a ticket desk that acknowledges new tickets from a signed reply address.

A customer writes to support@; the reference handler parses the message and puts its event, with
``conversation`` (kind, thread, the reply's own text, the verified reply address). The ticket
function gets people's mail only (``kinds=[MailKind.PERSON]``: out-of-office answers, bounces and
list mail never open a ticket). A message to a signed reply address whose token is valid is a
reply to a ticket: its own text is appended to that ticket. Any other message opens a ticket and
gets an automatic acknowledgement from ``support+<token>@``, built by ``build_reply``, which
refuses to answer automatic mail or an unauthenticated sender. Bounces of acknowledgements go to
a queue of their own, with their failed recipients in the event.

Run it like any CDK app (``cdk synth --app "python examples/tickets.py"``); a test synthesizes it
and runs the ticket function's code against events the reference handler made.
"""

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ses_lambda_constructs import EmailReceiver, EmailTarget, MailKind, Route

SUPPORT = "support@mail.example.com"

TICKETS = """
import json
import os

import boto3
from ses_mail import ReplyAddresses
from ses_mail.reader import ReceivedEmail
from ses_mail.replying import ReplyRefused, build_reply

SUPPORT = os.environ["SUPPORT_ADDRESS"]
_clients = {}


def client(name):
    if name not in _clients:
        _clients[name] = boto3.client(name)
    return _clients[name]


def handler(event, context):
    mail = ReceivedEmail.from_event(event)
    conversation = mail.conversation
    token = conversation.reply_address
    if token is not None and token.valid:
        # a reply to an acknowledgement: the ticket id came back in the address, unforgeable
        print(json.dumps({"ticket": token.payload, "thread": conversation.thread_id,
                          "reply": conversation.reply_text}))
        return {"ticket": token.payload, "new": False}
    ticket = mail.message_id[:12]  # a real desk stores the ticket (idempotent on message_id)
    keys = ReplyAddresses.from_secret(client("secretsmanager"), os.environ["REPLY_KEYS"])
    try:
        reply = build_reply(
            mail,
            text=f"Your ticket {ticket} is open; reply to this message to add to it.",
            from_address=keys.mint(SUPPORT, ticket),
        )
    except ReplyRefused as refused:
        return {"ticket": ticket, "new": True, "acknowledged": False, "why": refused.reason}
    client("sesv2").send_email(**reply.send_email_request())
    return {"ticket": ticket, "new": True, "acknowledged": True}
"""


class TicketDesk(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        receiver = EmailReceiver(
            self,
            "Inbound",
            domain_name="mail.example.com",
            rule_set_name="ticket-desk",
            routes=[Route(id="Support", recipients=[SUPPORT])],
        )
        keys = receiver.reply_addresses()  # the handler verifies support+<token>@
        tickets = lambda_.Function(
            self,
            "Tickets",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_inline(TICKETS),
            layers=[receiver.reader_layer()],
            environment={"SUPPORT_ADDRESS": SUPPORT, "REPLY_KEYS": keys.secret.secret_arn},
        )
        keys.grant_read(tickets)  # to mint reply addresses
        receiver.grant_send_replies(tickets)  # from support@ and support+*@ only
        receiver.subscribe("Tickets", EmailTarget.function(tickets), kinds=[MailKind.PERSON])
        bounces = sqs.Queue(self, "Bounces", enforce_ssl=True)
        receiver.subscribe("Bounces", EmailTarget.queue(bounces), kinds=[MailKind.DELIVERY_STATUS])


app = cdk.App()
TicketDesk(app, "TicketDesk", env=cdk.Environment(account="111111111111", region="us-east-1"))
app.synth()

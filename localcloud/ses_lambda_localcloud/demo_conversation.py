"""The demo's conversation with its ticket desk, step by step, against a running local cloud.

1. a customer's message opens a ticket; the desk's acknowledgement goes out (the outbox) from a
   signed reply address carrying the ticket id;
2. the customer's reply to the acknowledgement (To: that address; In-Reply-To and References of
   the acknowledgement) lands in the same thread, with its own text, the token valid;
3. the customer's out-of-office answer to the acknowledgement is classified as an automatic
   reply: no ticket, no reply;
4. a bounce (an RFC 3464 delivery status notification) names its failed recipient.

The customer's mail carries ``X-LocalCloud-Verdicts`` with SPF, DKIM and DMARC passing: the local
cloud cannot authenticate anyone (no DNS), and the desk answers only authenticated senders.
Each step returns what it found (``Found``) and raises :class:`ConversationFailed` when the
deployed stack did something else; ``make demo`` prints the lines, a test checks the facts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

from . import sender
from .target import Target

CUSTOMER = "alex@customer.example"
CUSTOMER_NAME = "Alex Customer"
#: The local-only header that sets the verdicts (``receiving.verdicts``).
AUTHENTICATED = "spf=PASS; dkim=PASS; dmarc=PASS"
SUBJECT = "The printer on floor 3 is jammed again"
FIRST_TEXT = (
    "Hello support,\n\nthe printer on floor 3 jams on every second page since Monday.\n\nAlex\n"
)
REPLY_TEXT = "Thanks. It is the one in room 3.14, and it shows error E-52.\n\nAlex"
SIGNATURE = "-- \nAlex Customer\nCustomer Inc., facilities\n"
FAILED_RECIPIENT = "former.colleague@customer.example"


class ConversationFailed(RuntimeError):
    pass


@dataclass
class Found:
    """What one step found: lines to print and the facts a test checks."""

    lines: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


def _message(
    *, to: str, subject: str, text: str, sender_address: str = CUSTOMER, name: str = CUSTOMER_NAME
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"{name} <{sender_address}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="customer.example")
    message["X-LocalCloud-Verdicts"] = AUTHENTICATED
    message.set_content(text)
    return message


def first_message(support: str) -> EmailMessage:
    return _message(to=support, subject=SUBJECT, text=FIRST_TEXT)


def _header(sent: dict[str, Any], name: str) -> str:
    for key, value in sent["headers"]:
        if key.lower() == name.lower():
            return str(value)
    return ""


def _answering(ack: dict[str, Any], message: EmailMessage) -> EmailMessage:
    """Thread ``message`` under the acknowledgement (RFC 5322 section 3.6.4)."""
    ack_id = _header(ack, "Message-ID")
    references = _header(ack, "References").split()
    message["In-Reply-To"] = ack_id
    message["References"] = " ".join([*references, ack_id])
    return message


def reply_to(ack: dict[str, Any]) -> EmailMessage:
    """The customer's answer to the acknowledgement, quoting it below a signature, as mail
    clients write it."""
    quoted = "\n".join(f"> {line}" for line in (ack.get("text") or "").strip().splitlines())
    text = (
        f"{REPLY_TEXT}\n\n{SIGNATURE}\nOn {_header(ack, 'Date') or 'an earlier day'}, "
        f"{_header(ack, 'From')} wrote:\n{quoted}\n"
    )
    subject = _header(ack, "Subject")
    message = _message(to=_header(ack, "From"), subject=subject, text=text)
    return _answering(ack, message)


def out_of_office(ack: dict[str, Any]) -> EmailMessage:
    """The customer's mail system answering the acknowledgement while they are away: an
    automatic reply (RFC 3834 section 5: ``Auto-Submitted: auto-replied``)."""
    message = _message(
        to=_header(ack, "From"),
        subject=f"Automatic reply: {_header(ack, 'Subject')}",
        text="I am out of the office until Monday and will read your message then.\n",
    )
    message["Auto-Submitted"] = "auto-replied"
    return _answering(ack, message)


def bounce(support: str) -> EmailMessage:
    """A delivery status notification (RFC 3464) for a message support sent to an address
    that no longer exists: ``multipart/report; report-type=delivery-status`` with a
    human-readable part, the ``message/delivery-status`` part and the returned headers."""
    boundary = "dsn-" + make_msgid().strip("<>").split("@")[0].replace(".", "-")
    text = f"""From: Mail Delivery System <mailer-daemon@mx.customer.example>
To: {support}
Subject: Undelivered Mail Returned to Sender
Date: {format_datetime(datetime.now(UTC))}
Message-ID: {make_msgid(domain="mx.customer.example")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"

--{boundary}
Content-Type: text/plain; charset=us-ascii

This is the mail system at mx.customer.example. Your message to
<{FAILED_RECIPIENT}> could not be delivered: the mailbox does not exist.

--{boundary}
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.customer.example

Final-Recipient: rfc822; {FAILED_RECIPIENT}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 mailbox unknown

--{boundary}
Content-Type: text/rfc822-headers

From: {support}
To: {FAILED_RECIPIENT}
Subject: Your ticket is open
Message-ID: {make_msgid(domain="email.amazonses.com")}

--{boundary}--
"""
    parsed = BytesParser(policy=policy.default).parsebytes(text.replace("\n", "\r\n").encode())
    assert isinstance(parsed, EmailMessage)
    return parsed


class Conversation:
    """Runs the steps against ``target``; ``support`` is the desk's address."""

    def __init__(self, target: Target, support: str, *, timeout: float = 60.0) -> None:
        self.target = target
        self.support = support
        self.timeout = timeout
        self.ack: dict[str, Any] | None = None
        self.thread: str | None = None
        self.ticket: str | None = None

    # --- plumbing ------------------------------------------------------------------------

    def _sent_count(self) -> int:
        return int(self.target.local("sent?since=0")["next"])

    def _sent_since(self, position: int) -> list[dict[str, Any]]:
        return list(self.target.local(f"sent?since={position}")["sent"])

    def _deliver(self, message: EmailMessage, mail_from: str) -> tuple[str, dict[str, Any]]:
        """Send over SMTP and wait until the rule set and the event's consumers are done."""
        raw = message.as_bytes(policy=SMTP)
        result = sender.send(self.target, raw, recipients=[str(message["To"])], mail_from=mail_from)
        if result.message_id is None:
            raise ConversationFailed(f"the message was not accepted: {result.rejected}")
        record = sender.wait_for(self.target, result.message_id, timeout=self.timeout)
        if record["status"] != "done":
            raise ConversationFailed(
                f"message {result.message_id} was not processed cleanly ({record['status']})"
            )
        events = self.target.local(
            f"events?message={result.message_id}&wait={self.timeout:.0f}",
            timeout=self.timeout + 10,
        )["events"]
        received = [e for e in events if e["detail_type"] == "Email Received"]
        if not received:
            raise ConversationFailed(f"no 'Email Received' event for {result.message_id}")
        return result.message_id, received[0]

    @staticmethod
    def _results(event: dict[str, Any]) -> list[Any]:
        return [
            attempt["result"]
            for rule in event["matched"]
            for outcome in rule["targets"]
            for attempt in outcome["invocations"]
            if attempt["ok"]
        ]

    @staticmethod
    def _conversation(event: dict[str, Any]) -> dict[str, Any]:
        conversation = event["event"]["detail"].get("conversation")
        if not conversation:
            raise ConversationFailed("the event has no conversation (was it processed?)")
        return dict(conversation)

    def _wait_for_ack(self, position: int, parent: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for sent in self._sent_since(position):
                if _header(sent, "In-Reply-To") == parent:
                    return sent
            time.sleep(0.2)
        raise ConversationFailed(f"no acknowledgement answering {parent} was sent")

    # --- the steps -----------------------------------------------------------------------

    def open_ticket(self) -> Found:
        message = first_message(self.support)
        position = self._sent_count()
        message_id, event = self._deliver(message, CUSTOMER)
        conversation = self._conversation(event)
        results = self._results(event)
        if not results or not results[0].get("new"):
            raise ConversationFailed(f"the ticket desk opened no ticket: {results}")
        result = results[0]
        if not result.get("acknowledged"):
            raise ConversationFailed(f"the desk did not acknowledge: {result.get('why')}")
        ack = self._wait_for_ack(position, str(message["Message-ID"]))
        self.ack, self.thread, self.ticket = ack, conversation["threadId"], result["ticket"]
        found = Found(
            facts={
                "messageId": message_id,
                "kind": conversation["kind"],
                "thread": conversation["threadId"],
                "result": result,
                "ack": ack,
            }
        )
        found.lines += [
            f"{CUSTOMER} -> {self.support}: {SUBJECT!r} (SES message {message_id})",
            f"  kind {conversation['kind']}, thread {conversation['threadId']}",
            f"  the ticket desk opened ticket {result['ticket']} and acknowledged it",
            f"  outbox: {_header(ack, 'From')} -> {', '.join(ack['destinations'])}",
            f"    Subject: {_header(ack, 'Subject')}",
            f"    In-Reply-To: {_header(ack, 'In-Reply-To')}, "
            f"Auto-Submitted: {_header(ack, 'Auto-Submitted')}",
        ]
        return found

    def reply(self) -> Found:
        ack = self._need_ack()
        position = self._sent_count()
        message_id, event = self._deliver(reply_to(ack), CUSTOMER)
        conversation = self._conversation(event)
        token = conversation.get("replyAddress") or {}
        results = self._results(event)
        facts = {
            "messageId": message_id,
            "thread": conversation["threadId"],
            "replyText": conversation.get("replyText"),
            "replyAddress": token,
            "result": results[0] if results else None,
            "sent": self._sent_since(position),
        }
        if not token.get("valid") or token.get("payload") != self.ticket:
            raise ConversationFailed(f"the reply's token is not the ticket's: {token}")
        if conversation["threadId"] != self.thread:
            raise ConversationFailed(
                f"the reply is in thread {conversation['threadId']}, not {self.thread}"
            )
        if not results or results[0].get("new") or results[0].get("ticket") != self.ticket:
            raise ConversationFailed(f"the reply did not land in ticket {self.ticket}: {results}")
        reply_text = str(conversation.get("replyText") or "")
        found = Found(facts=facts)
        found.lines += [
            f"{CUSTOMER} -> {token['address']} (In-Reply-To the acknowledgement)",
            f"  token valid, ticket {token['payload']}; same thread {conversation['threadId']}",
            f"  the reply's own text (no quote, no signature): {reply_text!r}",
            f"  the ticket desk added it to ticket {results[0]['ticket']}; "
            f"{len(facts['sent'])} message(s) sent",
        ]
        return found

    def out_of_office(self) -> Found:
        ack = self._need_ack()
        position = self._sent_count()
        message_id, event = self._deliver(out_of_office(ack), CUSTOMER)
        conversation = self._conversation(event)
        results = self._results(event)
        sent = self._sent_since(position)
        facts = {
            "messageId": message_id,
            "kind": conversation["kind"],
            "matched": event["matched"],
            "results": results,
            "sent": sent,
        }
        if conversation["kind"] != "auto_reply" or results or sent:
            raise ConversationFailed(
                f"the out-of-office answer was {conversation['kind']}, reached {results}, "
                f"and {len(sent)} message(s) went out"
            )
        found = Found(facts=facts)
        found.lines += [
            f"{CUSTOMER} (away) -> {_header(ack, 'From')}: 'Automatic reply: ...'",
            f"  kind {conversation['kind']}: no subscription matched, no ticket opened, "
            "nothing sent",
        ]
        return found

    def bounce(self) -> Found:
        message_id, event = self._deliver(bounce(self.support), "")
        conversation = self._conversation(event)
        status = conversation.get("deliveryStatus") or {}
        recipients = status.get("recipients") or []
        facts = {
            "messageId": message_id,
            "kind": conversation["kind"],
            "deliveryStatus": status,
            "results": self._results(event),
        }
        if conversation["kind"] != "delivery_status" or not recipients:
            raise ConversationFailed(f"the bounce was read as {conversation['kind']}: {status}")
        found = Found(facts=facts)
        found.lines += [f"<> (mailer-daemon@mx.customer.example) -> {self.support}: a DSN"]
        found.lines += [
            f"  kind {conversation['kind']}: failed recipient {item['address']} "
            f"({item['action']}, status {item['status']}, "
            f"{'permanent' if item['permanent'] else 'temporary'})"
            for item in recipients
        ]
        found.lines.append("  no subscription matched: no ticket opened")
        return found

    def _need_ack(self) -> dict[str, Any]:
        if self.ack is None:
            raise ConversationFailed("no acknowledgement yet: open a ticket first")
        return self.ack


def run(conversation: Conversation, say: Callable[[str], None]) -> dict[str, Found]:
    """Every step in order, printing each step's lines with ``say``."""
    found: dict[str, Found] = {}
    for name in ("open_ticket", "reply", "out_of_office", "bounce"):
        found[name] = getattr(conversation, name)()
        for line in found[name].lines:
            say(f"    {line}")
    return found

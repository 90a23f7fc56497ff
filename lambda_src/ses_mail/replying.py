"""A correct reply to a received message, refused where an automatic reply would do harm.

Used in your own function with the reader (it needs no boto3; pass the SES v2 client you have)::

    from ses_mail.reader import ReceivedEmail
    from ses_mail.replying import ReplyRefused, build_reply

    def handler(event, context):
        mail = ReceivedEmail.from_event(event)
        try:
            reply = build_reply(mail, text="We got your message.", automatic=True)
        except ReplyRefused as refused:
            print("no acknowledgement:", refused.reason)
            return
        sesv2.send_email(**reply.send_email_request())

What it writes (RFC 5322 section 3.6.4 and 3.6.5, RFC 3834):

- ``Subject``: the original with ``Re: `` added once (not again when it already starts with
  ``Re:``, in any case);
- ``In-Reply-To``: the original's ``Message-ID``; ``References``: the original's
  ``References`` (or else its ``In-Reply-To``) followed by its ``Message-ID``, trimmed to the
  first and the last :data:`MAX_REFERENCES` - 1 (the first is the thread's root, which clients
  thread on; RFC 5322 leaves trimming to the writer);
- ``From``: ``from_address`` (e.g. a signed reply address), else the address the message was
  received at (the first envelope recipient);
- ``To``: for an automatic reply the envelope sender (RFC 3834 section 4: responses go to the
  return path); for a person's reply ``Reply-To``, else ``From`` (RFC 5322 section 3.6.2);
- ``Auto-Submitted: auto-replied`` on an automatic reply (RFC 3834 section 5.1).

An automatic reply is refused (:class:`ReplyRefused`, with the reason) when RFC 3834 section 2
says not to answer: the message is itself automatic, a bounce, a feedback report or list mail
(its ``conversation.kind``), or it has no usable sender (a null envelope sender); and, so that
an automatic reply never goes to a forged address (backscatter), when the sender is not
authenticated: the DMARC verdict is not ``PASS``, except that a message whose domain has no
DMARC verdict (``GRAY``, ``PROCESSING_FAILED``, ``DISABLED`` or none) passes when both SPF and
DKIM are ``PASS``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr
from typing import Any

from .reader import ReceivedEmail

MAX_REFERENCES = 20
"""At most this many identifiers in ``References`` (the first and the newest)."""
NO_AUTO_REPLY_KINDS = frozenset(
    {"auto_reply", "auto_generated", "delivery_status", "feedback_report", "list"}
)
"""Kinds RFC 3834 section 2 says an automatic responder must not answer."""
_RE = re.compile(r"^\s*re\s*:", re.IGNORECASE)


class ReplyRefused(ValueError):
    """An automatic reply to this message would break RFC 3834 or could be backscatter."""

    def __init__(self, message_id: str, reason: str) -> None:
        super().__init__(f"no automatic reply to {message_id!r}: {reason}")
        self.message_id = message_id
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply ready to send with SES v2 ``SendEmail`` (raw content)."""

    from_address: str
    to: tuple[str, ...]
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    automatic: bool
    raw: bytes
    """The MIME message (CRLF line ends, as SMTP sends it)."""

    def send_email_request(self, **extra: Any) -> dict[str, Any]:
        """Keyword arguments of SES v2 ``send_email`` (plus ``extra``, e.g.
        ``ConfigurationSetName``)."""
        return {
            "FromEmailAddress": self.from_address,
            "Destination": {"ToAddresses": list(self.to)},
            "Content": {"Raw": {"Data": self.raw}},
            **extra,
        }


def refusal(mail: ReceivedEmail) -> str | None:
    """Why an automatic reply to ``mail`` must not be sent, or ``None`` when it may."""
    if mail.status != "processed" or mail.conversation is None:
        return f"the message was not processed (status {mail.status})"
    kind = mail.conversation.kind
    if kind in NO_AUTO_REPLY_KINDS:
        return f"it is {kind} mail (RFC 3834 section 2)"
    if not mail.envelope.source.strip() or mail.envelope.source.strip() == "<>":
        return "it has a null envelope sender (RFC 3834 section 2)"
    verdicts = mail.verdicts
    if verdicts.dmarc == "PASS":
        return None
    if verdicts.dmarc == "FAIL":
        return "its DMARC verdict is FAIL: the sender may be forged"
    if verdicts.spf == "PASS" and verdicts.dkim == "PASS":
        return None
    return (
        f"its sender is not authenticated (DMARC {verdicts.dmarc}, SPF {verdicts.spf}, "
        f"DKIM {verdicts.dkim}): the sender may be forged"
    )


def build_reply(
    mail: ReceivedEmail,
    *,
    text: str,
    html: str | None = None,
    from_address: str | None = None,
    from_name: str = "",
    automatic: bool = True,
) -> Reply:
    """A reply to ``mail`` (see the module docstring); raises :class:`ReplyRefused` for an
    automatic reply that must not be sent, and ``ValueError`` when there is nobody to reply to."""
    to: tuple[str, ...]
    if automatic:
        reason = refusal(mail)
        if reason is not None:
            raise ReplyRefused(mail.message_id, reason)
        to = (mail.envelope.source,)
    else:
        targets = mail.headers.reply_to or mail.headers.from_
        to = tuple(item.address for item in targets if item.address)
    if not to or not all("@" in item for item in to):
        raise ValueError(f"message {mail.message_id!r} has no address to reply to")
    sender = from_address or (mail.envelope.recipients[0] if mail.envelope.recipients else "")
    if "@" not in sender:
        raise ValueError("from_address is needed: the message names no receiving address")
    subject = reply_subject(mail.headers.subject)
    parent = mail.headers.message_id
    references = reply_references(mail.headers.references, mail.headers.in_reply_to, parent)
    message = EmailMessage(policy=SMTP)
    message["From"] = formataddr((from_name, sender)) if from_name else sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    if parent:
        message["In-Reply-To"] = parent
    if references:
        message["References"] = " ".join(references)
    if automatic:
        message["Auto-Submitted"] = "auto-replied"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return Reply(
        from_address=sender,
        to=to,
        subject=subject,
        in_reply_to=parent,
        references=references,
        automatic=automatic,
        raw=message.as_bytes(),
    )


def reply_subject(subject: str | None) -> str:
    """``Re: `` plus the subject, once (RFC 5322 section 3.6.5)."""
    original = (subject or "").strip()
    return original if _RE.match(original) else f"Re: {original}".rstrip()


def reply_references(
    references: Sequence[str], in_reply_to: str | None, message_id: str | None
) -> tuple[str, ...]:
    """The reply's ``References`` (RFC 5322 section 3.6.4), trimmed to :data:`MAX_REFERENCES`
    (the first identifier and the newest ones)."""
    chain = list(references) or ([in_reply_to] if in_reply_to else [])
    if message_id:
        chain.append(message_id)
    chain = list(dict.fromkeys(item for item in chain if item))
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[len(chain) - MAX_REFERENCES + 1 :]]
    return tuple(chain)

"""Sample messages for ``send`` and the demo.

``documented_sample`` is the message of AWS's documented SES Lambda event
(https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action-lambda-event.html; a copy
in the repository's ``tests/handler/events/``) rebuilt as MIME: the headers the sender wrote
(everything but the Return-Path and Received headers that SES adds), with the To header and
the envelope set to the address it is sent to. ``attachment_sample`` adds a text body in two
forms and a CSV attachment.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

#: The sender's headers of the documented event, in order (from the fixture's mail.headers).
DOCUMENTED_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "DKIM-Signature",
        "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=example; "
        "h=mime-version:from:date:message-id:subject:to:content-type; "
        "bh=jX3F0bCAI7sIbkHyy3mLYO28ieDQz2R0P8HwQkklFj4=; b=sQwJ+LMe9RjkesGu+vqU56asvMhrLRRYrWCbV",
    ),
    ("MIME-Version", "1.0"),
    ("From", "Jane Doe <janedoe@example.com>"),
    ("Date", "Wed, 7 Oct 2015 12:34:56 -0700"),
    ("Message-ID", "<0123456789example.com>"),
    ("Subject", "Test Subject"),
    ("To", "johndoe@example.com"),
    ("Content-Type", "text/plain; charset=UTF-8"),
)
DOCUMENTED_SENDER = "janedoe@example.com"
DOCUMENTED_BODY = "This is a test message from the documented SES Lambda event.\r\n"


def documented_sample(to: str) -> bytes:
    lines = [f"{name}: {to if name == 'To' else value}" for name, value in DOCUMENTED_HEADERS]
    return ("\r\n".join(lines) + "\r\n\r\n" + DOCUMENTED_BODY).encode("utf-8")


def attachment_sample(to: str, sender: str = DOCUMENTED_SENDER) -> bytes:
    message = EmailMessage()
    message["From"] = f"Jane Doe <{sender}>"
    message["To"] = to
    message["Subject"] = "Quarterly report (with attachment)"
    message["Message-ID"] = "<report-2024-q3@example.com>"
    message["Date"] = "Tue, 1 Oct 2024 09:00:00 +0000"
    message.set_content("Hello,\n\nthe report is attached.\n\nJane\n")
    message.add_alternative(
        "<p>Hello,</p><p>the report is <b>attached</b>.</p><p>Jane</p>", subtype="html"
    )
    message.add_attachment(
        b"region,messages\nus-east-1,42\neu-west-1,17\n",
        maintype="text",
        subtype="csv",
        filename="report.csv",
    )
    return message.as_bytes(policy=SMTP)


SAMPLES = {"documented": documented_sample, "attachment": attachment_sample}

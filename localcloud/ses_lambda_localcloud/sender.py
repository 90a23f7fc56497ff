"""Mail into the local cloud over SMTP, and waiting until the rule set has processed it."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from .cdk_cli import project_root
from .receiving import tls
from .target import CommandError, Target


@dataclass
class SendResult:
    accepted: list[str]
    rejected: dict[str, str]
    message_id: str | None
    reply: str


def send(
    target: Target,
    message: bytes,
    *,
    recipients: Sequence[str],
    mail_from: str,
    timeout: float = 30.0,
    plain_text: bool = False,
) -> SendResult:
    """Send over SMTP; rejected recipients are reported, never dropped silently.

    The session uses STARTTLS (RFC 3207), as mail servers sending to SES do, unless
    ``plain_text``: a receipt rule with ``TlsPolicy`` ``Require`` bounces mail received without
    TLS (``Receiver.process``). The local receiver's certificate is self-signed, so it is not
    verified.
    """
    rejected: dict[str, str] = {}
    accepted: list[str] = []
    try:
        with smtplib.SMTP("localhost", target.smtp_port, timeout=timeout) as smtp:
            smtp.ehlo("local-cloud-client")
            if not plain_text:
                if not smtp.has_extn("starttls"):
                    raise CommandError(
                        f"the SMTP server at localhost:{target.smtp_port} offers no STARTTLS; "
                        "send in plain text explicitly (--plain-text) if that is intended"
                    )
                smtp.starttls(context=tls.client_context())
                smtp.ehlo("local-cloud-client")
            code, reply = smtp.mail(
                mail_from, [f"SIZE={len(message)}"] if smtp.has_extn("size") else []
            )
            if code != 250:
                raise CommandError(f"MAIL FROM refused: {code} {reply.decode(errors='replace')}")
            for recipient in recipients:
                code, reply = smtp.rcpt(recipient)
                if code in (250, 251):
                    accepted.append(recipient)
                else:
                    rejected[recipient] = f"{code} {reply.decode(errors='replace')}"
            if not accepted:
                smtp.rset()
                return SendResult(accepted, rejected, None, "no recipient was accepted")
            code, reply = smtp.data(message)
            text = reply.decode(errors="replace")
            if code != 250:
                raise CommandError(f"the message was refused: {code} {text}")
    except (OSError, smtplib.SMTPException) as error:
        if isinstance(error, smtplib.SMTPException) and not isinstance(
            error, smtplib.SMTPServerDisconnected
        ):
            raise CommandError(f"SMTP error: {error}") from None
        raise CommandError(
            f"no SMTP server answers at localhost:{target.smtp_port} ({error}); is the local "
            "cloud running?"
        ) from None
    message_id = text.split()[-1] if text.lower().startswith("ok ") else None
    return SendResult(accepted, rejected, message_id, f"{code} {text}")


def wait_for(target: Target, message_id: str, timeout: float = 90.0) -> dict[str, Any]:
    record: dict[str, Any] = target.local(
        f"messages/{message_id}?wait={timeout}", timeout=timeout + 10
    )
    if not record.get("finished"):
        raise CommandError(f"message {message_id} was not processed within {timeout:.0f} s")
    return record


def default_recipient(root: Path | None = None) -> str | None:
    """The first recipient of the demo app's context (cdk.json), if there is one."""
    try:
        data = json.loads((root or project_root()).joinpath("cdk.json").read_text("utf-8"))
    except (CommandError, OSError, ValueError):
        return None
    recipients = data.get("context", {}).get("recipients")
    if isinstance(recipients, list):
        recipients = ",".join(str(r) for r in recipients)
    if isinstance(recipients, str):
        first = recipients.split(",")[0].strip()
        if "@" in first:
            return first
        if first:
            return f"test@{first.lstrip('.')}"
    return None


def sender_of(message: bytes) -> str:
    from email.parser import BytesHeaderParser

    headers = BytesHeaderParser().parsebytes(message)
    return parseaddr(str(headers.get("From", "")))[1] or "sender@example.com"

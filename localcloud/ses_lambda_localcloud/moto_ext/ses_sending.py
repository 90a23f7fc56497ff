"""SES v2 ``SendEmail`` with raw content as SES does it, and every send captured.

Corrections to moto 5.2.5's ``sesv2`` ``SendEmail`` for ``Content.Raw``:

- moto decodes the message as strict UTF-8, so 8-bit MIME in any other charset (Latin-1,
  KOI8-R...) fails with a server error. SES accepts 8-bit parts
  (https://docs.aws.amazon.com/ses/latest/dg/send-email-raw.html, "Using MIME"): the bytes are
  kept as they are here.
- moto adds the message's own To/Cc/Bcc addresses to the ``Destination`` given. SES sends raw
  content to ``Destination`` when it is given, and to the header addresses only when it is not
  (API_SendEmail, ``Destination``; how Bcc works in raw sending).
- From must be a verified identity (an address, or a domain that covers it), else
  ``MessageRejected`` (https://docs.aws.amazon.com/ses/latest/dg/send-email-raw.html,
  "You can only send email from verified email addresses or domains").

Each accepted send is appended to moto's SES backend (``sent_messages``, as moto does) and to
:data:`SENT`, which the local cloud shows and may relay to a local SMTP port.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parseaddr
from typing import Any

from moto.ses.exceptions import MessageRejectedError
from moto.ses.models import RawMessage, ses_backends
from moto.ses.utils import get_random_message_id
from moto.sesv2.responses import SESV2Response

#: SES v2 and SMTP send at most 40 MB per message after base64 encoding
#: (https://docs.aws.amazon.com/ses/latest/dg/quotas.html, "Message quotas").
MAX_BASE64_BYTES = 40_000_000


@dataclass(frozen=True)
class SentMessage:
    """One message SES accepted for sending."""

    message_id: str
    account_id: str
    region: str
    source: str
    destinations: tuple[str, ...]
    raw: bytes
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def size(self) -> int:
        return len(self.raw)

    def headers(self) -> list[tuple[str, str]]:
        """The header fields of the sent message, in order."""
        message = BytesHeaderParser().parsebytes(self.raw)
        return [(k, str(v)) for k, v in message.items()]

    def summary(self) -> dict[str, Any]:
        wanted = {"from", "reply-to", "to", "subject", "x-original-from", "x-forward-hops"}
        return {
            "messageId": self.message_id,
            "source": self.source,
            "destinations": list(self.destinations),
            "size": self.size,
            "at": self.at,
            "headers": {k: v for k, v in self.headers() if k.lower() in wanted},
        }


SENT: list[SentMessage] = []
_lock = threading.Lock()
_listeners: list[Callable[[SentMessage], None]] = []
_applied = False


def on_send(listener: Callable[[SentMessage], None]) -> None:
    """Call ``listener`` with every message accepted from now on (e.g. an SMTP relay)."""
    _listeners.append(listener)


def sent_messages() -> list[SentMessage]:
    with _lock:
        return list(SENT)


def apply() -> None:
    """Install the corrected ``SendEmail`` (idempotent)."""
    global _applied
    if _applied:
        return
    original = SESV2Response.send_email

    def send_email(self: SESV2Response) -> str:
        params = json.loads(self.body)
        content = params.get("Content") or {}
        if "Raw" not in content:
            return original(self)
        encoded = content["Raw"].get("Data", "")
        if len(encoded) > MAX_BASE64_BYTES:
            raise MessageRejectedError(
                f"Message length is {len(encoded)} bytes after base64 encoding; the maximum "
                f"is {MAX_BASE64_BYTES}"
            )
        raw = base64.b64decode(encoded)
        header = BytesHeaderParser().parsebytes(raw)
        source = params.get("FromEmailAddress") or parseaddr(str(header.get("From", "")))[1]
        backend = ses_backends[self.current_account][self.region]
        if not source or not backend._is_verified_address(source):
            raise MessageRejectedError(
                "Email address is not verified. The following identities failed the check in "
                f"region {self.region.upper()}: {source or '(no From)'}"
            )
        given = params.get("Destination") or {}
        destinations = [
            a
            for kind in ("ToAddresses", "CcAddresses", "BccAddresses")
            for a in given.get(kind, [])
        ]
        if not destinations:
            values = [str(header[k]) for k in ("To", "Cc", "Bcc") if header.get(k)]
            destinations = [address for _, address in getaddresses(values) if address]
        if not destinations:
            raise MessageRejectedError("Missing destination: the message has no recipient")
        message_id = get_random_message_id()
        text = raw.decode("utf-8", "surrogateescape")
        with _lock:
            backend.sent_messages.append(RawMessage(message_id, source, destinations, text))
            backend.sent_message_count += len(destinations)
            sent = SentMessage(
                message_id=message_id,
                account_id=self.current_account,
                region=self.region,
                source=source,
                destinations=tuple(destinations),
                raw=raw,
            )
            SENT.append(sent)
        for listener in list(_listeners):
            listener(sent)
        return json.dumps({"MessageId": message_id})

    SESV2Response.send_email = send_email  # type: ignore[method-assign]
    _applied = True

"""Mail the local cloud's SES sent: kept for ``send``/``show``, optionally relayed over SMTP.

The SES v2 ``SendEmail`` correction (``moto_ext.patches.ses_sending``) records every message
SES accepted here; nothing leaves the machine unless ``start --relay-smtp PORT`` names a local
SMTP port (a mail catcher, a development mail server), to which each message is then relayed
with the same envelope (From, destinations).
"""

from __future__ import annotations

import logging
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from typing import Any

log = logging.getLogger(__name__)

#: Sent messages kept in memory (the oldest are forgotten first): a local bound for long runs,
#: not an SES limit. Positions (``messages(since)``, ``len``) still count every message sent.
OUTBOX_LIMIT = 1000

#: How much of a sent message's text a report shows.
SHOWN_TEXT_CHARS = 2000
#: The header fields a report shows of each sent message.
SHOWN_FIELDS = (
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "X-Original-From",
    "X-Original-To",
    "X-Forward-Hops",
)


@dataclass
class SentMessage:
    """One message SES accepted for sending."""

    message_id: str
    source: str
    destinations: tuple[str, ...]
    raw: bytes
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    relay: str | None = None
    """``None`` (no relay), ``relayed to localhost:PORT`` or the relay's error."""
    access_key_id: str | None = None
    """The access key that signed the request (a Lambda environment's own, if one sent it)."""

    @property
    def size(self) -> int:
        return len(self.raw)

    def headers(self) -> list[tuple[str, str]]:
        """The header fields of the sent message, in order."""
        message = BytesHeaderParser().parsebytes(self.raw)
        return [(name, str(value)) for name, value in message.items()]

    def text(self) -> str | None:
        """The message's first text/plain part (at most ``SHOWN_TEXT_CHARS``), if it has one."""
        from email import policy
        from email.parser import BytesParser

        message = BytesParser(policy=policy.default).parsebytes(self.raw)
        part = message.get_body(preferencelist=("plain",))
        if part is None:
            return None
        try:
            content = str(part.get_content())
        except (LookupError, ValueError):
            return None
        return content[:SHOWN_TEXT_CHARS]

    def summary(self) -> dict[str, Any]:
        shown = {name.lower() for name in SHOWN_FIELDS}
        return {
            "messageId": self.message_id,
            "source": self.source,
            "destinations": list(self.destinations),
            "size": self.size,
            "at": self.at,
            "headers": [[k, v] for k, v in self.headers() if k.lower() in shown],
            "text": self.text(),
            "relay": self.relay,
        }


class Outbox:
    """Every message sent in this process, in order; thread-safe."""

    def __init__(self) -> None:
        self._messages: list[SentMessage] = []
        #: How many of the oldest messages were forgotten (``OUTBOX_LIMIT``).
        self._forgotten = 0
        self._lock = threading.Lock()
        self._listeners: list[Callable[[SentMessage], None]] = []

    def add(self, message: SentMessage) -> None:
        with self._lock:
            self._messages.append(message)
            excess = len(self._messages) - OUTBOX_LIMIT
            if excess > 0:
                del self._messages[:excess]
                self._forgotten += excess
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(message)
            except Exception:  # a relay problem must not fail the SES call
                log.exception("outbox listener failed for %s", message.message_id)

    def messages(self, since: int = 0) -> list[SentMessage]:
        """The messages from position ``since`` on (those still kept)."""
        with self._lock:
            return list(self._messages[max(0, since - self._forgotten) :])

    def __len__(self) -> int:
        """How many messages were sent (forgotten ones included)."""
        with self._lock:
            return self._forgotten + len(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._forgotten = 0

    def on_send(self, listener: Callable[[SentMessage], None]) -> Callable[[], None]:
        """Call ``listener`` with every message added from now on; returns its remover."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove


#: The process's outbox (the local cloud runs moto in this process).
OUTBOX = Outbox()


def relay_to(
    port: int, host: str = "localhost", timeout: float = 10.0
) -> Callable[[SentMessage], None]:
    """A listener that relays each sent message to a local SMTP server, in the background."""
    if host not in ("localhost", "127.0.0.1", "::1"):
        raise ValueError(f"the relay only talks to this machine; got host {host!r}")

    def deliver(message: SentMessage) -> None:
        try:
            with smtplib.SMTP(host, port, timeout=timeout) as smtp:
                smtp.sendmail(message.source, list(message.destinations), message.raw)
            message.relay = f"relayed to {host}:{port}"
            log.info("sent message %s relayed to %s:%d", message.message_id, host, port)
        except (OSError, smtplib.SMTPException) as error:
            message.relay = f"relay to {host}:{port} failed: {error}"
            log.warning("relaying sent message %s failed: %s", message.message_id, error)

    def listener(message: SentMessage) -> None:
        from .lifecycle import WORK

        WORK.spawn(deliver, message, name="smtp-relay")

    return listener

"""The SMTP side of local SES receiving (aiosmtpd), listening on localhost only.

STARTTLS (RFC 3207) is offered with a self-signed certificate generated at start (:mod:`.tls`);
whether a message arrived over TLS is recorded and decides what a ``TlsPolicy`` ``Require``
rule does with it (see ``Receiver.accept``).

Every limit, with its source (docs/local-cloud.md lists them too), answered with a clear SMTP
reply and never silently:

- message size: 40 MB including headers (SES Developer Guide, S3 action: "the maximum email
  size (including headers) is 40 MB"); ``SIZE`` is advertised (RFC 1870) and a larger
  ``MAIL FROM ... SIZE=`` or DATA gets ``552 5.3.4`` (RFC 1870 section 6; RFC 3463); oversized
  data is discarded while it streams in;
- recipients: 100 per message, the number RFC 5321 section 4.5.3.1.8 requires every server to
  accept (SES documents no receiving limit; its 50 is the sending limit of SendEmail /
  SendRawEmail); the 101st and later get ``452 4.5.3`` (RFC 5321 section 4.5.3.1.10);
- recipients no rule matches: ``550 5.1.1`` (see ``Receiver.check_recipient``);
- line length: command lines up to 512 octets (RFC 5321 section 4.5.3.1.4), text lines up to
  1000 octets with CRLF (section 4.5.3.1.6); longer ones get ``500``;
- garbage: aiosmtpd's own defence (not an SES behaviour) answers unknown commands with ``500``
  and closes the connection with ``502 5.5.1`` after too many of them;
- stalled clients: a connection idle for ``timeout`` seconds (300 by default: the server
  timeout of RFC 5321 section 4.5.3.2.7, also while sending DATA) is closed with ``421 4.4.2``
  (RFC 5321 section 3.8);
- connections: at most ``max_connections`` at once (``421 4.7.0``, RFC 5321 section 3.8). SES
  documents no such limit: this one only protects the machine the local cloud runs on.

What the EHLO reply offers, as a receiving MX: no ``AUTH`` (a receiving MX takes mail for its
domains from anyone; ``AUTH`` is answered ``502 5.5.1``, RFC 5321 section 4.2.4), and no
``SMTPUTF8``: SES does not support it (SES API reference, "Destination": "Amazon SES does not
support the SMTPUTF8 extension, as described in RFC6531"; no AWS page documents it for
receiving), so ``MAIL FROM ... SMTPUTF8`` and non-ASCII addresses are refused with ``501`` /
``500`` as aiosmtpd answers them with the extension off. The greeting names the host SES's
``Received:`` field names (``inbound-smtp.<region>.amazonaws.com``, see ``mail.ses_headers``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from .. import runtime
from . import tls
from .receiver import Receiver, RecipientRejected

log = logging.getLogger(__name__)

#: RFC 5321 section 4.5.3.2.7: a server SHOULD wait at least 5 minutes for the next command.
DEFAULT_TIMEOUT_SECONDS = 300.0
#: A local guard for the machine the local cloud runs on, not an SES limit (none is documented).
DEFAULT_MAX_CONNECTIONS = 20
SIZE_REPLY = (
    f"552 5.3.4 Message size exceeds the fixed maximum message size "
    f"({runtime.MAX_MESSAGE_BYTES} bytes, the SES limit)"
)
TOO_MANY_RECIPIENTS = (
    f"452 4.5.3 Too many recipients: the local cloud accepts {runtime.MAX_RECIPIENTS} per message "
    "(RFC 5321 4.5.3.1.8)"
)


class _LocalSMTP(SMTP):
    """aiosmtpd's SMTP with SES-like wording for its limits, a connection cap and timeouts."""

    def __init__(
        self, handler: Any, *, max_connections: int, counter: list[int], **kwargs: Any
    ) -> None:
        super().__init__(handler, **kwargs)
        self._max_connections = max_connections
        self._counter = counter
        self._counted = False

    def connection_made(self, transport: Any) -> None:
        if self._counted:  # STARTTLS: the same connection, now over TLS
            super().connection_made(transport)
            return
        if self._counter[0] >= self._max_connections:
            log.warning("refused an SMTP connection: %d already open", self._counter[0])
            transport.write(b"421 4.7.0 Too many connections, try again later\r\n")
            transport.close()
            return
        self._counter[0] += 1
        self._counted = True
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted:
            self._counter[0] -= 1
            self._counted = False
            super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        # aiosmtpd restarts its timer only when a command arrives, so the whole DATA transfer
        # had to fit in one timeout: a large message on a slow or loaded link was cut off
        # mid-stream as "idle". Bytes arriving mean the client is not idle.
        if self._counted:
            self._reset_timeout()
        super().data_received(data)

    async def push(self, status: Any) -> None:
        if status.startswith("250-AUTH"):
            return  # aiosmtpd always offers AUTH in EHLO; a receiving MX does not
        # aiosmtpd's own wording for oversized mail does not say what the limit is.
        if status.startswith("552 Error: Too much mail data") or status.startswith(
            "552 Error: message size exceeds fixed maximum"
        ):
            log.warning("rejected an oversized message from %s", getattr(self.session, "peer", "?"))
            status = SIZE_REPLY
        await super().push(status)

    async def smtp_AUTH(self, arg: str) -> None:
        await self.push("502 5.5.1 AUTH not offered: this server receives mail for its domains")

    def _timeout_cb(self) -> None:
        transport: Any = self.transport
        if transport is not None and not transport.is_closing() and not transport.is_reading():
            # Reading is paused because more than the reader's limit of the client's data is
            # waiting for us (a slow, loaded machine working through a large DATA): the
            # client is not idle, this side is behind. Wait another timeout.
            self._reset_timeout()
            return
        # aiosmtpd closes an idle connection without a word; say why first (RFC 5321 421).
        log.warning("closing an idle SMTP connection from %s", getattr(self.session, "peer", "?"))
        if transport is not None and not transport.is_closing():
            transport.write(b"421 4.4.2 Timeout: closing the connection\r\n")
        super()._timeout_cb()  # type: ignore[no-untyped-call]


class SesSmtpHandler:
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= runtime.MAX_RECIPIENTS:
            log.warning("refused recipient %s: more than %d", address, runtime.MAX_RECIPIENTS)
            return TOO_MANY_RECIPIENTS
        try:
            self.receiver.check_recipient(address)
        except RecipientRejected as rejected:
            self.receiver.record_rejection(envelope.mail_from or "", address, rejected.reply)
            return rejected.reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        if len(data) > runtime.MAX_MESSAGE_BYTES:
            return SIZE_REPLY
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        loop = asyncio.get_running_loop()
        record = await loop.run_in_executor(
            None,
            lambda: self.receiver.accept(
                mail_from=envelope.mail_from or "",
                recipients=list(envelope.rcpt_tos),
                data=data,
                helo=session.host_name or "unknown",
                peer_ip=peer,
                tls=session.ssl is not None,
            ),
        )
        return f"250 Ok {record.message_id}"


class SmtpServer(Controller):
    """aiosmtpd's threaded controller, bound to localhost, building ``_LocalSMTP``."""

    def __init__(
        self,
        receiver: Receiver,
        *,
        port: int,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        hostname: str = "127.0.0.1",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(
            SesSmtpHandler(receiver),
            hostname=hostname,
            port=port,
            # The host SES names in the Received: field it writes (mail.ses_headers).
            server_hostname=f"inbound-smtp.{receiver.region}.amazonaws.com",
            ident="local SES receiving (ses-lambda-constructs local cloud)",
            data_size_limit=runtime.MAX_MESSAGE_BYTES,
            decode_data=False,
            enable_SMTPUTF8=False,
            # No AUTH mechanism at all (see push and smtp_AUTH).
            auth_exclude_mechanism=["LOGIN", "PLAIN"],
            timeout=timeout,
            tls_context=tls_context or tls.server_context(),
        )
        self._max_connections = max_connections
        self._counter = [0]

    @property
    def idle_timeout(self) -> float:
        """Seconds a client may stay silent before it is disconnected (new connections)."""
        return float(self.SMTP_kwargs["timeout"])

    @idle_timeout.setter
    def idle_timeout(self, seconds: float) -> None:
        self.SMTP_kwargs["timeout"] = seconds

    def factory(self) -> SMTP:
        return _LocalSMTP(
            self.handler,
            max_connections=self._max_connections,
            counter=self._counter,
            **self.SMTP_kwargs,
        )


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True

"""The SMTP side of local SES receiving (aiosmtpd), listening on localhost only.

Limits, each answered with a clear SMTP reply and never silently:

- message size: ``SIZE`` advertised as 40 MB (SES's limit); a larger ``MAIL FROM ... SIZE=`` or
  DATA gets ``552 5.3.4``, and the oversized data is discarded while it streams in;
- recipients: at most 50 per message (SES's limit); the 51st and later get ``452 4.5.3``;
- recipients no rule matches: ``550 5.1.1`` (see ``Receiver.check_recipient``);
- garbage: unknown commands get ``500``, and after 5 the connection is closed with ``502``;
  lines longer than 1000 characters get ``500``; each command may be sent at most
  ``COMMAND_CALL_LIMIT`` times per connection (``421`` then close);
- stalled clients: a connection idle for ``timeout`` seconds (30 by default, also while
  sending DATA) is closed with ``421 4.4.2``;
- connections: at most ``max_connections`` at once (``421 4.7.0`` beyond).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from .. import runtime
from .receiver import Receiver, RecipientRejected

log = logging.getLogger(__name__)

#: Per connection: how often each command may be sent (aiosmtpd's command_call_limit).
COMMAND_CALL_LIMIT = {"*": 200}
SIZE_REPLY = (
    f"552 5.3.4 Message size exceeds the fixed maximum message size "
    f"({runtime.MAX_MESSAGE_BYTES} bytes, the SES limit)"
)
TOO_MANY_RECIPIENTS = (
    f"452 4.5.3 Too many recipients: SES accepts at most {runtime.MAX_RECIPIENTS} per message"
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
        # aiosmtpd's own wording for oversized mail does not say what the limit is.
        if status.startswith("552 Error: Too much mail data") or status.startswith(
            "552 Error: message size exceeds fixed maximum"
        ):
            log.warning("rejected an oversized message from %s", getattr(self.session, "peer", "?"))
            status = SIZE_REPLY
        await super().push(status)

    def _timeout_cb(self) -> None:
        # aiosmtpd closes an idle connection without a word; say why first (RFC 5321 421).
        log.warning("closing an idle SMTP connection from %s", getattr(self.session, "peer", "?"))
        transport: Any = self.transport
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
        timeout: float = 30.0,
        max_connections: int = 20,
        hostname: str = "127.0.0.1",
    ) -> None:
        super().__init__(
            SesSmtpHandler(receiver),
            hostname=hostname,
            port=port,
            server_hostname="inbound-smtp.local-cloud",
            ident="local SES receiving (ses-lambda-constructs local cloud)",
            data_size_limit=runtime.MAX_MESSAGE_BYTES,
            decode_data=False,
            enable_SMTPUTF8=True,
            timeout=timeout,
            command_call_limit=COMMAND_CALL_LIMIT,
        )
        self._max_connections = max_connections
        self._counter = [0]

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

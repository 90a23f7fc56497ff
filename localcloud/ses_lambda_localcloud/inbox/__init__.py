"""The local cloud's inbox: a web page (and its JSON API) showing each received message and
its whole path through the pipeline, updated live. Served by ``ses-localcloud start`` on
``http://127.0.0.1:<ui port>/`` (docs/inbox.md)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from ..runtime import DEFAULT_UI_PORT
from .app import InboxApp
from .store import Inbox

log = logging.getLogger(__name__)

#: The only address the page listens on: received mail is hostile, the page is for this machine.
HOST = "127.0.0.1"


class UiPortInUse(RuntimeError):
    pass


class InboxServer:
    """The inbox page of a started ``LocalCloud``, on its own port of 127.0.0.1."""

    def __init__(self, cloud: Any, port: int = DEFAULT_UI_PORT, *, fallback: bool = False) -> None:
        """``fallback``: if ``port`` is taken, take any free port instead of failing (the
        default port of ``start``: the page's address is printed, nothing is configured with
        it)."""
        self.cloud = cloud
        self.port = port
        self.fallback = fallback
        self.inbox = Inbox(cloud, cloud.state_dir / "inbox")
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self) -> InboxServer:
        try:
            server = make_server(HOST, self.port, self._app_placeholder, threaded=True)
        except (OSError, SystemExit) as exc:  # werkzeug exits on "Address already in use"
            if not self.fallback:
                raise UiPortInUse(f"inbox port {self.port} on {HOST} is in use") from exc
            log.info("inbox port %d is in use: taking a free one", self.port)
            server = make_server(HOST, 0, self._app_placeholder, threaded=True)
        self.port = server.server_address[1]
        server.app = InboxApp(self.inbox, port=self.port, send=self._send)
        self.inbox.attach()
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="inbox-ui", daemon=True)
        self._thread.start()
        log.info("inbox page at %s", self.url)
        return self

    @staticmethod
    def _app_placeholder(environ: dict[str, Any], start_response: Any) -> Any:
        raise RuntimeError("the inbox is starting")

    def _send(self, message: bytes, recipients: list[str], mail_from: str) -> Any:
        """The send form: over SMTP with STARTTLS, as ``ses-localcloud send`` does."""
        from .. import sender
        from ..target import CommandError, Target

        target = Target(
            api_port=self.cloud.api_port,
            smtp_port=self.cloud.smtp_port,
            region=self.cloud.region,
            state_dir=self.cloud.state_dir,
        )
        try:
            return sender.send(target, message, recipients=recipients, mail_from=mail_from)
        except CommandError as error:
            from .store import BadRequest

            raise BadRequest(str(error)) from None

    def stop(self) -> None:
        self.inbox.detach()  # ends the event streams
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


__all__ = ["DEFAULT_UI_PORT", "HOST", "Inbox", "InboxApp", "InboxServer", "UiPortInUse"]

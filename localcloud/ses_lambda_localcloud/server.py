"""The local cloud in one process: moto's AWS endpoint (with this project's extensions), the
SES receiver's worker, and the SMTP listener. Used by ``ses-localcloud
start`` (foreground) and in-process by the tests.

Besides the AWS APIs, the endpoint serves a few local paths under ``/_localcloud/``:
``health``; ``cfn-response/<token>`` (the ResponseURL given to custom resources);
``messages`` and ``messages/<id>?wait=<seconds>`` (what happened to received mail);
``bounces``; ``sent?since=<n>`` (what SES sent: the outbox);
``events[?message=<id>&wait=<seconds>]`` (EventBridge events put, the rules they matched and
what each target did).

Who may call the endpoint (loopback ``Host``, the local cloud's own ``Origin``, the per-start
token on ``/moto-api`` and ``/_localcloud``) is decided by ``guard``, in front of everything.
Stopping is ordered (``LocalCloud.stop``): no new SMTP sessions, the work drains while the API
still answers, the API stops, then every background thread and execution environment ends.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from . import guard, lifecycle, runtime
from .eventbridge import delivery
from .iam import gate as iam_gate
from .iam import identities as iam_identities
from .object_journal import JOURNAL
from .outbox import OUTBOX, relay_to

log = logging.getLogger(__name__)


class PortInUse(RuntimeError):
    pass


class LocalCloudApp:
    """Moto's WSGI application plus the ``/_localcloud/`` paths."""

    PREFIX = "/_localcloud/"

    def __init__(self, cloud: LocalCloud) -> None:
        from .moto_ext.moto_internals import (
            DomainDispatcherApplication,
            create_backend_app,
            disable_global_cors,
        )

        disable_global_cors()  # which origins may call is the guard's decision
        self.cloud = cloud
        self.moto = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(self.PREFIX):
            refusal = iam_gate.check(environ)  # IAM and KMS, as AWS evaluates them
            if refusal is not None:
                return refusal(environ, start_response)
            with delivery.serving():  # requests to the local cloud get its EventBridge delivery
                return self.moto(environ, start_response)
        request = Request(environ)
        try:
            response = self.local(request, path[len(self.PREFIX) :])
        except Exception as exc:  # a bug here must not look like an AWS error
            log.exception("local endpoint %s failed", path)
            response = _json({"error": str(exc)}, 500)
        return response(environ, start_response)

    def local(self, request: Request, path: str) -> Response:
        rt = runtime.current()
        receiver = self.cloud.receiver
        if path == "health":
            return _json(self.cloud.describe())
        if path.startswith("cfn-response/"):
            token = path.split("/", 1)[1]
            try:
                body = json.loads(request.get_data() or b"{}")
            except ValueError:
                return _json({"error": "the body is not JSON"}, 400)
            if not rt.deliver_response(token, body):
                log.warning("a custom resource answered an unknown or late request %s", token)
            return Response("", 200)
        if path == "messages":
            since = int(request.args.get("since", "0") or 0)
            records = [r.to_dict() for r in list(receiver.records.values())]
            return _json({"messages": records[since:], "next": len(records)})
        if path.startswith("messages/"):
            message_id = path.split("/", 1)[1]
            wait = min(float(request.args.get("wait", "0") or 0), 300.0)
            record = receiver.wait(message_id, wait)
            if record is None:
                return _json({"error": f"no message {message_id}"}, 404)
            return _json(record.to_dict())
        if path == "iam":
            return _json(iam_gate.JOURNAL.to_dict(iam_gate.mode()))
        if path == "bounces":
            return _json({"bounces": receiver.bounces})
        if path == "sent":
            since = int(request.args.get("since", "0") or 0)
            sent = [message.summary() for message in OUTBOX.messages(since)]
            return _json({"sent": sent, "next": max(since, len(OUTBOX))})
        if path == "events":
            # EventBridge events put on any bus; ?message=<id>&wait=<s> waits for the
            # deliveries of that message's events to finish.
            of_message = request.args.get("message") or None
            wait = min(float(request.args.get("wait", "0") or 0), 300.0)
            found = (
                delivery.JOURNAL.wait(of_message, wait)
                if wait
                else delivery.JOURNAL.events(of_message)
            )
            return _json({"events": [event.to_dict() for event in found]})
        return _json({"error": f"unknown local path {path}"}, 404)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, default=str), status, mimetype="application/json")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _loopback_addresses() -> list[str]:
    """Every address "localhost" resolves to (clients may try any of them)."""
    addresses: list[str] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo("localhost", None, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if family in (socket.AF_INET, socket.AF_INET6) and address not in addresses:
            addresses.append(address)
    return addresses or ["127.0.0.1"]


class LocalCloud:
    """Start and stop the whole local cloud in this process."""

    def __init__(
        self,
        *,
        api_port: int = runtime.DEFAULT_API_PORT,
        smtp_port: int = runtime.DEFAULT_SMTP_PORT,
        region: str = runtime.DEFAULT_REGION,
        state_dir: Path | None = None,
        smtp_timeout: float = 300.0,
        async_retry_delay: float = 0.2,
        relay_smtp_port: int | None = None,
        lambda_concurrency: int = 4,
        ui_port: int | None = None,
        ui_port_fallback: bool = False,
        iam: str = "enforce",
        drain_timeout: float = 60.0,
    ) -> None:
        """
        :param relay_smtp_port: relay every message SES sends to this local SMTP port (a mail
            catcher). Default: sent mail is only kept and shown.
        :param lambda_concurrency: execution environments one function may run at once when it
            has no reserved concurrency (a local limit; docs/local-cloud.md, "Lambda execution").
        :param ui_port: serve the inbox page (``inbox``) on this port of 127.0.0.1 (0: any
            free port). Default: no page. ``ui_port_fallback``: if that port is taken, any free
            one (the page's address is printed and in ``describe``).
        :param iam: ``enforce`` (refuse what AWS refuses), ``audit`` (record it only) or ``off``
            (docs/local-cloud.md, "IAM and KMS").
        :param drain_timeout: how long ``stop`` lets accepted mail, queued events and
            deliveries finish before it ends them (what is left in the spool is processed at
            the next start).
        """
        if iam not in iam_gate.MODES:
            raise ValueError(f"iam must be one of {', '.join(iam_gate.MODES)}, got {iam!r}")
        self.iam = iam
        if lambda_concurrency < 1:
            raise ValueError(f"lambda_concurrency must be at least 1, got {lambda_concurrency}")
        self.lambda_concurrency = lambda_concurrency
        self.api_port = api_port
        self.smtp_port = smtp_port
        self.region = region
        self.state_dir = (state_dir or runtime.default_state_dir()).resolve()
        self.smtp_timeout = smtp_timeout
        self.async_retry_delay = async_retry_delay
        self._servers: list[BaseWSGIServer] = []
        self._threads: list[threading.Thread] = []
        self.smtp: Any = None
        self.receiver: Any = None
        self.relay_smtp_port = relay_smtp_port
        self._relay_remover: Any = None
        self.ui_port = ui_port
        self.ui_port_fallback = ui_port_fallback
        self.inbox: Any = None
        self.drain_timeout = drain_timeout
        self.guard: guard.Guard | None = None
        self.control_token: str | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://localhost:{self.api_port}"

    def describe(self) -> dict[str, Any]:
        return {
            "status": "running",
            "pid": os.getpid(),
            "endpoint": self.endpoint_url,
            "smtp": f"localhost:{self.smtp_port}",
            "region": self.region,
            "iam": self.iam,
            "account": runtime.ACCOUNT_ID,
            "stateDir": str(self.state_dir),
            "relaySmtp": f"localhost:{self.relay_smtp_port}" if self.relay_smtp_port else None,
            "inbox": self.inbox.url if self.inbox is not None else None,
        }

    def start(self) -> LocalCloud:
        from . import moto_ext
        from .receiving import tls
        from .receiving.receiver import Receiver
        from .receiving.smtp import SmtpServer, port_is_free

        moto_ext.install()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.smtp_port == 0:  # tests ask for any free port
            self.smtp_port = free_port()
        if not port_is_free(self.smtp_port):
            raise PortInUse(f"SMTP port {self.smtp_port} is in use")
        # The ports are taken before anything process-wide changes (the background work, the
        # IAM mode, the settings the runner reads): a start refused for a busy port leaves
        # alone whatever else runs in this process, and has nothing to stop.
        self._bind_api()
        iam_gate.set_mode(self.iam)
        lifecycle.WORK.open()
        # Nothing runs yet: whatever an earlier run left unpacked or in scratch folders goes.
        from . import lambda_environments

        lambda_environments.clean_cache(self.state_dir / "cache")
        # One log line per AWS request is noise unless asked for (start --verbose sets a level).
        for name in ("werkzeug", "mail.log"):
            if logging.getLogger(name).level == logging.NOTSET:
                logging.getLogger(name).setLevel(logging.WARNING)
        # The STARTTLS certificate before the endpoint answers (key generation takes a moment):
        # once it does, the SMTP receiver must follow at once.
        tls_context = tls.server_context()
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever,
                name=f"aws-api-{server.host}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        # Process-wide settings (the runner's AWS_ENDPOINT_URL, ResponseURLs), set once the
        # endpoint is really ours: one local cloud per process.
        runtime.configure(
            endpoint_url=self.endpoint_url,
            region=self.region,
            state_dir=self.state_dir,
            async_retry_delay=self.async_retry_delay,
            lambda_concurrency=self.lambda_concurrency,
        )
        self.receiver = Receiver(
            account_id=runtime.ACCOUNT_ID,
            region=self.region,
            spool_dir=self.state_dir / "spool",
        )
        self.receiver.start()
        if self.relay_smtp_port and self._relay_remover is None:
            self._relay_remover = self.relay_smtp(self.relay_smtp_port)
        self.smtp = SmtpServer(
            self.receiver, port=self.smtp_port, timeout=self.smtp_timeout, tls_context=tls_context
        )
        try:
            # The page first: it sees every message the SMTP server accepts.
            if self.ui_port is not None:
                from .inbox import InboxServer

                self.inbox = InboxServer(self, self.ui_port, fallback=self.ui_port_fallback).start()
                self.ui_port = self.inbox.port
            self.smtp.start()
        except Exception:
            self.stop()
            raise
        log.info(
            "local cloud: AWS endpoint %s, SMTP localhost:%d, region %s",
            self.endpoint_url,
            self.smtp_port,
            self.region,
        )
        return self

    def _bind_api(self) -> None:
        """The AWS endpoint's servers, bound on every loopback address but not serving yet, and
        the control token they require (written to the state directory once every port is
        ours); if a port is taken, nothing is left behind."""
        from .moto_ext.moto_internals import MotoRequestHandler

        token = guard.new_token()
        app = guard.Guard(LocalCloudApp(self), port=lambda: self.api_port, token=token)
        for address in _loopback_addresses():
            try:
                server = make_server(
                    address, self.api_port, app, threaded=True, request_handler=MotoRequestHandler
                )
            except (OSError, SystemExit) as exc:
                # werkzeug prints "Address already in use" and exits instead of raising.
                for bound in self._servers:
                    bound.server_close()
                self._servers.clear()
                raise PortInUse(
                    f"AWS endpoint port {self.api_port} on {address} is in use"
                ) from exc
            if self.api_port == 0:  # tests ask for any free port
                self.api_port = server.server_address[1]
            self._servers.append(server)
        guard.write_token(self.state_dir, token)
        self.control_token, self.guard = token, app

    def relay_smtp(self, port: int) -> Callable[[], None]:
        """Relay every message SES sends from now on to ``localhost:port``; returns a function
        that stops the relay."""
        return OUTBOX.on_send(relay_to(port))

    def stop(self) -> None:
        """Stop in order; once this returns nothing of the local cloud runs.

        1. no new SMTP sessions; 2. the receiver, Lambda's event queues and EventBridge
        deliveries drain while the API still answers (at most ``drain_timeout`` s; what is
        still spooled then is processed at the next start); 3. the API stops and its requests
        finish; 4. no new thread or environment starts, every environment's process group
        ends, and every thread the local cloud started is joined. Then the unpacked code and
        scratch folders are removed.
        """
        from . import lambda_async, lambda_environments

        if self.inbox is not None:
            self.inbox.stop()
            self.inbox = None
        if self.smtp is not None:
            try:
                self.smtp.stop()
            except Exception:
                log.debug("stopping SMTP failed", exc_info=True)
            self.smtp = None
        receiver = self.receiver
        if receiver is not None and not lifecycle.wait_until(
            lambda: receiver.drained() and lambda_async.pending() == 0 and delivery.pending() == 0,
            self.drain_timeout,
        ):
            log.warning(
                "stopping before all work finished (%.0f s): spooled mail is processed at the "
                "next start",
                self.drain_timeout,
            )
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()
        self._end_work(receiver)
        if self.guard is not None and not self.guard.wait_idle(5.0):
            log.warning("%d request(s) still being answered after stop", self.guard.active)
        if receiver is not None:
            receiver.stop()
            self.receiver = None
        left = lifecycle.WORK.join(10.0)
        if left:
            log.warning("still running after stop: %s", ", ".join(t.name for t in left))
        if self._relay_remover is not None:
            self._relay_remover()
            self._relay_remover = None
        lambda_environments.clean_cache(self.state_dir / "cache")
        if self.control_token is not None:
            if guard.read_token(self.state_dir) == self.control_token:
                (self.state_dir / guard.TOKEN_FILE).unlink(missing_ok=True)
            self.control_token = None

    def _end_work(self, receiver: Any) -> None:
        """No new background work; queued events dropped; every environment ended."""
        from . import lambda_async, lambda_environments

        if receiver is not None:
            receiver.stopping()
        lifecycle.WORK.close()
        dropped = lambda_async.drop_all()
        if dropped:
            log.warning("%d queued Lambda event(s) dropped", dropped)
        lambda_environments.kill_all()
        lifecycle.WORK.end_processes()

    def reset(self) -> None:
        """Forget every resource (moto's reset) and every message record, after ending what
        runs in the background (queued events, deliveries, every execution environment)."""
        from . import lambda_environments
        from .moto_ext.moto_internals import moto_api_backend

        worker = getattr(self.receiver, "_worker", None)
        self._end_work(None)
        left = lifecycle.WORK.join(10.0, keep=[worker] if worker is not None else [])
        if left:
            log.warning("still running after reset: %s", ", ".join(t.name for t in left))
        lambda_environments.clean_cache(self.state_dir / "cache")
        lifecycle.WORK.open()
        moto_api_backend.reset()
        delivery.JOURNAL.clear()
        JOURNAL.clear()
        iam_gate.JOURNAL.clear()
        iam_identities.clear()  # the environments whose keys they were are gone
        if self.receiver is not None:
            self.receiver.records.clear()
            self.receiver.bounces.clear()
        OUTBOX.clear()
        # Every message is forgotten, so is what the spool still holds (not the failed ones).
        if self.receiver is not None:
            self.receiver.forget_spool()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

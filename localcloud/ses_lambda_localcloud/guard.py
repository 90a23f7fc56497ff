"""Who may talk to the local endpoint: a WSGI wrapper in front of moto and the local paths.

The endpoint runs on the developer's machine with the developer's rights (``CreateFunction``
followed by ``Invoke`` runs code there), so no web page the developer happens to open may drive
it. Every request is checked, in this order, and refused with ``403`` and a JSON body naming
the header and the value when a check fails:

1. ``Host`` must be a loopback name (``localhost``, a ``*.localhost`` name, ``127.0.0.1`` or
   ``[::1]``) with the endpoint's own port. A page that rebinds its own DNS name to 127.0.0.1
   still sends its own name here, so DNS rebinding is refused.
2. ``Origin``, when a browser sends it, must be one of the local cloud's own origins
   (``http://localhost:<port>``, ``http://127.0.0.1:<port>``, ``http://[::1]:<port>``) or one
   another part of the local cloud added with ``Guard.allow_origin`` (a page it serves on a port
   of its own). CORS preflights (``OPTIONS`` with a foreign ``Origin``) are refused the same way,
   and moto's answer-every-origin CORS is switched off (``moto_internals.disable_global_cors``).
   Without ``Origin``, a ``Sec-Fetch-Site`` of ``cross-site`` or ``same-site`` (a page of another
   origin; browsers send it on every request) is refused too.
3. The control paths, ``/moto-api/...`` (moto's reset and state) and ``/_localcloud/...`` (what
   was received, sent and put), need the per-start token in the ``X-LocalCloud-Token`` header.
   The token is random, made at each start and written to ``<state dir>/control-token``
   (readable by the owner only), where the CLI reads it. Two local paths need no token:
   ``health`` (where the local cloud is; the CLI asks it before any token exists) and
   ``cfn-response/<token>`` (the ResponseURL custom resources answer, already unguessable).

AWS SDKs and the CDK CLI send a loopback ``Host`` and no ``Origin``, so they are not affected.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

#: The file in the state directory holding the running local cloud's control token.
TOKEN_FILE = "control-token"
#: The request header that carries it.
TOKEN_HEADER = "X-LocalCloud-Token"
_TOKEN_ENVIRON = "HTTP_" + TOKEN_HEADER.upper().replace("-", "_")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
#: Local paths that need no token (see the module's documentation).
OPEN_LOCAL_PATHS = ("/_localcloud/health", "/_localcloud/cfn-response/")


def split_host(host: str) -> tuple[str, str | None]:
    """``Host`` as (name, port or None); IPv6 literals keep their brackets."""
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return host, None
        name, rest = host[: end + 1], host[end + 1 :]
        return name, rest[1:] if rest.startswith(":") else None
    name, colon, port = host.partition(":")
    return name, port if colon else None


def host_allowed(host: str, port: int) -> bool:
    """A loopback name with the endpoint's port (no port only when the port is HTTP's 80)."""
    name, given = split_host(host.strip())
    name = name.lower()
    loopback = name in LOOPBACK_NAMES or (name.endswith(".localhost") and len(name) > 10)
    if not loopback:
        return False
    return given == str(port) if given is not None else port == 80


def own_origins(port: int) -> list[str]:
    """The origins of pages the endpoint itself serves."""
    return [f"http://{name}:{port}" for name in LOOPBACK_NAMES]


def new_token() -> str:
    """A new random control token."""
    return secrets.token_urlsafe(32)


def write_token(state_dir: Path, token: str) -> None:
    """Write ``token`` to ``<state_dir>/control-token``, readable by the owner only."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / TOKEN_FILE
    path.unlink(missing_ok=True)  # a file left by another user keeps no mode of theirs
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(token)


def read_token(state_dir: Path) -> str | None:
    """The running local cloud's token from its state directory (None when there is none)."""
    try:
        return (state_dir / TOKEN_FILE).read_text(encoding="ascii").strip() or None
    except OSError:
        return None


class Guard:
    """The checks above, wrapped around the endpoint's WSGI application."""

    def __init__(self, app: Any, *, port: Callable[[], int], token: str) -> None:
        self.app = app
        self._port = port
        self._token = token
        self._lock = threading.Lock()
        self._extra_origins: set[str] = set()
        self._active = threading.Condition()
        #: Requests being answered (``LocalCloud.stop`` waits for them).
        self.active = 0

    def allow_origin(self, origin: str) -> None:
        """Let pages of ``origin`` (``scheme://host:port``, a page the local cloud serves) call
        the endpoint. Only loopback origins may be added."""
        scheme, sep, rest = origin.partition("://")
        if scheme not in ("http", "https") or not sep or not host_allowed(rest, _port_of(rest)):
            raise ValueError(f"origin must be http(s)://<loopback name>:<port>, got {origin!r}")
        with self._lock:
            self._extra_origins.add(origin.lower())

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being answered; False if some still are after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._active:
            while self.active:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._active.wait(remaining)
        return True

    def allowed_origins(self) -> list[str]:
        with self._lock:
            extra = sorted(self._extra_origins)
        return own_origins(self._port()) + extra

    def refusal(self, environ: dict[str, Any]) -> str | None:
        """Why the request is refused, or None."""
        port = self._port()
        host = environ.get("HTTP_HOST")
        if host is None:
            return "the Host header is missing; the local cloud answers only loopback hosts"
        if not host_allowed(host, port):
            return (
                f"Host {host!r} is not a loopback name with port {port} "
                f"(allowed: {', '.join(f'{n}:{port}' for n in LOOPBACK_NAMES)})"
            )
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None:
            if origin.lower() not in self.allowed_origins():
                return (
                    f"Origin {origin!r} is not the local cloud's own; web pages of other "
                    "origins may not call the local endpoint"
                )
        else:
            site = environ.get("HTTP_SEC_FETCH_SITE")
            if site in ("cross-site", "same-site"):
                return (
                    f"Sec-Fetch-Site {site!r}: a page of another origin may not call the local "
                    "endpoint"
                )
        path = environ.get("PATH_INFO", "")
        if _is_control(path):
            given = environ.get(_TOKEN_ENVIRON, "")
            if not hmac.compare_digest(given.encode("utf-8", "replace"), self._token.encode()):
                what = "missing" if not given else "wrong"
                return (
                    f"{path} is a control path: the {TOKEN_HEADER} header is {what} (the token "
                    f"is in the state directory's {TOKEN_FILE} file)"
                )
        return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        problem = self.refusal(environ)
        if problem is None:
            with self._active:
                self.active += 1
            try:
                # moto and the local paths answer with complete bodies: counting the call
                # counts the work.
                result = self.app(environ, start_response)
                try:
                    return list(result)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
            finally:
                with self._active:
                    self.active -= 1
                    self._active.notify_all()
        body = json.dumps({"error": "Forbidden", "message": problem}).encode("utf-8")
        start_response(
            "403 Forbidden",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


def _is_control(path: str) -> bool:
    if path.startswith("/moto-api"):  # moto routes every such path to its control API
        return True
    if path.startswith("/_localcloud/"):
        return not (path == OPEN_LOCAL_PATHS[0] or path.startswith(OPEN_LOCAL_PATHS[1]))
    return False


def _port_of(host: str) -> int:
    _, given = split_host(host)
    return int(given) if given and given.isdigit() else 80

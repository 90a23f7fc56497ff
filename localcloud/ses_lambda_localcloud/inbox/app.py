"""The inbox's HTTP side: the page, its static files and the JSON API (docs/inbox.md).

Received mail is hostile input. What keeps it inert:

- the page is served on 127.0.0.1 only, answers only requests whose ``Host`` is its own
  address (a page elsewhere cannot reach it through a rebound DNS name), and accepts a change
  (POST, DELETE) only as JSON from its own origin (a form on another site can send neither);
- the page's script builds every element with ``textContent``: no mail text becomes markup;
- a message's HTML body is its own document, shown in an ``<iframe sandbox>`` without
  ``allow-scripts`` or ``allow-same-origin``, and served with a Content-Security-Policy of its
  own that runs no script, loads nothing from anywhere (``default-src 'none'``; inline styles
  and ``data:`` images only) and repeats the sandbox; remote images are allowed only when the
  reader asks (``?remote=1``, the page's "Load remote images" button), as mail clients do;
- attachments download as ``application/octet-stream`` (PNG, JPEG, GIF and WebP thumbnails
  excepted, never SVG), every response says ``nosniff`` and ``no-referrer``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Iterator
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import make_msgid
from importlib import resources
from typing import Any
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from .store import (
    INLINE_IMAGE_TYPES,
    BadRequest,
    Conflict,
    Filter,
    Inbox,
    NotFound,
    attachment_of,
    html_of,
)

log = logging.getLogger(__name__)

#: The page's own policy: its script and style files, requests to its own API, frames of its
#: own message documents; nothing else.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; frame-src 'self'; form-action 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def body_csp(remote_images: bool) -> str:
    """The policy of a message's HTML document: no script, no remote load, sandboxed."""
    images = "data: http: https:" if remote_images else "data:"
    return (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src {images}; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox"
    )


#: What a downloaded or raw document may do when opened on its own: nothing.
DOWNLOAD_CSP = "default-src 'none'; sandbox"

#: Longest wait the API grants (a long poll, or ``wait``).
MAX_WAIT_SECONDS = 300.0
#: How often an idle event stream sends a comment (keeps proxies and the browser content).
KEEPALIVE_SECONDS = 15.0
#: The largest attachment the send form takes: SES receiving's 40 MB message limit
#: (``runtime.MAX_MESSAGE_BYTES``) applies to the whole message; this leaves room for encoding.
MAX_FORM_ATTACHMENT = 25 * 1024 * 1024

_STATIC = {
    "inbox.js": "text/javascript; charset=utf-8",
    "inbox.css": "text/css; charset=utf-8",
}
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")


class InboxApp:
    def __init__(self, inbox: Inbox, *, port: int, send: Any = None) -> None:
        self.inbox = inbox
        self.port = port
        self._send = send
        self._s3: Any = None

    @property
    def origins(self) -> set[str]:
        return {f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self.guard(request) or self.route(request)
        except NotFound as missing:
            response = _json({"error": str(missing)}, 404)
        except BadRequest as bad:
            response = _json({"error": str(bad)}, 400)
        except Conflict as conflict:
            response = _json({"error": str(conflict)}, 409)
        except Exception as exc:
            log.exception("inbox request %s failed", request.path)
            response = _json({"error": f"{type(exc).__name__}: {exc}"}, 500)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        return response(environ, start_response)

    def guard(self, request: Request) -> Response | None:
        """Refuse requests not addressed to this page, and changes not made by it."""
        if f"http://{request.host}" not in self.origins:
            return _json({"error": f"the inbox answers only to 127.0.0.1:{self.port}"}, 403)
        if request.method in ("GET", "HEAD"):
            return None
        origin = request.headers.get("Origin")
        if origin is not None and origin not in self.origins:
            return _json({"error": f"requests from {origin} are not accepted"}, 403)
        if request.method != "DELETE" and request.mimetype != "application/json":
            return _json({"error": "send the request body as application/json"}, 415)
        return None

    def route(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        method = request.method
        parts = path.strip("/").split("/")
        if path == "/" and method == "GET":
            return _page()
        if parts[0] == "static" and len(parts) == 2 and parts[1] in _STATIC:
            return _static(parts[1])
        if parts[0] != "api" or len(parts) < 2:
            raise NotFound(f"nothing at {path}")
        resource, rest = parts[1], parts[2:]
        if resource == "messages":
            return self.messages(request, rest)
        if resource == "sent":
            return self.sent(request, rest)
        if resource == "wait" and not rest and method == "GET":
            return self.wait(request)
        if resource == "stream" and not rest and method == "GET":
            return self.stream()
        if resource == "send" and not rest and method == "POST":
            return self.send(request)
        if resource == "objects" and not rest and method == "GET":
            return self.object(request)
        raise NotFound(f"nothing at {method} {path}")

    # --- received mail ---------------------------------------------------------------------

    def messages(self, request: Request, rest: list[str]) -> Response:
        if not rest:
            if request.method == "DELETE":
                return _json({"deleted": self.inbox.delete_all()})
            if request.method == "GET":
                search = Filter.from_args(request.args)
                limit = _count(request.args.get("limit"), "limit")
                version = self.inbox.changes.version
                found = self.inbox.summaries(search, limit)
                return _json({"messages": found, "version": version})
        message_id = rest[0]
        if rest[1:] == ["replay"] and request.method == "POST":
            body = _json_body(request)
            return _json(self.inbox.replay(message_id, body.get("rule"), body.get("action")), 202)
        if request.method != "GET":
            raise NotFound(f"nothing at {request.method} {request.path}")
        if len(rest) == 1:
            return _json(self.inbox.detail(message_id))
        return self._content(
            request,
            rest[1:],
            raw=lambda: self.inbox.raw(message_id),
            parsed=lambda: self.inbox.parsed(message_id),
            name=message_id,
        )

    def sent(self, request: Request, rest: list[str]) -> Response:
        if request.method != "GET":
            raise NotFound(f"nothing at {request.method} {request.path}")
        if not rest:
            return _json({"sent": self.inbox.sent(), "version": self.inbox.changes.version})
        message_id = rest[0]
        if len(rest) == 1:
            return _json(self.inbox.sent_detail(message_id))
        return self._content(
            request,
            rest[1:],
            raw=lambda: self.inbox.sent_message(message_id).raw,
            parsed=lambda: self.inbox.sent_parsed(message_id),
            name=message_id,
        )

    def _content(
        self, request: Request, rest: list[str], *, raw: Any, parsed: Any, name: str
    ) -> Response:
        """``raw``, ``html`` and ``attachments/<n>`` of a received or a sent message."""
        if rest == ["raw"]:
            response = Response(raw(), 200, content_type="text/plain; charset=utf-8")
            if request.args.get("download"):
                response.headers["Content-Disposition"] = _disposition(f"{name}.eml")
            response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
            return response
        if rest == ["html"]:
            html = html_of(parsed())
            if html is None:
                raise NotFound(f"{name} has no HTML body")
            response = Response(html, 200, mimetype="text/html")
            response.headers["Content-Security-Policy"] = body_csp(
                request.args.get("remote") == "1"
            )
            response.headers["X-Frame-Options"] = "SAMEORIGIN"
            return response
        if len(rest) == 2 and rest[0] == "attachments":
            try:
                index = int(rest[1])
            except ValueError:
                raise NotFound(f"no attachment {rest[1]!r}") from None
            filename, content_type, payload = attachment_of(parsed(), index)
            inline = request.args.get("inline") == "1" and content_type in INLINE_IMAGE_TYPES
            response = Response(
                payload, 200, mimetype=content_type if inline else "application/octet-stream"
            )
            if not inline:
                response.headers["Content-Disposition"] = _disposition(filename)
            response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
            return response
        raise NotFound(f"nothing at {request.path}")

    def wait(self, request: Request) -> Response:
        """The newest finished message matching the filter; waits up to ``timeout`` seconds."""
        search = Filter.from_args(request.args)
        timeout = _seconds(request.args.get("timeout"), "timeout", default=30.0)
        found = self.inbox.wait_for(search, timeout)
        if found is None:
            return _json({"error": f"no message matched within {timeout:g} s"}, 404)
        return _json(found)

    def stream(self) -> Response:
        """Server-sent events: ``change`` (with the new version) whenever a message arrives,
        is rejected, finishes, or SES sends mail; a comment line when idle."""
        changes = self.inbox.changes

        def events() -> Iterator[str]:
            version = changes.version
            yield f"retry: 2000\nevent: change\ndata: {json.dumps({'version': version})}\n\n"
            while not changes.closed:
                latest = changes.wait_after(version, KEEPALIVE_SECONDS)
                if changes.closed:
                    return
                if latest > version:
                    version = latest
                    yield f"event: change\ndata: {json.dumps({'version': version})}\n\n"
                else:
                    yield ": idle\n\n"

        response = Response(events(), 200, mimetype="text/event-stream")
        response.headers["X-Accel-Buffering"] = "no"
        return response

    # --- the send form -----------------------------------------------------------------------

    def send(self, request: Request) -> Response:
        body = _json_body(request)
        message, recipients, mail_from = build_test_message(body)
        if self._send is None:
            raise BadRequest("this inbox cannot send (no SMTP receiver)")
        result = self._send(message, recipients, mail_from)
        status = 200 if result.message_id else 422
        return _json(
            {
                "messageId": result.message_id,
                "accepted": result.accepted,
                "rejected": result.rejected,
                "reply": result.reply,
            },
            status,
        )

    # --- objects written ---------------------------------------------------------------------

    def object(self, request: Request) -> Response:
        bucket = request.args.get("bucket") or ""
        key = request.args.get("key") or ""
        if not bucket or not key:
            raise BadRequest("give the object as ?bucket=NAME&key=KEY")
        if self._s3 is None:
            from ..target import Target

            cloud = self.inbox.cloud
            self._s3 = Target(
                api_port=cloud.api_port,
                smtp_port=cloud.smtp_port,
                region=cloud.region,
                state_dir=cloud.state_dir,
            ).client("s3")
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self._s3.exceptions.ClientError as error:
            raise NotFound(f"s3://{bucket}/{key} cannot be read: {error}") from None
        readable = key.endswith((".json", ".txt", ".eml"))
        kind = "text/plain; charset=utf-8" if readable else "application/octet-stream"
        response = Response(body, 200, content_type=kind)
        if not readable:
            response.headers["Content-Disposition"] = _disposition(key.rsplit("/", 1)[-1])
        response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
        return response


def build_test_message(body: dict[str, Any]) -> tuple[bytes, list[str], str]:
    """The send form's fields as a MIME message: ``to`` (one or more addresses, comma
    separated), ``from``, ``subject``, ``body`` (text) and an optional ``attachment``
    (``filename``, ``contentType``, ``data`` in Base64)."""
    recipients = [part.strip() for part in str(body.get("to") or "").split(",") if part.strip()]
    if not recipients:
        raise BadRequest("to: give at least one recipient address")
    for address in recipients:
        if not _ADDRESS.match(address):
            raise BadRequest(f"to: {address!r} is not an email address")
    mail_from = str(body.get("from") or "").strip() or "tester@example.org"
    if not _ADDRESS.match(mail_from):
        raise BadRequest(f"from: {mail_from!r} is not an email address")
    subject = str(body.get("subject") or "")
    if "\n" in subject or "\r" in subject:
        raise BadRequest("subject: a subject is one line")
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2])
    message.set_content(str(body.get("body") or ""))
    attachment = body.get("attachment")
    if attachment:
        if not isinstance(attachment, dict):
            raise BadRequest("attachment: an object with filename, contentType and data")
        filename = str(attachment.get("filename") or "attachment")
        content_type = str(attachment.get("contentType") or "application/octet-stream")
        maintype, _, subtype = content_type.partition("/")
        if not maintype or not subtype:
            raise BadRequest(f"attachment.contentType: {content_type!r} is not a MIME type")
        try:
            data = base64.b64decode(str(attachment.get("data") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("attachment.data: not Base64") from None
        if len(data) > MAX_FORM_ATTACHMENT:
            raise BadRequest(
                f"attachment.data: {len(data)} bytes; the form takes up to {MAX_FORM_ATTACHMENT}"
            )
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    # CRLF line ends, as SMTP carries them (RFC 5321 section 2.3.8).
    return message.as_bytes(policy=email_policy.SMTP), recipients, mail_from


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, default=str), status, mimetype="application/json")


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError:
        raise BadRequest("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _seconds(text: str | None, name: str, *, default: float) -> float:
    if text in (None, ""):
        return default
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not a number of seconds") from None
    if not 0 <= value <= MAX_WAIT_SECONDS:
        raise BadRequest(f"{name}: {value:g} is not between 0 and {MAX_WAIT_SECONDS:g}")
    return value


def _count(text: str | None, name: str) -> int | None:
    if text in (None, ""):
        return None
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not a whole number") from None
    if value < 1:
        raise BadRequest(f"{name}: {value} is less than 1")
    return value


def _disposition(filename: str) -> str:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename) or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def _page() -> Response:
    html = resources.files(__package__).joinpath("static/index.html").read_text("utf-8")
    response = Response(html, 200, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _static(name: str) -> Response:
    text = resources.files(__package__).joinpath(f"static/{name}").read_text("utf-8")
    response = Response(text, 200, content_type=_STATIC[name])
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response

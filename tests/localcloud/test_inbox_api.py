"""The inbox page's JSON API, over HTTP, against a local cloud with the test app deployed.

Mail goes in over real SMTP (STARTTLS), the test app's handler really runs; the API is read
with plain HTTP requests, as the page and a test suite would."""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ses_lambda_localcloud import sender
from ses_lambda_localcloud.inbox import InboxServer
from ses_lambda_localcloud.inbox.app import body_csp, build_test_message
from ses_lambda_localcloud.inbox.store import BadRequest, Filter
from ses_lambda_localcloud.receiving import records as store_records
from ses_lambda_localcloud.server import LocalCloud
from ses_lambda_localcloud.target import Target

from .conftest import wait_until

RECIPIENT = "support@mail.example.com"


class Api:
    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def get(self, path: str, **kwargs: Any) -> Any:
        status, _, body = self.request("GET", path, **kwargs)
        assert status == 200, (status, body)
        return json.loads(body)

    def post(self, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
        status, _, body = self.request(
            "POST",
            path,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json"},
        )
        return status, json.loads(body)


@pytest.fixture
def api(inbox: InboxServer) -> Api:
    return Api(inbox.port)


def message(subject: str, *, text: str = "hello", html: str | None = None, **extra: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Jane Doe <janedoe@example.com>"
    mail["To"] = RECIPIENT
    mail["Subject"] = subject
    for name, value in extra.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    if html is not None:
        mail.add_alternative(html, subtype="html")
    return mail.as_bytes(policy=policy.SMTP)


def deliver(target: Target, raw: bytes, recipients: list[str] | None = None) -> str:
    sent = sender.send(
        target, raw, recipients=recipients or [RECIPIENT], mail_from="janedoe@example.com"
    )
    assert sent.message_id, sent.rejected
    sender.wait_for(target, sent.message_id, timeout=30)
    return sent.message_id


def test_the_page_listens_on_127_0_0_1_only_with_its_policy(inbox: InboxServer, api: Api) -> None:
    assert inbox._server is not None and inbox._server.server_address[0] == "127.0.0.1"
    status, headers, body = api.request("GET", "/")
    assert status == 200 and b"/static/inbox.js" in body
    policy_header = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy_header and "'unsafe-inline'" not in policy_header
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, headers, body = api.request("GET", "/static/inbox.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")


def test_requests_for_another_host_or_from_another_origin_are_refused(api: Api) -> None:
    # A page elsewhere that rebinds its DNS name to 127.0.0.1 sends its own Host.
    status, _, body = api.request("GET", "/api/messages", headers={"Host": "evil.example"})
    assert status == 403, body
    status, _, body = api.request(
        "DELETE", "/api/messages", headers={"Origin": "http://evil.example"}
    )
    assert status == 403, body
    # A form on another site can only post form encodings.
    status, _, body = api.request(
        "POST",
        "/api/send",
        b"to=support%40mail.example.com",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 415, body


def test_list_newest_first_search_and_status(
    mini: None, target: Target, api: Api, cloud: LocalCloud
) -> None:
    first = deliver(target, message("first quarterly report"))
    failing = deliver(target, message("please fail", X_Test_Fail="yes"))
    rejected = sender.send(
        target, message("nobody"), recipients=["nobody@elsewhere.example"], mail_from="a@b.example"
    )
    assert rejected.message_id is None

    listed = api.get("/api/messages")["messages"]
    ids = [item["id"] for item in listed]
    assert ids.index(failing) < ids.index(first)  # newest first
    by_id = {item["id"]: item for item in listed}
    assert by_id[first]["status"] == "processed"
    assert by_id[first]["subject"] == "first quarterly report"
    assert by_id[first]["to"] == [RECIPIENT] and by_id[first]["from"] == "janedoe@example.com"
    assert by_id[first]["size"] > 0 and by_id[first]["receivedAt"]
    assert by_id[failing]["status"] == "failed"
    refused = [item for item in listed if item["status"] == "rejected"]
    assert refused and refused[0]["rejected"][0]["recipient"] == "nobody@elsewhere.example"

    found = api.get("/api/messages?q=QUARTERLY")["messages"]
    assert [item["id"] for item in found] == [first]
    failed = api.get("/api/messages?status=failed")["messages"]
    assert failing in [item["id"] for item in failed] and first not in [i["id"] for i in failed]
    assert api.get("/api/messages?q=elsewhere.example&status=rejected")["messages"]

    status, _, body = api.request("GET", "/api/messages?status=lost")
    assert status == 400 and b"status must be one of" in body and b"'lost'" in body


def test_one_message_with_its_content_and_timeline(mini: None, target: Target, api: Api) -> None:
    mail = EmailMessage()
    mail["From"] = "janedoe@example.com"
    mail["To"] = RECIPIENT
    mail["Subject"] = "with a picture"
    mail.set_content("see the attachment")
    picture = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    mail.add_attachment(picture, maintype="image", subtype="png", filename="pixel.png")
    mail.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="data.csv")
    message_id = deliver(target, mail.as_bytes(policy=policy.SMTP))

    detail = api.get(f"/api/messages/{message_id}")
    assert detail["status"] == "processed" and detail["complete"]
    content = detail["content"]
    assert content["text"].strip() == "see the attachment"
    assert ["Subject", "with a picture"] in content["headers"]
    attachments = {a["filename"]: a for a in content["attachments"]}
    assert attachments["pixel.png"]["image"] and not attachments["data.csv"]["image"]
    assert attachments["pixel.png"]["size"] == len(picture)

    kinds = [step["kind"] for step in detail["timeline"]]
    assert kinds[:3] == ["received", "rule", "action"]
    invocations = [step for step in detail["timeline"] if step["kind"] == "invocation"]
    assert invocations and invocations[0]["status"] == "ok"
    assert any("parsed" in line for line in invocations[0]["logs"])
    assert invocations[0]["durationMs"] >= 0
    objects = [step["object"] for step in detail["timeline"] if step["kind"] == "object"]
    assert {"raw/" + message_id, f"parsed/{message_id}/message.json"} <= {o["key"] for o in objects}

    # The raw source as stored (the fields SES prepends first), although the spool is empty.
    status, headers, raw = api.request("GET", f"/api/messages/{message_id}/raw")
    assert status == 200 and raw.startswith(b"Return-Path: <janedoe@example.com>")
    assert headers["Content-Type"].startswith("text/plain")
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["Subject"] == "with a picture"

    index = attachments["pixel.png"]["index"]
    status, headers, payload = api.request("GET", f"/api/messages/{message_id}/attachments/{index}")
    assert status == 200 and payload == picture
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"].startswith('attachment; filename="pixel.png"')
    status, headers, _ = api.request(
        "GET", f"/api/messages/{message_id}/attachments/{index}?inline=1"
    )
    assert headers["Content-Type"] == "image/png"

    # The object the handler wrote, through the link the timeline gives.
    parsed_key = f"parsed/{message_id}/message.json"
    link = next(o for o in objects if o["key"] == parsed_key)
    status, _, document = api.request(
        "GET", f"/api/objects?bucket={link['bucket']}&key={parsed_key}"
    )
    assert status == 200 and json.loads(document)["subject"] == "with a picture"

    status, _, body = api.request("GET", "/api/messages/no-such-id")
    assert status == 404 and b"no-such-id" in body
    status, _, body = api.request("GET", f"/api/messages/{message_id}/attachments/9")
    assert status == 404 and b"no attachment 9" in body


def test_a_failed_invocation_shows_its_error(mini: None, target: Target, api: Api) -> None:
    message_id = deliver(target, message("fail", X_Test_Fail="yes"))
    steps = api.get(f"/api/messages/{message_id}")["timeline"]
    failed = [s for s in steps if s["kind"] == "invocation" and s["status"] == "failed"]
    assert failed, steps
    assert "asked to fail" in json.dumps(failed[0]["data"]["error"])
    assert any(s["kind"] == "note" and "spool" in s["title"] for s in steps)


def test_a_failed_invocation_replays_once_the_function_is_fixed(
    mini: None, target: Target, api: Api, aws: Callable[[str], Any]
) -> None:
    message_id = deliver(target, message("replay me", X_Test_Fail="yes"))
    detail = api.get(f"/api/messages/{message_id}")
    marked = [step for step in detail["timeline"] if step.get("replay")]
    assert len(marked) == 1, detail["timeline"]
    assert marked[0]["kind"] == "invocation" and marked[0]["status"] == "failed"
    where = marked[0]["replay"]
    actions = detail["record"]["rules"][where["rule"]]["actions"]
    failed = actions[where["action"]]["detail"]
    # The event SES gave the function is kept for the replay (and not shown in the step).
    assert failed["event"]["Records"][0]["ses"]["mail"]["messageId"] == message_id
    assert "event" not in json.dumps(marked[0].get("data"))
    tried = original = len(failed["attempts"])
    path = f"/api/messages/{message_id}/replay"

    s3_index = next(i for i, action in enumerate(actions) if action["type"] == "S3")
    status, body = api.post(path, {"rule": where["rule"], "action": s3_index})
    assert status == 400 and "not a Lambda action" in body["error"], body
    status, body = api.post(path, {"rule": where["rule"], "action": "1"})
    assert status == 400 and body["error"].startswith("action:"), body
    status, body = api.post(path, {"rule": 7, "action": 0})
    assert status == 400 and "no rule 7" in body["error"], body
    status, _, raw = api.request(
        "POST", path, json.dumps(where).encode(), {"Content-Type": "text/plain"}
    )
    assert status == 415, raw

    # Replayed while still broken: Lambda's retries again, all recorded, and still replayable.
    status, body = api.post(path, where)
    assert status == 202, body
    again = wait_until(
        lambda: (found := api.get(f"/api/messages/{message_id}"))["complete"] and found,
        timeout=60,
    )
    still = again["record"]["rules"][where["rule"]]["actions"][where["action"]]
    assert still["status"] == "failed" and "asked to fail" in json.dumps(still["detail"]["error"])
    assert len(still["detail"]["attempts"]) == 2 * tried
    assert all(attempt.get("replay") for attempt in still["detail"]["attempts"][tried:])
    assert [step["replay"] for step in again["timeline"] if step.get("replay")] == [where]
    tried = len(still["detail"]["attempts"])

    # Fix the function, then replay: the same event, as a new attempt on the same action.
    functions = aws("lambda")
    arn = failed["functionArn"]
    variables = functions.get_function_configuration(FunctionName=arn)["Environment"]["Variables"]
    functions.update_function_configuration(
        FunctionName=arn,
        Environment={"Variables": {**variables, "TEST_FAIL_HEADER": "ignore"}},
    )
    try:
        status, body = api.post(path, where)
        assert status == 202 and body["replaying"], body
        replayed = wait_until(
            lambda: (found := api.get(f"/api/messages/{message_id}"))["complete"] and found,
            timeout=60,
        )
    finally:
        functions.update_function_configuration(
            FunctionName=arn, Environment={"Variables": variables}
        )
    action = replayed["record"]["rules"][where["rule"]]["actions"][where["action"]]
    assert action["status"] == "ok", action
    attempts = action["detail"]["attempts"]
    assert len(attempts) == tried + 1
    assert attempts[-1]["ok"] and attempts[-1]["replay"]
    assert not any(attempt.get("replay") for attempt in attempts[:original])
    assert "error" not in action["detail"] and "event" not in action["detail"]
    steps = replayed["timeline"]
    assert not any(step.get("replay") for step in steps)
    assert any(
        s["kind"] == "invocation" and s["status"] == "ok" and s["title"].startswith("replayed")
        for s in steps
    )
    # What the fixed function wrote.
    bucket = actions[s3_index]["detail"]["bucket"]
    status, _, document = api.request(
        "GET", f"/api/objects?bucket={bucket}&key=parsed/{message_id}/message.json"
    )
    assert status == 200 and json.loads(document)["subject"] == "replay me"
    # An action that no longer failed is not replayed again.
    status, body = api.post(path, where)
    assert status == 400 and "did not fail" in body["error"], body


def test_html_body_is_served_sandboxed_without_scripts_or_remote_loads(
    mini: None, target: Target, api: Api
) -> None:
    html = '<p>hi</p><script>alert(1)</script><img src="http://127.0.0.1:9/x.png">'
    message_id = deliver(target, message("html", html=html))
    status, headers, body = api.request("GET", f"/api/messages/{message_id}/html")
    assert status == 200 and b"<script>" in body  # served as sent: the policy disarms it
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
    assert "img-src data:;" in csp
    _, headers, _ = api.request("GET", f"/api/messages/{message_id}/html?remote=1")
    assert "img-src data: http: https:;" in headers["Content-Security-Policy"]
    assert api.get(f"/api/messages/{message_id}")["content"]["hasHtml"]


def test_wait_returns_the_next_matching_message(mini: None, target: Target, api: Api) -> None:
    subject = f"awaited {time.time_ns()}"
    sent: list[str] = []
    thread = threading.Thread(
        target=lambda: (time.sleep(0.5), sent.append(deliver(target, message(subject))))
    )
    thread.start()
    try:
        found = api.get(f"/api/wait?subject={subject.replace(' ', '+')}&timeout=30")
    finally:
        thread.join()
    assert found["id"] == sent[0] and found["finished"]

    started = time.monotonic()
    status, _, body = api.request("GET", "/api/wait?subject=never-sent&timeout=0.3")
    assert status == 404 and b"no message matched within 0.3 s" in body
    assert time.monotonic() - started < 5
    status, _, body = api.request("GET", "/api/wait?timeout=soon")
    assert status == 400 and b"timeout" in body


def test_event_stream_announces_new_mail(mini: None, target: Target, api: Api) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    connection.request("GET", "/api/stream")
    response = connection.getresponse()
    assert response.getheader("Content-Type", "").startswith("text/event-stream")

    def next_event() -> dict[str, Any]:
        lines = []
        while True:
            line = response.fp.readline().decode().rstrip("\n")
            if not line:
                if any(part.startswith("data:") for part in lines):
                    data = next(p for p in lines if p.startswith("data:"))
                    return dict(json.loads(data[5:]))
                lines = []
                continue
            lines.append(line)

    try:
        first = next_event()["version"]
        deliver(target, message("streamed"))
        assert next_event()["version"] > first
    finally:
        connection.close()


def test_send_form_sends_over_smtp_with_starttls(mini: None, target: Target, api: Api) -> None:
    status, body = api.post(
        "/api/send",
        {
            "to": RECIPIENT,
            "subject": "from the form",
            "body": "typed in the page",
            "attachment": {
                "filename": "note.txt",
                "contentType": "text/plain",
                "data": base64.b64encode(b"attached text").decode(),
            },
        },
    )
    assert status == 200, body
    message_id = body["messageId"]
    record = sender.wait_for(target, message_id, timeout=30)
    assert record["tls"] is True and record["subject"] == "from the form"
    detail = api.get(f"/api/messages/{message_id}")
    assert [a["filename"] for a in detail["content"]["attachments"]] == ["note.txt"]

    status, body = api.post("/api/send", {"to": "not an address"})
    assert status == 400 and body["error"] == "to: 'not an address' is not an email address"
    status, body = api.post("/api/send", {"to": "x@nowhere.example"})
    assert status == 422 and "x@nowhere.example" in body["rejected"]


def test_sent_mail_has_the_same_view(mini: None, target: Target, api: Api) -> None:
    ses = target.client("sesv2")
    ses.create_email_identity(EmailIdentity="mail.example.com")
    raw = message("a copy SES sends", html="<b>bold</b>")
    answer = ses.send_email(
        FromEmailAddress="support@mail.example.com",
        Destination={"ToAddresses": ["someone@example.org"]},
        Content={"Raw": {"Data": raw}},
    )
    listed = api.get("/api/sent")["sent"]
    assert listed[0]["id"] == answer["MessageId"] and listed[0]["subject"] == "a copy SES sends"
    detail = api.get(f"/api/sent/{answer['MessageId']}")
    assert detail["content"]["hasHtml"] and detail["timeline"][0]["kind"] == "sent"
    status, headers, _ = api.request("GET", f"/api/sent/{answer['MessageId']}/html")
    assert status == 200 and "sandbox" in headers["Content-Security-Policy"]


def test_delete_all_forgets_finished_mail(mini: None, target: Target, api: Api) -> None:
    message_id = deliver(target, message("to be deleted"))
    status, _, body = api.request("DELETE", "/api/messages")
    assert status == 200 and json.loads(body)["deleted"] >= 1
    assert api.get("/api/messages")["messages"] == []
    status, _, _ = api.request("GET", f"/api/messages/{message_id}/raw")
    assert status == 404


def test_start_takes_ui_port_and_no_ui() -> None:
    from ses_lambda_localcloud.cli import parser

    args = parser().parse_args(["start", "--ui-port", "8125"])
    assert args.ui_port == 8125 and not args.no_ui
    assert parser().parse_args(["start", "--no-ui"]).no_ui
    assert parser().parse_args(["start"]).ui_port is None  # 4580, or a free one if taken


def test_a_taken_port_fails_unless_it_is_the_default(cloud: LocalCloud) -> None:
    import socket

    from ses_lambda_localcloud.inbox import UiPortInUse

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UiPortInUse, match=f"inbox port {port} on 127.0.0.1 is in use"):
            InboxServer(cloud, port).start()
        server = InboxServer(cloud, port, fallback=True).start()
        try:
            assert server.port not in (0, port)
            status, _, _ = Api(server.port).request("GET", "/")
            assert status == 200
        finally:
            server.stop()


# --- properties -------------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    sender_=_text,
    recipients=st.lists(_text, max_size=3),
    subject=st.one_of(st.none(), _text),
    q=_text,
    status=st.sampled_from(["", "accepted", "processed", "failed", "bounced", "rejected"]),
    actual=st.sampled_from(["accepted", "processed", "failed", "bounced", "rejected"]),
)
def test_search_matches_what_a_reader_expects(
    sender_: str,
    recipients: list[str],
    subject: str | None,
    q: str,
    status: str,
    actual: str,
) -> None:
    summary = {"from": sender_, "to": recipients, "subject": subject, "status": actual}
    search = Filter.from_args({"q": q, "status": status})
    needle = q.strip().lower()
    fields = [sender_.lower(), (subject or "").lower(), *(r.lower() for r in recipients)]
    expected = (not status or status == actual) and (
        not needle or any(needle in field for field in fields)
    )
    assert search.matches(summary) is expected


_line = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(
    subject=_line,
    body=st.text(st.characters(blacklist_categories=("Cs",)), max_size=200),
    data=st.binary(max_size=500),
)
def test_the_form_message_carries_what_was_typed(subject: str, body: str, data: bytes) -> None:
    raw, recipients, mail_from = build_test_message(
        {
            "to": "a@example.com, b@example.com",
            "subject": subject,
            "body": body,
            "attachment": {
                "filename": "x.bin",
                "contentType": "application/octet-stream",
                "data": base64.b64encode(data).decode(),
            },
        }
    )
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert recipients == ["a@example.com", "b@example.com"] and mail_from == "tester@example.org"
    # Folding a long subject may change its white space, nothing else.
    assert str(parsed["Subject"]).split() == subject.split()
    text = parsed.get_body(("plain",))
    assert text is not None
    lines = body.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    assert text.get_content().replace("\r\n", "\n").rstrip("\n") == lines
    (attachment,) = parsed.iter_attachments()
    assert attachment.get_payload(decode=True) == data


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({}, "to: give at least one recipient address"),
        ({"to": "a@example.com", "from": "me"}, "from: 'me' is not an email address"),
        ({"to": "a@example.com", "subject": "a\nBcc: x@y.z"}, "subject: a subject is one line"),
        (
            {"to": "a@example.com", "attachment": {"data": "!!", "contentType": "text/plain"}},
            "attachment.data: not Base64",
        ),
        (
            {"to": "a@example.com", "attachment": {"data": "", "contentType": "text"}},
            "attachment.contentType: 'text' is not a MIME type",
        ),
    ],
)
def test_the_form_names_the_bad_field(payload: dict[str, Any], error: str) -> None:
    with pytest.raises(BadRequest) as raised:
        build_test_message(payload)
    assert str(raised.value) == error


def test_remote_images_need_the_explicit_switch() -> None:
    assert "http:" not in body_csp(False) and "http: https:" in body_csp(True)
    for remote in (False, True):
        assert "script-src" not in body_csp(remote) and body_csp(remote).endswith("sandbox")


def test_copies_are_bounded_like_the_records(
    mini: None, target: Target, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ses_lambda_localcloud.inbox import store

    monkeypatch.setattr(store, "KEPT_COPIES", 2)
    first, second, third = (deliver(target, message(f"copy {n}")) for n in range(3))
    assert api.request("GET", f"/api/messages/{first}/raw")[0] == 404
    for kept in (second, third):
        assert api.request("GET", f"/api/messages/{kept}/raw")[0] == 200


_actions = st.lists(
    st.builds(
        lambda kind, status: store_records.ActionRecord(kind, status),
        st.sampled_from(["S3", "Lambda", "Bounce", "SNS", "Stop"]),
        st.sampled_from(["ok", "failed", "queued", "skipped"]),
    ),
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(
    status=st.sampled_from(["queued", "processing", "done", "failed", "rejected"]),
    rules=st.lists(
        st.builds(
            lambda actions, bounced: store_records.RuleRecord(
                "r", ["a@b.example"], actions, {"to": "x"} if bounced else None
            ),
            _actions,
            st.booleans(),
        ),
        max_size=3,
    ),
    finished=st.booleans(),
    subject=st.one_of(st.none(), _text),
)
def test_the_list_summary_reads_the_record_as_its_full_copy_does(
    status: str, rules: list[Any], finished: bool, subject: str | None
) -> None:
    from ses_lambda_localcloud.inbox.store import record_summary, summary

    record = store_records.MessageRecord(
        message_id="m",
        mail_from="a@b.example",
        recipients=["c@d.example"],
        size=10,
        received_at="2026-01-01T00:00:00.000Z",
        status=status,
        subject=subject,
        rules=rules,
        rejected=[{"recipient": "e@f.example", "reply": "550"}] if status == "rejected" else [],
    )
    if finished:
        record.done.set()
    assert record_summary(record) == summary(record.to_dict())


@settings(max_examples=60, deadline=None)
@given(padding=st.integers(min_value=0, max_value=300 * 1024))
def test_a_failed_event_is_kept_only_within_its_bound(padding: int) -> None:
    from ses_lambda_localcloud.receiving.actions import REPLAY_EVENT_LIMIT_BYTES, keep_for_replay

    event = {"Records": [{"ses": {"mail": {"headers": [{"name": "X", "value": "a" * padding}]}}}]}
    size = len(json.dumps(event).encode())
    detail: dict[str, Any] = {}
    keep_for_replay(detail, event)
    if size <= REPLAY_EVENT_LIMIT_BYTES:
        assert detail == {"event": event}
    else:
        assert "event" not in detail and str(size) in detail["eventNotKept"]


@settings(max_examples=60, deadline=None)
@given(
    index=st.one_of(st.integers(), st.text(max_size=5), st.none(), st.booleans(), st.floats()),
    length=st.integers(min_value=0, max_value=5),
)
def test_a_replay_names_a_bad_index(index: Any, length: int) -> None:
    from ses_lambda_localcloud.inbox.store import _indexed

    items = list(range(length))
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < length:
        assert _indexed(items, index, "action") == index
    else:
        with pytest.raises(BadRequest, match=r"^action: ") as raised:
            _indexed(items, index, "action")
        assert repr(index) in str(raised.value) or str(index) in str(raised.value)

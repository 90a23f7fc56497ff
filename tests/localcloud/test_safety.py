"""The local cloud on a developer's machine: who may drive its endpoint, what its SMTP side
offers, that stopping leaves nothing running, and that mail answered 250 is never lost."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import smtplib
import socket
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ses_lambda_localcloud import guard, lambda_environments, lifecycle, sender
from ses_lambda_localcloud.receiving import tls
from ses_lambda_localcloud.server import LocalCloud
from ses_lambda_localcloud.target import Target

from .conftest import wait_until
from .test_receiving import ACCOUNT, DOMAIN, Setup


def request(
    cloud: LocalCloud,
    method: str,
    path: str,
    *,
    host: str | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", cloud.api_port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host or f"localhost:{cloud.api_port}")
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body or b"")))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def token_of(cloud: LocalCloud) -> dict[str, str]:
    return {guard.TOKEN_HEADER: (cloud.state_dir / guard.TOKEN_FILE).read_text()}


# --- 1. who may drive the endpoint ------------------------------------------------------------


def test_a_foreign_host_is_refused_even_with_a_signed_request(fresh: LocalCloud) -> None:
    # DNS rebinding: the page's own name resolves to 127.0.0.1, the request carries SigV4.
    signed = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/lambda/"
        "aws4_request, SignedHeaders=host, Signature=00",
        "Content-Type": "application/json",
    }
    for host in (f"attacker.example:{fresh.api_port}", "attacker.example", "localhost.evil:80"):
        status, _, body = request(
            fresh, "POST", "/2015-03-31/functions", host=host, headers=signed, body=b"{}"
        )
        assert status == 403, (host, body)
        assert host.encode() in body
    status, _, _ = request(fresh, "GET", "/", host=f"localhost:{fresh.api_port + 1}")
    assert status == 403
    for host in (f"localhost:{fresh.api_port}", f"127.0.0.1:{fresh.api_port}"):
        status, _, body = request(fresh, "GET", "/", host=host)
        assert status == 200, body  # S3 ListBuckets


def test_a_foreign_origin_is_refused_and_moto_answers_no_cors(fresh: LocalCloud) -> None:
    status, headers, body = request(
        fresh, "GET", "/", headers={"Origin": "https://attacker.example"}
    )
    assert status == 403 and b"https://attacker.example" in body
    assert "access-control-allow-origin" not in headers
    status, headers, _ = request(fresh, "GET", "/", headers={"Origin": "null"})
    assert status == 403
    # Without Origin, the browser's Sec-Fetch-Site still tells a cross-site page apart.
    status, _, _ = request(fresh, "GET", "/", headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403
    own = f"http://localhost:{fresh.api_port}"
    status, headers, _ = request(fresh, "GET", "/", headers={"Origin": own})
    assert status == 200
    assert "access-control-allow-origin" not in headers  # moto's CORS for every origin is off


def test_a_cors_preflight_from_a_web_origin_is_refused(fresh: LocalCloud) -> None:
    for path in ("/", "/moto-api/reset", "/2015-03-31/functions"):
        status, headers, _ = request(
            fresh,
            "OPTIONS",
            path,
            headers={
                "Origin": "http://attacker.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert status == 403, path
        assert not any(name.startswith("access-control-") for name in headers), headers


def test_an_added_origin_is_allowed(fresh: LocalCloud) -> None:
    assert fresh.guard is not None
    with pytest.raises(ValueError, match="attacker"):
        fresh.guard.allow_origin("http://attacker.example:8080")
    page = "http://localhost:48025"
    assert request(fresh, "GET", "/", headers={"Origin": page})[0] == 403
    fresh.guard.allow_origin(page)
    assert request(fresh, "GET", "/", headers={"Origin": page})[0] == 200


def test_control_calls_need_the_per_start_token(
    fresh: LocalCloud, aws: Callable[[str], Any], target: Target
) -> None:
    aws("s3").create_bucket(Bucket="survives-a-refused-reset")
    for method, path in (
        ("POST", "/moto-api/reset"),
        ("GET", "/moto-api/data.json"),
        ("GET", "/_localcloud/messages"),
        ("GET", "/_localcloud/sent"),
    ):
        status, _, body = request(fresh, method, path)
        assert status == 403 and guard.TOKEN_HEADER.encode() in body, path
        status, _, _ = request(fresh, method, path, headers={guard.TOKEN_HEADER: "guess"})
        assert status == 403, path
    names = [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]
    assert "survives-a-refused-reset" in names
    # The token is in the state directory, for its owner only; the CLI's client reads it.
    token_file = fresh.state_dir / guard.TOKEN_FILE
    assert token_file.stat().st_mode & 0o077 == 0
    assert request(fresh, "GET", "/_localcloud/messages", headers=token_of(fresh))[0] == 200
    assert target.local("messages")["messages"] == []
    # Health (the CLI asks it before it has a token) needs none.
    assert request(fresh, "GET", "/_localcloud/health")[0] == 200


@given(
    name=st.from_regex(r"[a-z0-9.-]{1,30}", fullmatch=True),
    port=st.integers(min_value=1, max_value=65535),
)
def test_only_loopback_names_with_the_port_are_allowed(name: str, port: int) -> None:
    loopback = name in ("localhost", "127.0.0.1") or name.endswith(".localhost")
    assert guard.host_allowed(f"{name}:{port}", port) is loopback
    assert guard.host_allowed(f"{name}:{port}", port % 65535 + 1) is False
    assert guard.host_allowed(f"[::1]:{port}", port)


# --- SMTP: a receiving MX --------------------------------------------------------------------


def test_smtp_offers_no_auth_and_no_smtputf8_and_names_ses_host(fresh: LocalCloud) -> None:
    with socket.create_connection(("127.0.0.1", fresh.smtp_port), timeout=30) as raw:
        banner = raw.makefile("rb").readline()
    assert banner.startswith(f"220 inbound-smtp.{fresh.region}.amazonaws.com ".encode()), banner
    with smtplib.SMTP("127.0.0.1", fresh.smtp_port, timeout=30) as smtp:
        smtp.ehlo("client.example.org")
        assert not smtp.has_extn("auth") and not smtp.has_extn("smtputf8")
        smtp.starttls(context=tls.client_context())
        code, banner = smtp.ehlo("client.example.org")
        assert code == 250 and banner.startswith(b"inbound-smtp.")
        assert not smtp.has_extn("auth") and not smtp.has_extn("smtputf8")
        code, reply = smtp.docmd("AUTH", "PLAIN AHVzZXIAcGFzcw==")
        assert code == 502, reply
        code, reply = smtp.docmd("MAIL", "FROM:<a@example.org> SMTPUTF8")
        assert code == 501, reply


# --- 2 and 3: stopping ------------------------------------------------------------------------

# Sleeps as long as the event says, or 4 seconds for an SES event.
SLOW = """
import time

def handler(event, context):
    time.sleep(float(event.get("sleep", 4)))
    return {}
"""


def _function(aws: Callable[[str], Any], name: str, runtime: str = "python3.13") -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", SLOW)
    role = aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]
    return str(
        aws("lambda").create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role["Arn"],
            Handler="index.handler",
            Code={"ZipFile": buffer.getvalue()},
            Timeout=30,
        )["FunctionArn"]
    )


@pytest.fixture
def restarted(cloud: LocalCloud) -> Iterator[LocalCloud]:
    """The session's local cloud, started again after the test (which stops it)."""
    drain_timeout = getattr(cloud, "drain_timeout", None)
    yield cloud
    cloud.drain_timeout = drain_timeout
    if cloud.receiver is None:
        cloud.start()
    cloud.reset()


def _children() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rpartition(")")[2].split()
            if int(fields[1]) == os.getpid() and fields[0] != "Z":
                try:
                    command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    command = "?"
                found.append(f"{entry.name}: {command}")
    return found


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def test_nothing_runs_two_seconds_after_stop_under_load(
    restarted: LocalCloud, aws: Callable[[str], Any], target: Target
) -> None:
    cloud = restarted
    cloud.reset()  # ends every environment: what runs now is not the local cloud's (jsii)
    others = set(_children())
    rx = Setup(aws, target)
    slow = _function(aws, "slow-fn")
    rx.rule("load", [rx.invoke("Event"), rx.invoke("RequestResponse")])
    lam = aws("lambda")
    lam.add_permission(
        FunctionName="slow-fn",
        StatementId="ses",
        Action="lambda:InvokeFunction",
        Principal="ses.amazonaws.com",
        SourceAccount=ACCOUNT,
    )
    rx.ses.create_receipt_rule(
        RuleSetName="rx-set",
        Rule={
            "Name": "slow",
            "Enabled": True,
            "Actions": [{"LambdaAction": {"FunctionArn": slow, "InvocationType": "Event"}}],
            "Recipients": [DOMAIN],
        },
    )
    # EventBridge deliveries to the slow function (each waits for its invocation's outcome).
    events = aws("events")
    rule_arn = events.put_rule(Name="load", EventPattern=json.dumps({"source": ["load.test"]}))
    lam.add_permission(
        FunctionName="slow-fn",
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn["RuleArn"],
    )
    events.put_targets(Rule="load", Targets=[{"Id": "slow", "Arn": slow}])
    for number in range(6):
        events.put_events(
            Entries=[{"Source": "load.test", "DetailType": "load", "Detail": f'{{"n": {number}}}'}]
        )
    message = (
        b"From: s@example.org\r\nTo: x@" + DOMAIN.encode() + b"\r\nSubject: slow load\r\n\r\nhi\r\n"
    )
    for _ in range(4):
        sent = sender.send(target, message, recipients=[f"x@{DOMAIN}"], mail_from="s@example.org")
        assert sent.message_id
    # Synchronous invocations through the API, on threads of their own, as load.
    callers = [
        threading.Thread(
            target=lambda: _quietly(
                lambda: lam.invoke(FunctionName="slow-fn", Payload=b'{"sleep": 3}')
            )
        )
        for _ in range(3)
    ]
    for caller in callers:
        caller.start()
    wait_until(lambda: lambda_environments.count()["busy"] >= 2, timeout=60)
    cloud.drain_timeout = 1.0  # stop while the work is still running
    cache = cloud.state_dir / "cache"
    cloud.stop()
    after_stop = _tree(cache)
    time.sleep(2)
    assert lifecycle.WORK.alive() == []
    assert set(_children()) - others == set()
    assert _tree(cache) == after_stop == []
    local = ("aws-api-", "ses-receiver", "lambda-", "events-", "smtp-relay")
    assert [t.name for t in threading.enumerate() if t.name.startswith(local)] == []
    for caller in callers:
        caller.join(30)


def _quietly(call: Callable[[], Any]) -> None:
    with contextlib.suppress(Exception):  # the local cloud stopped under it: that is the point
        call()


def test_accepted_mail_is_processed_exactly_once_across_stop_and_start(
    restarted: LocalCloud, aws: Callable[[str], Any], target: Target
) -> None:
    cloud = restarted
    cloud.reset()
    rx = Setup(aws, target)
    rx.rule("once", [rx.s3("once/")])
    cloud.drain_timeout = 0.5
    # Accepted but never processed (as when the process was killed): the worker is not told.
    assert cloud.receiver is not None
    cloud.receiver.stopping()  # the worker takes no further message
    cloud.receiver._queue.put(None)  # and ends
    wait_until(lambda: cloud.receiver is not None and not cloud.receiver._worker.is_alive())
    mail = b"From: s@example.org\r\nTo: a@" + DOMAIN.encode() + b"\r\nSubject: kept\r\n\r\nhi\r\n"
    sent = sender.send(target, mail, recipients=[f"a@{DOMAIN}"], mail_from="s@example.org")
    queued = sent.message_id
    assert queued and (cloud.state_dir / "spool" / f"{queued}.eml").exists()
    cloud.stop()
    cloud.start()
    record = cloud.receiver.wait(queued, timeout=60)
    assert record is not None and record.status == "done", record
    assert "replayed from the spool" in " ".join(record.notes)
    # A message processed before the stop is not processed again after the start.
    second = sender.send(target, mail, recipients=[f"a@{DOMAIN}"], mail_from="s@example.org")
    assert sender.wait_for(target, second.message_id or "", timeout=60)["status"] == "done"
    cloud.stop()
    cloud.start()
    time.sleep(0.5)
    assert second.message_id not in cloud.receiver.records
    keys = [o["Key"] for o in aws("s3").list_objects_v2(Bucket="rx-mail")["Contents"]]
    assert keys.count(f"once/{queued}") == 1 and keys.count(f"once/{second.message_id}") == 1
    assert not (cloud.state_dir / "spool" / f"{queued}.eml").exists()
    json.dumps(record.to_dict(), default=str)


# --- 5. smaller items ---------------------------------------------------------------------------


def test_ses_waits_at_most_its_limit_for_a_request_response_function(
    fresh: LocalCloud, aws: Callable[[str], Any], target: Target, monkeypatch: Any
) -> None:
    from ses_lambda_localcloud.receiving import actions

    monkeypatch.setattr(actions, "REQUEST_RESPONSE_LIMIT_SECONDS", 1.0)  # SES's 30 s, scaled
    rx = Setup(aws, target)
    slow = _function(aws, "slow-fn")
    aws("lambda").add_permission(
        FunctionName="slow-fn",
        StatementId="ses",
        Action="lambda:InvokeFunction",
        Principal="ses.amazonaws.com",
        SourceAccount=ACCOUNT,
    )
    rx.rule("slow", [{"LambdaAction": {"FunctionArn": slow, "InvocationType": "RequestResponse"}}])
    rx.rule("after", [rx.s3("after/")], after="slow")
    record = rx.send("slow one")
    lambda_detail = record["rules"][0]["actions"][0]
    assert lambda_detail["status"] == "failed"
    assert lambda_detail["detail"]["error"]["errorType"] == "RequestResponseTimeout"
    assert record["rules"][1]["actions"][0]["status"] == "ok"  # the rule set went on


def test_eventbridge_retries_back_off(monkeypatch: Any) -> None:
    from ses_lambda_localcloud.eventbridge import delivery

    pauses: list[float] = []
    monkeypatch.setattr(delivery, "_pause", lambda seconds: pauses.append(seconds) or True)

    def broken(*args: Any) -> None:
        raise RuntimeError("an emulator bug")

    monkeypatch.setattr(delivery, "_deliver_once", broken)

    class Rule:
        account_id, region_name, arn = ACCOUNT, "us-east-1", "arn:aws:events:::rule/r"

    result = delivery.TargetOutcome(id="t", arn="arn:aws:lambda:us-east-1:1:function:f")
    target = {"Arn": result.arn, "RetryPolicy": {"MaximumRetryAttempts": 12}}
    delivery._deliver_with_retries(Rule(), target, {"id": "e"}, result)
    assert result.attempts == 13 and result.status == "lost"
    assert len(pauses) == 12
    ceilings = [
        min(delivery.RETRY_CAP_SECONDS, delivery.RETRY_BASE_SECONDS * 2**i) for i in range(12)
    ]
    assert all(c / 2 <= p <= c for p, c in zip(pauses, ceilings, strict=True))
    assert pauses[-1] > pauses[0] * 8


def test_functions_without_a_digest_get_code_folders_of_their_own(tmp_path: Path) -> None:
    class Fn:
        def __init__(self, source: str) -> None:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr("index.py", source)
            self.code_bytes = buffer.getvalue()
            self.code_digest = None

    first = lambda_environments.code_dir(tmp_path, Fn("A = 1\n"))
    second = lambda_environments.code_dir(tmp_path, Fn("A = 2\n"))
    assert first != second
    assert (first / "index.py").read_text() == "A = 1\n"
    assert (second / "index.py").read_text() == "A = 2\n"


def test_a_failed_worker_start_leaks_no_descriptor(fresh: LocalCloud, tmp_path: Path) -> None:
    from ses_lambda_localcloud.lambda_interpreters import Interpreter

    class Fn:
        function_name, version = "f", "$LATEST"
        role = "arn:aws:iam::123456789012:role/f"

    missing = Interpreter(path=str(tmp_path / "no-python"), version="3.13.0", runtime="python3.13")
    environment = lambda_environments.Environment(Fn(), "print", missing)  # type: ignore[arg-type]
    environment._scratch = str(tmp_path)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with pytest.raises(OSError):
            environment.start(Fn(), {})  # type: ignore[arg-type]
    assert len(os.listdir("/proc/self/fd")) == before


def test_stop_does_not_signal_a_stale_pid(tmp_path: Path) -> None:
    import subprocess

    from ses_lambda_localcloud import target as target_module

    bystander = subprocess.Popen(["sleep", "30"])
    try:
        stale = Target(api_port=1, state_dir=tmp_path)  # nothing answers on port 1
        stale.save(bystander.pid)
        assert target_module.stop(stale) is False
        assert bystander.poll() is None  # not signalled
        assert not (tmp_path / target_module.PID_FILE).exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_the_outbox_is_bounded_and_keeps_counting() -> None:
    from ses_lambda_localcloud.outbox import OUTBOX_LIMIT, Outbox, SentMessage

    outbox = Outbox()
    fields = {"source": "a@example.org", "destinations": ["b@example.org"], "raw": b"x"}
    for number in range(OUTBOX_LIMIT + 5):
        outbox.add(SentMessage(message_id=str(number), **fields))  # type: ignore[arg-type]
    assert len(outbox) == OUTBOX_LIMIT + 5
    kept = outbox.messages(0)
    assert len(kept) == OUTBOX_LIMIT and kept[0].message_id == "5"
    assert [m.message_id for m in outbox.messages(OUTBOX_LIMIT + 3)] == [
        str(OUTBOX_LIMIT + 3),
        str(OUTBOX_LIMIT + 4),
    ]


def test_logs_and_bounces_are_bounded(
    fresh: LocalCloud, aws: Callable[[str], Any], monkeypatch: Any
) -> None:
    from ses_lambda_localcloud import lambda_runner
    from ses_lambda_localcloud.receiving import receiver as receiver_module

    monkeypatch.setattr(lambda_runner, "LOG_EVENTS_PER_STREAM", 8)
    monkeypatch.setattr(lambda_runner, "LOG_STREAMS_PER_GROUP", 2)
    name = "bounded-logs"
    _function(aws, name)
    for number in range(4):  # a new configuration each time: a new environment, a new stream
        aws("lambda").update_function_configuration(
            FunctionName=name, Environment={"Variables": {"GREETING": str(number)}}
        )
        aws("lambda").invoke(FunctionName=name, Payload=b'{"sleep": 0}')
    logs = aws("logs")
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert len(streams) == 2
    for stream in streams:
        got = logs.get_log_events(
            logGroupName=f"/aws/lambda/{name}", logStreamName=stream["logStreamName"]
        )["events"]
        assert len(got) <= 8
    monkeypatch.setattr(receiver_module, "_MAX_BOUNCES", 3)
    assert fresh.receiver is not None
    for number in range(5):
        fresh.receiver.remember_bounce({"messageId": str(number)})
    assert [b["messageId"] for b in fresh.receiver.bounces] == ["2", "3", "4"]


def test_workers_write_no_bytecode_into_the_code_folder(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    # The runtime of this interpreter: the worker runs on it natively (the Python 3.14 stage's
    # case), where the import of the handler wrote __pycache__ next to the code.
    _function(aws, "no-bytecode", runtime=f"python{sys.version_info[0]}.{sys.version_info[1]}")
    invoked = aws("lambda").invoke(FunctionName="no-bytecode", Payload=b'{"sleep": 0}')
    assert invoked["StatusCode"] == 200 and "FunctionError" not in invoked
    code = fresh.state_dir / "cache" / "code"
    assert any(code.iterdir())
    assert [p for p in code.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"] == []


def test_a_replayed_message_waits_for_the_app_to_be_deployed_again(
    restarted: LocalCloud, aws: Callable[[str], Any], target: Target
) -> None:
    cloud = restarted
    cloud.reset()
    rx = Setup(aws, target)
    rx.rule("later", [rx.s3("later/")])
    cloud.drain_timeout = 0.5
    assert cloud.receiver is not None
    cloud.receiver.stopping()
    cloud.receiver._queue.put(None)
    wait_until(lambda: cloud.receiver is not None and not cloud.receiver._worker.is_alive())
    mail = b"From: s@example.org\r\nTo: a@" + DOMAIN.encode() + b"\r\nSubject: later\r\n\r\nhi\r\n"
    sent = sender.send(target, mail, recipients=[f"a@{DOMAIN}"], mail_from="s@example.org")
    assert sent.message_id
    cloud.stop()
    cloud.reset()  # a new process: every resource is gone
    cloud.start()
    assert cloud.receiver is not None
    record = wait_until(
        lambda: (
            (r := cloud.receiver.records.get(sent.message_id or "")) and r.status == "waiting" and r
        )
    )
    assert (cloud.state_dir / "spool" / f"{sent.message_id}.eml").exists()
    rx = Setup(aws, target)  # deployed again
    rx.rule("later", [rx.s3("later/")])
    assert record.done.wait(30) and record.status == "done", record
    assert rx.object(f"later/{sent.message_id}").endswith(b"hi\r\n")

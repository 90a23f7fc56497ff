"""Forwarding end to end: SMTP in -> S3 -> the deployed forwarder -> SES send -> SMTP out, once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from ses_lambda_localcloud import assembly, report, samples, sender
from ses_lambda_localcloud.outbox import OUTBOX
from ses_lambda_localcloud.server import LocalCloud, free_port
from ses_lambda_localcloud.target import Target

from .conftest import FIXTURES, wait_until

RECIPIENT = "support@mail.example.com"
DESTINATION = "jane@mailbox.example.org"
STACK = "LocalForwarding"


class Catcher:
    """A local SMTP server that keeps what it receives (the developer's mail catcher)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.arrived.set()
        return "250 OK"


@pytest.fixture
def catcher(cloud: LocalCloud) -> Iterator[tuple[Catcher, int]]:
    handler = Catcher()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    remove = cloud.relay_smtp(port)
    yield handler, port
    remove()
    controller.stop()


@pytest.fixture
def forwarding_stack(fresh: LocalCloud, target: Target, tmp_path: Path) -> assembly.DeployResult:
    import aws_cdk as cdk

    from ses_lambda_constructs import EmailReceiver, ForwardingRoute

    app = cdk.App(outdir=str(tmp_path / "out"))
    stack = cdk.Stack(app, STACK)
    EmailReceiver(
        stack,
        "Inbound",
        domain_name="mail.example.com",
        activate_rule_set=True,
        routes=[
            ForwardingRoute(
                id="Forward",
                recipients=[RECIPIENT],
                destinations=[DESTINATION],
            )
        ],
    )
    app.synth()
    result = assembly.deploy_stack(target.client, tmp_path / "out", STACK, fresh.region)
    assert result.ok, result.failures()
    return result


def test_mail_arrives_re_sent_to_the_destination_once(
    target: Target,
    cloud: LocalCloud,
    forwarding_stack: assembly.DeployResult,
    catcher: tuple[Catcher, int],
) -> None:
    caught, port = catcher
    before = len(OUTBOX)

    # GIVEN a message sent over SMTP to a forwarding recipient
    message = samples.attachment_sample(RECIPIENT)
    sent = sender.send(target, message, recipients=[RECIPIENT], mail_from="janedoe@example.com")
    assert sent.message_id, sent.rejected
    record = sender.wait_for(target, sent.message_id, timeout=60)

    # THEN the deployed forwarder sent one copy through SES, From rewritten, Reply-To the sender
    assert record["status"] == "done", record
    lambda_action = next(
        a for rule in record["rules"] for a in rule["actions"] if a["type"] == "Lambda"
    )
    copies = lambda_action["detail"]["sent"]
    assert [c["destinations"] for c in copies] == [[DESTINATION]]
    headers = dict(copies[0]["headers"])
    assert headers["From"].endswith(f"<{RECIPIENT}>") and "via" in headers["From"]
    assert "janedoe@example.com" in headers["Reply-To"]
    assert caught.arrived.wait(10)
    (mail_from, rcpts, content) = caught.messages[0]
    assert (mail_from, rcpts) == (RECIPIENT, [DESTINATION])
    copy = message_from_bytes(content, policy=email_policy.default)
    attachments = [part.get_filename() for part in copy.iter_attachments()]  # type: ignore[attr-defined]
    assert attachments == ["report.csv"]

    # AND the report shows the whole path: SMTP in, S3, the forwarder, the SES send, the relay
    wait_until(lambda: target.local("sent")["sent"][-1]["relay"])
    lines = "\n".join(report.render(target, record, logs=False))
    assert f"SES sent {copies[0]['messageId']} to {DESTINATION} from {RECIPIENT}" in lines
    assert f"[relayed to localhost:{port}]" in lines
    assert f"/raw/{sent.message_id}" in lines
    assert f"/forwarded/{sent.message_id}/outcome.json" in lines

    # WHEN the forwarder is invoked again with the same event (a retry or a redelivery)
    function = lambda_action["detail"]["functionArn"]
    event = _event(sent.message_id)
    response = target.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event))
    assert "FunctionError" not in response, response["Payload"].read()

    # THEN nothing more is sent
    assert len(OUTBOX) - before == 1
    assert len(caught.messages) == 1
    outcome = report.parsed_outputs(target, record)
    documents = [v["json"] for k, v in outcome.items() if k.endswith("/outcome.json")]
    assert documents[0]["destinations"][DESTINATION]["status"] == "duplicate"


def _event(message_id: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / "ses-lambda-event.json").read_text())
    ses = event["Records"][0]["ses"]
    ses["mail"]["messageId"] = message_id
    ses["mail"]["destination"] = [RECIPIENT]
    ses["receipt"]["recipients"] = [RECIPIENT]
    return event


def test_the_relay_only_talks_to_this_machine() -> None:
    from ses_lambda_localcloud.outbox import relay_to

    with pytest.raises(ValueError, match=r"only talks to this machine; got host '192\.0\.2\.1'"):
        relay_to(25, host="192.0.2.1")


def test_start_takes_a_relay_port() -> None:
    from ses_lambda_localcloud import cli

    args = cli.parser().parse_args(["start", "--relay-smtp", "2526"])
    assert args.relay_smtp == 2526

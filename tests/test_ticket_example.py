"""examples/tickets.py synthesizes, and its ticket function runs a conversation on the reader."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from tests.shared_synth import synthesize_script

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "tickets.py"
EMAILS = ROOT / "tests" / "handler" / "emails" / "kinds"
KEY = b"t" * 32


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir = synthesize_script(EXAMPLE, tmp_path_factory.mktemp("tickets-out"))
    return json.loads((outdir / "TicketDesk.template.json").read_text())  # type: ignore[no-any-return]


def test_the_desk_gets_people_s_mail_and_a_queue_the_bounces(template: dict[str, Any]) -> None:
    rules = [r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    kinds = sorted(
        r["Properties"]["EventPattern"]["detail"]["conversation"]["kind"][0] for r in rules
    )
    assert kinds == ["delivery_status", "person"]
    secrets = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::SecretsManager::Secret"
    ]
    assert len(secrets) == 1


def _ticket_module() -> Any:
    source = EXAMPLE.read_text()
    code = source.split('TICKETS = """', 1)[1].split('"""', 1)[0]
    namespace: dict[str, Any] = {"__name__": "tickets_function"}
    exec(compile(code, "tickets_function", "exec"), namespace)  # the function's own code
    return namespace


def _event(name: str, recipient: str | None = None) -> dict[str, Any]:
    from handler_support import documented_event, with_receipt
    from ses_mail import (
        RawLocation,
        ReplyAddresses,
        build_document,
        build_entry,
        parse_event,
        parse_message,
        read_conversation,
    )

    event = documented_event()
    if recipient:
        event = with_receipt(event, recipients=[recipient])
    (notification,) = parse_event(event)
    parsed = parse_message((EMAILS / name).read_bytes())
    conversation = read_conversation(
        parsed, ses_message_id=notification.message_id, envelope_source=notification.source
    )
    if recipient:
        token = ReplyAddresses([KEY]).verify(recipient)
        conversation = dataclasses.replace(conversation, reply_address=token)
    document = build_document(
        notification, raw=RawLocation(), parsed=parsed, conversation=conversation
    )
    entry = build_entry(document, event_bus="bus", bucket=None, message_key=None)
    return {"source": entry["Source"], "detail-type": entry["DetailType"],
            "detail": json.loads(entry["Detail"])}  # fmt: skip


def test_a_new_ticket_is_acknowledged_and_the_reply_lands_in_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3
    from moto import mock_aws

    # the function's code runs with ses_mail importable, as the reader layer makes it
    monkeypatch.syspath_prepend(str(ROOT / "lambda_src"))
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "handler"))
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SUPPORT_ADDRESS": "support@mail.example.com",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        secret = boto3.client("secretsmanager").create_secret(
            Name="keys", SecretString=json.dumps({"current": base64.b64encode(KEY).decode()})
        )
        monkeypatch.setenv("REPLY_KEYS", secret["ARN"])
        boto3.client("sesv2").create_email_identity(EmailIdentity="mail.example.com")
        function = _ticket_module()

        opened = function["handler"](_event("person.eml"), None)
        assert opened["new"] is True and opened["acknowledged"] is True

        from ses_mail import ReplyAddresses

        reply_address = ReplyAddresses([KEY]).mint("support@mail.example.com", opened["ticket"])
        answered = function["handler"](_event("gmail-reply.eml", reply_address), None)
        assert answered == {"ticket": opened["ticket"], "new": False}

        out_of_office = function["handler"](_event("gmail-vacation.eml"), None)
        assert out_of_office["acknowledged"] is False
        assert "auto_reply" in out_of_office["why"]

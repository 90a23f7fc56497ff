"""examples/consumer.py synthesizes, and its function runs on the reader layer it is given."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.shared_synth import synthesize_script

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "consumer.py"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    outdir = synthesize_script(EXAMPLE, tmp_path_factory.mktemp("consumer-out"))
    return outdir, json.loads((outdir / "InvoiceInbox.template.json").read_text())


def resources(template: dict[str, Any], type_: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def test_consumer_example_synthesizes_its_subscriptions(
    synthesized: tuple[Path, dict[str, Any]],
) -> None:
    _, template = synthesized
    rules = resources(template, "AWS::Events::Rule")
    patterns = sorted(
        json.dumps(r["Properties"]["EventPattern"], sort_keys=True) for r in rules.values()
    )
    assert len(patterns) == 2
    invoices = next(
        json.loads(p) for p in patterns if "Email Received" in p
    )  # the function's subscription
    assert invoices["detail"] == {
        "envelope": {
            "recipients": [
                "invoices@billing.example.com",
                {"wildcard": "invoices+*@billing.example.com"},
            ]
        },
        "headers": {"subject": [{"prefix": "Invoice"}]},
    }
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert "DeadLetterConfig" in target and "RetryPolicy" in target
    (layer_id,) = resources(template, "AWS::Lambda::LayerVersion")
    function = next(
        f
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Layers") == [{"Ref": layer_id}]
    )
    assert "from ses_mail.reader import ReceivedEmail" in function["Properties"]["Code"]["ZipFile"]


def test_consumer_function_runs_on_the_reader_layer(
    synthesized: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    # GIVEN the layer as synthesized and the example's function code
    outdir, template = synthesized
    ((_, layer),) = resources(template, "AWS::Lambda::LayerVersion").items()
    layer_dir = outdir / f"asset.{layer['Properties']['Content']['S3Key'].removesuffix('.zip')}"
    code = next(
        node.value.value
        for node in ast.parse(EXAMPLE.read_text()).body
        if isinstance(node, ast.Assign)
        and getattr(node.targets[0], "id", "") == "INVOICES"
        and isinstance(node.value, ast.Constant)
    )
    (tmp_path / "index.py").write_text(code)
    event = eventbridge_event()
    sys.path.insert(0, str(ROOT / "lambda_src"))
    try:
        from ses_mail import load_detail_schema
    finally:
        sys.path.remove(str(ROOT / "lambda_src"))
    jsonschema.validate(event["detail"], load_detail_schema())

    # WHEN it is invoked with only its own code and the layer's python/ on the path
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys; sys.path[:0] = sys.argv[1:3]; import index; "
            "print(json.dumps(index.handler(json.loads(sys.stdin.read()), None)))",
            str(tmp_path),
            str(layer_dir / "python"),
        ],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": "", "AWS_DEFAULT_REGION": "eu-west-1"},
        timeout=60,
    )

    # THEN the typed reader came from the layer and read the event
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "deliveryId": "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1/0f1e2d3c4b5a6978",
        "messageId": "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1",
        "subject": "Invoice 2026-114",
        "chars": 19,
    }


def eventbridge_event() -> dict[str, Any]:
    """An "Email Received" event as the reference handler puts it (schema 2.0)."""
    message_id = "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"
    return {
        "version": "0",
        "id": "2d1ef6c4-0f5a-4f3e-9d1b-6c0a3e1b7f21",
        "detail-type": "Email Received",
        "source": "ses-lambda-constructs",
        "account": "111122223333",
        "time": "2026-12-01T10:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "schemaVersion": "2.0",
            "messageId": message_id,
            "deliveryId": f"{message_id}/0f1e2d3c4b5a6978",
            "receivedAt": "2026-12-01T10:00:00.000Z",
            "status": "processed",
            "envelope": {
                "source": "accounts@supplier.example",
                "recipients": ["invoices@billing.example.com"],
                "destination": ["invoices@billing.example.com"],
            },
            "verdicts": {
                "spam": "PASS",
                "virus": "PASS",
                "spf": "PASS",
                "dkim": "PASS",
                "dmarc": "PASS",
                "dmarcPolicy": None,
                "rejection": None,
            },
            "headers": {
                "from": [{"name": "Accounts", "address": "accounts@supplier.example"}],
                "to": [{"name": "", "address": "invoices@billing.example.com"}],
                "cc": [],
                "replyTo": [],
                "subject": "Invoice 2026-114",
                "date": "Tue, 1 Dec 2026 10:00:00 +0000",
                "dateIso": "2026-12-01T10:00:00+00:00",
                "messageId": "<invoice-114@supplier.example>",
                "inReplyTo": None,
                "references": [],
            },
            "text": {"content": "Please find it here", "truncated": False, "size": 19},
            "html": None,
            "attachments": [],
            "location": {
                "bucket": "billing-inbound-bucket",
                "messageKey": f"parsed/{message_id}/0f1e2d3c4b5a6978/message.json",
                "rawKey": f"raw/{message_id}",
            },
            "truncated": False,
            "error": None,
            "conversation": {
                "kind": "person",
                "threadId": "0c5f4a3b2e1d0f9a8b7c6d5e4f3a2b1c",
                "replyText": "Please find it here",
                "replySignature": None,
                "deliveryStatus": None,
                "feedbackType": None,
                "listId": None,
                "replyAddress": None,
            },
        },
    }

"""The verdict gate, and the layout contract of lambda_src (imports, requirements, entry points)."""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import gate
import pytest
from handler_support import LAMBDA_SRC, FakeLambdaContext, documented_event, sns_event, with_receipt
from ses_mail import InvalidEventError


@pytest.fixture
def gate_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    log_handler = gate.logger.registered_handler
    previous = log_handler.setStream(stream)
    yield stream
    log_handler.setStream(previous)


def gate_event(**receipt: Any) -> dict[str, Any]:
    action = {
        "type": "Lambda",
        "invocationType": "RequestResponse",
        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:gate",
    }
    return with_receipt(documented_event(), action=action, **receipt)


@pytest.mark.parametrize(
    ("reject_on", "receipt", "expected"),
    [
        (None, {}, "CONTINUE"),
        (None, {"spamVerdict": {"status": "FAIL"}}, "STOP_RULE_SET"),
        (None, {"virusVerdict": {"status": "FAIL"}}, "STOP_RULE_SET"),
        (None, {"dkimVerdict": {"status": "FAIL"}}, "CONTINUE"),
        (
            "dkim,dmarc",
            {"dmarcVerdict": {"status": "FAIL"}, "dmarcPolicy": "quarantine"},
            "STOP_RULE_SET",
        ),
        ("", {"spamVerdict": {"status": "FAIL"}}, "CONTINUE"),
    ],
)
def test_gate_answers_ses_with_the_disposition(
    monkeypatch: pytest.MonkeyPatch,
    gate_logs: io.StringIO,
    reject_on: str | None,
    receipt: dict[str, Any],
    expected: str,
) -> None:
    if reject_on is None:
        monkeypatch.delenv("REJECT_ON_VERDICTS", raising=False)
    else:
        monkeypatch.setenv("REJECT_ON_VERDICTS", reject_on)

    result = gate.lambda_handler(gate_event(**receipt), FakeLambdaContext())

    assert result == {"disposition": expected}
    (record,) = [json.loads(line) for line in gate_logs.getvalue().splitlines()]
    assert record["correlation_id"] == "o3vrnil0e2ic28tr"
    assert record["disposition"] == expected
    assert "janedoe@example.com" not in gate_logs.getvalue()


def test_gate_reads_sns_wrapped_events_too(gate_logs: io.StringIO) -> None:
    event = sns_event(with_receipt(documented_event(), spamVerdict={"status": "FAIL"}))
    assert gate.lambda_handler(event, FakeLambdaContext()) == {"disposition": "STOP_RULE_SET"}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_gate_fails_on_a_malformed_event(gate_logs: io.StringIO) -> None:
    with pytest.raises(InvalidEventError, match=r"Records\[0\]"):
        gate.lambda_handler({"Records": [{"eventSource": "aws:ses"}]}, FakeLambdaContext())


def _imports(path: Any) -> list[ast.stmt]:
    tree = ast.parse(path.read_text())
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def test_core_uses_only_relative_imports_of_itself_and_no_third_party_code() -> None:
    allowed_absolute = set(sys.stdlib_module_names)
    for path in sorted((LAMBDA_SRC / "ses_mail").glob("*.py")):
        for node in _imports(path):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                continue
            names = (
                [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            )
            for name in names:
                assert name is not None
                top = name.split(".")[0]
                assert top in allowed_absolute or top == "__future__", f"{path.name} imports {name}"
                assert top != "ses_mail", f"{path.name}: use a relative import"


def test_lambda_src_package_marker_is_empty_and_requirements_are_pinned() -> None:
    assert (LAMBDA_SRC / "__init__.py").read_text() == ""
    direct = [
        line
        for line in (LAMBDA_SRC / "requirements.in").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    # boto3 comes with the runtime; the lock (requirements.txt, with hashes) is tested with the
    # release checks, the versions against the test environment's in tests/test_shared_limits.py
    assert [line.split("==")[0] for line in direct] == [
        "aws-lambda-powertools",
        "mail-parser-reply",
    ]
    assert all(line.count("==") == 1 for line in direct)


def test_schema_ships_inside_the_core_package() -> None:
    schema = json.loads((LAMBDA_SRC / "ses_mail" / "message.schema.json").read_text())
    assert schema["properties"]["schemaVersion"] == {"const": 2}


def test_importing_the_handler_creates_no_client_and_makes_no_call() -> None:
    # A fresh interpreter with no credentials and no network: importing must still work, fast.
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); "
        "import handler; elapsed = time.perf_counter() - t; "
        "assert handler.s3_client.cache_info().currsize == 0; "
        "print(round(elapsed, 3))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(LAMBDA_SRC)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr

"""The rule-set custom resource's handler, run against moto's SES with a real HTTP response URL."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

PROVIDER = (
    Path(__file__).resolve().parents[2] / "ses_lambda_constructs/custom_resources/rule_set/index.py"
)


class ResponseSink:
    """A localhost HTTP server standing in for CloudFormation's pre-signed response URL."""

    def __init__(self) -> None:
        self.responses: list[dict[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.responses.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/response"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def sink() -> Iterator[ResponseSink]:
    server = ResponseSink()
    yield server
    server.server.shutdown()


@pytest.fixture
def provider() -> Iterator[tuple[ModuleType, Any]]:
    with mock_aws():
        spec = importlib.util.spec_from_file_location("rule_set_provider", PROVIDER)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        client = boto3.client("ses", region_name="us-east-1")
        for name in ("ours", "theirs"):
            client.create_receipt_rule_set(RuleSetName=name)
        yield module, client


def call(module: ModuleType, sink: ResponseSink, request_type: str, **props: str) -> dict[str, Any]:
    event = {
        "RequestType": request_type,
        "ResponseURL": sink.url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        "RequestId": "r1",
        "LogicalResourceId": "Activation",
        "PhysicalResourceId": f"activation:{props.get('RuleSetName', '')}",
        "ResourceProperties": props,
    }
    module.handler(event, None)
    return sink.responses[-1]


def active(client: Any) -> str | None:
    return (client.describe_active_receipt_rule_set().get("Metadata") or {}).get("Name")


def test_activates_when_no_set_is_active(provider: Any, sink: ResponseSink) -> None:
    module, client = provider
    response = call(
        module, sink, "Create", Action="activate", RuleSetName="ours", ReplaceActive="false"
    )
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == "activation:ours"
    assert active(client) == "ours"


def test_refuses_to_replace_another_active_set(provider: Any, sink: ResponseSink) -> None:
    module, client = provider
    client.set_active_receipt_rule_set(RuleSetName="theirs")
    response = call(
        module, sink, "Create", Action="activate", RuleSetName="ours", ReplaceActive="false"
    )
    assert response["Status"] == "FAILED"
    assert "'theirs' is active" in response["Reason"]
    assert "replace_active_rule_set=True" in response["Reason"]
    assert active(client) == "theirs"


def test_replaces_another_active_set_when_asked(provider: Any, sink: ResponseSink) -> None:
    module, client = provider
    client.set_active_receipt_rule_set(RuleSetName="theirs")
    response = call(
        module, sink, "Update", Action="activate", RuleSetName="ours", ReplaceActive="true"
    )
    assert response["Status"] == "SUCCESS"
    assert response["Data"] == {"RuleSetName": "ours", "PreviouslyActive": "theirs"}
    assert active(client) == "ours"


def test_delete_deactivates_only_its_own_set(provider: Any, sink: ResponseSink) -> None:
    module, client = provider
    client.set_active_receipt_rule_set(RuleSetName="theirs")
    assert (
        call(module, sink, "Delete", Action="activate", RuleSetName="ours")["Status"] == "SUCCESS"
    )
    assert active(client) == "theirs"
    client.set_active_receipt_rule_set(RuleSetName="ours")
    assert (
        call(module, sink, "Delete", Action="activate", RuleSetName="ours")["Status"] == "SUCCESS"
    )
    assert active(client) is None


def test_describe_active_returns_the_name(provider: Any, sink: ResponseSink) -> None:
    module, client = provider
    client.set_active_receipt_rule_set(RuleSetName="theirs")
    response = call(module, sink, "Create", Action="describe-active")
    assert response["Status"] == "SUCCESS"
    assert response["Data"] == {"RuleSetName": "theirs"}


def test_describe_active_fails_clearly_when_none_is_active(
    provider: Any, sink: ResponseSink
) -> None:
    module, _ = provider
    response = call(module, sink, "Create", Action="describe-active")
    assert response["Status"] == "FAILED"
    assert "no receipt rule set is active" in response["Reason"]


def test_unknown_action_fails_naming_it(provider: Any, sink: ResponseSink) -> None:
    module, _ = provider
    response = call(module, sink, "Create", Action="explode")
    assert response["Status"] == "FAILED"
    assert "Action must be 'activate' or 'describe-active', got 'explode'" in response["Reason"]

"""Security properties: cdk-nag clean, no wildcard actions, confused-deputy conditions everywhere."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

import app as demo_app
from ses_lambda_constructs.hardening import VPC_ACCESS_ACTIONS
from tests.infra.conftest import NAG_PACKS, add_packs, only

#: What the default configuration is held to; the hardened one is held to all five.
DEFAULT_PACKS = ("AwsSolutions", "Serverless")


def nag(app: cdk.App, packs: Sequence[str] = tuple(NAG_PACKS)) -> tuple[str | None, dict[str, Any]]:
    """Synthesize ``app`` under ``packs``: (the failure report or None, templates by stack)."""
    add_packs(app, packs)
    try:
        assembly = app.synth()
    except RuntimeError as error:
        return str(error), {}
    return None, {stack.stack_name: stack.template for stack in assembly.stacks}


def test_every_pack_reports_its_planted_finding() -> None:
    # Controls: each pack must really run, or the clean results below would mean nothing. A
    # plain bucket and a plain function break a rule of every pack.
    app = cdk.App()
    stack = cdk.Stack(app, "Control")
    s3.Bucket(stack, "Plain")
    lambda_.Function(
        stack,
        "PlainFunction",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )
    failure, _ = nag(app)
    assert failure is not None
    for rule in (
        "AwsSolutions-S10",
        "Serverless-LambdaTracing",
        "HIPAA.Security-LambdaInsideVPC",
        "NIST.800.53.R5-S3BucketVersioningEnabled",
        "PCI.DSS.321-S3DefaultEncryptionKMS",
    ):
        assert rule in failure, rule


@pytest.fixture(scope="module")
def nagged_templates(
    hardened_demo_synth: dict[str, Any], all_options_synth: dict[str, Any]
) -> dict[str, Any]:
    """The default demo under its two packs; the hardened demo and all-options under all five."""
    context = {"hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com"}
    failure, templates = nag(demo_app.build_app(cdk.App(context=context)), DEFAULT_PACKS)
    assert failure is None, failure
    # the hardened demo and all-options carry all five packs from their session fixtures
    for synthesized in (hardened_demo_synth, all_options_synth):
        templates.update(synthesized["templates"])
    return templates


def test_demo_and_all_options_stacks_have_no_unacknowledged_findings(
    nagged_templates: dict[str, Any],
) -> None:
    assert set(nagged_templates) == {"SesLambdaDemo", "SesLambdaDemoHardened", "AllOptions"}


def test_every_acknowledgment_carries_a_reason(nagged_templates: dict[str, Any]) -> None:
    found = 0
    for template in nagged_templates.values():
        for resource in template["Resources"].values():
            for rule in (
                resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
            ):
                found += 1
                assert len(rule.get("reason", "")) >= 40, rule
    assert found >= 4


def statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        documents = [props.get("PolicyDocument")]
        documents += [p.get("PolicyDocument") for p in props.get("Policies", [])]
        for document in documents:
            for statement in (document or {}).get("Statement", []):
                yield logical_id, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_allow_statement_has_a_wildcard_action(
    demo_template: Template, all_options_template: Template
) -> None:
    for template in (demo_template.to_json(), all_options_template.to_json()):
        for logical_id, statement in statements(template):
            if statement["Effect"] == "Allow":
                for action in as_list(statement["Action"]):
                    assert "*" not in action, f"{logical_id} allows {action}"


def test_every_service_principal_grant_has_account_and_source_conditions(
    demo_template: Template, all_options_template: Template
) -> None:
    checked = 0
    for template in (demo_template.to_json(), all_options_template.to_json()):
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::Lambda::Permission":
                assert {"SourceAccount", "SourceArn"} <= set(resource["Properties"]), logical_id
                checked += 1
        for logical_id, statement in statements(template):
            principal = statement.get("Principal")
            service = principal.get("Service") if isinstance(principal, dict) else None
            if (
                statement["Effect"] != "Allow"
                or service is None
                or statement.get("Action") == "sts:AssumeRole"
            ):
                continue
            keys = {
                key for condition in statement.get("Condition", {}).values() for key in condition
            }
            if str(service).startswith("logs."):
                # CloudWatch Logs' documented guard on a key: the log group in the encryption
                # context, an ARN that names this account and region.
                assert "kms:EncryptionContext:aws:logs:arn" in keys, (logical_id, statement)
            else:
                assert {"aws:SourceAccount", "aws:SourceArn"} <= keys, (logical_id, statement)
            checked += 1
    assert checked >= 5


def test_handler_may_not_touch_other_prefixes(all_options_template: Template) -> None:
    template = all_options_template.to_json()
    s3_resources = [
        str(statement["Resource"])
        for logical_id, statement in statements(template)
        # S3's own replication role reads and writes whole buckets by design
        if "ReplicationRole" not in logical_id
        and statement["Effect"] == "Allow"
        and any(str(a).startswith("s3:") for a in as_list(statement["Action"]))
        and (statement.get("Principal") is None)
    ]
    assert s3_resources, "expected the handler's S3 grants"
    for resource in s3_resources:
        assert (
            "/raw/*" in resource
            or "/parsed/*" in resource
            or "s3:prefix" in resource
            or resource.endswith("'Arn']}")
        ), resource


def test_raw_and_parsed_mail_outlive_the_stack(all_options_template: Template) -> None:
    for type_ in ("AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::SQS::Queue"):
        for logical_id, resource in all_options_template.find_resources(type_).items():
            assert resource.get("DeletionPolicy") == "Retain", (type_, logical_id)


def test_failed_events_go_to_an_encrypted_queue_with_alarms(all_options_template: Template) -> None:
    queues = all_options_template.find_resources("AWS::SQS::Queue")
    assert len(queues) == 1
    queue_id, queue = next(iter(queues.items()))
    # the hardened all-options receiver encrypts it with its customer managed key
    assert queue["Properties"]["KmsMasterKeyId"] == {
        "Fn::GetAtt": [only(all_options_template, "AWS::KMS::Key")[0], "Arn"]
    }
    all_options_template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 1,
            "MaximumEventAgeInSeconds": 3600,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}},
        },
    )
    alarms = all_options_template.find_resources("AWS::CloudWatch::Alarm")
    metrics = sorted(a["Properties"]["MetricName"] for a in alarms.values())
    assert metrics == ["ApproximateNumberOfMessagesVisible", "Errors", "Throttles"]
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [
            "arn:aws:sns:eu-west-1:111122223333:ops-alarms"
        ]


def test_verdict_gate_runs_first_for_every_route_recipient(all_options_template: Template) -> None:
    rules = all_options_template.find_resources("AWS::SES::ReceiptRule")
    gate_id, gate = next((k, r) for k, r in rules.items() if "After" not in r["Properties"])
    gate_rule = gate["Properties"]["Rule"]
    assert gate_rule["Recipients"] == ["support@mail.example.com", "sales@mail.example.com"]
    assert gate_rule["ScanEnabled"] is True
    (action,) = gate_rule["Actions"]
    assert action["LambdaAction"]["InvocationType"] == "RequestResponse"
    function_id = action["LambdaAction"]["FunctionArn"]["Fn::GetAtt"][0]
    function = all_options_template.to_json()["Resources"][function_id]
    assert function["Properties"]["Handler"] == "gate.lambda_handler"
    assert function["Properties"]["Environment"]["Variables"] == {
        "REJECT_ON_VERDICTS": "spam,virus,dmarc"
    }
    # every other rule comes after the gate, directly or through the chain
    after = {k: r["Properties"].get("After", {}).get("Ref") for k, r in rules.items()}
    first_route = next(k for k, ref in after.items() if ref == gate_id)
    assert rules[first_route]["Properties"]["Rule"]["Name"] == "support"
    # the gate's function can read no bucket
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = all_options_template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}}
    )
    actions = {
        a
        for p in policies.values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        for a in as_list(s["Action"])
    }
    # logs, tracing, and attaching to the VPC: nothing else
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        *VPC_ACCESS_ACTIONS,
    }

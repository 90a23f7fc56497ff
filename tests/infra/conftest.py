"""Fixtures for construct tests: shared stacks synthesized and linted once per test run (whichever
xdist worker asks first; see tests/shared_synth.py), every template linted."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_ses_actions as ses_actions
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

import app as demo_app
from ses_lambda_constructs import EmailReceiver, FunctionHardening, Route, Verdict
from tests.infra.lint import assert_cfn_lint_clean
from tests.shared_synth import shared_json

ACCOUNT_ENV = cdk.Environment(account="111122223333", region="eu-west-1")


def synth(stack: cdk.Stack) -> Template:
    """The template of ``stack``, checked by cfn-lint."""
    template = Template.from_stack(stack)
    assert_cfn_lint_clean(template.to_json(), name=stack.stack_name)
    return template


def make_stack(env: cdk.Environment | None = ACCOUNT_ENV, **context: Any) -> cdk.Stack:
    app = cdk.App(context={"@aws-cdk/core:enablePartitionLiterals": True, **context})
    return cdk.Stack(app, "TestStack", env=env)


def shared_app(
    tmp_path_factory: pytest.TempPathFactory, name: str, stack: Callable[[], cdk.Stack]
) -> dict[str, Any]:
    """The app of ``stack()`` synthesized once per test run (its validation plugins run then)
    and the stack's template linted: ``{"stack": its name, "templates": {every stack's name:
    template}}``."""

    def build() -> dict[str, Any]:
        built = stack()
        assembly = built.node.root.synth()  # type: ignore[attr-defined]
        templates = {artifact.stack_name: artifact.template for artifact in assembly.stacks}
        assert_cfn_lint_clean(templates[built.stack_name], name=built.stack_name)
        return {"stack": built.stack_name, "templates": templates}

    built: dict[str, Any] = shared_json(tmp_path_factory, name, build)
    return built


def shared(
    tmp_path_factory: pytest.TempPathFactory, name: str, stack: Callable[[], cdk.Stack]
) -> Template:
    """The template of ``stack()``, synthesized and linted once per test run."""
    built = shared_app(tmp_path_factory, name, stack)
    return Template.from_json(built["templates"][built["stack"]])


def demo_stack() -> cdk.Stack:
    app = demo_app.build_app(
        cdk.App(context={"hostedZoneId": "Z0123456789ABCDEFGHIJ", "hostedZoneName": "example.com"})
    )
    stack = app.node.find_child("SesLambdaDemo")
    assert isinstance(stack, cdk.Stack)
    return stack


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return shared(tmp_path_factory, "demo", demo_stack)


def demo_without_zone_stack() -> cdk.Stack:
    app = demo_app.build_app(cdk.App(context={"activateRuleSet": "false"}))
    stack = app.node.find_child("SesLambdaDemo")
    assert isinstance(stack, cdk.Stack)
    return stack


@pytest.fixture(scope="session")
def demo_without_zone_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return shared(tmp_path_factory, "demo-without-zone", demo_without_zone_stack)


def multi_route_stack() -> cdk.Stack:
    """Two routes: the reference handler (async) and a user function (sync, no storage)."""
    stack = make_stack()
    zone = route53.PublicHostedZone.from_public_hosted_zone_attributes(
        stack, "Zone", hosted_zone_id="Z0123456789ABCDEFGHIJ", zone_name="example.com"
    )
    own = lambda_.Function(
        stack,
        "OwnFunction",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )
    EmailReceiver(
        stack,
        "Receiver",
        domain_name="inbound.mail.example.com",
        hosted_zone=zone,
        mail_from_subdomain="bounce",
        rule_set_name="test-rules",
        routes=[
            Route(id="Support", rule_name="support", recipients=["support@example.com"]),
            Route(
                id="Replies",
                rule_name="replies",
                recipients=["example.net", ".example.org"],
                function=own,
                invocation_type=ses_actions.LambdaInvocationType.REQUEST_RESPONSE,
                store_raw_message=False,
                extra_actions=[ses_actions.Stop()],
            ),
        ],
        raw_message_expiration=cdk.Duration.days(30),
    )
    return stack


@pytest.fixture(scope="session")
def multi_route_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return shared(tmp_path_factory, "multi-route", multi_route_stack)


def only(
    template: Template, type_: str, props: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """The single resource of ``type_`` (matching ``props``), as (logical id, definition)."""
    found = template.find_resources(type_, {"Properties": props} if props else None)
    assert len(found) == 1, f"expected one {type_}, found {json.dumps(found, indent=1)[:2000]}"
    return next(iter(found.items()))


Build = Callable[..., cdk.Stack]


def all_options_app() -> tuple[cdk.App, cdk.Stack]:
    """A hardened receiver with every option turned on, in an app of its own."""
    app = cdk.App(
        context={
            "@aws-cdk/core:enablePartitionLiterals": True,
            "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
            # what the CDK would look up for the VPC
            "availability-zones:account=111122223333:region=eu-west-1": [
                "eu-west-1a",
                "eu-west-1b",
                "eu-west-1c",
            ],
        }
    )
    stack = cdk.Stack(app, "AllOptions", env=ACCOUNT_ENV)
    support = demo_app.HardenedSupport(stack, "Hardened")
    zone = route53.PublicHostedZone.from_public_hosted_zone_attributes(
        stack, "Zone", hosted_zone_id="Z0123456789ABCDEFGHIJ", zone_name="example.com"
    )
    topic = sns.Topic.from_topic_arn(
        stack, "Alarms", "arn:aws:sns:eu-west-1:111122223333:ops-alarms"
    )
    receiver = EmailReceiver(
        stack,
        "Receiver",
        domain_name="mail.example.com",
        hosted_zone=zone,
        mail_from_subdomain="bounce",
        rule_set_name="all-options",
        activate_rule_set=True,
        replace_active_rule_set=True,
        raw_message_expiration=cdk.Duration.days(30),
        reject_on_verdicts=[Verdict.SPAM, Verdict.VIRUS, Verdict.DMARC],
        alarm_topic=topic,
        retry_attempts=1,
        max_event_age=cdk.Duration.hours(1),
        verdict_gate=True,
        hardened=True,
        encryption_key=support.key,
        function_hardening=support.network.function_hardening(
            FunctionHardening(reserved_concurrency=5, log_retention=logs.RetentionDays.ONE_YEAR)
        ),
        server_access_logs_bucket=support.access_logs,
        replication_destination=support.replica,
        replication_key=support.key,
        routes=[Route(id="Support", rule_name="support", recipients=["support@mail.example.com"])],
    )
    receiver.add_route(
        Route(
            id="Sales",
            rule_name="sales",
            recipients=["sales@mail.example.com"],
            invocation_type=ses_actions.LambdaInvocationType.REQUEST_RESPONSE,
            extra_actions=[ses_actions.Stop()],
        )
    )
    return app, stack


#: The five cdk-nag packs, by the prefix of their rule ids.
NAG_PACKS: dict[str, Callable[..., cdk.IPolicyValidationPluginBeta1]] = {
    "AwsSolutions": cdk_nag.AwsSolutionsChecks,
    "Serverless": cdk_nag.ServerlessChecks,
    "HIPAA.Security": cdk_nag.HIPAASecurityChecks,
    "NIST.800.53.R5": cdk_nag.NIST80053R5Checks,
    "PCI.DSS.321": cdk_nag.PCIDSS321Checks,
}


def add_packs(app: cdk.App, packs: Sequence[str] = tuple(NAG_PACKS)) -> None:
    """Attach cdk-nag packs (by rule-id prefix) to ``app``; its synth then fails on findings."""
    cdk.Validations.of(app).add_plugins(
        *(NAG_PACKS[pack](app, write_suppressions_to_cloud_formation=True) for pack in packs)
    )


def hardened_demo_stack() -> cdk.Stack:
    """The demo app's hardened configuration, under all five packs."""
    app = demo_app.build_app(
        cdk.App(
            context={
                "hostedZoneId": "Z0123456789ABCDEFGHIJ",
                "hostedZoneName": "example.com",
                "hardened": "true",
                "stackName": "SesLambdaDemoHardened",
            }
        )
    )
    add_packs(app)
    stack = app.node.find_child("SesLambdaDemoHardened")
    assert isinstance(stack, cdk.Stack)
    return stack


@pytest.fixture(scope="session")
def hardened_demo_synth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The hardened demo app's templates (``shared_app``); its synthesis fails on any finding of
    the five packs."""
    return shared_app(tmp_path_factory, "hardened-demo", hardened_demo_stack)


@pytest.fixture(scope="session")
def hardened_demo_template(hardened_demo_synth: dict[str, Any]) -> Template:
    return Template.from_json(hardened_demo_synth["templates"][hardened_demo_synth["stack"]])


def all_options_stack() -> cdk.Stack:
    """The all-options stack, under all five cdk-nag packs."""
    app, stack = all_options_app()
    add_packs(
        app, ("AwsSolutions", "Serverless", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
    )
    return stack


@pytest.fixture(scope="session")
def all_options_synth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The all-options app's templates (``shared_app``); its synthesis fails on any finding of
    the five packs."""
    return shared_app(tmp_path_factory, "all-options", all_options_stack)


@pytest.fixture(scope="session")
def all_options_template(all_options_synth: dict[str, Any]) -> Template:
    return Template.from_json(all_options_synth["templates"][all_options_synth["stack"]])

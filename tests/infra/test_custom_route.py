"""A kind of route of one's own works through the route protocol (examples/custom_route.py)."""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from ses_lambda_constructs import (
    EmailReceiver,
    EmailRoute,
    IRoute,
    IRouteReceiver,
    Route,
    RuleOptions,
    ValidationError,
)
from tests.infra.conftest import ACCOUNT_ENV, make_stack, synth

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_route.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("custom_route_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example() -> tuple[Any, Template]:
    module = load_example()
    app = cdk.App()
    stack = module.CustomRouteStack(app, "CustomRoute", env=ACCOUNT_ENV)
    return stack, synth(stack)


def rules(template: Template) -> dict[str, dict[str, Any]]:
    found = template.find_resources("AWS::SES::ReceiptRule")
    return {r["Properties"]["Rule"]["Name"]: r["Properties"] for r in found.values()}


def logical_id(stack: cdk.Stack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)


def test_the_custom_route_is_a_route(example: tuple[Any, Template]) -> None:
    module = load_example()
    route = module.ArchiveRoute(id="A", recipients=["a@example.com"], topic=None)
    assert isinstance(route, IRoute)
    assert isinstance(route, RuleOptions)


def test_the_custom_routes_rule_archives_then_notifies(example: tuple[Any, Template]) -> None:
    stack, template = example
    receiver = stack.receiver
    archive_bucket = receiver.node.find_child("LegalArchive").bucket
    topic = stack.node.find_child("Archived")
    legal = rules(template)["legal-archive"]
    assert legal["Rule"]["Recipients"] == ["legal@example.com"]
    assert legal["Rule"]["Actions"] == [
        {
            "S3Action": {
                "BucketName": {"Ref": logical_id(stack, archive_bucket)},
                "ObjectKeyPrefix": "archive/",
            }
        },
        {"SNSAction": {"TopicArn": {"Ref": logical_id(stack, topic)}, "Encoding": "UTF-8"}},
    ]
    assert legal["Rule"]["ScanEnabled"] is True
    assert legal["Rule"]["TlsPolicy"] == "Require"
    assert "After" not in legal
    # The library's own route kind follows it, in the order given.
    support = rules(template)["support"]
    assert support["After"] == {"Ref": logical_id(stack, receiver.routes[0].rule)}
    # No function runs for the archive route, and the receiver knows it.
    assert receiver.routes[0].function is None
    assert receiver.routes[1].function is receiver.handler.function
    with pytest.raises(ValidationError, match="route 'Legal' invokes no function"):
        receiver.metric_messages_received(route="Legal")


def test_the_archive_and_the_topic_let_ses_in_for_that_rule_only(
    example: tuple[Any, Template],
) -> None:
    _, template = example
    rule_arn = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ses:eu-west-1:111122223333:receipt-rule-set/custom-route-inbound:"
                "receipt-rule/legal-archive",
            ],
        ]
    }
    (topic_policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    statements = topic_policy["Properties"]["PolicyDocument"]["Statement"]
    publish = [s for s in statements if s.get("Principal") == {"Service": "ses.amazonaws.com"}]
    assert len(publish) == 1
    assert publish[0]["Action"] == "sns:Publish"
    assert publish[0]["Condition"]["ArnLike"]["aws:SourceArn"] == rule_arn
    bucket_policies = template.find_resources("AWS::S3::BucketPolicy")
    ses_puts = [
        s
        for policy in bucket_policies.values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "ses.amazonaws.com"}
    ]
    archive_puts = [s for s in ses_puts if "archive/*" in str(s["Resource"])]
    assert len(archive_puts) == 1, archive_puts
    assert archive_puts[0]["Condition"]["StringEquals"]["aws:SourceArn"] == [rule_arn]


def test_the_example_runs_as_an_app(tmp_path: Path) -> None:
    load_example().main(cdk.App(outdir=str(tmp_path)))
    assert (tmp_path / "CustomRoute.template.json").is_file()


@dataclass(frozen=True, kw_only=True)
class _Bare(RuleOptions):
    """A route kind that only adds the rule, with no action of its own."""

    def bind(self, receiver: IRouteReceiver) -> EmailRoute:
        return EmailRoute(
            receiver.scope,
            self.id,
            options=self,
            rule_set=receiver.rule_set,
            after=receiver.last_rule,
        )


def test_add_route_takes_a_custom_route_after_the_receiver_is_defined() -> None:
    stack = make_stack()
    receiver = EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="r",
        routes=[Route(id="First", rule_name="first", recipients=["a@example.com"])],
    )
    bare = receiver.add_route(
        _Bare(id="Bare", rule_name="bare", recipients=["b@example.com"], extra_actions=[])
    )
    assert receiver.routes[-1] is bare
    found = rules(Template.from_stack(stack))
    assert found["bare"]["After"] == {"Ref": logical_id(stack, receiver.routes[0].rule)}
    assert "Actions" not in found["bare"]["Rule"] or found["bare"]["Rule"]["Actions"] == []


def test_add_route_refuses_what_is_not_a_route() -> None:
    stack = make_stack()
    receiver = EmailReceiver(stack, "Receiver", rule_set_name="r")
    with pytest.raises(ValidationError, match=re.escape("another IRoute (id, recipients, bind")):
        receiver.add_route(object())  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=re.escape("routes[0] must be a Route")):
        EmailReceiver(stack, "Other", rule_set_name="o", routes=["a@example.com"])  # type: ignore[list-item]


def test_add_route_refuses_a_bind_that_returns_no_email_route() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Wrong(RuleOptions):
        def bind(self, receiver: IRouteReceiver) -> EmailRoute:
            return None  # type: ignore[return-value]

    stack = make_stack()
    receiver = EmailReceiver(stack, "Receiver", rule_set_name="r")
    with pytest.raises(ValidationError, match=r"routes\[W\]\.bind must return an EmailRoute"):
        receiver.add_route(Wrong(id="W", recipients=["w@example.com"]))


def test_a_custom_route_gets_the_receivers_checks() -> None:
    """The id and rule-name checks of the receiver apply to every kind of route."""
    stack = make_stack()
    topic = sns.Topic(stack, "T")
    module = load_example()
    receiver = EmailReceiver(stack, "Receiver", rule_set_name="r")
    with pytest.raises(ValidationError, match="reserved for the receiver's own constructs"):
        receiver.add_route(module.ArchiveRoute(id="Store", recipients=["a@x.com"], topic=topic))
    receiver.add_route(
        module.ArchiveRoute(id="One", rule_name="same", recipients=["a@x.com"], topic=topic)
    )
    with pytest.raises(ValidationError, match="rule_name 'same' is used by another route"):
        receiver.add_route(
            module.ArchiveRoute(id="Two", rule_name="same", recipients=["b@x.com"], topic=topic)
        )

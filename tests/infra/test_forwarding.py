"""Forwarding routes and several domains: the example, the send policy, synth-time checks."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
from aws_cdk import aws_route53 as route53
from aws_cdk.assertions import Annotations, Match, Template

from ses_lambda_constructs import (
    Domain,
    EmailReceiver,
    ForwardingRoute,
    Route,
    ValidationError,
)
from tests.infra.conftest import make_stack, synth
from tests.infra.lint import assert_cfn_lint_clean
from tests.infra.test_shared_variables import POWERTOOLS, C, environments

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "forwarding.py"


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    """The example app run as a CDK app (its own ``app.synth()``), template from the assembly."""
    namespace = runpy.run_path(str(EXAMPLE), run_name="__main__")
    assembly = namespace["app"].synth()  # the assembly the example's own synth() produced
    template: dict[str, Any] = assembly.get_stack_by_name("Forwarding").template
    assert_cfn_lint_clean(template, name="Forwarding example")
    return {"template": template, "namespace": namespace}


@pytest.fixture(scope="module")
def example_template(example: dict[str, Any]) -> Template:
    return Template.from_json(example["template"])


def arn_text(resource: Any) -> str:
    """An ARN written as a string, or as ``Fn::Join`` of a partition and the rest."""
    return resource if isinstance(resource, str) else str(resource["Fn::Join"][1][-1])


def send_statement(template: Template) -> dict[str, Any]:
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ses:SendEmail" in statement["Action"]
    ]
    assert len(statements) == 1
    return statements[0]


def test_example_has_two_domains_one_rule_set_one_bucket(example_template: Template) -> None:
    identities = example_template.find_resources("AWS::SES::EmailIdentity")
    names = sorted(r["Properties"]["EmailIdentity"] for r in identities.values())
    assert names == ["example.com", "shop.example.net"]
    example_template.resource_count_is("AWS::SES::ReceiptRuleSet", 1)
    example_template.resource_count_is("AWS::S3::Bucket", 1)
    example_template.resource_count_is("AWS::SES::ReceiptRule", 2)
    # The zone-less domain's records are outputs; the other's are in its zone.
    outputs = example_template.find_outputs("*")
    assert any("DnsRecord" in name and "Domain2" in name for name in outputs)
    example_template.resource_count_is("AWS::Route53::RecordSet", 4)


def test_forwarder_sends_only_from_the_receiving_identity_with_from_address_condition(
    example_template: Template,
) -> None:
    statement = send_statement(example_template)
    # v2 SendEmail only: the forwarder makes no v1 SendRawEmail request
    assert statement["Action"] == "ses:SendEmail"
    assert statement["Resource"] == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":ses:eu-west-1:111122223333:identity/example.com"],
        ]
    }
    assert statement["Condition"] == {
        "StringLike": {
            "ses:FromAddress": [
                "support@example.com",
                "support+*@example.com",
                "billing@example.com",
                "billing+*@example.com",
            ]
        }
    }


def test_forwarder_reads_raw_and_writes_only_its_own_prefix(example_template: Template) -> None:
    policies = example_template.find_resources("AWS::IAM::Policy")
    (forwarder,) = [p for name, p in policies.items() if name.startswith("InboundForwardForwarder")]
    grants = {
        json.dumps(s["Action"]): json.dumps(s["Resource"])
        for s in forwarder["Properties"]["PolicyDocument"]["Statement"]
        if "s3:" in json.dumps(s["Action"])
    }
    assert set(grants) == {
        '"s3:GetObject"',
        '"s3:ListBucket"',
        '["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]',
    }
    assert '"/raw/*"' in grants['"s3:GetObject"']
    assert '"/forwarded/*"' in grants['["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]']


def test_forwarder_environment_carries_the_map_and_every_receiving_domain(
    example_template: Template,
) -> None:
    example_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "forwarder.lambda_handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "FORWARD_DESTINATIONS": json.dumps(
                            {
                                "billing@example.com": ["accounts@example.org"],
                                "support@example.com": ["jane@example.org", "omar@example.org"],
                            },
                            sort_keys=True,
                        ),
                        "RECEIVING_DOMAINS": "example.com,shop.example.net",
                        "REJECT_ON_VERDICTS": "spam,virus,dmarc",
                        "FORWARD_PREFIX": "forwarded/",
                    }
                )
            },
        },
    )


def test_forwarder_failures_are_kept_and_alarmed(example_template: Template) -> None:
    configs = example_template.find_resources("AWS::Lambda::EventInvokeConfig")
    forwarder = [c for c in configs.values() if "Forward" in json.dumps(c)]
    assert len(forwarder) == 1
    assert forwarder[0]["Properties"]["MaximumRetryAttempts"] == 2
    assert "OnFailure" in forwarder[0]["Properties"]["DestinationConfig"]
    alarms = example_template.find_resources("AWS::CloudWatch::Alarm")
    # errors, throttles, the on-failure queue, and messages without destination
    assert sum(1 for name in alarms if "ForwardForwarder" in name) == 4
    assert any("ForwardForwarderNoDestinationAlarm" in name for name in alarms)


def test_forwarding_example_is_cdk_nag_clean(example: dict[str, Any]) -> None:
    app = cdk.App()
    cdk.Validations.of(app).add_plugins(
        cdk_nag.AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)
    )
    example["namespace"]["ForwardingStack"](
        app, "Forwarding", env=cdk.Environment(account="111122223333", region="eu-west-1")
    )
    app.synth()  # raises with the findings if any is unacknowledged


# --- options and checks ------------------------------------------------------------------------


def forwarding_stack(**route: Any) -> tuple[cdk.Stack, EmailReceiver]:
    stack = make_stack()
    receiver = EmailReceiver(
        stack,
        "Receiver",
        domain_name="example.com",
        domains=[Domain(domain_name="example.net")],
        routes=[
            ForwardingRoute(
                **{"id": "Forward", "recipients": ["team@example.com"], **route},
            )
        ],
    )
    return stack, receiver


def test_fixed_from_address_is_the_only_from_allowed() -> None:
    stack, _ = forwarding_stack(
        destinations=["a@example.org"], from_address="forwarder@example.net"
    )
    statement = send_statement(synth(stack))
    assert statement["Condition"] == {"StringLike": {"ses:FromAddress": ["forwarder@example.net"]}}
    assert arn_text(statement["Resource"]).endswith(":identity/example.net")


def test_verify_destinations_defines_their_identities_and_names_them_in_the_policy() -> None:
    stack, _ = forwarding_stack(
        destinations=["a@example.org", "b@example.org"], verify_destinations=True
    )
    template = synth(stack)
    identities = template.find_resources("AWS::SES::EmailIdentity")
    names = sorted(r["Properties"]["EmailIdentity"] for r in identities.values())
    assert names == ["a@example.org", "b@example.org", "example.com", "example.net"]
    resources = send_statement(template)["Resource"]
    arns = [arn_text(r) for r in resources]
    assert [a.rsplit("/", 1)[1] for a in arns] == ["example.com", "a@example.org", "b@example.org"]


def test_warns_when_a_recipient_is_outside_the_receivers_domains() -> None:
    stack, receiver = forwarding_stack(destinations=["a@example.org"])
    receiver.add_route(Route(id="Other", recipients=["info@elsewhere.example.org"]))
    Annotations.from_stack(stack).has_warning(
        "/TestStack/Receiver/Other",
        Match.string_like_regexp("'info@elsewhere.example.org'.*in none of the receiver's domains"),
    )
    assert not Annotations.from_stack(stack).find_warning(
        "/TestStack/Receiver/Forward", Match.string_like_regexp("in none of")
    )


def test_fails_when_a_destination_is_inside_a_receiving_domain() -> None:
    stack, _ = forwarding_stack(destination_map={"team@example.com": ["ops@sub.example.net"]})
    Annotations.from_stack(stack).has_error(
        "/TestStack/Receiver/ForwardForwarder",
        Match.string_like_regexp("'ops@sub.example.net' is inside 'example.net'.*loop"),
    )


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({}, "routes\\[Forward\\] forwards nowhere"),
        ({"destinations": "a@example.org"}, "destinations must be a list"),
        ({"destinations": ["not-an-address"]}, "'not-an-address', which is not an email address"),
        ({"destination_map": {"team@example.com": []}}, "destination_map\\['team@example.com'\\]"),
        ({"destinations": ["a@example.org"], "max_hops": 0}, "max_hops must be between 1 and 20"),
    ],
)
def test_fails_when_forwarding_options_are_wrong(route: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        forwarding_stack(**route)


def test_fails_when_forwarding_without_stored_raw_messages() -> None:
    stack = make_stack()
    with pytest.raises(ValidationError, match="store_raw_messages=True"):
        EmailReceiver(
            stack,
            "Receiver",
            store_raw_messages=False,
            routes=[
                ForwardingRoute(id="F", recipients=["a@example.com"], destinations=["b@x.org"])
            ],
        )


def test_fails_when_a_domain_is_added_twice() -> None:
    stack = make_stack()
    zone = route53.PublicHostedZone.from_public_hosted_zone_attributes(
        stack, "Zone", hosted_zone_id="Z0123456789ABCDEFGHIJ", zone_name="example.com"
    )
    with pytest.raises(ValidationError, match=r"'example\.com' is added twice"):
        EmailReceiver(
            stack,
            "Receiver",
            domain_name="example.com",
            hosted_zone=zone,
            domains=[Domain(domain_name="example.com")],
        )


def test_single_domain_receiver_keeps_its_construct_ids() -> None:
    stack = make_stack()
    receiver = EmailReceiver(stack, "Receiver", domain_name="example.com")
    assert receiver.domain is receiver.domains[0]
    assert receiver.domain.node.id == "Domain"
    second = receiver.add_domain("example.net")
    assert second.node.id == "Domain2" and receiver.domain_names == ["example.com", "example.net"]


def test_the_forwarder_gets_the_variables_it_reads(example_template: Template) -> None:
    # The names are the shared contract's (tests/infra/test_shared_variables.py has the others).
    forwarder = environments(example_template)["forwarder.lambda_handler"]
    # FORWARD_FROM is optional: the example sends from each recipient's own address.
    assert set(forwarder) - POWERTOOLS == C.FORWARDER_VARIABLES - {C.ENV_FORWARD_FROM}
    assert forwarder[C.ENV_FORWARD_PREFIX] == C.FORWARD_PREFIX
    assert forwarder[C.ENV_MAX_FORWARD_HOPS] == str(C.DEFAULT_MAX_HOPS)

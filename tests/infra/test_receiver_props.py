"""The receiver's props and routes: what each promises holds, and bad values fail at synth."""

from __future__ import annotations

import re
import types
from typing import Any

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as lambda_destinations
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_src.ses_mail.forwarding import destinations_for
from ses_lambda_constructs import (
    EmailReceiver,
    EmailTarget,
    ForwardingRoute,
    Route,
    ValidationError,
)
from ses_lambda_constructs.forwarding import _covered
from tests.infra.conftest import make_stack
from tests.infra.test_validation import own_function


def _gate_tls(template: Template) -> str:
    rules = template.find_resources("AWS::SES::ReceiptRule")
    gate = [r for lid, r in rules.items() if "VerdictGate" in lid]
    assert len(gate) == 1
    return str(gate[0]["Properties"]["Rule"]["TlsPolicy"])


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        ((ses.TlsPolicy.REQUIRE, ses.TlsPolicy.OPTIONAL), "Optional"),
        ((ses.TlsPolicy.OPTIONAL,), "Optional"),
        ((ses.TlsPolicy.REQUIRE, ses.TlsPolicy.REQUIRE), "Require"),
    ],
)
def test_the_verdict_gate_requires_tls_only_when_every_route_does(
    policies: tuple[ses.TlsPolicy, ...], expected: str
) -> None:
    stack = make_stack()
    EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="rules",
        verdict_gate=True,
        routes=[
            Route(
                id=f"R{i}",
                recipients=[f"r{i}@example.com"],
                function=own_function(stack),
                store_raw_message=False,
                tls_policy=policy,
            )
            for i, policy in enumerate(policies)
        ],
    )
    assert _gate_tls(Template.from_stack(stack)) == expected


# --- route ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("route_id", ["Store", "Handler", "Events", "Failures", "Domain2"])
def test_fails_when_a_route_takes_one_of_the_receivers_own_ids(route_id: str) -> None:
    stack = make_stack()
    with pytest.raises(
        ValidationError,
        match=re.escape(f"routes: the id {route_id!r} is reserved for the receiver's own"),
    ):
        EmailReceiver(
            stack,
            "Receiver",
            rule_set_name="rules",
            routes=[Route(id=route_id, recipients=["a@example.com"], function=own_function(stack))],
        )


# --- every prop checked in the constructor -------------------------------------------------


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"retry_attempts": 5}, "retry_attempts must be an integer between 0 and 2"),
        ({"retry_attempts": True}, "retry_attempts must be an integer between 0 and 2"),
        ({"max_event_age": cdk.Duration.hours(7)}, "max_event_age must be between 60 seconds"),
        ({"max_event_age": cdk.Duration.seconds(10)}, "max_event_age must be between 60 seconds"),
        (
            {"handler_runtime": lambda_.Runtime.NODEJS_22_X, "verdict_gate": True},
            "handler_runtime must be a Python runtime",
        ),
        ({"handler_runtime": lambda_.Runtime.NODEJS_22_X}, "handler_runtime must be a Python"),
        ({"reject_on_verdicts": ["spam", "phishing"]}, "reject_on_verdicts has 'phishing'"),
        ({"reject_on_verdicts": "spam"}, "reject_on_verdicts must be a list of Verdict"),
        ({"verdict_gate": True, "reject_on_verdicts": []}, "verdict_gate=True needs at least one"),
        ({"parsed_prefix": "/parsed/"}, "parsed_prefix must not start with '/'"),
        ({"parsed_prefix": "raw/parsed/"}, "raw_message_prefix ('raw/') and parsed_prefix"),
        ({"raw_message_prefix": "a//b/"}, "raw_message_prefix must not contain"),
        (
            {"raw_message_expiration": cdk.Duration.hours(12)},
            "raw_message_expiration must be a whole number of days, at least 1",
        ),
        (
            {"raw_message_expiration": cdk.Duration.hours(36)},
            "raw_message_expiration must be a whole number of days, at least 1",
        ),
        ({"removal_policy": "retain"}, "removal_policy must be a RemovalPolicy; got 'retain'"),
        ({"event_source": "aws.mail"}, "event_source 'aws.mail'"),
        ({"store_raw_messages": "yes"}, "store_raw_messages must be True or False; got 'yes'"),
        ({"routes": Route(id="A", recipients=["a@example.com"])}, "routes must be a list"),
    ],
)
def test_every_prop_is_checked_even_when_no_route_uses_it(
    props: dict[str, Any], message: str
) -> None:
    """The receiver has no route at all: each prop is still checked, naming prop and value."""
    stack = make_stack()
    with pytest.raises(ValidationError, match=re.escape(message)):
        EmailReceiver(stack, "Receiver", rule_set_name="rules", **props)


# --- subscriptions need a publisher ---------------------------------------------------------


def test_subscribing_fails_at_synth_when_no_route_uses_the_reference_handler() -> None:
    stack = make_stack()
    receiver = EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="rules",
        routes=[Route(id="Own", recipients=["a@example.com"], function=own_function(stack))],
    )
    queue = sqs.Queue(stack, "Consumer")
    receiver.subscribe("Consumer", EmailTarget.queue(queue))
    with pytest.raises(Exception, match=re.escape("subscribe('Consumer'): no route of this")):
        Template.from_stack(stack)


# --- a subscribed function keeps its failures ------------------------------------------------


def _function(stack: cdk.Stack, id: str) -> lambda_.Function:
    return lambda_.Function(
        stack,
        id,
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )


def _subscribed(configure: Any) -> tuple[Template, EmailReceiver]:
    stack = make_stack()
    receiver = EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="rules",
        routes=[Route(id="Inbox", recipients=["a@example.com"])],
    )
    consumer = _function(stack, "Consumer")
    configure(stack, consumer)
    receiver.subscribe("Consumer", EmailTarget.function(consumer))
    return Template.from_stack(stack), receiver


def _consumer_invoke_config(template: Template) -> dict[str, Any]:
    configs = template.find_resources("AWS::Lambda::EventInvokeConfig")
    mine = [c for lid, c in configs.items() if lid.startswith("Consumer")]
    assert len(mine) == 1, configs
    return mine[0]["Properties"]  # type: ignore[no-any-return]


def _dead_letter_queue_id(template: Template) -> str:
    queues = template.find_resources("AWS::SQS::Queue")
    ids = [lid for lid in queues if "SubscriptionsConsumer" in lid or "ConsumerDeadLetter" in lid]
    assert len(ids) == 1, list(queues)
    return ids[0]


def test_a_subscribed_function_with_an_invoke_config_without_destination_gets_the_queue() -> None:
    template, _ = _subscribed(lambda s, fn: fn.configure_async_invoke(retry_attempts=0))
    config = _consumer_invoke_config(template)
    queue_id = _dead_letter_queue_id(template)
    assert config["MaximumRetryAttempts"] == 0  # the owner's settings stay
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [queue_id, "Arn"]
    }
    policies = template.find_resources("AWS::IAM::Policy")
    statements = [
        st
        for lid, p in policies.items()
        if lid.startswith("ConsumerServiceRole")
        for st in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert {
        "Action": "sqs:SendMessage",
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
    } in statements


def test_a_subscribed_function_keeps_its_own_on_failure_destination() -> None:
    def configure(stack: cdk.Stack, fn: lambda_.Function) -> None:
        fn.configure_async_invoke(
            on_failure=lambda_destinations.SqsDestination(sqs.Queue(stack, "Mine"))
        )

    template, _ = _subscribed(configure)
    config = _consumer_invoke_config(template)
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination["Fn::GetAtt"][0].startswith("Mine")


# --- subscription targets through their public fields ---------------------------------------


@jsii.implements(events.IRuleTarget)
class _PublicFieldsOnly:
    """A rule target whose configuration is read through its public fields only."""

    def bind(self, rule: Any, id: str | None = None) -> Any:
        return types.SimpleNamespace(
            arn="arn:aws:sqs:eu-west-1:111122223333:elsewhere",
            input=events.RuleTargetInput.from_text("hello"),
        )


def test_a_target_configuration_is_copied_through_its_public_fields() -> None:
    stack = make_stack()
    receiver = EmailReceiver(
        stack, "Receiver", rule_set_name="rules", routes=[Route(id="Inbox", recipients=["a@x.io"])]
    )
    receiver.subscribe("Elsewhere", EmailTarget.of(_PublicFieldsOnly()))
    rules = Template.from_stack(stack).find_resources("AWS::Events::Rule")
    (target,) = [t for r in rules.values() for t in r["Properties"]["Targets"]]
    assert target["Arn"] == "arn:aws:sqs:eu-west-1:111122223333:elsewhere"
    assert target["Input"] == '"hello"'
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 185
    assert "DeadLetterConfig" in target


# --- expiration covers what is derived from the raw messages -------------------------------


def test_expiration_covers_the_parsed_output_and_the_forward_outcomes() -> None:
    stack = make_stack()
    EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="rules",
        raw_message_expiration=cdk.Duration.days(30),
        routes=[
            Route(id="Inbox", recipients=["a@example.com"]),
            ForwardingRoute(
                id="Fwd", recipients=["b@example.com"], destinations=["b@mailbox.example.org"]
            ),
        ],
    )
    buckets = Template.from_stack(stack).find_resources("AWS::S3::Bucket")
    (bucket,) = buckets.values()
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {r.get("Prefix"): r.get("ExpirationInDays") for r in rules}
    assert expiring["raw/"] == 30
    assert expiring["parsed/"] == 30
    assert expiring["forwarded/"] == 30


# --- forwarding routes that forward nothing -------------------------------------------------


@pytest.mark.parametrize(
    ("recipients", "table", "uncovered"),
    [
        (["support@example.com", "sales@example.com"], {"support@example.com": ["a@x.org"]}, 1),
        (["example.com"], {"support@example.com": ["a@x.org"]}, 0),
        ([".example.com"], {"example.org": ["a@x.org"]}, 0),
    ],
)
def test_fails_when_a_forwarded_recipient_has_no_destination(
    recipients: list[str], table: dict[str, list[str]], uncovered: int
) -> None:
    stack = make_stack()
    with pytest.raises(
        ValidationError,
        match=re.escape(f"routes[Fwd].recipients has {recipients[uncovered]!r}, but neither"),
    ):
        EmailReceiver(
            stack,
            "Receiver",
            rule_set_name="rules",
            routes=[ForwardingRoute(id="Fwd", recipients=recipients, destination_map=table)],
        )


@pytest.mark.parametrize(
    ("recipients", "table"),
    [
        (["support@example.com", "sales@example.com"], {"example.com": ["a@x.org"]}),
        (["support+x@mail.example.com"], {".example.com": ["a@x.org"]}),
        ([".example.com"], {".example.com": ["a@x.org"]}),
        ([".mail.example.com"], {"example.com": ["a@x.org"]}),
        (["example.com", "a@example.net"], {"*": ["a@x.org"]}),
    ],
)
def test_recipients_covered_by_a_domain_entry_or_a_wildcard_are_accepted(
    recipients: list[str], table: dict[str, list[str]]
) -> None:
    ForwardingRoute(id="Fwd", recipients=recipients, destination_map=table).destination_table()


_LABEL = st.text(alphabet="abcdefghij", min_size=1, max_size=3)
_DOMAIN = st.lists(_LABEL, min_size=2, max_size=4).map(".".join)


@settings(max_examples=300, deadline=None)
@given(
    recipient=st.one_of(
        st.tuples(_LABEL, _DOMAIN).map("@".join),
        _DOMAIN,
        _DOMAIN.map(lambda d: "." + d),
    ),
    keys=st.lists(
        st.one_of(
            st.tuples(_LABEL, _DOMAIN).map("@".join), _DOMAIN, _DOMAIN.map(lambda d: "." + d)
        ),
        max_size=5,
    ),
)
def test_the_synth_check_agrees_with_the_forwarders_own_lookup(
    recipient: str, keys: list[str]
) -> None:
    """A recipient passes the check exactly when every address it matches finds a destination
    through the forwarder's lookup (``destinations_for``, the code that runs in Lambda)."""
    table = {key: ["x@dest.example"] for key in keys}
    if "@" in recipient:
        matched = [recipient]
    elif recipient.startswith("."):
        # Subdomains one and two levels down, with labels no key uses.
        matched = [f"zz@q.{recipient[1:]}", f"zz@q.r{recipient}"]
    else:
        matched = [f"zz@{recipient}"]
    every_address_found = all(destinations_for(address, table) for address in matched)
    assert _covered(recipient, table) == every_address_found


def test_a_forwarder_alarms_on_messages_without_destination() -> None:
    stack = make_stack()
    receiver = EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="rules",
        routes=[ForwardingRoute(id="Fwd", recipients=["b@example.com"], destinations=["c@x.org"])],
    )
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Logs::MetricFilter", 0)  # the function emits the metric
    alarm = receiver.forwarders[0].no_destination_alarm.node.default_child
    alarm_id = stack.get_logical_id(alarm)  # type: ignore[arg-type]
    alarm_props = template.to_json()["Resources"][alarm_id]["Properties"]
    assert alarm_props["MetricName"] == "MessagesWithoutDestination"
    assert alarm_props["Namespace"] == "SesLambdaConstructs"
    dimensions = {d["Name"]: d["Value"] for d in alarm_props["Dimensions"]}
    function = stack.get_logical_id(receiver.forwarders[0].function.node.default_child)  # type: ignore[arg-type]
    assert dimensions == {"FunctionName": {"Ref": function}, "service": "ses-lambda-forwarder"}
    assert alarm_props["Threshold"] == 1
    assert alarm_props["Statistic"] == "Sum"


# --- the hardened configuration's key is used everywhere ------------------------------------


def test_every_queue_and_function_environment_of_the_hardened_demo_uses_the_key(
    hardened_demo_template: Template,
) -> None:
    template = hardened_demo_template
    (key_id,) = template.find_resources("AWS::KMS::Key")
    key = {"Fn::GetAtt": [key_id, "Arn"]}
    queues = template.find_resources("AWS::SQS::Queue")
    assert len(queues) >= 2  # the handler's on-failure queue and the subscription's
    for queue_id, queue in queues.items():
        assert queue["Properties"].get("KmsMasterKeyId") == key, queue_id
    functions = template.find_resources("AWS::Lambda::Function")
    for function_id, function in functions.items():
        assert function["Properties"].get("KmsKeyArn") == key, function_id
    statements = template.to_json()["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    events_statements = [
        s for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert len(events_statements) == 1
    assert sorted(events_statements[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert "aws:SourceArn" in events_statements[0]["Condition"]["ArnLike"]


# --- the private network has an endpoint for every API its functions call ------------------

#: Service prefixes of IAM actions to the endpoint service that carries their calls.
ENDPOINT_OF_SERVICE = {
    "s3": "s3",
    "ses": "email",
    "events": "events",
    "xray": "xray",
    "kms": "kms",
    "sqs": "sqs",
    "sns": "sns",
    "secretsmanager": "secretsmanager",
    "dynamodb": "dynamodb",
    "logs": "logs",
    "sts": "sts",
    "ec2": "ec2",
}
#: Granted actions whose calls the function's code never makes from its network: Lambda itself
#: writes the logs ("Sending Lambda function logs to CloudWatch Logs"), attaches the network
#: interfaces ("Giving Lambda functions access to resources in an Amazon VPC") and sends the
#: on-failure records of asynchronous invocations ("Adding a destination to an asynchronous
#: invocation"); S3 asks KMS for the data keys of SSE-KMS objects ("Using server-side encryption
#: with AWS KMS keys").
SERVICE_SIDE_ACTIONS = re.compile(
    r"logs:(CreateLogStream|PutLogEvents)|ec2:.*|sqs:SendMessage|kms:(Decrypt|GenerateDataKey)"
)


def test_the_private_network_has_an_endpoint_for_every_api_its_functions_call(
    all_options_template: Template,
) -> None:
    resources = all_options_template.to_json()["Resources"]
    roles = {
        function["Properties"]["Role"]["Fn::GetAtt"][0]
        for function in resources.values()
        if function["Type"] == "AWS::Lambda::Function" and "VpcConfig" in function["Properties"]
    }
    assert roles
    needed: set[str] = set()
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if not {r.get("Ref") for r in resource["Properties"]["Roles"]} & roles:
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                if not SERVICE_SIDE_ACTIONS.fullmatch(action):
                    needed.add(ENDPOINT_OF_SERVICE[action.split(":")[0]])
    endpoints = {
        str(e["Properties"]["ServiceName"]).rsplit(".", 1)[-1]
        if isinstance(e["Properties"]["ServiceName"], str)
        else "s3"
        for e in resources.values()
        if e["Type"] == "AWS::EC2::VPCEndpoint"
    }
    assert {"s3", "email", "events", "xray"} <= needed  # what the grants derive today
    assert needed <= endpoints, f"missing endpoints: {sorted(needed - endpoints)}"

"""The ``metric_*`` methods and the dashboard: every metric is one the functions really emit.

What the functions emit is read from their code (every ``metrics.add_metric(name=...)`` call in
``lambda_src``), not from a list kept here, so a metric renamed in the handler and not in the
constructs (or the reverse) fails these tests.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from hypothesis import given, settings
from hypothesis import strategies as st

from ses_lambda_constructs import (
    EmailReceiver,
    EmailTarget,
    ForwardingRoute,
    ReceiverDashboard,
    Route,
    ValidationError,
)
from ses_lambda_constructs.dashboard import receiver_alarms
from ses_lambda_constructs.metrics import metric_names
from tests.infra.conftest import make_stack, synth

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"

# What AWS publishes, for the widgets that show a service's own metrics (Lambda Developer Guide,
# "Types of metrics for Lambda functions"; Amazon SQS Developer Guide, "Available CloudWatch
# metrics for Amazon SQS"; EventBridge User Guide, "Monitoring Amazon EventBridge").
AWS_METRICS = {
    "AWS/Lambda": ({"Duration", "Errors", "Throttles", "Invocations"}, {"FunctionName"}),
    "AWS/SQS": ({"ApproximateNumberOfMessagesVisible"}, {"QueueName"}),
    "AWS/Events": (
        {"Invocations", "FailedInvocations", "InvocationsSentToDlq"},
        {"EventBusName", "RuleName"},
    ),
}


def emitted_by(source: str) -> set[str]:
    """Every metric name ``lambda_src/<source>`` passes to ``metrics.add_metric``."""
    names = metric_names()
    tree = ast.parse((LAMBDA_SRC / source).read_text(encoding="utf-8"))
    found: set[str] = set()

    def resolve(node: ast.expr) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert node.value.id == "names", ast.unparse(node)
            return [getattr(names, node.attr)]
        if isinstance(node, ast.IfExp):
            return resolve(node.body) + resolve(node.orelse)
        raise AssertionError(f"{source}: metric name not readable: {ast.unparse(node)}")

    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add_metric"
        ):
            keyword = next(k for k in node.keywords if k.arg == "name")
            found.update(resolve(keyword.value))
    assert found, f"{source} emits no metric"
    return found


@pytest.mark.parametrize(
    ("source", "declared"),
    [
        ("handler.py", "HANDLER_METRICS"),
        ("forwarder.py", "FORWARDER_METRICS"),
        ("gate.py", "GATE_METRICS"),
    ],
)
def test_the_declared_metrics_are_exactly_what_each_function_emits(
    source: str, declared: str
) -> None:
    assert set(getattr(metric_names(), declared)) == emitted_by(source)


@pytest.fixture(scope="module")
def receiver_stack() -> tuple[cdk.Stack, EmailReceiver, ReceiverDashboard]:
    stack = make_stack()
    own = lambda_.Function(
        stack,
        "Own",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )
    receiver = EmailReceiver(
        stack,
        "Receiver",
        domain_name="mail.example.com",
        rule_set_name="metrics-rules",
        routes=[
            Route(id="Support", recipients=["support@mail.example.com"]),
            Route(id="Sales", recipients=["sales@mail.example.com"]),
            Route(id="Mine", recipients=["own@mail.example.com"], function=own),
            ForwardingRoute(
                id="Team", recipients=["team@mail.example.com"], destinations=["x@example.org"]
            ),
        ],
    )
    receiver.subscribe("Archive", EmailTarget.queue(sqs.Queue(stack, "Archive")))
    dashboard = receiver.dashboard()
    return stack, receiver, dashboard


def logical_ref(stack: cdk.Stack, construct: Any) -> dict[str, str]:
    return {"Ref": stack.get_logical_id(construct.node.default_child)}


HANDLER_METHODS = {
    "metric_messages_received": "MessagesReceived",
    "metric_messages_processed": "MessagesProcessed",
    "metric_messages_rejected": "MessagesRejected",
    "metric_messages_too_large": "MessagesTooLarge",
    "metric_messages_unparseable": "MessagesUnparseable",
    "metric_messages_failed": "MessagesFailed",
    "metric_message_bytes": "MessageBytes",
    "metric_attachments": "Attachments",
    "metric_events_published": "EventsPublished",
    "metric_events_failed": "EventsFailed",
}


@pytest.mark.parametrize(("method", "name"), sorted(HANDLER_METHODS.items()))
def test_receiver_metric_methods_name_what_the_handler_emits(
    receiver_stack: tuple[cdk.Stack, EmailReceiver, ReceiverDashboard], method: str, name: str
) -> None:
    stack, receiver, _ = receiver_stack
    metric = getattr(receiver, method)(period=cdk.Duration.minutes(1), label="x")
    assert name in emitted_by("handler.py")
    assert metric.namespace == "SesLambdaConstructs"
    assert metric.metric_name == name
    assert stack.resolve(metric.dimensions) == {
        "service": "ses-lambda-handler",
        "FunctionName": logical_ref(stack, receiver.handler.function),  # type: ignore[union-attr]
    }
    assert metric.period.to_seconds() == 60 and metric.label == "x"
    assert metric.statistic == ("Average" if name == "MessageBytes" else "Sum")


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("metric_forwards_sent", "ForwardsSent"),
        ("metric_forwards_refused", "ForwardsRefusedByVerdict"),
        ("metric_forward_loops_blocked", "ForwardLoopsBlocked"),
        ("metric_forwards_failed", "ForwardsFailed"),
    ],
)
def test_forwarding_metrics_name_what_the_forwarder_emits(
    receiver_stack: tuple[cdk.Stack, EmailReceiver, ReceiverDashboard], method: str, name: str
) -> None:
    stack, receiver, _ = receiver_stack
    forwarder = receiver.forwarders[0]
    for metric in (getattr(receiver, method)(), getattr(receiver, method)(route="Team")):
        assert metric.metric_name == name and name in emitted_by("forwarder.py")
        assert stack.resolve(metric.dimensions) == {
            "service": "ses-lambda-forwarder",
            "FunctionName": logical_ref(stack, forwarder.function),
        }


def test_messages_received_per_route(
    receiver_stack: tuple[cdk.Stack, EmailReceiver, ReceiverDashboard],
) -> None:
    stack, receiver, _ = receiver_stack
    # A forwarding route: its forwarder counts what it is invoked with.
    team = receiver.metric_messages_received(route="Team")
    assert team.metric_name == "MessagesReceived"
    assert stack.resolve(team.dimensions)["service"] == "ses-lambda-forwarder"
    # A function of your own: SES invokes it once per message, so its Invocations.
    mine = receiver.metric_messages_received(route="Mine")
    assert (mine.namespace, mine.metric_name) == ("AWS/Lambda", "Invocations")
    # Two routes share the reference handler: the event does not say which rule it came from.
    with pytest.raises(ValidationError, match=r"route 'Support' shares the reference handler"):
        receiver.metric_messages_received(route="Support")
    with pytest.raises(ValidationError, match=r"route 'Nope' is not a route of this receiver"):
        receiver.metric_messages_received(route="Nope")


def test_durations_and_queue_depths(
    receiver_stack: tuple[cdk.Stack, EmailReceiver, ReceiverDashboard],
) -> None:
    stack, receiver, _ = receiver_stack
    duration = receiver.metric_processing_duration()
    assert (duration.namespace, duration.metric_name, duration.statistic) == (
        "AWS/Lambda",
        "Duration",
        "p95",
    )
    waiting = receiver.metric_failures_waiting()
    assert waiting.metric_name == "ApproximateNumberOfMessagesVisible"
    assert stack.resolve(waiting.dimensions)["QueueName"] == {
        "Fn::GetAtt": [
            stack.get_logical_id(receiver.failures.queue.node.default_child),
            "QueueName",
        ]  # type: ignore[union-attr]
    }
    forwarder_queue = receiver.metric_failures_waiting(route="Team")
    assert stack.resolve(forwarder_queue.dimensions) != stack.resolve(waiting.dimensions)
    with pytest.raises(ValidationError, match=r"route 'Support' is not a forwarding route"):
        receiver.metric_failures_waiting(route="Support")


def test_subscription_metrics_name_the_rule_on_its_bus(
    receiver_stack: tuple[cdk.Stack, EmailReceiver, ReceiverDashboard],
) -> None:
    stack, receiver, _ = receiver_stack
    subscription = receiver.events.subscriptions[0]  # type: ignore[union-attr]
    rule = stack.get_logical_id(subscription.rule.node.default_child)  # type: ignore[arg-type]
    for metric, name in (
        (subscription.metric_deliveries(), "Invocations"),
        (subscription.metric_failed_deliveries(), "FailedInvocations"),
        (subscription.metric_dead_letters(), "InvocationsSentToDlq"),
    ):
        assert (metric.namespace, metric.metric_name) == ("AWS/Events", name)
        assert stack.resolve(metric.dimensions) == {
            "EventBusName": logical_ref(stack, receiver.event_bus),
            # arn:aws:events:<region>:<account>:rule/<bus>/<rule>: the third part after "/"
            "RuleName": {"Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": [rule, "Arn"]}]}]},
        }
    assert subscription.metric_dead_letters_waiting().statistic == "Maximum"


def test_metric_names_are_checked() -> None:
    stack = make_stack()
    receiver = EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="plain",
        routes=[Route(id="Support", recipients=["support@example.com"])],
    )
    assert receiver.handler is not None
    with pytest.raises(ValidationError, match=r"metric_name 'MessagesLost' is not emitted by"):
        receiver.handler.metrics.metric("MessagesLost")
    with pytest.raises(ValidationError, match="no forwarding route"):
        receiver.metric_forwards_sent()
    with pytest.raises(ValidationError, match="period must be"):
        receiver.dashboard(period=cdk.Duration.seconds(90))


def test_without_the_reference_handler_its_metrics_are_refused() -> None:
    stack = make_stack()
    own = lambda_.Function(
        stack,
        "Own",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )
    receiver = EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="own",
        routes=[Route(id="Mine", recipients=["me@example.com"], function=own)],
    )
    with pytest.raises(ValidationError, match="no reference handler"):
        receiver.metric_messages_processed()
    assert receiver.metric_messages_received(route="Mine").metric_name == "Invocations"


# --- the dashboard --------------------------------------------------------------------------


def dashboard_body(
    stack: cdk.Stack, dashboard: ReceiverDashboard
) -> tuple[dict[str, Any], list[Any]]:
    """The dashboard's JSON with each CloudFormation token as ``"@<index>"``, and the tokens."""
    resource = synth(stack).find_resources("AWS::CloudWatch::Dashboard")
    assert len(resource) == 1
    body = next(iter(resource.values()))["Properties"]["DashboardBody"]
    tokens: list[Any] = []
    text = ""
    for part in body["Fn::Join"][1]:
        if isinstance(part, str):
            text += part
        else:
            tokens.append(part)
            text += f"@{len(tokens) - 1}"
    return json.loads(text), tokens


def test_every_dashboard_metric_is_one_the_functions_or_aws_emit(
    receiver_stack: tuple[cdk.Stack, EmailReceiver, ReceiverDashboard],
) -> None:
    stack, receiver, dashboard = receiver_stack
    body, tokens = dashboard_body(stack, dashboard)
    functions = {
        json.dumps(logical_ref(stack, receiver.handler.function)): (  # type: ignore[union-attr]
            "ses-lambda-handler",
            emitted_by("handler.py"),
        ),
        json.dumps(logical_ref(stack, receiver.forwarders[0].function)): (
            "ses-lambda-forwarder",
            emitted_by("forwarder.py"),
        ),
    }
    shown: dict[str, set[str]] = {}
    titles = []
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        titles.append(widget["properties"]["title"])
        for line in widget["properties"]["metrics"]:
            namespace, name, *rest = line
            pairs = [p for p in rest if not isinstance(p, dict)]
            dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
            shown.setdefault(namespace, set()).add(name)
            if namespace == "SesLambdaConstructs":
                assert set(dimensions) == {"service", "FunctionName"}, line
                token = json.dumps(tokens[int(dimensions["FunctionName"][1:])])
                service, emitted = functions[token]
                assert dimensions["service"] == service, line
                assert name in emitted, f"{name} is not emitted by the {service} function"
            else:
                names, keys = AWS_METRICS[namespace]
                assert name in names and set(dimensions) == keys, line
    # The flow, forwarding, failures, queues and latency are all there.
    assert {
        "MessagesReceived",
        "MessagesProcessed",
        "MessagesRejected",
        "MessagesTooLarge",
        "MessagesUnparseable",
        "EventsPublished",
        "ForwardsSent",
        "ForwardLoopsBlocked",
        "MessagesFailed",
    } <= shown["SesLambdaConstructs"]
    assert shown["AWS/SQS"] == {"ApproximateNumberOfMessagesVisible"}
    assert {"Duration", "Errors", "Throttles"} <= shown["AWS/Lambda"]
    assert {"Invocations", "FailedInvocations"} <= shown["AWS/Events"]
    assert "Forwarding: Team" in titles
    # ... and every alarm the receiver defines, in one alarm-status widget.
    [status] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert len(status["properties"]["alarms"]) == len(receiver_alarms(receiver)) == 7


# --- properties ------------------------------------------------------------------------------


@given(name=st.text(min_size=1, max_size=40))
@settings(max_examples=60, deadline=None)
def test_a_metric_name_is_accepted_exactly_when_the_function_emits_it(
    receiver_stack: tuple[cdk.Stack, EmailReceiver, ReceiverDashboard], name: str
) -> None:
    _, receiver, _ = receiver_stack
    metrics = receiver.handler.metrics  # type: ignore[union-attr]
    if name in emitted_by("handler.py"):
        assert metrics.metric(name).metric_name == name
    else:
        with pytest.raises(ValidationError, match="is not emitted by") as raised:
            metrics.metric(name)
        assert repr(name) in str(raised.value)


@given(seconds=st.integers(min_value=1, max_value=3 * 86_400))
@settings(max_examples=40, deadline=None)
def test_dashboard_periods_are_the_ones_cloudwatch_has(seconds: int) -> None:
    # CloudWatch User Guide, "CloudWatch concepts", Periods: 1, 5, 10, 30 s or a multiple of 60.
    valid = seconds in (1, 5, 10, 30) or seconds % 60 == 0
    stack = make_stack()
    receiver = EmailReceiver(
        stack, "Receiver", rule_set_name="p", routes=[Route(id="R", recipients=["r@example.com"])]
    )
    if valid:
        assert (
            receiver.dashboard(period=cdk.Duration.seconds(seconds)).period.to_seconds() == seconds
        )
    else:
        with pytest.raises(ValidationError, match=f"got {seconds} s"):
            receiver.dashboard(period=cdk.Duration.seconds(seconds))

"""Routes bind themselves: whatever the mix of kinds, the rules come out in order, each with its
own actions, and the receiver's forwarders are the forwarding routes' own."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses_actions as ses_actions
from aws_cdk.assertions import Template
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ses_lambda_constructs import EmailReceiver, ForwardingRoute, Route
from tests.infra.conftest import make_stack

INVOCATION = {
    ses_actions.LambdaInvocationType.EVENT: "Event",
    ses_actions.LambdaInvocationType.REQUEST_RESPONSE: "RequestResponse",
}

route_specs = st.lists(
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["own", "reference", "forwarding"]),
            "store": st.booleans(),
            "invocation": st.sampled_from(list(INVOCATION)),
            "stops": st.booleans(),
        }
    ),
    min_size=1,
    max_size=4,
)


def build(specs: list[dict[str, Any]]) -> tuple[cdk.Stack, EmailReceiver, list[Any]]:
    stack = make_stack()
    own = lambda_.Function.from_function_attributes(
        stack,
        "Own",
        function_arn="arn:aws:lambda:eu-west-1:111122223333:function:own",
        same_environment=True,
    )
    routes: list[Any] = []
    for index, spec in enumerate(specs):
        common: dict[str, Any] = {
            "id": f"R{index}",
            "rule_name": f"rule-{index}",
            "recipients": [f"r{index}@example.com"],
            "extra_actions": [ses_actions.Stop()] if spec["stops"] else [],
        }
        if spec["kind"] == "forwarding":
            routes.append(ForwardingRoute(destinations=[f"d{index}@example.org"], **common))
        elif spec["kind"] == "reference":
            routes.append(Route(invocation_type=spec["invocation"], **common))
        else:
            routes.append(
                Route(
                    function=own,
                    store_raw_message=spec["store"],
                    invocation_type=spec["invocation"],
                    **common,
                )
            )
    receiver = EmailReceiver(
        stack,
        "Receiver",
        domain_name="example.com",
        rule_set_name="rules",
        raw_message_expiration=cdk.Duration.days(30),
        routes=routes,
    )
    return stack, receiver, routes


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(route_specs)
def test_every_mix_of_route_kinds_binds_in_order(specs: list[dict[str, Any]]) -> None:
    stack, receiver, routes = build(specs)
    template = Template.from_stack(stack).to_json()
    resources = template["Resources"]

    def ref(construct: Any) -> str:
        return stack.get_logical_id(construct.node.default_child)

    forwarding = [r for r in routes if isinstance(r, ForwardingRoute)]
    assert [f.node.id for f in receiver.forwarders] == [f"{r.id}Forwarder" for r in forwarding]
    lifecycle = resources[ref(receiver.store.bucket)]["Properties"]["LifecycleConfiguration"]
    forward_rules = [r for r in lifecycle["Rules"] if r.get("Id") == "ExpireForwardOutcomes"]
    assert len(forward_rules) == (1 if forwarding else 0)

    previous = None
    for index, (spec, email_route) in enumerate(zip(specs, receiver.routes, strict=True)):
        assert email_route.node.id == f"R{index}"
        properties = resources[ref(email_route.rule)]["Properties"]
        if previous is None:
            assert "After" not in properties
        else:
            assert properties["After"] == {"Ref": ref(previous.rule)}
        previous = email_route
        actions = properties["Rule"]["Actions"]
        stored = spec["kind"] != "own" or spec["store"]
        kinds = [next(iter(action)) for action in actions]
        assert kinds == [
            *(["S3Action"] if stored else []),
            "LambdaAction",
            *(["StopAction"] if spec["stops"] else []),
        ]
        lambda_action = actions[kinds.index("LambdaAction")]["LambdaAction"]
        if spec["kind"] == "forwarding":
            forwarder = receiver.node.find_child(f"R{index}Forwarder")
            assert email_route.function is forwarder.function  # type: ignore[attr-defined]
            assert lambda_action["InvocationType"] == "Event"
        elif spec["kind"] == "reference":
            assert receiver.handler is not None
            assert email_route.function is receiver.handler.function
            assert lambda_action["InvocationType"] == INVOCATION[spec["invocation"]]
        else:
            assert lambda_action["FunctionArn"] == (
                "arn:aws:lambda:eu-west-1:111122223333:function:own"
            )
            assert lambda_action["InvocationType"] == INVOCATION[spec["invocation"]]

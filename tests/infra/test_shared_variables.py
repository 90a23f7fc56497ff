"""The environment the constructs give each library function is what the function reads.

The names are the contract's (``lambda_src/ses_mail/contract.py``); the functions' side is held
to them by tests/test_shared_limits.py (which records what ``from_environ`` reads). The
receiver with every option (shared with the other template tests) has the reference handler
with events and the verdict gate; the forwarder's environment is checked in test_forwarding.py
on the forwarding example, ``REPLY_ADDRESS_SECRET_ARN`` in test_conversations_template.py.
"""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from ses_lambda_constructs import _bundled

C = _bundled.contract()
#: Set for Powertools (service and namespace of the metrics), not read by the library's code.
POWERTOOLS = frozenset({"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"})


def environments(template: Template) -> dict[str, dict[str, Any]]:
    """Lambda handler string -> the variables the constructs set for functions with it."""
    found: dict[str, dict[str, Any]] = {}
    for function in template.find_resources("AWS::Lambda::Function").values():
        properties = function["Properties"]
        variables = properties.get("Environment", {}).get("Variables", {})
        found.setdefault(properties.get("Handler"), {}).update(variables)
    return found


def test_the_reference_handler_gets_the_variables_it_reads(all_options_template: Template) -> None:
    handler = environments(all_options_template)["handler.lambda_handler"]
    # REPLY_ADDRESS_SECRET_ARN is set only with reply addresses (test_conversations_template.py).
    assert set(handler) - POWERTOOLS == C.HANDLER_VARIABLES - {C.ENV_REPLY_ADDRESS_SECRET_ARN}
    assert handler[C.ENV_PARSED_PREFIX] == C.PARSED_PREFIX
    assert handler[C.ENV_RAW_MESSAGE_PREFIX] == C.RAW_PREFIX
    assert handler[C.ENV_MAX_MESSAGE_BYTES] == str(C.MAX_MESSAGE_BYTES)
    assert handler[C.ENV_EVENT_SOURCE] == C.EVENT_SOURCE


def test_the_verdict_gate_gets_the_variables_it_reads(all_options_template: Template) -> None:
    gate = environments(all_options_template)["gate.lambda_handler"]
    assert set(gate) - POWERTOOLS == C.GATE_VARIABLES

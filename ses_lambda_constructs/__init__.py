"""AWS CDK constructs that receive email with Amazon SES into AWS Lambda, correctly.

Start with :class:`EmailReceiver`; the pieces it composes are public too.

Names are imported on first use, so that tools in subpackages (the local cloud, the replay
command) start without loading the CDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "InvokeFunction": "actions",
    "StoreRawMessage": "actions",
    "receipt_rule_arn": "actions",
    "LocalPythonBundler": "bundling",
    "PythonBundle": "bundling",
    "DnsRecord": "domain",
    "Domain": "domain",
    "ReceivingDomain": "domain",
    "inbound_smtp_endpoint": "domain",
    "InvocationFailures": "failures",
    "Forwarder": "forwarding",
    "ForwardingRoute": "forwarding",
    "FunctionHardening": "hardening",
    "PrivateNetwork": "network",
    "DEFAULT_RUNTIME": "handler_bundle",
    "ReferenceHandler": "reference_handler",
    "Verdict": "verdicts",
    "VerdictGate": "verdict_gate",
    "MAX_ACTIONS_PER_RULE": "limits",
    "MAX_MESSAGE_BYTES": "limits",
    "MAX_RECIPIENTS_PER_RULE": "limits",
    "MAX_RULES_PER_RULE_SET": "limits",
    "ValidationError": "limits",
    "receiving_regions": "limits",
    "EmailReceiver": "receiver",
    "EmailRoute": "routing",
    "IRoute": "routing",
    "IRouteReceiver": "routing",
    "RuleOptions": "routing",
    "Route": "receiver",
    "ActiveReceiptRuleSet": "rule_set",
    "ReceiptRuleSetActivation": "rule_set",
    "RawMessageStore": "storage",
    "DEFAULT_EVENT_SOURCE": "event_patterns",
    "DETAIL_TYPES": "event_patterns",
    "MailKind": "event_patterns",
    "ReplyAddressKeys": "conversations",
    "MailStatus": "event_patterns",
    "email_event_pattern": "event_patterns",
    "validate_event_pattern": "event_patterns",
    "EmailEvents": "events",
    "EmailSubscription": "subscription",
    "EmailTarget": "subscription",
    "SubscriptionOptions": "subscription",
    "ReceiverSettings": "settings",
    "ReaderLayer": "reader",
    "ReceiverDashboard": "dashboard",
    "FunctionMetrics": "metrics",
}

__all__ = [
    "DEFAULT_EVENT_SOURCE",
    "DEFAULT_RUNTIME",
    "DETAIL_TYPES",
    "MAX_ACTIONS_PER_RULE",
    "MAX_MESSAGE_BYTES",
    "MAX_RECIPIENTS_PER_RULE",
    "MAX_RULES_PER_RULE_SET",
    "ActiveReceiptRuleSet",
    "DnsRecord",
    "Domain",
    "EmailEvents",
    "EmailReceiver",
    "EmailRoute",
    "EmailSubscription",
    "EmailTarget",
    "Forwarder",
    "ForwardingRoute",
    "FunctionHardening",
    "FunctionMetrics",
    "IRoute",
    "IRouteReceiver",
    "InvocationFailures",
    "InvokeFunction",
    "LocalPythonBundler",
    "MailKind",
    "MailStatus",
    "PrivateNetwork",
    "PythonBundle",
    "RawMessageStore",
    "ReaderLayer",
    "ReceiptRuleSetActivation",
    "ReceiverDashboard",
    "ReceiverSettings",
    "ReceivingDomain",
    "ReferenceHandler",
    "ReplyAddressKeys",
    "Route",
    "RuleOptions",
    "StoreRawMessage",
    "SubscriptionOptions",
    "ValidationError",
    "Verdict",
    "VerdictGate",
    "email_event_pattern",
    "inbound_smtp_endpoint",
    "receipt_rule_arn",
    "receiving_regions",
    "validate_event_pattern",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:
    from .actions import InvokeFunction, StoreRawMessage, receipt_rule_arn
    from .bundling import LocalPythonBundler, PythonBundle
    from .conversations import ReplyAddressKeys
    from .dashboard import ReceiverDashboard
    from .domain import DnsRecord, Domain, ReceivingDomain, inbound_smtp_endpoint
    from .event_patterns import (
        DEFAULT_EVENT_SOURCE,
        DETAIL_TYPES,
        MailKind,
        MailStatus,
        email_event_pattern,
        validate_event_pattern,
    )
    from .events import EmailEvents
    from .failures import InvocationFailures
    from .forwarding import Forwarder, ForwardingRoute
    from .handler_bundle import DEFAULT_RUNTIME
    from .hardening import FunctionHardening
    from .limits import (
        MAX_ACTIONS_PER_RULE,
        MAX_MESSAGE_BYTES,
        MAX_RECIPIENTS_PER_RULE,
        MAX_RULES_PER_RULE_SET,
        ValidationError,
        receiving_regions,
    )
    from .metrics import FunctionMetrics
    from .network import PrivateNetwork
    from .reader import ReaderLayer
    from .receiver import EmailReceiver, Route
    from .reference_handler import ReferenceHandler
    from .routing import EmailRoute, IRoute, IRouteReceiver, RuleOptions
    from .rule_set import ActiveReceiptRuleSet, ReceiptRuleSetActivation
    from .settings import ReceiverSettings
    from .storage import RawMessageStore
    from .subscription import EmailSubscription, EmailTarget, SubscriptionOptions
    from .verdict_gate import VerdictGate
    from .verdicts import Verdict

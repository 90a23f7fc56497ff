"""AWS CDK constructs that receive email with Amazon SES into AWS Lambda, correctly.

Start with :class:`EmailReceiver`; the pieces it composes are public too.
"""

from .actions import InvokeFunction, StoreRawMessage, receipt_rule_arn
from .bundling import LocalPythonBundler, PythonBundle
from .domain import DnsRecord, ReceivingDomain, inbound_smtp_endpoint
from .failures import InvocationFailures
from .handler_function import DEFAULT_RUNTIME, ReferenceHandler, Verdict, VerdictGate
from .limits import (
    MAX_ACTIONS_PER_RULE,
    MAX_MESSAGE_BYTES,
    MAX_RECIPIENTS_PER_RULE,
    MAX_RULES_PER_RULE_SET,
    ValidationError,
    receiving_regions,
)
from .receiver import EmailReceiver, EmailRoute, Route
from .rule_set import ActiveReceiptRuleSet, ReceiptRuleSetActivation
from .storage import RawMessageStore

__all__ = [
    "DEFAULT_RUNTIME",
    "MAX_ACTIONS_PER_RULE",
    "MAX_MESSAGE_BYTES",
    "MAX_RECIPIENTS_PER_RULE",
    "MAX_RULES_PER_RULE_SET",
    "ActiveReceiptRuleSet",
    "DnsRecord",
    "EmailReceiver",
    "EmailRoute",
    "InvocationFailures",
    "InvokeFunction",
    "LocalPythonBundler",
    "PythonBundle",
    "RawMessageStore",
    "ReceiptRuleSetActivation",
    "ReceivingDomain",
    "ReferenceHandler",
    "Route",
    "StoreRawMessage",
    "ValidationError",
    "Verdict",
    "VerdictGate",
    "inbound_smtp_endpoint",
    "receipt_rule_arn",
    "receiving_regions",
]

"""A small evaluator for resource policies (S3 bucket policies, Lambda function policies).

Moto's own evaluator ignores service principals and checks conditions against an empty request
context, so a ``Deny`` guarded by ``aws:SecureTransport`` denies everything and an ``Allow`` for
``ses.amazonaws.com`` never allows anything. The local cloud needs both answered the way AWS
answers them: the checks SES makes when a receipt rule is created, and object requests to the
CDK bootstrap bucket. This module implements the subset of the IAM policy language that such
policies use: Effect, Action/NotAction, Resource/NotResource, Principal/NotPrincipal and the
String*, Arn*, Bool and Null condition operators (with ``...IfExists``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Decision(Enum):
    ALLOW = "allow"
    DENY = "deny"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class Request:
    """Who asks to do what on which resource, with the request context keys."""

    action: str
    resource: str
    #: principal kind ("Service", "AWS", ...) -> principal value; empty means anonymous.
    principal: Mapping[str, str] = field(default_factory=dict)
    context: Mapping[str, str] = field(default_factory=dict)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _wildcard(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    return _wildcard_regex(pattern, case_sensitive).fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    # IAM wildcards: "*" any run of characters, "?" one character; nothing else is special.
    # Compiled once per pattern: every object request evaluates the bucket policy.
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE)


def _action_matches(patterns: Iterable[str], action: str) -> bool:
    # Action names are case-insensitive ("S3:PutObject" == "s3:putobject").
    return any(_wildcard(p, action, case_sensitive=False) for p in patterns)


def _resource_matches(patterns: Iterable[str], resource: str) -> bool:
    return any(_wildcard(p, resource) for p in patterns)


def _principal_matches(spec: Any, principal: Mapping[str, str]) -> bool:
    if spec == "*":
        return True
    if isinstance(spec, str):
        # Lambda's add-permission shorthand: a bare service or account.
        spec = {"Service": spec} if spec.endswith(".amazonaws.com") else {"AWS": spec}
    if not isinstance(spec, Mapping):
        return False
    for kind, values in spec.items():
        for value in _as_list(values):
            if kind == "AWS" and value == "*":
                return True
            if principal.get(kind) is None:
                continue
            if kind == "AWS":
                mine = principal[kind]
                account = mine.split(":")[4] if mine.startswith("arn:") else mine
                if value in (mine, account, f"arn:aws:iam::{account}:root"):
                    return True
            elif value == principal[kind]:
                return True
    return False


def _base_operator(operator: str) -> tuple[str, bool, str | None]:
    """Split ``ForAnyValue:StringLikeIfExists`` into (StringLike, if_exists, ForAnyValue)."""
    qualifier = None
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    return operator, if_exists, qualifier


def _compare(operator: str, expected: str, actual: str) -> bool | None:
    """One value against one value; None for an operator this evaluator does not know."""
    if operator in ("StringEquals", "ArnEquals"):
        return actual == expected
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() == expected.lower()
    if operator in ("StringLike", "ArnLike"):
        return _wildcard(expected, actual)
    if operator == "Bool":
        return actual.lower() == str(expected).lower()
    return None


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    base, if_exists, _qualifier = _base_operator(operator)
    lowered = {k.lower(): v for k, v in context.items()}
    present = key.lower() in lowered
    actual = lowered.get(key.lower())
    if base == "Null":
        wants_absent = str(_as_list(expected)[0]).lower() == "true"
        return wants_absent != present
    if not present:
        # A missing key makes positive operators false and negated ones true;
        # ...IfExists turns a missing key into a match.
        return if_exists or base in _NEGATED
    assert actual is not None
    negated = base in _NEGATED
    compare_as = _NEGATED.get(base, base)
    results = [_compare(compare_as, str(value), actual) for value in _as_list(expected)]
    if any(r is None for r in results):
        # Unknown operator: it can neither grant nor deny here.
        return False
    matched = any(bool(r) for r in results)
    return not matched if negated else matched


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, pairs in conditions.items():
        for key, expected in pairs.items():
            if not _condition_holds(operator, key, expected, context):
                return False
    return True


def _element_matches(
    statement: Mapping[str, Any], positive: str, negative: str, matches: Any
) -> bool:
    """Action/NotAction, Resource/NotResource, Principal/NotPrincipal: absent means any."""
    if positive in statement:
        return bool(matches(statement[positive]))
    if negative in statement:
        return not matches(statement[negative])
    return True


def _statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    return (
        _element_matches(
            statement, "Action", "NotAction", lambda v: _action_matches(_as_list(v), request.action)
        )
        and _element_matches(
            statement,
            "Resource",
            "NotResource",
            lambda v: _resource_matches(_as_list(v), request.resource),
        )
        and _element_matches(
            statement,
            "Principal",
            "NotPrincipal",
            lambda v: _principal_matches(v, request.principal),
        )
        and _conditions_hold(statement.get("Condition") or {}, request.context)
    )


def evaluate(policy: Mapping[str, Any] | str | bytes | None, request: Request) -> Decision:
    """Evaluate one resource policy: an explicit Deny wins, then any Allow, else neutral."""
    if policy is None:
        return Decision.NEUTRAL
    if isinstance(policy, (str, bytes)):
        policy = json.loads(policy)
    assert isinstance(policy, Mapping)
    decision = Decision.NEUTRAL
    for statement in _as_list(policy.get("Statement")):
        if not _statement_applies(statement, request):
            continue
        if statement.get("Effect") == "Deny":
            return Decision.DENY
        if statement.get("Effect") == "Allow":
            decision = Decision.ALLOW
    return decision

"""The IAM policy language: does one statement apply to one request?

Each rule cites the IAM User Guide page it follows. Anything this module cannot evaluate (an
operator it does not know, a policy variable, a malformed element, a principal kind it does not
model) makes the statement *unevaluable*; :mod:`.evaluation` then fails closed: an unevaluable
``Allow`` grants nothing and an unevaluable ``Deny`` denies.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

#: A request context value: one string, or several for a multivalued key.
ContextValue = str | Sequence[str]


class Match(Enum):
    YES = "yes"
    NO = "no"
    #: The statement names the caller's account only (``Principal: {"AWS": "<account>"}``):
    #: in a resource-based policy that delegates to the account's identity-based policies
    #: ("Policy evaluation for requests within a single account", IAM User Guide).
    ACCOUNT = "account"


class Unevaluable(Exception):
    """Something in a statement this evaluator cannot evaluate (it then fails closed)."""


@dataclass(frozen=True)
class Principal:
    """Who makes a request.

    ``kind`` is ``"AWS"`` (an IAM role, a role session, a user, an account), ``"Service"`` (an
    AWS service principal such as ``ses.amazonaws.com``) or ``"Anonymous"``.
    """

    kind: str
    #: The principal's ARN (``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`` for a role
    #: session) or the service principal's name.
    arn: str = ""
    account: str = ""
    #: For a role session: the role's ARN (a policy may name the role instead of the session,
    #: "AWS JSON policy elements: Principal", "Role session principals").
    role_arn: str = ""

    @classmethod
    def service(cls, name: str) -> Principal:
        return cls(kind="Service", arn=name)

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(kind="Anonymous")

    @classmethod
    def role_session(cls, role_arn: str, session: str) -> Principal:
        account = role_arn.split(":")[4]
        role_name = role_arn.rsplit("/", 1)[-1]
        return cls(
            kind="AWS",
            arn=f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}",
            account=account,
            role_arn=role_arn,
        )

    def describe(self) -> str:
        if self.kind == "Anonymous":
            return "anonymous"
        return self.arn


@dataclass(frozen=True)
class Request:
    """What a policy is evaluated against: principal, action, resource, context keys."""

    action: str
    resource: str
    principal: Principal = field(default_factory=Principal.anonymous)
    context: Mapping[str, ContextValue] = field(default_factory=dict)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


# --- wildcards --------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _wildcard_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    # "*" any run of characters (also none), "?" exactly one; nothing else is special
    # ("IAM JSON policy elements: Action" / "Resource", and the String/ArnLike operators).
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(regex, re.DOTALL | (0 if case_sensitive else re.IGNORECASE))


def wildcard(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    if "${" in pattern:
        # Policy variables ("IAM policy elements: Variables and tags") are not substituted.
        raise Unevaluable(f"policy variable in {pattern!r}")
    return _wildcard_regex(pattern, case_sensitive).fullmatch(value) is not None


def _strings(element: str, value: Any) -> list[str]:
    values = as_list(value)
    if not values or not all(isinstance(v, str) for v in values):
        raise Unevaluable(f"{element} must be a string or a list of strings, got {value!r}")
    return values


def action_matches(patterns: Any, action: str) -> bool:
    # Action names are case-insensitive ("IAM JSON policy elements: Action").
    return any(wildcard(p, action, case_sensitive=False) for p in _strings("Action", patterns))


def resource_matches(patterns: Any, resource: str) -> bool:
    # ARNs are case-sensitive ("IAM JSON policy elements: Resource").
    return any(wildcard(p, resource) for p in _strings("Resource", patterns))


# --- principals --------------------------------------------------------------------------


def _aws_principal_match(value: str, principal: Principal) -> Match:
    if value == "*":
        return Match.YES
    if principal.kind != "AWS":
        return Match.NO
    account_root = f"arn:aws:iam::{principal.account}:root"
    if value in (principal.account, account_root):
        # "Specifying the account principal": the account delegates to its identity policies
        # ("AWS JSON policy elements: Principal", "AWS account principals").
        return Match.ACCOUNT
    if value == principal.arn or (principal.role_arn and value == principal.role_arn):
        # A role's ARN stands for each of its sessions ("Role session principals").
        return Match.YES
    if "*" in value or "?" in value:
        # Wildcards are only allowed as the whole value "*" in Principal ("Principal" page).
        raise Unevaluable(f"wildcard in Principal {value!r}")
    return Match.NO


def principal_matches(spec: Any, principal: Principal) -> Match:
    """The ``Principal`` element against the caller ("AWS JSON policy elements: Principal")."""
    if spec == "*":
        # "*" is everyone, anonymous included ("All principals").
        return Match.YES
    if isinstance(spec, str):
        # Lambda's add-permission shorthand in a function policy: a bare service or account.
        spec = {"Service": spec} if spec.endswith(".amazonaws.com") else {"AWS": spec}
    if not isinstance(spec, Mapping) or not spec:
        raise Unevaluable(f"malformed Principal {spec!r}")
    best = Match.NO
    for kind, values in spec.items():
        for value in _strings("Principal", values):
            if kind == "AWS":
                found = _aws_principal_match(value, principal)
            elif kind == "Service":
                found = (
                    Match.YES
                    if principal.kind == "Service" and value == principal.arn
                    else Match.NO
                )
            elif kind in ("Federated", "CanonicalUser"):
                # Web identity / SAML federation and S3 canonical users are not modelled.
                if principal.kind in ("Service", "Anonymous"):
                    continue
                raise Unevaluable(f"{kind} principals are not modelled")
            else:
                raise Unevaluable(f"unknown principal type {kind!r}")
            if found is Match.YES:
                return Match.YES
            if found is Match.ACCOUNT:
                best = Match.ACCOUNT
    return best


# --- conditions ---------------------------------------------------------------------------
# "IAM JSON policy elements: Condition operators" and "Multivalued context keys".


def _parse_number(value: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise Unevaluable(f"not a number: {value!r}") from exc


def _parse_date(value: str) -> datetime:
    # Dates are ISO 8601 or epoch seconds ("Date condition operators").
    try:
        if re.fullmatch(r"\d+(\.\d+)?", value):
            return datetime.fromtimestamp(float(value), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError) as exc:
        raise Unevaluable(f"not a date: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _bool(value: str) -> str:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise Unevaluable(f"not a Boolean: {value!r}")
    return lowered


def _ip_in(network: str, address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError as exc:
        raise Unevaluable(f"not an IP address or range: {network!r} / {address!r}") from exc


def _ordered(name: str, left: Any, right: Any) -> bool:
    """The comparison a Numeric* or Date* operator names (numbers or datetimes)."""
    if name.endswith("LessThanEquals"):
        return bool(left <= right)
    if name.endswith("LessThan"):
        return bool(left < right)
    if name.endswith("GreaterThanEquals"):
        return bool(left >= right)
    if name.endswith("GreaterThan"):
        return bool(left > right)
    return bool(left == right)


_NUMERIC = {
    "NumericEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
}
_DATE = {name.replace("Numeric", "Date") for name in _NUMERIC}


def _compare(operator: str, expected: str, actual: str) -> bool:
    """One request value against one policy value, for a positive operator."""
    if operator == "StringEquals":
        return actual == expected
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() == expected.lower()
    if operator == "StringLike":
        return wildcard(expected, actual)
    if operator == "ArnEquals" or operator == "ArnLike":
        # Arn operators compare each of the six colon-separated parts, wildcards allowed in
        # each ("Amazon Resource Name (ARN) condition operators").
        if len(actual.split(":", 5)) != 6:
            return False
        return wildcard(expected, actual)
    if operator in _NUMERIC:
        return _ordered(operator, _parse_number(actual), _parse_number(expected))
    if operator in _DATE:
        return _ordered(operator, _parse_date(actual), _parse_date(expected))
    if operator == "Bool":
        return _bool(actual) == _bool(expected)
    if operator == "IpAddress":
        return _ip_in(expected, actual)
    raise Unevaluable(f"condition operator {operator!r} is not evaluated here")


#: Each negated operator and the positive one it negates.
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
}


def split_operator(operator: str) -> tuple[str, bool, str | None]:
    """``ForAnyValue:StringLikeIfExists`` -> (``StringLike``, True, ``ForAnyValue``)."""
    qualifier = None
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
        if qualifier not in ("ForAnyValue", "ForAllValues"):
            raise Unevaluable(f"unknown set operator {qualifier!r}")
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    if if_exists:
        operator = operator[: -len("IfExists")]
    return operator, if_exists, qualifier


def _lookup(context: Mapping[str, ContextValue], key: str) -> list[str] | None:
    # Condition key names are case-insensitive ("IAM JSON policy elements: Condition").
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return [value] if isinstance(value, str) else list(value)
    return None


def condition_holds(
    operator: str, key: str, expected: Any, context: Mapping[str, ContextValue]
) -> bool:
    """One operator and key against the request context.

    Several policy values for one key are ORed; a missing key makes a positive operator false
    and a negated one true; ``...IfExists`` makes a missing key true ("Condition operators",
    "...IfExists condition operators"); ``ForAllValues:`` holds when every request value matches
    (also for an empty or missing key), ``ForAnyValue:`` when at least one does ("Multivalued
    context keys").
    """
    base, if_exists, qualifier = split_operator(operator)
    values = [str(v) if isinstance(v, (bool, int, float)) else v for v in as_list(expected)]
    if not all(isinstance(v, str) for v in values):
        raise Unevaluable(f"condition values must be strings: {expected!r}")
    if any("${" in v for v in values):
        # Policy variables ("IAM policy elements: Variables and tags") are not substituted.
        raise Unevaluable(f"policy variable in the condition on {key}")
    actual = _lookup(context, key)
    if base == "Null":
        # Null: "true" means the key must be absent, "false" present ("Condition operator to
        # check existence of condition keys").
        if qualifier or if_exists or len(values) != 1:
            raise Unevaluable(f"malformed Null condition on {key}")
        wants_absent = _bool(values[0]) == "true"
        return wants_absent == (actual is None or actual == [])
    negated = base in _NEGATED
    positive = _NEGATED.get(base, base)

    def one(value: str) -> bool:
        matched = any(_compare(positive, expected_value, value) for expected_value in values)
        return not matched if negated else matched

    if qualifier == "ForAllValues":
        return all(one(v) for v in actual or [])
    if qualifier == "ForAnyValue":
        return any(one(v) for v in actual or [])
    if actual is None:
        return if_exists or negated
    if len(actual) != 1:
        raise Unevaluable(f"single-valued operator {operator} on the multivalued key {key}")
    return one(actual[0])


def conditions_hold(conditions: Any, context: Mapping[str, ContextValue]) -> bool:
    """Every operator block and every key in it must hold (they are ANDed)."""
    if conditions is None:
        return True
    if not isinstance(conditions, Mapping):
        raise Unevaluable(f"malformed Condition {conditions!r}")
    for operator, pairs in conditions.items():
        if not isinstance(pairs, Mapping):
            raise Unevaluable(f"malformed Condition block {operator!r}")
        for key, expected in pairs.items():
            if not condition_holds(operator, key, expected, context):
                return False
    return True

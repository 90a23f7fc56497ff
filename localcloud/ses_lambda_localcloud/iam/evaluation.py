"""Policy evaluation within one account, as the IAM User Guide's "Policy evaluation logic" and
"Policy evaluation for requests within a single account" describe it.

Order: an explicit ``Deny`` in any applicable policy wins; then an ``Allow`` in the resource-based
policy naming the caller suffices, else an identity-based policy must allow; a permissions
boundary and a session policy, where present, must also allow. Two documented exceptions: a KMS
key policy must allow the caller directly or delegate to IAM through the account principal
("Key policies in AWS KMS", "Default key policy"), and a role's trust policy governs
``sts:AssumeRole`` the same way ("IAM roles", "Cross account resource access in IAM").

This module fails closed: a statement it cannot evaluate never allows, and denies if it is a
``Deny``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .language import (
    Match,
    Request,
    Unevaluable,
    action_matches,
    as_list,
    conditions_hold,
    principal_matches,
    resource_matches,
)


class Decision(Enum):
    ALLOW = "allow"
    DENY = "deny"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class PolicyResult:
    """What one policy says about one request."""

    decision: Decision
    #: An Allow that named only the caller's account (delegation to identity policies).
    delegated: bool = False
    #: Statements that could not be evaluated (each a short reason); they failed closed.
    unevaluable: tuple[str, ...] = ()
    #: The Sid (or index) of the statement that decided.
    statement: str = ""


@functools.lru_cache(maxsize=2048)
def _parse(text: str | bytes) -> Any:
    # Stored policies are JSON text; every request evaluates them, so each is parsed once.
    return json.loads(text)


def _load(policy: Mapping[str, Any] | str | bytes) -> Mapping[str, Any]:
    loaded = _parse(policy) if isinstance(policy, (str, bytes)) else policy
    if not isinstance(loaded, Mapping):
        raise Unevaluable("the policy is not a JSON object")
    return loaded


def _element(statement: Mapping[str, Any], positive: str, negative: str) -> tuple[str, Any] | None:
    if positive in statement and negative in statement:
        raise Unevaluable(f"both {positive} and {negative}")
    if positive in statement:
        return positive, statement[positive]
    if negative in statement:
        return negative, statement[negative]
    return None


def statement_match(statement: Any, request: Request, *, resource_policy: bool) -> Match:
    """Whether a statement applies to the request (raises :class:`Unevaluable`)."""
    if not isinstance(statement, Mapping):
        raise Unevaluable("a statement is not a JSON object")
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise Unevaluable(f"Effect {effect!r}")
    # Action or NotAction, exactly one ("IAM JSON policy elements: Action" / "NotAction").
    action = _element(statement, "Action", "NotAction")
    if action is None:
        raise Unevaluable("neither Action nor NotAction")
    name, patterns = action
    if action_matches(patterns, request.action) != (name == "Action"):
        return Match.NO
    # Resource or NotResource: required in identity-based policies; a resource-based policy
    # may leave it out, then it is the resource the policy is attached to ("Resource").
    resource = _element(statement, "Resource", "NotResource")
    if resource is None:
        if not resource_policy:
            raise Unevaluable("neither Resource nor NotResource")
    else:
        name, patterns = resource
        if resource_matches(patterns, request.resource) != (name == "Resource"):
            return Match.NO
    principal = Match.YES
    element = _element(statement, "Principal", "NotPrincipal")
    if resource_policy:
        # A resource-based policy names who it applies to ("Principal"); a statement without
        # either element is invalid there, so it grants nothing (fails closed).
        if element is None:
            raise Unevaluable("a resource-based policy statement without Principal")
        name, spec = element
        principal = principal_matches(spec, request.principal)
        if name == "NotPrincipal":
            # NotPrincipal with Allow is not supported ("AWS JSON policy elements:
            # NotPrincipal"): it grants nothing. With Deny it denies all but those listed.
            if effect == "Allow":
                raise Unevaluable("NotPrincipal with Allow")
            # Naming an account there excludes only its root user, not its roles and their
            # sessions (the same page), so only an exact match excludes the caller.
            principal = Match.NO if principal is Match.YES else Match.YES
        if principal is Match.NO:
            return Match.NO
    elif element is not None:
        raise Unevaluable("Principal in an identity-based policy")
    if not conditions_hold(statement.get("Condition"), request.context):
        return Match.NO
    return principal


def evaluate_policy(
    policy: Mapping[str, Any] | str | bytes | None, request: Request, *, resource_policy: bool
) -> PolicyResult:
    """One policy: an explicit Deny wins, then an Allow; an unevaluable Deny denies."""
    if policy is None:
        return PolicyResult(Decision.NEUTRAL)
    try:
        document = _load(policy)
        statements = as_list(document.get("Statement"))
    except (ValueError, Unevaluable) as exc:
        # A policy that does not parse can grant nothing; deny, as a Deny in it might.
        return PolicyResult(Decision.DENY, unevaluable=(f"the policy does not parse: {exc}",))
    allowed: PolicyResult | None = None
    delegated = False
    problems: list[str] = []
    for index, statement in enumerate(statements):
        sid = str(statement.get("Sid") or index) if isinstance(statement, Mapping) else str(index)
        effect = statement.get("Effect") if isinstance(statement, Mapping) else None
        try:
            match = statement_match(statement, request, resource_policy=resource_policy)
        except Unevaluable as exc:
            problems.append(f"statement {sid}: {exc}")
            if effect != "Allow":
                # Fail closed: a Deny (or a statement whose effect is unclear) that cannot be
                # evaluated denies.
                return PolicyResult(Decision.DENY, unevaluable=tuple(problems), statement=sid)
            continue
        if match is Match.NO:
            continue
        if effect == "Deny":
            return PolicyResult(Decision.DENY, unevaluable=tuple(problems), statement=sid)
        if match is Match.ACCOUNT:
            delegated = True
        elif allowed is None:
            allowed = PolicyResult(Decision.ALLOW, statement=sid)
    if allowed is not None:
        return PolicyResult(
            Decision.ALLOW, unevaluable=tuple(problems), statement=allowed.statement
        )
    return PolicyResult(Decision.NEUTRAL, delegated=delegated, unevaluable=tuple(problems))


@dataclass(frozen=True)
class Policies:
    """Every policy that applies to one request."""

    #: The caller's identity-based policies (inline and managed); None for a principal that has
    #: none (a service principal, an anonymous caller).
    identity: Sequence[Any] | None = None
    #: The resource-based policy (bucket, queue, topic, function, key, trust policy), if any.
    resource: Any = None
    #: The resource policy must allow or delegate (a KMS key policy, a role trust policy).
    resource_required: bool = False
    #: How the service names its resource policy in a denial ("key policy", "trust policy"...).
    resource_kind: str = "resource-based policy"
    permissions_boundary: Any = None
    session_policies: Sequence[Any] = field(default_factory=tuple)


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    #: Why, in the words AWS uses in its messages ("no identity-based policy allows the ...").
    reason: str = ""
    unevaluable: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


def evaluate(request: Request, policies: Policies) -> Outcome:
    """The decision for one request in one account (see the module's docstring)."""
    action = request.action
    problems: list[str] = []
    identity = [
        evaluate_policy(p, request, resource_policy=False) for p in (policies.identity or ())
    ]
    resource = evaluate_policy(policies.resource, request, resource_policy=True)
    boundary = (
        evaluate_policy(policies.permissions_boundary, request, resource_policy=False)
        if policies.permissions_boundary is not None
        else None
    )
    sessions = [
        evaluate_policy(p, request, resource_policy=False) for p in policies.session_policies
    ]
    for result in [*identity, resource, *([boundary] if boundary else []), *sessions]:
        problems.extend(result.unevaluable)
    unevaluable = tuple(problems)

    # 1. Explicit deny anywhere ("Policy evaluation logic": "Deny evaluation").
    if any(r.decision is Decision.DENY for r in identity):
        return Outcome(Decision.DENY, "explicit deny in an identity-based policy", unevaluable)
    if resource.decision is Decision.DENY:
        return Outcome(Decision.DENY, f"explicit deny in a {policies.resource_kind}", unevaluable)
    if boundary is not None and boundary.decision is Decision.DENY:
        return Outcome(Decision.DENY, "explicit deny in a permissions boundary", unevaluable)
    if any(r.decision is Decision.DENY for r in sessions):
        return Outcome(Decision.DENY, "explicit deny in a session policy", unevaluable)

    identity_allows = any(r.decision is Decision.ALLOW for r in identity)
    # 2. KMS key policies and trust policies must allow directly or delegate to the account.
    if policies.resource_required and resource.decision is not Decision.ALLOW:
        if not resource.delegated:
            return Outcome(
                Decision.DENY,
                f"no {policies.resource_kind} allows the {action} action",
                unevaluable,
            )
        if not identity_allows:
            return Outcome(
                Decision.DENY, f"no identity-based policy allows the {action} action", unevaluable
            )
    # 3. Within one account, a resource-based policy that names the caller allows on its own,
    # otherwise an identity-based policy must ("Policy evaluation for requests within a single
    # account"). A boundary or session policy, where present, still limits it (the documented
    # rule when the policy names the role rather than the session; applied to both here).
    if resource.decision is Decision.ALLOW:
        names_session = policies.identity is None or not (
            policies.permissions_boundary is not None or policies.session_policies
        )
        if names_session:
            return Outcome(Decision.ALLOW, "", unevaluable)
    elif not identity_allows:
        if policies.identity is None:
            return Outcome(
                Decision.DENY,
                f"no {policies.resource_kind} allows the {action} action",
                unevaluable,
            )
        return Outcome(
            Decision.DENY, f"no identity-based policy allows the {action} action", unevaluable
        )
    # 4. Permissions boundary and session policies limit what the identity policies allow.
    if boundary is not None and boundary.decision is not Decision.ALLOW:
        return Outcome(
            Decision.DENY, f"no permissions boundary allows the {action} action", unevaluable
        )
    if sessions and not all(r.decision is Decision.ALLOW for r in sessions):
        return Outcome(Decision.DENY, f"no session policy allows the {action} action", unevaluable)
    return Outcome(Decision.ALLOW, "", unevaluable)

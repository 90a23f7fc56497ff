"""Resource-policy checks the local cloud makes on its own (SES rule creation and delivery,
EventBridge delivery, anonymous S3 requests), answered by the IAM engine in :mod:`.iam`.

The engine fails closed: a statement it cannot evaluate never allows, and denies if it is a
``Deny``; a resource-policy statement without ``Principal`` grants nothing; ``NotPrincipal``
with ``Allow`` grants nothing (see :mod:`.iam.evaluation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .iam.evaluation import Decision, evaluate_policy
from .iam.language import ContextValue, Principal
from .iam.language import Request as EngineRequest

__all__ = ["Decision", "Request", "evaluate", "principal_of"]


@dataclass(frozen=True)
class Request:
    """Who asks to do what on which resource, with the request context keys."""

    action: str
    resource: str
    #: principal kind ("Service", "AWS") -> principal value; empty means anonymous.
    principal: Mapping[str, str] = field(default_factory=dict)
    context: Mapping[str, ContextValue] = field(default_factory=dict)


def principal_of(spec: Mapping[str, str]) -> Principal:
    """``{"Service": "ses.amazonaws.com"}`` or ``{"AWS": "<role or user ARN>"}``."""
    if not spec:
        return Principal.anonymous()
    if "Service" in spec:
        return Principal.service(spec["Service"])
    arn = spec["AWS"]
    account = arn.split(":")[4] if arn.startswith("arn:") else arn
    return Principal(kind="AWS", arn=arn, account=account)


def evaluate(policy: Mapping[str, Any] | str | bytes | None, request: Request) -> Decision:
    """One resource-based policy: an explicit (or unevaluable) Deny wins, then an Allow naming
    the caller, else neutral (an Allow naming only the caller's account is neutral too: it
    delegates to the account's identity-based policies)."""
    result = evaluate_policy(
        policy,
        EngineRequest(
            action=request.action,
            resource=request.resource,
            principal=principal_of(request.principal),
            context=request.context,
        ),
        resource_policy=True,
    )
    return result.decision

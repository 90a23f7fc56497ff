"""Acknowledged policy-validation findings (cdk-nag's AwsSolutions pack and the like).

Each acknowledgment sits next to the resource it concerns and carries its reason in code.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Record that finding ``rule`` on ``scope`` is deliberate, and why."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))

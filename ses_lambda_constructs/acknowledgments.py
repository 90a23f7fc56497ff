"""Acknowledged policy-validation findings (cdk-nag's AwsSolutions pack and the like).

Each acknowledgment sits next to the resource it concerns and carries its reason in code.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_s3 as s3
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Record that finding ``rule`` on ``scope`` is deliberate, and why."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def nag_arn(scope: IConstruct, bucket: s3.IBucket) -> str:
    """How cdk-nag names a bucket's ARN in a finding id: ``LogicalId.Arn``, or the literal ARN."""
    resource = bucket.node.default_child
    if resource is None:  # an imported bucket: its ARN is a literal string
        return bucket.bucket_arn
    return f"{Stack.of(scope).get_logical_id(resource)}.Arn"  # type: ignore[arg-type]

"""Acknowledged policy-validation findings (cdk-nag's AwsSolutions pack and the like).

Each acknowledgment sits next to the resource it concerns and carries its reason in code.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from aws_cdk import aws_s3 as s3
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Record that finding ``rule`` on ``scope`` is deliberate, and why."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


#: The packs that flag every inline policy (AWS::IAM::Policy, and a role's own policies).
_INLINE_POLICY_PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")


def acknowledge_inline_policy(scope: IConstruct) -> None:
    """Acknowledge the inline-policy finding for the roles under ``scope``.

    Every grant the CDK makes (``iam.Grant``, ``grant_*``) lands in the role's default policy, an
    ``AWS::IAM::Policy`` attached to that one role and scoped to the resources it names. A
    customer managed policy would only add a second, separately attachable copy.
    """
    for pack in _INLINE_POLICY_PACKS:
        acknowledge(
            scope,
            f"{pack}-IAMNoInlinePolicy",
            "The CDK writes each grant into this role's own policy, attached to this role "
            "alone and scoped to the resources named; a managed policy could be attached "
            "elsewhere too.",
        )


def nag_arn(scope: IConstruct, bucket: s3.IBucket) -> str:
    """How cdk-nag names a bucket's ARN in a finding id: ``LogicalId.Arn``, or the literal ARN."""
    resource = bucket.node.default_child
    if not isinstance(resource, CfnElement):  # an imported bucket: its ARN is a literal string
        return bucket.bucket_arn
    return f"{Stack.of(scope).get_logical_id(resource)}.Arn"

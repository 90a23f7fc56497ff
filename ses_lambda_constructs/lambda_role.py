"""Execution roles for the library's own functions: logging to one log group, nothing else."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from .acknowledgments import acknowledge_inline_policy


def logging_only_role(scope: Construct, id: str, *, log_group: logs.ILogGroup) -> iam.Role:
    """A Lambda execution role that may write to ``log_group`` only.

    It replaces the AWS managed ``AWSLambdaBasicExecutionRole``, which may create log groups and
    write to any of them. (A log group's ``Arn`` attribute already ends in ``:*``, which covers
    its streams.)
    """
    role = iam.Role(scope, id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    acknowledge_inline_policy(role)
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    return role

"""The controls every function of the library takes: tracing, concurrency, VPC and KMS logs.

One :class:`FunctionHardening` value describes them. :meth:`FunctionHardening.log_group` and
:meth:`FunctionHardening.function` define a log group and a Lambda function with them applied, so
each construct that defines a function (the reference handler, the verdict gate, the rule-set
provider, and any function added beside them) gets the same controls from one place. Failure
handling of asynchronous invocations (destination, retries, alarms) is :class:`InvocationFailures`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Annotations, ArnFormat, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from .acknowledgments import acknowledge
from .limits import ValidationError

#: Actions a function's role needs to attach it to a VPC, as in the managed policy
#: AWSLambdaVPCAccessExecutionRole (docs/ses-facts.md, "Functions in a VPC").
VPC_ACCESS_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)


@dataclass(frozen=True, kw_only=True)
class FunctionHardening:
    """Controls applied to each function the library defines.

    The defaults are what every configuration gets: X-Ray active tracing, no reserved
    concurrency, no VPC, log groups encrypted by CloudWatch Logs' own keys, kept three months.
    """

    #: X-Ray active tracing. Default: on (traces are billed beyond X-Ray's free tier).
    tracing: bool = True
    #: Reserved concurrent executions of each mail-path function (at least 1). Reserving caps
    #: the function and takes the capacity from the account's unreserved pool.
    #: Default: none (the unreserved pool).
    reserved_concurrency: int | None = None
    #: Attach the functions to this VPC. They then reach AWS only through its routes or VPC
    #: endpoints (see :class:`~ses_lambda_constructs.network.ServiceEndpoints`).
    #: Default: no VPC.
    vpc: ec2.IVpc | None = None
    #: Default (with ``vpc``): the VPC's private subnets, else its isolated subnets.
    vpc_subnets: ec2.SubnetSelection | None = None
    #: Default (with ``vpc``): one new security group per function, outbound only.
    security_groups: Sequence[ec2.ISecurityGroup] = ()
    #: Customer managed key for the log groups and the functions' environment variables. The key
    #: policy must allow CloudWatch Logs; for a
    #: key defined in the stack the statement is added (:func:`allow_logs_to_use_key`).
    #: Default: CloudWatch Logs' own encryption.
    encryption_key: kms.IKey | None = None
    #: Default: three months.
    log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS

    def __post_init__(self) -> None:
        concurrency = self.reserved_concurrency
        if concurrency is not None and not Token.is_unresolved(concurrency) and concurrency < 1:
            raise ValidationError(
                "reserved_concurrency must be at least 1 (0 stops the function from running); "
                f"got {concurrency!r}"
            )
        if self.vpc is None and (self.vpc_subnets is not None or self.security_groups):
            raise ValidationError("vpc_subnets and security_groups need vpc")

    def log_group(self, scope: Construct, id: str) -> logs.LogGroup:
        """A log group kept on stack deletion, encrypted with :attr:`encryption_key` if set."""
        if self.encryption_key is not None:
            allow_logs_to_use_key(scope, self.encryption_key)
        return logs.LogGroup(
            scope,
            id,
            retention=self.log_retention,
            encryption_key=self.encryption_key,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def function(
        self,
        scope: Construct,
        id: str,
        *,
        role: iam.Role,
        log_group: logs.ILogGroup,
        memory_size: int,
        reserved_concurrency: int | None = None,
        **props: Any,
    ) -> lambda_.Function:
        """A ``lambda_.Function`` with these controls; ``props`` are its other properties.

        :param role: the execution role; it gets the X-Ray and VPC statements it needs.
        :param memory_size: MiB, chosen per function (no function uses the 128 MiB default by
            accident).
        :param reserved_concurrency: overrides :attr:`reserved_concurrency` for this function.
        """
        concurrency = (
            reserved_concurrency if reserved_concurrency is not None else self.reserved_concurrency
        )
        vpc_props: dict[str, Any] = {}
        if self.vpc is not None:
            vpc_props = {
                "vpc": self.vpc,
                "vpc_subnets": self.vpc_subnets or _default_subnets(self.vpc),
                "security_groups": list(self.security_groups) or None,
            }
            # The role is the library's own, so the CDK adds no managed policy for the VPC.
            role.add_to_policy(
                iam.PolicyStatement(actions=list(VPC_ACCESS_ACTIONS), resources=["*"])
            )
        function = lambda_.Function(
            scope,
            id,
            role=role,
            log_group=log_group,
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE if self.tracing else lambda_.Tracing.DISABLED,
            reserved_concurrent_executions=concurrency,
            logging_format=lambda_.LoggingFormat.JSON,
            # Lambda encrypts environment variables at rest with this key instead of its own
            # ("Securing Lambda environment variables", Lambda Developer Guide); Lambda itself
            # decrypts them before the function starts, through a grant it creates on the key.
            environment_encryption=self.encryption_key,
            **vpc_props,
            **props,
        )
        if self.tracing:
            acknowledge(
                role,
                "AwsSolutions-IAM5[Resource::*]",
                "xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level "
                "permissions (X-Ray's service authorization reference); tracing needs them.",
            )
        if self.vpc is not None:
            acknowledge(
                role,
                "AwsSolutions-IAM5[Resource::*]",
                "Attaching a function to a VPC needs the EC2 network-interface actions on all "
                "resources, exactly the set of the managed AWSLambdaVPCAccessExecutionRole.",
            )
        return function


def _default_subnets(vpc: ec2.IVpc) -> ec2.SubnetSelection:
    if vpc.private_subnets:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


_LOGS_ALLOWED = "SesLambdaConstructsLogsAllowed"


def allow_logs_to_use_key(scope: IConstruct, key: kms.IKey) -> None:
    """Let CloudWatch Logs use ``key`` for the log groups of this account and region.

    The statement is the one CloudWatch Logs documents: the regional service principal, the
    encrypt/decrypt/data-key actions, conditioned on the encryption context naming a log group
    of this account and region (docs/ses-facts.md, "Encryption with a customer managed key").
    Added once per key; for an imported key a warning says what its policy needs.
    """
    stack = Stack.of(scope)
    marker = f"{_LOGS_ALLOWED}{Names.node_unique_id(key.node)}"
    if stack.node.try_find_child(marker) is not None:
        return
    Construct(stack, marker)  # an empty construct marks the key: the statement is added once
    log_groups = stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name="*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    result = key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogsOfThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
        )
    )
    if not result.statement_added:
        Annotations.of(scope).add_warning_v2(
            "ses-lambda-constructs:importedKeyPolicy",
            f"The key {key.key_arn} is imported, so its policy cannot be changed here: allow "
            f"logs.{stack.region}.amazonaws.com to use it for log groups of this account "
            "(kms:EncryptionContext:aws:logs:arn), or the log groups fail to create.",
        )


#: Reserved concurrency of each mail-path function in the hardened configuration: a burst beyond
#: it is throttled and retried by Lambda (asynchronous invocations, for up to six hours) instead of
#: taking the account's whole concurrency.
HARDENED_RESERVED_CONCURRENCY = 10


def hardened_defaults(
    scope: Construct,
    *,
    encryption_key: kms.IKey | None,
    function_hardening: FunctionHardening,
    required: dict[str, object],
    raw_message_bucket: s3.IBucket | None,
) -> tuple[kms.IKey, FunctionHardening]:
    """The key and function controls of ``hardened=True``, after checking what it requires."""
    missing = [name for name, value in required.items() if value is None]
    if missing:
        raise ValidationError(
            f"hardened=True needs {', '.join(missing)}: functions in a VPC, alarm notifications, "
            "bucket access logs and a replica are resources only you can choose"
        )
    if raw_message_bucket is not None:
        raise ValidationError(
            "hardened=True defines the raw-message bucket itself (versioned, SSE-KMS, logged, "
            "replicated); pass a bucket of your own without hardened=True"
        )
    if encryption_key is None:
        encryption_key = kms.Key(
            scope,
            "Key",
            description="ses-lambda-constructs: received mail, its logs and its queues",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
    return encryption_key, dataclasses.replace(
        function_hardening,
        tracing=True,
        reserved_concurrency=(
            function_hardening.reserved_concurrency or HARDENED_RESERVED_CONCURRENCY
        ),
    )

"""CloudFormation resource types that moto 5.2 lacks (or gets wrong), as moto models, one module
per service.

Moto silently skips resource types it has no model for; the CDK stacks of this project need
these to be real: the SES receiving types, bucket policies, the CDK's metadata resource, Lambda's
permission (moto's cannot be deleted) and event-invoke config, layer versions, SQS/SNS policies
and subscriptions, CloudWatch alarms, Secrets Manager secrets, and ``Custom::`` resources run
without Docker. Each model implements create, update and delete against moto's own backends, so
the service APIs (``describe-active-receipt-rule-set``, ``get-bucket-policy``, ...) see what the
stack made.
``LOCAL_MODELS`` is the registry the CloudFormation patch adds to moto's parser.
"""

from __future__ import annotations

from ..moto_internals import CloudFormationModel
from .awslambda import EventInvokeConfig, LambdaPermission, LayerVersion, LocalLambdaFunction
from .base import LocalModel, ResourceFailed
from .cdk import CdkMetadata
from .cloudwatch import Alarm
from .custom import CustomResource
from .s3 import BucketPolicy
from .secretsmanager import Secret
from .ses import EmailIdentity, ReceiptRule, ReceiptRuleSet
from .sns import Subscription, TopicPolicy
from .sqs import QueuePolicy

LOCAL_MODELS: dict[str, type[CloudFormationModel]] = {
    model.cloudformation_type(): model
    for model in (
        CdkMetadata,
        BucketPolicy,
        ReceiptRuleSet,
        ReceiptRule,
        EmailIdentity,
        LocalLambdaFunction,
        LambdaPermission,
        EventInvokeConfig,
        LayerVersion,
        QueuePolicy,
        TopicPolicy,
        Subscription,
        Alarm,
        CustomResource,
        Secret,
    )
}

__all__ = [
    "LOCAL_MODELS",
    "Alarm",
    "BucketPolicy",
    "CdkMetadata",
    "CustomResource",
    "EmailIdentity",
    "EventInvokeConfig",
    "LambdaPermission",
    "LayerVersion",
    "LocalLambdaFunction",
    "LocalModel",
    "QueuePolicy",
    "ReceiptRule",
    "ReceiptRuleSet",
    "ResourceFailed",
    "Secret",
    "Subscription",
    "TopicPolicy",
]

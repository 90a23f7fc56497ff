"""CloudFormation resource types that moto 5.2 lacks (or gets wrong), as moto models.

Moto silently skips resource types it has no model for; the CDK stacks of this project need
these to be real: the SES receiving types, bucket policies, the CDK's metadata resource, Lambda's
permission (moto's cannot be deleted) and event-invoke config, SQS/SNS policies and
subscriptions, CloudWatch alarms, and ``Custom::`` resources run without Docker. Each model
implements create, update and delete against moto's own backends, so the service APIs
(``describe-active-receipt-rule-set``, ``get-bucket-policy``, ...) see what the stack made.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any, ClassVar, TypeVar

from moto.awslambda.models import LambdaFunction, lambda_backends
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.s3.models import s3_backends
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from .. import lambda_runner, runtime

log = logging.getLogger(__name__)
_Model = TypeVar("_Model")


class ResourceFailed(Exception):
    """A resource could not be created, updated or deleted; the message is the stack event's."""


def _props(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return dict(cloudformation_json.get("Properties") or {})


def _replacing(original: Any, new: _Model) -> _Model:
    """Mark ``new`` as replacing ``original``: the engine deletes the original in cleanup,
    after every other resource was created or updated (CloudFormation's order)."""
    new._lc_replaces = original  # type: ignore[attr-defined]
    return new


class LocalModel(CloudFormationModel):
    """Shared plumbing: a physical id, no attributes unless declared, always created."""

    ATTRIBUTES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, physical_id: str, account_id: str, region_name: str, props: dict[str, Any]):
        self._physical_id = physical_id
        self.account_id = account_id
        self.region_name = region_name
        self.props = props

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        # Default: replacement. Subclasses that can update in place override this.
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        """Unused: the engine deletes through ``delete`` on the instance."""

    def delete(self, account_id: str, region_name: str) -> None:
        """Nothing to remove by default."""


# --- AWS::CDK::Metadata ------------------------------------------------------------------


class CdkMetadata(LocalModel):
    """The CDK's analytics resource: on AWS it records nothing you can read back either."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CDK::Metadata"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CdkMetadata:
        return cls(resource_name, account_id, region_name, _props(cloudformation_json))

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: CdkMetadata,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CdkMetadata:
        original_resource.props = _props(cloudformation_json)
        return original_resource


# --- AWS::S3::BucketPolicy ---------------------------------------------------------------


class BucketPolicy(LocalModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @staticmethod
    def _backend(account_id: str) -> Any:
        return s3_backends[account_id]["aws"]

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> BucketPolicy:
        props = _props(cloudformation_json)
        bucket = props["Bucket"]
        document = props["PolicyDocument"]
        cls._backend(account_id).put_bucket_policy(bucket, json.dumps(document).encode())
        return cls(resource_name, account_id, region_name, props)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: BucketPolicy,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> BucketPolicy:
        props = _props(cloudformation_json)
        if props["Bucket"] != original_resource.props["Bucket"]:
            original_resource.delete(account_id, region_name)
        document = json.dumps(props["PolicyDocument"]).encode()
        cls._backend(account_id).put_bucket_policy(props["Bucket"], document)
        original_resource.props = props
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = self._backend(account_id)
        if self.props["Bucket"] in backend.buckets:
            backend.delete_bucket_policy(self.props["Bucket"])


# --- AWS::SES::* (receiving) -------------------------------------------------------------


def _ses(account_id: str, region_name: str) -> Any:
    return ses_backends[account_id][region_name]


class ReceiptRuleSet(LocalModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SES::ReceiptRuleSet"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "RuleSetName"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ReceiptRuleSet:
        props = _props(cloudformation_json)
        name = props.get("RuleSetName") or _ses_name(resource_name)
        _ses(account_id, region_name).create_receipt_rule_set(name)
        return cls(name, account_id, region_name, props)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: ReceiptRuleSet,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> ReceiptRuleSet:
        props = _props(cloudformation_json)
        if props.get("RuleSetName", original_resource.physical_resource_id) == (
            original_resource.physical_resource_id
        ):
            original_resource.props = props
            return original_resource
        # A new name replaces the set: the new one first, the old one in cleanup.
        return _replacing(
            original_resource,
            cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            ),
        )

    def delete(self, account_id: str, region_name: str) -> None:
        # Refused by SES while the set is active (SES_FACTS.md), as on AWS.
        _ses(account_id, region_name).delete_receipt_rule_set(self.physical_resource_id)


def _ses_name(generated: str) -> str:
    """CloudFormation's generated names, cut to SES's 64 characters and allowed alphabet."""
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in generated)
    return cleaned[-64:].strip("-_.") or "rule"


class ReceiptRule(LocalModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SES::ReceiptRule"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ReceiptRule:
        props = _props(cloudformation_json)
        rule = dict(props.get("Rule") or {})
        rule.setdefault("Name", _ses_name(resource_name))
        # SES checks the bucket policy and the function policy here (see ses_checks).
        _ses(account_id, region_name).create_receipt_rule(
            props["RuleSetName"], rule, props.get("After") or None
        )
        return cls(rule["Name"], account_id, region_name, {**props, "Rule": rule})

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: ReceiptRule,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> ReceiptRule:
        props = _props(cloudformation_json)
        rule = dict(props.get("Rule") or {})
        rule.setdefault("Name", original_resource.physical_resource_id)
        old = original_resource.props
        if props["RuleSetName"] != old["RuleSetName"] or rule["Name"] != old["Rule"]["Name"]:
            # Replacement: create the new rule now; the engine deletes the old one afterwards.
            return _replacing(
                original_resource,
                cls.create_from_cloudformation_json(
                    new_resource_name,
                    {"Properties": {**props, "Rule": rule}},
                    account_id,
                    region_name,
                ),
            )
        backend = _ses(account_id, region_name)
        backend.update_receipt_rule(props["RuleSetName"], rule)
        if (props.get("After") or None) != (old.get("After") or None):
            backend.set_receipt_rule_position(
                props["RuleSetName"], rule["Name"], props.get("After") or None
            )
        original_resource.props = {**props, "Rule": rule}
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        _ses(account_id, region_name).delete_receipt_rule(
            self.props["RuleSetName"], self.physical_resource_id
        )


class EmailIdentity(LocalModel):
    """A domain or address identity; the local cloud treats it as verified at once."""

    ATTRIBUTES = tuple(f"DkimDNSToken{kind}{n}" for kind in ("Name", "Value") for n in (1, 2, 3))

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SES::EmailIdentity"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "EmailIdentity"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> EmailIdentity:
        props = _props(cloudformation_json)
        identity = props["EmailIdentity"]
        backend = _ses(account_id, region_name)
        if identity in backend.email_identities:
            raise ResourceFailed(f"Email identity {identity} already exists")
        dkim = props.get("DkimSigningAttributes") or {"SigningAttributesOrigin": "AWS_SES"}
        config_set = (props.get("ConfigurationSetAttributes") or {}).get("ConfigurationSetName")
        backend.create_email_identity_v2(identity, props.get("Tags"), dkim, config_set)
        return cls(identity, account_id, region_name, props)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: EmailIdentity,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> EmailIdentity:
        props = _props(cloudformation_json)
        if props["EmailIdentity"] != original_resource.physical_resource_id:
            return _replacing(
                original_resource,
                cls.create_from_cloudformation_json(
                    new_resource_name, cloudformation_json, account_id, region_name
                ),
            )
        original_resource.props = props
        return original_resource

    def _tokens(self) -> list[str]:
        seed = f"{self.account_id}:{self.region_name}:{self.physical_resource_id}"
        return [hashlib.sha1(f"{seed}:{n}".encode()).hexdigest()[:32] for n in (1, 2, 3)]

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if not attribute_name.startswith("DkimDNSToken"):
            return super().get_cfn_attribute(attribute_name)
        kind, n = attribute_name[len("DkimDNSToken") : -1], int(attribute_name[-1])
        token = self._tokens()[n - 1]
        if kind == "Name":
            return f"{token}._domainkey.{self.physical_resource_id}"
        return f"{token}.dkim.amazonses.com"

    def delete(self, account_id: str, region_name: str) -> None:
        _ses(account_id, region_name).email_identities.pop(self.physical_resource_id, None)


# --- AWS::Lambda::* ----------------------------------------------------------------------


def _lambda(account_id: str, region_name: str) -> Any:
    return lambda_backends[account_id][region_name]


class LocalLambdaFunction(LambdaFunction):
    """Moto's function model, keeping the properties its CloudFormation path drops."""

    KEPT = ("LoggingConfig", "DeadLetterConfig", "Architectures", "Layers", "TracingConfig")

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LambdaFunction:
        fn = super().create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        _keep_function_properties(fn, _props(cloudformation_json))
        return fn

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: LambdaFunction,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> LambdaFunction:
        props = _props(cloudformation_json)
        if props.get("FunctionName", original_resource.function_name) != (
            original_resource.function_name
        ):
            return _replacing(
                original_resource,
                cls.create_from_cloudformation_json(
                    props["FunctionName"], cloudformation_json, account_id, region_name
                ),
            )
        fn = super().update_from_cloudformation_json(
            original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        _keep_function_properties(fn, props)
        return fn


def _keep_function_properties(fn: LambdaFunction, props: dict[str, Any]) -> None:
    fn.logging_config = props.get("LoggingConfig")  # type: ignore[attr-defined]
    fn.dead_letter_config = props.get("DeadLetterConfig")  # type: ignore[attr-defined]
    if "Environment" not in props:
        fn.environment_vars = {}


class LambdaPermission(LocalModel):
    """``AWS::Lambda::Permission`` whose statement is removed again on delete."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Permission"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LambdaPermission:
        props = _props(cloudformation_json)
        fn = _lambda(account_id, region_name).get_function(props["FunctionName"])
        statement: dict[str, Any] = {
            key: props[key]
            for key in (
                "Action",
                "Principal",
                "SourceAccount",
                "SourceArn",
                "EventSourceToken",
                "PrincipalOrgID",
                "FunctionUrlAuthType",
            )
            if key in props
        }
        sid = _ses_name(resource_name)
        statement["StatementId"] = sid
        fn.policy.add_statement(raw=json.dumps(statement))
        return cls(sid, account_id, region_name, props)

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            fn = _lambda(account_id, region_name).get_function(self.props["FunctionName"])
        except Exception:
            return  # the function is gone, and its policy with it
        fn.policy.statements = [
            s for s in fn.policy.statements if s.get("Sid") != self.physical_resource_id
        ]


class EventInvokeConfig(LocalModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> EventInvokeConfig:
        props = _props(cloudformation_json)
        config = {
            key: props[key]
            for key in ("MaximumEventAgeInSeconds", "MaximumRetryAttempts", "DestinationConfig")
            if key in props
        }
        backend = _lambda(account_id, region_name)
        fn = backend.get_function(props["FunctionName"])
        fn.event_invoke_config = []
        backend.put_function_event_invoke_config(props["FunctionName"], config)
        return cls(resource_name, account_id, region_name, props)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: EventInvokeConfig,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> EventInvokeConfig:
        original_resource.delete(account_id, region_name)
        updated = cls.create_from_cloudformation_json(
            original_resource.physical_resource_id, cloudformation_json, account_id, region_name
        )
        return updated

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            fn = _lambda(account_id, region_name).get_function(self.props["FunctionName"])
        except Exception:
            return
        fn.event_invoke_config = []


# --- AWS::SQS::QueuePolicy, AWS::SNS::TopicPolicy, AWS::SNS::Subscription ----------------


class QueuePolicy(LocalModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> QueuePolicy:
        props = _props(cloudformation_json)
        policy = json.dumps(props["PolicyDocument"])
        backend = sqs_backends[account_id][region_name]
        for url in props.get("Queues") or []:
            backend.set_queue_attributes(url.rstrip("/").rsplit("/", 1)[-1], {"Policy": policy})
        return cls(resource_name, account_id, region_name, props)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = sqs_backends[account_id][region_name]
        for url in self.props.get("Queues") or []:
            name = url.rstrip("/").rsplit("/", 1)[-1]
            if name in backend.queues:
                backend.set_queue_attributes(name, {"Policy": ""})


class TopicPolicy(LocalModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> TopicPolicy:
        props = _props(cloudformation_json)
        backend = sns_backends[account_id][region_name]
        for arn in props.get("Topics") or []:
            backend.set_topic_attribute(arn, "policy", json.dumps(props["PolicyDocument"]))
        return cls(resource_name, account_id, region_name, props)


class Subscription(LocalModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Subscription:
        props = _props(cloudformation_json)
        region = props.get("Region") or region_name
        backend = sns_backends[account_id][region]
        subscription = backend.subscribe(props["TopicArn"], props["Endpoint"], props["Protocol"])
        if props.get("RawMessageDelivery") in (True, "true"):
            subscription.attributes["RawMessageDelivery"] = "true"
        if props.get("FilterPolicy"):
            subscription.attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
        return cls(subscription.arn, account_id, region, props)

    def delete(self, account_id: str, region_name: str) -> None:
        sns_backends[account_id][self.region_name].unsubscribe(self.physical_resource_id)


# --- AWS::CloudWatch::Alarm --------------------------------------------------------------


class Alarm(LocalModel):
    ATTRIBUTES = ("Arn",)

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Alarm:
        props = _props(cloudformation_json)
        name = props.get("AlarmName") or resource_name
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=props.get("Namespace", ""),
            metric_name=props.get("MetricName", ""),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=int(props.get("Period", 60)),
            threshold=float(props.get("Threshold", 0)),
            statistic=props.get("Statistic", ""),
            description=props.get("AlarmDescription", ""),
            dimensions=[
                {"Name": d["Name"], "Value": d["Value"]} for d in props.get("Dimensions") or []
            ],
            alarm_actions=props.get("AlarmActions") or [],
            datapoints_to_alarm=props.get("DatapointsToAlarm"),
            ok_actions=props.get("OKActions") or [],
            insufficient_data_actions=props.get("InsufficientDataActions") or [],
            unit=props.get("Unit"),
            actions_enabled=props.get("ActionsEnabled", True) in (True, "true"),
            treat_missing_data=props.get("TreatMissingData"),
        )
        return cls(name, account_id, region_name, props)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Alarm,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Alarm:
        # put_metric_alarm overwrites by name; a new name is a replacement.
        name = (
            _props(cloudformation_json).get("AlarmName") or original_resource.physical_resource_id
        )
        if name != original_resource.physical_resource_id:
            original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            name, cloudformation_json, account_id, region_name
        )

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return (
                f"arn:aws:cloudwatch:{self.region_name}:{self.account_id}:alarm:"
                f"{self.physical_resource_id}"
            )
        return super().get_cfn_attribute(attribute_name)

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.physical_resource_id])


# --- Custom resources --------------------------------------------------------------------


class CustomResource(LocalModel):
    """``Custom::*`` and ``AWS::CloudFormation::CustomResource``, backed by a Lambda function.

    Moto starts the function in a Docker container on a thread and never sends Update or
    Delete. Here each request runs synchronously through the local Lambda runner; the function
    answers on the ResponseURL (served by the local cloud), and a FAILED answer fails the stack
    operation with the function's Reason, as on AWS.
    """

    #: Set by the engine before each call: stack id and logical id of the resource.
    context: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        physical_id: str,
        account_id: str,
        region_name: str,
        props: dict[str, Any],
        data: dict[str, Any],
        resource_type: str,
    ):
        super().__init__(physical_id, account_id, region_name, props)
        self.data = data
        self.resource_type = resource_type

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFormation::CustomResource"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.data:
            raise ResourceFailed(
                f"CustomResource attribute error: Vendor response doesn't contain "
                f"{attribute_name} key in object {self.physical_resource_id}"
            )
        return self.data[attribute_name]

    @classmethod
    def _request(
        cls,
        request_type: str,
        props: dict[str, Any],
        account_id: str,
        region_name: str,
        physical_id: str | None = None,
        old_props: dict[str, Any] | None = None,
        resource_type: str = "AWS::CloudFormation::CustomResource",
    ) -> dict[str, Any]:
        rt = runtime.current()
        token = f"{uuid.uuid4()}"
        stack_id = cls.context.get("StackId", "")
        logical_id = cls.context.get("LogicalId", "")
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": props["ServiceToken"],
            "ResponseURL": f"{rt.endpoint_url}/_localcloud/cfn-response/{token}",
            "StackId": stack_id,
            "RequestId": token,
            "LogicalResourceId": logical_id,
            "ResourceType": cls.context.get("ResourceType", resource_type),
            "ResourceProperties": props,
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_props is not None:
            event["OldResourceProperties"] = old_props
        service_token = props["ServiceToken"]
        if ":lambda:" not in service_token:
            raise ResourceFailed(
                f"ServiceToken {service_token} is not a Lambda function; the local cloud "
                "runs Lambda-backed custom resources only"
            )
        try:
            fn = _lambda(account_id, region_name).get_function(service_token)
        except Exception as exc:
            raise ResourceFailed(f"Custom resource function {service_token} not found") from exc
        pending = rt.expect_response(token)
        try:
            invocation = lambda_runner.invoke(fn, event)
            if not pending.event.wait(timeout=2.0 if not invocation.ok else 5.0):
                detail = (
                    (invocation.error or {}).get("errorMessage")
                    if not invocation.ok
                    else ("the function returned without answering the ResponseURL")
                )
                raise ResourceFailed(
                    f"Custom resource {logical_id} got no response from {fn.function_name}: "
                    f"{detail} (see CloudWatch Logs {invocation.log_group})"
                )
        finally:
            rt.forget_response(token)
        body = pending.body or {}
        if body.get("Status") != "SUCCESS":
            reason = body.get("Reason") or "no reason given"
            raise ResourceFailed(
                f"Received response status [FAILED] from custom resource. Message returned: "
                f"{reason} (RequestId: {token})"
            )
        return body

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CustomResource:
        props = _props(cloudformation_json)
        body = cls._request("Create", props, account_id, region_name)
        physical_id = body.get("PhysicalResourceId") or resource_name
        return cls(
            physical_id,
            account_id,
            region_name,
            props,
            body.get("Data") or {},
            cloudformation_json.get("Type", cls.cloudformation_type()),
        )

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: CustomResource,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CustomResource:
        props = _props(cloudformation_json)
        body = cls._request(
            "Update",
            props,
            account_id,
            region_name,
            physical_id=original_resource.physical_resource_id,
            old_props=original_resource.props,
        )
        physical_id = body.get("PhysicalResourceId") or original_resource.physical_resource_id
        updated = cls(
            physical_id,
            account_id,
            region_name,
            props,
            body.get("Data") or {},
            original_resource.resource_type,
        )
        if physical_id != original_resource.physical_resource_id:
            # A new physical id: CloudFormation sends Delete for the old one during cleanup.
            return _replacing(original_resource, updated)
        return updated

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            _lambda(account_id, region_name).get_function(self.props["ServiceToken"])
        except Exception:
            # CloudFormation would wait an hour and fail; locally say so at once.
            raise ResourceFailed(
                f"Custom resource function {self.props['ServiceToken']} no longer exists, so "
                "the Delete request cannot be sent"
            ) from None
        self._request(
            "Delete", self.props, account_id, region_name, physical_id=self.physical_resource_id
        )


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
        QueuePolicy,
        TopicPolicy,
        Subscription,
        Alarm,
        CustomResource,
    )
}

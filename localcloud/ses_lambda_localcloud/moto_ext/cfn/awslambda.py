"""``AWS::Lambda::Function`` (moto's model, keeping what its CloudFormation path drops),
``AWS::Lambda::Permission`` (removable again), ``AWS::Lambda::EventInvokeConfig`` and
``AWS::Lambda::LayerVersion``."""

from __future__ import annotations

import json
from typing import Any

from ..moto_internals import LambdaFunction, lambda_backends
from .base import LocalModel, ResourceFailed, generated_name, properties, replacing


def lambda_backend(account_id: str, region_name: str) -> Any:
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
        _keep_function_properties(fn, properties(cloudformation_json))
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
        props = properties(cloudformation_json)
        if props.get("FunctionName", original_resource.function_name) != (
            original_resource.function_name
        ):
            return replacing(
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
    # Moto's CloudFormation path drops Layers: the versions, in order, as the API keeps them
    # (an unknown version fails the resource, as on AWS).
    fn.layers = fn._get_layers_data(list(props.get("Layers") or []))
    fn.logging_config = props.get("LoggingConfig")  # type: ignore[attr-defined]
    fn.dead_letter_config = props.get("DeadLetterConfig")  # type: ignore[attr-defined]
    if "Environment" not in props:
        fn.environment_vars = {}


class LambdaPermission(LocalModel):
    """``AWS::Lambda::Permission`` whose statement is removed again on delete."""

    RESOURCE_TYPE = "AWS::Lambda::Permission"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LambdaPermission:
        props = properties(cloudformation_json)
        fn = lambda_backend(account_id, region_name).get_function(props["FunctionName"])
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
        sid = generated_name(resource_name)
        statement["StatementId"] = sid
        fn.policy.add_statement(raw=json.dumps(statement))
        return cls(sid, account_id, region_name, props)

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            fn = lambda_backend(account_id, region_name).get_function(self.props["FunctionName"])
        except Exception:
            return  # the function is gone, and its policy with it
        fn.policy.statements = [
            s for s in fn.policy.statements if s.get("Sid") != self.physical_resource_id
        ]


class EventInvokeConfig(LocalModel):
    RESOURCE_TYPE = "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> EventInvokeConfig:
        props = properties(cloudformation_json)
        config = {
            key: props[key]
            for key in ("MaximumEventAgeInSeconds", "MaximumRetryAttempts", "DestinationConfig")
            if key in props
        }
        backend = lambda_backend(account_id, region_name)
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
            fn = lambda_backend(account_id, region_name).get_function(self.props["FunctionName"])
        except Exception:
            return
        fn.event_invoke_config = []


class LayerVersion(LocalModel):
    """``AWS::Lambda::LayerVersion`` published to moto's Lambda backend.

    Moto's own model ignores ``LayerName`` and ``CompatibleArchitectures`` and has no physical
    id, so a ``Ref`` to it would not resolve. As the CloudFormation resource reference
    "AWS::Lambda::LayerVersion" documents: ``Ref`` (and ``Fn::GetAtt LayerVersionArn``) return
    the version's ARN; every property change needs replacement (a new version is published, the
    old one deleted in cleanup unless ``UpdateReplacePolicy`` is ``Retain``); delete removes the
    version.
    """

    ATTRIBUTES = ("LayerVersionArn",)
    RESOURCE_TYPE = "AWS::Lambda::LayerVersion"
    NAME_PROPERTY = "LayerName"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> LayerVersion:
        props = properties(cloudformation_json)
        spec: dict[str, Any] = {
            "LayerName": props.get("LayerName") or generated_name(resource_name),
            "Content": props["Content"],
        }
        for key in (
            "Description",
            "CompatibleRuntimes",
            "CompatibleArchitectures",
            "LicenseInfo",
        ):
            if key in props:
                spec[key] = props[key]
        version = lambda_backend(account_id, region_name).publish_layer_version(spec)
        if not version.code_bytes:
            raise ResourceFailed(
                f"Content of layer {spec['LayerName']!r} names no object: {props['Content']!r}"
            )
        return cls(str(version.arn), account_id, region_name, props)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: LayerVersion,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> LayerVersion:
        return replacing(
            original_resource,
            cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            ),
        )

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "LayerVersionArn":
            return self.physical_resource_id
        return super().get_cfn_attribute(attribute_name)

    def delete(self, account_id: str, region_name: str) -> None:
        layer_arn, _, number = self.physical_resource_id.rpartition(":")
        try:
            lambda_backend(account_id, region_name).delete_layer_version(layer_arn, number)
        except Exception:
            return  # already gone

"""Custom resources (``Custom::*``, ``AWS::CloudFormation::CustomResource``) run through the
local Lambda runner instead of moto's Docker path."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from ... import lambda_runner, runtime
from .awslambda import lambda_backend
from .base import LocalModel, ResourceFailed, properties, replacing


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

    RESOURCE_TYPE = "AWS::CloudFormation::CustomResource"

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
            fn = lambda_backend(account_id, region_name).get_function(service_token)
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
        props = properties(cloudformation_json)
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
        props = properties(cloudformation_json)
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
            return replacing(original_resource, updated)
        return updated

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            lambda_backend(account_id, region_name).get_function(self.props["ServiceToken"])
        except Exception:
            # CloudFormation would wait an hour and fail; locally say so at once.
            raise ResourceFailed(
                f"Custom resource function {self.props['ServiceToken']} no longer exists, so "
                "the Delete request cannot be sent"
            ) from None
        self._request(
            "Delete", self.props, account_id, region_name, physical_id=self.physical_resource_id
        )

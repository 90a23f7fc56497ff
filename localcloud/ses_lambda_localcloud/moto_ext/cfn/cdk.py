"""``AWS::CDK::Metadata``: the CDK's analytics resource, accepted and kept."""

from __future__ import annotations

from typing import Any

from .base import LocalModel, properties


class CdkMetadata(LocalModel):
    """The CDK's analytics resource: on AWS it records nothing you can read back either."""

    RESOURCE_TYPE = "AWS::CDK::Metadata"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CdkMetadata:
        return cls(resource_name, account_id, region_name, properties(cloudformation_json))

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: CdkMetadata,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CdkMetadata:
        original_resource.props = properties(cloudformation_json)
        return original_resource

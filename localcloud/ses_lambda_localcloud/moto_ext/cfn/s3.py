"""``AWS::S3::BucketPolicy`` on moto's S3 backend (moto has no model for it)."""

from __future__ import annotations

import json
from typing import Any

from ..moto_internals import s3_backends
from .base import LocalModel, properties


class BucketPolicy(LocalModel):
    RESOURCE_TYPE = "AWS::S3::BucketPolicy"

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
        props = properties(cloudformation_json)
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
        props = properties(cloudformation_json)
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

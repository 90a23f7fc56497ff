"""S3: bucket policy conditions evaluated (the CDK bootstrap bucket's), and CloudFormation's
refusal to delete a bucket that still holds objects."""

from __future__ import annotations

from typing import Any

from ... import policy
from ...object_journal import JOURNAL
from ..moto_internals import (
    BucketNotEmpty,
    FakeBucket,
    FakeKey,
    PermissionResult,
    S3Backend,
    s3_backends,
)
from .patching import patch


def apply() -> None:
    _patch_s3_policy_conditions()
    _patch_s3_bucket_delete()
    _patch_s3_journal()


def _patch_s3_journal() -> None:
    @patch(S3Backend, "put_object")
    def put_object(
        self: S3Backend, bucket_name: str, key_name: str, *args: Any, **kwargs: Any
    ) -> FakeKey:
        # Not a correction: every stored object (PutObject, CopyObject and
        # CompleteMultipartUpload all end here) goes into the journal that `show` reads.
        key: FakeKey = put_object.original(self, bucket_name, key_name, *args, **kwargs)  # type: ignore[attr-defined]
        JOURNAL.add(bucket_name, key_name, key.size)
        return key


def _patch_s3_bucket_delete() -> None:
    original = FakeBucket.delete_from_cloudformation_json

    def delete_from_cloudformation_json(
        cls: type[FakeBucket],
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> None:
        # Moto deleted a bucket with objects in it; S3 refuses ("BucketNotEmpty"), so the
        # stack's DELETE fails on AWS unless the bucket is emptied or retained.
        bucket = s3_backends[account_id]["aws"].buckets.get(resource_name)
        if bucket is not None and len(bucket.keys) > 0:
            raise BucketNotEmpty(resource_name)
        original(resource_name, cloudformation_json, account_id, region_name)

    FakeBucket.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)  # type: ignore[method-assign,assignment]


def _patch_s3_policy_conditions() -> None:
    @patch(FakeBucket, "get_permission")
    def get_permission(self: FakeBucket, action: str, resource: str) -> PermissionResult:
        # Moto evaluated Conditions against an empty request context, so the CDK bootstrap
        # bucket's "Deny unless aws:SecureTransport" denied every asset upload. The local
        # endpoint stands in for AWS's HTTPS endpoint, so requests count as secure transport;
        # the request's own S3 condition keys (its encryption headers) are in the context too.
        # A request the IAM gate evaluated (a function's) had the bucket policy evaluated there,
        # with its principal; this check is for the others.
        from ...iam.gate import S3_REQUEST

        if S3_REQUEST.evaluated:
            return PermissionResult.NEUTRAL
        if action == "s3:HeadObject":
            action = "s3:GetObject"  # HEAD needs s3:GetObject (S3 API reference, HeadObject)
        decision = policy.evaluate(
            self.policy,
            policy.Request(
                action=action,
                resource=resource,
                context=S3_REQUEST.context or {"aws:SecureTransport": "true"},
            ),
        )
        return {
            policy.Decision.ALLOW: PermissionResult.PERMITTED,
            policy.Decision.DENY: PermissionResult.DENIED,
            policy.Decision.NEUTRAL: PermissionResult.NEUTRAL,
        }[decision]

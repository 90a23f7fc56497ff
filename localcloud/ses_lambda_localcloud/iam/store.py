"""The policies that apply to a request, read from the local cloud's resources (moto's
backends): the role's identity-based policies and permissions boundary, and the resource-based
policy of the resource the ARN names (bucket, queue, topic, function, bus, KMS key, secret)."""

from __future__ import annotations

import json
from typing import Any

from ..moto_ext.moto_internals import (
    events_backends,
    iam_backends,
    kms_backends,
    lambda_backends,
    s3_backends,
    secretsmanager_backends,
    ses_backends,
    sns_backends,
    sqs_backends,
)
from .calls import KmsLookup
from .evaluation import Policies
from .language import Principal


def _default_document(policy: Any) -> Any:
    for version in getattr(policy, "versions", []):
        if version.is_default:
            return version.document
    return getattr(policy, "document", None)


def _find_role(account: str, role_arn: str) -> Any:
    backend = iam_backends[account]["global"]
    return next((r for r in list(backend.roles.values()) if r.arn == role_arn), None)


def identity_policies(principal: Principal) -> tuple[list[Any], Any]:
    """The role's inline and managed policies, and its permissions boundary (or None)."""
    if not principal.role_arn:
        return [], None
    role = _find_role(principal.account, principal.role_arn)
    if role is None:
        # A role that does not exist grants nothing (its sessions could not exist on AWS).
        return [], None
    documents: list[Any] = list(role.policies.values())
    documents += [_default_document(p) for p in list(role.managed_policies.values())]
    boundary = None
    if role.permissions_boundary_arn:
        backend = iam_backends[principal.account]["global"]
        managed = backend.managed_policies.get(role.permissions_boundary_arn)
        # A boundary this store cannot find allows nothing (fail closed).
        boundary = _default_document(managed) if managed is not None else {"Statement": []}
    return [d for d in documents if d is not None], boundary


def _lambda_policy(fn: Any) -> dict[str, Any]:
    statements = [dict(s) for s in fn.policy.statements] if fn.policy else []
    for statement in statements:
        # Function policies name the function ARN, sometimes with a qualifier.
        resource = statement.get("Resource")
        if isinstance(resource, str) and resource.startswith(fn.function_arn + ":"):
            statement["Resource"] = [resource, fn.function_arn]
    return {"Statement": statements}


def resource_policies(resource: str, account: str, region: str) -> Policies:
    """The resource-based policy for an ARN, with how the service names it."""
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return Policies()
    service, res_region = parts[2], parts[3] or region
    if service == "s3":
        bucket = s3_backends[account]["aws"].buckets.get(parts[5].split("/", 1)[0])
        return Policies(
            resource=bucket.policy if bucket is not None else None,
            resource_kind="resource-based policy",
        )
    if service == "sqs":
        queue = sqs_backends[account][res_region].queues.get(parts[5])
        return Policies(resource=queue.policy if queue is not None else None)
    if service == "sns":
        topic = sns_backends[account][res_region].topics.get(resource)
        return Policies(resource=topic.policy if topic is not None else None)
    if service == "lambda":
        try:
            fn = lambda_backends[account][res_region].get_function(resource)
        except Exception:
            return Policies()
        return Policies(resource=_lambda_policy(fn))
    if service == "events":
        name = parts[5].split("/", 1)[-1]
        bus = events_backends[account][res_region].event_buses.get(name)
        return Policies(resource=bus.policy if bus is not None else None)
    if service == "kms":
        backend = kms_backends[account][res_region]
        key = backend.keys.get(parts[5].split("/", 1)[-1])
        # The key policy is the primary control: it must allow or delegate to IAM ("Key
        # policies in AWS KMS"). A key that does not exist: nothing allows its use.
        return Policies(
            resource=key.policy if key is not None else {"Statement": []},
            resource_required=True,
            resource_kind="key policy",
        )
    if service == "secretsmanager":
        secret = secretsmanager_backends[account][res_region].secrets.get(resource)
        return Policies(resource=getattr(secret, "policy", None) if secret is not None else None)
    if service == "iam" and ":role/" in resource:
        role = _find_role(account, resource)
        return Policies(
            resource=role.assume_role_policy_document if role is not None else {"Statement": []},
            resource_required=True,
            resource_kind="trust policy",
        )
    return Policies()


class MotoLookup(KmsLookup):
    """Encryption settings and identities, read from moto's backends."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region

    def key_arn(self, key_id: str) -> str | None:
        backend = kms_backends[self.account][self.region]
        try:
            raw = backend.any_id_to_key_id(key_id)
        except Exception:
            return None
        key = backend.keys.get(raw)
        return str(key.arn) if key is not None else None

    def _bucket_default(self, bucket: str) -> tuple[str, str]:
        found = s3_backends[self.account]["aws"].buckets.get(bucket)
        if found is None or not found.encryption:
            return "", ""
        default = found.encryption["Rule"]["ApplyServerSideEncryptionByDefault"]
        return str(default.get("SSEAlgorithm") or ""), str(default.get("KMSMasterKeyID") or "")

    def object_key(self, bucket: str, key: str) -> str | None:
        found = s3_backends[self.account]["aws"].buckets.get(bucket)
        if found is None:
            return None
        stored = found.keys.get(key)
        if stored is None or stored.encryption != "aws:kms":
            return None
        # No key id stored: the AWS managed key aws/s3, whose policy lets every principal of
        # the account use it through S3 ("AWS managed keys"); not evaluated here.
        return self.key_arn(stored.kms_key_id) if stored.kms_key_id else None

    def put_key(self, bucket: str, sse: str, key_id: str) -> str | None:
        default_sse, default_key = self._bucket_default(bucket)
        algorithm = sse or default_sse
        if algorithm not in ("aws:kms", "aws:kms:dsse"):
            return None
        chosen = key_id or (default_key if not sse or sse == default_sse else "")
        return self.key_arn(chosen) if chosen else None

    def s3_encryption_context(self, bucket: str, key: str) -> str:
        found = s3_backends[self.account]["aws"].buckets.get(bucket)
        bucket_key = bool(
            found and found.encryption and found.encryption["Rule"].get("BucketKeyEnabled")
        )
        # With an S3 Bucket Key the encryption context is the bucket's ARN, else the object's
        # (S3 User Guide, "Encryption context").
        return f"arn:aws:s3:::{bucket}" if bucket_key else f"arn:aws:s3:::{bucket}/{key}"

    def queue_key(self, queue_arn: str) -> str | None:
        parts = queue_arn.split(":")
        queue = sqs_backends[self.account][parts[3]].queues.get(parts[5])
        key_id = getattr(queue, "kms_master_key_id", None) if queue is not None else None
        if not key_id or key_id == "alias/aws/sqs":
            # SSE-SQS or the AWS managed key: no customer key policy to evaluate.
            return None
        return self.key_arn(str(key_id))

    def topic_key(self, topic_arn: str) -> str | None:
        region = topic_arn.split(":")[3]
        topic = sns_backends[self.account][region].topics.get(topic_arn)
        key_id = getattr(topic, "kms_master_key_id", "") if topic is not None else ""
        if not key_id or key_id == "alias/aws/sns":
            return None
        return self.key_arn(str(key_id))

    def ses_identity_exists(self, identity: str) -> bool:
        backend = ses_backends[self.account][self.region]
        return identity in backend.email_identities or identity in getattr(backend, "addresses", [])

    def _secret(self, secret_id: str) -> Any:
        region = secret_id.split(":")[3] if secret_id.startswith("arn:") else self.region
        return secretsmanager_backends[self.account][region].secrets.get(secret_id)

    def secret_arn(self, secret_id: str) -> str | None:
        secret = self._secret(secret_id)
        return str(secret.arn) if secret is not None else None

    def secret_key(self, secret_arn: str) -> str | None:
        secret = self._secret(secret_arn)
        key_id = getattr(secret, "kms_key_id", None) if secret is not None else None
        if not key_id or key_id == "alias/aws/secretsmanager":
            # The AWS managed key: its policy lets the account's principals use it through
            # Secrets Manager ("AWS managed keys"); not evaluated here.
            return None
        return self.key_arn(str(key_id))


def policy_json(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)

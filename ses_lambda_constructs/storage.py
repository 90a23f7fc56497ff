"""Raw-message storage: the bucket SES writes each message to, and the policy that lets it."""

from __future__ import annotations

import jsii
from aws_cdk import Annotations, Duration, IStableListProducer, Lazy, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from ._bundled import contract
from .acknowledgments import acknowledge, acknowledge_inline_policy, nag_arn
from .limits import ValidationError, is_unresolved, validate_prefix, validate_s3_action_region

SES_PRINCIPAL = "ses.amazonaws.com"
#: Default key prefix of the raw messages SES stores.
DEFAULT_RAW_PREFIX: str = contract().RAW_PREFIX


@jsii.implements(IStableListProducer)
class _RuleArns:
    """The receipt rules that store into a bucket, known once every rule is bound."""

    def __init__(self, arns: list[str]) -> None:
        self._arns = arns

    def produce(self) -> list[str]:
        return list(self._arns)


class RawMessageStore(Construct):
    """A bucket and prefix that SES stores raw messages in, ready for receipt rules to use.

    By default a new bucket is defined with SSE-S3 encryption, versioning, SSL enforced, public
    access blocked, object ownership enforced and ``RemovalPolicy.RETAIN``: received mail
    outlives the stack. Pass ``bucket`` to store into a bucket of your own instead.

    Without a KMS key, SES writes with its service principal: the store adds one bucket-policy
    statement allowing ``s3:PutObject`` on ``bucket/prefix*`` for ``ses.amazonaws.com``,
    conditioned on ``aws:SourceAccount`` and on ``aws:SourceArn`` listing exactly the receipt
    rules that store into it. SES test-writes an object under the prefix when a rule is created,
    so every rule that uses the store depends on that policy (see :meth:`allow_ses_put`).

    With ``encryption_key`` (default encryption SSE-KMS with a customer managed key), SES writes
    through :attr:`ses_role` instead, the S3 action's ``IamRoleArn``: SES then uses the role and
    only the role, which may put objects under the prefix and use the key to encrypt, generate
    data keys and decrypt (a multipart upload needs the last); its trust policy admits
    ``ses.amazonaws.com`` for this account and these rules only (docs/ses-facts.md, "S3 action").

    SES does not store into a bucket in an opt-in region: an S3 action into one is refused when
    the rule is defined (:meth:`check_ses_can_store`).

    Objects written by SES's own ``KmsKeyArn`` option are client-side encrypted and cannot be
    read with a plain ``GetObject``; the store never asks SES for it.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: s3.IBucket | None = None,
        object_key_prefix: str = DEFAULT_RAW_PREFIX,
        expiration: Duration | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        server_access_logs_bucket: s3.IBucket | None = None,
        encryption_key: kms.IKey | None = None,
        versioned: bool = True,
        replication_destination: s3.IBucket | None = None,
        replication_key: kms.IKey | None = None,
    ) -> None:
        """
        :param bucket: the bucket to store into. Default: a new encrypted, private bucket.
        :param object_key_prefix: key prefix of the raw messages; SES writes
            ``<prefix><messageId>``. Default: ``raw/``.
        :param expiration: delete raw messages this long after they arrive. Default: kept forever.
        :param removal_policy: what happens to a bucket defined here when the stack is deleted.
            Default: ``RETAIN``. Ignored when ``bucket`` is given.
        :param server_access_logs_bucket: where a bucket defined here writes access logs
            (under ``access-logs/``). Default: no access logging.
        :param encryption_key: customer managed key of the bucket's default encryption (SSE-KMS,
            with an S3 Bucket Key to keep KMS requests few); with ``bucket``, the key that bucket
            is encrypted with. SES then writes through :attr:`ses_role`.
            Default: SSE-S3 for a bucket defined here, else ``bucket.encryption_key``.
        :param versioned: versioning of a bucket defined here (raw mail is the system of
            record: an overwrite or delete keeps the previous version). Noncurrent versions
            expire after ``expiration`` too. Default: ``True``.
        :param replication_destination: replicate every object of a bucket defined here to this
            versioned bucket (another region or account, for disaster recovery).
            Default: no replication.
        :param replication_key: the key that encrypts replicas in ``replication_destination``
            (needed when ``encryption_key`` is set). Default: the destination bucket's key.
        """
        super().__init__(scope, id)
        self.object_key_prefix = validate_prefix("object_key_prefix", object_key_prefix)
        self._rule_arns: list[str] = []
        self._statement: iam.PolicyStatement | None = None

        owns_bucket = bucket is None
        if bucket is None:
            replication_rules = None
            replication_role: iam.Role | None = None
            if replication_destination is not None:
                if not versioned:
                    raise ValidationError(
                        "replication_destination needs versioned=True (S3 replicates only "
                        "between versioned buckets)"
                    )
                replication_key = replication_key or replication_destination.encryption_key
                if encryption_key is not None and replication_key is None:
                    raise ValidationError(
                        "replication_destination of an SSE-KMS bucket needs replication_key (S3 "
                        "re-encrypts each replica with a key of the destination's region)"
                    )
                replication_rules = [
                    s3.ReplicationRule(
                        destination=replication_destination,
                        priority=1,
                        kms_key=replication_key,
                        sse_kms_encrypted_objects=True if encryption_key is not None else None,
                        delete_marker_replication=False,
                    )
                ]
                replication_role = iam.Role(
                    self,
                    "ReplicationRole",
                    description="Assumed by S3 to replicate received mail",
                    assumed_by=iam.ServicePrincipal("s3.amazonaws.com"),
                )
            bucket = s3.Bucket(
                self,
                "Bucket",
                encryption=(
                    s3.BucketEncryption.KMS
                    if encryption_key is not None
                    else s3.BucketEncryption.S3_MANAGED
                ),
                encryption_key=encryption_key,
                bucket_key_enabled=True if encryption_key is not None else None,
                versioned=versioned,
                replication_rules=replication_rules,
                replication_role=replication_role,
                enforce_ssl=True,
                minimum_tls_version=1.2,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                removal_policy=removal_policy,
                server_access_logs_bucket=server_access_logs_bucket,
                server_access_logs_prefix="access-logs/" if server_access_logs_bucket else None,
            )
            if replication_role is not None and replication_destination is not None:
                _allow_replication(
                    replication_role,
                    bucket,
                    replication_destination,
                    source_key=encryption_key,
                    destination_key=replication_key,
                )
                for target in (bucket, replication_destination):
                    acknowledge(
                        replication_role,
                        f"AwsSolutions-IAM5[Resource::<{nag_arn(self, target)}>/*]",
                        "S3 replication reads every object version of the source bucket and "
                        "writes replicas into the destination; the role names these two buckets "
                        "only.",
                    )
            if server_access_logs_bucket is None:
                acknowledge(
                    bucket,
                    "AwsSolutions-S1",
                    "Server access logging is opt-in (server_access_logs_bucket): writers "
                    "are SES and the handler only, both under IAM and bucket-policy conditions.",
                )
        else:
            for prop, value in (
                ("server_access_logs_bucket", server_access_logs_bucket),
                ("replication_destination", replication_destination),
            ):
                if value is not None:
                    raise ValidationError(
                        f"{prop} applies only to a bucket the store defines; configure it on "
                        "the bucket you passed instead"
                    )
            if not versioned:
                raise ValidationError(
                    "versioned=False applies only to a bucket the store defines; the bucket you "
                    "passed keeps its own versioning"
                )
            encryption_key = encryption_key or bucket.encryption_key
        if expiration is not None:
            if not isinstance(bucket, s3.Bucket):
                raise ValidationError(
                    "expiration needs a bucket the stack owns (an imported bucket's lifecycle "
                    "rules cannot be changed here); got an imported bucket"
                )
            bucket.add_lifecycle_rule(
                id="ExpireRawMessages",
                prefix=self.object_key_prefix or None,
                expiration=expiration,
            )
            if versioned and owns_bucket:
                bucket.add_lifecycle_rule(
                    id="ExpireNoncurrentVersions", noncurrent_version_expiration=expiration
                )
        self.bucket: s3.IBucket = bucket
        #: How long raw messages are kept, or ``None`` (kept forever).
        self.expiration: Duration | None = expiration
        #: The key of the bucket's default encryption, or ``None`` for SSE-S3.
        self.encryption_key: kms.IKey | None = encryption_key
        #: The role SES assumes to store into an SSE-KMS bucket (the S3 action's IamRoleArn).
        self.ses_role: iam.IRole | None = None
        if encryption_key is not None:
            role = iam.Role(
                self,
                "SesRole",
                description="Assumed by SES to store received mail (S3 action IamRoleArn)",
                assumed_by=iam.ServicePrincipal(
                    SES_PRINCIPAL,
                    conditions={
                        "StringEquals": {
                            "aws:SourceAccount": Stack.of(self).account,
                            "aws:SourceArn": Lazy.list(_RuleArns(self._rule_arns)),
                        }
                    },
                ),
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["s3:PutObject"],
                    resources=[bucket.arn_for_objects(f"{self.object_key_prefix}*")],
                )
            )
            # The S3Action reference lists kms:Encrypt and kms:GenerateDataKey for the role.
            # kms:Decrypt too: a multipart upload into an SSE-KMS bucket needs kms:Decrypt and
            # kms:GenerateDataKey (Amazon S3 User Guide, "Using server-side encryption with AWS
            # KMS keys (SSE-KMS)"), and a large message may be written in parts.
            encryption_key.grant(role, "kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt")
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{nag_arn(self, bucket)}>/{self.object_key_prefix}*]",
                "Object keys are SES message ids, known only when mail arrives; SES may put "
                "objects under this one prefix only.",
            )
            acknowledge_inline_policy(role)
            self.ses_role = role

    def check_ses_can_store(self) -> None:
        """Raise :class:`ValidationError` if SES cannot store into this bucket at all.

        SES does not support S3 buckets in opt-in regions as a destination for inbound mail (SES
        Developer Guide, "Deliver to S3 bucket action"). The bucket's region is its stack's, or
        the region it was imported with; an unresolved region is left to deploy time.
        """
        name = self.bucket.bucket_name
        validate_s3_action_region(
            "the bucket SES stores raw messages in" + ("" if is_unresolved(name) else f" ({name})"),
            self.bucket.env.region,
        )

    def expire_prefix(self, id: str, prefix: str) -> None:
        """Expire objects under ``prefix`` after :attr:`expiration` too (what is derived from a
        raw message, such as its parsed output, goes when the raw message goes). Nothing happens
        when raw messages are kept forever."""
        if self.expiration is None:
            return
        validate_prefix("prefix", prefix, allow_empty=False)
        assert isinstance(self.bucket, s3.Bucket)  # expiration needs a bucket of the stack
        self.bucket.add_lifecycle_rule(id=id, prefix=prefix, expiration=self.expiration)

    def allow_ses_put(self, scope: IConstruct, *, source_arn: str) -> IConstruct | None:
        """Let SES store messages for the receipt rule ``source_arn``; return what to depend on.

        Returns what the receipt rule must depend on: :attr:`ses_role` when the bucket is
        SSE-KMS, else the bucket policy construct, or ``None`` when the bucket is imported and its
        policy cannot be changed here (a warning is added to ``scope`` then: the bucket's owner
        must allow SES to put objects under the prefix).
        """
        self._rule_arns.append(source_arn)
        if self.ses_role is not None:
            # SES uses the role and only the role: no bucket policy is involved.
            return self.ses_role
        if self._statement is None:
            self._statement = iam.PolicyStatement(
                sid="AllowSesPutRawMessages",
                principals=[iam.ServicePrincipal(SES_PRINCIPAL)],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"{self.object_key_prefix}*")],
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": Stack.of(self).account,
                        "aws:SourceArn": Lazy.list(_RuleArns(self._rule_arns)),
                    }
                },
            )
            self.bucket.add_to_resource_policy(self._statement)
        if self.bucket.policy is None:
            Annotations.of(scope).add_warning_v2(
                "ses-lambda-constructs:importedBucketPolicy",
                f"The bucket {self.bucket.bucket_name} is imported, so its policy cannot be set "
                f"here: allow ses.amazonaws.com s3:PutObject on '{self.object_key_prefix}*' "
                "(with aws:SourceAccount and aws:SourceArn conditions) before deploying, or SES "
                "fails to create the rule.",
            )
            return None
        return self.bucket.policy

    def grant_read_raw(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``s3:GetObject`` on the raw messages (this prefix only) and a prefix-bound list.

        With an SSE-KMS bucket, also ``kms:Decrypt`` on its key.
        """
        if self.encryption_key is not None:
            self.encryption_key.grant_decrypt(grantee)
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject"],
            resource_arns=[self.bucket.arn_for_objects(f"{self.object_key_prefix}*")],
        )
        # ListBucket lets a reader tell "no such key" from "access denied".
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:ListBucket"],
            resource_arns=[self.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{self.object_key_prefix}*"]}},
        )
        return grant

    def grant_put(self, grantee: iam.IGrantable, prefix: str) -> iam.Grant:
        """Grant ``s3:PutObject`` under ``prefix`` of the bucket (e.g. the parsed output).

        With an SSE-KMS bucket, also ``kms:GenerateDataKey`` on its key (S3 asks KMS for a data
        key on the writer's behalf).
        """
        validate_prefix("prefix", prefix, allow_empty=False)
        if self.encryption_key is not None:
            self.encryption_key.grant(grantee, "kms:GenerateDataKey")
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:PutObject"],
            resource_arns=[self.bucket.arn_for_objects(f"{prefix}*")],
        )


def _allow_replication(
    role: iam.Role,
    source: s3.IBucket,
    destination: s3.IBucket,
    *,
    source_key: kms.IKey | None,
    destination_key: kms.IKey | None,
) -> None:
    """The permissions S3 documents for a live-replication role, without wildcard actions.

    Source: read the replication configuration, list the bucket and read object versions for
    replication; destination: replicate objects, deletes and tags; with SSE-KMS, decrypt with the
    source key and encrypt with the destination key.
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html)
    """
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
            resources=[source.bucket_arn],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=[
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionTagging",
            ],
            resources=[source.arn_for_objects("*")],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
            resources=[destination.arn_for_objects("*")],
        )
    )
    if source_key is not None:
        source_key.grant(role, "kms:Decrypt")
    if destination_key is not None:
        destination_key.grant(role, "kms:Encrypt")
    acknowledge_inline_policy(role)

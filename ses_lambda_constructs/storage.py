"""Raw-message storage: the bucket SES writes each message to, and the policy that lets it."""

from __future__ import annotations

import jsii
from aws_cdk import Annotations, Duration, IStableListProducer, Lazy, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from .acknowledgments import acknowledge
from .limits import validate_prefix

SES_PRINCIPAL = "ses.amazonaws.com"


@jsii.implements(IStableListProducer)
class _RuleArns:
    """The receipt rules that store into a bucket, known once every rule is bound."""

    def __init__(self, arns: list[str]) -> None:
        self._arns = arns

    def produce(self) -> list[str]:
        return list(self._arns)


class RawMessageStore(Construct):
    """A bucket and prefix that SES stores raw messages in, ready for receipt rules to use.

    By default a new bucket is defined with SSE-S3 encryption, SSL enforced, public access
    blocked, object ownership enforced and ``RemovalPolicy.RETAIN``: received mail outlives the
    stack. Pass ``bucket`` to store into a bucket of your own instead.

    SES needs ``s3:PutObject`` on ``bucket/prefix*`` for ``ses.amazonaws.com``. The store adds
    one statement for that, limited to the prefix and conditioned on ``aws:SourceAccount`` and on
    ``aws:SourceArn`` listing exactly the receipt rules that store into it. SES test-writes an
    object under the prefix when a rule is created, so every rule that uses the store depends on
    the bucket policy (see :meth:`allow_ses_put`).

    Objects written by SES's KMS option are client-side encrypted and cannot be read with a plain
    ``GetObject``; the store therefore never asks SES for it.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: s3.IBucket | None = None,
        object_key_prefix: str = "raw/",
        expiration: Duration | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        server_access_logs_bucket: s3.IBucket | None = None,
    ) -> None:
        """
        :param bucket: the bucket to store into. Default: a new encrypted, private bucket.
        :param object_key_prefix: key prefix of the raw messages; SES writes
            ``<prefix><messageId>``. Default: ``raw/``.
        :param expiration: delete raw messages this long after they arrive. Default: kept forever.
        :param removal_policy: what happens to a bucket defined here when the stack is deleted.
            Default: ``RETAIN``. Ignored when ``bucket`` is given.
        :param server_access_logs_bucket: where a bucket defined here writes access logs.
            Default: no access logging.
        """
        super().__init__(scope, id)
        self.object_key_prefix = validate_prefix("object_key_prefix", object_key_prefix)
        self._rule_arns: list[str] = []
        self._statement: iam.PolicyStatement | None = None

        if bucket is None:
            bucket = s3.Bucket(
                self,
                "Bucket",
                encryption=s3.BucketEncryption.S3_MANAGED,
                enforce_ssl=True,
                minimum_tls_version=1.2,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                removal_policy=removal_policy,
                server_access_logs_bucket=server_access_logs_bucket,
                server_access_logs_prefix="access-logs/" if server_access_logs_bucket else None,
            )
            if server_access_logs_bucket is None:
                acknowledge(
                    bucket,
                    "AwsSolutions-S1",
                    "Server access logging is opt-in (server_access_logs_bucket): writers "
                    "are SES and the handler only, both under IAM and bucket-policy conditions.",
                )
        elif server_access_logs_bucket is not None:
            raise ValueError(
                "server_access_logs_bucket applies only to a bucket the store defines; "
                "configure access logging on the bucket you passed instead"
            )
        if expiration is not None:
            if not isinstance(bucket, s3.Bucket):
                raise ValueError(
                    "expiration needs a bucket the stack owns (an imported bucket's lifecycle "
                    "rules cannot be changed here); got an imported bucket"
                )
            bucket.add_lifecycle_rule(
                id="ExpireRawMessages",
                prefix=self.object_key_prefix or None,
                expiration=expiration,
            )
        self.bucket: s3.IBucket = bucket

    def allow_ses_put(self, scope: IConstruct, *, source_arn: str) -> IConstruct | None:
        """Let SES store messages for the receipt rule ``source_arn``; return what to depend on.

        Returns the bucket policy construct, which the receipt rule must depend on, or ``None``
        when the bucket is imported and its policy cannot be changed here (a warning is added to
        ``scope`` then: the bucket's owner must allow SES to put objects under the prefix).
        """
        self._rule_arns.append(source_arn)
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
        """Grant ``s3:GetObject`` on the raw messages (this prefix only) and a prefix-bound list."""
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

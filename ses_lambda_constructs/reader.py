"""The typed reader for your own functions: a Lambda layer with ``ses_mail``, and the read grant.

A function subscribed to the received-mail events does
``from ses_mail.reader import ReceivedEmail`` with :class:`ReaderLayer` among its layers: Lambda
extracts a layer under ``/opt`` and puts ``/opt/python`` on the Python path
(https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html#packaging-layers-paths), so the
layer holds the package at ``python/ses_mail``. The package is the handler's own pure core
(standard library only; the reader takes the S3 client as an argument), copied from the library's
``lambda_src`` at synth time, so the reader always matches the handler that wrote the events.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .handler_bundle import DEFAULT_RUNTIME, handler_source

#: Where Lambda's Python runtimes look for packages inside a layer.
LAYER_PACKAGE_DIR = "python/ses_mail"
#: ``ses_mail`` needs Python 3.11+ (``datetime.UTC``); it is pure Python, so any architecture.
READER_RUNTIMES = (
    lambda_.Runtime.PYTHON_3_11,
    lambda_.Runtime.PYTHON_3_12,
    lambda_.Runtime.PYTHON_3_13,
    lambda_.Runtime.PYTHON_3_14,
)
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")


def reader_source() -> Path:
    """The ``ses_mail`` package shipped with the library (repository or installed wheel)."""
    return handler_source() / "ses_mail"


@jsii.implements(ILocalBundling)
class _CopyPackage:
    """Copies the package under ``python/ses_mail`` in the asset; needs nothing but Python."""

    def __init__(self, source: Path) -> None:
        self._source = source

    def try_bundle(self, output_dir: str, *args: object, **kwargs: object) -> bool:
        shutil.copytree(
            self._source, Path(output_dir) / LAYER_PACKAGE_DIR, ignore=_IGNORED, dirs_exist_ok=True
        )
        return True


class ReaderLayer(Construct):
    """A Lambda layer holding ``ses_mail`` (the typed event reader) under ``python/``.

    Add :attr:`layer` to a Python function's ``layers`` and import
    ``from ses_mail.reader import ReceivedEmail``: nothing to copy and no CDK in the function.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        compatible_runtimes: Sequence[lambda_.Runtime] = READER_RUNTIMES,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        """
        :param compatible_runtimes: Python runtimes the layer declares. Default: Python 3.11-3.14.
        :param removal_policy: of each replaced layer version. Default: ``DESTROY`` (a layer
            version holds only library code, rebuilt from the library at every synth).
        """
        super().__init__(scope, id)
        source = reader_source()
        self.layer: lambda_.ILayerVersion = lambda_.LayerVersion(
            self,
            "Resource",
            code=lambda_.Code.from_asset(
                str(source),
                asset_hash_type=AssetHashType.SOURCE,
                exclude=["__pycache__", "*.pyc", "*.pyo"],
                bundling=BundlingOptions(
                    image=DEFAULT_RUNTIME.bundling_image,
                    local=_CopyPackage(source),
                    command=[
                        "bash",
                        "-c",
                        f"mkdir -p /asset-output/{LAYER_PACKAGE_DIR} && "
                        f"cp -r --no-preserve=mode . /asset-output/{LAYER_PACKAGE_DIR}",
                    ],
                ),
            ),
            compatible_runtimes=list(compatible_runtimes),
            compatible_architectures=[lambda_.Architecture.X86_64, lambda_.Architecture.ARM_64],
            description="ses-lambda-constructs reader: from ses_mail.reader import ReceivedEmail",
            license="Apache-2.0",
            removal_policy=removal_policy,
        )


def grant_read_objects(grantee: iam.IGrantable, bucket: s3.IBucket, prefix: str) -> iam.Grant:
    """``s3:GetObject`` under ``prefix`` and a ``ListBucket`` bound to it (tells 404 from 403)."""
    grant = iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["s3:GetObject"],
        resource_arns=[bucket.arn_for_objects(f"{prefix}*")],
    )
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["s3:ListBucket"],
        resource_arns=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
    )
    return grant

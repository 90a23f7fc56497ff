"""The local cloud: any CDK app that receives email with SES deployed with the real CDK CLI to a
local AWS endpoint (moto server with this project's extensions), and real mail over SMTP
processed by the deployed rule set and function code. No AWS account, no Docker.

The distribution ``ses-lambda-localcloud`` (moto, aiosmtpd, boto3); never imported by the
construct library.
Importing a module of this package never changes moto: ``moto_ext.install()`` (called by
``LocalCloud.start``) applies the extensions. Commands: ``ses-localcloud --help``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import LocalCloud

__all__ = ["LocalCloud"]


def __getattr__(name: str) -> Any:
    # Lazy: the client commands must not pay for importing moto.
    if name == "LocalCloud":
        from .server import LocalCloud

        return LocalCloud
    raise AttributeError(name)

"""The bundle of ``lambda_src``: one asset for every function the library ships from it."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_

from ._bundled import handler_source
from .bundling import PythonBundle

__all__ = ["DEFAULT_RUNTIME", "HANDLER_BUNDLE_PRUNE", "handler_source", "reference_bundle"]

#: Runtime of the library's functions; pinned so that it changes only with a library release.
DEFAULT_RUNTIME = lambda_.Runtime.PYTHON_3_14


#: Installed files the reference handler and the gate never import (they use Powertools' Logger
#: and Metrics only): pip metadata, Powertools' other features, and jmespath, which the Lambda
#: Python runtime already ships with botocore. About 80% of the zipped asset (BENCHMARKS.md).
HANDLER_BUNDLE_PRUNE = (
    "*.dist-info",
    "jmespath",
    "aws_lambda_powertools/event_handler",
    "aws_lambda_powertools/middleware_factory",
    *(
        f"aws_lambda_powertools/utilities/{name}"
        for name in (
            "auth_alpha",
            "batch",
            "circuit_breaker",
            "data_classes",
            "data_masking",
            "feature_flags",
            "idempotency",
            "kafka",
            "metadata",
            "parameters",
            "parser",
            "streaming",
            "validation",
        )
    ),
)


_BUNDLES: dict[tuple[str, str], PythonBundle] = {}


def reference_bundle(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> PythonBundle:
    """The bundle of ``lambda_src``: handler, gate, ``ses_mail`` and the Powertools they use.

    One bundle per runtime and architecture in a process, so the handler and the gate (and
    every stack of an app) hash the sources once.
    """
    key = (runtime.name, architecture.name)
    if key not in _BUNDLES:
        _BUNDLES[key] = PythonBundle(
            handler_source(),
            runtime=runtime,
            architecture=architecture,
            exclude=["__init__.py", "requirements.in"],
            prune=HANDLER_BUNDLE_PRUNE,
        )
    return _BUNDLES[key]

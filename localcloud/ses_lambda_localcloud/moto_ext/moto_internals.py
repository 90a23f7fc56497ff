"""Every moto name the local cloud uses, in one place: the adapter to moto's internals.

The rule: no other module of the local cloud imports from ``moto`` directly. They import the
names below from here (``from ..moto_ext.moto_internals import s3_backends``). Most of these
are moto's private internals (backends, models, response classes, the CloudFormation parser)
that moto may rename or reshape in any release, which is why moto is pinned. On a moto upgrade
this is the one file to read against the new version: if every name still imports and means
the same, the extensions keep working; then run the local-cloud tests.

Importing this module checks the moto version first, so a wrong moto fails with a clear
message rather than an ``ImportError`` from deep inside moto.
"""

from __future__ import annotations

import moto

#: The moto minor version whose internals the extensions follow (the distribution pins it).
SUPPORTED_MOTO = "5.2."

if not moto.__version__.startswith(SUPPORTED_MOTO):
    raise ImportError(
        f"the local cloud needs moto {SUPPORTED_MOTO}x (ses-lambda-localcloud pins it); "
        f"found {moto.__version__}"
    )

# ruff: noqa: E402  (the version check above comes first on purpose)
from moto import backends as moto_backends_module
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction, lambda_backends
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation.exceptions import (
    AlreadyExistsException,
    CloudFormationError,
    UnformattedGetAttTemplateException,
)
from moto.cloudformation.exceptions import ValidationError as CfnValidationError
from moto.cloudformation.models import (
    ChangeSet,
    CloudFormationBackend,
    Event,
    Stack,
    cloudformation_backends,
)
from moto.cloudformation.responses import CloudFormationResponse
from moto.cloudformation.utils import (
    generate_changeset_id,
    generate_stack_id,
    validate_create_change_set,
)
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.core.responses import ActionResult, EmptyResult
from moto.events.models import EventBus, EventPattern, EventsBackend, events_backends
from moto.events.models import Rule as EventsRule
from moto.iam.access_control import PermissionResult
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.logs.models import logs_backends
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.s3.exceptions import BucketNotEmpty
from moto.s3.models import FakeBucket, FakeKey, S3Backend, s3_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.secretsmanager.utils import random_password
from moto.ses.exceptions import (
    AlreadyExists,
    InvalidLambdaFunctionException,
    InvalidParameterValue,
    InvalidS3ConfigurationException,
    InvalidSnsTopicException,
    MessageRejectedError,
    RuleDoesNotExist,
    RuleSetDoesNotExist,
)
from moto.ses.exceptions import ValidationError as SesValidationError
from moto.ses.models import RawMessage, SESBackend, ses_backends
from moto.ses.responses import EmailResponse
from moto.ses.utils import get_random_message_id
from moto.sesv2.responses import SESV2Response
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

MOTO_VERSION: str = moto.__version__

__all__ = [
    "MOTO_VERSION",
    "SUPPORTED_MOTO",
    "ActionResult",
    "AlreadyExists",
    "AlreadyExistsException",
    "BucketNotEmpty",
    "CfnValidationError",
    "ChangeSet",
    "CloudFormationBackend",
    "CloudFormationError",
    "CloudFormationModel",
    "CloudFormationResponse",
    "DomainDispatcherApplication",
    "EmailResponse",
    "EmptyResult",
    "Event",
    "EventBus",
    "EventPattern",
    "EventsBackend",
    "EventsRule",
    "FakeBucket",
    "FakeKey",
    "InvalidLambdaFunctionException",
    "InvalidParameterValue",
    "InvalidS3ConfigurationException",
    "InvalidSnsTopicException",
    "LambdaClientError",
    "LambdaFunction",
    "MessageRejectedError",
    "MotoRequestHandler",
    "PermissionResult",
    "RawMessage",
    "RuleDoesNotExist",
    "RuleSetDoesNotExist",
    "S3Backend",
    "SESBackend",
    "SESV2Response",
    "SesValidationError",
    "Stack",
    "UnformattedGetAttTemplateException",
    "cfn_parsing",
    "cloudformation_backends",
    "cloudwatch_backends",
    "create_backend_app",
    "disable_global_cors",
    "events_backends",
    "generate_changeset_id",
    "generate_stack_id",
    "get_random_message_id",
    "iam_backends",
    "kms_backends",
    "lambda_backends",
    "logs_backends",
    "moto_api_backend",
    "moto_backends_module",
    "random_password",
    "s3_backends",
    "secretsmanager_backends",
    "ses_backends",
    "sns_backends",
    "sqs_backends",
    "validate_create_change_set",
]


def disable_global_cors() -> None:
    """Moto's server answers CORS for every origin (flask-cors on each service's app) unless
    ``MOTO_DISABLE_GLOBAL_CORS`` was set when moto was imported; the local cloud never wants
    that (``guard`` decides which origins may call it). Applies to the apps moto creates from
    now on, which is every app: moto creates them on their service's first request."""
    from moto.moto_server import werkzeug_app

    werkzeug_app.DISABLE_GLOBAL_CORS = True  # type: ignore[attr-defined]

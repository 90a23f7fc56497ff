"""The reference handler's configuration, read from the environment the construct sets.

See docs/architecture.md ("Reference handler") for the contract; the variables are:

``RAW_MESSAGE_BUCKET``, ``RAW_MESSAGE_PREFIX`` (default ``""``), ``PARSED_PREFIX`` (default
``parsed/``), ``REJECT_ON_VERDICTS`` (default ``spam,virus``), ``MAX_MESSAGE_BYTES`` (default
41943040), ``EVENT_BUS_NAME`` (name or ARN of the EventBridge bus; unset: no events are put) and
``EVENT_SOURCE`` (the events' ``source``, default ``ses-lambda-constructs``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from . import contract
from .errors import ConfigurationError
from .event_detail import DEFAULT_EVENT_SOURCE, MAX_SOURCE_LENGTH
from .mime import DEFAULT_MAX_MESSAGE_BYTES, ParseLimits
from .verdicts import VerdictPolicy

MIN_PARSE_MEMORY = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HandlerConfig:
    """Validated handler settings."""

    raw_bucket: str | None = None
    raw_prefix: str = ""
    parsed_prefix: str = contract.PARSED_PREFIX
    verdict_policy: VerdictPolicy = field(default_factory=VerdictPolicy)
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    event_bus: str | None = None
    """``EVENT_BUS_NAME``: where the event of each stored message is put; ``None``: no events."""
    event_source: str = DEFAULT_EVENT_SOURCE
    reply_address_secret: str | None = None
    """``REPLY_ADDRESS_SECRET_ARN``: the Secrets Manager secret of the reply-address keys; when
    set, signed reply addresses among the recipients are verified."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HandlerConfig:
        """Read and validate the variables; raises :class:`ConfigurationError` naming one."""
        bucket = environ.get("RAW_MESSAGE_BUCKET", "").strip() or None
        raw_prefix = _prefix(environ, "RAW_MESSAGE_PREFIX", "")
        parsed_prefix = _prefix(environ, "PARSED_PREFIX", contract.PARSED_PREFIX)
        verdicts = environ.get("REJECT_ON_VERDICTS")
        policy = (
            VerdictPolicy()
            if verdicts is None
            else VerdictPolicy.from_setting(verdicts, "REJECT_ON_VERDICTS")
        )
        return cls(
            raw_bucket=bucket,
            raw_prefix=raw_prefix,
            parsed_prefix=parsed_prefix,
            verdict_policy=policy,
            max_message_bytes=_positive_int(environ, "MAX_MESSAGE_BYTES"),
            event_bus=_event_bus(environ, "EVENT_BUS_NAME"),
            event_source=_event_source(environ, "EVENT_SOURCE"),
            reply_address_secret=_secret_arn(environ, "REPLY_ADDRESS_SECRET_ARN"),
        )

    def parse_limits(self) -> ParseLimits:
        """Parsing limits: ``max_bytes`` is ``MAX_MESSAGE_BYTES``; the parser's estimated memory
        may reach 4x that (16 MiB at least) before a message counts as a line bomb."""
        return ParseLimits(
            max_bytes=self.max_message_bytes,
            max_parse_memory=max(4 * self.max_message_bytes, MIN_PARSE_MEMORY),
        )


def _prefix(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, default)
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ConfigurationError(name, "must not contain control characters")
    if value.startswith("/"):
        raise ConfigurationError(name, f"{value!r} must not start with '/' (S3 keys have no root)")
    if ".." in value.split("/"):
        raise ConfigurationError(name, f"{value!r} must not contain a '..' segment")
    return value


def _positive_int(environ: Mapping[str, str], name: str) -> int:
    value = environ.get(name, "").strip()
    if not value:
        return DEFAULT_MAX_MESSAGE_BYTES
    try:
        number = int(value)
    except ValueError:
        raise ConfigurationError(name, f"{value!r} is not an integer number of bytes") from None
    if number <= 0:
        raise ConfigurationError(name, f"must be positive, got {number}")
    return number


def _event_bus(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    if not value:
        return None
    # PutEventsRequestEntry EventBusName: a name or an ARN, at most 1600 characters
    # (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html).
    if len(value) > 1600 or any(char.isspace() or ord(char) < 32 for char in value):
        raise ConfigurationError(name, f"{value[:80]!r} is not an event bus name or ARN")
    return value


def _secret_arn(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    if not value:
        return None
    # GetSecretValue SecretId: an ARN or a name, 1 to 2048 characters
    # (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html).
    if len(value) > 2048 or any(char.isspace() or ord(char) < 32 for char in value):
        raise ConfigurationError(name, f"{value[:80]!r} is not a secret ARN or name")
    return value


def _event_source(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        return DEFAULT_EVENT_SOURCE
    # PutEventsRequestEntry Source: 1 to 256 characters; the "aws." prefix is reserved for AWS
    # services (same API reference page).
    if len(value) > MAX_SOURCE_LENGTH:
        raise ConfigurationError(name, f"longer than {MAX_SOURCE_LENGTH} characters")
    if value.startswith("aws."):
        raise ConfigurationError(name, f"{value!r}: the 'aws.' prefix is reserved for AWS")
    return value

"""The settings of an :class:`~ses_lambda_constructs.EmailReceiver`, typed and checked once.

The receiver's constructor turns its props into these frozen values before it defines
anything, so every prop is checked whether or not a route uses it yet, and the routes read
typed values (:attr:`EmailReceiver.settings <ses_lambda_constructs.EmailReceiver.settings>`)
instead of loose keyword dictionaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns

from .event_patterns import validate_event_source
from .limits import (
    MAX_ASYNC_EVENT_AGE_SECONDS,
    MAX_ASYNC_RETRY_ATTEMPTS,
    MIN_ASYNC_EVENT_AGE_SECONDS,
    ValidationError,
    is_unresolved,
    validate_disjoint_prefixes,
    validate_prefix,
)
from .verdicts import Verdict

#: S3 lifecycle expiration is a whole number of days, at least 1 (S3 User Guide, "Lifecycle
#: configuration elements", Days).
_DAY_SECONDS = 86400


def _flag(prop: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{prop} must be True or False; got {value!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class StorageSettings:
    """Where and for how long the raw messages are kept."""

    store_raw_messages: bool
    raw_message_prefix: str
    raw_message_expiration: Duration | None
    removal_policy: RemovalPolicy

    def __post_init__(self) -> None:
        _flag("store_raw_messages", self.store_raw_messages)
        validate_prefix("raw_message_prefix", self.raw_message_prefix)
        expiration = self.raw_message_expiration
        if expiration is not None:
            if not isinstance(expiration, Duration):
                raise ValidationError(
                    f"raw_message_expiration must be a Duration; got {expiration!r}"
                )
            if not expiration.is_unresolved():
                seconds = expiration.to_seconds()
                if seconds < _DAY_SECONDS or seconds % _DAY_SECONDS:
                    raise ValidationError(
                        "raw_message_expiration must be a whole number of days, at least 1 (S3 "
                        "lifecycle rules count days); got "
                        f"{expiration.to_human_string()}"
                    )
        if not isinstance(self.removal_policy, RemovalPolicy):
            raise ValidationError(
                f"removal_policy must be a RemovalPolicy; got {self.removal_policy!r}"
            )


@dataclass(frozen=True, kw_only=True)
class HandlerSettings:
    """What the reference handler (and the library's other Python functions) run with."""

    #: Where the reference handler writes the parsed messages.
    parsed_prefix: str
    #: Verdicts whose ``FAIL`` rejects a message (kept as a tuple of :class:`Verdict`).
    reject_on_verdicts: Sequence[Verdict]
    #: The Python runtime of the reference handler, the forwarders and the verdict gate.
    runtime: lambda_.Runtime

    def __post_init__(self) -> None:
        validate_prefix("parsed_prefix", self.parsed_prefix, allow_empty=False)
        verdicts: object = self.reject_on_verdicts
        if isinstance(verdicts, str):
            raise ValidationError(
                f"reject_on_verdicts must be a list of Verdict; got the string {verdicts!r}"
            )
        normalised: list[Verdict] = []
        for verdict in self.reject_on_verdicts:
            try:
                normalised.append(Verdict(verdict))
            except ValueError:
                raise ValidationError(
                    f"reject_on_verdicts has {verdict!r}, which is not a Verdict (one of "
                    f"{', '.join(v.value for v in Verdict)})"
                ) from None
        # Frozen: the normalised tuple replaces what was given (a list, strings).
        object.__setattr__(self, "reject_on_verdicts", tuple(normalised))
        runtime: object = self.runtime
        if not isinstance(runtime, lambda_.Runtime):
            raise ValidationError(f"handler_runtime must be a lambda Runtime; got {runtime!r}")
        if runtime.family != lambda_.RuntimeFamily.PYTHON:
            raise ValidationError(
                "handler_runtime must be a Python runtime (the reference handler, forwarder and "
                f"verdict gate are Python); got {runtime.name!r}"
            )


@dataclass(frozen=True, kw_only=True)
class FailureSettings:
    """How the library's functions retry a failed asynchronous invocation, and who hears of
    what failed for good."""

    retry_attempts: int
    max_event_age: Duration
    #: The SNS topic the failure alarms notify; ``None``: alarms without actions.
    alarm_topic: sns.ITopic | None

    def __post_init__(self) -> None:
        retry_attempts: object = self.retry_attempts
        if not is_unresolved(retry_attempts) and (
            isinstance(retry_attempts, bool)
            or not isinstance(retry_attempts, int)
            or not 0 <= retry_attempts <= MAX_ASYNC_RETRY_ATTEMPTS
        ):
            raise ValidationError(
                f"retry_attempts must be an integer between 0 and 2 (Lambda's asynchronous "
                f"invocation retries); got {retry_attempts!r}"
            )
        max_event_age: object = self.max_event_age
        if not isinstance(max_event_age, Duration):
            raise ValidationError(f"max_event_age must be a Duration; got {max_event_age!r}")
        if not max_event_age.is_unresolved():
            age = max_event_age.to_seconds()
            if not MIN_ASYNC_EVENT_AGE_SECONDS <= age <= MAX_ASYNC_EVENT_AGE_SECONDS:
                raise ValidationError(
                    "max_event_age must be between 60 seconds and 6 hours (Lambda's asynchronous "
                    f"invocation); got {max_event_age.to_human_string()}"
                )


@dataclass(frozen=True, kw_only=True)
class EventSettings:
    """The bus the received-mail events go to and their ``source``."""

    #: ``None``: a new bus, defined with the reference handler.
    event_bus: events.IEventBus | None
    event_source: str

    def __post_init__(self) -> None:
        validate_event_source("event_source", self.event_source)


@dataclass(frozen=True, kw_only=True)
class ReceiverSettings:
    """Every setting of a receiver, checked separately and together."""

    storage: StorageSettings
    handler: HandlerSettings
    failures: FailureSettings
    events: EventSettings
    #: A first rule whose function stops the rule set for mail failing the verdicts.
    verdict_gate: bool

    def __post_init__(self) -> None:
        _flag("verdict_gate", self.verdict_gate)
        if self.storage.store_raw_messages:
            # The parsed output is written into the raw-message bucket.
            validate_disjoint_prefixes(
                ("raw_message_prefix", self.storage.raw_message_prefix),
                ("parsed_prefix", self.handler.parsed_prefix),
            )
        if self.verdict_gate and not self.handler.reject_on_verdicts:
            raise ValidationError(
                "verdict_gate=True needs at least one verdict in reject_on_verdicts"
            )

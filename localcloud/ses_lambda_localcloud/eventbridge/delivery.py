"""PutEvents -> rules -> targets, with retries and dead-letter queues, recorded for ``show``.

What EventBridge does (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html):
each target of each enabled rule whose pattern matches gets the event. A failed delivery is
retried per the target's ``RetryPolicy`` (``MaximumRetryAttempts``, default 185;
``MaximumEventAgeInSeconds``, default 86400), then sent to the target's ``DeadLetterConfig``
queue, or dropped without one. Errors that no retry can fix (the target does not exist, or
EventBridge may not call it) go to the dead-letter queue at once. The dead-letter message is the
event, with the attributes ``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``,
``EXHAUSTED_RETRY_CONDITION`` and ``RETRY_ATTEMPTS``; the queue's own policy must let
``events.amazonaws.com`` send for the rule, or the event is lost.

Targets: a Lambda function is invoked asynchronously (the function's policy must allow
``events.amazonaws.com`` for the rule; Lambda's own retries and on-failure destination then
apply), an SQS queue gets the event as the message body (its policy is checked the same way).
Other target types are recorded as not emulated. Retries back off exponentially with jitter,
as EventBridge's do ("Event retry policy and using dead-letter queues": up to 185 times over 24
hours "with an exponential back off and jitter"), on a local scale: ``RETRY_BASE_SECONDS``
doubling up to ``RETRY_CAP_SECONDS``. Deliveries run on threads the local cloud owns
(``lifecycle.WORK``); stopping ends their waits and no retry starts after it.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..lifecycle import WORK, Stopping
from ..policy import Decision, Request, evaluate
from . import patterns

log = logging.getLogger(__name__)

EVENTS_PRINCIPAL = {"Service": "events.amazonaws.com"}
DEFAULT_RETRY_ATTEMPTS = 185
DEFAULT_EVENT_AGE_SECONDS = 86400
#: How many put events the journal keeps (oldest forgotten first).
JOURNAL_SIZE = 1000
#: The local scale of EventBridge's back-off: the first retry waits about this long, each
#: next one twice as long (with jitter), never more than ``RETRY_CAP_SECONDS`` (local choices:
#: AWS spreads 185 retries over 24 hours).
RETRY_BASE_SECONDS = 0.05
RETRY_CAP_SECONDS = 5.0


_serving = threading.local()


@contextmanager
def serving() -> Iterator[None]:
    """Mark the current thread as answering a request to the local cloud's endpoint.

    Only such PutEvents calls are delivered here; moto used directly in the same process (a
    test's ``mock_aws``, sharing moto's backends) keeps moto's own delivery.
    """
    previous = getattr(_serving, "active", False)
    _serving.active = True
    try:
        yield
    finally:
        _serving.active = previous


def is_serving() -> bool:
    return bool(getattr(_serving, "active", False))


class DeliveryError(Exception):
    def __init__(self, code: str, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.retriable = retriable


@dataclass
class TargetOutcome:
    id: str
    arn: str
    status: str = "pending"  # delivered | dead-lettered | lost | not emulated
    attempts: int = 0
    error: str | None = None
    dead_letter_queue: str | None = None
    #: For a Lambda target: each attempt of the (asynchronous) invocation.
    invocations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RuleOutcome:
    rule: str
    arn: str
    targets: list[TargetOutcome] = field(default_factory=list)


@dataclass
class PutEvent:
    event_id: str
    bus: str
    source: str
    detail_type: str
    message_id: str | None
    event: dict[str, Any]
    rules_checked: int = 0
    matched: list[RuleOutcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        #: Set once every delivery of this event has finished.
        self.done = threading.Event()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["complete"] = self.done.is_set()
        return data


class Journal:
    """The events put on every bus, what matched and what each target did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[PutEvent] = []

    def add(self, event: PutEvent) -> None:
        with self._lock:
            self._events.append(event)
            del self._events[:-JOURNAL_SIZE]

    def events(self, message_id: str | None = None) -> list[PutEvent]:
        with self._lock:
            found = list(self._events)
        return [e for e in found if message_id is None or e.message_id == message_id]

    def wait(self, message_id: str | None, timeout: float) -> list[PutEvent]:
        """The events of ``message_id``, once every delivery of them has finished."""
        deadline = time.monotonic() + timeout
        found = self.events(message_id)
        for event in found:
            event.done.wait(max(0.0, deadline - time.monotonic()))
        return found

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


JOURNAL = Journal()


def iso_time(value: Any) -> str:
    """An event's ``time`` as EventBridge writes it (ISO 8601, seconds, ``Z``)."""
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, datetime):
        moment = value.astimezone(UTC)
    else:
        return str(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize(event: dict[str, Any]) -> dict[str, Any]:
    """Moto's event message as a target receives it: ISO ``time``, no moto-only fields."""
    shaped = {key: value for key, value in event.items() if key != "ingestion-time"}
    shaped["time"] = iso_time(shaped.get("time"))
    return shaped


def dispatch(bus: Any, event: dict[str, Any], rules: list[Any]) -> PutEvent:
    """Match ``event`` against ``rules`` of ``bus`` and deliver it; returns the journal entry.

    Deliveries run on a thread, as EventBridge delivers after PutEvents has answered.
    """
    raw_detail = event.get("detail")
    detail: dict[str, Any] = raw_detail if isinstance(raw_detail, dict) else {}
    record = PutEvent(
        event_id=str(event.get("id")),
        bus=bus.name,
        source=str(event.get("source")),
        detail_type=str(event.get("detail-type")),
        message_id=str(detail["messageId"]) if isinstance(detail.get("messageId"), str) else None,
        event=event,
        rules_checked=len(rules),
    )
    work: list[tuple[Any, RuleOutcome, TargetOutcome, dict[str, Any]]] = []
    for rule in rules:
        if rule.state != "ENABLED" or rule.scheduled_expression:
            continue
        if not patterns.matches(rule.event_pattern.get_pattern(), event):
            continue
        outcome = RuleOutcome(rule=rule.name, arn=rule.arn)
        record.matched.append(outcome)
        for target in rule.targets:
            result = TargetOutcome(id=str(target.get("Id")), arn=str(target.get("Arn")))
            outcome.targets.append(result)
            work.append((rule, outcome, result, target))
    JOURNAL.add(record)
    if not work:
        record.done.set()
        return record

    def deliver_all() -> None:
        try:
            for rule, _, result, target in work:
                _deliver_with_retries(rule, target, event, result)
        finally:
            record.done.set()

    try:
        WORK.spawn(deliver_all, name=f"events-{record.event_id}")
    except Stopping:
        for _, _, result, _ in work:
            result.status = "lost"
            result.error = "the local cloud was stopping: the event was not delivered"
        record.done.set()
    return record


def retry_delay(attempt: int) -> float:
    """The pause before retry number ``attempt`` (1, 2, ...): exponential, with full jitter."""
    ceiling = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** min(attempt - 1, 30))
    return random.uniform(ceiling / 2, ceiling)


def _pause(seconds: float) -> bool:
    """Wait before a retry; False when the local cloud stops meanwhile (no retry then)."""
    return not WORK.closing.wait(seconds)


def _deliver_with_retries(
    rule: Any, target: dict[str, Any], event: dict[str, Any], result: TargetOutcome
) -> None:
    policy = target.get("RetryPolicy") or {}
    retries = int(policy.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS))
    max_age = float(policy.get("MaximumEventAgeInSeconds", DEFAULT_EVENT_AGE_SECONDS))
    started = time.monotonic()
    error: DeliveryError | None = None
    condition = "MaximumRetryAttempts"
    while True:
        result.attempts += 1
        try:
            _deliver_once(rule, target, event, result)
        except DeliveryError as failure:
            error = failure
        except Exception as failure:  # the emulation itself failed: retriable, and logged once
            if error is None or error.code != "InternalException":
                log.exception("delivery to %s failed", result.arn)
            error = DeliveryError("InternalException", str(failure), retriable=True)
        else:
            if result.status == "pending":
                result.status = "delivered"
            return
        if not error.retriable:
            condition = "NotRetriable"
            break
        if result.attempts > retries:
            break
        if time.monotonic() - started >= max_age:
            condition = "MaximumEventAgeInSeconds"
            break
        if not _pause(retry_delay(result.attempts)):
            result.status = "lost"
            result.error = f"{error.code}: {error} (the local cloud stopped before the retry)"
            return
    result.error = f"{error.code}: {error}"
    _dead_letter(rule, target, event, result, error, condition)


def _deliver_once(
    rule: Any, target: dict[str, Any], event: dict[str, Any], result: TargetOutcome
) -> None:
    from ..moto_ext.moto_internals import lambda_backends, sqs_backends

    arn = result.arn
    parts = arn.split(":")
    service = parts[2] if len(parts) > 5 else ""
    payload = _target_input(target, event)
    context = {
        "aws:SourceAccount": rule.account_id,
        "aws:SourceArn": rule.arn,
        "aws:SecureTransport": "true",
    }
    if service == "lambda":
        try:
            fn = lambda_backends[rule.account_id][rule.region_name].get_function(arn)
        except Exception:
            raise DeliveryError(
                "ResourceNotFoundException", f"Function not found: {arn}", retriable=False
            ) from None
        statements = [dict(s) for s in fn.policy.statements]
        decision = evaluate(
            {"Statement": statements},
            Request("lambda:InvokeFunction", fn.function_arn, EVENTS_PRINCIPAL, context),
        )
        if decision is not Decision.ALLOW:
            raise DeliveryError(
                "NO_PERMISSIONS",
                f"EventBridge may not invoke {fn.function_name}: its policy does not allow "
                "events.amazonaws.com for this rule",
                retriable=False,
            )
        from .. import lambda_async

        # Asynchronous invocation: Lambda accepted the event; its retries and on-failure
        # destination handle the function's errors (here, before the delivery is recorded).
        queued = lambda_async.submit(fn, payload)
        for attempt in queued.wait():
            result.invocations.append(attempt.summary())
        if queued.condition == "Dropped":
            raise DeliveryError(
                "InternalException",
                "the local cloud stopped before the invocation ran",
                retriable=False,
            )
        return
    if service == "sqs":
        backend = sqs_backends[rule.account_id][rule.region_name]
        name = parts[5]
        queue = backend.queues.get(name)
        if queue is None:
            raise DeliveryError(
                "AWS.SimpleQueueService.NonExistentQueue", f"no queue {name}", retriable=False
            )
        allowed = evaluate(
            queue.policy, Request("sqs:SendMessage", queue.queue_arn, EVENTS_PRINCIPAL, context)
        )
        if allowed is not Decision.ALLOW:
            raise DeliveryError(
                "NO_PERMISSIONS",
                f"EventBridge may not send to {name}: its policy does not allow "
                "events.amazonaws.com for this rule",
                retriable=False,
            )
        refusal = _queue_key_refusal(rule, queue.queue_arn, context)
        if refusal:
            raise DeliveryError("NO_PERMISSIONS", refusal, retriable=False)
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        backend.send_message(
            name,
            payload if isinstance(payload, str) else json.dumps(payload),
            group_id=group,
            deduplication_id=str(uuid.uuid4()) if group else None,
        )
        return
    result.status = "not emulated"
    result.error = f"targets of type {service or arn!r} are not emulated by the local cloud"


def _queue_key_refusal(rule: Any, queue_arn: str, context: dict[str, str]) -> str | None:
    """Why EventBridge may not use the customer managed key of an encrypted queue, or None.

    The key policy itself must let ``events.amazonaws.com`` use the key (``kms:GenerateDataKey``
    and ``kms:Decrypt``): a service principal has no identity policies (EventBridge User Guide,
    "Amazon SQS permissions", encrypted queues). Not checked with ``--iam off``; recorded only
    with ``--iam audit``.
    """
    from ..iam import gate, store
    from ..iam.evaluation import evaluate as evaluate_all
    from ..iam.language import Principal
    from ..iam.language import Request as EngineRequest

    if gate.mode() == "off":
        return None
    key_arn = store.MotoLookup(rule.account_id, rule.region_name).queue_key(queue_arn)
    if not key_arn:
        return None
    policies = store.resource_policies(key_arn, rule.account_id, rule.region_name)
    principal = Principal.service("events.amazonaws.com")
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        outcome = evaluate_all(EngineRequest(action, key_arn, principal, context), policies)
        if not outcome.allowed:
            why = (
                f"EventBridge may not use the key {key_arn} of {queue_arn}: {action} refused "
                f"because {outcome.reason}"
            )
            if gate.mode() == "enforce":
                return why
            log.warning("IAM audit: %s", why)
    return None


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """The event, or the target's constant ``Input`` (``InputPath``/transformers: the event)."""
    if "Input" in target:
        try:
            return json.loads(target["Input"])
        except ValueError:
            return target["Input"]
    return event


def _dead_letter(
    rule: Any,
    target: dict[str, Any],
    event: dict[str, Any],
    result: TargetOutcome,
    error: DeliveryError,
    condition: str,
) -> None:
    from ..moto_ext.moto_internals import sqs_backends

    queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not queue_arn:
        result.status = "lost"
        result.error = f"{result.error} (no dead-letter queue: the event is dropped)"
        return
    result.dead_letter_queue = queue_arn
    parts = queue_arn.split(":")
    backend = sqs_backends[parts[4]][parts[3]]
    queue = backend.queues.get(parts[5])
    context = {"aws:SourceAccount": rule.account_id, "aws:SourceArn": rule.arn}
    if queue is None or (
        evaluate(
            queue.policy, Request("sqs:SendMessage", queue.queue_arn, EVENTS_PRINCIPAL, context)
        )
        is not Decision.ALLOW
    ):
        result.status = "lost"
        result.error = (
            f"{result.error} (the dead-letter queue {parts[5]} is missing or its policy does not "
            "let events.amazonaws.com send for this rule)"
        )
        return
    # An SSE-KMS dead-letter queue also needs its key policy to let EventBridge use the key
    # (EventBridge User Guide, "Using dead-letter queues to process undelivered events",
    # encrypted queues); otherwise the event is not delivered to it.
    refusal = _queue_key_refusal(rule, queue.queue_arn, context)
    if refusal:
        result.status = "lost"
        result.error = f"{result.error} (the dead-letter queue {parts[5]}: {refusal})"
        return
    attributes = {
        "RULE_ARN": rule.arn,
        "TARGET_ARN": result.arn,
        "ERROR_CODE": error.code,
        "ERROR_MESSAGE": str(error)[:1000],
        "EXHAUSTED_RETRY_CONDITION": condition,
        "RETRY_ATTEMPTS": str(result.attempts - 1),
    }
    backend.send_message(
        parts[5],
        json.dumps(event),
        message_attributes={
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    )
    result.status = "dead-lettered"


def pending() -> int:
    """Put events whose deliveries have not all finished."""
    return sum(1 for event in JOURNAL.events() if not event.done.is_set())

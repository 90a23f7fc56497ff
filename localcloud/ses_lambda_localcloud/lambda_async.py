"""Asynchronous (``Event``) invocation: Lambda's event queue, retries, event age, destinations.

As https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html describes it: the caller
gets ``202`` once the event is queued; the queue hands events to the function's execution
environments as they are free, so events run concurrently up to the function's concurrency
(``lambda_environments``); each event keeps one request id through its attempts.

- Errors: a function error (an exception, a timeout, a runtime exit) is retried up to
  ``MaximumRetryAttempts`` times (0-2, default 2), AWS waiting about 1 then 2 minutes; locally
  the waits are ``Runtime.async_retry_delay`` seconds times the attempt number.
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
- Age: an event that could not run (no environment free, as when reserved concurrency is 0)
  within ``MaximumEventAgeInSeconds`` (60-21,600, default 21,600) is discarded, with
  condition ``EventAgeExceeded``.
  https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html
- Destinations: the outcome goes to ``DestinationConfig`` ``OnSuccess`` / ``OnFailure`` (SQS, SNS
  or another function, as an invocation record), or a failure to the dead-letter queue.
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import lambda_environments, lambda_runner, runtime
from .lambda_environments import Environment, Slots
from .lambda_runner import Invocation
from .lifecycle import WORK, Stopping

if TYPE_CHECKING:
    from .moto_ext.moto_internals import LambdaFunction

log = logging.getLogger(__name__)

DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 21_600
#: A queue's dispatcher thread ends after this long with nothing queued (it restarts on demand).
_DISPATCHER_IDLE_SECONDS = 30.0


@dataclass
class QueuedEvent:
    """One Event invocation, from queueing to its outcome."""

    fn: LambdaFunction
    event: Any
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    received: float = field(default_factory=time.monotonic)
    attempts: list[Invocation] = field(default_factory=list)
    #: "Success", "RetriesExhausted" or "EventAgeExceeded" once finished; "Dropped" when the
    #: local cloud stopped or reset with the event still queued (no destination, no callback).
    condition: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    on_done: list[Callable[[QueuedEvent], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_done_callback(self, callback: Callable[[QueuedEvent], None]) -> None:
        """Call ``callback(self)`` once finished (at once if it already is)."""
        with self._lock:
            if not self.done.is_set():
                self.on_done.append(callback)
                return
            if self.condition == "Dropped":
                return
        callback(self)

    def wait(self, timeout: float | None = None) -> list[Invocation]:
        """Every attempt once finished; an expired event that never ran gets a stand-in."""
        self.done.wait(timeout)
        if self.attempts or self.condition != "EventAgeExceeded":
            return list(self.attempts)
        config = event_invoke_config(self.fn)
        age = config.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE_SECONDS)
        return [
            Invocation(
                request_id=self.request_id,
                function_name=self.fn.function_name,
                function_arn=self.fn.function_arn,
                ok=False,
                error={
                    "errorType": "EventAgeExceeded",
                    "errorMessage": f"no execution environment was free within the maximum "
                    f"event age ({age} s); the event was discarded",
                },
                log_group=lambda_runner.log_group_of(self.fn),
            )
        ]


def event_invoke_config(fn: LambdaFunction) -> dict[str, Any]:
    configs = getattr(fn, "event_invoke_config", None) or []
    # Moto appends on every Put; the latest Put is the one in force.
    return dict(configs[-1].config) if configs else {}


def submit(
    fn: LambdaFunction,
    event: Any,
    *,
    on_done: Callable[[QueuedEvent], None] | None = None,
    received: float | None = None,
) -> QueuedEvent:
    """Queue an Event invocation; returns at once. ``received`` (monotonic) backdates it."""
    item = QueuedEvent(fn=fn, event=event)
    if received is not None:
        item.received = received
    if on_done is not None:
        item.on_done.append(on_done)
    _queue_of(fn).put(item, time.monotonic())
    return item


class EventQueue:
    """One function's queued events, handed to its environments in order as they are free."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, QueuedEvent]] = []
        self._order = itertools.count()
        self._dispatcher: threading.Thread | None = None
        #: Events taken from the heap whose attempt has not finished yet.
        self.running = 0

    @property
    def pending(self) -> int:
        """Events queued, waiting for a retry, or running."""
        with self._condition:
            return len(self._heap) + self.running

    def put(self, item: QueuedEvent, ready_at: float) -> None:
        with self._condition:
            if WORK.closed:  # the dispatcher may still be here, but it takes nothing more
                raise Stopping("the local cloud is stopping: no event is queued")
            heapq.heappush(self._heap, (ready_at, next(self._order), item))
            if self._dispatcher is None:
                try:
                    self._dispatcher = WORK.spawn(self._dispatch, name="lambda-event-queue")
                except Stopping:
                    heapq.heappop(self._heap)
                    raise
            self._condition.notify_all()

    def drop(self) -> list[QueuedEvent]:
        """Forget every queued event (the local cloud stops or resets); returns them. Whoever
        waits for one (``QueuedEvent.wait``) wakes up; its callbacks do not run, so an SES
        message waiting for it stays unfinished, in the spool, for the next start."""
        with self._condition:
            dropped = [entry[2] for entry in self._heap]
            self._heap.clear()
            self._condition.notify_all()
        for item in dropped:
            _drop(item)
        return dropped

    def _next(self) -> QueuedEvent | None:
        idle_since = time.monotonic()
        with self._condition:
            while True:
                now = time.monotonic()
                if WORK.closing.is_set():
                    self._dispatcher = None
                    for entry in self._heap:
                        _drop(entry[2])
                    self._heap.clear()
                    return None
                if self._heap and self._heap[0][0] <= now:
                    self.running += 1
                    return heapq.heappop(self._heap)[2]
                if not self._heap and now - idle_since > _DISPATCHER_IDLE_SECONDS:
                    self._dispatcher = None
                    return None
                wait = self._heap[0][0] - now if self._heap else _DISPATCHER_IDLE_SECONDS
                self._condition.wait(min(wait, 0.5))  # also notices WORK.closing

    def _dispatch(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            started = False
            try:
                started = self._start(item)
            except Stopping:
                log.info("event %s of %s not run: the local cloud stops", item.request_id, item.fn)
                _drop(item)
            except Exception:  # never lose the queue; the event still finishes
                log.exception("queued event %s of %s failed", item.request_id, item.fn)
                _finish(item, "RetriesExhausted")
            finally:
                if not started:
                    self._done_running()

    def _done_running(self) -> None:
        with self._condition:
            self.running -= 1
            self._condition.notify_all()

    def _start(self, item: QueuedEvent) -> bool:
        """Run one attempt; True when it went to a thread of its own (which ends ``running``)."""
        config = event_invoke_config(item.fn)
        max_age = float(config.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE_SECONDS))
        remaining = max_age - (time.monotonic() - item.received)
        if remaining <= 0:
            _finish(item, "EventAgeExceeded")
            return False
        if lambda_runner.unrunnable(item.fn) is not None:
            attempt = lambda_runner.invoke(item.fn, item.event, request_id=item.request_id)
            self._after(item, attempt)
            return False
        slots = lambda_environments.slots_of(item.fn)
        # Waits here while every environment is busy; events behind this one wait too (FIFO).
        environment = slots.acquire(item.fn, wait=remaining)
        if environment is None:
            _finish(item, "EventAgeExceeded")
            return False
        try:
            WORK.spawn(
                self._attempt,
                item,
                slots,
                environment,
                name=f"lambda-event-{item.fn.function_name}",
            )
        except Stopping:
            slots.release(environment)
            raise
        return True

    def _attempt(self, item: QueuedEvent, slots: Slots, environment: Environment) -> None:
        try:
            try:
                attempt = lambda_runner.run_in(item.fn, environment, item.event, item.request_id)
            finally:
                slots.release(environment)
            self._after(item, attempt)
        finally:
            self._done_running()

    def _after(self, item: QueuedEvent, attempt: Invocation) -> None:
        item.attempts.append(attempt)
        if attempt.ok:
            _finish(item, "Success")
            return
        config = event_invoke_config(item.fn)
        retries = int(config.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS))
        if len(item.attempts) > retries:
            _finish(item, "RetriesExhausted")
            return
        delay = runtime.current().async_retry_delay * len(item.attempts)
        try:
            self.put(item, time.monotonic() + delay)
        except Stopping:
            log.info("event %s of %s not retried: the local cloud stops", item.request_id, item.fn)
            _drop(item)


_registry_lock = threading.Lock()
_queues: weakref.WeakKeyDictionary[LambdaFunction, EventQueue] = weakref.WeakKeyDictionary()


def _queue_of(fn: LambdaFunction) -> EventQueue:
    with _registry_lock:
        found = _queues.get(fn)
        if found is None:
            found = _queues[fn] = EventQueue()
        return found


def _drop(item: QueuedEvent) -> None:
    """The local cloud stops or resets: the event ends unfinished (see ``EventQueue.drop``)."""
    with item._lock:
        item.condition = "Dropped"
        item.done.set()


def pending() -> int:
    """Events queued, waiting for a retry, or running, over every function."""
    with _registry_lock:
        every = list(_queues.values())
    return sum(queue.pending for queue in every)


def drop_all() -> int:
    """Forget every queued event (the local cloud stops or resets); returns how many."""
    with _registry_lock:
        every = list(_queues.values())
    return sum(len(queue.drop()) for queue in every)


# --- the outcome ---------------------------------------------------------------------------


def _finish(item: QueuedEvent, condition: str) -> None:
    item.condition = condition
    fn = item.fn
    try:
        config = event_invoke_config(fn)
        destinations = config.get("DestinationConfig") or {}
        key = "OnSuccess" if condition == "Success" else "OnFailure"
        target = (destinations.get(key) or {}).get("Destination")
        if target:
            _deliver(fn, target, json.dumps(_record(item)), attributes={})
        elif condition != "Success":
            dead_letter = (getattr(fn, "dead_letter_config", None) or {}).get("TargetArn")
            if dead_letter:
                _send_dead_letter(item, dead_letter)
            else:
                log.warning(
                    "event %s of %s discarded (%s) with no destination or dead-letter queue",
                    item.request_id,
                    fn.function_name,
                    condition,
                )
    finally:
        with item._lock:
            item.done.set()
        for callback in item.on_done:
            try:
                callback(item)
            except Exception:
                log.exception("callback of event %s failed", item.request_id)


def _record(item: QueuedEvent) -> dict[str, Any]:
    """The invocation record a destination receives."""
    fn = item.fn
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": item.request_id,
            "functionArn": f"{fn.function_arn}:{fn.version}",
            "condition": item.condition,
            "approximateInvokeCount": len(item.attempts),
        },
        "requestPayload": item.event,
    }
    if item.attempts:
        last = item.attempts[-1]
        record["responseContext"] = {"statusCode": 200, "executedVersion": str(fn.version)}
        if not last.ok:
            record["responseContext"]["functionError"] = "Unhandled"
        record["responsePayload"] = last.result if last.ok else last.error
    return record


def _send_dead_letter(item: QueuedEvent, target: str) -> None:
    # https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
    # ("Dead-letter queues": the event as the body, and these attributes)
    error = item.attempts[-1].error if item.attempts else {"errorMessage": item.condition}
    attributes = {
        "RequestID": item.request_id,
        "ErrorCode": "200",
        "ErrorMessage": str((error or {}).get("errorMessage", ""))[:1000],
    }
    _deliver(item.fn, target, json.dumps(item.event), attributes=attributes)


def _deliver(fn: LambdaFunction, target: str, body: str, attributes: dict[str, str]) -> None:
    service = target.split(":")[2]
    region = target.split(":")[3] or fn.region
    from .iam import gate as iam_gate

    if not iam_gate.lambda_may_send(fn, target):  # the function's role must allow it
        log.warning("%s may not send to %s (see /_localcloud/iam)", fn.function_name, target)
        return
    try:
        if service == "sqs":
            from .moto_ext.moto_internals import sqs_backends

            queue_name = target.rsplit(":", 1)[-1]
            sqs_attributes = {
                name: {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
            }
            sqs_backends[fn.account_id][region].send_message(
                queue_name, body, message_attributes=sqs_attributes
            )
        elif service == "sns":
            from .moto_ext.moto_internals import sns_backends

            sns_backends[fn.account_id][region].publish(body, arn=target)
        elif service == "lambda":
            from .moto_ext.moto_internals import lambda_backends

            other = lambda_backends[fn.account_id][region].get_function(target)
            submit(other, json.loads(body))
        else:
            log.warning("destination %s of %s is not emulated", target, fn.function_name)
    except Exception:
        log.exception("could not deliver to %s for %s", target, fn.function_name)

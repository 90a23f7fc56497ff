"""EventBridge: the documented pattern semantics, and delivery to Lambda and SQS with retries and
dead-letter queues (``ses_lambda_localcloud.eventbridge``), instead of moto's.

Moto 5.2.5's matcher flattens only objects, so a pattern into an array of objects never
matches; it treats ``true`` as ``1`` in numeric and literal matches; and its wildcard ``*`` stops
at a line break. Its delivery knows no Lambda targets (it raises ``NotImplementedError``), never
retries, ignores ``DeadLetterConfig``, checks no target policy, and hands targets ``time`` as an
epoch number. ``Ref`` of an ``AWS::Events::EventBus`` resolved to moto's object, not the bus name
CloudFormation returns
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-events-eventbus.html).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from ...eventbridge import delivery, patterns
from ..moto_internals import EventBus, EventPattern, EventsBackend, EventsRule
from .patching import patch

_putting = threading.local()


def apply() -> None:
    EventBus.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]

    @patch(EventPattern, "matches_event")
    def matches_event(self: Any, event: Any) -> bool:
        pattern = self.get_pattern()
        return not pattern or patterns.matches(pattern, json.loads(json.dumps(event)))

    @patch(EventsRule, "send_to_targets")
    def send_to_targets(self: Any, event: Any, transform_input: bool = True) -> None:
        if getattr(_putting, "active", False):
            return  # PutEvents delivers through delivery.dispatch, once per event
        send_to_targets.original(self, event, transform_input)  # type: ignore[attr-defined]

    @patch(EventsBackend, "put_events")
    def put_events(self: Any, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not delivery.is_serving():  # moto used directly (mock_aws): moto's own delivery
            direct: list[dict[str, Any]] = put_events.original(self, entries)  # type: ignore[attr-defined]
            return direct
        _putting.active = True
        try:
            # moto validates the entries and answers with an EventId or an error for each
            results: list[dict[str, Any]] = put_events.original(self, entries)  # type: ignore[attr-defined]
        finally:
            _putting.active = False
        for entry, result in zip(entries, results, strict=True):
            if "EventId" not in result:
                continue
            bus = self.describe_event_bus(self._normalize_event_bus_arn(entry.get("EventBusName")))
            event = {
                "version": "0",
                "id": result["EventId"],
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "account": self.account_id,
                "time": delivery.iso_time(entry.get("Time", time.time())),
                "region": self.region_name,
                "resources": list(entry.get("Resources") or []),
                "detail": json.loads(entry["Detail"]),
            }
            delivery.dispatch(bus, event, list(bus.rules.values()))
        return results

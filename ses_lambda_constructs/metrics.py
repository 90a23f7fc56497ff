"""CloudWatch metrics of the library's functions, as ``metric_*`` methods in the aws-cdk shape.

The names, units and dimensions come from ``ses_mail/metric_names.py``, the module the handler,
the forwarder and the verdict gate emit them with (Powertools Metrics, embedded metric format),
read here from the bundled source: what a method returns is what a function emits.

Every method takes ``cloudwatch.MetricOptions`` as keywords (``period``, ``statistic``, ``label``,
...) and returns a ``cloudwatch.Metric``; the defaults are aws-cdk's for Lambda's own metrics:
a 5-minute period and the ``Sum`` (``Average`` for sizes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from aws_cdk import Duration, Fn
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_

from ._bundled import core_module
from .limits import ValidationError

#: aws-cdk's default period for ``metric_*`` methods.
DEFAULT_PERIOD = Duration.minutes(5)
#: EventBridge's namespace; with a custom bus a rule's metrics carry both ``EventBusName`` and
#: ``RuleName`` (EventBridge User Guide, "Monitoring Amazon EventBridge").
EVENTS_NAMESPACE = "AWS/Events"


def metric_names() -> ModuleType:
    """``ses_mail.metric_names`` from the bundled handler source (no import of ``ses_mail``)."""
    return core_module("metric_names")


def _options(unit: str, options: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "period": DEFAULT_PERIOD,
        "statistic": "Average" if unit == "Bytes" else "Sum",
        **options,
    }
    return values


class FunctionMetrics:
    """The metrics one of the library's functions emits, by name.

    :param function: the function (its name is the ``FunctionName`` dimension).
    :param service: its ``POWERTOOLS_SERVICE_NAME`` (the ``service`` dimension).
    :param namespace: its ``POWERTOOLS_METRICS_NAMESPACE``.
    :param emitted: metric name -> unit, from ``metric_names`` (e.g. ``HANDLER_METRICS``).
    """

    def __init__(
        self,
        *,
        function: lambda_.IFunction,
        service: str,
        namespace: str,
        emitted: Mapping[str, str],
    ) -> None:
        self.function = function
        self.service = service
        self.namespace = namespace
        self.emitted: dict[str, str] = dict(emitted)

    def dimensions(self) -> dict[str, str]:
        names = metric_names()
        return {
            names.SERVICE_DIMENSION: self.service,
            names.FUNCTION_DIMENSION: self.function.function_name,
        }

    def metric(self, metric_name: str, **options: Any) -> cloudwatch.Metric:
        """The metric ``metric_name`` of this function; it must be one the function emits."""
        if metric_name not in self.emitted:
            raise ValidationError(
                f"metric_name {metric_name!r} is not emitted by {self.function.node.path}; "
                f"it emits {', '.join(sorted(self.emitted))}"
            )
        dimensions = {**self.dimensions(), **dict(options.pop("dimensions_map", None) or {})}
        return cloudwatch.Metric(
            namespace=self.namespace,
            metric_name=metric_name,
            dimensions_map=dimensions,
            **_options(self.emitted[metric_name], options),
        )


def rule_metric(
    rule: events.IRule, event_bus: events.IEventBus, metric_name: str, **options: Any
) -> cloudwatch.Metric:
    """An ``AWS/Events`` metric of one rule (``Invocations``, ``FailedInvocations``,
    ``InvocationsSentToDlq``...).

    On a custom bus the rule's metrics carry ``EventBusName`` and ``RuleName``; on the default bus
    ``RuleName`` only (EventBridge User Guide, "Monitoring Amazon EventBridge"). The rule's name
    is read from its ARN, ``arn:...:rule/<bus name>/<rule name>`` on a custom bus and
    ``arn:...:rule/<rule name>`` on the default one (Service Authorization Reference, "Actions,
    resources, and condition keys for Amazon EventBridge", resource types ``rule-on-custom-event-
    bus`` and ``rule-on-default-event-bus``), not from ``Ref``, which for a rule on a custom bus
    also holds the bus's name.
    """
    default_bus = event_bus.event_bus_name == "default"
    name = Fn.select(1 if default_bus else 2, Fn.split("/", rule.rule_arn))
    dimensions = {"RuleName": name}
    if not default_bus:
        dimensions = {"EventBusName": event_bus.event_bus_name, **dimensions}
    return cloudwatch.Metric(
        namespace=EVENTS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map=dimensions,
        **_options("Count", options),
    )


class ReceiverMetrics:
    """The ``metric_*`` methods of :class:`EmailReceiver` (mixed in; reads its attributes).

    Messages received: SES publishes no receiving metric (its ``AWS/SES`` metrics are about
    sending; Amazon CloudWatch User Guide, "Amazon Simple Email Service Metrics and
    Dimensions"), so the library's functions count each record they are invoked with
    (``MessagesReceived``). A route served by a function of your own is counted by that
    function's ``Invocations``: SES invokes it once per message and rule (Amazon SES Developer
    Guide, "Invoke Lambda function action": the event holds one record).
    """

    # Set by EmailReceiver.
    handler: Any
    failures: Any

    @property
    def forwarders(self) -> Sequence[Any]:
        """The receiver's forwarders (EmailReceiver defines it)."""
        raise NotImplementedError

    routes: list[Any]
    events: Any
    gate: Any

    # --- the reference handler ------------------------------------------------------------

    def _handler_metrics(self) -> FunctionMetrics:
        if self.handler is None:
            raise ValidationError(
                "the receiver has no reference handler (every route names a function of its "
                "own), so it emits none of the handler's metrics"
            )
        metrics: FunctionMetrics = self.handler.metrics
        return metrics

    def metric_messages_received(self, *, route: str | None = None, **options: Any) -> Any:
        """Messages received: by the reference handler (default), or by one route's function.

        ``route``: a route id. A forwarding route's forwarder and the reference handler count
        ``MessagesReceived``; a route with a function of your own, that function's
        ``Invocations``. Routes that share the reference handler cannot be told apart (the SES
        event does not name the rule): asking for one of several such routes is an error.
        """
        names = metric_names()
        if route is None:
            return self._handler_metrics().metric(names.MESSAGES_RECEIVED, **options)
        found = [r for r in self.routes if r.node.id == route]
        if not found:
            known = ", ".join(r.node.id for r in self.routes) or "none"
            raise ValidationError(f"route {route!r} is not a route of this receiver ({known})")
        function = found[0].function
        if function is None:
            raise ValidationError(
                f"route {route!r} invokes no function, so nothing counts its messages"
            )
        for forwarder in self.forwarders:
            if forwarder.function is function:
                return forwarder.metric_messages_received(**options)
        if self.handler is not None and function is self.handler.function:
            sharing = [r.node.id for r in self.routes if r.function is function]
            if len(sharing) > 1:
                raise ValidationError(
                    f"route {route!r} shares the reference handler with {sharing}: the SES "
                    "event does not name the rule, so messages per route are counted only in "
                    "total (call metric_messages_received() without route)"
                )
            return self._handler_metrics().metric(names.MESSAGES_RECEIVED, **options)
        metric: cloudwatch.Metric = function.metric_invocations(**_options("Count", options))
        return metric

    def metric_messages_processed(self, **options: Any) -> cloudwatch.Metric:
        """Messages parsed and stored (``MessagesProcessed``)."""
        return self._handler_metrics().metric(metric_names().MESSAGES_PROCESSED, **options)

    def metric_messages_rejected(self, **options: Any) -> cloudwatch.Metric:
        """Messages rejected by verdict in the reference handler (``MessagesRejected``)."""
        return self._handler_metrics().metric(metric_names().MESSAGES_REJECTED, **options)

    def metric_messages_too_large(self, **options: Any) -> cloudwatch.Metric:
        """Messages over ``MAX_MESSAGE_BYTES`` (``MessagesTooLarge``)."""
        return self._handler_metrics().metric(metric_names().MESSAGES_TOO_LARGE, **options)

    def metric_messages_unparseable(self, **options: Any) -> cloudwatch.Metric:
        """Messages over a parsing limit (``MessagesUnparseable``)."""
        return self._handler_metrics().metric(metric_names().MESSAGES_UNPARSEABLE, **options)

    def metric_messages_failed(self, **options: Any) -> cloudwatch.Metric:
        """Messages whose processing raised, so the invocation is retried (``MessagesFailed``)."""
        return self._handler_metrics().metric(metric_names().MESSAGES_FAILED, **options)

    def metric_message_bytes(self, **options: Any) -> cloudwatch.Metric:
        """Raw size of processed messages (``MessageBytes``; default statistic ``Average``)."""
        return self._handler_metrics().metric(metric_names().MESSAGE_BYTES, **options)

    def metric_attachments(self, **options: Any) -> cloudwatch.Metric:
        """Attachments stored (``Attachments``)."""
        return self._handler_metrics().metric(metric_names().ATTACHMENTS, **options)

    def metric_events_published(self, **options: Any) -> cloudwatch.Metric:
        """Events EventBridge accepted (``EventsPublished``)."""
        return self._handler_metrics().metric(metric_names().EVENTS_PUBLISHED, **options)

    def metric_events_failed(self, **options: Any) -> cloudwatch.Metric:
        """Events PutEvents failed or refused (``EventsFailed``)."""
        return self._handler_metrics().metric(metric_names().EVENTS_FAILED, **options)

    def metric_processing_duration(self, **options: Any) -> cloudwatch.Metric:
        """The reference handler's Lambda ``Duration`` (default statistic ``p95``)."""
        function: lambda_.IFunction = self._handler_metrics().function
        metric: cloudwatch.Metric = function.metric_duration(
            **{"period": DEFAULT_PERIOD, "statistic": "p95", **options}
        )
        return metric

    def metric_failures_waiting(self, *, route: str | None = None, **options: Any) -> Any:
        """Failed invocations waiting in an on-failure queue (``ApproximateNumberOfMessages
        Visible``): the reference handler's (default) or a forwarding route's forwarder's."""
        if route is None:
            if self.failures is None:
                self._handler_metrics()
            queue = self.failures.queue
        else:
            queue = self._forwarder(route).failures.queue
        metric: cloudwatch.Metric = queue.metric_approximate_number_of_messages_visible(
            **{"period": DEFAULT_PERIOD, "statistic": "Maximum", **options}
        )
        return metric

    # --- the forwarders ---------------------------------------------------------------------

    def _forwarder(self, route: str | None) -> Any:
        by_route = {f.node.id.removesuffix("Forwarder"): f for f in self.forwarders}
        if not by_route:
            raise ValidationError("the receiver has no forwarding route, so no forwarder metric")
        if route is None:
            if len(by_route) > 1:
                raise ValidationError(
                    f"the receiver has several forwarding routes ({', '.join(by_route)}): "
                    "pass route=<route id>"
                )
            return next(iter(by_route.values()))
        if route not in by_route:
            raise ValidationError(
                f"route {route!r} is not a forwarding route of this receiver "
                f"({', '.join(by_route)})"
            )
        return by_route[route]

    def metric_forwards_sent(self, *, route: str | None = None, **options: Any) -> Any:
        """Copies sent by a forwarding route (``ForwardsSent``)."""
        return self._forwarder(route).metric_forwards_sent(**options)

    def metric_forwards_refused(self, *, route: str | None = None, **options: Any) -> Any:
        """Messages not forwarded because a verdict failed (``ForwardsRefusedByVerdict``)."""
        return self._forwarder(route).metric_forwards_refused(**options)

    def metric_forward_loops_blocked(self, *, route: str | None = None, **options: Any) -> Any:
        """Copies not sent because they would loop (``ForwardLoopsBlocked``)."""
        return self._forwarder(route).metric_forward_loops_blocked(**options)

    def metric_forwards_failed(self, *, route: str | None = None, **options: Any) -> Any:
        """Messages whose forwarding raised, so it is retried (``ForwardsFailed``)."""
        return self._forwarder(route).metric_forwards_failed(**options)


class ForwarderMetrics:
    """The ``metric_*`` methods of :class:`Forwarder` (mixed in; reads ``metrics``)."""

    metrics: FunctionMetrics

    def metric_messages_received(self, **options: Any) -> cloudwatch.Metric:
        """Messages the forwarder was invoked with (``MessagesReceived``)."""
        return self.metrics.metric(metric_names().MESSAGES_RECEIVED, **options)

    def metric_forwards_sent(self, **options: Any) -> cloudwatch.Metric:
        """Copies sent with SES (``ForwardsSent``)."""
        return self.metrics.metric(metric_names().FORWARDS_SENT, **options)

    def metric_forwards_refused(self, **options: Any) -> cloudwatch.Metric:
        """Messages not forwarded because a verdict failed (``ForwardsRefusedByVerdict``)."""
        return self.metrics.metric(metric_names().FORWARDS_REFUSED_BY_VERDICT, **options)

    def metric_forward_loops_blocked(self, **options: Any) -> cloudwatch.Metric:
        """Copies not sent because they would loop (``ForwardLoopsBlocked``)."""
        return self.metrics.metric(metric_names().FORWARD_LOOPS_BLOCKED, **options)

    def metric_forwards_failed(self, **options: Any) -> cloudwatch.Metric:
        """Messages whose forwarding raised, so it is retried (``ForwardsFailed``)."""
        return self.metrics.metric(metric_names().FORWARDS_FAILED, **options)

    def metric_messages_without_destination(self, **options: Any) -> cloudwatch.Metric:
        """Messages no destination covered: stored, not forwarded
        (``MessagesWithoutDestination``)."""
        return self.metrics.metric(metric_names().MESSAGES_WITHOUT_DESTINATION, **options)

"""A CloudWatch dashboard of one :class:`EmailReceiver`: the flow of mail at a glance.

Rows, top to bottom: the flow (received, then processed / rejected / too large / unparseable,
then events published and delivered to each subscription's target), forwarding, failures and
the queues they wait in, the handler's latency percentiles, and the state of every alarm the
receiver defines. Every widget reads a metric that one of the library's functions emits (names
from ``ses_mail/metric_names.py``) or one that Lambda, SQS or EventBridge publish.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from .limits import ValidationError
from .metrics import ReceiverMetrics

#: Widgets per row: CloudWatch's grid is 24 units wide (CloudWatch API Reference, "Dashboard
#: Body Structure and Syntax": width 1-24).
_GRID = 24
_HEIGHT = 6


class ReceiverDashboard(Construct):
    """The dashboard of ``receiver``, built from its routes, forwarders and subscriptions as they
    are when it is defined (define it after them).

    :param receiver: the receiver to show.
    :param dashboard_name: Default: a name CloudFormation generates.
    :param period: the period of every graph. Default: 5 minutes.
    :param default_interval: the time range shown when the dashboard opens. Default: 3 hours.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        receiver: ReceiverMetrics,
        dashboard_name: str | None = None,
        period: Duration = Duration.minutes(5),
        default_interval: Duration = Duration.hours(3),
    ) -> None:
        super().__init__(scope, id)
        seconds = period.to_seconds()
        # CloudWatch periods: 1, 5, 10, 30 s (high resolution) or a multiple of 60 s (CloudWatch
        # User Guide, "CloudWatch concepts", Periods).
        if seconds not in (1, 5, 10, 30) and seconds % 60:
            raise ValidationError(
                f"period must be 1, 5, 10, 30 seconds or a multiple of 60 seconds; got {seconds} s"
            )
        self.receiver = receiver
        self.period = period
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=default_interval,
        )
        #: Every widget, in order (also what the tests read).
        self.widgets: list[cloudwatch.IWidget] = []
        self._flow()
        self._forwarding()
        self._failures()
        self._latency()
        self._alarms()

    # --- helpers ----------------------------------------------------------------------------

    def _opts(self, label: str, **extra: Any) -> dict[str, Any]:
        return {"period": self.period, "label": label, **extra}

    def _row(self, title: str, *widgets: cloudwatch.IWidget) -> None:
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(markdown=f"## {title}", width=_GRID, height=1)
        )
        self.dashboard.add_widgets(*widgets)
        self.widgets.extend(widgets)

    @staticmethod
    def _graph(
        title: str,
        left: list[cloudwatch.IMetric],
        right: list[cloudwatch.IMetric] | None = None,
        width: int = 8,
        stacked: bool = False,
    ) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(
            title=title,
            left=left,
            right=right or [],
            width=width,
            height=_HEIGHT,
            stacked=stacked,
        )

    # --- rows -----------------------------------------------------------------------------

    def _flow(self) -> None:
        receiver = self.receiver
        if receiver.handler is None:
            return
        outcomes = self._graph(
            "Messages: received → outcome",
            [
                receiver.metric_messages_received(**self._opts("received")),
                receiver.metric_messages_processed(**self._opts("processed")),
                receiver.metric_messages_rejected(**self._opts("rejected")),
                receiver.metric_messages_too_large(**self._opts("too large")),
                receiver.metric_messages_unparseable(**self._opts("unparseable")),
            ],
        )
        published = self._graph(
            "Events: published → failed",
            [
                receiver.metric_events_published(**self._opts("published")),
                receiver.metric_events_failed(**self._opts("failed")),
            ],
            [receiver.metric_message_bytes(**self._opts("message bytes (avg)"))],
        )
        subscriptions = receiver.events.subscriptions if receiver.events is not None else []
        targets: list[cloudwatch.IMetric] = []
        for subscription in subscriptions:
            name = subscription.node.id
            targets.append(subscription.metric_deliveries(**self._opts(f"{name} delivered")))
            targets.append(subscription.metric_failed_deliveries(**self._opts(f"{name} failed")))
        widgets: list[cloudwatch.IWidget] = [outcomes, published]
        if targets:
            widgets.append(self._graph("Events → targets (per subscription)", targets))
        self._row("Mail flow", *widgets)

    def _forwarding(self) -> None:
        forwarders = self.receiver.forwarders
        if not forwarders:
            return
        widgets: list[cloudwatch.IWidget] = []
        for forwarder in forwarders:
            route = forwarder.node.id.removesuffix("Forwarder")
            widgets.append(
                self._graph(
                    f"Forwarding: {route}",
                    [
                        forwarder.metric_messages_received(**self._opts("received")),
                        forwarder.metric_forwards_sent(**self._opts("copies sent")),
                        forwarder.metric_forwards_refused(**self._opts("refused (verdict)")),
                        forwarder.metric_forward_loops_blocked(**self._opts("loops blocked")),
                        forwarder.metric_forwards_failed(**self._opts("failed")),
                    ],
                )
            )
        self._row("Forwarding", *widgets)

    def _failures(self) -> None:
        receiver = self.receiver
        errors: list[cloudwatch.IMetric] = []
        depths: list[cloudwatch.IMetric] = []
        if receiver.handler is not None:
            errors += [
                receiver.metric_messages_failed(**self._opts("messages failed (retried)")),
                receiver.handler.function.metric_errors(**self._opts("handler errors")),
                receiver.handler.function.metric_throttles(**self._opts("handler throttles")),
            ]
            depths.append(receiver.metric_failures_waiting(**self._opts("handler")))
        for forwarder in receiver.forwarders:
            route = forwarder.node.id.removesuffix("Forwarder")
            errors.append(forwarder.function.metric_errors(**self._opts(f"{route} errors")))
            depths.append(
                receiver.metric_failures_waiting(route=route, **self._opts(f"{route} forwarder"))
            )
        if receiver.events is not None:
            for subscription in receiver.events.subscriptions:
                depths.append(
                    subscription.metric_dead_letters_waiting(
                        **self._opts(f"{subscription.node.id} dead letters")
                    )
                )
        widgets: list[cloudwatch.IWidget] = []
        if errors:
            widgets.append(self._graph("Failures", errors, width=12))
        if depths:
            widgets.append(self._graph("Waiting in failure queues", depths, width=12))
        if widgets:
            self._row("Failures and queues", *widgets)

    def _latency(self) -> None:
        receiver = self.receiver
        metrics: list[cloudwatch.IMetric] = []
        if receiver.handler is not None:
            metrics += [
                receiver.metric_processing_duration(**self._opts(f"handler {p}", statistic=p))
                for p in ("p50", "p95", "p99")
            ]
        for forwarder in receiver.forwarders:
            route = forwarder.node.id.removesuffix("Forwarder")
            metrics.append(
                forwarder.function.metric_duration(
                    **self._opts(f"{route} forwarder p95", statistic="p95")
                )
            )
        if metrics:
            self._row("Latency", self._graph("Duration (ms)", metrics, width=_GRID))

    def _alarms(self) -> None:
        alarms = receiver_alarms(self.receiver)
        if alarms:
            self._row(
                "Alarms",
                cloudwatch.AlarmStatusWidget(
                    alarms=alarms, title="Alarms", width=_GRID, height=_HEIGHT
                ),
            )


def receiver_alarms(receiver: ReceiverMetrics) -> list[cloudwatch.IAlarm]:
    """Every alarm the receiver defines: its functions' failure alarms and each subscription's
    dead-letter alarm."""
    alarms: list[cloudwatch.IAlarm] = []
    if receiver.failures is not None:
        alarms += receiver.failures.alarms
    for forwarder in receiver.forwarders:
        alarms += forwarder.failures.alarms
    if receiver.events is not None:
        alarms += [s.alarm for s in receiver.events.subscriptions]
    return alarms

#!/usr/bin/env python3
"""The receiver's metrics in a cdk-monitoring-constructs ``MonitoringFacade``.

The receiver's ``metric_*`` methods return plain ``cloudwatch.Metric`` objects, so they go
into the facade's custom sections like any other metric; the functions and queues the receiver
defines go into the facade's own Lambda and SQS sections. The receiver's own dashboard
(``receiver.dashboard()``) is the alternative when you do not use the facade.

Needs ``pip install cdk-monitoring-constructs`` (a development dependency of this repository).
Run it like any CDK app (``cdk synth --app "python examples/monitoring_facade.py"``); a test
synthesizes it.
"""

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from cdk_monitoring_constructs import CustomMetricGroup, MonitoringFacade
from constructs import Construct

from ses_lambda_constructs import EmailReceiver, EmailTarget, ForwardingRoute, MailStatus, Route


class MonitoredInboxStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        receiver = EmailReceiver(
            self,
            "Inbound",
            domain_name="help.example.com",
            rule_set_name="monitored-inbound",
            routes=[
                Route(id="Tickets", recipients=["tickets@help.example.com"]),
                ForwardingRoute(
                    id="Escalations",
                    recipients=["escalate@help.example.com"],
                    destinations=["oncall@example.org"],
                ),
            ],
        )
        problems = sns.Topic(self, "Problems")
        receiver.subscribe(
            "Problems",
            EmailTarget.topic(problems),
            statuses=[MailStatus.TOO_LARGE, MailStatus.UNPARSEABLE],
        )

        monitoring = MonitoringFacade(self, "Monitoring")
        period = cdk.Duration.minutes(5)
        monitoring.monitor_custom(
            human_readable_name="Received mail",
            alarm_friendly_name="ReceivedMail",
            metric_groups=[
                CustomMetricGroup(
                    title="Messages",
                    metrics=[
                        receiver.metric_messages_received(period=period, label="received"),
                        receiver.metric_messages_processed(period=period, label="processed"),
                        receiver.metric_messages_rejected(period=period, label="rejected"),
                        receiver.metric_messages_too_large(period=period, label="too large"),
                        receiver.metric_messages_unparseable(period=period, label="unparseable"),
                    ],
                ),
                CustomMetricGroup(
                    title="Events and forwarding",
                    metrics=[
                        receiver.metric_events_published(period=period, label="events put"),
                        receiver.metric_events_failed(period=period, label="events failed"),
                        receiver.metric_forwards_sent(period=period, label="copies sent"),
                        receiver.metric_forward_loops_blocked(period=period, label="loops"),
                    ],
                ),
                CustomMetricGroup(
                    title="Failed invocations waiting",
                    metrics=[
                        receiver.metric_failures_waiting(label="handler"),
                        receiver.metric_failures_waiting(route="Escalations", label="forwarder"),
                    ],
                ),
            ],
        )
        handler = receiver.reference_handler()
        monitoring.monitor_lambda_function(lambda_function=handler.function)
        for forwarder in receiver.forwarders:
            monitoring.monitor_lambda_function(lambda_function=forwarder.function)


app = cdk.App()
MonitoredInboxStack(
    app, "MonitoredInbox", env=cdk.Environment(account="111122223333", region="eu-west-1")
)
app.synth()

"""The bus the received-mail events are put on, and the subscriptions to them."""

from __future__ import annotations

from typing import Unpack

from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from .event_patterns import DEFAULT_EVENT_SOURCE, validate_event_source
from .limits import ValidationError
from .subscription import (
    EmailSubscription,
    EmailTarget,
    SubscriptionKeywords,
    SubscriptionOptions,
)


class EmailEvents(Construct):
    """Where the reference handler announces each message, and who listens.

    The handler puts one event per message on :attr:`event_bus` with ``source`` =
    :attr:`event_source` and a detail-type per outcome (``Email Received``, ``Email Rejected``,
    ``Email Too Large``, ``Email Unparseable``), after everything the event points to is stored.
    Delivery is at least once: ``detail.deliveryId`` is the idempotency key (two routes that
    match one message are two deliveries of one ``messageId``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        event_bus: events.IEventBus | None = None,
        event_source: str = DEFAULT_EVENT_SOURCE,
        alarm_topic: sns.ITopic | None = None,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        """
        :param event_bus: a bus of your own (imported or shared). Default: a new custom bus.
        :param event_source: the events' ``source``. Default: ``ses-lambda-constructs``.
        :param alarm_topic: SNS topic every subscription's alarm notifies. Default: alarms only.
        :param encryption_key: customer managed key of every dead-letter queue a subscription
            defines. Default: SQS-managed SSE.
        """
        super().__init__(scope, id)
        validate_event_source("event_source", event_source)
        if event_bus is None:
            event_bus = events.EventBus(
                self, "Bus", description="ses-lambda-constructs: one event per received message"
            )
        self.event_bus: events.IEventBus = event_bus
        self.event_source = event_source
        self._alarm_topic = alarm_topic
        self.encryption_key = encryption_key
        self.subscriptions: list[EmailSubscription] = []

    def grant_put_events(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``events:PutEvents`` on this bus only."""
        return self.event_bus.grant_put_events_to(grantee)

    def subscribe(
        self,
        id: str,
        target: EmailTarget,
        *,
        options: SubscriptionOptions | None = None,
        **keywords: Unpack[SubscriptionKeywords],
    ) -> EmailSubscription:
        """Deliver the events matching every filter given to ``target``; the filters and
        delivery are :class:`SubscriptionOptions`, as keyword arguments or ``options`` (see
        :class:`EmailSubscription`). Default: processed mail to any recipient."""
        if self.node.try_find_child(id) is not None:
            raise ValidationError(f"subscribe: the id {id!r} is used twice")
        built = SubscriptionOptions.of(options, keywords)
        subscription = EmailSubscription(
            self,
            id,
            event_bus=self.event_bus,
            event_source=self.event_source,
            target=target,
            alarm_topic=self._alarm_topic,
            encryption_key=self.encryption_key if built.dead_letter_queue is None else None,
            options=built,
        )
        self.subscriptions.append(subscription)
        return subscription

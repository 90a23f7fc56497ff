"""One subscription to the received-mail events: a rule, its target, a dead-letter queue, an alarm.

In EventBridge the retry policy and the dead-letter queue belong to a rule's *target*
(``RetryPolicy`` and ``DeadLetterConfig`` of ``PutTargets``,
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Target.html): an event that cannot
be delivered after the retries, or older than the maximum age, goes to the queue, or is dropped
without one (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html). So a
subscription builds its target itself, always with a queue, and alarms on the queue's depth.

EventBridge invokes a Lambda function asynchronously
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html): the rule's retry policy covers
delivery to Lambda, and an error *in* the function is retried by Lambda and then sent to the
function's on-failure destination. For a function target the subscription therefore also makes
its queue the function's on-failure destination, so both kinds of failure land in one place.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack, cast

import jsii
from aws_cdk import Annotations, ArnFormat, Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from .acknowledgments import acknowledge
from .event_patterns import DEFAULT_EVENT_SOURCE, MailKind, MailStatus, email_event_pattern
from .failures import QueueDestination
from .limits import (
    MAX_ASYNC_EVENT_AGE_SECONDS,
    MAX_ASYNC_RETRY_ATTEMPTS,
    ValidationError,
    is_unresolved,
)
from .metrics import rule_metric

#: EventBridge's RetryPolicy bounds (API_RetryPolicy: MaximumRetryAttempts 0-185,
#: MaximumEventAgeInSeconds 60-86400), which are also its defaults' upper ends.
MAX_TARGET_RETRY_ATTEMPTS = 185
MAX_TARGET_EVENT_AGE = Duration.hours(24)
#: A subscribed function's asynchronous invocations: the most Lambda allows.
FUNCTION_RETRY_ATTEMPTS = MAX_ASYNC_RETRY_ATTEMPTS
FUNCTION_MAX_EVENT_AGE = Duration.seconds(MAX_ASYNC_EVENT_AGE_SECONDS)
EVENTS_PRINCIPAL = "events.amazonaws.com"
#: The fields of a rule target's configuration: the keyword arguments of RuleTargetConfig.
_TARGET_CONFIG_FIELDS = tuple(
    name
    for name, parameter in inspect.signature(events.RuleTargetConfig).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
)


class SubscriptionKeywords(TypedDict, total=False):
    """The fields of :class:`SubscriptionOptions` as keyword arguments (``subscribe(...,
    kinds=[...])``): the same names and types, the defaults being the options' own."""

    recipients: Sequence[str] | None
    senders: Sequence[str] | None
    subject_prefix: Sequence[str] | None
    subject_wildcard: Sequence[str] | None
    statuses: Sequence[MailStatus] | None
    detail_types: Sequence[str] | None
    kinds: Sequence[MailKind] | None
    pattern: Mapping[str, Any] | None
    retry_attempts: int
    max_event_age: Duration
    dead_letter_queue: sqs.IQueue | None
    rule_name: str | None
    description: str | None
    enabled: bool


@dataclass(frozen=True, kw_only=True)
class SubscriptionOptions:
    """Which received-mail events a subscription gets, and how they are delivered.

    The filters combine with AND, the values of one filter with OR. ``subscribe`` and
    :class:`EmailSubscription` take these as keyword arguments, or as one object to reuse
    (``options=``; keyword arguments given beside it replace its fields).
    """

    #: ``user@example.com`` (and its ``+label`` forms), ``example.com``, ``.example.com``.
    #: Default: any recipient.
    recipients: Sequence[str] | None = None
    #: The envelope sender, in the same forms. Default: any sender.
    senders: Sequence[str] | None = None
    #: Subjects starting with one of these. Default: any subject.
    subject_prefix: Sequence[str] | None = None
    #: Subjects matching one of these wildcards. Default: any subject.
    subject_wildcard: Sequence[str] | None = None
    #: Outcomes to match. Default: processed mail only (``Email Received``).
    statuses: Sequence[MailStatus] | None = None
    #: Detail-types to match, instead of ``statuses``.
    detail_types: Sequence[str] | None = None
    #: Kinds of mail (:class:`MailKind`), e.g. ``[MailKind.PERSON]``; only processed mail has
    #: one. Default: every kind.
    kinds: Sequence[MailKind] | None = None
    #: A raw EventBridge pattern merged in, for any other field.
    pattern: Mapping[str, Any] | None = None
    #: EventBridge's retries of a failed delivery, 0-185. Default: 185.
    retry_attempts: int = MAX_TARGET_RETRY_ATTEMPTS
    #: How long EventBridge retries, 60 s to 24 h. Default: 24 hours.
    max_event_age: Duration = MAX_TARGET_EVENT_AGE
    #: A standard queue of your own. Default: a new encrypted queue.
    dead_letter_queue: sqs.IQueue | None = None
    #: Default: a name generated by CloudFormation.
    rule_name: str | None = None
    #: Of the rule. Default: one naming the construct.
    description: str | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        retry_attempts: object = self.retry_attempts
        if not is_unresolved(retry_attempts) and not (
            isinstance(retry_attempts, int) and 0 <= retry_attempts <= MAX_TARGET_RETRY_ATTEMPTS
        ):
            raise ValidationError(
                f"retry_attempts must be between 0 and {MAX_TARGET_RETRY_ATTEMPTS} "
                f"(EventBridge's retry policy); got {retry_attempts!r}"
            )
        age = self.max_event_age.to_seconds()
        if not 60 <= age <= MAX_TARGET_EVENT_AGE.to_seconds():
            raise ValidationError(
                f"max_event_age must be between 60 seconds and 24 hours (EventBridge's retry "
                f"policy); got {age!r} seconds"
            )

    @classmethod
    def of(
        cls, options: SubscriptionOptions | None, keywords: SubscriptionKeywords
    ) -> SubscriptionOptions:
        """``options`` (default: every default) with the fields named in ``keywords`` replaced:
        the one place the keyword arguments of every ``subscribe`` become options."""
        if options is not None and not isinstance(options, SubscriptionOptions):
            raise ValidationError(f"options must be a SubscriptionOptions; got {options!r}")
        unknown = sorted(set(keywords) - set(_OPTION_NAMES))
        if unknown:
            raise TypeError(
                f"subscribe got unknown option(s) {', '.join(unknown)}; the options are "
                f"{', '.join(_OPTION_NAMES)}"
            )
        if options is None:
            return cls(**keywords)
        return dataclasses.replace(options, **keywords) if keywords else options


_OPTION_NAMES = tuple(f.name for f in dataclasses.fields(SubscriptionOptions))


class EmailTarget:
    """Where a subscription delivers the events; build one with the static methods.

    ``EmailTarget.function(fn)``, ``.queue(queue)``, ``.state_machine(machine)``,
    ``.topic(topic)``, or ``.of(target)`` for any other ``aws_events`` rule target. The
    subscription sets the target's retry policy and dead-letter queue itself, so a target passed
    to :meth:`of` should have neither.
    """

    def __init__(
        self, rule_target: events.IRuleTarget, *, function: lambda_.IFunction | None = None
    ) -> None:
        self.rule_target = rule_target
        #: The function invoked, for a function target (its failures go to the same queue).
        self.invoked_function = function

    @staticmethod
    def function(function: lambda_.IFunction) -> EmailTarget:
        """Invoke ``function`` asynchronously with the event as its payload."""
        return EmailTarget(_FunctionTarget(function), function=function)

    @staticmethod
    def queue(queue: sqs.IQueue, *, message_group_id: str | None = None) -> EmailTarget:
        """Send the event to ``queue`` (``message_group_id`` is needed for a FIFO queue)."""
        return EmailTarget(targets.SqsQueue(queue, message_group_id=message_group_id))

    @staticmethod
    def state_machine(machine: sfn.IStateMachine, *, role: iam.IRole | None = None) -> EmailTarget:
        """Start an execution of ``machine`` with the event as input."""
        return EmailTarget(targets.SfnStateMachine(machine, role=role))

    @staticmethod
    def topic(topic: sns.ITopic) -> EmailTarget:
        """Publish the event to ``topic``."""
        return EmailTarget(targets.SnsTopic(topic))

    @staticmethod
    def of(rule_target: events.IRuleTarget) -> EmailTarget:
        """Any other rule target (built without its own retry policy or dead-letter queue)."""
        return EmailTarget(rule_target)


@jsii.implements(events.IRuleTarget)
class _FunctionTarget:
    """A Lambda target whose invoke permission carries both confused-deputy conditions.

    (``aws_events_targets.LambdaFunction`` adds one with ``SourceArn`` only.)
    """

    def __init__(self, function: lambda_.IFunction) -> None:
        self._function = function

    def bind(self, rule_ref: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        rule = cast(events.Rule, rule_ref)  # the subscription's own rule
        permission_id = f"AllowEventRule{Names.node_unique_id(self._function.node)}"
        if rule.node.try_find_child(permission_id) is None:
            self._function.add_permission(
                permission_id,
                scope=rule,  # beside the rule, as the CDK's own target does (no cycles)
                principal=iam.ServicePrincipal(EVENTS_PRINCIPAL),
                action="lambda:InvokeFunction",
                source_arn=rule.rule_arn,
                source_account=Stack.of(rule).account,
            )
        return events.RuleTargetConfig(
            arn=self._function.function_arn, target_resource=self._function
        )


@jsii.implements(events.IRuleTarget)
class _WithRetriesAndDeadLetters:
    """Another target's configuration, with the subscription's retry policy and queue."""

    def __init__(
        self,
        inner: events.IRuleTarget,
        *,
        queue: sqs.IQueue,
        retry_attempts: int,
        max_event_age: Duration,
    ) -> None:
        self._inner = inner
        self._queue = queue
        self._retry_attempts = retry_attempts
        self._max_event_age = max_event_age

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        config = self._inner.bind(rule, id)
        # Every field of the inner target's configuration, read through the struct's public
        # properties (the names of RuleTargetConfig's keyword arguments), then the two this owns.
        values = {
            name: getattr(config, name)
            for name in _TARGET_CONFIG_FIELDS
            if getattr(config, name, None) is not None
        }
        values["dead_letter_config"] = events.CfnRule.DeadLetterConfigProperty(
            arn=self._queue.queue_arn
        )
        values["retry_policy"] = events.CfnRule.RetryPolicyProperty(
            maximum_retry_attempts=self._retry_attempts,
            maximum_event_age_in_seconds=int(self._max_event_age.to_seconds()),
        )
        return events.RuleTargetConfig(**values)


class EmailSubscription(Construct):
    """A rule on the mail bus for the events matching the filters, and one target for them.

    - :attr:`rule`: the EventBridge rule, its pattern built by
      :func:`~ses_lambda_constructs.event_patterns.email_event_pattern` and checked at synth.
    - :attr:`dead_letter_queue`: events the target could not take after ``retry_attempts``
      retries or ``max_event_age`` (and, for a function target, events the function failed on
      after Lambda's retries). A new queue has SSE, SSL enforced, 14-day retention, ``RETAIN``,
      and a policy letting only this rule send to it (``aws:SourceArn``).
    - :attr:`alarm`: fires when a message is visible in the queue; with ``alarm_topic`` it
      notifies the topic.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        event_bus: events.IEventBus,
        target: EmailTarget,
        event_source: str = DEFAULT_EVENT_SOURCE,
        alarm_topic: sns.ITopic | None = None,
        encryption_key: kms.IKey | None = None,
        options: SubscriptionOptions | None = None,
        **keywords: Unpack[SubscriptionKeywords],
    ) -> None:
        """
        :param event_bus: the bus the reference handler puts the events on.
        :param target: where matching events go (:class:`EmailTarget`).
        :param event_source: the events' ``source``. Default: ``ses-lambda-constructs``.
        :param alarm_topic: SNS topic the alarm notifies. Default: an alarm without actions.
        :param encryption_key: customer managed key of a queue defined here; EventBridge may use
            it for this rule only, and a function target's role gets the data-key and decrypt
            grants it needs to send its failures. Default: SQS-managed SSE.
        :param options: the filters and the delivery (:class:`SubscriptionOptions`), also
            accepted as keyword arguments (``kinds=[MailKind.PERSON]``), which replace the
            fields of ``options`` they name.
        """
        super().__init__(scope, id)
        #: The filters and delivery options of this subscription.
        self.options = SubscriptionOptions.of(options, keywords)
        retry_attempts = self.options.retry_attempts
        max_event_age = self.options.max_event_age
        dead_letter_queue = self.options.dead_letter_queue
        filters = self.options
        self.pattern: dict[str, Any] = email_event_pattern(
            event_source=event_source,
            recipients=filters.recipients,
            senders=filters.senders,
            subject_prefix=filters.subject_prefix,
            subject_wildcard=filters.subject_wildcard,
            statuses=filters.statuses,
            detail_types=filters.detail_types,
            kinds=filters.kinds,
            pattern=filters.pattern,
        )
        if dead_letter_queue is None:
            own_queue = sqs.Queue(
                self,
                "DeadLetterQueue",
                encryption=(
                    sqs.QueueEncryption.KMS
                    if encryption_key is not None
                    else sqs.QueueEncryption.SQS_MANAGED
                ),
                encryption_master_key=encryption_key,
                enforce_ssl=True,
                retention_period=Duration.days(14),
                removal_policy=RemovalPolicy.RETAIN,
            )
            for finding in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
                acknowledge(
                    own_queue,
                    finding,
                    "This queue is itself the dead-letter queue of an EventBridge target; its "
                    "messages are inspected and redriven by an operator.",
                )
            dead_letter_queue = own_queue
        elif encryption_key is not None:
            raise ValidationError(
                "encryption_key applies to a dead-letter queue defined here; encrypt "
                f"dead_letter_queue {dead_letter_queue.node.path!r} yourself"
            )
        self.dead_letter_queue: sqs.IQueue = dead_letter_queue

        rule = events.Rule(
            self,
            "Rule",
            event_bus=event_bus,
            rule_name=filters.rule_name,
            enabled=filters.enabled,
            description=filters.description or f"Received mail for {self.node.path}",
            event_pattern=events.EventPattern(source=[event_source]),
        )
        # The whole pattern as built (it may hold a top-level "$or", which EventPattern cannot).
        cfn_rule = rule.node.default_child
        assert isinstance(cfn_rule, events.CfnRule)
        cfn_rule.add_property_override("EventPattern", self.pattern)
        rule.add_target(
            _WithRetriesAndDeadLetters(
                target.rule_target,
                queue=dead_letter_queue,
                retry_attempts=retry_attempts,
                max_event_age=max_event_age,
            )
        )
        # The dead-letter queue's statement for EventBridge: this rule only, this account only
        # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html#eb-dlq-perms).
        added = dead_letter_queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowRuleDeadLetters",
                principals=[iam.ServicePrincipal(EVENTS_PRINCIPAL)],
                actions=["sqs:SendMessage"],
                resources=[dead_letter_queue.queue_arn],
                conditions={
                    "ArnEquals": {"aws:SourceArn": rule.rule_arn},
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                },
            )
        )
        if encryption_key is not None:
            _allow_events_to_use_key(self, encryption_key, event_bus)
        if not added.statement_added:
            Annotations.of(self).add_warning_v2(
                "ses-lambda-constructs:importedDeadLetterQueue",
                "The dead-letter queue is imported, so its policy cannot be set here: allow "
                "events.amazonaws.com sqs:SendMessage for this rule (aws:SourceArn) or "
                "undeliverable events are dropped.",
            )
        self.rule: events.IRule = rule
        self._event_bus = event_bus
        if target.invoked_function is not None:
            _send_function_failures(
                self,
                target.invoked_function,
                dead_letter_queue,
                encryption_key or dead_letter_queue.encryption_master_key,
            )

        self.alarm: cloudwatch.IAlarm = cloudwatch.Alarm(
            self,
            "DeadLetterAlarm",
            metric=dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5)
            ),
            alarm_description=f"Received-mail events for {self.node.path} could not be delivered",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if alarm_topic is not None:
            self.alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))

    def metric_deliveries(self, **options: Any) -> cloudwatch.Metric:
        """Events the rule delivered to its target, successful or failed for good
        (``AWS/Events`` ``Invocations``)."""
        return rule_metric(self.rule, self._event_bus, "Invocations", **options)

    def metric_failed_deliveries(self, **options: Any) -> cloudwatch.Metric:
        """Deliveries that failed for good, after EventBridge's retries
        (``AWS/Events`` ``FailedInvocations``; sent only when not zero)."""
        return rule_metric(self.rule, self._event_bus, "FailedInvocations", **options)

    def metric_dead_letters(self, **options: Any) -> cloudwatch.Metric:
        """Events EventBridge sent to the dead-letter queue (``InvocationsSentToDlq``)."""
        return rule_metric(self.rule, self._event_bus, "InvocationsSentToDlq", **options)

    def metric_dead_letters_waiting(self, **options: Any) -> cloudwatch.Metric:
        """Undelivered events waiting in the dead-letter queue
        (``ApproximateNumberOfMessagesVisible``, maximum over the period)."""
        metric: cloudwatch.Metric = (
            self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                **{"period": Duration.minutes(5), "statistic": "Maximum", **options}
            )
        )
        return metric


def _allow_events_to_use_key(scope: Construct, key: kms.IKey, bus: events.IEventBus) -> None:
    """Let EventBridge write into queues encrypted with ``key`` for the rules of ``bus`` only.

    EventBridge sends to an SSE-KMS queue with ``kms:GenerateDataKey`` and ``kms:Decrypt`` on its
    key ("Authorizing EventBridge to use a customer managed key", EventBridge User Guide; "Key
    management", SQS Developer Guide). The condition names the bus's rules by ARN pattern, not
    one rule: a rule's target may depend on the key (a function's log group), and the key
    naming that rule would close a cycle. Added once per key and bus.
    """
    stack = Stack.of(scope)
    marker = "SesLambdaConstructsEventsKey" + Names.node_unique_id(key.node)
    marker += Names.node_unique_id(bus.node)
    if stack.node.try_find_child(marker) is not None:
        return
    Construct(stack, marker)
    rules = stack.format_arn(
        service="events",
        resource="rule",
        resource_name=f"{bus.event_bus_name}/*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )
    result = key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowEventBridgeDeadLetters",
            principals=[iam.ServicePrincipal(EVENTS_PRINCIPAL)],
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=["*"],
            conditions={
                "ArnLike": {"aws:SourceArn": rules},
                "StringEquals": {"aws:SourceAccount": stack.account},
            },
        )
    )
    if not result.statement_added:
        Annotations.of(scope).add_warning_v2(
            "ses-lambda-constructs:importedKeyPolicy",
            f"The key {key.key_arn} is imported, so its policy cannot be changed here: allow "
            "events.amazonaws.com kms:GenerateDataKey and kms:Decrypt for the bus's rules, or "
            "undeliverable events cannot reach the dead-letter queue.",
        )


def _send_function_failures(
    scope: Construct, function: lambda_.IFunction, queue: sqs.IQueue, key: kms.IKey | None
) -> None:
    """Make ``queue`` the on-failure destination of ``function``'s asynchronous invocations.

    A function has one asynchronous-invocation configuration (Lambda's PutFunctionEventInvokeConfig
    replaces it whole). When it already has one with an on-failure destination (its owner's, or an
    earlier subscription's), that destination keeps the failures. When it has one without (only
    retries, event age or an on-success destination), the queue is added to it as its on-failure
    destination and its other settings stay: otherwise Lambda would drop the failed events.
    """
    existing = function.node.try_find_child("EventInvokeConfig")
    if existing is not None:
        config = existing.node.default_child
        if not isinstance(config, lambda_.CfnEventInvokeConfig):
            return
        destination = config.destination_config
        if isinstance(destination, lambda_.CfnEventInvokeConfig.DestinationConfigProperty):
            if destination.on_failure is not None:
                return
        elif destination is not None:
            # A token: the destination is not known here; it stays as it is.
            Annotations.of(scope).add_warning_v2(
                "ses-lambda-constructs:unknownFunctionDestination",
                f"The asynchronous-invocation configuration of {function.node.path} is a token: "
                "make sure it has an on-failure destination, or its failed events are dropped.",
            )
            return
        QueueDestination(queue, key).bind(scope, function)
        config.add_property_override("DestinationConfig.OnFailure.Destination", queue.queue_arn)
        Annotations.of(scope).add_info(
            f"{function.node.path} had an asynchronous-invocation configuration without an "
            "on-failure destination: this subscription's dead-letter queue is now its on-failure "
            "destination (its retries and event age are kept)."
        )
    else:
        function.configure_async_invoke(
            on_failure=QueueDestination(queue, key),
            retry_attempts=FUNCTION_RETRY_ATTEMPTS,
            max_event_age=FUNCTION_MAX_EVENT_AGE,
        )
    for pack in ("Serverless", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
        acknowledge(
            function,
            f"{pack}-LambdaDLQ",
            "Failed asynchronous invocations go to an on-failure destination (the "
            "subscription's dead-letter queue), which AWS recommends over a dead-letter queue.",
        )

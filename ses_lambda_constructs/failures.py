"""Failure visibility for asynchronously invoked functions: destination, retries and alarms.

SES invokes a Lambda action asynchronously by default; Lambda retries failed events (twice by
default) and then drops them silently unless an on-failure destination exists. This construct gives
a function an encrypted SQS on-failure destination, bounded retries and event age, and alarms on
errors, throttles and the destination's depth.
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .acknowledgments import acknowledge
from .limits import (
    MAX_ASYNC_EVENT_AGE_SECONDS,
    MAX_ASYNC_RETRY_ATTEMPTS,
    MIN_ASYNC_EVENT_AGE_SECONDS,
    ValidationError,
)


@jsii.implements(lambda_.IDestination)
class QueueDestination:
    """An SQS on-failure destination whose grant is what Lambda documents, nothing more.

    The function's role may ``sqs:SendMessage`` to the queue and, for a queue encrypted with a
    customer managed key, ``kms:GenerateDataKey`` and ``kms:Decrypt`` on that key
    (docs/ses-facts.md, "Encryption with a customer managed key"). The CDK's ``SqsDestination``
    grants more (queue attribute reads, every encrypt/decrypt action of the key).
    """

    def __init__(self, queue: sqs.IQueue, key: kms.IKey | None) -> None:
        self._queue = queue
        self._key = key

    def bind(
        self,
        _scope: Construct,
        fn: lambda_.IFunction,
        *,
        type: lambda_.DestinationType | None = None,
    ) -> lambda_.DestinationConfig:
        iam.Grant.add_to_principal(
            grantee=fn, actions=["sqs:SendMessage"], resource_arns=[self._queue.queue_arn]
        )
        if self._key is not None:
            self._key.grant(fn, "kms:GenerateDataKey", "kms:Decrypt")
        return lambda_.DestinationConfig(destination=self._queue.queue_arn)


class InvocationFailures(Construct):
    """Keeps every failed asynchronous invocation of ``function`` and raises alarms about it.

    - Failed events (after ``retry_attempts`` retries, or older than ``max_event_age``) land in
      :attr:`queue`, an SQS queue with SSE, SSL enforced, 14-day retention and ``RETAIN``. Each
      message holds the original event under ``requestPayload``; replay them with
      ``python -m ses_lambda_constructs.replay <queue-url> <function-name>``.
    - :attr:`alarms`: function errors, function throttles, and messages waiting in the queue.
      With ``alarm_topic``, each alarm notifies it.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: lambda_.IFunction,
        retry_attempts: int = 2,
        max_event_age: Duration = Duration.hours(6),
        alarm_topic: sns.ITopic | None = None,
        queue: sqs.IQueue | None = None,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        """
        :param function: the function SES invokes asynchronously.
        :param retry_attempts: 0-2 retries after a failed invocation. Default: 2.
        :param max_event_age: 60 s to 6 h. Default: 6 hours.
        :param alarm_topic: SNS topic the alarms notify. Default: alarms without actions.
        :param queue: on-failure destination of your own. Default: a new encrypted queue.
        :param encryption_key: customer managed key of a queue defined here (the function's role
            gets the data-key and decrypt grants it needs to send). Default: SQS-managed SSE.
        """
        super().__init__(scope, id)
        if not 0 <= retry_attempts <= MAX_ASYNC_RETRY_ATTEMPTS:
            raise ValidationError(f"retry_attempts must be between 0 and 2; got {retry_attempts!r}")
        age = max_event_age.to_seconds()
        if not MIN_ASYNC_EVENT_AGE_SECONDS <= age <= MAX_ASYNC_EVENT_AGE_SECONDS:
            raise ValidationError(
                f"max_event_age must be between 60 seconds and 6 hours; got {age!r} seconds"
            )
        if queue is None:
            own_queue = sqs.Queue(
                self,
                "Queue",
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
            for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
                acknowledge(
                    own_queue,
                    rule,
                    "This queue is itself the on-failure destination of the function; its "
                    "messages are replayed by an operator, not consumed by a worker that could "
                    "fail.",
                )
            queue = own_queue
        elif encryption_key is not None:
            raise ValidationError(
                "encryption_key applies to a queue defined here; encrypt your own queue yourself"
            )
        self.queue: sqs.IQueue = queue
        function.configure_async_invoke(
            on_failure=QueueDestination(queue, encryption_key or queue.encryption_master_key),
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        for pack in ("Serverless", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(
                function,
                f"{pack}-LambdaDLQ",
                "Failed asynchronous invocations go to an on-failure destination (this "
                "construct's queue), which AWS recommends over a dead-letter queue: its records "
                "also carry the error and the original event for replay.",
            )
        period = Duration.minutes(5)
        errors_alarm = self._alarm(
            "ErrorsAlarm",
            function.metric_errors(period=period),
            "The email handler failed at least once in 5 minutes",
        )
        throttles_alarm = self._alarm(
            "ThrottlesAlarm",
            function.metric_throttles(period=period),
            "The email handler was throttled in the last 5 minutes",
        )
        queue_alarm = self._alarm(
            "FailedEventsAlarm",
            queue.metric_approximate_number_of_messages_visible(period=period),
            "Failed email events are waiting in the on-failure queue",
        )
        alarms = (errors_alarm, throttles_alarm, queue_alarm)
        if alarm_topic is not None:
            for alarm in alarms:
                alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
        self.errors_alarm: cloudwatch.IAlarm = errors_alarm
        self.throttles_alarm: cloudwatch.IAlarm = throttles_alarm
        self.queue_alarm: cloudwatch.IAlarm = queue_alarm
        self.alarms: tuple[cloudwatch.IAlarm, ...] = alarms

    def _alarm(self, id: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
        """An alarm that fires on the first occurrence and treats silence as good news."""
        return cloudwatch.Alarm(
            self,
            id,
            metric=metric,
            alarm_description=description,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

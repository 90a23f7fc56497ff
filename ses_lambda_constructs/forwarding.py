"""Forwarding: a route whose mail is re-sent to existing mailboxes, and the forwarder function.

The reference forwarder (``lambda_src/forwarder.py``, same bundle as the reference handler) runs
after the S3 action, reads the raw message and sends one copy per destination with the SES v2
``SendEmail`` action and raw content (up to 40 MB; v1 sends at most 10 MB:
https://docs.aws.amazon.com/ses/latest/dg/quotas.html). See docs/forwarding.md for what it
rewrites and why.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import overload

import jsii
from aws_cdk import ArnFormat, Duration, IStableStringProducer, Lazy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from ._bundled import contract
from .acknowledgments import acknowledge, nag_arn
from .bundling import python_code
from .failures import InvocationFailures
from .handler_bundle import DEFAULT_RUNTIME, reference_bundle
from .hardening import FunctionHardening
from .lambda_role import logging_only_role
from .limits import (
    ValidationError,
    is_unresolved,
    validate_disjoint_prefixes,
    validate_prefix,
    validate_recipient,
)
from .metrics import ForwarderMetrics, FunctionMetrics, metric_names
from .routing import EmailRoute, IRouteReceiver, RuleOptions
from .storage import RawMessageStore
from .verdicts import Verdict

DEFAULT_FORWARD_PREFIX: str = contract().FORWARD_PREFIX
DEFAULT_MAX_HOPS: int = contract().DEFAULT_MAX_HOPS
#: SES v2 SendEmail with raw content is authorized as ``ses:SendEmail``, on the identity, with
#: the ``ses:FromAddress`` condition key (https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html,
#: Service Authorization Reference, "Actions defined by Amazon SES v2"). The library's functions
#: send with v2 only, so v1's ``ses:SendRawEmail`` is not granted (the strict local cloud showed
#: the forwarder never needs it).
SEND_ACTIONS = ("ses:SendEmail",)


@dataclass(frozen=True, kw_only=True)
class ForwardingRoute(RuleOptions):
    """Mail to ``recipients`` is stored, then re-sent to existing mailboxes.

    Every recipient goes to ``destinations``, unless ``destination_map`` names it (by address,
    by domain, or ``"*"`` for any recipient): ``{"support@example.com": ["a@example.org",
    "b@example.org"], "billing@example.com": ["c@example.org"]}``. Copies are sent from the
    recipient the message came to (``support@example.com``) unless ``from_address`` is given;
    the address must belong to an identity verified for sending (the receiver's domains are).
    """

    destinations: Sequence[str] = ()
    destination_map: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: Default: the matched recipient.
    from_address: str | None = None
    #: Verdicts whose ``FAIL`` stops forwarding. Default: spam and virus (add ``Verdict.DMARC``
    #: to refuse mail whose sender's domain disowns it).
    reject_on_verdicts: Sequence[Verdict] = (Verdict.SPAM, Verdict.VIRUS)
    #: Define an SES email identity for each destination (SES then sends a verification mail);
    #: needed while the account is in the SES sandbox. Default: ``False``.
    verify_destinations: bool = False
    #: Forwarding hops (counted in a header the forwarder adds) after which mail is not sent on.
    max_hops: int = DEFAULT_MAX_HOPS

    def destination_table(self) -> dict[str, list[str]]:
        """The recipient-to-destinations map the forwarder reads (``"*"`` for ``destinations``)."""
        prop = f"routes[{self.id}]"
        if isinstance(self.destinations, str):
            raise ValidationError(
                f"{prop}.destinations must be a list of addresses, got the string "
                f"{self.destinations!r}"
            )
        table: dict[str, list[str]] = {}
        if self.destinations:
            table["*"] = [_address(f"{prop}.destinations", a) for a in self.destinations]
        for recipient, targets in self.destination_map.items():
            key = (
                recipient
                if recipient == "*"
                else validate_recipient(f"{prop}.destination_map", recipient)
            )
            if isinstance(targets, str) or not targets:
                raise ValidationError(
                    f"{prop}.destination_map[{recipient!r}] must be a non-empty list of "
                    f"addresses; got {targets!r}"
                )
            table[key.lower()] = [_address(f"{prop}.destination_map", a) for a in targets]
        if not table:
            raise ValidationError(f"{prop} forwards nowhere: give destinations or destination_map")
        if isinstance(self.recipients, str):
            raise ValidationError(
                f"{prop}.recipients must be a list of recipients; got the string "
                f"{self.recipients!r}"
            )
        for recipient in self.recipients:
            if is_unresolved(recipient) or not isinstance(recipient, str):
                continue
            if not _covered(recipient.strip().lower(), table):
                raise ValidationError(
                    f"{prop}.recipients has {recipient!r}, but neither destinations nor "
                    f"destination_map gives it a destination (keys: {sorted(table)!r}): its mail "
                    f"would be stored and never forwarded. Add destination_map[{recipient!r}], "
                    "an entry for its domain, '*', or destinations"
                )
        return table

    def bind(self, receiver: IRouteReceiver) -> EmailRoute:
        """The route's forwarder (construct id ``<route id>Forwarder``, with the receiver's
        runtime, hardening and failure settings), and its rule: store the raw message, invoke
        the forwarder asynchronously, then ``extra_actions``."""
        first = not any(isinstance(child, Forwarder) for child in receiver.scope.node.children)
        settings = receiver.settings
        forwarder = Forwarder.for_route(
            receiver.scope,
            self,
            store=receiver.store,
            domain_names=receiver.domain_names,
            receiving_domains=receiver.receiving_domains,
            runtime=settings.handler.runtime,
            hardening=receiver.function_hardening,
            retry_attempts=settings.failures.retry_attempts,
            max_event_age=settings.failures.max_event_age,
            alarm_topic=settings.failures.alarm_topic,
        )
        if first:
            # Outcomes and send-once markers expire with the raw messages they describe.
            forwarder.store.expire_prefix("ExpireForwardOutcomes", forwarder.forward_prefix)
        return EmailRoute.storing_then_invoking(
            receiver, self, store=forwarder.store, function=forwarder.function
        )


def _covered(recipient: str, table: Mapping[str, Sequence[str]]) -> bool:
    """Every address a receipt-rule recipient matches finds a destination in ``table``.

    The forwarder looks up an address, then the address without its ``+label``, then its domain
    and each parent domain, then each parent as ``.domain``, then ``"*"`` (the first found wins).
    A rule's address matches only itself (and its ``+label`` forms), a domain every address at
    it, ``.domain`` every address at any of its subdomains; so a domain is covered by its own
    entry, a parent's, or ``"*"``; an address also by its own entry.
    """
    if "*" in table:
        return True
    if "@" in recipient:
        if recipient in table:
            return True
        domain = recipient.rpartition("@")[2]
        return _domain_covered(domain, table, subdomains=False)
    if recipient.startswith("."):
        return _domain_covered(recipient[1:], table, subdomains=True)
    return _domain_covered(recipient, table, subdomains=False)


def _domain_covered(domain: str, table: Mapping[str, Sequence[str]], *, subdomains: bool) -> bool:
    labels = domain.split(".")
    # The domain itself (a rule for .domain matches its subdomains, which find "domain" and
    # ".domain" among their parents), then each parent (not the top-level label alone).
    parents = [".".join(labels[i:]) for i in range(1, len(labels) - 1)]
    keys = [domain, *parents, *("." + p for p in parents)]
    if subdomains:
        keys.append("." + domain)
    return any(key in table for key in keys)


def _address(prop: str, value: str) -> str:
    if is_unresolved(value):
        return value
    if not isinstance(value, str) or "@" not in value:
        raise ValidationError(f"{prop} has {value!r}, which is not an email address")
    validate_recipient(prop, value)
    return value


def identity_for(address_or_domain: str, domains: Sequence[str]) -> str:
    """The SES identity that sends for an address: the longest of ``domains`` that contains it,
    else its own domain (a domain identity covers its subdomains for sending:
    https://docs.aws.amazon.com/ses/latest/dg/creating-identities.html)."""
    host = address_or_domain.rpartition("@")[2].lower().lstrip(".")
    inside = [d for d in domains if host == d or host.endswith("." + d)]
    return max(inside, key=len) if inside else host


def from_address_patterns(recipients: Sequence[str], from_address: str | None) -> list[str]:
    """``ses:FromAddress`` values: the fixed From, or each recipient (an address; ``*@domain``
    for a domain; ``*@*.domain`` for a leading-dot domain)."""
    if from_address is not None:
        return [from_address]
    patterns: list[str] = []
    for recipient in recipients:
        if "@" in recipient:
            patterns.append(recipient)
            local, _, domain = recipient.rpartition("@")
            # SES matches user+label@ for a rule's user@ (receipt rule recipients).
            patterns.append(f"{local}+*@{domain}")
        elif recipient.startswith("."):
            patterns.append(f"*@*{recipient}")
        else:
            patterns.append(f"*@{recipient}")
    return list(dict.fromkeys(patterns))


class _Deferred(Sequence[str]):
    """A list read when it is used (at synth time), so that later additions count."""

    def __init__(self, read: Callable[[], Sequence[str]]) -> None:
        self._read = read

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._read()[index]

    def __len__(self) -> int:
        return len(self._read())


class Forwarder(ForwarderMetrics, Construct):
    """The reference forwarder function, its least-privilege role and failure handling.

    It may read the raw prefix, read and write objects under ``forward_prefix`` (outcomes and
    the per-destination markers that keep a retried event from sending twice, also deleting a
    marker when its send failed), and send with ``ses:SendEmail`` only as
    ``from_patterns`` (condition ``ses:FromAddress``) through ``identities``.
    """

    @classmethod
    def for_route(
        cls,
        scope: Construct,
        route: ForwardingRoute,
        *,
        store: RawMessageStore | None,
        domain_names: Sequence[str],
        receiving_domains: Callable[[], Sequence[str]],
        runtime: lambda_.Runtime = DEFAULT_RUNTIME,
        hardening: FunctionHardening | None = None,
        retry_attempts: int = 2,
        max_event_age: Duration = Duration.hours(6),
        alarm_topic: sns.ITopic | None = None,
    ) -> Forwarder:
        """The forwarder of ``route`` (construct id ``<route id>Forwarder``), sending through
        the identities of its recipients' domains (or of ``from_address``)."""
        if store is None:
            raise ValidationError(
                f"routes[{route.id}] forwards mail, and the forwarder reads the raw message "
                "from S3: it needs store_raw_messages=True"
            )
        table = route.destination_table()
        senders = [route.from_address] if route.from_address is not None else route.recipients
        identities = [identity_for(address, domain_names) for address in senders]
        return cls(
            scope,
            f"{route.id}Forwarder",
            store=store,
            destinations=table,
            identities=list(dict.fromkeys(identities)),
            from_patterns=from_address_patterns(route.recipients, route.from_address),
            receiving_domains=_Deferred(receiving_domains),
            from_address=route.from_address,
            reject_on_verdicts=route.reject_on_verdicts,
            max_hops=route.max_hops,
            verify_destinations=route.verify_destinations,
            runtime=runtime,
            hardening=hardening,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            alarm_topic=alarm_topic,
        )

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        store: RawMessageStore,
        destinations: Mapping[str, Sequence[str]],
        identities: Sequence[str],
        from_patterns: Sequence[str],
        receiving_domains: Sequence[str],
        from_address: str | None = None,
        forward_prefix: str = DEFAULT_FORWARD_PREFIX,
        reject_on_verdicts: Sequence[Verdict] = (Verdict.SPAM, Verdict.VIRUS),
        max_hops: int = DEFAULT_MAX_HOPS,
        verify_destinations: bool = False,
        runtime: lambda_.Runtime = DEFAULT_RUNTIME,
        architecture: lambda_.Architecture = lambda_.Architecture.X86_64,
        memory_size: int = 512,
        timeout: Duration = Duration.seconds(120),
        log_retention: logs.RetentionDays | None = None,
        service_name: str = metric_names().FORWARDER_SERVICE,
        metrics_namespace: str = metric_names().NAMESPACE,
        retry_attempts: int = 2,
        max_event_age: Duration = Duration.hours(6),
        alarm_topic: sns.ITopic | None = None,
        hardening: FunctionHardening | None = None,
    ) -> None:
        """
        :param store: where SES stored the raw messages; outcomes go to the same bucket.
        :param destinations: recipient (address, domain or ``"*"``) to destination addresses.
        :param identities: SES identities (domains or addresses) the copies are sent through;
            the send permission names exactly these.
        :param from_patterns: values of the ``ses:FromAddress`` condition.
        :param receiving_domains: never forward into these (loop guard).
        :param from_address: fixed From. Default: the recipient the message was received for.
        :param forward_prefix: key prefix of outcomes and markers. Default: ``forwarded/``.
        :param reject_on_verdicts: Default: spam and virus.
        :param max_hops: Default: 3.
        :param verify_destinations: define an email identity per destination (SES sandbox).
            Default: ``False``.
        :param memory_size: MiB. Default: 512 (measured peak: about 60 MiB plus six times
            the message, 228 MiB for 28 MiB, the largest that fits SES's 40 MB of base64)
        :param timeout: Default: 120 seconds.
        :param retry_attempts: retries of a failed invocation before the event goes to the
            on-failure queue (:attr:`failures`). Default: 2.
        :param max_event_age: Default: 6 hours.
        :param alarm_topic: SNS topic notified by the failure alarms. Default: alarms only.
        :param log_retention: Default: ``hardening.log_retention`` (three months).
        :param hardening: tracing, reserved concurrency, VPC placement and the key of the log
            group and the failure queue. Default: ``FunctionHardening()``.
        """
        super().__init__(scope, id)
        hardening = hardening or FunctionHardening()
        if log_retention is not None:
            hardening = dataclasses.replace(hardening, log_retention=log_retention)
        if runtime.family != lambda_.RuntimeFamily.PYTHON:
            raise ValidationError(f"runtime must be a Python runtime; got {runtime.name!r}")
        self.forward_prefix = validate_prefix("forward_prefix", forward_prefix, allow_empty=False)
        validate_disjoint_prefixes(
            ("raw_message_prefix", store.object_key_prefix), ("forward_prefix", self.forward_prefix)
        )
        if not 1 <= max_hops <= 20:
            raise ValidationError(f"max_hops must be between 1 and 20; got {max_hops!r}")
        if not identities or not from_patterns:
            raise ValidationError("a forwarder needs at least one sending identity")
        verdicts = [Verdict(v) if isinstance(v, str) else v for v in reject_on_verdicts]
        self.store = store
        #: Recipient (address, domain or ``"*"``) to destination addresses.
        self.destinations: dict[str, list[str]] = {k: list(v) for k, v in destinations.items()}
        stack = Stack.of(self)

        #: Email identities defined for the destinations (``verify_destinations=True``).
        self.destination_identities: list[ses.EmailIdentity] = []
        destination_addresses = sorted(
            {
                a.lower()
                for targets in destinations.values()
                for a in targets
                if not Token.is_unresolved(a)
            }
        )
        if verify_destinations:
            for index, address in enumerate(destination_addresses, start=1):
                self.destination_identities.append(
                    ses.EmailIdentity(
                        self, f"DestinationIdentity{index}", identity=ses.Identity.email(address)
                    )
                )

        log_group = hardening.log_group(self, "Logs")
        role = logging_only_role(self, "Role", log_group=log_group)
        environment = {
            "RAW_MESSAGE_BUCKET": store.bucket.bucket_name,
            "RAW_MESSAGE_PREFIX": store.object_key_prefix,
            "FORWARD_PREFIX": self.forward_prefix,
            "FORWARD_DESTINATIONS": json.dumps(
                {k: list(v) for k, v in destinations.items()}, sort_keys=True
            ),
            "RECEIVING_DOMAINS": Lazy.string(_JoinedDomains(receiving_domains)),
            "REJECT_ON_VERDICTS": ",".join(v.value for v in verdicts),
            "MAX_FORWARD_HOPS": str(max_hops),
            "POWERTOOLS_SERVICE_NAME": service_name,
            "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
        }
        if from_address is not None:
            environment["FORWARD_FROM"] = from_address
        function = hardening.function(
            self,
            "Function",
            role=role,
            log_group=log_group,
            memory_size=memory_size,
            runtime=runtime,
            architecture=architecture,
            handler="forwarder.lambda_handler",
            code=python_code(reference_bundle(runtime, architecture), runtime),
            timeout=timeout,
            description="ses-lambda-constructs forwarder: re-sends received email with SES",
            environment=environment,
        )
        self.function: lambda_.IFunction = function
        self.log_group: logs.ILogGroup = log_group
        #: The metrics the function emits; see also the ``metric_*`` methods.
        self.metrics = FunctionMetrics(
            function=function,
            service=service_name,
            namespace=metrics_namespace,
            emitted=metric_names().FORWARDER_METRICS,
        )
        store.grant_read_raw(self.function)
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            resource_arns=[store.bucket.arn_for_objects(f"{self.forward_prefix}*")],
        )
        if store.encryption_key is not None:
            # writes under the forward prefix of an SSE-KMS bucket (reads: grant_read_raw)
            store.encryption_key.grant(self.function, "kms:GenerateDataKey")
        #: ARNs of every identity the send permission names.
        self.identity_arns: list[str] = [
            stack.format_arn(
                service="ses",
                resource="identity",
                resource_name=name,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )
            for name in dict.fromkeys(
                [*identities, *(destination_addresses if verify_destinations else [])]
            )
        ]
        self.from_patterns = list(from_patterns)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SendForwardedCopies",
                actions=list(SEND_ACTIONS),
                resources=self.identity_arns,
                conditions={"StringLike": {"ses:FromAddress": self.from_patterns}},
            )
        )
        #: On-failure queue, bounded retries and alarms, as for the reference handler.
        self.failures = InvocationFailures(
            self,
            "Failures",
            function=self.function,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            alarm_topic=alarm_topic,
            encryption_key=hardening.encryption_key,
        )
        # A message with no destination is recorded (status no_destination in outcome.json) and
        # counted (MessagesWithoutDestination). Alarm on the first.
        no_destination = self.metric_messages_without_destination(
            statistic="Sum", period=Duration.minutes(5)
        )
        #: Fires when a received message had no destination (it was stored, not forwarded).
        self.no_destination_alarm: cloudwatch.IAlarm = cloudwatch.Alarm(
            self,
            "NoDestinationAlarm",
            metric=no_destination,
            alarm_description="A received message had no forwarding destination (not forwarded)",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if alarm_topic is not None:
            self.no_destination_alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
        for prefix in (store.object_key_prefix, self.forward_prefix):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{nag_arn(store, store.bucket)}>/{prefix}*]",
                "Object keys are SES message ids, known only when mail arrives; the grant "
                "is limited to this one prefix.",
            )


@jsii.implements(IStableStringProducer)
class _JoinedDomains:
    """The receiving domains, comma-separated, read at synth time (late additions count)."""

    def __init__(self, domains: Sequence[str]) -> None:
        self._domains = domains

    def produce(self) -> str:
        return ",".join(self._domains)

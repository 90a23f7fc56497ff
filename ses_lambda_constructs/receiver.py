"""The L3 that composes the library: domain, rule set, storage, handler and routes."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Unpack

import jsii
from aws_cdk import (
    Duration,
    IStableListProducer,
    IStableStringProducer,
    Lazy,
    Names,
    RemovalPolicy,
    Token,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as ses_actions
from aws_cdk import aws_sns as sns
from constructs import Construct, IValidation

from .conversations import REPLY_ADDRESS_SECRET_VARIABLE, ReplyAddressKeys, grant_send_from
from .dashboard import ReceiverDashboard
from .domain import Domain, ReceivingDomain, check_receiving_region
from .domain_checks import RecipientDomainCheck, receiving_domain_names
from .event_patterns import DEFAULT_EVENT_SOURCE
from .events import EmailEvents
from .failures import InvocationFailures
from .forwarding import Forwarder
from .handler_bundle import DEFAULT_RUNTIME
from .hardening import FunctionHardening, hardened_defaults
from .limits import (
    MAX_RULES_PER_RULE_SET,
    ValidationError,
    validate_count,
    validate_recipients,
    validate_rule_set_name,
)
from .metrics import ReceiverMetrics
from .reader import ReaderLayer, grant_read_objects
from .reference_handler import DEFAULT_PARSED_PREFIX, ReferenceHandler
from .routing import EmailRoute, IRoute, IRouteReceiver, RuleOptions
from .rule_set import ReceiptRuleSetActivation, fixed_rule_set_name
from .settings import (
    EventSettings,
    FailureSettings,
    HandlerSettings,
    ReceiverSettings,
    StorageSettings,
)
from .storage import DEFAULT_RAW_PREFIX, RawMessageStore
from .subscription import (
    EmailSubscription,
    EmailTarget,
    SubscriptionKeywords,
    SubscriptionOptions,
)
from .verdict_gate import VerdictGate
from .verdicts import Verdict


@dataclass(frozen=True, kw_only=True)
class Route(RuleOptions):
    """Mail to ``recipients`` is stored (optionally) and handed to ``function``.

    ``recipients`` follow SES's matching: ``user@example.com`` (and its ``user+label@`` forms),
    ``example.com`` (every address at that domain) or ``.example.com`` (every subdomain).
    """

    #: Default: the receiver's reference handler.
    function: lambda_.IFunction | None = None
    #: Default: ``EVENT`` (asynchronous; AWS's recommendation).
    invocation_type: ses_actions.LambdaInvocationType = ses_actions.LambdaInvocationType.EVENT
    #: Store the raw message before the function runs. Default: ``True``.
    store_raw_message: bool = True

    def bind(self, receiver: IRouteReceiver) -> EmailRoute:
        """The rule: store the raw message (unless ``store_raw_message=False``), then invoke
        ``function`` (default: the receiver's reference handler), then ``extra_actions``."""
        if self.function is None and not self.store_raw_message:
            raise ValidationError(
                f"routes[{self.id}].store_raw_message is False, but the reference handler "
                "reads the raw message from S3; pass a function of your own or store it"
            )
        function = self.function or receiver.reference_handler().function
        return EmailRoute.storing_then_invoking(
            receiver,
            self,
            store=receiver.store,
            function=function,
            invocation_type=self.invocation_type,
            store_raw_message=self.store_raw_message,
        )


#: Construct ids of the receiver's own children, which a route's id must not take (a route's
#: construct is a child of the receiver too). ``Domain`` is followed by a number from the second
#: domain on; ``<route id>Forwarder`` is a forwarding route's function.
RESERVED_ROUTE_IDS = frozenset(
    {
        "Activation",
        "Events",
        "Failures",
        "Handler",
        "Key",
        "ReaderLayer",
        "RuleSet",
        "Store",
        "VerdictGate",
    }
)
_RESERVED_ROUTE_ID = re.compile(r"Domain[0-9]*\Z")


def validate_route_id(route_id: str) -> str:
    """``route_id``, unless it is one of the receiver's own construct ids."""
    if not isinstance(route_id, str) or not route_id:
        raise ValidationError(f"routes: a route's id must be a non-empty string; got {route_id!r}")
    if route_id in RESERVED_ROUTE_IDS or _RESERVED_ROUTE_ID.match(route_id):
        raise ValidationError(
            f"routes: the id {route_id!r} is reserved for the receiver's own constructs "
            f"({', '.join(sorted(RESERVED_ROUTE_IDS))}, Domain, Domain<n>); choose another"
        )
    return route_id


class EmailReceiver(ReceiverMetrics, Construct):
    """Receive email with SES into Lambda: the whole pipeline in one construct.

    By default it defines a receipt rule set with a fixed name (not activated), a raw-message
    store, and the reference handler for routes that name no function. Each route becomes one
    receipt rule, in the order given, with the raw message stored before the Lambda runs, the
    invoke permission and bucket policy created before the rule, scanning on and TLS required.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        routes: Sequence[IRoute] = (),
        domain_name: str | None = None,
        domains: Sequence[Domain] = (),
        hosted_zone: route53.IPublicHostedZone | None = None,
        mail_from_subdomain: str | None = None,
        rule_set: ses.IReceiptRuleSet | None = None,
        rule_set_name: str | None = None,
        activate_rule_set: bool = False,
        replace_active_rule_set: bool = False,
        store_raw_messages: bool = True,
        raw_message_bucket: s3.IBucket | None = None,
        raw_message_prefix: str = DEFAULT_RAW_PREFIX,
        raw_message_expiration: Duration | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        parsed_prefix: str = DEFAULT_PARSED_PREFIX,
        reject_on_verdicts: Sequence[Verdict] = (Verdict.SPAM, Verdict.VIRUS),
        handler_runtime: lambda_.Runtime = DEFAULT_RUNTIME,
        retry_attempts: int = 2,
        max_event_age: Duration = Duration.hours(6),
        alarm_topic: sns.ITopic | None = None,
        verdict_gate: bool = False,
        event_bus: events.IEventBus | None = None,
        event_source: str = DEFAULT_EVENT_SOURCE,
        encryption_key: kms.IKey | None = None,
        function_hardening: FunctionHardening | None = None,
        server_access_logs_bucket: s3.IBucket | None = None,
        replication_destination: s3.IBucket | None = None,
        replication_key: kms.IKey | None = None,
        hardened: bool = False,
    ) -> None:
        """
        :param routes: the receipt rules, in order. More can be added with :meth:`add_route`.
        :param domain_name: verify this domain for receiving (see :class:`ReceivingDomain`).
            Default: no identity is defined; verify the domain elsewhere.
        :param hosted_zone: public zone for the domain's DKIM and MX records.
            Default: records are exposed as stack outputs.
        :param domains: more domains to verify for receiving, each with its own zone (or its
            records as outputs); see also :meth:`add_domain`. Every route's recipients are
            checked against the receiver's domains at synth time. Default: none.
        :param mail_from_subdomain: custom MAIL FROM label. Default: none.
        :param rule_set: add the rules to this set (imported by name, or an
            :class:`ActiveReceiptRuleSet`). Default: a new rule set is defined.
        :param rule_set_name: name of the new rule set. Default: derived from the construct path.
        :param activate_rule_set: make the new rule set the active one (custom resource).
            Default: ``False``.
        :param replace_active_rule_set: when activating, replace another active set.
            Default: ``False`` (the deployment fails and names the active set).
        :param store_raw_messages: store each raw message in S3 before the function runs.
            Default: ``True`` (the Lambda event never carries the body).
        :param raw_message_bucket: Default: a new encrypted, private, retained bucket.
        :param raw_message_prefix: Default: ``raw/``.
        :param raw_message_expiration: delete raw messages after this long. Default: never.
        :param removal_policy: for the bucket defined here. Default: ``RETAIN``.
        :param parsed_prefix: where the reference handler writes. Default: ``parsed/``.
        :param reject_on_verdicts: verdicts whose ``FAIL`` makes the reference handler reject.
            Default: spam and virus.
        :param handler_runtime: Python runtime of the reference handler. Default: Python 3.14.
        :param retry_attempts: retries of a failed asynchronous invocation of the reference
            handler before the event goes to the on-failure queue. Default: 2.
        :param max_event_age: how long Lambda keeps retrying an event. Default: 6 hours.
        :param alarm_topic: SNS topic notified by the failure alarms. Default: alarms only.
        :param verdict_gate: add a first rule, for every route's recipients, whose synchronous
            function stops the rule set for mail failing ``reject_on_verdicts`` before anything
            is stored or processed. Default: ``False`` (the reference handler marks such mail
            as rejected instead).
        :param event_bus: the bus the reference handler puts one event per message on (see
            :meth:`subscribe`). Default: a new bus, defined with the reference handler.
        :param event_source: the events' ``source``. Default: ``ses-lambda-constructs``.
        :param encryption_key: customer managed key for the bucket defined here (default SSE-KMS;
            SES then writes through a role, see :class:`RawMessageStore`), the log groups and
            the failure queue. Default: SSE-S3 and the services' own encryption.
        :param function_hardening: tracing, reserved concurrency and VPC placement of every
            function the receiver defines; available to functions added beside them as
            :attr:`function_hardening`. Default: ``FunctionHardening()`` (tracing on).
        :param server_access_logs_bucket: where the bucket defined here writes its access logs.
            Default: no access logging.
        :param replication_destination: replicate the bucket defined here to this versioned
            bucket. Default: no replication.
        :param replication_key: the key that encrypts the replicas. Default: the destination's.
        :param hardened: the hardened configuration (README, "Hardened configuration"): a new
            customer managed key unless ``encryption_key`` is given, reserved concurrency 10
            unless ``function_hardening`` sets one; and it requires what only you can supply:
            ``function_hardening.vpc``, ``server_access_logs_bucket``,
            ``replication_destination`` and ``alarm_topic``. Default: ``False``.
        """
        super().__init__(scope, id)
        _validate_routes(routes)
        #: Every setting, typed and checked once (whether or not a route uses it yet).
        self.settings: ReceiverSettings = ReceiverSettings(
            storage=StorageSettings(
                store_raw_messages=store_raw_messages,
                raw_message_prefix=raw_message_prefix,
                raw_message_expiration=raw_message_expiration,
                removal_policy=removal_policy,
            ),
            handler=HandlerSettings(
                parsed_prefix=parsed_prefix,
                reject_on_verdicts=reject_on_verdicts,
                runtime=handler_runtime,
            ),
            failures=FailureSettings(
                retry_attempts=retry_attempts, max_event_age=max_event_age, alarm_topic=alarm_topic
            ),
            events=EventSettings(event_bus=event_bus, event_source=event_source),
            verdict_gate=verdict_gate,
        )
        check_receiving_region(self)
        function_hardening = function_hardening or FunctionHardening()
        if hardened:
            encryption_key, function_hardening = hardened_defaults(
                self,
                encryption_key=encryption_key,
                function_hardening=function_hardening,
                required={
                    "function_hardening.vpc": function_hardening.vpc,
                    "alarm_topic": alarm_topic,
                    **(
                        {
                            "server_access_logs_bucket": server_access_logs_bucket,
                            "replication_destination": replication_destination,
                        }
                        if store_raw_messages
                        else {}
                    ),
                },
                raw_message_bucket=raw_message_bucket,
            )
        if encryption_key is not None and function_hardening.encryption_key is None:
            function_hardening = dataclasses.replace(
                function_hardening, encryption_key=encryption_key
            )
        #: The controls of every function the receiver defines; apply them to functions of your
        #: own with ``function_hardening.function(...)`` and ``.log_group(...)``.
        self.function_hardening: FunctionHardening = function_hardening
        #: The customer managed key, or ``None``.
        self.encryption_key: kms.IKey | None = encryption_key
        #: The first domain verified here (``domain_name``, else the first of ``domains``).
        self.domain: ReceivingDomain | None = None
        #: Every domain verified here, in order.
        self.domains: list[ReceivingDomain] = []
        if domain_name is not None:
            self.add_domain(
                domain_name, hosted_zone=hosted_zone, mail_from_subdomain=mail_from_subdomain
            )
        elif hosted_zone is not None or mail_from_subdomain is not None:
            raise ValidationError("hosted_zone and mail_from_subdomain need domain_name")
        if isinstance(domains, (str, Domain)):
            raise ValidationError(f"domains must be a list of Domain, got {domains!r}")
        for extra in domains:
            self.add_domain(
                extra.domain_name,
                hosted_zone=extra.hosted_zone,
                mail_from_subdomain=extra.mail_from_subdomain,
            )
        RecipientDomainCheck.attach(self)

        self.activation: ReceiptRuleSetActivation | None = None
        self._owns_rule_set = rule_set is None
        if rule_set is None:
            name = (
                rule_set_name
                or Names.unique_resource_name(self, max_length=56, separator="-") + "-rules"
            )
            new_set = ses.ReceiptRuleSet(
                self, "RuleSet", receipt_rule_set_name=validate_rule_set_name("rule_set_name", name)
            )
            rule_set = new_set
        elif rule_set_name is not None:
            raise ValidationError(
                "rule_set_name names a rule set the receiver defines; it cannot rename the "
                f"rule_set passed in (got rule_set_name={rule_set_name!r})"
            )
        elif activate_rule_set:
            raise ValidationError(
                "activate_rule_set applies to the rule set the receiver defines; to activate a "
                "rule set of your own, use ReceiptRuleSetActivation"
            )
        self.rule_set: ses.IReceiptRuleSet = rule_set
        self.rule_set_name: str = fixed_rule_set_name(rule_set)
        if replace_active_rule_set and not activate_rule_set:
            raise ValidationError("replace_active_rule_set=True needs activate_rule_set=True")
        if activate_rule_set:
            self.activation = ReceiptRuleSetActivation(
                self,
                "Activation",
                rule_set=rule_set,
                replace_active=replace_active_rule_set,
                hardening=function_hardening,
            )

        self.store: RawMessageStore | None = None
        if store_raw_messages:
            self.store = RawMessageStore(
                self,
                "Store",
                bucket=raw_message_bucket,
                object_key_prefix=raw_message_prefix,
                expiration=raw_message_expiration,
                removal_policy=removal_policy,
                encryption_key=encryption_key,
                server_access_logs_bucket=server_access_logs_bucket,
                replication_destination=replication_destination,
                replication_key=replication_key,
            )
        else:
            for prop, value in (
                ("raw_message_bucket", raw_message_bucket),
                ("raw_message_expiration", raw_message_expiration),
                ("server_access_logs_bucket", server_access_logs_bucket),
                ("replication_destination", replication_destination),
            ):
                if value is not None:
                    raise ValidationError(f"{prop} needs store_raw_messages=True")
        self.events: EmailEvents | None = None
        self._reader_layer: ReaderLayer | None = None
        self.handler: ReferenceHandler | None = None
        self._reply_keys: ReplyAddressKeys | None = None
        self.failures: InvocationFailures | None = None
        self.routes: list[EmailRoute] = []
        self.gate: VerdictGate | None = None
        if verdict_gate:
            self.gate = VerdictGate(
                self,
                "VerdictGate",
                rule_set=self.rule_set,
                rule_set_name=self.rule_set_name,
                recipients=Lazy.list(_RouteRecipients(self.routes)),
                reject_on_verdicts=self.settings.handler.reject_on_verdicts,
                runtime=handler_runtime,
                hardening=function_hardening,
            )
            # The gate's rule sees every route's mail: requiring TLS there would bounce the
            # plain-text mail of a route with TlsPolicy.OPTIONAL before that route's rule runs.
            # Each route's own rule enforces its own policy.
            gate_rule = self.gate.rule.node.default_child
            assert isinstance(gate_rule, ses.CfnReceiptRule)
            gate_rule.add_property_override(
                "Rule.TlsPolicy", Lazy.string(_GateTlsPolicy(self.routes))
            )
            if self.activation is not None:
                self.activation.resource.node.add_dependency(self.gate.rule)
        self.node.add_validation(_SubscriptionsNeedTheHandler(self))
        for route in routes:
            self.add_route(route)

    @property
    def scope(self) -> Construct:
        """Where routes define their constructs: the receiver itself."""
        return self

    @property
    def last_rule(self) -> ses.IReceiptRule | None:
        """The rule a new route's rule goes after: the last route's, else the verdict gate's."""
        if self.routes:
            return self.routes[-1].rule
        return self.gate.rule if self.gate is not None else None

    @property
    def forwarders(self) -> list[Forwarder]:
        """Every ``Forwarder`` defined in the receiver, in order: one per forwarding route (a
        route kind of your own that defines one in ``receiver.scope`` adds it here too)."""
        return [child for child in self.node.children if isinstance(child, Forwarder)]

    @property
    def bucket(self) -> s3.IBucket | None:
        """The raw-message bucket, or ``None`` when raw messages are not stored."""
        return self.store.bucket if self.store else None

    def reference_handler(self) -> ReferenceHandler:
        """The reference handler of this receiver, defined on first use."""
        if self.handler is None:
            if self.store is None:
                raise ValidationError(
                    "the reference handler reads raw messages from S3: a route without a "
                    "function needs store_raw_messages=True"
                )
            self.handler = ReferenceHandler(
                self,
                "Handler",
                store=self.store,
                parsed_prefix=self.settings.handler.parsed_prefix,
                reject_on_verdicts=self.settings.handler.reject_on_verdicts,
                runtime=self.settings.handler.runtime,
                event_bus=self.email_events().event_bus,
                event_source=self.email_events().event_source,
                hardening=self.function_hardening,
            )
            # The parsed output expires with the raw message it was parsed from.
            self.store.expire_prefix("ExpireParsedMessages", self.handler.parsed_prefix)
            self.failures = InvocationFailures(
                self,
                "Failures",
                function=self.handler.function,
                encryption_key=self.encryption_key,
                retry_attempts=self.settings.failures.retry_attempts,
                max_event_age=self.settings.failures.max_event_age,
                alarm_topic=self.settings.failures.alarm_topic,
            )
        return self.handler

    def add_domain(
        self,
        domain_name: str,
        *,
        hosted_zone: route53.IPublicHostedZone | None = None,
        mail_from_subdomain: str | None = None,
    ) -> ReceivingDomain:
        """Verify one more domain for receiving (identity, DKIM, MX) and return it."""
        names = [d.domain_name for d in self.domains]
        if not Token.is_unresolved(domain_name) and domain_name.lower() in names:
            raise ValidationError(f"domains: {domain_name!r} is added twice")
        # The first keeps the id "Domain" (so a single-domain receiver keeps its logical ids).
        construct_id = "Domain" if not self.domains else f"Domain{len(self.domains) + 1}"
        domain = ReceivingDomain(
            self,
            construct_id,
            domain_name=domain_name,
            hosted_zone=hosted_zone,
            mail_from_subdomain=mail_from_subdomain,
        )
        self.domains.append(domain)
        if self.domain is None:
            self.domain = domain
        return domain

    @property
    def domain_names(self) -> list[str]:
        """The names of the domains verified by this receiver."""
        return [d.domain_name for d in self.domains]

    def receiving_domains(self) -> list[str]:
        """Every domain this receiver receives for: its verified domains and the domains of
        every route's recipients (the forwarder's loop guard never sends into these)."""
        return receiving_domain_names(
            self.domain_names, [r for route in self.routes for r in route.recipients]
        )

    def add_route(self, route: IRoute) -> EmailRoute:
        """Add a receipt rule after the existing ones and return it.

        The route binds itself (:meth:`IRoute.bind`): a :class:`Route` invokes its function (or
        the reference handler), a :class:`ForwardingRoute` gets its own forwarder function
        (attribute ``forwarders``); a kind of your own defines what it needs.
        """
        if not isinstance(route, IRoute):
            raise ValidationError(
                "routes: a route must be a Route, a ForwardingRoute or another IRoute (id, "
                f"recipients, bind(receiver)); got {route!r}"
            )
        validate_route_id(route.id)
        if self.node.try_find_child(route.id) is not None:
            raise ValidationError(f"routes: the id {route.id!r} is used twice")
        if self._owns_rule_set:
            existing = sum(
                1 for c in self.rule_set.node.find_all() if isinstance(c, ses.CfnReceiptRule)
            )
            # The verdict gate's rule is a rule of the same set (docs/ses-facts.md, "Quotas").
            gate_rules = 1 if self.gate is not None else 0
            validate_count(
                "routes",
                existing + gate_rules + len(self.routes) + 1,
                MAX_RULES_PER_RULE_SET,
                "rules in one rule set",
            )
        if self.gate is not None:
            # The gate's one rule lists every route's recipients: check its quota here, where
            # the route that overflows it is known, not when the list is resolved at synth.
            own = validate_recipients(f"routes[{route.id}].recipients", route.recipients)
            validate_recipients(
                f"verdict_gate recipients (every route's, with routes[{route.id}])",
                _union([*(r for existing in self.routes for r in existing.recipients), *own]),
            )
        email_route = route.bind(self)
        if not isinstance(email_route, EmailRoute):
            raise ValidationError(
                f"routes[{route.id}].bind must return an EmailRoute; got {email_route!r}"
            )
        names = [existing.rule_name for existing in self.routes]
        if email_route.rule_name in names:
            raise ValidationError(
                f"routes[{route.id}].rule_name {email_route.rule_name!r} is used by another route"
            )
        if self.activation is not None:
            # Activate only once every rule exists, so no mail meets a half-built set.
            self.activation.resource.node.add_dependency(email_route.rule)
        self.routes.append(email_route)
        return email_route

    def email_events(self) -> EmailEvents:
        """The bus the reference handler announces each message on, defined on first use."""
        if self.events is None:
            self.events = EmailEvents(
                self,
                "Events",
                event_bus=self.settings.events.event_bus,
                event_source=self.settings.events.event_source,
                alarm_topic=self.settings.failures.alarm_topic,
                encryption_key=self.encryption_key,
            )
        return self.events

    @property
    def event_bus(self) -> events.IEventBus:
        """The bus of the received-mail events (defined on first use)."""
        return self.email_events().event_bus

    def subscribe(
        self,
        id: str,
        target: EmailTarget,
        *,
        options: SubscriptionOptions | None = None,
        **keywords: Unpack[SubscriptionKeywords],
    ) -> EmailSubscription:
        """Deliver the events of the messages matching every filter given to ``target``.

        Filters combine with AND, the values of one filter with OR: ``recipients`` and
        ``senders`` (``user@example.com``, also ``user+label@``; ``example.com``;
        ``.example.com``), ``subject_prefix``, ``subject_wildcard``, ``statuses`` (default:
        processed mail only) or ``detail_types``, ``kinds`` (:class:`MailKind`, default: every
        kind), and a raw ``pattern`` merged in. The target
        gets ``retry_attempts`` (default 185) within ``max_event_age`` (default 24 hours), then
        the subscription's dead-letter queue, alarmed like the handler's failures (the alarm
        notifies ``alarm_topic``). Give them as keyword arguments or as one
        :class:`SubscriptionOptions` (``options=``); see :class:`EmailSubscription`.
        """
        return self.email_events().subscribe(id, target, options=options, **keywords)

    def dashboard(
        self,
        id: str = "Dashboard",
        *,
        dashboard_name: str | None = None,
        period: Duration = Duration.minutes(5),
    ) -> ReceiverDashboard:
        """A CloudWatch dashboard of this receiver (see :class:`ReceiverDashboard`): call it
        after the routes and subscriptions are added. The ``metric_*`` methods give the same
        metrics one by one."""
        return ReceiverDashboard(
            self, id, receiver=self, dashboard_name=dashboard_name, period=period
        )

    def reader_layer(self) -> lambda_.ILayerVersion:
        """A layer with the typed reader (``from ses_mail.reader import ReceivedEmail``)."""
        if self._reader_layer is None:
            self._reader_layer = ReaderLayer(self, "ReaderLayer")
        return self._reader_layer.layer

    def reply_addresses(self, keys: ReplyAddressKeys | None = None) -> ReplyAddressKeys:
        """Have the reference handler verify signed reply addresses (``local+token@domain``)
        with ``keys`` and report their payload and validity (docs/handler.md,
        "Conversations"). Default: new keys (:class:`ReplyAddressKeys`). Grant your sending
        function ``keys.grant_read`` to mint addresses with ``ses_mail.ReplyAddresses``."""
        if keys is None:
            keys = self._reply_keys or ReplyAddressKeys(self, "ReplyAddressKeys")
        handler = self.reference_handler()
        handler.add_environment(REPLY_ADDRESS_SECRET_VARIABLE, keys.secret.secret_arn)
        keys.grant_read(handler.function)
        self._reply_keys = keys
        return keys

    def grant_send_replies(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant sending replies with SES v2 (``ses:SendEmail``) from the
        addresses this receiver receives for and their ``+label`` forms only, through the
        identities that cover them (condition ``ses:FromAddress``)."""
        recipients = _union([r for route in self.routes for r in route.recipients])
        return grant_send_from(
            grantee, scope=self, recipients=recipients, domains=self.domain_names
        )

    def grant_read_messages(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant reading what the reference handler writes: ``s3:GetObject`` on the parsed
        prefix only (``message.json`` and the attachments), never the raw messages; with an
        SSE-KMS bucket also ``kms:Decrypt`` on its key (reading an SSE-KMS object needs it:
        S3 User Guide, "Using server-side encryption with AWS KMS keys (SSE-KMS)")."""
        if self.store is None:
            raise ValidationError(
                "grant_read_messages needs store_raw_messages=True: the reference handler "
                "writes the parsed messages into the raw-message bucket"
            )
        prefix = self.settings.handler.parsed_prefix
        grant = grant_read_objects(grantee, self.store.bucket, prefix)
        if self.store.encryption_key is not None:
            self.store.encryption_key.grant(grantee, "kms:Decrypt")
        return grant


def _validate_routes(routes: Sequence[IRoute]) -> None:
    """``routes`` is a list of routes (each checked again when it is added)."""
    if isinstance(routes, (str, IRoute)) or not isinstance(routes, Sequence):
        raise ValidationError(f"routes must be a list of Route or ForwardingRoute; got {routes!r}")
    for index, route in enumerate(routes):
        if not isinstance(route, IRoute):
            raise ValidationError(
                f"routes[{index}] must be a Route, a ForwardingRoute or another IRoute (id, "
                f"recipients, bind(receiver)); got {route!r}"
            )


@jsii.implements(IValidation)
class _SubscriptionsNeedTheHandler:
    """Subscriptions receive what the reference handler puts: without it they get nothing."""

    def __init__(self, receiver: EmailReceiver) -> None:
        self._receiver = receiver

    def validate(self) -> list[str]:
        receiver = self._receiver
        if receiver.events is None or receiver.handler is not None:
            return []
        ids = [s.node.id for s in receiver.events.subscriptions]
        if not ids:
            return []
        return [
            f"subscribe({', '.join(repr(i) for i in ids)}): no route of this receiver uses the "
            "reference handler, the only publisher of the received-mail events, so the "
            "subscriptions would never receive an event. Add a route without a function, or "
            "subscribe the functions of your routes to what they publish yourself."
        ]


@jsii.implements(IStableListProducer)
class _RouteRecipients:
    """Every recipient of every route, known once all routes are added (for the verdict gate)."""

    def __init__(self, routes: list[EmailRoute]) -> None:
        self._routes = routes

    def produce(self) -> list[str]:
        recipients = _union([r for route in self._routes for r in route.recipients])
        validate_recipients("verdict_gate recipients (every route's)", recipients)
        return recipients


@jsii.implements(IStableStringProducer)
class _GateTlsPolicy:
    """``Require`` when every route requires TLS, else ``Optional`` (for the verdict gate)."""

    def __init__(self, routes: list[EmailRoute]) -> None:
        self._routes = routes

    def produce(self) -> str:
        if self._routes and all(r.tls_policy == ses.TlsPolicy.REQUIRE for r in self._routes):
            return "Require"  # AWS::SES::ReceiptRule Rule.TlsPolicy: Require | Optional
        return "Optional"


def _union(recipients: Sequence[str]) -> list[str]:
    """Each recipient once, in first-seen order (SES matches them case-insensitively)."""
    seen: dict[str, str] = {}
    for recipient in recipients:
        seen.setdefault(recipient.lower(), recipient)
    return list(seen.values())

"""Routes: what every receipt rule of a receiver shares, and the protocol a kind of route follows.

A route binds itself to the receiver it is added to, in the shape of aws-cdk's
``IReceiptRuleAction.bind(rule)``: :meth:`IRoute.bind` defines what the route needs inside the
receiver and returns its :class:`EmailRoute`, the one receipt rule. The receiver is seen through
:class:`IRouteReceiver`, the little a route may use of it, so a kind of route needs nothing
else of the library: :class:`~ses_lambda_constructs.Route` and
:class:`~ses_lambda_constructs.ForwardingRoute` are written this way, and so can yours
(docs/routes.md, ``examples/custom_route.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from aws_cdk import Names
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as ses_actions
from constructs import Construct

from .actions import stored_then_invoked
from .hardening import FunctionHardening
from .limits import MAX_ACTIONS_PER_RULE, validate_count, validate_recipients, validate_rule_name
from .settings import ReceiverSettings
from .storage import RawMessageStore


@dataclass(frozen=True, kw_only=True)
class RuleOptions:
    """The options of the receipt rule every kind of route defines.

    ``recipients`` follow SES's matching: ``user@example.com`` (and its ``user+label@`` forms),
    ``example.com`` (every address at that domain) or ``.example.com`` (every subdomain).
    """

    #: Construct id of the route; fixed, so that the rule keeps its identity across deploys.
    id: str
    recipients: Sequence[str]
    #: Default: a name derived from the construct path, at most 64 characters.
    rule_name: str | None = None
    #: Spam and virus scanning. Default: on.
    scan_enabled: bool = True
    #: Default: ``REQUIRE`` (mail not sent over TLS is bounced).
    tls_policy: ses.TlsPolicy = ses.TlsPolicy.REQUIRE
    #: Actions that run after the route's own actions (e.g. ``ses_actions.Stop()``).
    extra_actions: Sequence[ses.IReceiptRuleAction] = field(default_factory=tuple)
    enabled: bool = True


class IReferenceHandler(Protocol):
    """What a route may use of the receiver's reference handler."""

    @property
    def function(self) -> lambda_.IFunction: ...


class IRouteReceiver(Protocol):
    """What a route may use of the receiver it is bound to
    (:class:`~ses_lambda_constructs.EmailReceiver` is one)."""

    @property
    def scope(self) -> Construct:
        """Where the route defines its constructs (the receiver itself)."""
        ...

    @property
    def rule_set(self) -> ses.IReceiptRuleSet: ...

    @property
    def rule_set_name(self) -> str: ...

    @property
    def last_rule(self) -> ses.IReceiptRule | None:
        """The rule a new route's rule goes after (``None``: it is the first)."""
        ...

    @property
    def store(self) -> RawMessageStore | None:
        """The raw-message store, ``None`` when raw messages are not stored."""
        ...

    @property
    def settings(self) -> ReceiverSettings: ...

    @property
    def function_hardening(self) -> FunctionHardening: ...

    @property
    def domain_names(self) -> Sequence[str]:
        """The domains the receiver verifies."""
        ...

    def receiving_domains(self) -> Sequence[str]:
        """Every domain the receiver receives for (read when used: later routes count)."""
        ...

    def reference_handler(self) -> IReferenceHandler:
        """The reference handler, defined on first use."""
        ...


@runtime_checkable
class IRoute(Protocol):
    """A kind of route: an id, its recipients, and how it binds itself to a receiver.

    Before binding, the receiver checks what concerns all its routes (the id is free, the rule
    set's quota, the verdict gate's recipients); after, that the rule name is unique.
    """

    @property
    def id(self) -> str: ...

    @property
    def recipients(self) -> Sequence[str]: ...

    def bind(self, receiver: IRouteReceiver) -> EmailRoute:
        """Define the route in ``receiver.scope`` and return its rule."""
        ...


class EmailRoute(Construct):
    """One receipt rule of a receiver: the route's actions, then its ``extra_actions``.

    :param options: the rule's recipients, name, scanning, TLS policy and extra actions.
    :param rule_set: the receiver's rule set.
    :param actions: the route's own actions, given the rule's name (the library's S3 and
        Lambda actions name their rule in their permissions' conditions). Default: none.
    :param after: the rule this one follows (``receiver.last_rule``). Default: first.
    :param function: the function the rule invokes, if any (read by the receiver's metrics).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: RuleOptions,
        rule_set: ses.IReceiptRuleSet,
        actions: Callable[[str], Sequence[ses.IReceiptRuleAction]] = lambda _: (),
        after: ses.IReceiptRule | None = None,
        function: lambda_.IFunction | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.recipients = validate_recipients(f"routes[{id}].recipients", options.recipients)
        self.rule_name = validate_rule_name(
            f"routes[{id}].rule_name",
            options.rule_name or Names.unique_resource_name(self, max_length=64, separator="-"),
        )
        #: The rule's actions, in order.
        self.actions: list[ses.IReceiptRuleAction] = [
            *actions(self.rule_name),
            *options.extra_actions,
        ]
        validate_count(f"routes[{id}] actions", len(self.actions), MAX_ACTIONS_PER_RULE, "actions")
        #: The function the rule invokes, or ``None``.
        self.function = function
        #: The rule's TLS policy (the verdict gate's rule follows the routes' policies).
        self.tls_policy: ses.TlsPolicy = options.tls_policy
        self.rule = ses.ReceiptRule(
            self,
            "Rule",
            rule_set=rule_set,
            receipt_rule_name=self.rule_name,
            recipients=self.recipients,
            actions=self.actions,
            after=after,
            scan_enabled=options.scan_enabled,
            tls_policy=options.tls_policy,
            enabled=options.enabled,
        )

    @classmethod
    def storing_then_invoking(
        cls,
        receiver: IRouteReceiver,
        options: RuleOptions,
        *,
        store: RawMessageStore | None,
        function: lambda_.IFunction,
        invocation_type: ses_actions.LambdaInvocationType = ses_actions.LambdaInvocationType.EVENT,
        store_raw_message: bool = True,
    ) -> EmailRoute:
        """The rule of a route that stores the raw message in ``store`` (unless
        ``store_raw_message`` is ``False``), then invokes ``function``, then runs its
        ``extra_actions``; it follows the receiver's last rule."""
        return cls(
            receiver.scope,
            options.id,
            options=options,
            rule_set=receiver.rule_set,
            actions=stored_then_invoked(
                options.id,
                store=store,
                function=function,
                rule_set_name=receiver.rule_set_name,
                invocation_type=invocation_type,
                store_raw_message=store_raw_message,
            ),
            after=receiver.last_rule,
            function=function,
        )

"""Synth-time checks of a receiver's routes against its domains.

- A route recipient outside every domain the receiver verifies gets a warning (it may be
  verified elsewhere in the account; SES only receives for verified domains:
  https://docs.aws.amazon.com/ses/latest/dg/receiving-email-verification.html).
- A forwarding destination inside a domain the receiver receives for is an error: the copy
  would come back through the same rule set and loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import jsii
from aws_cdk import Annotations, Aspects, IAspect, Token
from constructs import IConstruct


class _Route(IConstruct, Protocol):
    @property
    def recipients(self) -> Sequence[str]: ...


class CheckedReceiver(IConstruct, Protocol):
    """What the checks read of a receiver (:class:`EmailReceiver` is one)."""

    @property
    def domain_names(self) -> Sequence[str]: ...

    @property
    def routes(self) -> Sequence[_Route]: ...

    @property
    def forwarders(self) -> Sequence[IConstruct]: ...

    def receiving_domains(self) -> Sequence[str]: ...


def recipient_domain(recipient: str) -> str:
    """The domain a recipient condition names (``.example.com`` gives ``example.com``)."""
    return recipient.rpartition("@")[2].lower().lstrip(".")


def covers(domain: str, host: str) -> bool:
    """``host`` is ``domain`` or one of its subdomains."""
    return host == domain or host.endswith("." + domain)


def receiving_domain_names(domains: Sequence[str], recipients: Iterable[str]) -> list[str]:
    """The verified domains plus the domains of every (resolved) recipient, without repeats."""
    names = [d.lower() for d in domains if not Token.is_unresolved(d)]
    names += [recipient_domain(r) for r in recipients if not Token.is_unresolved(r)]
    return list(dict.fromkeys(names))


@jsii.implements(IAspect)
class RecipientDomainCheck:
    """Runs once the app is complete (as an aspect), so domains and routes added late count."""

    def __init__(self, receiver: CheckedReceiver) -> None:
        self._receiver = receiver

    @classmethod
    def attach(cls, receiver: CheckedReceiver) -> None:
        Aspects.of(receiver).add(cls(receiver))

    def visit(self, node: IConstruct) -> None:
        if node is not self._receiver:
            return
        receiver = self._receiver
        domains = [d for d in receiver.domain_names if not Token.is_unresolved(d)]
        if domains:
            for route in receiver.routes:
                for recipient in route.recipients:
                    if Token.is_unresolved(recipient):
                        continue
                    host = recipient_domain(recipient)
                    if not any(covers(d, host) for d in domains):
                        Annotations.of(route).add_warning_v2(
                            "ses-lambda-constructs:recipientOutsideDomains",
                            f"routes[{route.node.id}].recipients has {recipient!r}, which is "
                            f"in none of the receiver's domains ({', '.join(domains)}); SES "
                            "receives it only if that domain is verified elsewhere",
                        )
        receiving = receiver.receiving_domains()
        for forwarder in receiver.forwarders:
            for destination in _destinations(forwarder):
                host = recipient_domain(destination)
                inside = [d for d in receiving if covers(d, host)]
                if inside:
                    Annotations.of(forwarder).add_error(
                        f"the forwarding destination {destination!r} is inside {inside[0]!r}, a "
                        "domain this receiver receives for: the copy would loop back through "
                        "the same rule set"
                    )


def _destinations(forwarder: Any) -> list[str]:
    table = getattr(forwarder, "destinations", {})
    return [a for targets in table.values() for a in targets if not Token.is_unresolved(a)]

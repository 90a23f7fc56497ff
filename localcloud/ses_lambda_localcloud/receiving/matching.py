"""SES's recipient matching for receipt rules (the Recipients of a ReceiptRule,
https://docs.aws.amazon.com/ses/latest/APIReference/API_ReceiptRule.html, and the recipient
conditions of https://docs.aws.amazon.com/ses/latest/dg/receiving-email-receipt-rules-console-walkthrough.html).

- ``user@example.com`` matches that address, case-insensitively, and its ``user+label@`` forms;
- ``example.com`` matches every address at that domain, not its subdomains;
- ``.example.com`` matches every address at any subdomain of example.com;
- an empty recipient list matches every recipient (of every verified domain).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def split_address(address: str) -> tuple[str, str] | None:
    """``"User@Example.COM"`` -> ``("user", "example.com")``; None if it is not an address."""
    address = address.strip().strip("<>").lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "." not in domain.strip("."):
        return None
    if any(c.isspace() for c in address):
        return None
    return local, domain


def recipient_matches(condition: str, address: str) -> bool:
    parts = split_address(address)
    if parts is None:
        return False
    local, domain = parts
    condition = condition.strip().lower()
    if "@" in condition:
        wanted_local, _, wanted_domain = condition.rpartition("@")
        if wanted_domain != domain:
            return False
        # "user@" also receives "user+anything@" (SES plus addressing).
        return local == wanted_local or local.split("+", 1)[0] == wanted_local
    if condition.startswith("."):
        return domain.endswith(condition) and len(domain) > len(condition)
    return domain == condition


def rule_enabled(rule: Mapping[str, Any]) -> bool:
    # The SES API's default is disabled; CloudFormation/CDK render Enabled explicitly.
    return rule.get("Enabled") in (True, "true", "True")


def rule_matches(rule: Mapping[str, Any], address: str) -> bool:
    conditions = rule.get("Recipients") or []
    if not conditions:
        return split_address(address) is not None
    return any(recipient_matches(c, address) for c in conditions)


def matched_recipients(rule: Mapping[str, Any], addresses: Iterable[str]) -> list[str]:
    return [a for a in addresses if rule_matches(rule, a)]


def identity_covers(identities: Iterable[str], address: str) -> bool:
    """Is the address, its domain, or a parent domain a (verified) SES identity?"""
    parts = split_address(address)
    if parts is None:
        return False
    local, domain = parts
    known = {i.lower() for i in identities}
    if f"{local}@{domain}" in known:
        return True
    labels = domain.split(".")
    return any(".".join(labels[i:]) in known for i in range(len(labels) - 1))

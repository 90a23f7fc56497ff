"""SES recipient matching (the Recipients of a ReceiptRule:
https://docs.aws.amazon.com/ses/latest/APIReference/API_ReceiptRule.html)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ses_lambda_localcloud.receiving.matching import (
    identity_covers,
    recipient_matches,
    rule_enabled,
    rule_matches,
)


@pytest.mark.parametrize(
    ("condition", "address", "expected"),
    [
        ("user@example.com", "user@example.com", True),
        ("user@example.com", "USER@Example.COM", True),
        ("User@Example.com", "user@example.com", True),
        ("user@example.com", "user+label@example.com", True),
        ("user@example.com", "user2@example.com", False),
        ("user@example.com", "user@sub.example.com", False),
        ("user+label@example.com", "user@example.com", False),
        ("example.com", "anyone@example.com", True),
        ("example.com", "anyone@sub.example.com", False),
        ("example.com", "anyone@notexample.com", False),
        (".example.com", "anyone@sub.example.com", True),
        (".example.com", "anyone@a.b.example.com", True),
        (".example.com", "anyone@example.com", False),
        ("example.com", "not-an-address", False),
    ],
)
def test_recipient_conditions(condition: str, address: str, expected: bool) -> None:
    assert recipient_matches(condition, address) is expected


def test_an_empty_recipient_list_matches_everyone() -> None:
    assert rule_matches({"Recipients": []}, "a@b.example")
    assert rule_matches({}, "a@b.example")
    assert not rule_matches({}, "garbage")


def test_only_explicitly_enabled_rules_run() -> None:
    # The SES API's default for Enabled is false.
    assert rule_enabled({"Enabled": True})
    assert rule_enabled({"Enabled": "true"})
    assert not rule_enabled({})
    assert not rule_enabled({"Enabled": False})


def test_identities_cover_their_subdomains_and_exact_addresses() -> None:
    identities = ["example.com", "only@other.org"]
    assert identity_covers(identities, "x@example.com")
    assert identity_covers(identities, "x@mail.example.com")
    assert identity_covers(identities, "only@other.org")
    assert not identity_covers(identities, "someone@other.org")
    assert not identity_covers(identities, "x@example.net")


local_parts = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,15}", fullmatch=True)
labels = st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True)


# No deadline or generation-speed check: the suite shares two cores with parallel workers.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(local=local_parts, label=labels, domain=labels, case=st.booleans())
def test_plus_labels_and_case_never_change_the_outcome(
    local: str, label: str, domain: str, case: bool
) -> None:
    address = f"{local}+{label}@{domain}.example"
    if case:
        address = address.upper()
    assert recipient_matches(f"{local}@{domain}.example", address)
    assert recipient_matches(f"{domain}.example", address)
    assert not recipient_matches(f".{domain}.example", address)

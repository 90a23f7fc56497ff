"""Signed reply addresses: round trip, rotation, and no forged or altered token ever valid."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ses_mail.reply_addresses import MAX_LOCAL_PART, ReplyAddresses, max_payload

OLD = b"o" * 32
NEW = b"n" * 32
ADDRESS = "support@mail.example.com"


def test_a_minted_address_verifies_with_its_payload() -> None:
    addresses = ReplyAddresses([NEW])
    minted = addresses.mint(ADDRESS, "ticket-42")
    assert minted.startswith("support+") and minted.endswith("@mail.example.com")
    assert len(minted.partition("@")[0]) <= MAX_LOCAL_PART
    token = addresses.verify(minted)
    assert token is not None
    assert (token.valid, token.payload, token.base) == (True, "ticket-42", ADDRESS)


def test_a_relay_that_changes_the_case_does_not_break_the_token() -> None:
    addresses = ReplyAddresses([NEW])
    minted = addresses.mint(ADDRESS, "T42")
    token = addresses.verify(minted.upper())
    assert token is not None
    assert (token.valid, token.payload) == (True, "T42")


def test_after_rotation_the_previous_key_still_verifies_and_the_new_one_mints() -> None:
    before = ReplyAddresses([OLD]).mint(ADDRESS, "t1")
    rotated = ReplyAddresses([NEW, OLD])
    after = rotated.mint(ADDRESS, "t2")
    assert [rotated.verify(item).payload for item in (before, after)] == ["t1", "t2"]  # type: ignore[union-attr]
    assert ReplyAddresses([OLD]).verify(after).valid is False  # type: ignore[union-attr]
    assert ReplyAddresses([NEW]).verify(before).valid is False  # type: ignore[union-attr]


def test_a_token_moved_to_another_address_does_not_verify() -> None:
    addresses = ReplyAddresses([NEW])
    token = addresses.mint(ADDRESS, "t1").partition("+")[2].partition("@")[0]
    moved = addresses.verify(f"sales+{token}@mail.example.com")
    assert moved is not None
    assert (moved.valid, moved.payload) == (False, None)


def test_an_address_without_a_token_has_none() -> None:
    assert ReplyAddresses([NEW]).verify(ADDRESS) is None


@pytest.mark.parametrize(
    ("address", "payload", "message"),
    [
        ("support", "t", "must be local@domain"),
        ("a+b@example.com", "t", "without a '\\+'"),
        (ADDRESS, "x" * 40, "40 bytes; at most 24 fit"),
    ],
)
def test_fails_when_minting_is_impossible(address: str, payload: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReplyAddresses([NEW]).mint(address, payload)


def test_fails_when_a_key_is_short() -> None:
    with pytest.raises(ValueError, match=r"keys\[1\] must be at least 32 bytes; got 5"):
        ReplyAddresses([NEW, b"short"])


def test_keys_come_from_the_secret_value() -> None:
    secret = json.dumps(
        {"current": base64.b64encode(NEW).decode(), "previous": base64.b64encode(OLD).decode()}
    )
    addresses = ReplyAddresses.from_secret_string(secret)
    assert addresses.verify(ReplyAddresses([OLD]).mint(ADDRESS, "x")).valid  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="'previous' is not base64"):
        ReplyAddresses.from_secret_string(json.dumps({"current": "bmV3" * 11, "previous": "!"}))


_payloads = st.text(max_size=24).filter(lambda text: len(text.encode()) <= max_payload(ADDRESS))


@settings(max_examples=300, deadline=None)
@given(_payloads, st.data())
def test_any_altered_token_is_never_valid_with_another_payload(
    payload: str, data: st.DataObject
) -> None:
    addresses = ReplyAddresses([NEW, OLD])
    minted = addresses.mint(ADDRESS, payload)
    local, _, domain = minted.partition("@")
    position = data.draw(st.integers(min_value=len("support+"), max_value=len(local) - 1))
    replacement = data.draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz234567-+=."))
    altered = f"{local[:position]}{replacement}{local[position + 1 :]}@{domain}"
    token = addresses.verify(altered)
    if altered.lower() == minted.lower():
        assert token is not None and token.valid and token.payload == payload
    else:
        assert token is None or token.valid is False or token.payload == payload
        assert token is None or token.valid is False


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_received_address_verifies_without_raising_and_is_not_valid(local: str) -> None:
    token = ReplyAddresses([NEW]).verify(f"support+{local}@mail.example.com")
    assert token is None or token.valid is False

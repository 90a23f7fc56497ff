"""Signed reply addresses: round trip, rotation, and no forged or altered token ever valid."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ses_mail.reply_addresses import MAX_LOCAL_PART, ReplyAddresses, ReplyToken, max_payload

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


# The token format, written out from the module's documented definition (HMAC-SHA256 of the
# version label, the lowercased address without the token and the payload, joined by NUL bytes,
# cut to 80 bits; both halves lowercase unpadded base32). An address minted before an upgrade
# must still verify after it, so the format itself is pinned, not only the round trip.
_SPEC_LABEL = b"ses-lambda-constructs reply address v1"


def _spec_b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def _spec_address(key: bytes, address: str, data: bytes) -> str:
    local, _, domain = address.rpartition("@")
    message = b"\0".join((_SPEC_LABEL, address.lower().encode(), data))
    mac = hmac.new(key, message, hashlib.sha256).digest()[:10]
    return f"{local}+{_spec_b32(data)}-{_spec_b32(mac)}@{domain}"


def test_the_token_is_the_documented_hmac_of_label_address_and_payload() -> None:
    minted = ReplyAddresses([NEW, OLD]).mint("Support@Mail.Example.com", "ticket-42")
    assert minted == _spec_address(NEW, "Support@Mail.Example.com", b"ticket-42")
    # The same, as a fixed vector: a change of the format breaks every address already sent.
    assert minted == "Support+oruwg23foqwtimq-w3eqtcoiak5xqvnq@Mail.Example.com"


def test_a_token_minted_on_a_mixed_case_address_verifies_in_any_case() -> None:
    addresses = ReplyAddresses([NEW])
    minted = addresses.mint("Support@Mail.Example.com", "t")
    for received in (minted, minted.lower(), minted.upper()):
        assert addresses.verify(received) == ReplyToken(
            address=received, base=ADDRESS, payload="t", valid=True
        )


def _invalid(address: str) -> ReplyToken:
    return ReplyToken(address=address, base=ADDRESS, payload=None, valid=False)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("nothex", id="not the token syntax"),
        pytest.param("a-aaaaaaaaaaaaaaaa", id="a payload length base32 cannot have"),
        pytest.param("-aaaaaaaaaaaaaaaa", id="an empty payload with a wrong MAC"),
    ],
)
def test_a_malformed_token_is_invalid_and_names_its_address(token: str) -> None:
    received = f"Support+{token}@mail.example.com"
    assert ReplyAddresses([NEW]).verify(received) == _invalid(received)


def test_a_token_in_a_non_canonical_encoding_is_invalid() -> None:
    # One payload byte is two base32 characters, 10 bits: the last 2 bits are unused. A second
    # spelling that decodes to the same byte (and so carries a matching MAC) is refused, so a
    # token cannot be altered into another one that still verifies.
    minted = ReplyAddresses([NEW]).mint(ADDRESS, "a")
    local, _, domain = minted.partition("@")
    mailbox, _, token = local.partition("+")
    payload, _, mac = token.partition("-")
    last = "abcdefghijklmnopqrstuvwxyz234567".index(payload[1])
    other = "abcdefghijklmnopqrstuvwxyz234567"[last ^ 1]
    altered = f"{mailbox}+{payload[0]}{other}-{mac}@{domain}"
    assert base64.b32decode(f"{payload[0]}{other}".upper() + "=" * 6) == b"a"
    assert ReplyAddresses([NEW]).verify(altered) == _invalid(altered)


def test_a_token_signed_with_an_unknown_key_is_invalid() -> None:
    forged = _spec_address(b"k" * 32, ADDRESS, b"ticket-42")
    assert ReplyAddresses([NEW, OLD]).verify(forged) == _invalid(forged)


def test_a_signed_payload_that_is_not_utf8_is_invalid_not_absent() -> None:
    # Only the key's holder can sign such a payload; mint never does, and it is not reported.
    signed = _spec_address(NEW, ADDRESS, b"\xff\xfe")
    assert ReplyAddresses([NEW, OLD]).verify(signed) == _invalid(signed)


def test_the_payload_limit_is_exact() -> None:
    addresses = ReplyAddresses([NEW])
    longest = "x" * max_payload(ADDRESS)
    minted = addresses.mint(ADDRESS, longest)
    assert len(minted.partition("@")[0]) <= MAX_LOCAL_PART
    assert addresses.verify(minted).payload == longest  # type: ignore[union-attr]
    with pytest.raises(ValueError, match=r"is 25 bytes; at most 24 fit"):
        addresses.mint(ADDRESS, longest + "x")


def test_a_local_part_too_long_for_any_token_has_no_room() -> None:
    address = f"{'l' * 46}@example.com"  # 64 - 46 - 18 leaves no character for the payload
    assert max_payload(address) == 0
    assert ReplyAddresses([NEW]).verify(ReplyAddresses([NEW]).mint(address, "")).valid  # type: ignore[union-attr]
    with pytest.raises(ValueError, match=r"is 1 bytes; at most 0 fit"):
        ReplyAddresses([NEW]).mint(address, "a")


def test_the_payload_room_counts_a_quoted_local_part_with_an_at_sign() -> None:
    # The domain is after the last '@' (RFC 5321 section 4.1.2: a quoted local part may hold one).
    assert max_payload('"a@b"@example.com') == (MAX_LOCAL_PART - 5 - 18) * 5 // 8
    assert max_payload("ab@example.com") == (MAX_LOCAL_PART - 2 - 18) * 5 // 8


@pytest.mark.parametrize("address", ["@example.com", "support@", "support"])
def test_fails_when_the_address_is_not_local_at_domain(address: str) -> None:
    with pytest.raises(ValueError, match=f"without a '\\+'; got {address!r}"):
        ReplyAddresses([NEW]).mint(address, "t")


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([], "keys must be a non-empty list of keys, the current one first"),
        (NEW, "keys must be a non-empty list of keys, the current one first"),
        ("n" * 40, "keys must be a non-empty list of keys, the current one first"),
        (["n" * 40], r"keys\[0\] must be at least 32 bytes; got str"),
        ([None], r"keys\[0\] must be at least 32 bytes; got NoneType"),
    ],
)
def test_fails_when_the_keys_are_not_a_list_of_long_keys(keys: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        ReplyAddresses(keys)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("not json", "the reply-address secret is not JSON"),
        ("[]", 'the reply-address secret must be {"current": "<base64 key>", ...}'),
        (
            '{"previous": "bmV3"}',
            'the reply-address secret must be {"current": "<base64 key>", ...}',
        ),
        ('{"current": 5}', 'the reply-address secret must be {"current": "<base64 key>", ...}'),
        ('{"current": "!"}', "the reply-address secret's 'current' is not base64"),
    ],
)
def test_fails_when_the_secret_value_is_malformed(secret: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        ReplyAddresses.from_secret_string(secret)
    assert str(raised.value) == message


def test_the_secret_s_current_key_mints_and_a_missing_previous_is_allowed() -> None:
    current = base64.b64encode(NEW).decode()
    both = ReplyAddresses.from_secret_string(
        json.dumps({"current": current, "previous": base64.b64encode(OLD).decode()})
    )
    assert both.mint(ADDRESS, "t") == ReplyAddresses([NEW]).mint(ADDRESS, "t")
    alone = ReplyAddresses.from_secret_string(json.dumps({"current": current}))
    assert alone.verify(both.mint(ADDRESS, "t")).valid  # type: ignore[union-attr]
    assert alone.verify(ReplyAddresses([OLD]).mint(ADDRESS, "t")).valid is False  # type: ignore[union-attr]


def test_the_keys_are_read_from_secrets_manager() -> None:
    from moto import mock_aws

    with mock_aws():
        import boto3

        client = boto3.client("secretsmanager", region_name="us-east-1")
        value = {
            "current": base64.b64encode(NEW).decode(),
            "previous": base64.b64encode(OLD).decode(),
        }
        client.create_secret(Name="reply-keys", SecretString=json.dumps(value))
        addresses = ReplyAddresses.from_secret(client, "reply-keys")
    assert addresses.mint(ADDRESS, "t") == ReplyAddresses([NEW]).mint(ADDRESS, "t")
    assert addresses.verify(ReplyAddresses([OLD]).mint(ADDRESS, "t")).valid  # type: ignore[union-attr]


def test_a_quoted_local_part_with_an_at_sign_keeps_its_domain() -> None:
    addresses = ReplyAddresses([NEW])
    minted = addresses.mint('"a@b"@example.com', "t")
    assert minted.startswith('"a@b"+') and minted.endswith("@example.com")
    assert minted.count("@") == 2
    assert addresses.verify(minted) == ReplyToken(
        address=minted, base='"a@b"@example.com', payload="t", valid=True
    )


def test_the_token_is_everything_after_the_first_plus() -> None:
    # Minting refuses a '+' in the address, so a second '+' is part of the token, which then
    # does not verify; the mailbox is the part before the first '+', as for SES's receipt rules.
    token = ReplyAddresses([NEW]).mint(ADDRESS, "t").partition("+")[2]
    received = f"support+extra+{token}"
    assert ReplyAddresses([NEW]).verify(received) == _invalid(received)

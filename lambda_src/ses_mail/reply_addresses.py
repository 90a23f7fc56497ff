"""Signed reply addresses: ``local+<token>@domain`` whose token carries a payload and a MAC.

Your sending code mints ``support+<token>@mail.example.com`` for a ticket; the customer's reply
comes back to that address and the reference handler verifies it, so the payload (the ticket id)
is known and cannot be forged or altered. Plus addressing itself is what SES receipt rules
already match: a rule for ``support@mail.example.com`` also receives ``support+anything@``
("Configuring receipt rules": a recipient condition matches the address and its ``+label``
forms).

Token: ``<payload>-<mac>``, both lowercase base32 (RFC 4648 section 6, padding dropped), so it
survives a relay that lowercases the local part. The MAC is HMAC-SHA256 (RFC 2104) of a version
label, the address without the token (lowercased) and the payload, cut to 80 bits; it binds the
payload to that address, so a token copied onto another address does not verify. The local part
is at most 64 octets (RFC 5321 section 4.5.3.1.1), which bounds the payload (:func:`max_payload`).

Keys: :class:`ReplyAddresses` mints with its first key and verifies with every key, so a rotated
key (the previous one kept as second) still verifies replies to addresses minted before the
rotation. :meth:`ReplyAddresses.from_secret` reads the keys from a Secrets Manager secret whose
value is ``{"current": "<base64>", "previous": "<base64>"}`` (``previous`` optional) through the
client you pass; this module imports no boto3.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

MAC_BYTES = 10
"""80 bits of HMAC-SHA256: forging needs about 2**80 tries (NIST SP 800-107 section 5.3.4 allows
truncation to no less than 32 bits; 80 is far above a guessing attacker's reach by mail)."""
MAX_LOCAL_PART = 64
"""RFC 5321 section 4.5.3.1.1: a local part is at most 64 octets."""
MIN_KEY_BYTES = 32
"""A key has at least 256 bits (RFC 2104 section 3: no shorter than the hash output is
recommended)."""
_LABEL = b"ses-lambda-constructs reply address v1"
_TOKEN = re.compile(r"^([a-z2-7]*)-([a-z2-7]{16})$")


class SecretReader(Protocol):
    """What :meth:`ReplyAddresses.from_secret` needs: a Secrets Manager client (boto3's)."""

    def get_secret_value(self, *, SecretId: str) -> Any: ...  # boto3 names its parameters


@dataclass(frozen=True, slots=True)
class ReplyToken:
    """What a received address's token says."""

    address: str
    """The address as received (with its token)."""
    base: str
    """The address without the token, lowercased."""
    payload: str | None
    """The payload; ``None`` when the token is not valid (never a forged payload)."""
    valid: bool


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _unb32(text: str) -> bytes:
    padded = text.upper() + "=" * (-len(text) % 8)
    return base64.b32decode(padded)


def max_payload(address: str) -> int:
    """The longest payload, in UTF-8 bytes, that fits a token on ``address``."""
    local = address.rpartition("@")[0]
    room = MAX_LOCAL_PART - len(local.encode("utf-8")) - 1 - 1 - 16  # "+", "-", the MAC
    return max(room * 5 // 8, 0)


class ReplyAddresses:
    """Mint and verify signed reply addresses with a list of keys, newest first."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if isinstance(keys, bytes | str) or not keys:
            raise ValueError("keys must be a non-empty list of keys, the current one first")
        for index, key in enumerate(keys):
            if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
                raise ValueError(
                    f"keys[{index}] must be at least {MIN_KEY_BYTES} bytes; got "
                    f"{len(key) if isinstance(key, bytes) else type(key).__name__}"
                )
        self._keys = tuple(keys)

    @classmethod
    def from_secret_string(cls, secret: str) -> ReplyAddresses:
        """Keys from a secret value ``{"current": "<base64>", "previous": "<base64>"}``."""
        try:
            value = json.loads(secret)
        except ValueError:
            raise ValueError("the reply-address secret is not JSON") from None
        if not isinstance(value, dict) or not isinstance(value.get("current"), str):
            raise ValueError('the reply-address secret must be {"current": "<base64 key>", ...}')
        keys = []
        for name in ("current", "previous"):
            encoded = value.get(name)
            if encoded is None:
                continue
            try:
                keys.append(base64.b64decode(str(encoded), validate=True))
            except (binascii.Error, ValueError):
                raise ValueError(f"the reply-address secret's {name!r} is not base64") from None
        return cls(keys)

    @classmethod
    def from_secret(cls, client: SecretReader, secret_id: str) -> ReplyAddresses:
        """Keys read from Secrets Manager with ``client`` (``GetSecretValue``)."""
        answer = client.get_secret_value(SecretId=secret_id)
        return cls.from_secret_string(str(answer["SecretString"]))

    def mint(self, address: str, payload: str) -> str:
        """``local+<token>@domain`` for ``address`` carrying ``payload``.

        Raises ``ValueError`` naming the problem when ``address`` is not ``local@domain``,
        already has a ``+``, or the payload does not fit the 64-octet local part.
        """
        local, at, domain = address.rpartition("@")
        if not at or not local or not domain or "+" in local:
            raise ValueError(f"address must be local@domain without a '+'; got {address!r}")
        data = payload.encode("utf-8")
        limit = max_payload(address)
        if len(data) > limit:
            raise ValueError(
                f"payload {payload!r} is {len(data)} bytes; at most {limit} fit a reply "
                f"address on {address!r} (local parts are at most {MAX_LOCAL_PART} octets)"
            )
        mac = self._mac(self._keys[0], f"{local}@{domain}".lower(), data)
        return f"{local}+{_b32(data)}-{_b32(mac)}@{domain}"

    def verify(self, address: str) -> ReplyToken | None:
        """What the token of ``address`` says; ``None`` when it carries no token at all."""
        local, at, domain = address.rpartition("@")
        mailbox, plus, token = local.partition("+")
        if not at or not plus:
            return None
        base = f"{mailbox}@{domain}".lower()
        found = _TOKEN.match(token.lower())
        if found is None:
            return ReplyToken(address=address, base=base, payload=None, valid=False)
        try:
            data, mac = _unb32(found.group(1)), _unb32(found.group(2))
        except (binascii.Error, ValueError):
            return ReplyToken(address=address, base=base, payload=None, valid=False)
        if _b32(data) != found.group(1) or _b32(mac) != found.group(2):
            # Only the canonical encoding is accepted (the unused low bits of the last
            # character are zero), so each payload has exactly one valid token per key.
            return ReplyToken(address=address, base=base, payload=None, valid=False)
        for key in self._keys:
            if hmac.compare_digest(self._mac(key, base, data), mac):
                try:
                    payload = data.decode("utf-8")
                except UnicodeDecodeError:
                    break
                return ReplyToken(address=address, base=base, payload=payload, valid=True)
        return ReplyToken(address=address, base=base, payload=None, valid=False)

    @staticmethod
    def _mac(key: bytes, base: str, data: bytes) -> bytes:
        message = b"\0".join((_LABEL, base.encode("utf-8"), data))
        return hmac.new(key, message, hashlib.sha256).digest()[:MAC_BYTES]

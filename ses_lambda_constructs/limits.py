"""SES receiving limits, name rules and the validation helpers every construct uses.

Facts (docs/ses-facts.md, "Receiving regions" and "Quotas"): receiving exists in a fixed list of
regions, some of them opt-in regions where SES cannot store mail into S3; quotas that cannot be
raised are 200 rules per rule set, 10 actions per rule and 500 recipients per rule; rule names
use letters, digits, ``_``, ``-`` and ``.``, rule-set names the same without ``.``; both start
and end with a letter or digit and are at most 64 characters long.

Validation raises :class:`ValidationError` naming the prop and the value. Values that are still
unresolved tokens at synth time are skipped: they can only be checked by CloudFormation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources

from aws_cdk import Token
from constructs import Construct

from ._bundled import contract

_CONTRACT = contract()

# SES Developer Guide, "Service quotas in Amazon SES", email receiving (none adjustable).
MAX_RULES_PER_RULE_SET: int = _CONTRACT.MAX_RULES_PER_RULE_SET
MAX_ACTIONS_PER_RULE: int = _CONTRACT.MAX_ACTIONS_PER_RULE
#: "Maximum number of recipients per receipt rule | 500" (the same quotas page).
MAX_RECIPIENTS_PER_RULE: int = _CONTRACT.MAX_RECIPIENTS_PER_RULE
MAX_NAME_LENGTH = 64
#: Lambda's asynchronous invocation: 0-2 retries, event age 60 s to 6 hours
#: (PutFunctionEventInvokeConfig, Lambda API reference).
MAX_ASYNC_RETRY_ATTEMPTS = 2
MIN_ASYNC_EVENT_AGE_SECONDS = 60
MAX_ASYNC_EVENT_AGE_SECONDS = 6 * 3600
#: The SES S3 action stores messages up to 40 MB, headers included (SES Developer Guide, "Deliver
#: to S3 bucket action"). The page does not say how many bytes its MB holds: read as 40 MiB, the
#: larger reading, so that nothing SES stored is refused as too large (docs/ses-facts.md, "S3
#: action").
MAX_MESSAGE_BYTES: int = _CONTRACT.MAX_MESSAGE_BYTES
#: Longest object-key prefix accepted: S3 keys are at most 1024 bytes and SES appends the message
#: id (about 40 characters) and the parsed output adds ``/message.json`` or attachment names.
MAX_PREFIX_LENGTH = 512

EXTRA_REGIONS_CONTEXT_KEY = "ses-lambda-constructs:extraReceivingRegions"

# ReceiptRule Name: letters, digits, underscores, dashes and periods (API reference, ReceiptRule).
_RULE_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$")
# ReceiptRuleSetMetadata Name: letters, digits, underscores and dashes only, no periods (API
# reference, ReceiptRuleSetMetadata).
_RULE_SET_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?$")
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ValidationError(ValueError):
    """A construct prop has a value that SES or CloudFormation would reject."""


@cache
def _regions_data() -> dict[str, list[str]]:
    raw = resources.files("ses_lambda_constructs").joinpath("data/receiving_regions.json")
    data: dict[str, list[str]] = json.loads(raw.read_text(encoding="utf-8"))
    return data


def builtin_receiving_regions() -> frozenset[str]:
    """Regions known to support SES email receiving, from ``data/receiving_regions.json``."""
    return frozenset(_regions_data()["regions"])


def opt_in_receiving_regions() -> frozenset[str]:
    """The receiving regions that are opt-in regions (``optIn`` of the same file).

    SES does not store mail into an S3 bucket in an opt-in region (SES Developer Guide, "Deliver
    to S3 bucket action"); see :func:`validate_s3_action_region`.
    """
    return frozenset(_regions_data()["optIn"])


def receiving_regions(scope: Construct | None = None) -> frozenset[str]:
    """The built-in receiving regions plus those listed in the app's context.

    Add a region that AWS has opened for receiving since this list was written with the context
    key ``ses-lambda-constructs:extraReceivingRegions`` (in ``cdk.json`` or ``-c``).
    """
    regions = builtin_receiving_regions()
    if scope is None:
        return regions
    extra = scope.node.try_get_context(EXTRA_REGIONS_CONTEXT_KEY)
    if extra is None:
        return regions
    if isinstance(extra, str):
        extra = [part.strip() for part in extra.split(",") if part.strip()]
    if not isinstance(extra, list) or not all(isinstance(item, str) for item in extra):
        raise ValidationError(
            f"context '{EXTRA_REGIONS_CONTEXT_KEY}' must be a list of region names, got {extra!r}"
        )
    return regions | frozenset(extra)


def is_unresolved(value: object) -> bool:
    return isinstance(value, str) and Token.is_unresolved(value)


def validate_rule_name(prop: str, value: str) -> str:
    """Check a receipt rule name: letters, digits, ``_``, ``-`` and ``.``."""
    if is_unresolved(value):
        return value
    if not value or len(value) > MAX_NAME_LENGTH or not _RULE_NAME.match(value):
        raise ValidationError(
            f"{prop} must be 1-{MAX_NAME_LENGTH} characters of letters, digits, '_', '-' or '.', "
            f"starting and ending with a letter or digit; got {value!r}"
        )
    return value


def validate_rule_set_name(prop: str, value: str) -> str:
    """Check a receipt rule set name: letters, digits, ``_`` and ``-`` (no ``.``)."""
    if is_unresolved(value):
        return value
    if not value or len(value) > MAX_NAME_LENGTH or not _RULE_SET_NAME.match(value):
        raise ValidationError(
            f"{prop} must be 1-{MAX_NAME_LENGTH} characters of letters, digits, '_' or '-' (a "
            f"rule set name cannot contain '.'), starting and ending with a letter or digit; "
            f"got {value!r}"
        )
    return value


def validate_s3_action_region(prop: str, bucket_region: str) -> None:
    """Refuse an S3 action into a bucket in an opt-in region, which SES does not support.

    ``bucket_region`` is the bucket's region (its stack's region for a bucket of this app); an
    unresolved region is left to deploy time.
    """
    if is_unresolved(bucket_region):
        return
    if bucket_region in opt_in_receiving_regions():
        raise ValidationError(
            f"{prop} is in {bucket_region!r}, an opt-in region: SES does not store mail into "
            "S3 buckets in opt-in regions. Store into a bucket in a region that is not opt-in "
            "(pass one as raw_message_bucket, imported with its region), or receive without "
            "storing raw messages (store_raw_messages=False, routes with your own function)"
        )


def validate_domain(prop: str, value: str) -> str:
    if is_unresolved(value):
        return value
    if len(value) > 253 or not _DOMAIN.match(value):
        raise ValidationError(
            f"{prop} must be a domain name such as 'mail.example.com'; got {value!r}"
        )
    return value.lower()


def validate_recipient(prop: str, value: str) -> str:
    """Check one SES recipient condition.

    SES accepts three forms: an address (``user@example.com``, which also matches
    ``user+label@example.com``), a domain (``example.com``, every address at it) and a leading-dot
    domain (``.example.com``, every subdomain).
    """
    if is_unresolved(value):
        return value
    if not isinstance(value, str) or not value or _CONTROL.search(value) or " " in value:
        raise ValidationError(f"{prop} has a malformed recipient {value!r}")
    if "@" in value:
        local, _, domain = value.rpartition("@")
        if len(local) > 64 or not _LOCAL_PART.match(local) or not _DOMAIN.match(domain):
            raise ValidationError(
                f"{prop} has a malformed recipient {value!r}: expected 'user@example.com', "
                "'example.com' or '.example.com'"
            )
        return value
    domain = value[1:] if value.startswith(".") else value
    if not _DOMAIN.match(domain):
        raise ValidationError(
            f"{prop} has a malformed recipient {value!r}: expected 'user@example.com', "
            "'example.com' or '.example.com'"
        )
    return value


def validate_recipients(prop: str, values: Sequence[str]) -> list[str]:
    if isinstance(values, str):
        raise ValidationError(f"{prop} must be a list of recipients, got the string {values!r}")
    if not values:
        raise ValidationError(
            f"{prop} is empty: a rule without recipients matches every address of every verified "
            "domain in the account; list the addresses or domains to receive"
        )
    if len(values) > MAX_RECIPIENTS_PER_RULE:
        raise ValidationError(
            f"{prop} has {len(values)} recipients; SES allows at most "
            f"{MAX_RECIPIENTS_PER_RULE} per rule (split them over several routes)"
        )
    checked = [validate_recipient(prop, value) for value in values]
    seen: set[str] = set()
    for value in checked:
        if value.lower() in seen:
            raise ValidationError(f"{prop} lists {value!r} more than once")
        seen.add(value.lower())
    return checked


def validate_prefix(prop: str, value: str, *, allow_empty: bool = True) -> str:
    """Check an S3 object-key prefix: relative, no control characters, no ``..`` segment."""
    if is_unresolved(value):
        return value
    problem = None
    if not value and not allow_empty:
        problem = "must not be empty"
    elif value.startswith("/"):
        problem = "must not start with '/'"
    elif _CONTROL.search(value):
        problem = "must not contain control characters"
    elif ".." in value.split("/") or "//" in value:
        problem = "must not contain '..' segments or empty segments ('//')"
    elif len(value.encode()) > MAX_PREFIX_LENGTH:
        problem = f"must be at most {MAX_PREFIX_LENGTH} bytes"
    if problem:
        raise ValidationError(f"{prop} {problem}; got {value!r}")
    return value


def validate_disjoint_prefixes(first: tuple[str, str], second: tuple[str, str]) -> None:
    """Two prefixes must not contain one another (each grant covers only its own prefix)."""
    (name_a, a), (name_b, b) = first, second
    if is_unresolved(a) or is_unresolved(b):
        return
    if a.startswith(b) or b.startswith(a):
        raise ValidationError(
            f"{name_a} ({a!r}) and {name_b} ({b!r}) overlap: give raw and parsed objects separate "
            "prefixes, such as 'raw/' and 'parsed/'"
        )


def validate_count(prop: str, count: int, maximum: int, what: str) -> None:
    if count > maximum:
        raise ValidationError(f"{prop} has {count} {what}; SES allows at most {maximum}")

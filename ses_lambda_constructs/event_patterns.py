"""EventBridge event patterns for the received-mail events, built from the mail fields.

The reference handler puts one event per message (source ``ses-lambda-constructs`` by default,
detail-type per outcome, the detail defined by ``lambda_src/ses_mail/email_event.schema.json``).
:func:`email_event_pattern` turns the fields a user thinks in (recipients, senders, subject,
status) into the pattern a rule matches, and :func:`validate_event_pattern` checks any pattern
against EventBridge's syntax at synth time, so a mistake fails ``cdk synth`` with the field and the
value named instead of failing the deployment.

Pattern rules used here, from "Creating event patterns"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html), "Comparison
operators" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html)
and the README of EventBridge's open-source matcher, Event Ruler
(https://github.com/aws/event-ruler#wildcard-matching):

- a field's condition is a non-empty array; the field matches when any element matches; the
  pattern matches when every field matches (AND across fields, OR within one);
- an element is a literal (string, number, ``true``/``false``/``null``) or one operator object:
  ``prefix``, ``suffix`` (a string, or ``{"equals-ignore-case": ...}``), ``equals-ignore-case``,
  ``wildcard``, ``anything-but`` (a value, a list of only strings or only numbers, or a
  ``prefix``/``suffix``/``equals-ignore-case``/``wildcard`` object), ``numeric`` (comparisons
  with ``=``, ``<``, ``<=``, ``>``, ``>=``), ``exists`` (a boolean) and ``cidr``;
- ``wildcard`` allows ``*`` anywhere but never two in a row; ``\\*`` is a literal asterisk,
  ``\\\\`` a literal backslash, and a backslash before anything else is invalid;
- ``$or`` takes a list of at least two non-empty sub-patterns.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from ._bundled import contract
from .limits import ValidationError, is_unresolved, validate_recipient

_CONTRACT = contract()

#: ``source`` of the events the reference handler puts, unless configured otherwise.
DEFAULT_EVENT_SOURCE: str = _CONTRACT.EVENT_SOURCE


class MailStatus(Enum):
    """The outcome of one message, as the event's ``detail.status`` and its detail-type."""

    PROCESSED = _CONTRACT.STATUS_PROCESSED
    REJECTED = _CONTRACT.STATUS_REJECTED
    TOO_LARGE = _CONTRACT.STATUS_TOO_LARGE
    UNPARSEABLE = _CONTRACT.STATUS_UNPARSEABLE

    @property
    def detail_type(self) -> str:
        return _DETAIL_TYPES[self]


_DETAIL_TYPES: dict[MailStatus, str] = {
    MailStatus(status): detail_type
    for status, detail_type in _CONTRACT.DETAIL_TYPE_OF_STATUS.items()
}
#: Every detail-type the reference handler puts.
DETAIL_TYPES = tuple(_DETAIL_TYPES.values())


class MailKind(Enum):
    """What kind of mail a processed message is: the event's ``detail.conversation.kind``.

    The vocabulary and its rules (RFC 3834, RFC 3464, RFC 5965, RFC 2369/2919 and the vendor
    out-of-office headers) are in docs/handler.md, "Conversations".
    """

    PERSON = _CONTRACT.KIND_PERSON
    AUTO_REPLY = _CONTRACT.KIND_AUTO_REPLY
    AUTO_GENERATED = _CONTRACT.KIND_AUTO_GENERATED
    DELIVERY_STATUS = _CONTRACT.KIND_DELIVERY_STATUS
    FEEDBACK_REPORT = _CONTRACT.KIND_FEEDBACK_REPORT
    LIST = _CONTRACT.KIND_LIST


#: Where each filter of :func:`email_event_pattern` looks in the event.
RECIPIENTS_PATH = ("detail", "envelope", "recipients")
SENDER_PATH = ("detail", "envelope", "source")
SUBJECT_PATH = ("detail", "headers", "subject")
KIND_PATH = ("detail", "conversation", "kind")

_STRING_OPERATORS = ("prefix", "suffix", "equals-ignore-case", "wildcard")
_NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")
#: Numeric matching is limited to -5.0e9..+5.0e9 (Event Ruler README, "Numeric matching").
_NUMERIC_LIMIT = 5.0e9


#: PutEventsRequestEntry ``Source``: 1 to 256 characters; ``aws.`` is reserved for AWS services
#: (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html).
MAX_EVENT_SOURCE_LENGTH: int = _CONTRACT.MAX_EVENT_SOURCE_LENGTH


def validate_event_source(prop: str, value: str) -> str:
    """Check an event ``source`` the reference handler may put."""
    if is_unresolved(value):
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_EVENT_SOURCE_LENGTH:
        raise ValidationError(
            f"{prop} must be 1-{MAX_EVENT_SOURCE_LENGTH} characters; got {value!r}"
        )
    if value.startswith("aws."):
        raise ValidationError(f"{prop} {value!r}: the 'aws.' prefix is reserved for AWS")
    if value != value.strip():
        # The reference handler strips EVENT_SOURCE: its events would carry another source than
        # the one the subscriptions' patterns match, and no subscription would see one.
        raise ValidationError(
            f"{prop} {value!r} starts or ends with whitespace, which the reference handler "
            "strips; give the source without it"
        )
    return value


def email_event_pattern(
    *,
    event_source: str = DEFAULT_EVENT_SOURCE,
    recipients: Sequence[str] | None = None,
    senders: Sequence[str] | None = None,
    subject_prefix: Sequence[str] | None = None,
    subject_wildcard: Sequence[str] | None = None,
    statuses: Sequence[MailStatus] | None = None,
    detail_types: Sequence[str] | None = None,
    kinds: Sequence[MailKind] | None = None,
    pattern: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The event pattern for received-mail events matching every filter given.

    Filters combine with AND; the values of one filter with OR.

    :param event_source: the events' ``source``. Default: ``ses-lambda-constructs``.
    :param recipients: ``detail.envelope.recipients`` (lowercased in the event, so matched
        case-insensitively here): ``user@example.com`` (also ``user+label@example.com``),
        ``example.com`` (every address at that domain) or ``.example.com`` (every subdomain),
        as in SES's receipt rules. Default: any recipient.
    :param senders: ``detail.envelope.source`` (the envelope sender, lowercased), in the same
        three forms. Default: any sender.
    :param subject_prefix: subjects starting with one of these (case-sensitive).
    :param subject_wildcard: subjects matching one of these EventBridge wildcards (``*`` for any
        run of characters, ``\\*`` for an asterisk). Subject prefixes and wildcards are
        alternatives: a subject matching either matches. Default: any subject.
    :param statuses: outcomes, matched through the detail-type. Default: ``PROCESSED`` only
        (detail-type ``Email Received``), unless ``detail_types`` is given.
    :param detail_types: detail-types to match, instead of ``statuses``.
    :param kinds: kinds of mail (``detail.conversation.kind``), e.g. ``[MailKind.PERSON]`` for
        people's messages only. Only parsed (processed) mail has a kind, so a subscription with
        ``kinds`` never matches rejected, too large or unparseable mail. Default: every kind.
    :param pattern: a raw EventBridge pattern merged into the result, for any other field
        (e.g. ``{"detail": {"verdicts": {"dmarc": ["PASS"]}}}``); it may not set a field that a
        filter above sets.
    """
    validate_event_source("event_source", event_source)
    built: dict[str, Any] = {"source": [event_source]}
    if statuses is not None and detail_types is not None:
        raise ValidationError(
            "give statuses or detail_types, not both: each status is one detail-type "
            f"(got statuses={list(statuses)!r}, detail_types={list(detail_types)!r})"
        )
    if detail_types is not None:
        types = _non_empty_list("detail_types", detail_types)
        for value in types:
            if value not in DETAIL_TYPES and not is_unresolved(value):
                raise ValidationError(
                    f"detail_types has {value!r}; the reference handler puts "
                    f"{', '.join(map(repr, DETAIL_TYPES))}"
                )
        built["detail-type"] = list(dict.fromkeys(types))
    elif statuses is not None:
        chosen = _non_empty_list("statuses", statuses)
        for value in chosen:
            if not isinstance(value, MailStatus):
                raise ValidationError(
                    f"statuses must be MailStatus values (e.g. MailStatus.PROCESSED); got {value!r}"
                )
        built["detail-type"] = list(dict.fromkeys(status.detail_type for status in chosen))
    else:
        built["detail-type"] = [MailStatus.PROCESSED.detail_type]

    if recipients is not None:
        _set(built, RECIPIENTS_PATH, _address_conditions("recipients", recipients))
    if senders is not None:
        _set(built, SENDER_PATH, _address_conditions("senders", senders))
    subject: list[Any] = []
    if subject_prefix is not None:
        for value in _non_empty_list("subject_prefix", subject_prefix):
            _check_string("subject_prefix", value)
            subject.append({"prefix": value})
    if subject_wildcard is not None:
        for value in _non_empty_list("subject_wildcard", subject_wildcard):
            _check_string("subject_wildcard", value)
            validate_wildcard("subject_wildcard", value)
            subject.append({"wildcard": value})
    if subject:
        _set(built, SUBJECT_PATH, subject)
    if kinds is not None:
        chosen_kinds = _non_empty_list("kinds", kinds)
        for kind in chosen_kinds:
            if not isinstance(kind, MailKind):
                raise ValidationError(
                    f"kinds must be MailKind values (e.g. MailKind.PERSON); got {kind!r}"
                )
        _set(built, KIND_PATH, list(dict.fromkeys(kind.value for kind in chosen_kinds)))
    if pattern is not None:
        if not isinstance(pattern, Mapping):
            raise ValidationError(f"pattern must be a mapping (an event pattern); got {pattern!r}")
        _merge(built, copy.deepcopy(dict(pattern)), "pattern")
    validate_event_pattern("pattern", built)
    return built


def _non_empty_list(prop: str, values: Sequence[Any]) -> list[Any]:
    if isinstance(values, str | bytes):
        raise ValidationError(f"{prop} must be a list, got the string {values!r}")
    if is_unresolved(values):
        raise ValidationError(f"{prop} must be a list known at synth time; got a token")
    items = list(values)
    if not items:
        raise ValidationError(
            f"{prop} is empty: EventBridge does not allow an empty list of values; leave "
            f"{prop} out to match any value"
        )
    return items


def _check_string(prop: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{prop} values must be non-empty strings; got {value!r}")


def escape_wildcard(value: str) -> str:
    """``value`` as a literal inside a wildcard: ``\\`` and ``*`` escaped (Event Ruler rules)."""
    return value.replace("\\", "\\\\").replace("*", "\\*")


def _address_conditions(prop: str, values: Sequence[str]) -> list[Any]:
    """EventBridge conditions for SES-style address forms, over lowercased addresses."""
    conditions: list[Any] = []
    for value in _non_empty_list(prop, values):
        if is_unresolved(value):
            conditions.append(value)
            continue
        validate_recipient(prop, value)
        lowered = value.lower()
        if "@" in lowered:
            local, _, domain = lowered.rpartition("@")
            # SES: "user@example.com" also matches "user+label@example.com".
            conditions.append(lowered)
            conditions.append({"wildcard": f"{escape_wildcard(local)}+*@{escape_wildcard(domain)}"})
        elif lowered.startswith("."):
            conditions.append({"suffix": lowered})  # any subdomain: "x@a.example.com"
        else:
            conditions.append({"suffix": f"@{lowered}"})
    unique: list[Any] = []
    for condition in conditions:
        if condition not in unique:
            unique.append(condition)
    return unique


def _set(pattern: dict[str, Any], path: Sequence[str], value: list[Any]) -> None:
    node = pattern
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def _merge(into: dict[str, Any], extra: dict[str, Any], where: str) -> None:
    for key, value in extra.items():
        if key not in into:
            into[key] = value
        elif isinstance(into[key], dict) and isinstance(value, dict):
            _merge(into[key], value, f"{where}.{key}")
        elif into[key] == value:
            continue
        else:
            raise ValidationError(
                f"{where}.{key} is also set by a filter ({json.dumps(into[key])}); "
                f"got {json.dumps(value)}: set each field in one place"
            )


def validate_wildcard(prop: str, value: str) -> None:
    """Check an EventBridge wildcard: no ``**``, escapes only ``\\*`` and ``\\\\``."""
    index = 0
    previous_star = False
    while index < len(value):
        char = value[index]
        if char == "\\":
            following = value[index + 1 : index + 2]
            if following not in ("*", "\\"):
                raise ValidationError(
                    f"{prop} {value!r}: a backslash may only escape '*' or '\\' in a wildcard"
                )
            index += 2
            previous_star = False
            continue
        if char == "*":
            if previous_star:
                raise ValidationError(
                    f"{prop} {value!r}: EventBridge does not allow consecutive '*' in a wildcard"
                )
            previous_star = True
        else:
            previous_star = False
        index += 1


def validate_event_pattern(prop: str, pattern: Mapping[str, Any]) -> None:
    """Check an event pattern's syntax; raise :class:`ValidationError` naming the field."""
    if not isinstance(pattern, Mapping) or not pattern:
        raise ValidationError(f"{prop} must be a non-empty JSON object; got {pattern!r}")
    _check_object(prop, pattern)
    try:
        json.dumps(pattern)
    except (TypeError, ValueError) as error:
        raise ValidationError(f"{prop} is not JSON: {error}") from None


def _check_object(path: str, node: Mapping[str, Any]) -> None:
    for key, value in node.items():
        if is_unresolved(key) or is_unresolved(value):
            continue
        if not isinstance(key, str) or not key:
            raise ValidationError(f"{path} has an invalid field name {key!r}")
        where = f"{path}.{key}"
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise ValidationError(
                    f"{where} must be a list of at least two patterns; got {value!r}"
                )
            for index, alternative in enumerate(value):
                if not isinstance(alternative, Mapping) or not alternative:
                    raise ValidationError(
                        f"{where}[{index}] must be a non-empty object; got {alternative!r}"
                    )
                _check_object(f"{where}[{index}]", alternative)
        elif isinstance(value, Mapping):
            if not value:
                raise ValidationError(f"{where} is an empty object; give its fields' conditions")
            _check_object(where, value)
        elif isinstance(value, list):
            if not value:
                raise ValidationError(
                    f"{where} is an empty list: EventBridge does not allow empty arrays; "
                    "leave the field out to match any value"
                )
            for index, element in enumerate(value):
                _check_element(f"{where}[{index}]", element)
        else:
            raise ValidationError(
                f"{where} must be a list of values (e.g. [{json.dumps(value)}]) or an object; "
                f"got {value!r}"
            )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_element(where: str, element: object) -> None:
    if element is None or isinstance(element, str | bool) or _is_number(element):
        return
    if is_unresolved(element):
        return
    if not isinstance(element, Mapping) or len(element) != 1:
        raise ValidationError(
            f"{where} must be a value or an object with one operator; got {element!r}"
        )
    ((operator, operand),) = element.items()
    where = f"{where}.{operator}"
    if operator in ("prefix", "suffix"):
        if isinstance(operand, Mapping):
            if list(operand) != ["equals-ignore-case"]:
                raise ValidationError(
                    f"{where} takes a string or {{'equals-ignore-case': string}}; got {operand!r}"
                )
            operand = operand["equals-ignore-case"]
        _require_string(where, operand)
    elif operator == "equals-ignore-case":
        _require_string(where, operand)
    elif operator == "wildcard":
        _require_string(where, operand)
        validate_wildcard(where, operand)
    elif operator == "anything-but":
        _check_anything_but(where, operand)
    elif operator == "numeric":
        _check_numeric(where, operand)
    elif operator == "exists":
        if not isinstance(operand, bool):
            raise ValidationError(f"{where} must be true or false; got {operand!r}")
    elif operator == "cidr":
        _require_string(where, operand)
        try:
            ipaddress.ip_network(operand, strict=False)
        except ValueError:
            raise ValidationError(
                f"{where} must be an IP prefix such as '10.0.0.0/24'; got {operand!r}"
            ) from None
    else:
        raise ValidationError(
            f"{where}: unknown operator {operator!r}; EventBridge has prefix, suffix, "
            "equals-ignore-case, wildcard, anything-but, numeric, exists and cidr"
        )


def _require_string(where: str, operand: object) -> None:
    if not isinstance(operand, str):
        raise ValidationError(f"{where} must be a string; got {operand!r}")


def _check_anything_but(where: str, operand: object) -> None:
    if isinstance(operand, str) or _is_number(operand):
        return
    if isinstance(operand, list):
        if not operand:
            raise ValidationError(f"{where} is an empty list; EventBridge needs at least one value")
        if not (all(isinstance(v, str) for v in operand) or all(_is_number(v) for v in operand)):
            raise ValidationError(
                f"{where} must list only strings or only numbers; got {operand!r}"
            )
        return
    if isinstance(operand, Mapping) and len(operand) == 1:
        ((inner, value),) = operand.items()
        if inner in ("prefix", "suffix"):
            _require_string(f"{where}.{inner}", value)
            return
        if inner in ("equals-ignore-case", "wildcard"):
            values = value if isinstance(value, list) else [value]
            if not values:
                raise ValidationError(f"{where}.{inner} is an empty list")
            for item in values:
                _require_string(f"{where}.{inner}", item)
                if inner == "wildcard":
                    validate_wildcard(f"{where}.{inner}", item)
            return
    raise ValidationError(
        f"{where} takes a value, a list of strings or of numbers, or one of "
        f"{{prefix, suffix, equals-ignore-case, wildcard}}; got {operand!r}"
    )


def _check_numeric(where: str, operand: object) -> None:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise ValidationError(
            f"{where} must be [op, number] or [op, number, op, number]; got {operand!r}"
        )
    operators = operand[0::2]
    numbers = operand[1::2]
    for operator in operators:
        if operator not in _NUMERIC_OPERATORS:
            raise ValidationError(
                f"{where} has the operator {operator!r}; use one of {', '.join(_NUMERIC_OPERATORS)}"
            )
    for number in numbers:
        if not _is_number(number) or not -_NUMERIC_LIMIT <= number <= _NUMERIC_LIMIT:
            raise ValidationError(
                f"{where} compares with {number!r}; numbers must be between -5e9 and 5e9"
            )
    if len(operand) == 4:
        (low_op, low, high_op, high) = operand
        if low_op not in (">", ">=") or high_op not in ("<", "<=") or not low < high:
            raise ValidationError(
                f"{where} must be a range: ['>' or '>=', low, '<' or '<=', high] with low < high; "
                f"got {operand!r}"
            )

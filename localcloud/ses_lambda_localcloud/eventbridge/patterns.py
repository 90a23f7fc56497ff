"""EventBridge event-pattern matching, as documented, over parsed JSON.

Sources: "Creating event patterns"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html), "Comparison
operators" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html),
"Arrays in event patterns"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html) and the
README of Event Ruler, the open-source matcher EventBridge uses (https://github.com/aws/event-ruler).

- A pattern matches when every field it names matches (AND); a field matches when any of its
  conditions matches (OR). ``$or`` takes alternative sub-patterns.
- Nested objects in the pattern follow the event's nesting. When the event holds an array of
  objects there, the sub-pattern must match within one element (Event Ruler's array
  consistency).
- A leaf in the event may be an array: the condition matches when any element matches.
- Literals: strings, numbers (compared as numbers), ``true``/``false`` and ``null``, each only
  against its own JSON type (``1`` never matches ``true``).
- ``prefix``/``suffix`` (optionally ``{"equals-ignore-case": ...}``), ``equals-ignore-case`` and
  ``wildcard`` match strings only. ``wildcard``: ``*`` is any run of characters, ``\\*`` an
  asterisk, ``\\\\`` a backslash.
- ``anything-but``: a value or a list (the value is none of them), or a ``prefix``, ``suffix``,
  ``equals-ignore-case`` or ``wildcard`` object (the value does not match it). It needs the field
  to be present.
- ``numeric``: JSON numbers only; every comparison of the list holds.
- ``exists``: works on leaves only. A field that is missing, an object, or an empty array has no
  leaf values: ``exists: false`` matches it and ``exists: true`` does not.
- ``cidr``: the string value is an IP address inside the network.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` (a whole EventBridge event, as JSON) matches ``pattern``."""
    return _match_object(pattern, event)


def _match_object(pattern: Mapping[str, Any], node: Any) -> bool:
    if isinstance(node, list):
        return any(_match_object(pattern, element) for element in node if isinstance(element, dict))
    if not isinstance(node, dict):
        node = {}
    for key, condition in pattern.items():
        if key == "$or" and isinstance(condition, list):
            if not any(_match_object(alternative, node) for alternative in condition):
                return False
        elif isinstance(condition, Mapping):
            child = node.get(key)
            has_objects = isinstance(child, dict) or (
                isinstance(child, list) and any(isinstance(e, dict) for e in child)
            )
            if not _match_object(condition, child if has_objects else {}):
                return False
        elif isinstance(condition, list):
            if not _match_leaf(condition, _leaf_values(node, key)):
                return False
        else:
            return False
    return True


def _leaf_values(node: Mapping[str, Any], key: str) -> list[Any]:
    """The leaf values at ``key``: none when missing, an object, or an empty array."""
    if key not in node:
        return []
    value = node[key]
    if isinstance(value, dict):
        return []
    if isinstance(value, list):
        values: list[Any] = []
        stack = list(reversed(value))
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif not isinstance(item, dict):
                values.append(item)
        return values
    return [value]


def _match_leaf(conditions: Sequence[Any], values: list[Any]) -> bool:
    for condition in conditions:
        if isinstance(condition, Mapping) and list(condition) == ["exists"]:
            if bool(values) == bool(condition["exists"]):
                return True
        elif any(_match_value(condition, value) for value in values):
            return True
    return False


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _literal_equals(expected: Any, value: Any) -> bool:
    if _is_number(expected):
        return _is_number(value) and float(expected) == float(value)
    if isinstance(expected, bool) or expected is None:
        return value is expected
    return isinstance(value, str) and value == expected


def _match_value(condition: Any, value: Any) -> bool:
    if not isinstance(condition, Mapping):
        return _literal_equals(condition, value)
    if len(condition) != 1:
        return False
    ((name, operand),) = condition.items()
    if name == "anything-but":
        return _anything_but(operand, value)
    if name == "numeric":
        return _numeric(operand, value)
    if name == "cidr":
        return _cidr(operand, value)
    if name in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
        return _string_match(name, operand, value)
    return False


def _string_match(name: str, operand: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(operand, Mapping) and list(operand) == ["equals-ignore-case"]:
        if name not in ("prefix", "suffix"):
            return False
        target, subject = str(operand["equals-ignore-case"]).lower(), value.lower()
    elif isinstance(operand, str):
        target, subject = operand, value
    else:
        return False
    if name == "prefix":
        return subject.startswith(target)
    if name == "suffix":
        return subject.endswith(target)
    if name == "equals-ignore-case":
        return subject.lower() == target.lower()
    return wildcard_regex(target).fullmatch(subject) is not None


def wildcard_regex(wildcard: str) -> re.Pattern[str]:
    """The regular expression of an EventBridge wildcard (``*``, ``\\*``, ``\\\\``)."""
    parts: list[str] = []
    index = 0
    while index < len(wildcard):
        char = wildcard[index]
        if char == "\\" and wildcard[index + 1 : index + 2] in ("*", "\\"):
            parts.append(re.escape(wildcard[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def _anything_but(operand: Any, value: Any) -> bool:
    if isinstance(operand, Mapping):
        if len(operand) != 1:
            return False
        ((name, inner),) = operand.items()
        alternatives = inner if isinstance(inner, list) else [inner]
        return not any(_string_match(name, alternative, value) for alternative in alternatives)
    excluded = operand if isinstance(operand, list) else [operand]
    return not any(_literal_equals(item, value) for item in excluded)


def _numeric(operand: Any, value: Any) -> bool:
    if not _is_number(value) or not isinstance(operand, list) or len(operand) % 2:
        return False
    for op, bound in zip(operand[0::2], operand[1::2], strict=True):
        compare = _COMPARE.get(op)
        if compare is None or not _is_number(bound) or not compare(float(value), float(bound)):
            return False
    return True


def _cidr(operand: Any, value: Any) -> bool:
    if not isinstance(value, str) or not isinstance(operand, str):
        return False
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(operand, strict=False)
    except ValueError:
        return False

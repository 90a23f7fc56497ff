"""Readers of JSON fields that raise :class:`~.errors.EmailEventError` naming the JSON path.

``path`` is the path of the container (``event`` for the event's own top level, whose keys
are reported bare: ``detail-type``, ``source``); a missing key and a wrong type are errors, a
``null`` is accepted only by the ``optional_*`` readers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from .errors import EmailEventError


def json_object(value: object, path: str) -> Mapping[str, Any]:
    if value is None:
        raise EmailEventError(path, "missing")
    if not isinstance(value, Mapping):
        raise EmailEventError(path, f"must be an object, got {type_name(value)}")
    return value


def required(container: Mapping[str, Any], key: str, path: str) -> object:
    if key not in container:
        raise EmailEventError(join_path(path, key), "missing")
    return container[key]


def string(container: Mapping[str, Any], key: str, path: str) -> str:
    value = required(container, key, path)
    if not isinstance(value, str):
        raise EmailEventError(join_path(path, key), f"must be a string, got {type_name(value)}")
    return value


def optional_string(container: Mapping[str, Any], key: str, path: str) -> str | None:
    value = container.get(key)
    if value is None or isinstance(value, str):
        return value
    raise EmailEventError(join_path(path, key), f"must be a string or null, got {type_name(value)}")


def boolean(container: Mapping[str, Any], key: str, path: str) -> bool:
    value = required(container, key, path)
    if not isinstance(value, bool):
        raise EmailEventError(
            join_path(path, key), f"must be true or false, got {type_name(value)}"
        )
    return value


def integer(container: Mapping[str, Any], key: str, path: str) -> int:
    value = required(container, key, path)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EmailEventError(
            join_path(path, key), f"must be a non-negative integer, got {value!r}"
        )
    return value


def array(container: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = required(container, key, path)
    if not isinstance(value, list):
        raise EmailEventError(join_path(path, key), f"must be an array, got {type_name(value)}")
    return value


def strings(container: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    values = array(container, key, path)
    for index, item in enumerate(values):
        if not isinstance(item, str):
            raise EmailEventError(f"{join_path(path, key)}[{index}]", "must be a string")
    return tuple(values)


def literal(container: Mapping[str, Any], key: str, path: str, kind: Any) -> Any:
    return choice(required(container, key, path), join_path(path, key), kind)


def optional_literal(container: Mapping[str, Any], key: str, path: str, kind: Any) -> Any:
    value = required(container, key, path)
    return None if value is None else choice(value, join_path(path, key), kind)


def choice(value: object, path: str, kind: Any) -> Any:
    allowed: tuple[str, ...] = get_args(kind)
    if value not in allowed:
        raise EmailEventError(path, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def join_path(path: str, key: str) -> str:
    return key if path == "event" else f"{path}.{key}"


def type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__

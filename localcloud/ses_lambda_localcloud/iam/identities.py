"""Who signed a request: the access key of a Lambda execution environment stands for its
function's execution role, as an assumed-role session named after the function.

Lambda runs a function with temporary credentials of its execution role; the session's
principal is ``arn:aws:sts::ACCOUNT:assumed-role/ROLE/FUNCTION`` (Lambda Developer Guide,
"Defining Lambda function permissions with an execution role"; IAM User Guide, "IAM
identifiers", assumed-role ARNs). Any other access key is the deploying administrator, as a
bootstrap user is: its requests are not evaluated.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .language import Principal


@dataclass(frozen=True)
class Identity:
    principal: Principal
    function_name: str


_lock = threading.Lock()
_by_access_key: dict[str, Identity] = {}


def register(access_key_id: str, role_arn: str, function_name: str) -> None:
    """An execution environment's credentials: its function's role, session = function name."""
    if not role_arn or not role_arn.startswith("arn:"):
        return
    identity = Identity(Principal.role_session(role_arn, function_name), function_name)
    with _lock:
        _by_access_key[access_key_id] = identity


def forget(access_key_id: str) -> None:
    with _lock:
        _by_access_key.pop(access_key_id, None)


def lookup(access_key_id: str) -> Identity | None:
    """The identity of an access key; None for the administrator (any other key)."""
    return _by_access_key.get(access_key_id)


def clear() -> None:
    with _lock:
        _by_access_key.clear()

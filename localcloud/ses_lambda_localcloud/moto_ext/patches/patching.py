"""The one way a patch replaces a moto attribute, keeping the original reachable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def patch(owner: Any, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Replace ``owner.name``; the original stays reachable as ``replacement.original``."""

    def decorator(replacement: Callable[..., Any]) -> Callable[..., Any]:
        original = getattr(owner, name, None)
        replacement.original = original  # type: ignore[attr-defined]
        setattr(owner, name, replacement)
        return replacement

    return decorator

"""Corrections to moto 5.2 behaviours that break the CDK CLI or SES receiving, one module per
area. Each patch is small and says which moto behaviour it corrects. Importing these modules
changes nothing; ``apply()`` (called by ``moto_ext.install()``) patches, and is idempotent.
"""

from __future__ import annotations

import threading

from . import awslambda, change_sets, cloudformation, events, s3, server, ses, ses_sending

_applied = False
_lock = threading.Lock()


def apply() -> None:
    global _applied
    with _lock:  # two threads starting moto at once patch it once
        if _applied:
            return
        cloudformation.apply()
        change_sets.apply()
        s3.apply()
        ses.apply()
        ses_sending.apply()
        awslambda.apply()
        server.apply()
        events.apply()
        _applied = True


def applied() -> bool:
    return _applied


__all__ = ["applied", "apply"]

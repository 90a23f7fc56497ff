"""Corrections to moto 5.2 behaviours that break the CDK CLI or SES receiving, one module per
area. Each patch is small and says which moto behaviour it corrects. ``apply()`` is idempotent.
"""

from __future__ import annotations

from . import awslambda, change_sets, cloudformation, events, s3, server, ses, ses_sending

_applied = False


def apply() -> None:
    global _applied
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


__all__ = ["apply"]

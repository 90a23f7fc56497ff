"""Verdict gate: the function of the receiver's optional first rule, invoked RequestResponse.

It reads only the event (no S3, no body): when any verdict named in ``REJECT_ON_VERDICTS`` is
``FAIL`` it answers ``STOP_RULE_SET``, so no later rule stores or processes the message; otherwise
``CONTINUE``. The same policy object decides as in the reference handler.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ses_mail.event import parse_event
from ses_mail.verdicts import VerdictPolicy, disposition

LOGGER = logging.getLogger("ses-verdict-gate")
LOGGER.setLevel(logging.INFO)
POLICY = VerdictPolicy.from_setting(os.environ.get("REJECT_ON_VERDICTS", "spam,virus"))


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, str]:
    rejected = False
    for notification in parse_event(event):
        failed = POLICY.failed(notification.verdicts)
        if failed:
            rejected = True
            LOGGER.info(
                "stopping the rule set for message %s: %s verdict FAIL",
                notification.message_id,
                ", ".join(failed),
            )
    return {"disposition": disposition(rejected)}

"""Verdict gate: a ``RequestResponse`` function that stops the rule set for failing mail.

Lambda handler string: ``gate.lambda_handler`` (same bundle as ``handler.py``). It reads only the
event, never the message, and needs no AWS permission beyond its logs. Configuration:
``REJECT_ON_VERDICTS`` (comma-separated subset of ``spam,virus,spf,dkim,dmarc``; default
``spam,virus``; empty rejects nothing). It returns ``{"disposition": "STOP_RULE_SET"}`` when any
configured verdict of any record is ``FAIL``, else ``{"disposition": "CONTINUE"}``; SES then
skips every later action and rule for stopped mail (docs/ses-facts.md, "Lambda action").
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit
from ses_mail import metric_names as names
from ses_mail.event import parse_event
from ses_mail.verdicts import VerdictPolicy, disposition

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME") or names.GATE_SERVICE
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or names.NAMESPACE

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """Answer SES with the disposition for the message(s) of ``event``."""
    setting = os.environ.get("REJECT_ON_VERDICTS")
    policy = VerdictPolicy() if setting is None else VerdictPolicy.from_setting(setting)
    metrics.add_dimension(
        name=names.FUNCTION_DIMENSION, value=names.function_name(context, SERVICE_NAME)
    )
    try:
        notifications = parse_event(event)
    except Exception:
        logger.exception("event rejected: not an SES receipt event")
        raise
    rejected = False
    for notification in notifications:
        logger.set_correlation_id(notification.message_id)
        failed = policy.failed(notification.verdicts)
        metrics.add_metric(name=names.MESSAGES_CHECKED, unit=MetricUnit.Count, value=1)
        if failed:
            rejected = True
            metrics.add_metric(name=names.MESSAGES_REJECTED, unit=MetricUnit.Count, value=1)
        logger.info(
            "verdicts checked",
            extra={
                "message_id": notification.message_id,
                "failed_verdicts": list(failed),
                "disposition": disposition(bool(failed)),
            },
        )
    return {"disposition": disposition(rejected)}

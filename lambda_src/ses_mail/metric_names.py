"""The CloudWatch metrics the library's functions emit: names, units and dimensions, once.

The handler, the forwarder and the verdict gate emit these through Powertools Metrics (embedded
metric format in their logs); the constructs read this module from the bundled source to build
their ``metric_*`` methods and the dashboard, so a name is spelled in one place only.

Every metric has two dimensions: ``service`` (Powertools adds ``POWERTOOLS_SERVICE_NAME``) and
``FunctionName`` (the function's name, which Lambda sets as ``AWS_LAMBDA_FUNCTION_NAME``), so that
two receivers in one account never add up into one series.

Amazon SES publishes no metric about receiving: its CloudWatch metrics (namespace ``AWS/SES``)
count sending events only (Send, Delivery, Bounce, Complaint, Reject, Open, Click, Rendering
Failure, and the reputation rates). Sources: Amazon CloudWatch User Guide, "Amazon Simple Email
Service Metrics and Dimensions"; Amazon SES Developer Guide, "Monitoring your Amazon SES sending
activity". Received mail is therefore counted by the functions (``MessagesReceived``).
"""

from __future__ import annotations

import os
from typing import Final

#: Default namespace (``POWERTOOLS_METRICS_NAMESPACE`` overrides it).
NAMESPACE: Final = "SesLambdaConstructs"
#: The dimension Powertools adds to every metric: ``POWERTOOLS_SERVICE_NAME``.
SERVICE_DIMENSION: Final = "service"
#: The dimension the functions add: their own name (``AWS_LAMBDA_FUNCTION_NAME``).
FUNCTION_DIMENSION: Final = "FunctionName"

#: Default service names of the three functions.
HANDLER_SERVICE: Final = "ses-lambda-handler"
FORWARDER_SERVICE: Final = "ses-lambda-forwarder"
GATE_SERVICE: Final = "ses-verdict-gate"

COUNT: Final = "Count"
BYTES: Final = "Bytes"

# --- the reference handler -------------------------------------------------------------------
#: Each SES record the function was invoked with (before any policy or parsing).
MESSAGES_RECEIVED: Final = "MessagesReceived"
#: Parsed and stored (status ``processed``).
MESSAGES_PROCESSED: Final = "MessagesProcessed"
#: A verdict named in ``REJECT_ON_VERDICTS`` failed (handler and gate).
MESSAGES_REJECTED: Final = "MessagesRejected"
#: Over ``MAX_MESSAGE_BYTES`` (status ``too_large``).
MESSAGES_TOO_LARGE: Final = "MessagesTooLarge"
#: A parsing limit was hit (status ``unparseable``).
MESSAGES_UNPARSEABLE: Final = "MessagesUnparseable"
#: A message raised: the invocation fails and Lambda retries it.
MESSAGES_FAILED: Final = "MessagesFailed"
#: The event was not an SES receipt event.
INVALID_EVENTS: Final = "InvalidEvents"
#: Raw size of each processed message.
MESSAGE_BYTES: Final = "MessageBytes"
#: Attachments stored per processed message.
ATTACHMENTS: Final = "Attachments"
#: EventBridge accepted the message's event.
EVENTS_PUBLISHED: Final = "EventsPublished"
#: PutEvents failed or refused the entry.
EVENTS_FAILED: Final = "EventsFailed"

# --- the verdict gate --------------------------------------------------------------------------
#: Messages whose verdicts the gate checked.
MESSAGES_CHECKED: Final = "MessagesChecked"

# --- the forwarder ------------------------------------------------------------------------------
#: One copy sent with SES.
FORWARDS_SENT: Final = "ForwardsSent"
#: Bytes of each copy sent.
FORWARDED_BYTES: Final = "ForwardedBytes"
#: Not forwarded: a verdict failed.
FORWARDS_REFUSED_BY_VERDICT: Final = "ForwardsRefusedByVerdict"
#: A destination inside the receiving domains, or the hop limit reached.
FORWARD_LOOPS_BLOCKED: Final = "ForwardLoopsBlocked"
#: Too large for SES's sending limit.
FORWARDS_TOO_LARGE: Final = "ForwardsTooLarge"
#: A copy already sent (its marker existed): not sent again.
FORWARDS_DEDUPLICATED: Final = "ForwardsDeduplicated"
#: SES refused a copy (``MessageRejected``).
FORWARDS_REJECTED_BY_SES: Final = "ForwardsRejectedBySes"
#: A message raised: the invocation fails and Lambda retries it.
FORWARDS_FAILED: Final = "ForwardsFailed"
#: Recorded as not forwarded (too large, a line too long).
MESSAGES_NOT_FORWARDED: Final = "MessagesNotForwarded"
#: No destination covered the message's recipients: stored, not forwarded (the Forwarder
#: construct alarms on the first).
MESSAGES_WITHOUT_DESTINATION: Final = "MessagesWithoutDestination"

#: Metric name -> unit, for every metric of each function.
HANDLER_METRICS: Final[dict[str, str]] = {
    MESSAGES_RECEIVED: COUNT,
    MESSAGES_PROCESSED: COUNT,
    MESSAGES_REJECTED: COUNT,
    MESSAGES_TOO_LARGE: COUNT,
    MESSAGES_UNPARSEABLE: COUNT,
    MESSAGES_FAILED: COUNT,
    INVALID_EVENTS: COUNT,
    MESSAGE_BYTES: BYTES,
    ATTACHMENTS: COUNT,
    EVENTS_PUBLISHED: COUNT,
    EVENTS_FAILED: COUNT,
}
GATE_METRICS: Final[dict[str, str]] = {MESSAGES_CHECKED: COUNT, MESSAGES_REJECTED: COUNT}
FORWARDER_METRICS: Final[dict[str, str]] = {
    MESSAGES_RECEIVED: COUNT,
    INVALID_EVENTS: COUNT,
    FORWARDS_SENT: COUNT,
    FORWARDED_BYTES: BYTES,
    FORWARDS_REFUSED_BY_VERDICT: COUNT,
    FORWARD_LOOPS_BLOCKED: COUNT,
    FORWARDS_TOO_LARGE: COUNT,
    FORWARDS_DEDUPLICATED: COUNT,
    FORWARDS_REJECTED_BY_SES: COUNT,
    FORWARDS_FAILED: COUNT,
    MESSAGES_NOT_FORWARDED: COUNT,
    MESSAGES_WITHOUT_DESTINATION: COUNT,
}


def function_name(context: object, default: str) -> str:
    """The ``FunctionName`` dimension's value: the invoked function's name (from the Lambda
    context, else ``AWS_LAMBDA_FUNCTION_NAME``, else ``default``)."""
    name = getattr(context, "function_name", None) or os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    return str(name or default)

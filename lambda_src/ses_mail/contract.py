"""The values the constructs and the functions must agree on, each written once, here.

The functions import this module like any other of ``ses_mail``. The construct library loads this
same file from the source it bundles (``ses_lambda_constructs._bundled.contract()``: the
repository's ``lambda_src`` in development, ``ses_lambda_constructs/lambda_src`` in the installed
wheel), so an environment variable the constructs set, a detail-type an event pattern matches or
a limit a prop is checked against is the value the function uses. The local cloud runs without
the library and keeps its own copies of the limits; ``tests/test_shared_limits.py`` holds them
equal to these. docs/architecture.md, "Shared constants", says how to change one.

Standard library only and no I/O: the reader layer ships this package to users' functions, and
the constructs execute the file at synth time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

# --- the received-mail events -------------------------------------------------------------
#: ``source`` of the events the reference handler puts unless the receiver sets another.
EVENT_SOURCE: Final = "ses-lambda-constructs"
#: PutEventsRequestEntry ``Source`` is 1 to 256 characters (EventBridge API Reference,
#: "PutEventsRequestEntry").
MAX_EVENT_SOURCE_LENGTH: Final = 256

Status = Literal["processed", "rejected", "too_large", "unparseable"]
"""A message's outcome, ``detail.status`` of its event (and ``status`` of ``message.json``)."""
DetailType = Literal["Email Received", "Email Rejected", "Email Too Large", "Email Unparseable"]
"""The event's ``detail-type``, one per outcome."""

STATUS_PROCESSED: Final = "processed"
STATUS_REJECTED: Final = "rejected"
STATUS_TOO_LARGE: Final = "too_large"
STATUS_UNPARSEABLE: Final = "unparseable"

#: ``detail-type`` of the event for each status (mypy checks both sides against the literals).
DETAIL_TYPE_OF_STATUS: Final[Mapping[Status, DetailType]] = {
    STATUS_PROCESSED: "Email Received",
    STATUS_REJECTED: "Email Rejected",
    STATUS_TOO_LARGE: "Email Too Large",
    STATUS_UNPARSEABLE: "Email Unparseable",
}

#: ``detail.conversation.kind``: what kind of mail a processed message is (kinds.py has the
#: rules, docs/handler.md "Conversations" the vocabulary).
KIND_PERSON: Final = "person"
KIND_AUTO_REPLY: Final = "auto_reply"
KIND_AUTO_GENERATED: Final = "auto_generated"
KIND_DELIVERY_STATUS: Final = "delivery_status"
KIND_FEEDBACK_REPORT: Final = "feedback_report"
KIND_LIST: Final = "list"

# --- object-key prefixes --------------------------------------------------------------------
#: Where the receiver has SES store raw messages (the S3 action's ``ObjectKeyPrefix``).
RAW_PREFIX: Final = "raw/"
#: Where the reference handler writes ``message.json`` and the attachments.
PARSED_PREFIX: Final = "parsed/"
#: Where the forwarder writes its marker of each copy it sent.
FORWARD_PREFIX: Final = "forwarded/"

# --- limits -----------------------------------------------------------------------------------
#: The SES S3 action stores messages up to 40 MB, headers included (SES Developer Guide, "Deliver
#: to S3 bucket action"). The page does not say how many bytes its MB holds: read as 40 MiB, the
#: larger reading, so that nothing SES stored is refused as too large (docs/ses-facts.md, "S3
#: action").
MAX_MESSAGE_BYTES: Final = 40 * 1024 * 1024
#: SES v2 sends messages up to 40 MB after base64 encoding (SES Developer Guide, "Service quotas
#: in Amazon SES", message quotas). Read as decimal megabytes, the smaller reading, as a sender
#: must (docs/ses-facts.md, "Sending (the forwarder)").
MAX_SEND_BASE64_BYTES: Final = 40_000_000
#: The forwarder's loop guard: copies of one message forwarded in a chain before it stops (a
#: design choice of the library, not an AWS limit).
DEFAULT_MAX_HOPS: Final = 3
#: Email receiving quotas, none adjustable (SES Developer Guide, "Service quotas in Amazon SES").
MAX_RULES_PER_RULE_SET: Final = 200
MAX_ACTIONS_PER_RULE: Final = 10
MAX_RECIPIENTS_PER_RULE: Final = 500

# --- environment variables the constructs set and the functions read -------------------------
ENV_RAW_MESSAGE_BUCKET: Final = "RAW_MESSAGE_BUCKET"
ENV_RAW_MESSAGE_PREFIX: Final = "RAW_MESSAGE_PREFIX"
ENV_PARSED_PREFIX: Final = "PARSED_PREFIX"
ENV_REJECT_ON_VERDICTS: Final = "REJECT_ON_VERDICTS"
ENV_MAX_MESSAGE_BYTES: Final = "MAX_MESSAGE_BYTES"
ENV_EVENT_BUS_NAME: Final = "EVENT_BUS_NAME"
ENV_EVENT_SOURCE: Final = "EVENT_SOURCE"
ENV_REPLY_ADDRESS_SECRET_ARN: Final = "REPLY_ADDRESS_SECRET_ARN"
ENV_FORWARD_PREFIX: Final = "FORWARD_PREFIX"
ENV_FORWARD_DESTINATIONS: Final = "FORWARD_DESTINATIONS"
ENV_FORWARD_FROM: Final = "FORWARD_FROM"
ENV_RECEIVING_DOMAINS: Final = "RECEIVING_DOMAINS"
ENV_MAX_FORWARD_HOPS: Final = "MAX_FORWARD_HOPS"

#: What the reference handler reads (``HandlerConfig.from_environ``).
HANDLER_VARIABLES: Final = frozenset(
    {
        ENV_RAW_MESSAGE_BUCKET,
        ENV_RAW_MESSAGE_PREFIX,
        ENV_PARSED_PREFIX,
        ENV_REJECT_ON_VERDICTS,
        ENV_MAX_MESSAGE_BYTES,
        ENV_EVENT_BUS_NAME,
        ENV_EVENT_SOURCE,
        ENV_REPLY_ADDRESS_SECRET_ARN,
    }
)
#: What the forwarder reads (``ForwarderConfig.from_environ``).
FORWARDER_VARIABLES: Final = frozenset(
    {
        ENV_RAW_MESSAGE_BUCKET,
        ENV_RAW_MESSAGE_PREFIX,
        ENV_FORWARD_PREFIX,
        ENV_FORWARD_DESTINATIONS,
        ENV_FORWARD_FROM,
        ENV_RECEIVING_DOMAINS,
        ENV_REJECT_ON_VERDICTS,
        ENV_MAX_FORWARD_HOPS,
    }
)
#: What the verdict gate reads.
GATE_VARIABLES: Final = frozenset({ENV_REJECT_ON_VERDICTS})

"""ses_mail: the pure core of the reference SES email handler, reusable in your own handlers.

Typical use in a handler of your own::

    from ses_mail import parse_event, parse_message, VerdictPolicy

    def handler(event, context):
        for mail in parse_event(event):          # InvalidEventError names a bad field
            if VerdictPolicy().failed(mail.verdicts):
                continue                          # spam or virus FAIL
            raw = mail.content or fetch_from_s3(mail.message_id)
            parsed = parse_message(raw)           # UnparseableMessageError on a limit
            print(parsed.headers.subject, parsed.text, [a.filename for a in parsed.attachments])

Nothing here calls AWS. See docs/handler.md for the full API and the output schema.
"""

from .config import HandlerConfig
from .conversation import Conversation, conversation_document, read_conversation
from .document import (
    SCHEMA_PATH,
    SCHEMA_VERSION,
    STATUS_PROCESSED,
    STATUS_REJECTED,
    STATUS_TOO_LARGE,
    STATUS_UNPARSEABLE,
    RawLocation,
    build_document,
    encode_document,
    load_schema,
)
from .errors import (
    ConfigurationError,
    EmailEventError,
    EventPublishError,
    InvalidEventError,
    MessageUnavailableError,
    OutputWriteError,
    SesMailError,
    UnparseableMessageError,
)
from .event import (
    VERDICT_NAMES,
    ReceiptAction,
    SesNotification,
    Verdicts,
    decode_content,
    parse_event,
    parse_notification,
    validate_message_id,
)
from .event_detail import (
    DETAIL_SCHEMA_PATH,
    DETAIL_SCHEMA_VERSION,
    DETAIL_TYPES,
    MAX_ENTRY_BYTES,
    build_detail,
    build_entry,
    entry_size,
    load_detail_schema,
)
from .headers import Address, MessageHeaders, headers_from_event, read_headers
from .keys import (
    attachment_key,
    delivery_id,
    delivery_key,
    message_document_key,
    output_prefix,
    raw_message_key,
    safe_filename,
)
from .kinds import KINDS, Classification, ReportedRecipient, classify
from .mime import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Attachment,
    ParsedMessage,
    ParseLimits,
    estimate_parse_memory,
    parse_message,
)
from .replies import ReplyText, html_to_text, reply_text
from .reply_addresses import ReplyAddresses, ReplyToken
from .threads import Thread, thread_id, thread_of
from .verdicts import (
    DISPOSITION_CONTINUE,
    DISPOSITION_STOP_RULE_SET,
    VerdictPolicy,
    disposition,
)

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DETAIL_SCHEMA_PATH",
    "DETAIL_SCHEMA_VERSION",
    "DETAIL_TYPES",
    "DISPOSITION_CONTINUE",
    "DISPOSITION_STOP_RULE_SET",
    "KINDS",
    "MAX_ENTRY_BYTES",
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "STATUS_PROCESSED",
    "STATUS_REJECTED",
    "STATUS_TOO_LARGE",
    "STATUS_UNPARSEABLE",
    "VERDICT_NAMES",
    "Address",
    "Attachment",
    "Classification",
    "ConfigurationError",
    "Conversation",
    "EmailEventError",
    "EventPublishError",
    "HandlerConfig",
    "InvalidEventError",
    "MessageHeaders",
    "MessageUnavailableError",
    "OutputWriteError",
    "ParseLimits",
    "ParsedMessage",
    "RawLocation",
    "ReceiptAction",
    "ReplyAddresses",
    "ReplyText",
    "ReplyToken",
    "ReportedRecipient",
    "SesMailError",
    "SesNotification",
    "Thread",
    "UnparseableMessageError",
    "VerdictPolicy",
    "Verdicts",
    "attachment_key",
    "build_detail",
    "build_document",
    "build_entry",
    "classify",
    "conversation_document",
    "decode_content",
    "delivery_id",
    "delivery_key",
    "disposition",
    "encode_document",
    "entry_size",
    "estimate_parse_memory",
    "headers_from_event",
    "html_to_text",
    "load_detail_schema",
    "load_schema",
    "message_document_key",
    "output_prefix",
    "parse_event",
    "parse_message",
    "parse_notification",
    "raw_message_key",
    "read_conversation",
    "read_headers",
    "reply_text",
    "safe_filename",
    "thread_id",
    "thread_of",
    "validate_message_id",
]

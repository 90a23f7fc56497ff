"""What a parsed message means in a conversation: its kind, its thread, the reply's own text.

:func:`read_conversation` reads a :class:`~.mime.ParsedMessage` before its attachments are
released (a delivery status report is one of them); :func:`conversation_document` is the
``conversation`` object of ``message.json`` (see ``message.schema.json``). Pure, no AWS calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .kinds import Classification, classify
from .mime import ParsedMessage
from .replies import ReplyText, Splitter, html_to_text, reply_text
from .reply_addresses import ReplyToken
from .threads import Thread, thread_of

MAX_HTML_TEXT_SOURCE_CHARS = 1024 * 1024
"""A text body is made from at most this many characters of an HTML-only body."""


@dataclass(frozen=True, slots=True)
class Conversation:
    """The conversation facts of one message."""

    kind: Classification
    thread: Thread
    reply: ReplyText | None
    """The reply's own text, from the text body or else the HTML body; ``None`` with neither."""
    html_text: str | None
    """A text body made from the HTML when the message has no text body; else ``None``."""
    html_text_cut: bool = False
    """The HTML body was longer than :data:`MAX_HTML_TEXT_SOURCE_CHARS`; only its start was
    made into ``html_text``."""
    reply_address: ReplyToken | None = None
    """The first envelope recipient with a reply-address token, verified; ``None`` when no
    recipient has one or no keys are configured."""


def read_conversation(
    parsed: ParsedMessage,
    *,
    ses_message_id: str,
    envelope_source: str | None,
    split: Splitter | None = None,
) -> Conversation:
    """The conversation facts of ``parsed`` (call it before attachments are released);
    ``split`` is the reply splitter (see :mod:`.replies`)."""
    headers = parsed.headers
    html_text = None
    html_text_cut = False
    if parsed.text is None and parsed.html is not None:
        html_text_cut = len(parsed.html) > MAX_HTML_TEXT_SOURCE_CHARS
        html_text = html_to_text(parsed.html[:MAX_HTML_TEXT_SOURCE_CHARS])
    return Conversation(
        kind=classify(parsed.message, envelope_source=envelope_source),
        thread=thread_of(
            message_id=headers.message_id,
            in_reply_to=headers.in_reply_to,
            references=headers.references,
            ses_message_id=ses_message_id,
        ),
        reply=reply_text(
            parsed.text, None if parsed.text is not None else parsed.html, split=split
        ),
        html_text=html_text,
        html_text_cut=html_text_cut,
    )


def conversation_document(conversation: Conversation) -> dict[str, Any]:
    """The ``conversation`` object of ``message.json``."""
    kind = conversation.kind
    reply = conversation.reply
    return {
        "kind": kind.kind,
        "kindReason": kind.reason,
        "threadId": conversation.thread.thread_id,
        "threadRoot": conversation.thread.root,
        "reply": (
            {
                "text": reply.text,
                "signature": reply.signature,
                "source": reply.source,
                "inputCut": reply.input_cut,
            }
            if reply
            else None
        ),
        "htmlText": (
            {"content": conversation.html_text, "cut": conversation.html_text_cut}
            if conversation.html_text is not None
            else None
        ),
        "deliveryStatus": (
            {
                "permanent": bool(kind.permanent),
                "recipients": [
                    {
                        "address": item.address,
                        "action": item.action,
                        "status": item.status,
                        "permanent": item.permanent,
                        "diagnostic": item.diagnostic,
                    }
                    for item in kind.recipients
                ],
            }
            if kind.kind == "delivery_status"
            else None
        ),
        "feedbackType": kind.feedback_type,
        "listId": kind.list_id,
        "notes": list(kind.notes),
        "replyAddress": (
            {
                "address": conversation.reply_address.address,
                "payload": conversation.reply_address.payload,
                "valid": conversation.reply_address.valid,
            }
            if conversation.reply_address
            else None
        ),
    }

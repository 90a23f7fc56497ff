"""A conversation's identifier from ``References``, ``In-Reply-To`` and ``Message-ID``.

RFC 5322 section 3.6.4: a reply's ``References`` is its parent's ``References`` (or, when the
parent has none, its ``In-Reply-To``) followed by the parent's ``Message-ID``. The first entry of
``References`` is therefore the message that started the conversation, the same in every reply
however deep. The thread's root is:

1. the first message identifier of ``References``;
2. else the ``In-Reply-To`` identifier (a first reply whose client wrote no ``References``: its
   parent is the root);
3. else the message's own ``Message-ID`` (it starts a conversation);
4. else the SES message id (a message without ``Message-ID``; it is a thread of its own).

``threadId`` is a digest of that root, so it is short, safe in a key or an EventBridge pattern,
and the same for every message of one conversation.

Limits: a client that trims ``References`` by dropping the first entry, or that replies deeper
than the first level with only ``In-Reply-To``, starts a new thread id (RFC 5322 leaves trimming
to the client; keeping the first entry is the common practice of netnews, RFC 5537 section
3.4.4). A forwarded message or a new message that copies no identifiers starts a new thread.
Identifiers are compared exactly, without the angle brackets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

THREAD_ID_HEX_CHARS = 32
"""``threadId`` is this many hexadecimal digits of the SHA-256 of the root identifier."""


@dataclass(frozen=True, slots=True)
class Thread:
    """The conversation a message belongs to."""

    thread_id: str
    root: str
    """The identifier the thread id is made from (a Message-ID, or ``ses:<SES message id>``)."""
    source: str
    """Which rule gave the root: ``references``, ``in-reply-to``, ``message-id`` or ``ses``."""


def thread_of(
    *,
    message_id: str | None,
    in_reply_to: str | None,
    references: Sequence[str],
    ses_message_id: str,
) -> Thread:
    """The thread of a message, from its (already decoded) identifier headers."""
    for reference in references:
        root = _bare(reference)
        if root:
            return _thread(root, "references")
    for source, value in (("in-reply-to", in_reply_to), ("message-id", message_id)):
        root = _bare(value)
        if root:
            return _thread(root, source)
    return _thread(f"ses:{ses_message_id}", "ses")


def thread_id(root: str) -> str:
    """The thread id of a root identifier (angle brackets and outer white space ignored)."""
    bare = _bare(root) or root
    return hashlib.sha256(bare.encode("utf-8", "replace")).hexdigest()[:THREAD_ID_HEX_CHARS]


def _thread(root: str, source: str) -> Thread:
    return Thread(thread_id=thread_id(root), root=root, source=source)


def _bare(value: str | None) -> str:
    if not value:
        return ""
    text = value.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    return text

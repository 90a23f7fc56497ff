"""The reply splitter of the reference handler: mail-parser-reply over ``ses_mail.replies``.

``ses_mail`` is stdlib-only (it also ships alone in the reader layer); this module, bundled
beside ``handler.py`` with ``mailparser_reply`` from ``requirements.txt``, gives
:func:`ses_mail.replies.reply_text` the library's knowledge of attribution lines, header blocks
and signatures in the languages of :data:`ses_mail.replies.LANGUAGES`.
"""

from __future__ import annotations

from functools import cache

from mailparser_reply import EmailReplyParser  # type: ignore[import-untyped]
from ses_mail.replies import LANGUAGES


@cache
def _parser() -> EmailReplyParser:
    return EmailReplyParser(languages=list(LANGUAGES))


def split_reply(body: str) -> tuple[str, str | None, bool]:
    """The first reply of ``body`` (headers, signature and disclaimers removed), its signature
    and whether a quote header followed it (a :data:`ses_mail.replies.Splitter`)."""
    message = _parser().read(body)
    if not message.replies:
        return body.strip(), None, False
    first = message.replies[0]
    signature = first.signatures.strip() if first.signatures else ""
    return first.body, signature or None, len(message.replies) > 1

"""The reply's own text: the body without the quoted history and without the signature.

The first split (the reply above the first attribution line or header block, and its signature)
is a :data:`Splitter`. The reference handler passes mail-parser-reply's (``reply_split.py``
beside ``handler.py``; ``mailparser_reply`` pinned in ``requirements.txt``), which knows the
attribution lines and header blocks that Gmail, Outlook, Apple Mail, Thunderbird and the mobile
clients write in the languages of :data:`LANGUAGES` and the usual signature starts ("Sent from my
iPhone", "Regards," and their translations). This package stays stdlib-only, so without a
splitter :func:`split_signature` is used: only the ``-- `` signature separator of RFC 3676
section 4.3. Then two rules of this module, language-independent:

- after the library's split, lines quoted with ``>`` (RFC 3676 section 4.5) are dropped, and so
  is the line just before a quoted block when it ends with a colon (the attribution line, in
  whatever language); this covers attribution lines the library does not know and replies written
  below the quote;
- a message with only an HTML body gets a text body made from the HTML (:func:`html_to_text`,
  stdlib only): block elements become line breaks and ``<blockquote>`` content is quoted with
  ``>``, so the same rules apply to it.

Limits: the input is bounded (:data:`MAX_REPLY_SOURCE_CHARS`; the reply is at the top of the
body, so only the start is read); a reply written between quoted lines keeps its own lines but
loses which quote each answers; a history forwarded without an attribution line or quote markers
is taken as part of the reply. The measured precision is in BENCHMARKS.md ("Reply text").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

Splitter = Callable[[str], tuple[str, "str | None", bool]]
"""``split(body) -> (reply, signature or None, found)``: the text above the first quote header,
its signature, and whether a quote header was found (``body`` has no line over
:data:`MAX_LINE_CHARS` characters)."""

FIRST_WINDOW_CHARS = 2_048
MAX_REPLY_SOURCE_CHARS = 4_096
"""The reply is searched in the first :data:`FIRST_WINDOW_CHARS` characters of the body, and
only when no quote starts there, in the first ``MAX_REPLY_SOURCE_CHARS``: the library's time
grows faster than the text (BENCHMARKS.md, "Reply text", has the times measured), and a reply
is at the top of its body."""

LANGUAGES: tuple[str, ...] = (
    "cs",
    "da",
    "de",
    "en",
    "es",
    "fr",
    "it",
    "ja",
    "ko",
    "nl",
    "pl",
    "sv",
    "zh",
)
"""The languages whose attribution lines and signatures mail-parser-reply 1.36 knows (the
splitter of the reference handler)."""

MAX_LINE_CHARS = 200
"""Longer lines are broken (with a marker, removed afterwards) before the library reads them."""
_BREAK = "\ue000"  # a private-use character: never in the library's patterns
_QUOTED = re.compile(r"^[ \t]*>")
_BLANK_RUN = re.compile(r"\n{3,}")


@dataclass(frozen=True, slots=True)
class ReplyText:
    """The new text of a message."""

    text: str
    """The reply without quoted history and signature (may be empty: a reply with no text)."""
    signature: str | None
    """The signature found below the reply, or ``None``."""
    source: str
    """``text`` (the text/plain body) or ``html`` (text made from the HTML body)."""
    input_cut: bool
    """The body was longer than :data:`MAX_REPLY_SOURCE_CHARS`; only its start was read."""


def reply_text(
    text: str | None, html: str | None = None, *, split: Splitter | None = None
) -> ReplyText | None:
    """The reply's own text from the decoded bodies; ``None`` when the message has neither.

    ``split`` does the first split (default :func:`split_signature`)."""
    split = split or split_signature
    if text is not None:
        source, body = "text", text
    elif html is not None:
        source, body = "html", html_to_text(html[: MAX_REPLY_SOURCE_CHARS * 4])
    else:
        return None
    body = body.replace("\r\n", "\n")
    input_cut = False
    for window in (FIRST_WINDOW_CHARS, MAX_REPLY_SOURCE_CHARS):
        input_cut = len(body) > window
        reply, signature, found = split(_wrap_long_lines(body[:window]))
        found = found or any(_QUOTED.match(line) for line in reply.split("\n"))
        if found or not input_cut:
            break
    return ReplyText(
        text=_unwrap(_drop_quotes(reply)),
        signature=_unwrap(signature) if signature else None,
        source=source,
        input_cut=input_cut,
    )


def split_signature(body: str) -> tuple[str, str | None, bool]:
    """The stdlib splitter: the signature starts at the last ``-- `` line (RFC 3676 section
    4.3, "sig dash": dash, dash, space); no quote headers are known."""
    lines = body.split("\n")
    for index in range(len(lines) - 1, -1, -1):
        if lines[index] == "-- ":
            reply = "\n".join(lines[:index]).strip()
            return reply, "\n".join(lines[index:]).strip() or None, False
    return body.strip(), None, False


def _wrap_long_lines(body: str) -> str:
    """``body`` with lines over :data:`MAX_LINE_CHARS` broken, each break marked.

    The library's attribution patterns take time that grows with the cube of a line's length
    (measured: 2.9 s for one line of 8,000 characters), so no line it sees is long; attribution
    lines are far shorter than the bound. :func:`_unwrap` removes the marked breaks again.
    """
    if all(len(line) <= MAX_LINE_CHARS for line in body.split("\n")):
        return body
    lines = []
    for line in body.split("\n"):
        while len(line) > MAX_LINE_CHARS:
            lines.append(line[:MAX_LINE_CHARS] + _BREAK)
            line = line[MAX_LINE_CHARS:]
        lines.append(line)
    return "\n".join(lines)


def _unwrap(text: str) -> str:
    return text.replace(_BREAK + "\n", "").replace(_BREAK, "")


def _drop_quotes(text: str) -> str:
    lines = text.split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _QUOTED.match(line):
            continue
        if line.rstrip().endswith(":") and _quote_follows(lines, index + 1):
            continue
        kept.append(line)
    return _BLANK_RUN.sub("\n\n", "\n".join(kept)).strip()


def _quote_follows(lines: list[str], start: int) -> bool:
    for line in lines[start:]:
        if line.strip():
            return bool(_QUOTED.match(line))
    return False


_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figure", "footer",
        "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol",
        "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
_SKIPPED = frozenset({"script", "style", "head", "title", "template"})


class _TextMaker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote_depth = 0
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skip_depth += 1
        elif tag == "br":
            self._break()
        elif tag in _BLOCKS:
            self._break()
            if tag == "blockquote":
                self.quote_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skip_depth = max(self.skip_depth - 1, 0)
        elif tag in _BLOCKS:
            self._break()
            if tag == "blockquote":
                self.quote_depth = max(self.quote_depth - 1, 0)
            if tag in ("p", "div", "table", "blockquote"):
                self.lines.append(self._prefix())

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.current.append(" ".join(data.split()) if data.strip() else " ")

    def _prefix(self) -> str:
        return "> " * self.quote_depth

    def _break(self) -> None:
        line = "".join(self.current).strip()
        self.current = []
        if line or (self.lines and self.lines[-1].strip(" >")):
            self.lines.append(f"{self._prefix()}{line}".rstrip())

    def text(self) -> str:
        self._break()
        joined = "\n".join(line.rstrip() for line in self.lines)
        return _BLANK_RUN.sub("\n\n", joined).strip() + "\n"


def html_to_text(html: str) -> str:
    """Readable text from an HTML body: one line per block or ``<br>``, quotes marked ``>``,
    scripts and styles left out, entities decoded. Never raises on malformed HTML."""
    maker = _TextMaker()
    maker.feed(html)
    maker.close()
    return maker.text()

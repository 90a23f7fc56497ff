"""The reply's own text on the corpus of client-shaped replies, and its invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reply_corpus import CASES, ReplyCase
from reply_split import split_reply
from ses_mail.replies import (
    MAX_LINE_CHARS,
    MAX_REPLY_SOURCE_CHARS,
    html_to_text,
    reply_text,
    split_signature,
)


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_corpus_reply_is_extracted_with_its_signature(case: ReplyCase) -> None:
    found = reply_text(case.text, split=split_reply)
    assert found is not None
    assert _norm(found.text) == _norm(case.reply)
    assert _norm(found.signature) == _norm(case.signature)
    assert (found.source, found.input_cut) == ("text", False)


@pytest.mark.parametrize("case", [case for case in CASES if case.html], ids=lambda case: case.name)
def test_an_html_only_reply_is_extracted_from_text_made_of_its_html(case: ReplyCase) -> None:
    assert case.html is not None
    found = reply_text(None, case.html, split=split_reply)
    assert found is not None
    assert found.source == "html"
    assert _norm(found.text) == _norm(case.reply)


def test_without_the_library_quotes_and_sig_dash_signatures_still_go() -> None:
    found = reply_text(
        "Done.\n\n-- \nJo\n\nLe mar. 1 déc. 2026, Support a écrit :\n> Merci\n",
        split=split_signature,
    )
    assert found is not None
    assert found.text == "Done."
    assert found.signature is not None
    assert found.signature.startswith("-- \nJo")


def test_html_to_text_marks_quotes_and_drops_scripts() -> None:
    text = html_to_text(
        "<html><head><style>p{}</style></head><body><p>Hi &amp; bye</p>"
        "<blockquote><p>old</p><blockquote>older</blockquote></blockquote>"
        "<script>alert(1)</script></body></html>"
    )
    lines = [line for line in text.splitlines() if line.strip(" >")]
    assert lines == ["Hi & bye", "> old", "> > older"]
    assert "alert" not in text and "p{}" not in text


def test_a_long_line_starting_like_an_attribution_stays_fast_and_whole() -> None:
    # One paragraph of 8,000 characters took the library 2.9 s before lines were bounded.
    body = "On " + "word " * 1600
    found = reply_text(body, split=split_reply)
    assert found is not None
    assert found.text == body.strip()[:MAX_REPLY_SOURCE_CHARS].strip()


def test_a_long_body_is_read_from_its_start_only_and_says_so() -> None:
    body = "Hello.\n" + "more text without any quote\n" * 1000
    found = reply_text(body, split=split_reply)
    assert found is not None
    assert found.input_cut is True
    assert len(found.text) <= MAX_REPLY_SOURCE_CHARS


def test_no_body_gives_no_reply() -> None:
    assert reply_text(None, None) is None


_line = st.text(
    st.characters(
        whitelist_categories=("L", "N", "Zs"), whitelist_characters=".,!?'-", max_codepoint=0x2FF
    ),
    min_size=1,
    max_size=80,
).filter(lambda line: line.strip() and not line.strip().endswith(":"))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_line, min_size=1, max_size=8),
    st.lists(_line, min_size=1, max_size=8),
    st.sampled_from([split_reply, split_signature]),
)
def test_a_reply_above_a_quoted_history_is_kept_and_the_history_dropped(
    own: list[str], history: list[str], split: object
) -> None:
    own_text = "\n".join(line.strip() for line in own)
    body = f"{own_text}\n\nOn Tue, Dec 1, 2026 at 10:02 AM A <a@example.com> wrote:\n\n" + "".join(
        f"> {line}\n" for line in history
    )
    found = reply_text(body, split=split)  # type: ignore[arg-type]
    assert found is not None
    # The library may take a closing line such as "Thanks," for a signature; nothing else of
    # the reply may go, and nothing of the history may stay.
    kept = _norm(f"{found.text} {found.signature or ''}")
    assert kept == _norm(own_text)
    assert ">" not in found.text


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=3000), st.sampled_from([split_reply, split_signature]))
def test_any_text_gives_a_reply_made_of_its_own_lines(text: str, split: object) -> None:
    found = reply_text(text, split=split)  # type: ignore[arg-type]
    assert found is not None
    assert "\ue000" not in found.text
    source = text.replace("\r\n", "\n")
    for line in found.text.split("\n"):
        assert line.strip() in source or len(line) > MAX_LINE_CHARS

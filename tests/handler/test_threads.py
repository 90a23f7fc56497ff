"""Thread ids: every message of one conversation gets the same id, as mail clients thread them."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ses_mail.threads import THREAD_ID_HEX_CHARS, Thread, thread_id, thread_of


def test_a_conversation_built_as_rfc_5322_says_shares_one_thread_id() -> None:
    first = thread_of(
        message_id="<CAfirst@mail.gmail.com>", in_reply_to=None, references=(), ses_message_id="a"
    )
    ack = thread_of(
        message_id="<ack@amazonses.com>",
        in_reply_to="<CAfirst@mail.gmail.com>",
        references=("<CAfirst@mail.gmail.com>",),
        ses_message_id="b",
    )
    reply = thread_of(
        message_id="<CAsecond@mail.gmail.com>",
        in_reply_to="<ack@amazonses.com>",
        references=("<CAfirst@mail.gmail.com>", "<ack@amazonses.com>"),
        ses_message_id="c",
    )
    assert first.thread_id == ack.thread_id == reply.thread_id
    assert (first.source, ack.source, reply.source) == ("message-id", "references", "references")
    assert first.root == "CAfirst@mail.gmail.com"


def test_a_first_reply_with_only_in_reply_to_joins_its_parent() -> None:
    parent = thread_of(message_id="<p@x>", in_reply_to=None, references=(), ses_message_id="a")
    child = thread_of(message_id="<c@x>", in_reply_to="<p@x>", references=(), ses_message_id="b")
    assert child.thread_id == parent.thread_id
    assert child.source == "in-reply-to"


def test_a_message_without_identifiers_is_a_thread_of_its_own() -> None:
    one = thread_of(message_id=None, in_reply_to=None, references=(), ses_message_id="ses-1")
    two = thread_of(message_id=None, in_reply_to=None, references=(), ses_message_id="ses-2")
    assert one.thread_id != two.thread_id
    assert one.root == "ses:ses-1"


def test_different_conversations_get_different_ids() -> None:
    assert thread_id("<a@example.com>") != thread_id("<b@example.com>")
    assert thread_id("<a@example.com>") == thread_id(" a@example.com ")


_ids = st.from_regex(r"<[A-Za-z0-9.$_-]{1,20}@[a-z0-9.-]{1,20}>", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(_ids, min_size=1, max_size=12, unique=True), st.integers(min_value=0))
def test_every_reply_in_a_chain_has_the_root_s_thread_id(ids: list[str], cut: int) -> None:
    """A chain of replies, each with References = parent's References + parent's Message-ID,
    trimmed (keeping the first entry) as clients do for long threads."""
    root = thread_of(message_id=ids[0], in_reply_to=None, references=(), ses_message_id="s")
    references: list[str] = []
    for parent, message_id in itertools.pairwise(ids):
        references = [*references, parent]
        keep = cut % (len(references)) + 1
        trimmed = [references[0], *references[len(references) - keep + 1 :]]
        found = thread_of(
            message_id=message_id, in_reply_to=parent, references=trimmed, ses_message_id="s"
        )
        assert found.thread_id == root.thread_id
        assert len(found.thread_id) == THREAD_ID_HEX_CHARS


def test_the_thread_id_is_the_sha256_of_the_bare_root() -> None:
    # Thread ids are stored and matched by consumers: the digest is pinned, not only its shape.
    expected = hashlib.sha256(b"CAfirst@mail.gmail.com").hexdigest()[:32]
    assert thread_id("<CAfirst@mail.gmail.com>") == expected
    assert thread_id("< CAfirst@mail.gmail.com >") == expected
    assert thread_id("CAfirst@mail.gmail.com") == expected
    assert expected == "6e5982e2dc96e5fa839b652f1460c331"


@pytest.mark.parametrize(
    ("headers", "root", "source"),
    [
        pytest.param(
            {
                "references": ("", "  ", "<>", "<r@x>"),
                "in_reply_to": "<i@x>",
                "message_id": "<m@x>",
            },
            "r@x",
            "references",
            id="empty references entries skipped",
        ),
        pytest.param(
            {"references": ("<>",), "in_reply_to": "<i@x>", "message_id": "<m@x>"},
            "i@x",
            "in-reply-to",
            id="no usable reference: in-reply-to",
        ),
        pytest.param(
            {"references": (), "in_reply_to": " <> ", "message_id": "< m@x >"},
            "m@x",
            "message-id",
            id="empty in-reply-to: message-id",
        ),
        pytest.param(
            {"references": (), "in_reply_to": "", "message_id": "<>"},
            "ses:0100abc",
            "ses",
            id="no identifier: the SES message id",
        ),
        pytest.param(
            {"references": ("r@x",), "in_reply_to": None, "message_id": None},
            "r@x",
            "references",
            id="identifiers without brackets",
        ),
        pytest.param(
            {"references": ("<r@x",), "in_reply_to": None, "message_id": None},
            "<r@x",
            "references",
            id="an unclosed bracket is kept",
        ),
        pytest.param(
            {"references": ("r@x>",), "in_reply_to": None, "message_id": None},
            "r@x>",
            "references",
            id="an unopened bracket is kept",
        ),
    ],
)
def test_the_root_is_the_first_usable_identifier_in_rule_order(
    headers: dict[str, Any], root: str, source: str
) -> None:
    found = thread_of(ses_message_id="0100abc", **headers)
    assert found == Thread(
        thread_id=hashlib.sha256(root.encode()).hexdigest()[:THREAD_ID_HEX_CHARS],
        root=root,
        source=source,
    )


def test_an_identifier_that_is_only_brackets_is_hashed_as_written() -> None:
    assert thread_id("<>") == hashlib.sha256(b"<>").hexdigest()[:THREAD_ID_HEX_CHARS]
    assert thread_id("") == hashlib.sha256(b"").hexdigest()[:THREAD_ID_HEX_CHARS]


def test_an_identifier_with_an_unpaired_surrogate_still_has_a_thread_id() -> None:
    # A header decoded with surrogateescape can carry one; it is hashed as '?', never raises.
    assert thread_id("<a\udcff@x>") == hashlib.sha256(b"a?@x").hexdigest()[:THREAD_ID_HEX_CHARS]

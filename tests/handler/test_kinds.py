"""Classification of mail kinds on real-shaped messages: DSN, ARF, auto replies, lists, people."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest
from handler_support import email_bytes
from hypothesis import given, settings
from hypothesis import strategies as st
from ses_mail import parse_message
from ses_mail.kinds import (
    AUTO_GENERATED,
    AUTO_REPLY,
    DELIVERY_STATUS,
    FEEDBACK_REPORT,
    KINDS,
    LIST,
    PERSON,
    classify,
)


def _kind(name: str, envelope_source: str | None = "sender@example.com"):
    parsed = parse_message(email_bytes(f"kinds/{name}"))
    return classify(parsed.message, envelope_source=envelope_source)


@pytest.mark.parametrize(
    ("name", "kind", "reason"),
    [
        ("dsn-permanent.eml", DELIVERY_STATUS, "multipart/report; report-type=delivery-status"),
        ("dsn-delayed.eml", DELIVERY_STATUS, "multipart/report; report-type=delivery-status"),
        ("arf-abuse.eml", FEEDBACK_REPORT, "multipart/report; report-type=feedback-report"),
        ("gmail-vacation.eml", AUTO_REPLY, "Auto-Submitted: auto-replied"),
        ("exchange-oof.eml", AUTO_REPLY, "X-Auto-Response-Suppress: All"),
        ("x-autoreply.eml", AUTO_REPLY, "X-Autoreply"),
        ("notification.eml", AUTO_GENERATED, "Auto-Submitted: auto-generated"),
        ("list-post.eml", LIST, "List-Id"),
        ("person.eml", PERSON, "no automatic or list header"),
    ],
)
def test_each_corpus_message_gets_its_kind(name: str, kind: str, reason: str) -> None:
    found = _kind(name)
    assert (found.kind, found.reason) == (kind, reason)
    assert found.kind in KINDS


def test_a_bounce_names_its_failed_and_delayed_recipients_and_permanence() -> None:
    found = _kind("dsn-permanent.eml", envelope_source="")

    assert found.permanent is True
    assert [(r.address, r.action, r.status, r.permanent) for r in found.recipients] == [
        ("nobody@example.net", "failed", "5.1.1", True),
        ("later@example.net", "delayed", "4.4.1", False),
    ]
    assert found.recipients[0].diagnostic is not None
    assert "User unknown" in found.recipients[0].diagnostic


def test_a_delay_notification_is_not_permanent() -> None:
    found = _kind("dsn-delayed.eml")
    assert found.permanent is False
    assert [(r.address, r.action, r.status) for r in found.recipients] == [
        ("slow@example.org", "delayed", "4.7.0")
    ]


def test_a_feedback_report_gives_its_feedback_type() -> None:
    assert _kind("arf-abuse.eml").feedback_type == "abuse"


def test_a_list_post_gives_its_list_id() -> None:
    assert _kind("list-post.eml").list_id == "Users of the device <users.lists.example.org>"


def _message(headers: str, body: str = "hello\n") -> bytes:
    return (
        "From: a@example.com\nTo: b@example.com\nSubject: s\nMessage-ID: <m@example.com>\n"
        f"{headers}MIME-Version: 1.0\nContent-Type: text/plain\n\n{body}"
    ).encode()


@pytest.mark.parametrize(
    ("headers", "envelope", "kind"),
    [
        ("Auto-Submitted: auto-notified\n", "a@example.com", AUTO_GENERATED),
        ("Auto-Submitted: No (a person wrote this)\n", "a@example.com", PERSON),
        ("Auto-Submitted: AUTO-REPLIED (vacation)\n", "a@example.com", AUTO_REPLY),
        ("X-Autorespond: on\n", "a@example.com", AUTO_REPLY),
        ("X-Autoreply: no\n", "a@example.com", PERSON),
        ("Precedence: auto_reply\n", "a@example.com", AUTO_REPLY),
        ("Precedence: bulk\n", "a@example.com", AUTO_GENERATED),
        ("Precedence: list\n", "a@example.com", LIST),
        ("X-Auto-Response-Suppress: RN, NRN\n", "a@example.com", PERSON),
        ("List-Unsubscribe: <mailto:x@example.com>\n", "a@example.com", LIST),
        ("", "<>", AUTO_GENERATED),
        ("", "", AUTO_GENERATED),
        ("", None, PERSON),
    ],
)
def test_header_rules(headers: str, envelope: str | None, kind: str) -> None:
    message = BytesParser(policy=policy.default).parsebytes(_message(headers))
    assert classify(message, envelope_source=envelope).kind == kind


def test_a_read_receipt_is_automatic() -> None:
    raw = (
        b"From: a@example.com\nTo: b@example.com\nSubject: Read: s\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="x"\n\n'
        b"--x\nContent-Type: text/plain\n\nread\n--x\n"
        b"Content-Type: message/disposition-notification\n\n"
        b"Final-Recipient: rfc822; a@example.com\nDisposition: manual-action/MDN-sent-manually;"
        b" displayed\n\n--x--\n"
    )
    assert classify(parse_message(raw).message, envelope_source="").kind == AUTO_GENERATED


def test_a_report_without_its_status_part_is_still_a_dsn_with_a_note() -> None:
    raw = (
        b"From: a@example.com\nTo: b@example.com\nSubject: failure\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="x"\n\n'
        b"--x\nContent-Type: text/plain\n\nit failed\n--x--\n"
    )
    found = classify(parse_message(raw).message)
    assert (found.kind, found.recipients, found.permanent) == (DELIVERY_STATUS, (), False)
    assert found.notes == ("no delivery-status part",)


def test_recipients_of_a_huge_report_are_bounded() -> None:
    groups = "".join(
        f"Final-Recipient: rfc822; u{n}@example.com\nAction: failed\nStatus: 5.1.1\n\n"
        for n in range(150)
    )
    raw = (
        "From: a@example.com\nTo: b@example.com\nSubject: failure\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="x"\n\n'
        "--x\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; m.example\n\n"
        f"{groups}--x--\n"
    ).encode()
    found = classify(parse_message(raw).message)
    assert len(found.recipients) == 100
    assert found.notes


_header_names = st.sampled_from(
    [
        "Auto-Submitted",
        "Precedence",
        "X-Autoreply",
        "X-Autorespond",
        "X-Auto-Response-Suppress",
        "List-Id",
        "List-Post",
        "Content-Type",
        "Subject",
    ]
)
_values = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=60
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_header_names, _values), max_size=6), st.one_of(st.none(), _values))
def test_any_headers_give_a_kind_of_the_vocabulary(
    headers: list[tuple[str, str]], envelope: str | None
) -> None:
    raw = "".join(f"{name}: {value}\n" for name, value in headers).encode("utf-8", "replace")
    message = parse_message(raw + b"\nbody\n").message
    found = classify(message, envelope_source=envelope)
    assert found.kind in KINDS
    assert found.reason
    automatic = any(
        name == "Auto-Submitted" and value.strip().lower().startswith("auto-")
        for name, value in headers[:1]
    )
    if automatic:  # an RFC 3834 automatic message is never taken for a person's or a list's
        assert found.kind not in (PERSON, LIST)

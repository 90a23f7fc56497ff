"""Replies built from received events: headers, RFC 3834 refusals, sending with SES v2 (moto)."""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

import pytest
from handler_support import documented_event, email_bytes, with_receipt
from hypothesis import given, settings
from hypothesis import strategies as st
from ses_mail import (
    RawLocation,
    build_document,
    build_entry,
    parse_event,
    parse_message,
)
from ses_mail.reader import ReceivedEmail
from ses_mail.replying import (
    MAX_REFERENCES,
    ReplyRefused,
    build_reply,
    reply_references,
    reply_subject,
)


def received(name: str, **receipt: Any) -> ReceivedEmail:
    """The event a subscriber gets for the corpus message ``name`` (through the real builders)."""
    import json

    event = with_receipt(documented_event(), **receipt) if receipt else documented_event()
    (notification,) = parse_event(event)
    parsed = parse_message(email_bytes(f"kinds/{name}"))
    document = build_document(notification, raw=RawLocation(), parsed=parsed)
    entry = build_entry(document, event_bus="bus", bucket=None, message_key=None)
    return ReceivedEmail.from_event(
        {"source": entry["Source"], "detail-type": entry["DetailType"],
         "detail": json.loads(entry["Detail"])}
    )  # fmt: skip


def test_an_automatic_reply_to_a_person_is_threaded_and_marked() -> None:
    mail = received("gmail-reply.eml")
    reply = build_reply(mail, text="Thanks, we are on it.", from_address="support@example.com")

    parsed = message_from_bytes(reply.raw, policy=policy.default)
    assert parsed["Subject"] == "Re: [Ticket 42] Printer on fire"
    assert parsed["In-Reply-To"] == "<CAsecond@mail.gmail.com>"
    assert parsed["References"].split() == [
        "<CAfirst@mail.gmail.com>",
        "<ack-42@mail.example.com>",
        "<CAsecond@mail.gmail.com>",
    ]
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["To"] == mail.envelope.source  # RFC 3834 section 4: the return path
    assert parsed.get_content().strip() == "Thanks, we are on it."


def test_a_person_s_reply_goes_to_from_and_is_not_marked_automatic() -> None:
    mail = received("gmail-reply.eml")
    reply = build_reply(mail, text="Hi Dana", from_address="agent@example.com", automatic=False)
    parsed = message_from_bytes(reply.raw, policy=policy.default)
    assert parsed["To"] == "dana@example.com"
    assert parsed["Auto-Submitted"] is None


@pytest.mark.parametrize(
    ("name", "receipt", "reason"),
    [
        ("gmail-vacation.eml", {}, "auto_reply mail"),
        ("exchange-oof.eml", {}, "auto_reply mail"),
        ("dsn-permanent.eml", {}, "delivery_status mail"),
        ("arf-abuse.eml", {}, "feedback_report mail"),
        ("list-post.eml", {}, "list mail"),
        ("notification.eml", {}, "auto_generated mail"),
        ("person.eml", {"dmarcVerdict": {"status": "FAIL"}}, "DMARC verdict is FAIL"),
        (
            "person.eml",
            {"dmarcVerdict": {"status": "GRAY"}, "spfVerdict": {"status": "FAIL"}},
            "not authenticated",
        ),
    ],
)
def test_fails_when_an_automatic_reply_must_not_be_sent(
    name: str, receipt: dict[str, Any], reason: str
) -> None:
    mail = received(name, **receipt)
    with pytest.raises(ReplyRefused, match=reason):
        build_reply(mail, text="ack")


def test_without_dmarc_both_spf_and_dkim_passing_authenticate() -> None:
    mail = received("person.eml", dmarcVerdict={"status": "GRAY"})
    assert build_reply(mail, text="ack").automatic is True


def test_re_is_added_once() -> None:
    assert reply_subject("Printer") == "Re: Printer"
    assert reply_subject("RE: Printer") == "RE: Printer"
    assert reply_subject("re:Printer") == "re:Printer"
    assert reply_subject(None) == "Re:"


_ids = st.lists(
    st.from_regex(r"<[a-z0-9]{1,8}@[a-z]{1,6}\.example>", fullmatch=True), unique=True, max_size=40
)


@settings(max_examples=200, deadline=None)
@given(_ids, st.from_regex(r"<p[0-9]{1,4}@example>", fullmatch=True))
def test_references_keep_the_root_and_the_parent_and_stay_bounded(
    references: list[str], parent: str
) -> None:
    chain = reply_references(references, None, parent)
    assert len(chain) <= MAX_REFERENCES
    assert chain[-1] == parent
    assert chain[0] == (references[0] if references else parent)
    assert len(set(chain)) == len(chain)


def test_the_reply_is_accepted_by_ses_v2_with_raw_content(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    mail = received("gmail-reply.eml")
    reply = build_reply(mail, text="ack", from_address="support@example.com")
    with mock_aws():
        client = boto3.client("sesv2", region_name="us-east-1")
        client.create_email_identity(EmailIdentity="example.com")
        answer = client.send_email(**reply.send_email_request())
    assert answer["MessageId"]


def test_the_reader_gives_the_conversation_of_the_event() -> None:
    bounce = received("dsn-permanent.eml").conversation
    assert bounce is not None
    assert (bounce.kind, bounce.permanent_failure) == ("delivery_status", True)
    assert bounce.failed_recipients == ("nobody@example.net",)
    reply = received("gmail-reply.eml").conversation
    assert reply is not None
    assert reply.reply_text == "Thanks, the new toner fixed it.\n\nDana"
    assert reply.reply_address is None


def test_the_reader_still_reads_a_detail_without_conversation() -> None:
    import json

    event = documented_event()
    (notification,) = parse_event(event)
    document = build_document(
        notification, raw=RawLocation(), parsed=parse_message(email_bytes("kinds/person.eml"))
    )
    detail = json.loads(
        build_entry(document, event_bus="b", bucket=None, message_key=None)["Detail"]
    )
    del detail["conversation"]  # as a 1.0 detail
    mail = ReceivedEmail.from_event(
        {"source": "s", "detail-type": "Email Received", "detail": detail}
    )
    assert mail.conversation is None

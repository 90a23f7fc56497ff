"""Each classification rule, its reason text and its edges, one message at a time.

The corpus tests (test_kinds.py) check real-shaped messages; these check what each rule reads:
which header, which value, which part of a report, and the bounds.
"""

from __future__ import annotations

import pytest
from ses_mail import parse_message
from ses_mail.kinds import (
    AUTO_GENERATED,
    AUTO_REPLY,
    DELIVERY_STATUS,
    FEEDBACK_REPORT,
    LIST,
    MAX_REPORT_CHARS,
    MAX_REPORTED_RECIPIENTS,
    PERSON,
    Classification,
    ReportedRecipient,
    classify,
)

_HEAD = "From: a@example.com\r\nTo: b@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"


def _classify(headers: str, envelope: str | None = "a@example.com") -> Classification:
    raw = f"{_HEAD}{headers}Content-Type: text/plain\r\n\r\nhello\r\n".encode()
    return classify(parse_message(raw).message, envelope_source=envelope)


def _report(report_type: str, part_type: str, body: str, envelope: str | None = None):
    raw = (
        f'{_HEAD}Content-Type: multipart/report; report-type={report_type}; boundary="b"\r\n'
        f"\r\n--b\r\nContent-Type: text/plain\r\n\r\nhuman part\r\n"
        f"--b\r\nContent-Type: {part_type}\r\n\r\n{body}\r\n--b--\r\n"
    ).encode()
    return classify(parse_message(raw).message, envelope_source=envelope)


@pytest.mark.parametrize(
    ("headers", "envelope", "expected"),
    [
        (
            "Auto-Submitted: auto-replied;x=1\r\n",
            None,
            (AUTO_REPLY, "Auto-Submitted: auto-replied"),
        ),
        (
            "Auto-Submitted: Auto-Replied(away)\r\n",
            None,
            (AUTO_REPLY, "Auto-Submitted: auto-replied"),
        ),
        (
            "Auto-Submitted: auto-generated\r\n",
            None,
            (AUTO_GENERATED, "Auto-Submitted: auto-generated"),
        ),
        ("Auto-Submitted: no\r\nPrecedence: list\r\n", None, (LIST, "Precedence: list")),
        ("Auto-Submitted: (only a comment)\r\n", None, (PERSON, "no automatic or list header")),
        ("Auto-Submitted:\r\n", None, (PERSON, "no automatic or list header")),
        ("X-Autoreply: yes\r\n", None, (AUTO_REPLY, "X-Autoreply")),
        ("X-Autoreply: False\r\n", None, (PERSON, "no automatic or list header")),
        ("X-AutoRespond: \r\n", None, (AUTO_REPLY, "X-Autorespond")),
        (
            "X-Auto-Response-Suppress: RN, ALL \r\n",
            None,
            (AUTO_REPLY, "X-Auto-Response-Suppress: All"),
        ),
        ("X-Auto-Response-Suppress: allx\r\n", None, (PERSON, "no automatic or list header")),
        ("Precedence: Auto_Reply\r\n", None, (AUTO_REPLY, "Precedence: auto_reply")),
        ("Precedence: junk\r\n", None, (AUTO_GENERATED, "Precedence: junk")),
        ("Precedence: bulk\r\n", None, (AUTO_GENERATED, "Precedence: bulk")),
        ("", " <> ", (AUTO_GENERATED, "null envelope sender")),
        ("", "", (AUTO_GENERATED, "null envelope sender")),
        ("", "a@example.com", (PERSON, "no automatic or list header")),
        ("List-Help: <mailto:h@x>\r\n", None, (LIST, "List-Help")),
        ("List-Unsubscribe: <mailto:u@x>\r\n", None, (LIST, "List-Unsubscribe")),
        ("List-Subscribe: <mailto:s@x>\r\n", None, (LIST, "List-Subscribe")),
        ("List-Post: NO\r\n", None, (LIST, "List-Post")),
        ("List-Owner: <mailto:o@x>\r\n", None, (LIST, "List-Owner")),
        ("List-Archive: <https://x>\r\n", None, (LIST, "List-Archive")),
        ("X-List: x\r\n", None, (PERSON, "no automatic or list header")),
    ],
)
def test_each_header_rule_gives_its_kind_and_reason(
    headers: str, envelope: str | None, expected: tuple[str, str]
) -> None:
    assert _classify(headers, envelope) == Classification(*expected)


def test_the_first_rule_in_order_decides() -> None:
    # Auto-Submitted: auto-replied before the vendor headers, vendors before auto-generated,
    # a null sender before a list.
    assert _classify("X-Autorespond: x\r\nAuto-Submitted: auto-replied\r\n").reason == (
        "Auto-Submitted: auto-replied"
    )
    assert _classify("Auto-Submitted: auto-generated\r\nX-Autorespond: x\r\n").reason == (
        "X-Autorespond"
    )
    assert _classify("List-Id: <l.example.org>\r\n", envelope="<>").kind == AUTO_GENERATED


def test_the_first_of_two_fields_counts() -> None:
    assert _classify("Auto-Submitted: no\r\nAuto-Submitted: auto-replied\r\n").kind == PERSON


def test_a_list_id_is_reported_unfolded_and_bounded() -> None:
    folded = _classify("List-Id: Users of\r\n  the device <users.example.org>\r\n")
    assert folded == Classification(
        LIST, "List-Id", list_id="Users of the device <users.example.org>"
    )
    long = _classify(f"List-Id: {'n' * 1200} <l.example.org>\r\n")
    assert long.list_id == "n" * 998


def test_a_read_receipt_is_automatic_whoever_sent_it() -> None:
    found = _report(
        "disposition-notification",
        "message/disposition-notification",
        "Final-Recipient: rfc822; a@example.com\r\nDisposition: manual-action/MDN-sent-manually",
        envelope="a@example.com",
    )
    expected = "multipart/report; report-type=disposition-notification"
    assert found == Classification(AUTO_GENERATED, expected)


def _dsn_groups(*groups: str) -> str:
    return "\r\n\r\n".join(("Reporting-MTA: dns; mta.example", *groups))


def test_each_recipient_field_is_read_as_rfc_3464_says() -> None:
    body = _dsn_groups(
        "Final-Recipient: rfc822; <One@example.com>\r\nAction: FAILED\r\nStatus: 5.1.1 (no)\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no such\r\n\tuser",
        "Final-Recipient: rfc822; ok@example.com\r\nAction: delivered\r\nStatus: 2.0.0",
        "Original-Recipient: rfc822;two@example.com\r\nAction: failed\r\nStatus: 4.4.7",
        "Final-Recipient: three@example.com\r\nAction: failed\r\nStatus: bad",
        "Final-Recipient: x-unknown; four@example.com\r\nAction: delayed\r\nStatus: 5.0.0",
        "Action: failed",
    )
    found = _report("delivery-status", "message/delivery-status", body)
    assert found == Classification(
        DELIVERY_STATUS,
        "multipart/report; report-type=delivery-status",
        recipients=(
            ReportedRecipient(
                "One@example.com", "failed", "5.1.1", True, "smtp; 550 5.1.1 no such user"
            ),
            ReportedRecipient("two@example.com", "failed", "4.4.7", False, None),
            ReportedRecipient("three@example.com", "failed", None, True, None),
            ReportedRecipient("four@example.com", "delayed", "5.0.0", False, None),
            ReportedRecipient("", "failed", None, True, None),
        ),
        permanent=True,
    )
    assert found.notes == ()


def test_a_global_delivery_status_report_is_read_like_a_dsn() -> None:
    found = _report(
        "Global-Delivery-Status",
        "message/global-delivery-status",
        _dsn_groups("Final-Recipient: utf-8; ü@example.com\r\nAction: delayed\r\nStatus: 4.2.2"),
    )
    assert found == Classification(
        DELIVERY_STATUS,
        "multipart/report; report-type=global-delivery-status",
        recipients=(ReportedRecipient("ü@example.com", "delayed", "4.2.2", False, None),),
        permanent=False,
    )


def test_field_syntax_in_a_report_part() -> None:
    # A group ends at a line of only white space; the first of a repeated field counts and its
    # continuation lines too; a line without a colon ends the field before it.
    body = _dsn_groups(
        "Final-Recipient: rfc822; a@example.com\r\nACTION : failed\r\nStatus: 5.1.1\r\n"
        "Status: 4.0.0\r\n continued\r\nDiagnostic-Code: smtp;\r\nnot a field\r\n lost",
        "Final-Recipient: rfc822; b@example.com\r\nAction: delayed",
    ).replace("\r\n\r\nFinal-Recipient: rfc822; b@", "\r\n \t\r\nFinal-Recipient: rfc822; b@")
    found = _report("delivery-status", "message/delivery-status", body)
    assert found.recipients == (
        ReportedRecipient("a@example.com", "failed", "5.1.1", True, "smtp;"),
        ReportedRecipient("b@example.com", "delayed", None, False, None),
    )


def test_a_report_field_is_bounded_and_without_controls() -> None:
    body = _dsn_groups(
        f"Final-Recipient: rfc822; a@example.com\r\nAction: failed\r\n"
        f"Diagnostic-Code: smtp; \x07{'d' * 1200}"
    )
    [recipient] = _report("delivery-status", "message/delivery-status", body).recipients
    assert recipient.diagnostic is not None
    assert "\x07" not in recipient.diagnostic
    assert len(recipient.diagnostic) <= 998 and recipient.diagnostic.endswith("d" * 900)


def _failed(count: int) -> str:
    return _dsn_groups(
        *(f"Final-Recipient: rfc822; u{n}@example.com\r\nAction: failed" for n in range(count))
    )


def test_at_most_the_limit_of_recipients_is_reported_with_a_note_beyond() -> None:
    at_limit = _report("delivery-status", "message/delivery-status", _failed(100))
    assert len(at_limit.recipients) == MAX_REPORTED_RECIPIENTS == 100
    assert at_limit.notes == ()
    over = _report("delivery-status", "message/delivery-status", _failed(101))
    assert [r.address for r in over.recipients] == [f"u{n}@example.com" for n in range(100)]
    assert over.notes == ("more than 100 recipients; the rest not reported",)


def test_only_the_start_of_a_huge_report_part_is_read() -> None:
    head = _failed(1)
    filler = f"\r\nX-Filler: {'f' * 900}"
    body = head + filler * ((MAX_REPORT_CHARS - len(head)) // len(filler))
    body += "\r\nX-Pad: " + "p" * (MAX_REPORT_CHARS - len(body) - len("\r\nX-Pad: "))
    assert len(body) == MAX_REPORT_CHARS
    late = "\r\n\r\nFinal-Recipient: rfc822; late@example.com\r\nAction: failed"
    exact = _report("delivery-status", "message/delivery-status", body)
    assert [r.address for r in exact.recipients] == ["u0@example.com"]
    assert exact.notes == ()
    over = _report("delivery-status", "message/delivery-status", body + late)
    assert [r.address for r in over.recipients] == ["u0@example.com"]
    assert over.notes == (f"report part over {MAX_REPORT_CHARS} bytes; only its start was read",)
    whole = _report("delivery-status", "message/delivery-status", head + late)
    assert [r.address for r in whole.recipients] == ["u0@example.com", "late@example.com"]


def test_a_report_without_a_usable_part_is_classified_by_its_type_with_a_note() -> None:
    raw = (
        f"{_HEAD}Content-Type: multipart/report; report-type=delivery-status\r\n\r\nno parts\r\n"
    ).encode()
    found = classify(parse_message(raw).message)
    assert found == Classification(
        DELIVERY_STATUS, "multipart/report; report-type=delivery-status", permanent=False
    )
    assert found.notes == ("no delivery-status part",)


def test_a_feedback_report_gives_its_type_lowercased() -> None:
    found = _report(
        "feedback-report",
        "message/feedback-report",
        "Feedback-Type: Abuse; x\r\nUser-Agent: t/1\r\nVersion: 1",
    )
    assert found == Classification(
        FEEDBACK_REPORT, "multipart/report; report-type=feedback-report", feedback_type="abuse"
    )
    assert found.notes == ()


def test_a_feedback_report_without_its_type_says_so() -> None:
    for part_type, body in (
        ("message/feedback-report", "User-Agent: t/1\r\nVersion: 1"),
        ("text/plain", "Feedback-Type: abuse"),
    ):
        found = _report("feedback-report", part_type, body)
        assert (found.kind, found.feedback_type) == (FEEDBACK_REPORT, None)
        assert found.notes == ("no Feedback-Type found",)


def test_a_report_of_another_type_or_another_content_type_is_not_a_report() -> None:
    mixed = (
        f'{_HEAD}Content-Type: multipart/mixed; report-type=delivery-status; boundary="b"\r\n'
        "\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n"
    ).encode()
    assert classify(parse_message(mixed).message).kind == PERSON
    other = _report("x-other", "message/delivery-status", _failed(1), envelope="a@example.com")
    assert other == Classification(PERSON, "no automatic or list header")


def test_the_exchange_suppress_list_is_split_at_commas_only() -> None:
    assert _classify("X-Auto-Response-Suppress: RN,All\r\n").kind == AUTO_REPLY
    assert _classify("X-Auto-Response-Suppress: RN All\r\n").kind == PERSON


def test_a_report_type_is_read_as_a_mime_parameter() -> None:
    def found(params: str) -> Classification:
        raw = (
            f"{_HEAD}Content-Type: multipart/report; {params}\r\n\r\n--b\r\n"
            "Content-Type: message/delivery-status\r\n\r\nAction: failed\r\n--b--\r\n"
        ).encode()
        return classify(parse_message(raw).message, envelope_source="a@example.com")

    assert found('boundary="b"') == Classification(PERSON, "no automatic or list header")
    # RFC 2231 section 4: an encoded parameter value is the same parameter.
    encoded = found("report-type*=utf-8''Delivery-Status; boundary=\"b\"")
    assert (encoded.kind, encoded.reason) == (
        DELIVERY_STATUS,
        "multipart/report; report-type=delivery-status",
    )


def test_a_report_part_is_read_whatever_its_bytes_and_continuations() -> None:
    body = _dsn_groups(
        " a continuation with no field before it\r\nFinal-Recipient: rfc822; <Xavier@example.X>\r\n"
        "Diagnostic-Code: smtp; 550 caf\xe9\r\n  folded\r\nAction: failed"
    )
    raw = (
        (
            f'{_HEAD}Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
            f"\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        ).encode()
        + body.encode("latin-1")
        + b"\r\n--b--\r\n"
    )
    found = classify(parse_message(raw).message)
    assert found.recipients == (
        ReportedRecipient("Xavier@example.X", "failed", None, True, "smtp; 550 caf\ufffd folded"),
    )


def test_a_dsn_parsed_by_the_stdlib_s_own_parser_gives_its_recipients() -> None:
    # The stdlib's parser reads message/delivery-status as one message per field block
    # (RFC 3464 section 2.1: the blocks have the syntax of header fields); classify takes any
    # parsed message, so it reads those blocks too.
    from email import policy
    from email.parser import BytesParser

    body = _dsn_groups(
        "Final-Recipient: rfc822; <a@example.com>\r\nAction: Failed\r\nStatus: 5.1.1\r\n"
        "Status: 4.0.0\r\nDiagnostic-Code: smtp; 550\r\n  no such \x07user",
        "Final-Recipient: rfc822; ok@example.com\r\nAction: delivered",
        f"Final-Recipient: rfc822; b@example.com\r\nAction: delayed\r\nDiagnostic-Code: {'d' * 1200}",
    )
    raw = (
        f'{_HEAD}Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
        f"\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n{body}\r\n--b--\r\n"
    ).encode()
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message.get_payload()[0].get_payload(), list)
    found = classify(message)
    assert found == Classification(
        DELIVERY_STATUS,
        "multipart/report; report-type=delivery-status",
        recipients=(
            ReportedRecipient("a@example.com", "failed", "5.1.1", True, "smtp; 550 no such  user"),
            ReportedRecipient("b@example.com", "delayed", None, False, "d" * 998),
        ),
        permanent=True,
    )
    assert found.notes == ()
    assert found == classify(parse_message(raw).message)


def test_a_huge_feedback_report_is_noted() -> None:
    body = "Feedback-Type: abuse\r\nX-Filler: " + "f" * MAX_REPORT_CHARS
    found = _report("feedback-report", "message/feedback-report", body)
    assert found.feedback_type == "abuse"
    assert found.notes == (f"report part over {MAX_REPORT_CHARS} bytes; only its start was read",)

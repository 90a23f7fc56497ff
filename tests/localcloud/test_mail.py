"""The mail object SES puts into events, checked against AWS's documented event."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ses_lambda_localcloud import samples
from ses_lambda_localcloud.receiving import mail
from ses_lambda_localcloud.receiving.verdicts import LocalVerdicts

from .conftest import FIXTURES

FIXTURE = FIXTURES / "ses-lambda-event.json"


def stored_documented_message() -> bytes:
    """The documented sample as SES stores it: with Return-Path and Received prepended."""
    added = mail.received_headers(
        mail_from="janedoe@example.com",
        recipients=["johndoe@example.com"],
        message_id="o3vrnil0e2ic28tr",
        helo="mailer.example.com",
        peer_ip="203.0.113.1",
        region="us-west-2",
        moment=datetime(2015, 10, 7, 19, 34, 56, tzinfo=UTC),
    )
    return added + samples.documented_sample("johndoe@example.com")


def test_documented_sample_is_the_fixture_message() -> None:
    fixture = json.loads(FIXTURE.read_text())["Records"][0]["ses"]["mail"]
    sender_headers = [
        (h["name"], h["value"])
        for h in fixture["headers"]
        if h["name"] not in ("Return-Path", "Received")
    ]
    assert list(samples.DOCUMENTED_HEADERS) == sender_headers


def test_mail_object_matches_the_documented_event() -> None:
    fixture = json.loads(FIXTURE.read_text())["Records"][0]["ses"]["mail"]
    ours = mail.mail_object(
        stored_documented_message(),
        message_id=fixture["messageId"],
        mail_from="janedoe@example.com",
        moment=datetime(1970, 1, 1, tzinfo=UTC),
    )
    assert ours["commonHeaders"] == fixture["commonHeaders"]
    assert ours["destination"] == fixture["destination"]
    assert ours["source"] == fixture["source"]
    assert ours["timestamp"] == fixture["timestamp"]
    assert ours["headersTruncated"] is False
    assert [h["name"] for h in ours["headers"]] == [h["name"] for h in fixture["headers"]]
    ours_values = {h["name"]: h["value"] for h in ours["headers"]}
    for header in fixture["headers"]:
        if header["name"] != "Received":  # carries our own host, id and time
            assert ours_values[header["name"]] == header["value"]
    assert ours_values["Received"].startswith(
        "from mailer.example.com (mailer.example.com [203.0.113.1]) by "
        "inbound-smtp.us-west-2.amazonaws.com with SMTP id o3vrnil0e2ic28tr for "
        "johndoe@example.com; "
    )


def test_headers_beyond_10_kb_are_truncated_in_notifications() -> None:
    filler = "".join(f"X-Filler-{i}: {'x' * 200}\r\n" for i in range(80))
    raw = (filler + "Subject: big\r\n\r\nbody\r\n").encode()
    result = mail.mail_object(
        raw,
        message_id="m",
        mail_from="a@b.c",
        moment=datetime.now(UTC),
        headers_limit=mail.SNS_HEADERS_LIMIT_BYTES,
    )
    assert result["headersTruncated"] is True
    assert sum(len(h["name"]) + len(h["value"]) for h in result["headers"]) <= 10 * 1024
    assert result["commonHeaders"]["subject"] == "big"  # common headers read all headers


# No deadline or generation-speed check: the suite shares two cores with parallel workers.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=1, max_value=4000), min_size=1, max_size=40))
def test_lambda_events_cut_headers_beyond_50_kb(sizes: list[int]) -> None:
    # "Maximum email headers size that can be published using an AWS Lambda function | 50 KB"
    # (SES quotas page); the default of mail_object is the Lambda event's limit.
    raw = "".join(f"X-F{i}: {'y' * n}\r\n" for i, n in enumerate(sizes)).encode() + b"\r\nb"
    result = mail.mail_object(raw, message_id="m", mail_from="a@b.c", moment=datetime.now(UTC))
    counted = [len(f"X-F{i}") + n + 4 for i, n in enumerate(sizes)]
    kept = len(result["headers"])
    assert [h["value"] for h in result["headers"]] == ["y" * n for n in sizes[:kept]]
    assert sum(counted[:kept]) <= 50 * 1024
    assert result["headersTruncated"] is (kept < len(sizes))
    if kept < len(sizes):  # cut only where the next field would cross 50 KB
        assert sum(counted[: kept + 1]) > 50 * 1024


def test_encoded_subject_and_several_recipients() -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.com>\r\n"
        b'To: a@example.com, "B, Person" <b@example.com>\r\n'
        b"Cc: c@example.com\r\n"
        b"Subject: =?utf-8?b?R3LDvMOfZQ==?=\r\n\r\nhi\r\n"
    )
    result = mail.mail_object(
        raw, message_id="m", mail_from="j@example.com", moment=datetime.now(UTC)
    )
    common = result["commonHeaders"]
    assert common["subject"] == "Grüße"
    assert common["from"] == ["Jürgen <j@example.com>"]
    assert common["to"] == ["a@example.com", '"B, Person" <b@example.com>']
    assert result["destination"] == ["a@example.com", "b@example.com", "c@example.com"]
    listed = {h["name"]: h["value"] for h in result["headers"]}
    assert listed["Subject"] == "Grüße"  # mail.headers values are decoded too
    assert listed["From"] == "Jürgen <j@example.com>"


def test_a_captured_notification_encoded_display_name_and_two_to_fields() -> None:
    # The raw To of a real SES capture and SES's rendering of it: quoted in commonHeaders,
    # decoded and unquoted in mail.headers; both To fields land in commonHeaders.to.
    raw = (
        b"From: sender@example.org\r\n"
        b"To: =?UTF-8?Q?test=40agilefrontiers=2Ecom?= <test@agilefrontiers.com>\r\n"
        b"To: second@example.com\r\n"
        b"Subject: two To fields\r\n\r\nhi\r\n"
    )
    result = mail.mail_object(
        raw, message_id="m", mail_from="sender@example.org", moment=datetime.now(UTC)
    )
    assert result["commonHeaders"]["to"] == [
        '"test@agilefrontiers.com" <test@agilefrontiers.com>',
        "second@example.com",
    ]
    values = [h["value"] for h in result["headers"] if h["name"] == "To"]
    assert values == ["test@agilefrontiers.com <test@agilefrontiers.com>", "second@example.com"]
    assert result["destination"] == ["test@agilefrontiers.com", "second@example.com"]


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("Jane Doe", "Jane Doe"),
        ("Doe, John", '"Doe, John"'),
        ("test@agilefrontiers.com", '"test@agilefrontiers.com"'),
        ("J. R. Hartley", '"J. R. Hartley"'),
        ('Say "hi"', '"Say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("Jürgen Müller", "Jürgen Müller"),
        ("O'Brien & Co", "O'Brien & Co"),
        ("two  spaces", '"two  spaces"'),
    ],
)
def test_display_names_are_quoted_where_rfc_5322_requires(name: str, written: str) -> None:
    assert mail.quote_display_name(name) == written


def test_header_values_are_unfolded_as_ses_lists_them() -> None:
    # The guide's SNS sample stores "multipart/alternative; \n\tboundary=..." and lists
    # "multipart/alternative;  boundary=...": each fold reads as one space.
    raw = (
        b'Content-Type: multipart/alternative; \r\n\tboundary="b"\r\n'
        b"X-Long: one\r\n two\r\n\tthree\r\n"
        b"Subject: =?utf-8?q?caf=C3=A9?=\r\n =?utf-8?q?_au_lait?=\r\n\r\nbody\r\n"
    )
    listed = {name: value for name, value in mail.raw_headers(raw)}
    assert listed["Content-Type"] == 'multipart/alternative;  boundary="b"'
    assert listed["X-Long"] == "one two three"
    result = mail.mail_object(raw, message_id="m", mail_from="a@b.c", moment=datetime.now(UTC))
    values = {h["name"]: h["value"] for h in result["headers"]}
    assert values["Subject"] == "café au lait"
    assert result["commonHeaders"]["subject"] == "café au lait"


def test_sender_is_a_list_as_in_every_other_address_field() -> None:
    raw = b"From: a@example.com\r\nSender: Desk <desk@example.com>\r\n\r\nx\r\n"
    result = mail.mail_object(raw, message_id="m", mail_from="a@b.c", moment=datetime.now(UTC))
    assert result["commonHeaders"]["sender"] == ["Desk <desk@example.com>"]


def test_address_fields_without_an_address_give_no_entry() -> None:
    raw = b"From: a@example.com junk\r\nTo: <>, b@example.com\r\n\r\nx\r\n"
    result = mail.mail_object(raw, message_id="m", mail_from="a@b.c", moment=datetime.now(UTC))
    assert result["commonHeaders"]["from"] == ["a@example.com"]
    assert result["commonHeaders"]["to"] == ["b@example.com"]


def _prepended(scanned: bool, **verdicts: str) -> list[tuple[str, str]]:
    message = b"From: Jane <jane@example.org>\r\nSubject: s\r\n\r\nbody\r\n\r\n\r\n"
    block = mail.ses_headers(
        mail_from="jane@example.org",
        recipients=["support@example.com"],
        message_id="abc123",
        helo="mx.example.org",
        peer_ip="127.0.0.1",
        region="us-east-1",
        moment=datetime(2026, 12, 1, 20, 0, tzinfo=UTC),
        verdicts=LocalVerdicts(scanned=scanned, **verdicts),
        message=message,
    )
    return mail.raw_headers(block + message)[:-2]  # without the sender's From and Subject


def test_ses_prepends_its_fields_in_the_documented_order() -> None:
    fields = _prepended(True)
    assert [name for name, _ in fields] == [
        "Return-Path",
        "Received",
        "X-SES-Spam-Verdict",
        "X-SES-Virus-Verdict",
        "Received-SPF",
        "Authentication-Results",
        "X-SES-RECEIPT",
        "X-SES-DKIM-SIGNATURE",
    ]
    values = dict(fields)
    assert values["Return-Path"] == "<jane@example.org>"
    assert values["Received"] == (
        "from mx.example.org (mx.example.org [127.0.0.1]) by inbound-smtp.us-east-1.amazonaws.com"
        " with SMTP id abc123 for support@example.com; Tue, 01 Dec 2026 20:00:00 +0000 (UTC)"
    )
    assert values["X-SES-Spam-Verdict"] == "PASS"
    assert values["Received-SPF"].startswith("none (spfCheck: ")
    assert values["Received-SPF"].endswith(
        "client-ip=127.0.0.1; envelope-from=jane@example.org; helo=mx.example.org;"
    )
    assert values["Authentication-Results"].startswith("amazonses.com; spf=none (spfCheck:")
    assert values["Authentication-Results"].endswith(
        "dkim=none header.i=@example.org; dmarc=none header.from=example.org;"
    )
    # bh= is the real body hash: simple canonicalization drops the trailing empty lines
    digest = base64.b64encode(hashlib.sha256(b"body\r\n").digest()).decode()
    assert f"bh={digest};" in values["X-SES-DKIM-SIGNATURE"]


def test_verdict_fields_follow_the_local_verdicts() -> None:
    names = [name for name, _ in _prepended(False)]
    assert "X-SES-Spam-Verdict" not in names and "X-SES-Virus-Verdict" not in names
    values = dict(_prepended(True, spam="FAIL", spf="PASS", dkim="FAIL", dmarc="FAIL"))
    assert values["X-SES-Spam-Verdict"] == "FAIL"
    assert values["Received-SPF"].startswith("pass ")
    assert " dkim=fail " in values["Authentication-Results"]
    assert " dmarc=fail " in values["Authentication-Results"]


def test_message_ids_are_safe_object_keys() -> None:
    ids = {mail.new_message_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 40 and i.isalnum() and i.islower() for i in ids)

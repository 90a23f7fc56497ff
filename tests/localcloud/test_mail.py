"""The mail object SES puts into events, checked against AWS's documented event."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ses_lambda_localcloud import samples
from ses_lambda_localcloud.receiving import mail

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


def test_headers_beyond_10_kb_are_truncated() -> None:
    filler = "".join(f"X-Filler-{i}: {'x' * 200}\r\n" for i in range(80))
    raw = (filler + "Subject: big\r\n\r\nbody\r\n").encode()
    result = mail.mail_object(raw, message_id="m", mail_from="a@b.c", moment=datetime.now(UTC))
    assert result["headersTruncated"] is True
    assert sum(len(h["name"]) + len(h["value"]) for h in result["headers"]) <= 10 * 1024
    assert result["commonHeaders"]["subject"] == "big"  # common headers read all headers


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
    assert common["to"] == ["a@example.com", '"B, Person" <b@example.com>'] or common["to"] == [
        "a@example.com",
        "B, Person <b@example.com>",
    ]
    assert result["destination"] == ["a@example.com", "b@example.com", "c@example.com"]
    raw_subject = {h["name"]: h["value"] for h in result["headers"]}["Subject"]
    assert raw_subject == "=?utf-8?b?R3LDvMOfZQ==?="


def test_message_ids_are_safe_object_keys() -> None:
    ids = {mail.new_message_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 40 and i.isalnum() and i.islower() for i in ids)

"""SES behaviours checked against the SES Developer Guide's samples, each through a real SMTP
client session (smtplib, STARTTLS unless the test is about plain text):

- the header fields SES prepends to the stored copy, in order, listed in ``mail.headers`` too;
- SES's own spellings in the Lambda event and the SNS notification;
- ``mail.commonHeaders`` quoting, several ``To:`` fields, ``mail.headers`` unfolded and decoded;
- STARTTLS, and a ``TlsPolicy`` ``Require`` rule bouncing plain-text mail;
- the recipient limit of RFC 5321 (no invented SES limit).
"""

from __future__ import annotations

import base64
import json
import smtplib
from collections.abc import Callable
from typing import Any

import pytest

from ses_lambda_localcloud import runtime, sender
from ses_lambda_localcloud.receiving import tls
from ses_lambda_localcloud.server import LocalCloud
from ses_lambda_localcloud.target import Target

from .conftest import wait_until
from .test_receiving import ACCOUNT, BUCKET, DOMAIN, Setup

PREPENDED = [
    "Return-Path",
    "Received",
    "X-SES-Spam-Verdict",
    "X-SES-Virus-Verdict",
    "Received-SPF",
    "Authentication-Results",
    "X-SES-RECEIPT",
    "X-SES-DKIM-SIGNATURE",
]
#: The keys of the guide's samples (Lambda event and SNS notification), per object.
MAIL_KEYS = {
    "timestamp",
    "source",
    "messageId",
    "destination",
    "headersTruncated",
    "headers",
    "commonHeaders",
}
RECEIPT_KEYS = {
    "timestamp",
    "processingTimeMillis",
    "recipients",
    "spamVerdict",
    "virusVerdict",
    "spfVerdict",
    "dkimVerdict",
    "dmarcVerdict",
    "action",
}


@pytest.fixture
def rx(fresh: LocalCloud, aws: Callable[[str], Any], target: Target) -> Setup:
    return Setup(aws, target)


def smtp_send(
    target: Target,
    message: bytes,
    recipients: list[str],
    *,
    starttls: bool = True,
    mail_from: str = "sender@example.org",
) -> str:
    """One SMTP session with smtplib; returns the message id of the ``250 Ok <id>`` reply."""
    with smtplib.SMTP("localhost", target.smtp_port, timeout=30) as smtp:
        smtp.ehlo("client.example.org")
        assert smtp.has_extn("starttls")  # offered on every connection
        if starttls:
            code, _ = smtp.starttls(context=tls.client_context())
            assert code == 220
            smtp.ehlo("client.example.org")
        assert smtp.mail(mail_from)[0] == 250
        for recipient in recipients:
            assert smtp.rcpt(recipient)[0] == 250
        code, reply = smtp.data(message)
    assert code == 250, reply
    return reply.decode().split()[-1]


def delivered(target: Target, message_id: str) -> dict[str, Any]:
    record = sender.wait_for(target, message_id, timeout=30)
    assert record["status"] == "done", record
    return record


def lambda_event(record: dict[str, Any], rule: int = 0) -> dict[str, Any]:
    actions = record["rules"][rule]["actions"]
    (invoked,) = [a for a in actions if a["type"] == "Lambda"]
    event: dict[str, Any] = invoked["detail"]["result"]["event"]
    return event


def notifications(aws: Callable[[str], Any], queue_url: str, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def more() -> bool:
        for item in aws("sqs").receive_message(QueueUrl=queue_url).get("Messages", []):
            found.append(json.loads(json.loads(item["Body"])["Message"]))
            aws("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=item["ReceiptHandle"])
        return len(found) >= count

    wait_until(more, timeout=15)
    return found


def topic_to_queue(aws: Callable[[str], Any], name: str) -> tuple[str, str]:
    topic = aws("sns").create_topic(Name=name)["TopicArn"]
    queue_url = aws("sqs").create_queue(QueueName=name)["QueueUrl"]
    aws("sns").subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
    )
    return topic, queue_url


MESSAGE = (
    b'From: "Doe, John" <john@example.org>\r\n'
    b"To: =?UTF-8?Q?test=40agilefrontiers=2Ecom?= <test@agilefrontiers.com>\r\n"
    b"To: Jane Roe <someone@" + DOMAIN.encode() + b">\r\n"
    b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n =?utf-8?q?_aus_Bern?=\r\n"
    b"X-Folded: one\r\n\ttwo\r\n"
    b"X-LocalCloud-Verdicts: spam=FAIL\r\n"
    b"Date: Tue, 1 Oct 2024 09:00:00 +0000\r\n"
    b"Message-ID: <fidelity@example.org>\r\n\r\nbody\r\n"
)


def test_stored_copy_starts_with_the_fields_ses_prepends_in_order(rx: Setup) -> None:
    # GIVEN a scanning rule that stores the message, then invokes a function
    rx.rule("store", [rx.s3("raw/"), rx.invoke()])
    # WHEN a message arrives over SMTP with STARTTLS (its local verdict header says spam FAIL)
    message_id = smtp_send(rx.target, MESSAGE, [f"someone@{DOMAIN}"])
    record = delivered(rx.target, message_id)

    # THEN the stored copy starts with SES's fields, in the guide's order, then the sender's
    stored = rx.object(f"raw/{message_id}")
    assert stored.endswith(MESSAGE)
    prepended = stored[: -len(MESSAGE)].decode()
    names = [line.split(":")[0] for line in prepended.split("\r\n") if line and line[0] != " "]
    assert names == PREPENDED
    # ... with the verdicts the local cloud assigned, the same as the event's
    event = lambda_event(record)
    ses = event["Records"][0]["ses"]
    headers = [(h["name"], h["value"]) for h in ses["mail"]["headers"]]
    assert [name for name, _ in headers[: len(PREPENDED)]] == PREPENDED
    values = dict(headers)
    assert values["X-SES-Spam-Verdict"] == ses["receipt"]["spamVerdict"]["status"] == "FAIL"
    assert values["X-SES-Virus-Verdict"] == ses["receipt"]["virusVerdict"]["status"] == "PASS"
    assert ses["receipt"]["spfVerdict"]["status"] == "GRAY"
    assert values["Received-SPF"].startswith("none (spfCheck:")
    assert values["Authentication-Results"].startswith("amazonses.com; spf=none ")
    assert (
        "dkim=none header.i=@example.org; dmarc=none header.from=example.org;"
        in (values["Authentication-Results"])
    )
    assert values["Received"].startswith(
        f"from client.example.org (client.example.org [127.0.0.1]) by "
        f"inbound-smtp.us-east-1.amazonaws.com with SMTP id {message_id} for someone@{DOMAIN}; "
    )
    assert values["Return-Path"] == "<sender@example.org>"


def test_unscanned_mail_has_no_verdict_fields(rx: Setup) -> None:
    rx.rule("plain", [rx.s3("raw/")], scan=False)
    message_id = smtp_send(rx.target, b"Subject: s\r\n\r\nx\r\n", [f"someone@{DOMAIN}"])
    delivered(rx.target, message_id)
    stored = rx.object(f"raw/{message_id}").decode()
    names = [line.split(":")[0] for line in stored.split("\r\n")[:12] if line and line[0] != " "]
    assert names[:6] == [n for n in PREPENDED if "Verdict" not in n]


def test_common_headers_and_headers_as_ses_writes_them(rx: Setup) -> None:
    rx.rule("invoke", [rx.invoke()])
    message_id = smtp_send(rx.target, MESSAGE, [f"someone@{DOMAIN}"])
    mail = lambda_event(delivered(rx.target, message_id))["Records"][0]["ses"]["mail"]

    common = mail["commonHeaders"]
    # display names quoted where RFC 5322 requires it (the guide's sample, a real capture)
    assert common["from"] == ['"Doe, John" <john@example.org>']
    # both To fields land in commonHeaders.to
    assert common["to"] == [
        '"test@agilefrontiers.com" <test@agilefrontiers.com>',
        f"Jane Roe <someone@{DOMAIN}>",
    ]
    assert common["subject"] == "Grüße aus Bern"
    assert common["returnPath"] == "sender@example.org"
    assert common["messageId"] == "<fidelity@example.org>"
    assert mail["destination"] == ["test@agilefrontiers.com", f"someone@{DOMAIN}"]
    # mail.headers: unfolded, encoded words decoded, display names as written
    values = [(h["name"], h["value"]) for h in mail["headers"]][len(PREPENDED) :]
    assert values[:5] == [
        ("From", '"Doe, John" <john@example.org>'),
        ("To", "test@agilefrontiers.com <test@agilefrontiers.com>"),
        ("To", f"Jane Roe <someone@{DOMAIN}>"),
        ("Subject", "Grüße aus Bern"),
        ("X-Folded", "one two"),
    ]


def test_event_and_notification_fields_use_ses_spellings(
    rx: Setup, aws: Callable[[str], Any]
) -> None:
    topic, queue_url = topic_to_queue(aws, "fidelity-notes")
    rx.rule(
        "all",
        [
            {"S3Action": {"BucketName": BUCKET, "ObjectKeyPrefix": "raw/", "TopicArn": topic}},
            {"SNSAction": {"TopicArn": topic, "Encoding": "Base64"}},
            {"SNSAction": {"TopicArn": topic, "Encoding": "UTF-8"}},
            rx.invoke("Event"),
        ],
    )
    message_id = smtp_send(rx.target, MESSAGE, [f"someone@{DOMAIN}"])
    record = delivered(rx.target, message_id)
    found = {
        (n["receipt"]["action"]["type"], n["receipt"]["action"].get("encoding")): n
        for n in notifications(aws, queue_url, 3)
    }

    # the SNS action's encoding in SES's spelling (BASE64, UTF8), not the rule's
    base64_note = found[("SNS", "BASE64")]
    assert base64_note["receipt"]["action"] == {
        "type": "SNS",
        "topicArn": topic,
        "encoding": "BASE64",
    }
    assert base64.b64decode(base64_note["content"]).endswith(MESSAGE)
    assert found[("SNS", "UTF8")]["content"].encode().endswith(MESSAGE)
    s3_note = found[("S3", None)]
    assert s3_note["receipt"]["action"] == {
        "type": "S3",
        "topicArn": topic,
        "bucketName": BUCKET,
        "objectKeyPrefix": "raw/",
        "objectKey": f"raw/{message_id}",
    }
    assert "content" not in s3_note  # only the SNS action carries the message
    # every object has the guide's keys, no more (dmarcPolicy only when DMARC fails)
    ses = lambda_event(record)["Records"][0]["ses"]
    for note in [*found.values(), {"notificationType": "Received", **ses}]:
        assert note["notificationType"] == "Received"
        assert set(note["mail"]) == MAIL_KEYS
        assert set(note["receipt"]) == RECEIPT_KEYS
        assert all(set(v) == {"status"} for k, v in note["receipt"].items() if "Verdict" in k)
    assert ses["receipt"]["action"] == {
        "type": "Lambda",
        "functionArn": rx.function_arn,
        "invocationType": "Event",
    }


def test_a_tls_require_rule_bounces_plain_text_mail_and_runs_no_action(rx: Setup) -> None:
    # GIVEN a rule requiring TLS and, after it, one that does not
    rx.ses.create_receipt_rule(
        RuleSetName="rx-set",
        Rule={
            "Name": "secure",
            "Enabled": True,
            "TlsPolicy": "Require",
            "Recipients": [DOMAIN],
            "Actions": [rx.s3("secure/")],
        },
    )
    rx.rule("any", [rx.s3("any/")], after="secure")
    message = b"From: sender@example.org\r\nSubject: plain\r\n\r\nx\r\n"

    # WHEN a message arrives in plain text: accepted (250), then bounced for that rule only
    plain = smtp_send(rx.target, message, [f"someone@{DOMAIN}"], starttls=False)
    record = delivered(rx.target, plain)
    assert record["tls"] is False
    secure, other = record["rules"]
    assert secure["actions"] == [] and secure["bounced"]["to"] == "sender@example.org"
    assert (secure["bounced"]["smtpReplyCode"], secure["bounced"]["statusCode"]) == ("530", "5.7.0")
    assert [a["type"] for a in other["actions"]] == ["S3"]
    listed = rx.aws("s3").list_objects_v2(Bucket=BUCKET, Prefix="secure/").get("Contents", [])
    assert plain not in {item["Key"].removeprefix("secure/") for item in listed}
    assert rx.object(f"any/{plain}").endswith(message)

    # WHEN the same message arrives after STARTTLS: both rules run
    secured = smtp_send(rx.target, message, [f"someone@{DOMAIN}"])
    record = delivered(rx.target, secured)
    assert record["tls"] is True
    assert [rule["bounced"] for rule in record["rules"]] == [None, None]
    assert rx.object(f"secure/{secured}").endswith(message)


def test_send_uses_starttls_unless_told_to_send_plain_text(rx: Setup) -> None:
    rx.rule("store", [rx.s3("raw/")])
    message = b"From: sender@example.org\r\nSubject: s\r\n\r\nx\r\n"
    for plain_text, expected in ((False, True), (True, False)):
        sent = sender.send(
            rx.target,
            message,
            recipients=[f"someone@{DOMAIN}"],
            mail_from="sender@example.org",
            plain_text=plain_text,
        )
        assert sent.message_id, sent.rejected
        assert delivered(rx.target, sent.message_id)["tls"] is expected


def test_a_hundred_recipients_are_accepted_as_rfc_5321_requires(rx: Setup) -> None:
    rx.rule("store", [rx.s3("raw/")])
    assert runtime.MAX_RECIPIENTS >= 100
    with smtplib.SMTP("localhost", rx.target.smtp_port, timeout=30) as smtp:
        smtp.ehlo("client.example.org")
        smtp.starttls(context=tls.client_context())
        smtp.ehlo("client.example.org")
        smtp.mail("sender@example.org")
        codes = [smtp.rcpt(f"r{i}@{DOMAIN}") for i in range(runtime.MAX_RECIPIENTS + 1)]
        code, reply = smtp.data(b"Subject: many\r\n\r\nx\r\n")
    assert [c for c, _ in codes[:100]] == [250] * 100
    assert codes[-1][0] == 452 and b"RFC 5321" in codes[-1][1]
    assert code == 250
    record = delivered(rx.target, reply.decode().split()[-1])
    assert len(record["recipients"]) == runtime.MAX_RECIPIENTS


def padded_headers(total: int) -> bytes:
    """Header fields (``X-Pad-<n>: xxx...``) of about ``total`` bytes in all."""
    count = total // 1000 + 1
    return b"".join(b"X-Pad-%03d: " % i + b"x" * 986 + b"\r\n" for i in range(count))


def test_lambda_events_keep_50_kb_of_headers_and_notifications_10_kb(
    rx: Setup, aws: Callable[[str], Any]
) -> None:
    # SES quotas page, email receiving: 50 KB of headers in a Lambda function's event; the SNS
    # notification keeps 10 KB (notification contents, mail object).
    topic, queue_url = topic_to_queue(aws, "fidelity-headers")
    rx.rule("headers", [{"SNSAction": {"TopicArn": topic}}, rx.invoke()])
    message = b"Subject: wide\r\n" + padded_headers(30_000) + b"\r\nbody\r\n"

    message_id = smtp_send(rx.target, message, [f"someone@{DOMAIN}"])
    event_mail = lambda_event(delivered(rx.target, message_id))["Records"][0]["ses"]["mail"]
    (note,) = notifications(aws, queue_url, 1)

    # THEN the Lambda event has all ~30 KB of them, the notification only the first 10 KB
    assert event_mail["headersTruncated"] is False
    assert [h["name"] for h in event_mail["headers"]][-1] == "X-Pad-030"
    assert note["mail"]["headersTruncated"] is True
    kept = sum(len(h["name"]) + len(h["value"]) for h in note["mail"]["headers"])
    assert 8 * 1024 < kept <= 10 * 1024


def test_mail_destination_is_the_to_and_cc_header_not_the_envelope(rx: Setup) -> None:
    # Notification contents: mail.destination lists the To/Cc addresses of the header;
    # receipt.recipients the envelope recipients the rule matched.
    rx.rule("invoke", [rx.invoke()])
    message = (
        b"From: a@example.org\r\nTo: List <list@lists.example.net>\r\n"
        b"Cc: other@example.com, Third <third@example.com>\r\nSubject: s\r\n\r\nx\r\n"
    )
    message_id = smtp_send(rx.target, message, [f"someone@{DOMAIN}", f"another@{DOMAIN}"])
    ses = lambda_event(delivered(rx.target, message_id))["Records"][0]["ses"]

    assert ses["mail"]["destination"] == [
        "list@lists.example.net",
        "other@example.com",
        "third@example.com",
    ]
    assert ses["receipt"]["recipients"] == [f"someone@{DOMAIN}", f"another@{DOMAIN}"]

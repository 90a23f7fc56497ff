"""The reference forwarder over real-shaped events, the .eml corpus, S3 and SES v2 in moto."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

import pytest
from handler_support import (
    BUCKET,
    EMAILS,
    MESSAGE_ID,
    RAW_PREFIX,
    FakeLambdaContext,
    documented_event,
    email_bytes,
    with_receipt,
)

ACCOUNT = "123456789012"
REGION = "us-east-1"
FORWARD_PREFIX = "forwarded/"
RECIPIENT = "johndoe@example.com"
DESTINATIONS = ["jane@mailbox.example.org", "omar@mailbox.example.org"]
OUTCOME_KEY = f"{FORWARD_PREFIX}{MESSAGE_ID}/outcome.json"


@pytest.fixture
def forward_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """The forwarder's environment as the Forwarder construct sets it; keywords override."""

    def apply(**overrides: str | None) -> None:
        values: dict[str, str | None] = {
            "RAW_MESSAGE_BUCKET": BUCKET,
            "RAW_MESSAGE_PREFIX": RAW_PREFIX,
            "FORWARD_PREFIX": FORWARD_PREFIX,
            "FORWARD_DESTINATIONS": json.dumps({RECIPIENT: DESTINATIONS}),
            "RECEIVING_DOMAINS": "example.com",
            "REJECT_ON_VERDICTS": "spam,virus",
            "MAX_FORWARD_HOPS": "3",
            "FORWARD_FROM": None,
            **overrides,
        }
        for key, value in values.items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)

    apply()
    return apply


@pytest.fixture(scope="module")
def aws_module() -> Iterator[Any]:
    """One moto for the module (starting it per test costs a second on a loaded machine)."""
    import forwarder
    import handler
    from moto import mock_aws

    from ses_lambda_localcloud import moto_ext

    # moto's raw SendEmail decodes 8-bit MIME as UTF-8 and adds the header addresses to the
    # Destination; the local cloud's correction sends as SES does and keeps every message in
    # its outbox.
    moto_ext.install()
    handler.s3_client.cache_clear()
    forwarder.ses_client.cache_clear()
    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        yield s3, boto3.client("sesv2", region_name=REGION)
    handler.s3_client.cache_clear()
    forwarder.ses_client.cache_clear()


@pytest.fixture
def aws(aws_module: Any, forward_env: Callable[..., None]) -> Any:
    """moto's S3 (an empty raw-message bucket) and SES v2 with the receiving domain verified."""
    from ses_lambda_localcloud.outbox import OUTBOX

    s3, sesv2 = aws_module
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    identities = [i["IdentityName"] for i in sesv2.list_email_identities()["EmailIdentities"]]
    if "example.com" not in identities:
        sesv2.create_email_identity(EmailIdentity="example.com")
    OUTBOX.clear()
    return s3


@pytest.fixture
def forwarder_logs() -> Iterator[io.StringIO]:
    import forwarder

    stream = io.StringIO()
    log_handler = forwarder.logger.registered_handler
    previous = log_handler.setStream(stream)
    yield stream
    log_handler.setStream(previous)


def sent() -> list[Any]:
    """What SES accepted for sending, as the local cloud's SES v2 correction captures it."""
    from ses_lambda_localcloud.outbox import OUTBOX

    return OUTBOX.messages()


def sent_to(message: Any) -> str:
    """The one destination of a copy (the forwarder sends each copy to one address)."""
    assert len(message.destinations) == 1
    destination: str = message.destinations[0]
    return destination


def sent_mime(message: Any) -> EmailMessage:
    parsed: EmailMessage = message_from_bytes(message.raw, policy=email_policy.default)  # type: ignore[assignment]
    return parsed


def store(s3: Any, raw: bytes, message_id: str = MESSAGE_ID) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{RAW_PREFIX}{message_id}", Body=raw)


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    import forwarder

    result: dict[str, Any] = forwarder.lambda_handler(event, FakeLambdaContext())
    return result


def outcome(s3: Any, message_id: str = MESSAGE_ID) -> dict[str, Any]:
    key = f"{FORWARD_PREFIX}{message_id}/outcome.json"
    document: dict[str, Any] = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    return document


def attachment_digests(message: EmailMessage) -> list[tuple[str, str]]:
    """(content type, SHA-256 of the decoded content) of every non-body leaf part, in order."""
    digests = []
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if payload is None:
            payload = str(part.get_payload()).encode("utf-8", "surrogateescape")
        digests.append((part.get_content_type(), hashlib.sha256(payload).hexdigest()))
    return digests


def build(*headers: str, body: str = "Hello.\r\n") -> bytes:
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8")


BASIC = (
    "From: Jane Doe <janedoe@example.net>",
    f"To: {RECIPIENT}",
    "Subject: Question",
    "Date: Wed, 07 Feb 2024 11:00:00 +0000",
    "Message-ID: <q1@example.net>",
)


# --- the corpus ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in EMAILS.glob("*.eml")))
def test_every_corpus_message_forwards_with_from_reply_to_and_intact_parts(
    aws: Any, name: str
) -> None:
    # GIVEN a stored corpus message received for a forwarding recipient
    raw = email_bytes(name)
    store(aws, raw)
    original: EmailMessage = message_from_bytes(raw, policy=email_policy.default)  # type: ignore[assignment]

    # WHEN the forwarder runs
    result = invoke(documented_event())

    # THEN one copy per destination, From on the receiving domain, the body byte for byte
    assert result["messages"][0]["status"] == "forwarded"
    messages = sent()
    assert sorted(sent_to(m) for m in messages) == sorted(DESTINATIONS)
    body = raw[raw.find(b"\n\n") + 2 :] if b"\r\n\r\n" not in raw else raw.split(b"\r\n\r\n", 1)[1]
    for message in messages:
        copy_ = sent_mime(message)
        sender = copy_["From"].addresses
        assert len(sender) == 1 and sender[0].addr_spec == RECIPIENT
        assert f"via {RECIPIENT}" in sender[0].display_name
        assert copy_["Reply-To"] is not None and copy_["Reply-To"].addresses
        assert copy_["X-Original-From"] is not None
        assert attachment_digests(copy_) == attachment_digests(original)
        assert message.raw.endswith(body)


# --- header rules, each with a message that carries the field ------------------------------


def test_from_is_rewritten_and_reply_to_names_the_original_sender(aws: Any) -> None:
    store(aws, build(*BASIC))
    invoke(documented_event())
    copy_ = sent_mime(sent()[0])
    assert copy_["From"].addresses[0].display_name == f"Jane Doe via {RECIPIENT}"
    assert copy_["From"].addresses[0].addr_spec == RECIPIENT
    assert str(copy_["Reply-To"]) == "Jane Doe <janedoe@example.net>"
    assert str(copy_["X-Original-From"]) == "Jane Doe <janedoe@example.net>"
    assert str(copy_["X-Original-To"]) == RECIPIENT
    assert copy_["X-Forward-Hops"] == "1"


def test_an_existing_reply_to_is_kept(aws: Any) -> None:
    store(aws, build(*BASIC, "Reply-To: Sales <sales@example.net>"))
    invoke(documented_event())
    copy_ = sent_mime(sent()[0])
    assert copy_.get_all("Reply-To") == ["Sales <sales@example.net>"]


def test_a_non_ascii_display_name_is_encoded(aws: Any) -> None:
    store(aws, build("From: =?utf-8?q?Ren=C3=A9e_M=C3=BCller?= <renee@example.net>", *BASIC[1:]))
    invoke(documented_event())
    raw = sent()[0].raw
    assert raw.split(b"\r\n\r\n")[0].isascii()
    assert sent_mime(sent()[0])["From"].addresses[0].display_name == f"Renée Müller via {RECIPIENT}"


@pytest.mark.parametrize(
    "field",
    [
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.net; s=s1; h=from:to; bh=abc=; b=def=",
        "DomainKey-Signature: a=rsa-sha1; d=example.net; b=abc=",
        "Return-Path: <bounces@example.net>",
        "Sender: list-owner@example.net",
        "Bcc: hidden@example.net",
        "X-SES-CONFIGURATION-SET: attacker-set",
        "X-SES-SOURCE-ARN: arn:aws:ses:us-east-1:999999999999:identity/example.net",
        "X-SES-RECEIPT: AEFBQUFBQUFBQUFHMGNrVnZ4WTNx",
        "X-SES-Spam-Verdict: PASS",
    ],
)
def test_fields_that_break_re_sending_are_removed(aws: Any, field: str) -> None:
    store(aws, build(field, *BASIC))
    invoke(documented_event())
    name = field.split(":")[0]
    copy_ = sent_mime(sent()[0])
    assert copy_.get_all(name) is None
    assert name.lower() in outcome(aws)["destinations"][DESTINATIONS[0]]["removedHeaders"]


def test_message_id_is_left_to_ses_and_the_original_kept(aws: Any) -> None:
    # SES overwrites Message-ID and Date (Amazon SES header fields); threading keeps working
    # through In-Reply-To and References, which stay.
    store(aws, build(*BASIC, "In-Reply-To: <q0@example.com>", "References: <q0@example.com>"))
    invoke(documented_event())
    message = sent()[0]
    copy_ = sent_mime(message)
    # the Message-ID of the copy is SES's own, not the original's
    assert copy_.get_all("Message-ID") == [f"<{message.message_id}@email.amazonses.com>"]
    assert copy_["X-Original-Message-ID"] == "<q1@example.net>"
    assert copy_["In-Reply-To"] == "<q0@example.com>"
    assert copy_["References"] == "<q0@example.com>"


@pytest.mark.parametrize(
    ("name", "first"),
    [
        ("Subject", None),
        ("Date", None),
        ("Content-Type", "text/plain; charset=us-ascii"),
        ("Reply-To", "a@example.net"),
        ("References", "<r@example.net>"),
    ],
)
def test_fields_ses_accepts_once_keep_their_first_occurrence(
    aws: Any, name: str, first: str | None
) -> None:
    fields = [*BASIC, *([f"{name}: {first}"] if first else []), f"{name}: second copy"]
    store(aws, build(*fields))
    invoke(documented_event())
    values = sent_mime(sent()[0]).get_all(name)
    assert values is not None and len(values) == 1 and values[0] != "second copy"


def test_ses_prepended_trace_fields_are_stripped_but_received_stays(aws: Any) -> None:
    prepended = (
        "Return-Path: <janedoe@example.net>",
        "Received: from mail.example.net by inbound-smtp.us-east-1.amazonaws.com",
        "X-SES-Spam-Verdict: PASS",
        "X-SES-Virus-Verdict: PASS",
        "X-SES-RECEIPT: AEFBQUFBQUFBQUFHMGNr",
        "X-SES-DKIM-SIGNATURE: a=rsa-sha256; q=dns/txt; b=abc=",
    )
    store(aws, build(*prepended, *BASIC))
    invoke(documented_event())
    copy_ = sent_mime(sent()[0])
    assert [k for k in copy_ if k.lower().startswith("x-ses-")] == []
    assert copy_["Received"] is not None


def test_a_header_without_blank_line_before_the_body_gets_one(aws: Any) -> None:
    # The stdlib parser reads a line that is no field as the start of the body.
    store(aws, ("\r\n".join(BASIC) + "\r\nthis line is no header field\r\nrest\r\n").encode())
    invoke(documented_event())
    copy_ = sent_mime(sent()[0])
    assert copy_.get_content().startswith("this line is no header field")


def test_a_fixed_from_address_is_used_when_configured(
    aws: Any, forward_env: Callable[..., None]
) -> None:
    forward_env(FORWARD_FROM="forwarder@example.com")
    store(aws, build(*BASIC))
    invoke(documented_event())
    message = sent()[0]
    assert message.source == "forwarder@example.com"
    sender = sent_mime(message)["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (
        f"Jane Doe via {RECIPIENT}",
        "forwarder@example.com",
    )


# --- policy, limits, loops ------------------------------------------------------------------


def test_per_recipient_map_sends_each_recipient_to_its_own_destinations(
    aws: Any, forward_env: Callable[..., None]
) -> None:
    forward_env(
        FORWARD_DESTINATIONS=json.dumps(
            {"support@example.com": ["a@example.org", "b@example.org"], "*": ["c@example.org"]}
        )
    )
    store(aws, build(*BASIC))
    event = with_receipt(documented_event(), recipients=["support+vip@example.com", RECIPIENT])
    invoke(event)
    by_destination = {sent_to(m): sent_mime(m) for m in sent()}
    assert sorted(by_destination) == ["a@example.org", "b@example.org", "c@example.org"]
    assert by_destination["a@example.org"]["From"].addresses[0].addr_spec == (
        "support+vip@example.com"
    )
    assert by_destination["c@example.org"]["From"].addresses[0].addr_spec == RECIPIENT


@pytest.mark.parametrize(
    ("verdicts", "policy", "forwarded"),
    [
        ({"spamVerdict": {"status": "FAIL"}}, "spam,virus", False),
        ({"virusVerdict": {"status": "FAIL"}}, "spam,virus", False),
        ({"dmarcVerdict": {"status": "FAIL"}}, "spam,virus", True),
        ({"dmarcVerdict": {"status": "FAIL"}}, "spam,virus,dmarc", False),
        ({"spamVerdict": {"status": "GRAY"}}, "spam,virus", True),
    ],
)
def test_verdict_policy(
    aws: Any,
    forward_env: Callable[..., None],
    verdicts: dict[str, Any],
    policy: str,
    forwarded: bool,
) -> None:
    forward_env(REJECT_ON_VERDICTS=policy)
    store(aws, build(*BASIC))
    invoke(with_receipt(documented_event(), **verdicts))
    assert bool(sent()) is forwarded
    assert outcome(aws)["status"] == ("forwarded" if forwarded else "rejected")


def test_never_forwards_into_a_receiving_domain(
    aws: Any, forward_env: Callable[..., None], forwarder_logs: io.StringIO
) -> None:
    forward_env(
        FORWARD_DESTINATIONS=json.dumps({RECIPIENT: ["team@sub.example.com", DESTINATIONS[0]]})
    )
    store(aws, build(*BASIC))
    invoke(documented_event())
    assert [sent_to(m) for m in sent()] == [DESTINATIONS[0]]
    assert outcome(aws)["destinations"]["team@sub.example.com"]["status"] == "loop"
    assert "team@sub.example.com" in forwarder_logs.getvalue()


def test_stops_at_the_hop_limit(aws: Any, forwarder_logs: io.StringIO) -> None:
    store(aws, build("X-Forward-Hops: 3", *BASIC))
    invoke(documented_event())
    assert sent() == []
    assert outcome(aws)["status"] == "loop"
    assert "maximum number of times" in forwarder_logs.getvalue()


def test_counts_hops(aws: Any) -> None:
    store(aws, build("X-Forward-Hops: 1", *BASIC))
    invoke(documented_event())
    assert sent_mime(sent()[0]).get_all("X-Forward-Hops") == ["2"]


def test_over_the_send_limit_is_not_forwarded_and_recorded(
    aws: Any, forwarder_logs: io.StringIO
) -> None:
    import os
    from dataclasses import replace

    import forwarder
    from ses_mail import parse_event
    from ses_mail.forwarding import ForwarderConfig

    # GIVEN a message whose base64 form exceeds the limit (scaled down to 600 bytes here)
    store(aws, build(*BASIC, body="x" * 900 + "\r\n"))
    config = replace(ForwarderConfig.from_environ(os.environ), max_send_bytes=600)

    # WHEN it is forwarded
    result = forwarder.forward_notification(parse_event(documented_event())[0], config)

    # THEN nothing is sent, the outcome says why, the raw message stays
    assert sent() == []
    assert result["status"] == "too_large"
    assert outcome(aws)["status"] == "too_large"
    aws.head_object(Bucket=BUCKET, Key=f"{RAW_PREFIX}{MESSAGE_ID}")
    assert "not forwarded" in forwarder_logs.getvalue()


def test_a_line_over_1000_characters_is_not_forwarded(aws: Any) -> None:
    store(aws, build(*BASIC, body="y" * 1200 + "\r\n"))
    invoke(documented_event())
    assert sent() == []
    assert outcome(aws)["status"] == "line_too_long"


# --- idempotency and failures ---------------------------------------------------------------


def test_a_retried_invocation_sends_each_copy_once(aws: Any) -> None:
    store(aws, build(*BASIC))
    invoke(documented_event())
    invoke(documented_event())  # Lambda retried, or SES delivered the event twice
    assert sorted(sent_to(m) for m in sent()) == sorted(DESTINATIONS)
    second = outcome(aws)
    assert {d["status"] for d in second["destinations"].values()} == {"duplicate"}
    assert second["status"] == "forwarded"


def test_ses_rejection_is_logged_naming_the_address_and_raised(
    aws: Any, forwarder_logs: io.StringIO
) -> None:
    import boto3
    import forwarder

    # GIVEN the receiving domain is not verified for sending (SES answers MessageRejected)
    boto3.client("sesv2", region_name=REGION).delete_email_identity(EmailIdentity="example.com")
    store(aws, build(*BASIC))

    # WHEN the forwarder runs THEN it fails, naming the destination
    with pytest.raises(forwarder.ForwardFailedError, match=DESTINATIONS[0]):
        invoke(documented_event())
    logs = forwarder_logs.getvalue()
    assert f"SES refused to send the copy to {DESTINATIONS[0]}" in logs
    assert "MessageRejected" in logs
    assert outcome(aws)["status"] == "failed"

    # AND once the identity is verified, the retry sends both copies
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity="example.com")
    invoke(documented_event())
    assert sorted(sent_to(m) for m in sent()) == sorted(DESTINATIONS)


def test_a_claim_without_a_sent_mark_fails_instead_of_sending_twice(aws: Any) -> None:
    import forwarder
    from ses_mail.forwarding import forward_marker_key

    store(aws, build(*BASIC))
    marker = forward_marker_key(FORWARD_PREFIX, MESSAGE_ID, DESTINATIONS[0])
    aws.put_object(Bucket=BUCKET, Key=marker, Body=b'{"status": "sending"}')
    with pytest.raises(forwarder.ForwardFailedError, match="InProgress"):
        invoke(documented_event())
    assert [sent_to(m) for m in sent()] == [DESTINATIONS[1]]


def test_fails_when_the_raw_message_is_missing(aws: Any) -> None:
    from ses_mail import MessageUnavailableError

    with pytest.raises(MessageUnavailableError, match=MESSAGE_ID):
        invoke(documented_event())


def test_fails_when_the_destinations_are_not_configured(
    aws: Any, forward_env: Callable[..., None]
) -> None:
    from ses_mail import ConfigurationError

    forward_env(FORWARD_DESTINATIONS='{"johndoe@example.com": "not-a-list"}')
    with pytest.raises(ConfigurationError, match="FORWARD_DESTINATIONS"):
        invoke(documented_event())


def test_a_header_section_over_1_mib_is_not_forwarded(aws: Any) -> None:
    filler = tuple(f"X-Filler-{i}: {'a' * 900}" for i in range(1200))
    store(aws, build(*BASIC, *filler))
    invoke(documented_event())
    assert sent() == []
    assert outcome(aws)["status"] == "unparseable"


def test_metrics_count_the_message_the_copies_and_the_loops_per_function(
    aws: Any, forward_env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN one destination outside the receiving domains and one inside them
    forward_env(
        FORWARD_DESTINATIONS=json.dumps({RECIPIENT: ["team@sub.example.com", DESTINATIONS[0]]})
    )
    store(aws, build(*BASIC))

    # WHEN the message is forwarded
    invoke(documented_event())

    # THEN the metrics count it, with the names the constructs read and the function's name
    documents = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and '"_aws"' in line
    ]
    values: dict[str, float] = {}
    for document in documents:
        [dimensions] = document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        assert sorted(dimensions) == ["FunctionName", "service"]
        assert document["FunctionName"] == FakeLambdaContext().function_name
        for definition in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = document[definition["Name"]]
            values[definition["Name"]] = values.get(definition["Name"], 0) + (
                sum(value) if isinstance(value, list) else value
            )
    assert values["MessagesReceived"] == 1
    assert values["ForwardsSent"] == 1
    assert values["ForwardLoopsBlocked"] == 1


def test_a_long_raw_utf8_name_reaches_the_destination_with_every_field(aws: Any) -> None:
    # A From display name in raw UTF-8 (RFC 6532) long enough that its encoded form folds.
    store(
        aws,
        build(
            "From: Jürgen Müller-Lüdenscheidt <juergen@example.de>",
            f"To: {RECIPIENT}",
            "Cc: Omar <omar@example.org>",
            "Subject: Angebot",
            "Date: Tue, 01 Dec 2026 10:00:00 +0100",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "References: <a@example.de>",
            "X-Forward-Hops: 1",
            body="Guten Tag.\r\n",
        ),
    )
    invoke(documented_event())
    first, _ = sent()  # one copy per destination
    copy_ = sent_mime(first)
    assert copy_["From"].addresses[0].addr_spec == RECIPIENT
    assert copy_["Subject"] == "Angebot"
    assert copy_["Content-Type"].content_type == "text/plain"
    assert copy_["References"] == "<a@example.de>"
    assert copy_["X-Forward-Hops"] == "2"
    assert first.raw.endswith(b"\r\n\r\nGuten Tag.\r\n")
    assert max(len(line) for line in first.raw.split(b"\r\n")) <= 998


def test_no_destination_is_counted_per_function_for_the_alarm(
    aws: Any, forward_env: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    """The Forwarder construct alarms on ``MessagesWithoutDestination`` with dimensions
    ``FunctionName`` and ``service``: the forwarder emits exactly that metric, once."""
    import forwarder

    forward_env(FORWARD_DESTINATIONS=json.dumps({"someone-else@example.com": DESTINATIONS}))
    store(aws, build(*BASIC))
    capsys.readouterr()
    invoke(documented_event())
    assert sent() == []
    assert outcome(aws)["status"] == "no_destination"
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    counted = [m for m in emitted if "MessagesWithoutDestination" in m]
    assert len(counted) == 1
    (definition,) = counted[0]["_aws"]["CloudWatchMetrics"]
    # the construct sets both from its metrics_namespace and service_name
    assert definition["Namespace"] == forwarder.METRICS_NAMESPACE
    assert sorted(definition["Dimensions"][0]) == ["FunctionName", "service"]
    assert counted[0]["FunctionName"] == FakeLambdaContext().function_name
    assert counted[0]["service"] == forwarder.SERVICE_NAME

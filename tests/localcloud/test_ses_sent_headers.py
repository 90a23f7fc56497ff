"""SES writes its own Message-ID and Date on a raw message it sends, replacing the message's
("Amazon SES header fields"); everything else stays as it was."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ses_lambda_localcloud.moto_ext.patches.ses_sending import _with_ses_headers
from ses_lambda_localcloud.outbox import OUTBOX
from ses_lambda_localcloud.server import LocalCloud

NAMES = st.sampled_from(
    ["From", "To", "Subject", "Message-ID", "message-id", "Date", "DATE", "X-Thing", "References"]
)
VALUES = st.text(alphabet="abcdefghij <>@.-:", min_size=1, max_size=30).map(str.strip).filter(bool)


def field_names(head: bytes) -> list[bytes]:
    return [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n") if line[:1] != b" "]


@settings(max_examples=200, deadline=None)
@given(
    fields=st.lists(st.tuples(NAMES, VALUES, st.booleans()), max_size=8),
    body=st.binary(max_size=200).map(lambda b: b.replace(b"\r\n\r\n", b"")),
)
def test_ses_s_message_id_and_date_replace_the_message_s(
    fields: list[tuple[str, str, bool]], body: bytes
) -> None:
    lines = []
    for name, value, folded in fields:
        lines.append(f"{name}: {value}".encode())
        if folded:
            lines.append(b"\tcontinued " + value.encode())
    raw = b"\r\n".join(lines) + b"\r\n\r\n" + body
    result = _with_ses_headers(raw, "0100-abc")
    head, _, rest = result.partition(b"\r\n\r\n")
    assert rest == body
    names = field_names(head)
    assert names.count(b"message-id") == 1 and names.count(b"date") == 1
    assert head.startswith(b"Message-ID: <0100-abc@email.amazonses.com>\r\nDate: ")
    parsedate_to_datetime(head.split(b"\r\n")[1][len(b"Date: ") :].decode())
    # Every other field (folded lines too) in its order.
    kept = [
        (name, value, folded)
        for name, value, folded in fields
        if name.lower() not in ("message-id", "date")
    ]
    expected = []
    for name, value, folded in kept:
        expected.append(f"{name}: {value}".encode())
        if folded:
            expected.append(b"\tcontinued " + value.encode())
    assert head.split(b"\r\n")[2:] == (expected if expected else [])


def test_a_raw_send_carries_ses_s_message_id(fresh: LocalCloud, aws: Callable[[str], Any]) -> None:
    aws("sesv2").create_email_identity(EmailIdentity="sent.example.com")
    raw = (
        b"From: a@sent.example.com\r\nTo: b@example.org\r\nMessage-ID: <mine@sent.example.com>\r\n"
        b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: hello\r\n\r\nbody\r\n"
    )
    answer = aws("sesv2").send_email(
        FromEmailAddress="a@sent.example.com",
        Destination={"ToAddresses": ["b@example.org"]},
        Content={"Raw": {"Data": raw}},
    )
    (sent,) = [m for m in OUTBOX.messages() if m.message_id == answer["MessageId"]]
    headers = dict(sent.headers())
    assert headers["Message-ID"] == f"<{answer['MessageId']}@email.amazonses.com>"
    assert headers["Date"] != "Mon, 1 Jan 2024 00:00:00 +0000"
    assert re.search(rb"\r\n\r\nbody\r\n$", sent.raw)
    shown = dict(json.loads(json.dumps(sent.summary()))["headers"])
    assert shown["Message-ID"] == headers["Message-ID"]

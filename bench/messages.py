"""Deterministic test messages with attachments, and the SES Lambda event that announces them.

``message(size)`` builds a ``multipart/mixed`` message of exactly ``size`` bytes (CRLF line
endings, as SES stores it): a ``multipart/alternative`` text and HTML body and one or more
attachments of random bytes (fixed seed) in base64 lines of 76 characters. The same size always
gives the same bytes.
"""

from __future__ import annotations

import base64
import random

SIZES = {"10 KB": 10_000, "1 MB": 1_000_000, "10 MB": 10_000_000, "40 MB": 40_000_000}
SEED = 20240501
RECIPIENT = "support@mail.example.com"
SENDER = "jane.doe@example.org"

_TEXT = (
    "Hello support,\r\n\r\nplease find the documents attached. The numbers in the second file "
    "are the ones we discussed on the phone.\r\n\r\nKind regards,\r\nJane Doe\r\n"
)


def _attachment_count(size: int) -> int:
    if size < 100_000:
        return 1
    if size < 5_000_000:
        return 2
    if size < 20_000_000:
        return 3
    return 4


def _base64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"".join(encoded[i : i + 76] + b"\r\n" for i in range(0, len(encoded), 76))


def _encoded_size(raw: int) -> int:
    """Length of ``_base64_lines`` of ``raw`` bytes."""
    chars = 4 * ((raw + 2) // 3)
    return chars + 2 * ((chars + 75) // 76)


def _build(attachments: list[bytes], subject: str) -> bytes:
    mixed, alternative = "=_mixed_boundary_2f8c", "=_alternative_boundary_91d0"
    head = (
        f"From: Jane Doe <{SENDER}>\r\n"
        f"To: {RECIPIENT}\r\n"
        f"Subject: {subject}\r\n"
        "Date: Tue, 1 Oct 2024 09:00:00 +0000\r\n"
        "Message-ID: <bench-message@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{mixed}"\r\n'
        "\r\n"
        "This is a multi-part message in MIME format.\r\n"
        f"--{mixed}\r\n"
        f'Content-Type: multipart/alternative; boundary="{alternative}"\r\n'
        "\r\n"
        f"--{alternative}\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n"
        f"{_TEXT}\r\n"
        f"--{alternative}\r\n"
        'Content-Type: text/html; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n"
        "<html><body><p>Hello support,</p><p>please find the documents <b>attached</b>.</p>"
        "<p>Kind regards,<br>Jane Doe</p></body></html>\r\n"
        "\r\n"
        f"--{alternative}--\r\n"
    ).encode()
    parts = [head]
    for index, data in enumerate(attachments, start=1):
        parts.append(
            (
                f"--{mixed}\r\n"
                f'Content-Type: application/octet-stream; name="document-{index}.bin"\r\n'
                "Content-Transfer-Encoding: base64\r\n"
                f'Content-Disposition: attachment; filename="document-{index}.bin"\r\n'
                "\r\n"
            ).encode()
            + _base64_lines(data)
        )
    parts.append(f"--{mixed}--\r\n".encode())
    return b"".join(parts)


def message(size: int, subject: str | None = None) -> bytes:
    """A message of exactly ``size`` bytes (at least about 2 KB)."""
    subject = subject or f"Benchmark message of {size} bytes"
    count = _attachment_count(size)
    rng = random.Random(SEED + size)
    # Skeleton with empty attachments, then share the remaining bytes among them.
    skeleton = len(_build([b""] * count, subject))
    budget = size - skeleton
    if budget < count * 8:
        raise ValueError(f"{size} bytes is too small for a message with {count} attachment(s)")
    shares = [budget // count] * count
    shares[-1] += budget - sum(shares)
    raw_sizes = []
    for share in shares:
        raw = share * 57 // 78
        while _encoded_size(raw + 1) <= share:
            raw += 1
        while raw and _encoded_size(raw) > share:
            raw -= 1
        raw_sizes.append(raw)
    attachments = [rng.randbytes(n) for n in raw_sizes]
    body = _build(attachments, subject)
    # Pad the subject to land on the exact size (base64 comes in steps of 4 bytes).
    missing = size - len(body)
    if not 0 <= missing < 900:
        raise AssertionError(f"cannot pad {len(body)} bytes to {size}")
    if missing:
        body = _build(attachments, subject + " " + "x" * (missing - 1))
    return body


def ses_event(message_id: str, *, bucket: str, key: str, size_hint: int = 0) -> dict:
    """The documented SES Lambda event (``Event`` invocation) after an S3 action stored the mail."""
    headers = [
        {"name": "Return-Path", "value": f"<{SENDER}>"},
        {
            "name": "Received",
            "value": "from mailer.example.org (mailer.example.org [203.0.113.1]) by "
            "inbound-smtp.us-east-1.amazonaws.com with SMTP id "
            f"{message_id} for {RECIPIENT}; Tue, 01 Oct 2024 09:00:01 +0000 (UTC)",
        },
        {"name": "From", "value": f"Jane Doe <{SENDER}>"},
        {"name": "To", "value": RECIPIENT},
        {"name": "Subject", "value": f"Benchmark message of {size_hint} bytes"},
        {"name": "Date", "value": "Tue, 1 Oct 2024 09:00:00 +0000"},
        {"name": "Message-ID", "value": "<bench-message@example.org>"},
        {"name": "MIME-Version", "value": "1.0"},
        {"name": "Content-Type", "value": 'multipart/mixed; boundary="=_mixed_boundary_2f8c"'},
    ]
    return {
        "Records": [
            {
                "eventSource": "aws:ses",
                "eventVersion": "1.0",
                "ses": {
                    "mail": {
                        "timestamp": "2024-10-01T09:00:01.000Z",
                        "source": SENDER,
                        "messageId": message_id,
                        "destination": [RECIPIENT],
                        "headersTruncated": False,
                        "headers": headers,
                        "commonHeaders": {
                            "returnPath": SENDER,
                            "from": [f"Jane Doe <{SENDER}>"],
                            "date": "Tue, 1 Oct 2024 09:00:00 +0000",
                            "to": [RECIPIENT],
                            "messageId": "<bench-message@example.org>",
                            "subject": f"Benchmark message of {size_hint} bytes",
                        },
                    },
                    "receipt": {
                        "timestamp": "2024-10-01T09:00:01.000Z",
                        "processingTimeMillis": 574,
                        "recipients": [RECIPIENT],
                        "spamVerdict": {"status": "PASS"},
                        "virusVerdict": {"status": "PASS"},
                        "spfVerdict": {"status": "PASS"},
                        "dkimVerdict": {"status": "PASS"},
                        "dmarcVerdict": {"status": "PASS"},
                        "action": {
                            "type": "Lambda",
                            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:bench",
                            "invocationType": "Event",
                        },
                    },
                },
            }
        ]
    }

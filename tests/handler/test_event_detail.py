"""The event detail builder: every detail valid against its schema, every entry under the limit."""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import pytest
from handler_support import FUZZ, documented_event, email_bytes
from hypothesis import given
from hypothesis import strategies as st
from ses_mail import RawLocation, UnparseableMessageError, build_document, parse_event
from ses_mail.event_detail import (
    DETAIL_TYPES,
    MAX_ENTRY_BYTES,
    TIME_BYTES,
    build_entry,
    entry_size,
    load_detail_schema,
)
from ses_mail.mime import parse_message

BUS = "mail-events"
BUCKET = "mail-bucket"
MESSAGE_KEY = "parsed/o3vrnil0e2ic28tr/message.json"


def processed_document(email: str = "multipart-alternative.eml") -> dict[str, Any]:
    return copy.deepcopy(_processed_document(email))


@functools.cache
def _processed_document(email: str) -> dict[str, Any]:
    notification = parse_event(documented_event())[0]
    parsed = parse_message(email_bytes(email))
    keys = [f"parsed/{notification.message_id}/attachments/{a.index}" for a in parsed.attachments]
    raw = RawLocation(source="s3", bucket=BUCKET, key="raw/o3vrnil0e2ic28tr", size=1)
    return build_document(notification, raw=raw, parsed=parsed, attachment_keys=keys)


@functools.cache
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(load_detail_schema())


def entry_of(document: dict[str, Any], limit: int = MAX_ENTRY_BYTES) -> dict[str, Any]:
    """The entry of ``document``; its detail is checked against the schema, whatever the test."""
    entry = build_entry(
        document, event_bus=BUS, bucket=BUCKET, message_key=MESSAGE_KEY, limit=limit
    )
    _validator().validate(json.loads(entry["Detail"]))
    return entry


def detail_of(entry: dict[str, Any]) -> dict[str, Any]:
    detail: dict[str, Any] = json.loads(entry["Detail"])
    return detail


def with_bodies(text: str | None, html: str | None) -> dict[str, Any]:
    document = processed_document()
    document["text"], document["html"] = text, html
    return document


def test_processed_mail_becomes_an_email_received_entry(detail_validator: Any) -> None:
    document = processed_document()

    entry = entry_of(document)

    assert entry["Source"] == "ses-lambda-constructs"
    assert entry["DetailType"] == "Email Received"
    assert entry["EventBusName"] == BUS
    assert entry["Resources"] == []
    assert entry["Time"].isoformat() == "1970-01-01T00:00:00+00:00"  # receipt.timestamp
    detail = detail_of(entry)
    detail_validator.validate(detail)
    assert detail["schemaVersion"] == "2.0"
    assert detail["deliveryId"] == document["deliveryId"]
    assert detail["messageId"] == "o3vrnil0e2ic28tr"
    assert detail["status"] == "processed"
    assert detail["truncated"] is False
    assert detail["headers"] == document["headers"]
    assert detail["text"] == {
        "content": document["text"],
        "truncated": False,
        "size": len(document["text"].encode()),
    }
    assert detail["html"]["content"] == document["html"]
    assert detail["location"] == {
        "bucket": BUCKET,
        "messageKey": MESSAGE_KEY,
        "rawKey": "raw/o3vrnil0e2ic28tr",
    }
    assert detail["verdicts"]["rejection"] is None
    assert detail["error"] is None


def test_envelope_source_and_recipients_are_lowercased_destination_is_kept() -> None:
    document = processed_document()
    document["envelope"] = {
        "source": "Jane.Doe@Example.COM",
        "recipients": ["Support+Billing@Example.com"],
        "destination": ["Support+Billing@Example.com", "Other@Example.org"],
    }

    envelope = detail_of(entry_of(document))["envelope"]

    assert envelope == {
        "source": "jane.doe@example.com",
        "recipients": ["support+billing@example.com"],
        "destination": ["Support+Billing@Example.com", "Other@Example.org"],
    }


def test_attachments_carry_metadata_and_keys(detail_validator: Any) -> None:
    document = processed_document("nested-multipart.eml")
    assert document["attachments"], "the fixture has attachments"

    detail = detail_of(entry_of(document))

    detail_validator.validate(detail)
    assert detail["attachments"] == [
        {
            "index": item["index"],
            "filename": item["filename"],
            "contentType": item["contentType"],
            "size": item["size"],
            "sha256": item["sha256"],
            "key": item["key"],
        }
        for item in document["attachments"]
    ]


@pytest.mark.parametrize(
    ("status", "detail_type"),
    [
        ("rejected", "Email Rejected"),
        ("too_large", "Email Too Large"),
        ("unparseable", "Email Unparseable"),
    ],
)
def test_every_other_outcome_has_its_detail_type(
    status: str, detail_type: str, detail_validator: Any
) -> None:
    notification = parse_event(documented_event())[0]
    raw = RawLocation(source="s3", bucket=BUCKET, key="raw/o3vrnil0e2ic28tr", size=9)
    if status == "rejected":
        document = build_document(notification, raw=raw, rejected_by=["spam"])
    else:
        code = "too_large" if status == "too_large" else "too_many_parts"
        error = UnparseableMessageError(code, "over the limit")
        document = build_document(notification, raw=raw, error=error)

    entry = entry_of(document)

    assert entry["DetailType"] == detail_type == DETAIL_TYPES[status]
    detail = detail_of(entry)
    detail_validator.validate(detail)
    assert detail["status"] == status
    assert detail["text"] is None and detail["html"] is None
    if status == "rejected":
        assert detail["verdicts"]["rejection"] == {"verdicts": ["spam"]}
        assert detail["error"] is None
    else:
        assert detail["error"] == f"{code}: over the limit"


def test_an_unparseable_receipt_time_leaves_time_to_eventbridge() -> None:
    document = processed_document()
    document["receivedAt"] = "yesterday"

    entry = entry_of(document)

    assert "Time" not in entry
    assert entry_size(entry) == (
        len(entry["Source"]) + len(entry["DetailType"]) + len(entry["Detail"].encode())
    )


def test_entry_size_counts_as_eventbridge_documents() -> None:
    entry = {
        "Source": "src",
        "DetailType": "Typé",
        "Detail": '{"a":"€"}',
        "Resources": ["arn:x", "ü"],
        "Time": object(),
    }
    assert entry_size(entry) == TIME_BYTES + 3 + 5 + 11 + 5 + 2


def padded_to(size: int, filler: str = "a", html: str | None = None) -> tuple[dict[str, Any], str]:
    """A document whose untruncated entry is exactly ``size`` bytes, and its text body."""
    text = ""
    for _ in range(10):
        document = with_bodies(text, html)
        missing = size - entry_size(entry_of(document, limit=1 << 30))
        if missing == 0:
            return document, text
        text = text + filler * missing if missing > 0 else text[:missing]
    raise AssertionError("could not pad the document to the size")


def test_an_entry_exactly_at_the_limit_is_sent_whole(detail_validator: Any) -> None:
    document, text = padded_to(MAX_ENTRY_BYTES)

    entry = entry_of(document)

    # EventBridge entries may be 1 MB; the budget stays below it under either reading of MB.
    assert entry_size(entry) == MAX_ENTRY_BYTES == 999_999
    detail = detail_of(entry)
    detail_validator.validate(detail)
    assert detail["truncated"] is False
    assert detail["text"] == {"content": text, "truncated": False, "size": len(text)}


def test_one_byte_over_the_limit_cuts_the_text_at_a_character_boundary(
    detail_validator: Any,
) -> None:
    # GIVEN a text whose entry is one byte over the limit, ending in a 3-byte character
    document, text = padded_to(MAX_ENTRY_BYTES - 2)
    document["text"] = text = text + "€"
    assert entry_size(entry_of(document, limit=1 << 30)) == MAX_ENTRY_BYTES + 1

    # WHEN the entry is built
    entry = entry_of(document)

    # THEN the whole character is dropped, and both flags say so
    detail = detail_of(entry)
    detail_validator.validate(detail)
    assert entry_size(entry) <= MAX_ENTRY_BYTES
    assert detail["truncated"] is True
    assert detail["text"]["truncated"] is True
    assert detail["text"]["content"] == text[:-1]
    assert detail["text"]["size"] == len(text.encode())
    assert detail["html"] is None


def test_a_body_between_256_kb_and_1_mb_is_sent_whole(detail_validator: Any) -> None:
    # The entry limit is 1 MB since AWS raised it from 256 KB: a 600 KB text is no longer cut.
    text = "ö" * 300_000  # 600 000 bytes of UTF-8

    entry = entry_of(with_bodies(text, "<p>html</p>"))

    detail = detail_of(entry)
    detail_validator.validate(detail)
    assert 600_000 < entry_size(entry) <= MAX_ENTRY_BYTES
    assert detail["truncated"] is False
    assert detail["text"] == {"content": text, "truncated": False, "size": 600_000}
    assert detail["html"]["truncated"] is False


def test_text_keeps_priority_over_html() -> None:
    # GIVEN a text that fits alone, and an html body that does not fit beside it
    text = "plain body " * 1000
    html = "<p>" + "html body " * 120_000 + "</p>"

    detail = detail_of(entry_of(with_bodies(text, html)))

    assert detail["text"] == {"content": text, "truncated": False, "size": len(text)}
    assert detail["html"]["truncated"] is True
    assert html.startswith(detail["html"]["content"])
    assert detail["html"]["content"]


def test_a_huge_text_leaves_no_room_for_html() -> None:
    text = "ü" * 600_000  # 1 200 000 bytes of UTF-8
    html = "<p>short</p>"

    entry = entry_of(with_bodies(text, html))

    detail = detail_of(entry)
    assert entry_size(entry) <= MAX_ENTRY_BYTES
    assert detail["text"]["truncated"] is True and detail["text"]["size"] == 1_200_000
    assert MAX_ENTRY_BYTES - entry_size(entry) < 2  # filled to the last whole character
    assert detail["html"]["truncated"] is True and detail["html"]["size"] == len(html)
    assert html.startswith(detail["html"]["content"]) and len(detail["html"]["content"]) <= 1


def test_escaped_characters_count_with_their_json_escapes() -> None:
    # Quotes and control characters take 2 or 6 bytes each in the Detail string.
    text = '"\x01\\\n' * 100_000

    entry = entry_of(with_bodies(text, None))

    detail = detail_of(entry)
    assert entry_size(entry) <= MAX_ENTRY_BYTES
    assert detail["text"]["truncated"] is True
    assert text.startswith(detail["text"]["content"])


def test_attachments_are_capped_from_the_end_when_bodies_are_not_enough(
    detail_validator: Any,
) -> None:
    document = with_bodies("text", "<p>html</p>")
    template = processed_document("nested-multipart.eml")["attachments"][0]
    document["attachments"] = [
        dict(template, index=index, filename=f"{index}-" + "n" * 200, key=f"k/{index}" * 20)
        for index in range(5000)
    ]

    entry = entry_of(document)

    detail = detail_of(entry)
    detail_validator.validate(detail)
    assert entry_size(entry) <= MAX_ENTRY_BYTES
    assert detail["truncated"] is True
    kept = detail["attachments"]
    assert 0 < len(kept) < 5000
    assert [item["index"] for item in kept] == list(range(len(kept)))
    assert detail["text"]["truncated"] is True


def test_pathological_headers_are_clipped_as_the_last_resort(detail_validator: Any) -> None:
    document = with_bodies(None, None)
    document["headers"] = copy.deepcopy(document["headers"])
    document["headers"]["subject"] = "S" * 1_200_000
    document["headers"]["references"] = [f"<{n}@example.com>" for n in range(50_000)]

    entry = entry_of(document)

    detail = detail_of(entry)
    detail_validator.validate(detail)
    assert entry_size(entry) <= MAX_ENTRY_BYTES
    assert detail["truncated"] is True
    assert document["headers"]["subject"].startswith(detail["headers"]["subject"])


short_text = st.text(max_size=40)
addresses = st.lists(st.fixed_dictionaries({"name": short_text, "address": short_text}), max_size=6)
bodies = st.none() | st.text(max_size=3000)


@FUZZ
@given(
    text=bodies,
    html=bodies,
    subject=st.none() | st.text(max_size=2000),
    references=st.lists(short_text, max_size=30),
    to=addresses,
    attachment_names=st.lists(st.none() | st.text(max_size=300), max_size=30),
    recipients=st.lists(short_text, max_size=10),
    limit=st.integers(min_value=2500, max_value=12_000),
    source=st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=256
    ),
)
def test_any_document_fits_any_limit_and_validates(
    detail_validator: Any,
    text: str | None,
    html: str | None,
    subject: str | None,
    references: list[str],
    to: list[dict[str, str]],
    attachment_names: list[str | None],
    recipients: list[str],
    limit: int,
    source: str,
) -> None:
    document = with_bodies(text, html)
    document["headers"] = dict(document["headers"], subject=subject, references=references, to=to)
    document["envelope"] = dict(document["envelope"], recipients=recipients)
    template = processed_document("nested-multipart.eml")["attachments"][0]
    document["attachments"] = [
        dict(template, index=index, filename=name, key=f"parsed/x/attachments/{index}")
        for index, name in enumerate(attachment_names)
    ]

    entry = build_entry(
        document, event_bus=BUS, source=source, bucket=BUCKET, message_key=MESSAGE_KEY, limit=limit
    )

    assert entry_size(entry) <= limit
    detail = detail_of(entry)
    detail_validator.validate(detail)
    full = detail_of(entry_of(document, limit=1 << 30))
    assert detail["truncated"] is (detail != full)
    for name, body in (("text", text), ("html", html)):
        if body is None:
            assert detail[name] is None
            continue
        cut = detail[name]
        assert cut["size"] == len(body.encode("utf-8", "replace"))
        assert body.encode("utf-8", "replace").startswith(cut["content"].encode("utf-8"))
        assert cut["truncated"] is (cut["content"] != body.encode("utf-8", "replace").decode())
    kept = detail["attachments"]
    assert kept == full["attachments"][: len(kept)]

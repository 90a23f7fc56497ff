"""Fuzzing with hypothesis: no exception escapes the event parser, the MIME path or the handler
other than the documented ones, and every accepted input yields a schema-valid document.

Budget: the ``handler-fuzz`` profile (150 examples per test) by default; set
``HANDLER_FUZZ_PROFILE=handler-fuzz-long`` for 5000. See the counts with
``pytest tests/handler/test_fuzz.py --hypothesis-show-statistics``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import quopri
import re
from typing import Any

import handler
import pytest
from handler_support import (
    BUCKET,
    EMAILS,
    FUZZ,
    PARSED_PREFIX,
    FakeLambdaContext,
    document_key,
    documented_event,
    email_bytes,
    read_json,
    sns_event,
)
from hypothesis import event, given
from hypothesis import strategies as st
from ses_mail import (
    InvalidEventError,
    RawLocation,
    SesMailError,
    UnparseableMessageError,
    build_document,
    encode_document,
    parse_event,
    parse_message,
    safe_filename,
)
from ses_mail.decoding import iter_decoded

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,254}")
CORPUS = sorted(p.name for p in EMAILS.glob("*.eml"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=16,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    """The documented event (direct or SNS-wrapped) with 1-4 fields deleted or replaced."""
    shape = draw(st.sampled_from(["direct", "sns", "sns-content"]))
    if shape == "direct":
        base: Any = documented_event()
    else:
        content = base64.b64encode(b"From: a@example.com\r\n\r\nhi").decode()
        base = sns_event(content=content if shape == "sns-content" else None)
        message = json.loads(base["Records"][0]["Sns"]["Message"])
        base["Records"][0]["Sns"]["Message"] = message  # mutate inside, re-encode below
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(base)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = base
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    if shape != "direct":
        records = base.get("Records") if isinstance(base, dict) else None
        for record in records if isinstance(records, list) else []:
            sns = record.get("Sns") if isinstance(record, dict) else None
            if (
                isinstance(sns, dict)
                and isinstance(sns.get("Message"), dict)
                and draw(st.booleans())
            ):
                sns["Message"] = json.dumps(sns["Message"])
    return base


def _check_event(candidate: Any) -> None:
    try:
        notifications = parse_event(candidate)
    except InvalidEventError as error:
        assert error.field and error.problem
        event(f"rejected: {error.field.split('.')[-1].split('[')[0]}")
        return
    event("accepted")
    for notification in notifications:
        assert SAFE_ID.fullmatch(notification.message_id)
        assert ".." not in notification.message_id


@FUZZ
@given(json_values)
def test_fuzz_event_parser_with_arbitrary_json(candidate: Any) -> None:
    _check_event(candidate)


@FUZZ
@given(mutated_events())
def test_fuzz_event_parser_with_mutated_real_events(candidate: Any) -> None:
    _check_event(candidate)


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_message_id(message_id: str) -> None:
    candidate = documented_event()
    candidate["Records"][0]["ses"]["mail"]["messageId"] = message_id
    _check_event(candidate)


# ---------------------------------------------------------------- MIME ---------------------------

HEADER_NAMES = [
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Content-ID",
    "X-Custom",
]
CONTENT_TYPES = [
    "text/plain",
    "text/html",
    "multipart/mixed",
    "multipart/alternative",
    "multipart/related",
    "message/rfc822",
    "application/octet-stream",
    "image/png",
    "text/calendar",
    "multipart/",
    "garbage",
    "",
]
CHARSETS = [
    "utf-8",
    "us-ascii",
    "iso-8859-1",
    "windows-1252",
    "shift_jis",
    "koi8-r",
    "iso-2022-jp",
    "utf-16",
    "utf-7",
    "x-unknown",
    "punycode",
    "zlib",
    "",
    '"utf-8"',
    "UTF8",
]
ENCODINGS = ["7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "bogus", ""]
hostile_text = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(list("/\\.:\x00\n\r\t\u202e\"';=?*")),
    max_size=40,
)


@st.composite
def header_values(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["text", "bytes", "encoded-word", "addresses"]))
    if kind == "bytes":
        value: bytes = draw(st.binary(max_size=60))
    elif kind == "encoded-word":
        text = draw(hostile_text).encode("utf-8", "surrogatepass")
        value = b"=?utf-8?b?" + base64.b64encode(text) + b"?="
    elif kind == "addresses":
        names = draw(st.lists(hostile_text, max_size=3))
        value = ", ".join(f'"{n}" <user{i}@example.com>' for i, n in enumerate(names)).encode()
    else:
        value = draw(hostile_text).encode("utf-8", "surrogatepass")
    return value.replace(b"\r", b" ").replace(b"\n", b" ")


@st.composite
def mime_parts(draw: st.DrawFn, depth: int = 0) -> bytes:
    """A random MIME entity: header fields, a content type, an encoding, a body or children."""
    newline = draw(st.sampled_from([b"\r\n", b"\n"]))
    lines = [
        draw(st.sampled_from(HEADER_NAMES)).encode() + b": " + draw(header_values())
        for _ in range(draw(st.integers(0, 4)))
    ]
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    if depth >= 3 and content_type.startswith(("multipart/", "message/")):
        content_type = "text/plain"
    params = b""
    if draw(st.booleans()):
        params += b"; charset=" + draw(st.sampled_from(CHARSETS)).encode()
    if draw(st.booleans()):
        params += b'; name="' + draw(hostile_text).encode("utf-8", "surrogatepass") + b'"'
    boundary = draw(st.from_regex(r"[A-Za-z0-9'()+_,./:=?-]{1,20}", fullmatch=True)).encode()
    if content_type.startswith("multipart/"):
        params += b'; boundary="' + boundary + b'"'
    lines.append(b"Content-Type: " + content_type.encode() + params)
    if draw(st.booleans()):
        disposition = draw(st.sampled_from([b"attachment", b"inline", b"weird"]))
        filename = draw(hostile_text).encode("utf-8", "surrogatepass")
        lines.append(b"Content-Disposition: " + disposition + b'; filename="' + filename + b'"')
    encoding = draw(st.sampled_from(ENCODINGS))
    if encoding:
        lines.append(b"Content-Transfer-Encoding: " + encoding.encode())
    if content_type.startswith("multipart/"):
        children = draw(st.lists(mime_parts(depth + 1), max_size=3))
        body = b"".join(b"--" + boundary + newline + child + newline for child in children)
        if draw(st.booleans()):
            body += b"--" + boundary + b"--" + newline
    elif content_type.startswith("message/"):
        body = draw(mime_parts(depth + 1))
    else:
        payload = draw(st.binary(max_size=200))
        if encoding == "base64" and draw(st.booleans()):
            body = base64.encodebytes(payload)
        elif encoding == "quoted-printable" and draw(st.booleans()):
            body = quopri.encodestring(payload)
        else:
            body = payload
    return newline.join(lines) + newline + newline + body


def _check_mime(raw: bytes, schema_validator: Any) -> None:
    try:
        parsed = parse_message(raw)
    except UnparseableMessageError as error:
        event(f"unparseable: {error.code}")
        return
    count = len(parsed.attachments)
    event(f"parsed, {count if count < 3 else '3+'} attachments")
    if parsed.defects:
        event("parsed with defects")
    keys: list[str | None] = []
    for attachment in parsed.attachments:
        content = attachment.read()
        assert attachment.size == len(content)
        assert attachment.sha256 == hashlib.sha256(content).hexdigest()
        assert safe_filename(attachment.safe_name, fallback="") == attachment.safe_name
        keys.append(f"{PARSED_PREFIX}fuzz/attachments/{attachment.index}-{attachment.safe_name}")
    (notification,) = parse_event(documented_event())
    document = build_document(
        notification,
        raw=RawLocation(source="content", size=parsed.size),
        parsed=parsed,
        attachment_keys=keys,
    )
    schema_validator.validate(document)
    json.loads(encode_document(document))


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_mime_with_arbitrary_bytes(schema_validator: Any, raw: bytes) -> None:
    _check_mime(raw, schema_validator)


@FUZZ
@given(mime_parts())
def test_fuzz_mime_with_generated_structures(schema_validator: Any, raw: bytes) -> None:
    _check_mime(b"From: a@example.com\r\n" + raw, schema_validator)


@st.composite
def mutated_corpus(draw: st.DrawFn) -> bytes:
    data = bytearray(email_bytes(draw(st.sampled_from(CORPUS))))
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        if action == "flip":
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(
                st.sampled_from([b"--", b"\r\n", b"=", b"=?utf-8?q?", b"\x00", b"boundary=", b":"])
            )
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 50))]
        elif action == "truncate":
            del data[position:]
        else:
            data[position:position] = data[position : position + draw(st.integers(1, 200))]
    return bytes(data)


@FUZZ
@given(mutated_corpus())
def test_fuzz_mime_with_mutated_corpus(schema_validator: Any, raw: bytes) -> None:
    _check_mime(raw, schema_validator)


@FUZZ
@given(
    st.binary(max_size=3000), st.integers(1, 120), st.booleans(), st.text(" \t!@#$%^&*", max_size=3)
)
def test_fuzz_base64_decoder_round_trips(payload: bytes, line: int, crlf: bool, junk: str) -> None:
    encoded = base64.b64encode(payload).decode()
    lines = [encoded[i : i + line] for i in range(0, len(encoded), line)]
    body = (junk + ("\r\n" if crlf else "\n")).join(lines)
    from email.message import EmailMessage

    part = EmailMessage()
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(body)
    assert b"".join(iter_decoded(part, [])) == payload


@FUZZ
@given(st.binary(max_size=3000))
def test_fuzz_quoted_printable_decoder_round_trips(payload: bytes) -> None:
    from email.message import EmailMessage

    part = EmailMessage()
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(quopri.encodestring(payload).decode("ascii"))
    assert b"".join(iter_decoded(part, [])) == payload


@FUZZ
@given(st.one_of(st.none(), st.text(max_size=300), hostile_text))
def test_fuzz_safe_filename(name: str | None) -> None:
    safe = safe_filename(name)
    assert safe and safe == safe_filename(safe, fallback="")
    assert "/" not in safe and "\\" not in safe and not safe.startswith(".") and ".." not in safe
    assert all(ch.isprintable() for ch in safe)
    assert len(safe.encode("utf-8")) <= 120


# ------------------------------------------------------------ handler ----------------------------


@FUZZ
@given(st.one_of(mime_parts(), mutated_corpus(), st.binary(max_size=1000)), st.booleans())
def test_fuzz_handler_end_to_end(
    s3: Any, schema_validator: Any, raw: bytes, base64_content: bool
) -> None:
    # GIVEN any bytes delivered as an SNS action's content
    content = base64.b64encode(raw).decode() if base64_content else raw.decode("utf-8", "replace")
    candidate = sns_event(content=content, encoding="BASE64" if base64_content else "UTF8")

    # WHEN the handler runs, THEN it succeeds with a valid stored document or raises its own error
    try:
        result = handler.lambda_handler(candidate, FakeLambdaContext())
    except SesMailError as error:  # pragma: no cover - would be a finding
        pytest.fail(f"handler raised {error!r} for a well-formed event")
    assert result == {"disposition": "CONTINUE"}
    document = read_json(s3, document_key())
    schema_validator.validate(document)
    event(f"handler: {document['status']}")
    for entry in document["attachments"]:
        stored = s3.get_object(Bucket=BUCKET, Key=entry["key"])["Body"].read()
        assert hashlib.sha256(stored).hexdigest() == entry["sha256"]


@FUZZ
@given(mutated_events())
def test_fuzz_handler_raises_only_its_own_errors_for_any_event(s3: Any, candidate: Any) -> None:
    try:
        result = handler.lambda_handler(copy.deepcopy(candidate), FakeLambdaContext())
    except SesMailError as error:
        event(f"handler raised {type(error).__name__}")
        return
    event("handler succeeded")
    assert result["disposition"] in ("CONTINUE", "STOP_RULE_SET")

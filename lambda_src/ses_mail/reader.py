"""Typed reader of the reference handler's EventBridge events, for your own Python functions.

A function subscribed to the receiver's events (directly, or through an SQS queue) reads them
with this module alone; it needs no CDK and imports no boto3 (pass the S3 client you already
have)::

    import boto3
    from ses_mail.reader import ReceivedEmail

    s3 = boto3.client("s3")

    def handler(event, context):
        mail = ReceivedEmail.from_event(event)      # EmailEventError names a bad field
        if mail.status != "processed":
            return
        print(mail.headers.subject, mail.envelope.recipients, mail.text_content)
        if mail.truncated:
            full = mail.read_message(s3)            # the whole message.json
        for attachment in mail.attachments:
            with mail.open_attachment(s3, attachment) as content:
                for chunk in content:                # 64 KiB chunks
                    ...

Delivery is at least once: the same message can arrive twice, so use ``mail.message_id`` as
the idempotency key. The detail's schema is ``email_event.schema.json`` beside this module;
this reader accepts every ``1.x`` detail (a minor version only adds fields, which it ignores).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

from .errors import SesMailError

Status = Literal["processed", "rejected", "too_large", "unparseable"]
"""The outcome: parsed, rejected by a verdict, over MAX_MESSAGE_BYTES, or over a parse limit."""
VerdictStatus = Literal["PASS", "FAIL", "GRAY", "PROCESSING_FAILED", "DISABLED"]
"""A receipt verdict status as SES reports it."""
VerdictName = Literal["spam", "virus", "spf", "dkim", "dmarc"]
DetailType = Literal["Email Received", "Email Rejected", "Email Too Large", "Email Unparseable"]

DETAIL_TYPE_OF_STATUS: Mapping[Status, DetailType] = {
    "processed": "Email Received",
    "rejected": "Email Rejected",
    "too_large": "Email Too Large",
    "unparseable": "Email Unparseable",
}
SUPPORTED_MAJOR_VERSION = "1"


class EmailEventError(SesMailError, ValueError):
    """The event is not a valid email event; ``field`` is the offending JSON path."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"invalid email event: {field}: {problem}")


class S3Reader(Protocol):
    """What the reader needs of an S3 client: ``get_object`` (boto3's client has it)."""

    def get_object(self, *, Bucket: str, Key: str) -> Any: ...  # boto3 names its parameters


class ObjectStream(Protocol):
    """The streaming body of an S3 object (botocore's ``StreamingBody``)."""

    def read(self, amt: int | None = None) -> bytes: ...

    def iter_chunks(self, chunk_size: int = 1024) -> Iterator[bytes]: ...

    def close(self) -> None: ...


DEFAULT_CHUNK_BYTES = 1 << 16


class AttachmentStream:
    """The content of a stored attachment, read from S3 as it is consumed.

    Iterating yields chunks of :data:`DEFAULT_CHUNK_BYTES`; ``iter_chunks(size)`` picks the size.
    Use it in a ``with`` block (or call :meth:`close`) to release the connection.
    """

    def __init__(self, body: ObjectStream, attachment: AttachmentRef) -> None:
        self._body = body
        self.attachment = attachment

    def iter_chunks(self, chunk_size: int = DEFAULT_CHUNK_BYTES) -> Iterator[bytes]:
        return self._body.iter_chunks(chunk_size)

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_chunks()

    def read(self, amt: int | None = None) -> bytes:
        """At most ``amt`` bytes (everything left when ``None``: mind the attachment's size)."""
        return self._body.read(amt)

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> AttachmentStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class MailAddress:
    name: str
    """Display name, decoded (may be empty)."""
    address: str


@dataclass(frozen=True, slots=True)
class Envelope:
    source: str
    """Envelope sender (MAIL FROM), lowercased."""
    recipients: tuple[str, ...]
    """The envelope recipients the receipt rule matched, lowercased."""
    destination: tuple[str, ...]
    """Every envelope recipient of the message, as SES gave them."""


@dataclass(frozen=True, slots=True)
class MailVerdicts:
    spam: VerdictStatus | None
    virus: VerdictStatus | None
    spf: VerdictStatus | None
    dkim: VerdictStatus | None
    dmarc: VerdictStatus | None
    dmarc_policy: str | None
    """Only reported when DMARC fails (``none``, ``quarantine`` or ``reject``)."""
    rejected_by: tuple[VerdictName, ...]
    """The configured verdicts that were ``FAIL`` (empty unless the status is ``rejected``)."""


@dataclass(frozen=True, slots=True)
class MailHeaders:
    from_: tuple[MailAddress, ...]
    to: tuple[MailAddress, ...]
    cc: tuple[MailAddress, ...]
    reply_to: tuple[MailAddress, ...]
    subject: str | None
    date: str | None
    """The Date header as sent."""
    date_iso: str | None
    """The Date header as ISO 8601; ``None`` if it did not parse."""
    message_id: str | None
    """The Message-ID header (not the SES message id)."""
    in_reply_to: str | None
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Body:
    content: str
    truncated: bool
    """``content`` is a prefix of the body (the event must stay under 256 KB)."""
    size: int
    """Size in bytes (UTF-8) of the whole body."""


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    index: int
    filename: str | None
    """Decoded file name as sent: untrusted, never use it as a path."""
    content_type: str
    size: int
    sha256: str
    key: str | None
    """S3 key of the decoded content in :attr:`Location.bucket`."""


@dataclass(frozen=True, slots=True)
class Location:
    bucket: str | None
    message_key: str | None
    """Key of ``message.json``: the whole message, never truncated."""
    raw_key: str | None
    """Key of the raw MIME as SES stored it (``None`` if it came inside an SNS notification)."""


@dataclass(frozen=True, slots=True)
class ReceivedEmail:
    """One received message as announced on EventBridge (see the module docstring)."""

    detail_type: DetailType
    source: str
    event_id: str | None
    schema_version: str
    message_id: str
    """SES's message id: the idempotency key (delivery is at least once)."""
    received_at: str | None
    status: Status
    envelope: Envelope
    verdicts: MailVerdicts
    headers: MailHeaders
    text: Body | None
    html: Body | None
    attachments: tuple[AttachmentRef, ...]
    location: Location
    truncated: bool
    """Something was cut to fit the event; :meth:`read_message` has everything."""
    error: str | None
    """Why the message was not parsed (``too_large`` and ``unparseable``)."""

    @classmethod
    def from_event(cls, event: Mapping[str, Any] | str | bytes) -> ReceivedEmail:
        """Read an EventBridge event (as a Lambda target receives it, or an SQS message body).

        Raises :class:`EmailEventError` naming the first missing or invalid field.
        """
        if isinstance(event, str | bytes):
            try:
                event = json.loads(event)
            except ValueError as error:
                raise EmailEventError("event", f"is not valid JSON ({error})") from None
        root = _object(event, "event")
        detail = _object(root.get("detail"), "detail")
        version = _string(detail, "schemaVersion", "detail")
        if version.split(".")[0] != SUPPORTED_MAJOR_VERSION:
            raise EmailEventError(
                "detail.schemaVersion",
                f"{version!r} is not supported (this reader reads {SUPPORTED_MAJOR_VERSION}.x)",
            )
        status = _literal(detail, "status", "detail", Status)
        kind = _literal(root, "detail-type", "event", DetailType)
        if kind != DETAIL_TYPE_OF_STATUS[status]:
            raise EmailEventError(
                "detail-type", f"{kind!r} does not match detail.status {status!r}"
            )
        return cls(
            detail_type=kind,
            source=_string(root, "source", "event"),
            event_id=_optional_string(root, "id", "event"),
            schema_version=version,
            message_id=_string(detail, "messageId", "detail"),
            received_at=_optional_string(detail, "receivedAt", "detail"),
            status=status,
            envelope=_envelope(_object(detail.get("envelope"), "detail.envelope")),
            verdicts=_verdicts(_object(detail.get("verdicts"), "detail.verdicts")),
            headers=_headers(_object(detail.get("headers"), "detail.headers")),
            text=_body(detail.get("text"), "detail.text"),
            html=_body(detail.get("html"), "detail.html"),
            attachments=tuple(
                _attachment(_object(item, f"detail.attachments[{index}]"), index)
                for index, item in enumerate(_array(detail, "attachments", "detail"))
            ),
            location=_location(_object(detail.get("location"), "detail.location")),
            truncated=_boolean(detail, "truncated", "detail"),
            error=_optional_string(detail, "error", "detail"),
        )

    @property
    def text_content(self) -> str | None:
        """The text body carried by the event (possibly truncated), or ``None``."""
        return self.text.content if self.text else None

    def read_message(self, s3: S3Reader) -> dict[str, Any]:
        """The whole ``message.json`` document (see ``message.schema.json``)."""
        bucket = self._bucket("detail.location.messageKey")
        key = self.location.message_key
        if key is None:
            raise EmailEventError(
                "detail.location.messageKey", "is null: the handler stored no message.json"
            )
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            document: dict[str, Any] = json.loads(body.read())
        finally:
            body.close()
        return document

    def open_attachment(self, s3: S3Reader, attachment: AttachmentRef | int) -> AttachmentStream:
        """The stored content of an attachment (or of the attachment at that index) as a stream.

        Iterate it (or ``iter_chunks(size)``) inside ``with``: nothing is read into memory at
        once, and the connection is released at the end.
        """
        if isinstance(attachment, int):
            matches = [item for item in self.attachments if item.index == attachment]
            if not matches:
                raise IndexError(f"message {self.message_id!r} has no attachment {attachment}")
            attachment = matches[0]
        if attachment.key is None:
            raise EmailEventError(
                f"detail.attachments[{attachment.index}].key",
                "is null: the handler stored no attachment",
            )
        bucket = self._bucket(f"detail.attachments[{attachment.index}].key")
        body: ObjectStream = s3.get_object(Bucket=bucket, Key=attachment.key)["Body"]
        return AttachmentStream(body, attachment)

    def _bucket(self, field: str) -> str:
        if self.location.bucket is None:
            raise EmailEventError(
                "detail.location.bucket", f"is null, so {field} cannot be read: no bucket"
            )
        return self.location.bucket


def _envelope(value: Mapping[str, Any]) -> Envelope:
    path = "detail.envelope"
    return Envelope(
        source=_string(value, "source", path),
        recipients=_strings(value, "recipients", path),
        destination=_strings(value, "destination", path),
    )


def _verdicts(value: Mapping[str, Any]) -> MailVerdicts:
    path = "detail.verdicts"
    rejection = value.get("rejection")
    rejected_by: tuple[VerdictName, ...] = ()
    if rejection is not None:
        rejection_path = f"{path}.rejection"
        names = _array(_object(rejection, rejection_path), "verdicts", rejection_path)
        rejected_by = tuple(
            _choice(name, f"{rejection_path}.verdicts[{index}]", VerdictName)
            for index, name in enumerate(names)
        )
    return MailVerdicts(
        spam=_optional_literal(value, "spam", path, VerdictStatus),
        virus=_optional_literal(value, "virus", path, VerdictStatus),
        spf=_optional_literal(value, "spf", path, VerdictStatus),
        dkim=_optional_literal(value, "dkim", path, VerdictStatus),
        dmarc=_optional_literal(value, "dmarc", path, VerdictStatus),
        dmarc_policy=_optional_string(value, "dmarcPolicy", path),
        rejected_by=rejected_by,
    )


def _headers(value: Mapping[str, Any]) -> MailHeaders:
    path = "detail.headers"
    return MailHeaders(
        from_=_addresses(value, "from", path),
        to=_addresses(value, "to", path),
        cc=_addresses(value, "cc", path),
        reply_to=_addresses(value, "replyTo", path),
        subject=_optional_string(value, "subject", path),
        date=_optional_string(value, "date", path),
        date_iso=_optional_string(value, "dateIso", path),
        message_id=_optional_string(value, "messageId", path),
        in_reply_to=_optional_string(value, "inReplyTo", path),
        references=_strings(value, "references", path),
    )


def _addresses(container: Mapping[str, Any], key: str, path: str) -> tuple[MailAddress, ...]:
    result = []
    for index, item in enumerate(_array(container, key, path)):
        item_path = f"{path}.{key}[{index}]"
        entry = _object(item, item_path)
        result.append(
            MailAddress(
                name=_string(entry, "name", item_path),
                address=_string(entry, "address", item_path),
            )
        )
    return tuple(result)


def _body(value: object, path: str) -> Body | None:
    if value is None:
        return None
    body = _object(value, path)
    return Body(
        content=_string(body, "content", path),
        truncated=_boolean(body, "truncated", path),
        size=_integer(body, "size", path),
    )


def _attachment(value: Mapping[str, Any], position: int) -> AttachmentRef:
    path = f"detail.attachments[{position}]"
    return AttachmentRef(
        index=_integer(value, "index", path),
        filename=_optional_string(value, "filename", path),
        content_type=_string(value, "contentType", path),
        size=_integer(value, "size", path),
        sha256=_string(value, "sha256", path),
        key=_optional_string(value, "key", path),
    )


def _location(value: Mapping[str, Any]) -> Location:
    path = "detail.location"
    return Location(
        bucket=_optional_string(value, "bucket", path),
        message_key=_optional_string(value, "messageKey", path),
        raw_key=_optional_string(value, "rawKey", path),
    )


def _object(value: object, path: str) -> Mapping[str, Any]:
    if value is None:
        raise EmailEventError(path, "missing")
    if not isinstance(value, Mapping):
        raise EmailEventError(path, f"must be an object, got {_type_name(value)}")
    return value


def _required(container: Mapping[str, Any], key: str, path: str) -> object:
    if key not in container:
        raise EmailEventError(_join(path, key), "missing")
    return container[key]


def _string(container: Mapping[str, Any], key: str, path: str) -> str:
    value = _required(container, key, path)
    if not isinstance(value, str):
        raise EmailEventError(_join(path, key), f"must be a string, got {_type_name(value)}")
    return value


def _optional_string(container: Mapping[str, Any], key: str, path: str) -> str | None:
    value = container.get(key)
    if value is None or isinstance(value, str):
        return value
    raise EmailEventError(_join(path, key), f"must be a string or null, got {_type_name(value)}")


def _boolean(container: Mapping[str, Any], key: str, path: str) -> bool:
    value = _required(container, key, path)
    if not isinstance(value, bool):
        raise EmailEventError(_join(path, key), f"must be true or false, got {_type_name(value)}")
    return value


def _integer(container: Mapping[str, Any], key: str, path: str) -> int:
    value = _required(container, key, path)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EmailEventError(_join(path, key), f"must be a non-negative integer, got {value!r}")
    return value


def _array(container: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = _required(container, key, path)
    if not isinstance(value, list):
        raise EmailEventError(_join(path, key), f"must be an array, got {_type_name(value)}")
    return value


def _strings(container: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    values = _array(container, key, path)
    for index, item in enumerate(values):
        if not isinstance(item, str):
            raise EmailEventError(f"{_join(path, key)}[{index}]", "must be a string")
    return tuple(values)


def _literal(container: Mapping[str, Any], key: str, path: str, kind: Any) -> Any:
    return _choice(_required(container, key, path), _join(path, key), kind)


def _optional_literal(container: Mapping[str, Any], key: str, path: str, kind: Any) -> Any:
    value = _required(container, key, path)
    return None if value is None else _choice(value, _join(path, key), kind)


def _choice(value: object, path: str, kind: Any) -> Any:
    allowed: tuple[str, ...] = get_args(kind)
    if value not in allowed:
        raise EmailEventError(path, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _join(path: str, key: str) -> str:
    return key if path == "event" else f"{path}.{key}"


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__

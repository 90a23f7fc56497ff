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

Delivery is at least once: the same delivery can arrive twice, so use ``mail.delivery_id`` as
the idempotency key (two receipt rules matching one message are two deliveries of one
``message_id``). The detail's schema is ``email_event.schema.json`` beside this module; this
reader accepts every ``2.x`` detail (a minor version only adds fields, which it ignores) and
``1.x`` details (from before deliveries had ids: their ``delivery_id`` is the message id).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias

from . import contract
from .errors import EmailEventError
from .json_fields import (
    array,
    boolean,
    choice,
    integer,
    json_object,
    literal,
    optional_literal,
    optional_string,
    string,
    strings,
)

Status: TypeAlias = contract.Status
"""The outcome: parsed, rejected by a verdict, over MAX_MESSAGE_BYTES, or over a parse limit."""
VerdictStatus = Literal["PASS", "FAIL", "GRAY", "PROCESSING_FAILED", "DISABLED"]
"""A receipt verdict status as SES reports it."""
VerdictName = Literal["spam", "virus", "spf", "dkim", "dmarc"]
DetailType: TypeAlias = contract.DetailType

DETAIL_TYPE_OF_STATUS: Mapping[Status, DetailType] = contract.DETAIL_TYPE_OF_STATUS
SUPPORTED_MAJOR_VERSION = "2"
#: Earlier major versions still read (1.x: no ``deliveryId``).
READABLE_MAJOR_VERSIONS = ("1", "2")


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
    """``content`` is a prefix of the body (the event must stay within EventBridge's 1 MB)."""
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


MailKindName = Literal[
    "person", "auto_reply", "auto_generated", "delivery_status", "feedback_report", "list"
]
"""The kind of mail (docs/handler.md, "Conversations")."""


@dataclass(frozen=True, slots=True)
class ReplyAddressInfo:
    address: str
    """The recipient that carried the token, lowercased."""
    payload: str | None
    """What the sender put into the address when minting it; ``None`` unless ``valid``."""
    valid: bool


@dataclass(frozen=True, slots=True)
class MailConversation:
    kind: MailKindName
    thread_id: str
    """The same for every message of one conversation (References / In-Reply-To root)."""
    reply_text: str | None
    """The reply's own text, without quoted history and signature."""
    reply_signature: str | None
    permanent_failure: bool | None
    """For ``delivery_status``: some recipient failed permanently."""
    failed_recipients: tuple[str, ...]
    """For ``delivery_status``: recipients whose delivery failed (not only delayed)."""
    feedback_type: str | None
    list_id: str | None
    reply_address: ReplyAddressInfo | None


@dataclass(frozen=True, slots=True)
class ReceivedEmail:
    """One received message as announced on EventBridge (see the module docstring)."""

    detail_type: DetailType
    source: str
    event_id: str | None
    schema_version: str
    message_id: str
    """SES's message id, shared by every delivery of the message."""
    delivery_id: str
    """``<messageId>/<delivery key>``: the idempotency key (delivery is at least once)."""
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
    conversation: MailConversation | None = None
    """Kind, thread and reply text of a processed message (``None`` otherwise, and in details
    written before schema 1.1)."""

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
        root = json_object(event, "event")
        detail = json_object(root.get("detail"), "detail")
        version = string(detail, "schemaVersion", "detail")
        major = version.split(".")[0]
        if major not in READABLE_MAJOR_VERSIONS:
            raise EmailEventError(
                "detail.schemaVersion",
                f"{version!r} is not supported (this reader reads "
                f"{' and '.join(v + '.x' for v in READABLE_MAJOR_VERSIONS)})",
            )
        message_id = string(detail, "messageId", "detail")
        status = literal(detail, "status", "detail", Status)
        kind = literal(root, "detail-type", "event", DetailType)
        if kind != DETAIL_TYPE_OF_STATUS[status]:
            raise EmailEventError(
                "detail-type", f"{kind!r} does not match detail.status {status!r}"
            )
        return cls(
            detail_type=kind,
            source=string(root, "source", "event"),
            event_id=optional_string(root, "id", "event"),
            schema_version=version,
            message_id=message_id,
            delivery_id=(message_id if major == "1" else string(detail, "deliveryId", "detail")),
            received_at=optional_string(detail, "receivedAt", "detail"),
            status=status,
            envelope=_envelope(json_object(detail.get("envelope"), "detail.envelope")),
            verdicts=_verdicts(json_object(detail.get("verdicts"), "detail.verdicts")),
            headers=_headers(json_object(detail.get("headers"), "detail.headers")),
            text=_body(detail.get("text"), "detail.text"),
            html=_body(detail.get("html"), "detail.html"),
            attachments=tuple(
                _attachment(json_object(item, f"detail.attachments[{index}]"), index)
                for index, item in enumerate(array(detail, "attachments", "detail"))
            ),
            location=_location(json_object(detail.get("location"), "detail.location")),
            truncated=boolean(detail, "truncated", "detail"),
            error=optional_string(detail, "error", "detail"),
            conversation=_conversation(detail.get("conversation")),
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


def _conversation(value: object) -> MailConversation | None:
    if value is None:
        return None
    path = "detail.conversation"
    fields = json_object(value, path)
    status = fields.get("deliveryStatus")
    permanent = None
    failed: tuple[str, ...] = ()
    if status is not None:
        status_path = f"{path}.deliveryStatus"
        status_fields = json_object(status, status_path)
        permanent = boolean(status_fields, "permanent", status_path)
        recipients = array(status_fields, "recipients", status_path)
        failed = tuple(
            string(item, "address", f"{status_path}.recipients[{index}]")
            for index, item in enumerate(
                json_object(entry, f"{status_path}.recipients[{position}]")
                for position, entry in enumerate(recipients)
            )
            if item.get("action") == "failed"
        )
    address = fields.get("replyAddress")
    reply_address = None
    if address is not None:
        address_path = f"{path}.replyAddress"
        address_fields = json_object(address, address_path)
        reply_address = ReplyAddressInfo(
            address=string(address_fields, "address", address_path),
            payload=optional_string(address_fields, "payload", address_path),
            valid=boolean(address_fields, "valid", address_path),
        )
    return MailConversation(
        kind=literal(fields, "kind", path, MailKindName),
        thread_id=string(fields, "threadId", path),
        reply_text=optional_string(fields, "replyText", path),
        reply_signature=optional_string(fields, "replySignature", path),
        permanent_failure=permanent,
        failed_recipients=failed,
        feedback_type=optional_string(fields, "feedbackType", path),
        list_id=optional_string(fields, "listId", path),
        reply_address=reply_address,
    )


def _envelope(value: Mapping[str, Any]) -> Envelope:
    path = "detail.envelope"
    return Envelope(
        source=string(value, "source", path),
        recipients=strings(value, "recipients", path),
        destination=strings(value, "destination", path),
    )


def _verdicts(value: Mapping[str, Any]) -> MailVerdicts:
    path = "detail.verdicts"
    rejection = value.get("rejection")
    rejected_by: tuple[VerdictName, ...] = ()
    if rejection is not None:
        rejection_path = f"{path}.rejection"
        names = array(json_object(rejection, rejection_path), "verdicts", rejection_path)
        rejected_by = tuple(
            choice(name, f"{rejection_path}.verdicts[{index}]", VerdictName)
            for index, name in enumerate(names)
        )
    return MailVerdicts(
        spam=optional_literal(value, "spam", path, VerdictStatus),
        virus=optional_literal(value, "virus", path, VerdictStatus),
        spf=optional_literal(value, "spf", path, VerdictStatus),
        dkim=optional_literal(value, "dkim", path, VerdictStatus),
        dmarc=optional_literal(value, "dmarc", path, VerdictStatus),
        dmarc_policy=optional_string(value, "dmarcPolicy", path),
        rejected_by=rejected_by,
    )


def _headers(value: Mapping[str, Any]) -> MailHeaders:
    path = "detail.headers"
    return MailHeaders(
        from_=_addresses(value, "from", path),
        to=_addresses(value, "to", path),
        cc=_addresses(value, "cc", path),
        reply_to=_addresses(value, "replyTo", path),
        subject=optional_string(value, "subject", path),
        date=optional_string(value, "date", path),
        date_iso=optional_string(value, "dateIso", path),
        message_id=optional_string(value, "messageId", path),
        in_reply_to=optional_string(value, "inReplyTo", path),
        references=strings(value, "references", path),
    )


def _addresses(container: Mapping[str, Any], key: str, path: str) -> tuple[MailAddress, ...]:
    result = []
    for index, item in enumerate(array(container, key, path)):
        item_path = f"{path}.{key}[{index}]"
        entry = json_object(item, item_path)
        result.append(
            MailAddress(
                name=string(entry, "name", item_path),
                address=string(entry, "address", item_path),
            )
        )
    return tuple(result)


def _body(value: object, path: str) -> Body | None:
    if value is None:
        return None
    body = json_object(value, path)
    return Body(
        content=string(body, "content", path),
        truncated=boolean(body, "truncated", path),
        size=integer(body, "size", path),
    )


def _attachment(value: Mapping[str, Any], position: int) -> AttachmentRef:
    path = f"detail.attachments[{position}]"
    return AttachmentRef(
        index=integer(value, "index", path),
        filename=optional_string(value, "filename", path),
        content_type=string(value, "contentType", path),
        size=integer(value, "size", path),
        sha256=string(value, "sha256", path),
        key=optional_string(value, "key", path),
    )


def _location(value: Mapping[str, Any]) -> Location:
    path = "detail.location"
    return Location(
        bucket=optional_string(value, "bucket", path),
        message_key=optional_string(value, "messageKey", path),
        raw_key=optional_string(value, "rawKey", path),
    )

"""What kind of mail a message is: a person's message, an automatic reply, a bounce, a list post.

Pure: reads the top-level headers of a parsed message (and, for reports, their machine-readable
part) plus the envelope sender. Every rule names its source; the first rule that matches decides,
in this order (most specific first, so that a bounce that also says ``Auto-Submitted`` is a
bounce):

1. ``delivery_status``: ``multipart/report; report-type=delivery-status`` (RFC 3464 section 2),
   or ``global-delivery-status`` (RFC 6533 section 6); the per-recipient fields give the failed
   and delayed recipients and whether each failure is permanent (RFC 3463 section 3.1: status
   class 5 is a permanent failure, 4 a persistent transient one).
2. ``feedback_report``: ``multipart/report; report-type=feedback-report`` (RFC 5965 section 2).
3. ``auto_reply``: ``Auto-Submitted: auto-replied`` (RFC 3834 section 5.2), or a header that
   vacation and out-of-office responders write although no RFC defines it: ``X-Autoreply``,
   ``X-Autorespond``, ``X-Auto-Response-Suppress: All`` (Microsoft Exchange marks its own
   automatic replies so; [MS-OXCMAIL] section 2.2.3.2.14 defines the header),
   ``Precedence: auto_reply``.
4. ``auto_generated``: any other ``Auto-Submitted`` value but ``no`` (RFC 3834 section 5:
   ``auto-generated``; RFC 5436 section 2.7.1: ``auto-notified``); a read receipt
   (``report-type=disposition-notification``, RFC 8098 section 3); ``Precedence: bulk`` or
   ``junk`` (non-standard, listed by RFC 2076 section 3.9); a null envelope sender, which
   RFC 5321 section 4.5.5 reserves for notifications.
5. ``list``: a ``List-Id`` (RFC 2919 section 3), any ``List-*`` field of RFC 2369 section 3
   (``List-Help``, ``List-Unsubscribe``, ``List-Subscribe``, ``List-Post``, ``List-Owner``,
   ``List-Archive``), or ``Precedence: list`` (RFC 2076 section 3.9).
6. ``person``: none of the above.

Limits: a bounce in a proprietary format (no ``multipart/report``) is ``auto_generated`` when its
envelope sender is null, else ``person``; the header rules trust what the sender wrote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import cast

from . import contract
from .text import without_controls

PERSON = contract.KIND_PERSON
AUTO_REPLY = contract.KIND_AUTO_REPLY
AUTO_GENERATED = contract.KIND_AUTO_GENERATED
DELIVERY_STATUS = contract.KIND_DELIVERY_STATUS
FEEDBACK_REPORT = contract.KIND_FEEDBACK_REPORT
LIST = contract.KIND_LIST

KINDS: tuple[str, ...] = (
    PERSON,
    AUTO_REPLY,
    AUTO_GENERATED,
    DELIVERY_STATUS,
    FEEDBACK_REPORT,
    LIST,
)
"""The vocabulary of ``kind``, in no particular order."""

AUTOMATIC_KINDS = frozenset({AUTO_REPLY, AUTO_GENERATED, DELIVERY_STATUS, FEEDBACK_REPORT})
"""Kinds that RFC 3834 section 2 says an automatic responder must not answer (lists too, see
:data:`NO_AUTO_REPLY_KINDS`)."""

NO_AUTO_REPLY_KINDS = AUTOMATIC_KINDS | {LIST}

MAX_REPORTED_RECIPIENTS = 100
"""At most this many recipients of a delivery status notification are reported."""
MAX_REPORT_CHARS = 1024 * 1024
"""At most this many bytes of a report part are read."""
_MAX_FIELD_CHARS = 998  # RFC 5322 section 2.1.1: a line is at most 998 characters
_LIST_FIELDS = (
    "list-id",
    "list-help",
    "list-unsubscribe",
    "list-subscribe",
    "list-post",
    "list-owner",
    "list-archive",
)
_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})")
_ADDRESS_TYPE = re.compile(r"^\s*[A-Za-z0-9-]+\s*;\s*")
_NULL_SENDERS = frozenset({"", "<>"})


@dataclass(frozen=True, slots=True)
class ReportedRecipient:
    """One recipient of a delivery status notification whose delivery failed or is delayed."""

    address: str
    """``Final-Recipient`` without its address type (RFC 3464 section 2.3.2)."""
    action: str
    """``failed`` or ``delayed`` (RFC 3464 section 2.3.3)."""
    status: str | None
    """The RFC 3463 status code, e.g. ``5.1.1``; ``None`` when absent or malformed."""
    permanent: bool
    """Delivery failed and will not be retried: action ``failed`` with a status of class 5,
    or with no usable status (RFC 3464 section 2.3.3: ``failed`` means it could not be
    delivered)."""
    diagnostic: str | None
    """``Diagnostic-Code`` as the reporting MTA wrote it (RFC 3464 section 2.3.6)."""


@dataclass(frozen=True, slots=True)
class Classification:
    """The classification of one message."""

    kind: str
    """One of :data:`KINDS`."""
    reason: str
    """The rule that decided, e.g. ``Auto-Submitted: auto-replied``."""
    recipients: tuple[ReportedRecipient, ...] = ()
    """For ``delivery_status``: the failed and delayed recipients (at most
    :data:`MAX_REPORTED_RECIPIENTS`)."""
    permanent: bool | None = None
    """For ``delivery_status``: some recipient failed permanently; else ``None``."""
    feedback_type: str | None = None
    """For ``feedback_report``: ``Feedback-Type`` (RFC 5965 section 3.1), lowercased."""
    list_id: str | None = None
    """For ``list``: the ``List-Id`` value (RFC 2919), when there is one."""
    notes: tuple[str, ...] = field(default=(), compare=False)


def classify(message: Message, *, envelope_source: str | None = None) -> Classification:
    """Classify ``message`` (a parsed tree; only its top level and report parts are read).

    ``envelope_source`` is the SMTP ``MAIL FROM`` (SES ``mail.source``); ``None`` when unknown.
    Never raises on malformed input: an unreadable report part is classified by its
    content type alone, with a note.
    """
    report_type = _report_type(message)
    if report_type in ("delivery-status", "global-delivery-status"):
        return _delivery_status(message, report_type)
    if report_type == "feedback-report":
        return _feedback_report(message)
    auto_submitted = _field(message, "auto-submitted")
    auto_value = _token(auto_submitted)
    precedence = _token(_field(message, "precedence"))
    if auto_value == "auto-replied":
        return Classification(AUTO_REPLY, f"Auto-Submitted: {auto_value}")
    vendor = _vendor_auto_reply(message, precedence)
    if vendor:
        return Classification(AUTO_REPLY, vendor)
    if auto_value and auto_value != "no":
        return Classification(AUTO_GENERATED, f"Auto-Submitted: {auto_value}")
    if report_type == "disposition-notification":
        return Classification(
            AUTO_GENERATED, "multipart/report; report-type=disposition-notification"
        )
    if precedence in ("bulk", "junk"):
        return Classification(AUTO_GENERATED, f"Precedence: {precedence}")
    if envelope_source is not None and envelope_source.strip() in _NULL_SENDERS:
        return Classification(AUTO_GENERATED, "null envelope sender")
    list_id = _field(message, "list-id")
    if list_id is not None:
        return Classification(LIST, "List-Id", list_id=list_id)
    for name in _LIST_FIELDS[1:]:
        if _field(message, name) is not None:
            return Classification(LIST, _title(name))
    if precedence == "list":
        return Classification(LIST, "Precedence: list")
    return Classification(PERSON, "no automatic or list header")


def _vendor_auto_reply(message: Message, precedence: str | None) -> str | None:
    autoreply = _field(message, "x-autoreply")
    if autoreply is not None and _token(autoreply) not in ("no", "false"):
        return "X-Autoreply"
    if _field(message, "x-autorespond") is not None:
        return "X-Autorespond"
    suppress = _field(message, "x-auto-response-suppress")
    if suppress is not None and "all" in {item.strip().lower() for item in suppress.split(",")}:
        return "X-Auto-Response-Suppress: All"
    if precedence == "auto_reply":
        return "Precedence: auto_reply"
    return None


def _delivery_status(message: Message, report_type: str) -> Classification:
    reason = f"multipart/report; report-type={report_type}"
    notes: list[str] = []
    recipients: list[ReportedRecipient] = []
    part = _report_part(message, ("message/delivery-status", "message/global-delivery-status"))
    groups = _field_groups(part, notes) if part is not None else []
    if part is None:
        notes.append("no delivery-status part")
    # RFC 3464 section 2.1: the first group holds the per-message fields, each later group one
    # recipient's.
    for group in groups[1:]:
        recipient = _recipient(group)
        if recipient is None:
            continue
        if len(recipients) >= MAX_REPORTED_RECIPIENTS:
            notes.append(f"more than {MAX_REPORTED_RECIPIENTS} recipients; the rest not reported")
            break
        recipients.append(recipient)
    permanent = any(item.permanent for item in recipients)
    return Classification(
        DELIVERY_STATUS,
        reason,
        recipients=tuple(recipients),
        permanent=permanent,
        notes=tuple(notes),
    )


def _recipient(group: Mapping[str, str]) -> ReportedRecipient | None:
    action = _token(group.get("action"))
    if action not in ("failed", "delayed"):
        return None  # delivered, relayed, expanded: nothing went wrong for this one
    final = group.get("final-recipient") or group.get("original-recipient") or ""
    address = _ADDRESS_TYPE.sub("", final).strip().strip("<>")
    found = _STATUS.match(group.get("status") or "")
    status = ".".join(found.groups()) if found else None
    permanent = action == "failed" and (status is None or status.startswith("5."))
    return ReportedRecipient(
        address=address,
        action=action,
        status=status,
        permanent=permanent,
        diagnostic=group.get("diagnostic-code"),
    )


def _field_groups(part: Message, notes: list[str]) -> list[dict[str, str]]:
    """The field groups of a report part: header-like fields, groups split by empty lines.

    :func:`ses_mail.parse_message` keeps a ``message/*`` body as the text that arrived, so the
    groups are read here (RFC 3464 section 2.1, RFC 5965 section 3: the same syntax as message
    header fields). Only the first :data:`MAX_REPORT_CHARS` characters are read; the first value
    of a field counts. The stdlib's own parser makes a message of each group of a
    ``message/delivery-status`` part; their fields are read as they are.
    """
    blocks = part.get_payload()
    if isinstance(blocks, list):
        # The stdlib's own parser splits message/delivery-status into one message per group;
        # the fields are the same, read from those messages.
        found = [_block_fields(block) for block in blocks if isinstance(block, Message)]
        return [group for group in found if group]
    # Not a list, so the payload is text, which get_payload(decode=True) always returns as bytes.
    payload = cast(bytes, part.get_payload(decode=True))
    if len(payload) > MAX_REPORT_CHARS:
        notes.append(f"report part over {MAX_REPORT_CHARS} bytes; only its start was read")
        payload = payload[:MAX_REPORT_CHARS]
    text = payload.decode("utf-8", "replace").replace("\r\n", "\n")
    groups: list[dict[str, str]] = []
    for block in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        name = ""
        for line in block.split("\n"):
            if line[:1] in (" ", "\t") and name:
                fields[name] = f"{fields[name]} {line.strip()}"
                continue
            head, colon, value = line.partition(":")
            if not colon:
                name = ""
                continue
            name = head.strip().lower()
            if name in fields:
                name = ""  # a repeated field: the first one counts
                continue
            fields[name] = value.strip()
        if fields:
            groups.append(
                {key: without_controls(value[:_MAX_FIELD_CHARS]) for key, value in fields.items()}
            )
    return groups


def _block_fields(block: Message) -> dict[str, str]:
    """The fields of one group that the stdlib's parser made a message of; first value counts."""
    fields: dict[str, str] = {}
    for key, value in block.raw_items():
        name = key.strip().lower()
        if name not in fields:
            fields[name] = without_controls(" ".join(str(value).split())[:_MAX_FIELD_CHARS])
    return fields


def _feedback_report(message: Message) -> Classification:
    reason = "multipart/report; report-type=feedback-report"
    notes: list[str] = []
    part = _report_part(message, ("message/feedback-report",))
    groups = _field_groups(part, notes) if part is not None else []
    feedback_type = _token(groups[0].get("feedback-type")) if groups else None
    if not feedback_type:
        notes.append("no Feedback-Type found")
    return Classification(FEEDBACK_REPORT, reason, feedback_type=feedback_type, notes=tuple(notes))


def _report_type(message: Message) -> str | None:
    if message.get_content_type() != "multipart/report":
        return None
    value = message.get_param("report-type", header="content-type")
    return value.strip().lower() if isinstance(value, str) else None


def _report_part(message: Message, types: tuple[str, ...]) -> Message | None:
    payload = message.get_payload()
    if not isinstance(payload, list):
        return None
    for part in payload:
        if isinstance(part, Message) and part.get_content_type() in types:
            return part
    return None


def _field(message: Message, name: str) -> str | None:
    """The first value of header ``name``, unfolded and bounded; ``None`` when absent."""
    for key, value in message.raw_items():
        if key.strip().lower() == name and isinstance(value, str):
            text = " ".join(value.split())[:_MAX_FIELD_CHARS]
            return without_controls(text)
    return None


def _token(value: str | None) -> str | None:
    """The first word of a field, lowercased, without RFC 5322 comments or parameters."""
    if value is None:
        return None
    head = re.split(r"[;(\s]", value.strip(), maxsplit=1)[0]
    return head.lower() or None


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))

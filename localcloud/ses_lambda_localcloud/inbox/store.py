"""What the inbox page and its JSON API show, read from what the local cloud already records.

Sources, all in this process: the receiver's message records (rules, actions, Lambda attempts
with their logs and results, the objects written), the EventBridge journal (events put, rules
matched, each target's outcome and invocations), the outbox (mail SES sent) and the bounces.
The inbox adds one thing of its own: a copy of each accepted message as stored (a hard link to
the spool file, which the receiver deletes once the message is processed), so that its body,
headers, source and attachments can be shown afterwards.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from ..eventbridge import delivery
from ..outbox import OUTBOX, SentMessage
from ..receiving.records import MessageRecord

log = logging.getLogger(__name__)

#: The statuses a message shows in the list (and the search filter takes).
STATUSES = ("accepted", "rejected", "bounced", "processed", "failed")

#: Copies of stored messages kept (oldest removed first): as many as the receiver keeps
#: records of (``receiving.receiver``).
KEPT_COPIES = 500

#: The largest text or HTML body the API returns inline; a longer one is cut, and says so.
MAX_INLINE_BODY = 2 * 1024 * 1024


class NotFound(LookupError):
    pass


class BadRequest(ValueError):
    pass


class Conflict(RuntimeError):
    """The request is well formed but cannot be done in the message's present state."""


def status_of(record: dict[str, Any]) -> str:
    """One word for the list: rejected, bounced, failed, processed, or accepted (not finished)."""
    if record["status"] == "rejected":
        return "rejected"
    if record["status"] == "failed":
        return "failed"
    if any(rule.get("bounced") for rule in record.get("rules", [])) or any(
        action["type"] == "Bounce" for rule in record.get("rules", []) for action in rule["actions"]
    ):
        return "bounced"
    if record["status"] == "done":
        return "processed"
    return "accepted"


class Changes:
    """A counter that goes up with every change the page should see, and a way to wait for it."""

    def __init__(self) -> None:
        self._version = 0
        self._condition = threading.Condition()
        self.closed = False

    @property
    def version(self) -> int:
        with self._condition:
            return self._version

    def bump(self) -> None:
        with self._condition:
            self._version += 1
            self._condition.notify_all()

    def wait_after(self, version: int, timeout: float) -> int:
        """Wait until the counter passes ``version`` (or ``timeout``); returns the counter."""
        with self._condition:
            self._condition.wait_for(lambda: self._version > version or self.closed, timeout)
            return self._version

    def close(self) -> None:
        with self._condition:
            self.closed = True
            self._condition.notify_all()


@dataclass(frozen=True)
class Filter:
    """A search: ``q`` in the sender, a recipient or the subject; ``status`` one of
    ``STATUSES``; ``to``/``sender``/``subject`` each a case-insensitive part of that field."""

    q: str = ""
    status: str = ""
    to: str = ""
    sender: str = ""
    subject: str = ""

    @classmethod
    def from_args(cls, args: Any) -> Filter:
        status = (args.get("status") or "").strip().lower()
        if status and status not in STATUSES:
            raise BadRequest(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
        return cls(
            q=(args.get("q") or "").strip().lower(),
            status=status,
            to=(args.get("to") or "").strip().lower(),
            sender=(args.get("from") or "").strip().lower(),
            subject=(args.get("subject") or "").strip().lower(),
        )

    def matches(self, summary: dict[str, Any]) -> bool:
        sender = (summary["from"] or "").lower()
        recipients = [r.lower() for r in summary["to"]] + [
            item["recipient"].lower() for item in summary.get("rejected") or []
        ]
        subject = (summary["subject"] or "").lower()
        if self.status and summary["status"] != self.status:
            return False
        if self.to and not any(self.to in r for r in recipients):
            return False
        if self.sender and self.sender not in sender:
            return False
        if self.subject and self.subject not in subject:
            return False
        return not self.q or any(self.q in text for text in [sender, subject, *recipients])


class Inbox:
    """The inbox's view of one running local cloud."""

    def __init__(self, cloud: Any, raw_dir: Path) -> None:
        self.cloud = cloud
        self.raw_dir = raw_dir
        self.changes = Changes()
        self._removers: list[Callable[[], None]] = []
        self._kept: deque[str] = deque()
        self._kept_lock = threading.Lock()
        self._replay_lock = threading.Lock()

    # --- wiring ----------------------------------------------------------------------------

    def attach(self) -> None:
        self.raw_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.raw_dir.glob("*.eml"):  # records do not outlive the process
            stale.unlink(missing_ok=True)
        receiver = self.cloud.receiver
        receiver.listeners.append(self._on_record)
        self._removers.append(lambda: _remove(receiver.listeners, self._on_record))
        self._removers.append(OUTBOX.on_send(lambda _message: self.changes.bump()))

    def detach(self) -> None:
        for remove in self._removers:
            remove()
        self._removers.clear()
        self.changes.close()

    def _on_record(self, record: MessageRecord) -> None:
        if record.status == "queued":
            self._keep_copy(record.message_id)
        self.changes.bump()

    def _keep_copy(self, message_id: str) -> None:
        spooled = self.cloud.receiver.spool_dir / f"{message_id}.eml"
        kept = self._raw_path(message_id)
        try:
            os.link(spooled, kept)  # the spool file is deleted once processed: keep its inode
        except FileExistsError:
            pass
        except OSError:
            try:
                shutil.copyfile(spooled, kept)
            except OSError:
                log.warning("the inbox could not keep a copy of %s", message_id, exc_info=True)
                return
        with self._kept_lock:
            self._kept.append(message_id)
            while len(self._kept) > KEPT_COPIES:
                self._raw_path(self._kept.popleft()).unlink(missing_ok=True)

    def _raw_path(self, message_id: str) -> Path:
        if not message_id or "/" in message_id or message_id.startswith("."):
            raise NotFound(f"no message {message_id!r}")
        return self.raw_dir / f"{message_id}.eml"

    # --- messages --------------------------------------------------------------------------

    def _records(self) -> list[MessageRecord]:
        return list(self.cloud.receiver.records.values())

    def _record(self, message_id: str) -> MessageRecord:
        record: MessageRecord | None = self.cloud.receiver.records.get(message_id)
        if record is None:
            raise NotFound(f"no message {message_id!r}")
        return record

    def summaries(
        self, search: Filter | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Newest first, at most ``limit``. Read from the records' fields directly: the list
        is fetched on every change while the page is open, and a record's full copy
        (``to_dict``) carries every log line."""
        found: list[dict[str, Any]] = []
        for record in reversed(self._records()):
            item = record_summary(record)
            if search is None or search.matches(item):
                found.append(item)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def raw(self, message_id: str) -> bytes:
        self._record(message_id)
        try:
            return self._raw_path(message_id).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"the source of {message_id!r} was not kept") from None

    def parsed(self, message_id: str) -> EmailMessage:
        message = BytesParser(policy=email_policy.default).parsebytes(self.raw(message_id))
        assert isinstance(message, EmailMessage)
        return message

    def detail(self, message_id: str) -> dict[str, Any]:
        """One message: its summary, the record, its content and its timeline."""
        record = self._record(message_id).to_dict()
        events = [event.to_dict() for event in delivery.JOURNAL.events(message_id)]
        data = summary(record)
        data["record"] = record
        data["events"] = events
        data["timeline"] = timeline(record, events)
        replaying = any(
            action["detail"].get("replaying")
            for rule in record.get("rules", [])
            for action in rule["actions"]
        )
        data["complete"] = (
            record["finished"] and not replaying and all(e["complete"] for e in events)
        )
        try:
            data["content"] = content(self.parsed(message_id))
        except NotFound as missing:
            data["content"] = None
            data["contentMissing"] = str(missing)
        return data

    def replay(self, message_id: str, rule: Any, action: Any) -> dict[str, Any]:
        """Invoke a failed Lambda action's function again with the event it was given, with
        the same invocation type, and add the outcome to that action as new attempts.

        Only that action runs again: the actions after it in the rule, and the rules after
        it, ran (or were skipped) when the message arrived, and stay as they were. The
        invocation runs in the background; the page sees its outcome as a change.
        """
        from ..moto_ext.moto_internals import lambda_backends
        from ..moto_ext.ses_checks import lambda_invoke_decision, rule_arn
        from ..policy import Decision

        record = self._record(message_id)
        if not record.done.is_set():
            raise Conflict(f"{message_id} is still being processed")
        rule_record = _indexed(record.rules, rule, "rule")
        outcome = _indexed(rule_record.actions, action, "action")
        detail = outcome.detail
        where = f"action {action} of rule {rule} ({rule_record.rule})"
        if outcome.type != "Lambda":
            raise BadRequest(f"action: {where} is a {outcome.type} action, not a Lambda action")
        if outcome.status != "failed":
            raise BadRequest(f"action: {where} did not fail (its status is {outcome.status})")
        if "event" not in detail:
            raise Conflict(
                f"{where} kept no event to replay: "
                + str(detail.get("eventNotKept") or "its function was never invoked")
            )
        receiver = self.cloud.receiver
        function_arn = detail["functionArn"]
        source_arn = rule_arn(
            receiver.region, receiver.account_id, record.rule_set or "", rule_record.rule
        )
        # SES invokes the function again: the function's policy must still let it.
        decision = lambda_invoke_decision(receiver.ses, function_arn, source_arn)
        if decision is not Decision.ALLOW:
            raise Conflict(
                f"SES could not invoke {function_arn}: "
                + ("it does not exist" if decision is None else "its policy does not allow it")
            )
        fn = lambda_backends[receiver.account_id][receiver.region].get_function(function_arn)
        with self._replay_lock:
            if detail.get("replaying"):
                raise Conflict(f"{where} is already being replayed")
            detail["replaying"] = True
        self.changes.bump()
        event = detail["event"]
        sent_before = len(OUTBOX)
        invocation_type = detail.get("invocationType") or "Event"

        def finish(attempts: Callable[[], list[Any]]) -> None:
            try:
                _record_replay(outcome, attempts(), sent_before)
            except Exception:
                log.exception("the replay of %s in %s failed", where, message_id)
            finally:
                detail.pop("replaying", None)
                self.changes.bump()

        if invocation_type == "RequestResponse":
            from .. import lambda_runner
            from ..lifecycle import WORK

            WORK.spawn(
                lambda: finish(lambda: [lambda_runner.invoke(fn, event)]),
                name=f"inbox-replay-{fn.function_name}",
            )
        else:
            from .. import lambda_async

            queued = lambda_async.submit(fn, event)
            queued.add_done_callback(lambda item: finish(item.wait))
        return {"replaying": True, "rule": rule, "action": action, "functionArn": function_arn}

    def attachment(self, message_id: str, index: int) -> tuple[str, str, bytes]:
        return attachment_of(self.parsed(message_id), index)

    def html_body(self, message_id: str) -> str | None:
        return html_of(self.parsed(message_id))

    def wait_for(
        self, search: Filter, timeout: float, *, finished: bool = True
    ) -> dict[str, Any] | None:
        """The newest message matching ``search`` (finished, unless told otherwise), waiting up
        to ``timeout`` seconds for one."""
        deadline = time.monotonic() + timeout
        while True:
            version = self.changes.version
            for item in self.summaries(search):
                if item["finished"] or not finished:
                    return item
            left = deadline - time.monotonic()
            if left <= 0 or self.changes.closed:
                return None
            self.changes.wait_after(version, left)

    def delete_all(self) -> int:
        """Forget every finished message (with its copy), the sent mail, the bounces and the
        events journal. Messages still being processed stay."""
        receiver = self.cloud.receiver
        removed = 0
        for message_id, record in list(receiver.records.items()):
            if record.done.is_set():
                receiver.records.pop(message_id, None)
                self._raw_path(message_id).unlink(missing_ok=True)
                removed += 1
        receiver.bounces.clear()
        OUTBOX.clear()
        delivery.JOURNAL.clear()
        self.changes.bump()
        return removed

    # --- sent mail -------------------------------------------------------------------------

    def sent(self) -> list[dict[str, Any]]:
        """Newest first."""
        return [sent_summary(m) for m in reversed(OUTBOX.messages())]

    def sent_message(self, message_id: str) -> SentMessage:
        for message in OUTBOX.messages():
            if message.message_id == message_id:
                return message
        raise NotFound(f"no sent message {message_id!r}")

    def sent_detail(self, message_id: str) -> dict[str, Any]:
        message = self.sent_message(message_id)
        data = sent_summary(message)
        parsed = BytesParser(policy=email_policy.default).parsebytes(message.raw)
        assert isinstance(parsed, EmailMessage)
        data["content"] = content(parsed)
        data["timeline"] = [
            _step(
                "sent",
                f"SES sent it to {', '.join(message.destinations)}",
                at=message.at,
                data={"source": message.source, "relay": message.relay},
            )
        ]
        return data

    def sent_parsed(self, message_id: str) -> EmailMessage:
        parsed = BytesParser(policy=email_policy.default).parsebytes(
            self.sent_message(message_id).raw
        )
        assert isinstance(parsed, EmailMessage)
        return parsed


def _indexed(items: list[Any], index: Any, name: str) -> Any:
    if isinstance(index, bool) or not isinstance(index, int):
        raise BadRequest(f"{name}: give the {name}'s index as a whole number; got {index!r}")
    if not 0 <= index < len(items):
        raise BadRequest(f"{name}: no {name} {index} (there are {len(items)})")
    return items[index]


def _record_replay(outcome: Any, attempts: list[Any], sent_before: int) -> None:
    """Add a replay's attempts to a Lambda action's record, marked as a replay, and set the
    action's status, result and error from the last of them."""
    from ..receiving.actions import _record_outcome
    from ..receiving.records import ActionRecord

    if not attempts:  # the queued event was dropped (the local cloud stopped or was reset)
        return
    detail = outcome.detail
    # The replay's own record, then merged: the earlier attempts and copies stay first.
    replayed = ActionRecord(outcome.type, "queued", {})
    _record_outcome(attempts, replayed, sent_before)
    new = replayed.detail
    detail["attempts"] = list(detail.get("attempts") or []) + [
        dict(attempt, replay=True) for attempt in new["attempts"]
    ]
    if new.get("sent"):
        detail["sent"] = list(detail.get("sent") or []) + new["sent"]
    for key in ("result", "logGroup", "logStream"):
        detail[key] = new[key]
    if replayed.status == "ok":
        detail.pop("error", None)
        detail.pop("event", None)  # nothing left to replay
    else:
        detail["error"] = new["error"]
    outcome.status = replayed.status


def _remove(items: list[Any], item: Any) -> None:
    if item in items:
        items.remove(item)


def summary(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["message_id"],
        "status": status_of(record),
        "from": record["mail_from"],
        "to": list(record["recipients"]),
        "rejected": list(record.get("rejected") or []),
        "subject": record.get("subject"),
        "size": record["size"],
        "receivedAt": record["received_at"],
        "finished": record["finished"],
    }


def record_summary(record: MessageRecord) -> dict[str, Any]:
    """``summary`` of a live record, without copying its rules."""
    if record.status in ("rejected", "failed"):
        status = record.status
    elif any(
        rule.bounced or any(action.type == "Bounce" for action in rule.actions)
        for rule in list(record.rules)
    ):
        status = "bounced"
    else:
        status = "processed" if record.status == "done" else "accepted"
    return {
        "id": record.message_id,
        "status": status,
        "from": record.mail_from,
        "to": list(record.recipients),
        "rejected": [dict(item) for item in record.rejected],
        "subject": record.subject,
        "size": record.size,
        "receivedAt": record.received_at,
        "finished": record.done.is_set(),
    }


def sent_summary(message: SentMessage) -> dict[str, Any]:
    headers = dict((name.lower(), value) for name, value in message.headers())
    return {
        "id": message.message_id,
        "status": "sent",
        "from": message.source,
        "to": list(message.destinations),
        "subject": headers.get("subject"),
        "size": message.size,
        "receivedAt": message.at,
        "relay": message.relay,
        "finished": True,
    }


# --- the message's content ------------------------------------------------------------------


def content(message: EmailMessage) -> dict[str, Any]:
    """Headers, text body, whether there is an HTML body, and the attachments (no bytes)."""
    text_part = message.get_body(("plain",))
    text = _text_of(text_part) if text_part is not None else None
    truncated = False
    if text is not None and len(text) > MAX_INLINE_BODY:
        text, truncated = text[:MAX_INLINE_BODY], True
    attachments = []
    for index, part in enumerate(_attachments(message)):
        payload = part.get_payload(decode=True)
        attachments.append(
            {
                "index": index,
                "filename": part.get_filename() or f"part-{index}",
                "contentType": part.get_content_type(),
                "size": len(payload) if isinstance(payload, bytes) else 0,
                "image": part.get_content_type() in INLINE_IMAGE_TYPES,
            }
        )
    return {
        "headers": [[name, str(value)] for name, value in message.items()],
        "text": text,
        "textTruncated": truncated,
        "hasHtml": message.get_body(("html",)) is not None,
        "attachments": attachments,
    }


#: Image types a browser may show as a thumbnail. Not SVG: an SVG document can carry scripts.
INLINE_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def _attachments(message: EmailMessage) -> list[Message]:
    if not message.is_multipart():
        return []
    return list(message.iter_attachments())


def attachment_of(message: EmailMessage, index: int) -> tuple[str, str, bytes]:
    parts = _attachments(message)
    if not 0 <= index < len(parts):
        raise NotFound(f"no attachment {index} (the message has {len(parts)})")
    part = parts[index]
    payload = part.get_payload(decode=True)
    return (
        part.get_filename() or f"part-{index}",
        part.get_content_type(),
        payload if isinstance(payload, bytes) else b"",
    )


def _text_of(part: Message) -> str:
    try:
        return str(part.get_content())  # type: ignore[attr-defined]
    except (LookupError, ValueError):  # an unknown or broken charset: show the bytes
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def html_of(message: EmailMessage) -> str | None:
    part = message.get_body(("html",))
    if part is None:
        return None
    return _text_of(part)[:MAX_INLINE_BODY]


# --- the timeline ---------------------------------------------------------------------------


def _step(kind: str, title: str, **extra: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"kind": kind, "title": title}
    step.update({key: value for key, value in extra.items() if value is not None})
    return step


def timeline(record: dict[str, Any], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The message's path, in order: received (or rejected), each matching rule and its
    actions (a Lambda action's attempts, the mail its function sent), the objects written,
    the events put and what each matched rule's targets did, then the notes and the error.

    Each step: ``kind``, ``title``, ``status`` (ok, failed, ...), and where known ``at`` (an
    ISO time or epoch seconds), ``durationMs``, ``logs`` (lines), ``data`` (the JSON it
    produced or received), ``objects``/``sent`` links, ``depth`` (nesting for display).
    """
    steps: list[dict[str, Any]] = []
    if record["status"] == "rejected":
        for item in record.get("rejected", []):
            steps.append(
                _step(
                    "rejected",
                    f"SMTP refused {item['recipient']}",
                    status="failed",
                    at=record["received_at"],
                    data={"reply": item["reply"]},
                )
            )
        return steps
    steps.append(
        _step(
            "received",
            f"received over SMTP{' (STARTTLS)' if record.get('tls') else ' (plain text)'} "
            f"for {', '.join(record['recipients'])}",
            status="ok",
            at=record["received_at"],
            data={"size": record["size"], "ruleSet": record.get("rule_set")},
        )
    )
    if record["finished"] and not record.get("rules"):
        steps.append(_step("rule", "no rule matched", status="skipped", depth=1))
    for rule_index, rule in enumerate(record.get("rules", [])):
        steps.append(
            _step(
                "rule",
                f"rule {rule['rule']} matched {', '.join(rule['recipients'])}",
                status="bounced" if rule.get("bounced") else "ok",
                depth=1,
                data={"bounced": rule["bounced"]} if rule.get("bounced") else None,
            )
        )
        for action_index, action in enumerate(rule["actions"]):
            replay = None
            if (
                record["finished"]
                and action["status"] == "failed"
                and "event" in (action.get("detail") or {})
                and not action["detail"].get("replaying")
            ):
                replay = {"rule": rule_index, "action": action_index}
            steps += _action_steps(action, replay)
    for written in record.get("objects") or []:
        steps.append(
            _step(
                "object",
                f"object written s3://{written['bucket']}/{written['key']}",
                status="ok",
                at=written["at"],
                depth=2,
                object={"bucket": written["bucket"], "key": written["key"]},
                data={"size": written["size"]},
            )
        )
    for event in events:
        steps += _event_steps(event)
    steps += denials(record)
    for note in record.get("notes", []):
        steps.append(_step("note", note, status="info"))
    if record.get("error"):
        steps.append(_step("error", record["error"], status="failed"))
    if not record["finished"]:
        steps.append(_step("pending", f"still {record['status']}", status="pending"))
    return steps


def denials(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Requests IAM refused while the message was processed, one ``denied`` step each.

    The local cloud does not enforce IAM yet; once it records refused requests (with the
    message they belong to), they become steps here (``kind`` ``denied``, ``status``
    ``failed``, ``data`` the request and the reason), and the page already shows them.
    """
    return [
        _step("denied", str(item.get("title", "request refused")), status="failed", data=item)
        for item in record.get("denials") or []
    ]


def _action_steps(
    action: dict[str, Any], replay: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """The action's step, its invocations and the mail they sent. ``replay`` (the rule's and
    the action's index) goes on the last invocation's step (or the action's, when the function
    never answered): the page shows a replay button there."""
    detail = dict(action.get("detail") or {})
    attempts = detail.pop("attempts", [])
    sent = detail.pop("sent", [])
    detail.pop("event", None)  # the event the function got: kept for a replay, not shown
    replaying = detail.pop("replaying", None)
    steps = [
        _step(
            "action",
            f"{action['type']} action" + _action_target(detail),
            status=action["status"],
            depth=2,
            data=detail,
        )
    ]
    for number, attempt in enumerate(attempts, start=1):
        steps.append(_invocation_step(attempt, number, depth=3))
    if replay is not None:
        steps[-1]["replay"] = replay
    if replaying:
        steps.append(_step("pending", "replaying the invocation", status="pending", depth=3))
    for copy in sent:
        steps.append(
            _step(
                "sent",
                f"SES sent {copy['messageId']} to {', '.join(copy['destinations'])}",
                status="ok",
                at=copy.get("at"),
                depth=3,
                sent=copy["messageId"],
                data=copy,
            )
        )
    return steps


def _action_target(detail: dict[str, Any]) -> str:
    if "functionArn" in detail:
        return f": {detail['functionArn'].rsplit(':', 1)[-1]} ({detail.get('invocationType')})"
    if "bucket" in detail:
        return f": s3://{detail['bucket']}/{detail.get('key', '')}"
    if "topicArn" in detail:
        return f": {detail['topicArn'].rsplit(':', 1)[-1]}"
    return ""


def _invocation_step(attempt: dict[str, Any], number: int, *, depth: int) -> dict[str, Any]:
    start = (
        f"cold start (init {attempt.get('initDurationMs')} ms)"
        if attempt.get("coldStart")
        else "warm start"
    )
    return _step(
        "invocation",
        f"{'replayed ' if attempt.get('replay') else ''}invocation {number} of "
        f"{attempt.get('functionName') or 'the function'}: "
        f"{'ok' if attempt['ok'] else 'error'}, {start}",
        status="ok" if attempt["ok"] else "failed",
        durationMs=attempt.get("durationMs"),
        depth=depth,
        logs=attempt.get("logLines") or [],
        data={
            "requestId": attempt.get("requestId"),
            "result" if attempt["ok"] else "error": (
                attempt.get("result") if attempt["ok"] else attempt.get("error")
            ),
            "environment": attempt.get("environment"),
            "interpreter": attempt.get("interpreter"),
        },
    )


def _event_steps(event: dict[str, Any]) -> list[dict[str, Any]]:
    steps = [
        _step(
            "event",
            f"event {event['detail_type']!r} from {event['source']} put on bus {event['bus']}",
            status="ok" if event["complete"] else "pending",
            at=event["event"].get("time"),
            depth=1,
            data=event["event"],
        )
    ]
    for rule in event["matched"]:
        steps.append(_step("event-rule", f"rule {rule['rule']} matched", status="ok", depth=2))
        for outcome in rule["targets"]:
            steps.append(
                _step(
                    "target",
                    f"target {outcome['id']} ({outcome['arn'].rsplit(':', 1)[-1]}): "
                    f"{outcome['status']} after {outcome['attempts']} attempt(s)",
                    status="ok" if outcome["status"] == "delivered" else outcome["status"],
                    depth=3,
                    data={
                        key: outcome.get(key)
                        for key in ("arn", "error", "dead_letter_queue")
                        if outcome.get(key)
                    },
                )
            )
            for number, attempt in enumerate(outcome.get("invocations", []), start=1):
                steps.append(_invocation_step(attempt, number, depth=4))
    unmatched = event["rules_checked"] - len(event["matched"])
    if unmatched:
        steps.append(
            _step(
                "event-rule", f"{unmatched} other rule(s) did not match", status="skipped", depth=2
            )
        )
    return steps

"""Local SES receiving: which recipients are accepted, and what the active rule set does.

SMTP-time decisions (SES Developer Guide, "Email receiving concepts",
https://docs.aws.amazon.com/ses/latest/dg/receiving-email-concepts.html): a recipient is
accepted only if its address or domain is a verified identity in the region and an enabled rule
of the *active* rule set matches it; everyone else gets SMTP 550. An accepted message is written
to the spool (stored, with the fields SES prepends) before the SMTP ``250`` reply and before any
action runs; a worker then evaluates the rules in order and runs each matching rule's actions in
order (``run``), each through the dispatch table of ``actions``:

- S3: the message (with the headers SES adds) at ``ObjectKeyPrefix + messageId``, after checking
  the bucket policy as SES would; KMS client-side encryption is not emulated;
- Lambda: the documented event; ``Event`` runs with Lambda's async retries and destinations,
  ``RequestResponse`` waits (30 s, SES's limit) and honours the returned ``disposition``
  (STOP_RULE, STOP_RULE_SET, CONTINUE); the function policy is checked as SES would;
- SNS (``content`` as UTF-8 or Base64, up to 150 KB), Stop, Bounce (recorded, no mail is sent),
  AddHeader; WorkMail and Connect are recorded as not emulated.

Every accepted and rejected message leaves a record (``records``) that ``show`` prints.

Nothing answered ``250`` is lost: next to each spooled message ``<id>.eml`` its envelope is
kept in ``<id>.json`` (both fsynced, the message renamed into place last). A message leaves the
spool once processed; one whose actions failed moves to ``spool/failed/`` to be looked at.
Stopping drains first (``LocalCloud.stop``); whatever is still in the spool when the receiver
starts (queued when a stop gave up waiting, or when the process was killed) is queued again,
oldest first, under its own message id: each such message is processed once more from the
start (a message cut off halfway may see its first actions twice).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy as email_policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from ..lifecycle import WORK
from ..object_journal import JOURNAL
from . import mail as mailmod
from .matching import identity_covers, matched_recipients, rule_enabled, rule_matches, split_address
from .records import ActionRecord, MessageRecord, RuleRecord
from .run import MessageRun, rule_scans
from .verdicts import LocalVerdicts

log = logging.getLogger(__name__)

#: Message records kept for ``show`` (oldest forgotten first): a local memory bound, not an SES
#: limit.
_MAX_RECORDS = 500
#: Bounces kept for ``show`` (oldest forgotten first): a local memory bound, not an SES limit.
_MAX_BOUNCES = 1000


class RecipientRejected(Exception):
    def __init__(self, reply: str):
        super().__init__(reply)
        self.reply = reply


class Receiver:
    """The SES side of receiving for one account and region (moto's backends)."""

    def __init__(self, *, account_id: str, region: str, spool_dir: Path) -> None:
        self.account_id = account_id
        self.region = region
        self.spool_dir = spool_dir
        self.records: OrderedDict[str, MessageRecord] = OrderedDict()
        self.bounces: list[dict[str, Any]] = []
        self._queue: queue.Queue[MessageRecord | None] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        #: Called with a record when it is added or finished (the inbox page's live updates).
        #: A listener must be quick and must not raise: it runs on the SMTP and worker threads.
        self.listeners: list[Callable[[MessageRecord], None]] = []
        self._stopping = False
        #: Replayed messages that found no active rule set (see ``process``).
        self._parked: list[MessageRecord] = []
        #: ``accept`` calls under way (SMTP sessions between DATA and their 250).
        self._accepting = 0

    # --- backends ------------------------------------------------------------------------

    @property
    def ses(self) -> Any:
        from ..moto_ext.moto_internals import ses_backends

        return ses_backends[self.account_id][self.region]

    def active_rule_set(self) -> Any:
        return self.ses.describe_active_receipt_rule_set()

    # --- SMTP time ----------------------------------------------------------------------

    def check_recipient(self, address: str) -> None:
        """Raise RecipientRejected with the SMTP reply when SES would refuse the recipient."""
        if split_address(address) is None:
            raise RecipientRejected(f"501 5.1.3 Bad recipient address syntax: <{address}>")
        active = self.active_rule_set()
        if active is None:
            raise RecipientRejected(
                f"550 5.1.1 <{address}>: Recipient address rejected: no receipt rule set is "
                f"active in {self.region}"
            )
        if not identity_covers(self.ses.email_identities.keys(), address):
            raise RecipientRejected(
                f"550 5.1.1 <{address}>: Recipient address rejected: the domain is not a "
                f"verified SES identity in {self.region}"
            )
        if not any(rule_enabled(r) and rule_matches(r, address) for r in active.rules):
            raise RecipientRejected(
                f"550 5.1.1 <{address}>: Recipient address rejected: no enabled rule of the "
                f"active rule set {active.name} matches it"
            )

    def record_rejection(self, mail_from: str, address: str, reply: str) -> None:
        log.warning("rejected %s (from %s): %s", address, mail_from or "<>", reply)
        record = MessageRecord(
            message_id=f"rejected-{time.time_ns()}",
            mail_from=mail_from,
            recipients=[],
            size=0,
            received_at=mailmod.iso_timestamp(datetime.now(UTC)),
            status="rejected",
            rejected=[{"recipient": address, "reply": reply}],
        )
        record.done.set()
        self._remember(record)

    def accept(
        self,
        *,
        mail_from: str,
        recipients: list[str],
        data: bytes,
        helo: str,
        peer_ip: str,
        tls: bool = False,
    ) -> MessageRecord:
        with self._lock:
            self._accepting += 1
        try:
            return self._accept(mail_from, recipients, data, helo, peer_ip, tls)
        finally:
            with self._lock:
                self._accepting -= 1

    def _accept(
        self,
        mail_from: str,
        recipients: list[str],
        data: bytes,
        helo: str,
        peer_ip: str,
        tls: bool,
    ) -> MessageRecord:
        """Store the message (spool file, fsynced) and queue it; called before the 250 reply.

        The stored copy is the sender's message after the fields SES prepends
        (``mail.ses_headers``), whose verdicts are the ones the event will carry. ``tls``: the
        message arrived after STARTTLS (decides ``TlsPolicy`` ``Require``; see ``process``).
        """
        moment = datetime.now(UTC)
        message_id = mailmod.new_message_id()
        scanned = self._scanned(recipients)
        verdicts = LocalVerdicts.for_message(mailmod.raw_headers(data), scanned=scanned)
        stored = (
            mailmod.ses_headers(
                mail_from=mail_from,
                recipients=recipients,
                message_id=message_id,
                helo=helo,
                peer_ip=peer_ip,
                region=self.region,
                moment=moment,
                verdicts=verdicts,
                message=data,
            )
            + data
        )
        return self._store(
            message_id, moment, stored, mail_from, recipients, tls=tls, scanned=scanned
        )

    def _store(
        self,
        message_id: str,
        moment: datetime,
        stored: bytes,
        mail_from: str,
        recipients: list[str],
        *,
        tls: bool,
        scanned: bool,
    ) -> MessageRecord:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        envelope = {
            "mailFrom": mail_from,
            "recipients": list(recipients),
            "receivedAt": moment.isoformat(),
            "tls": tls,
            "scanned": scanned,
        }
        _write_synced(self.spool_dir / f"{message_id}.json", json.dumps(envelope).encode())
        _write_synced(self.spool_dir / f"{message_id}.eml", stored)
        subject = _subject(stored)
        record = MessageRecord(
            message_id=message_id,
            mail_from=mail_from,
            recipients=list(recipients),
            size=len(stored),
            received_at=mailmod.iso_timestamp(moment),
            subject=subject,
            tls=tls,
            scanned=scanned,
        )
        record._moment = moment  # type: ignore[attr-defined]
        self._remember(record)
        self._log_accepted(record)
        self._queue.put(record)
        return record

    def _log_accepted(self, record: MessageRecord) -> None:
        log.info(
            "accepted %s from %s for %s (%d bytes)",
            record.message_id,
            record.mail_from or "<>",
            ", ".join(record.recipients),
            record.size,
        )

    def _scanned(self, recipients: list[str]) -> bool:
        """Some enabled rule of the active set that matches a recipient has ScanEnabled (SES
        scans per rule; the verdict fields of the stored copy exist once per message)."""
        active = self.active_rule_set()
        return active is not None and any(
            rule_enabled(rule) and rule_scans(rule) and matched_recipients(rule, recipients)
            for rule in active.rules
        )

    def _remember(self, record: MessageRecord) -> None:
        with self._lock:
            self.records[record.message_id] = record
            while len(self.records) > _MAX_RECORDS:
                self.records.popitem(last=False)
        self.changed(record)

    def changed(self, record: MessageRecord) -> None:
        for listener in list(self.listeners):
            try:
                listener(record)
            except Exception:
                log.exception("a record listener failed for %s", record.message_id)

    # --- the worker ---------------------------------------------------------------------

    def remember_bounce(self, bounce: dict[str, Any]) -> None:
        with self._lock:
            self.bounces.append(bounce)
            del self.bounces[:-_MAX_BOUNCES]

    def start(self) -> None:
        """Queue what the spool still holds, then start the worker."""
        if self._worker is None:
            self._stopping = False
            self.replay()
            self._worker = WORK.spawn(self._run, name="ses-receiver")

    def replay(self) -> list[MessageRecord]:
        """Queue every message left in the spool (oldest first); returns their records."""
        if not self.spool_dir.is_dir():
            return []
        for partial in self.spool_dir.glob(".*.tmp"):
            partial.unlink(missing_ok=True)  # never answered 250: the rename did not happen
        replayed = []
        messages = sorted(self.spool_dir.glob("*.eml"), key=lambda p: (p.stat().st_mtime, p.name))
        for path in messages:
            message_id = path.stem
            if message_id in self.records and not self.records[message_id].done.is_set():
                continue  # already queued in this process
            try:
                envelope = json.loads(path.with_suffix(".json").read_bytes())
                moment = datetime.fromisoformat(envelope["receivedAt"])
                record = MessageRecord(
                    message_id=message_id,
                    mail_from=str(envelope["mailFrom"]),
                    recipients=[str(r) for r in envelope["recipients"]],
                    size=path.stat().st_size,
                    received_at=mailmod.iso_timestamp(moment),
                    subject=_subject(path.read_bytes()),
                    tls=bool(envelope["tls"]),
                    scanned=bool(envelope["scanned"]),
                )
            except (OSError, ValueError, KeyError, TypeError) as problem:
                log.error(
                    "cannot replay %s (its envelope %s is unreadable: %s); moved to %s",
                    path.name,
                    path.with_suffix(".json").name,
                    problem,
                    self._failed_dir(),
                )
                self._move_to_failed(path)
                continue
            record._moment = moment  # type: ignore[attr-defined]
            record._replayed = True  # type: ignore[attr-defined]
            record.notes.append("replayed from the spool: accepted before the last stop")
            self._remember(record)
            self._queue.put(record)
            replayed.append(record)
        if replayed:
            log.info("replaying %d message(s) left in the spool", len(replayed))
        return replayed

    def _unpark(self) -> None:
        """Queue the waiting replayed messages once a rule set is active."""
        with self._lock:
            if not self._parked:
                return
        if self.active_rule_set() is None:
            return
        with self._lock:
            parked, self._parked = self._parked, []
        for record in parked:
            record.status = "queued"
            self._queue.put(record)

    def forget_spool(self) -> None:
        """Forget every message not yet processed (``reset``): the queue, the waiting ones and
        their spool files; ``spool/failed`` is kept."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        with self._lock:
            self._parked.clear()
        if self.spool_dir.is_dir():
            for path in [*self.spool_dir.glob("*.eml"), *self.spool_dir.glob("*.json")]:
                path.unlink(missing_ok=True)

    def drained(self) -> bool:
        """Nothing being accepted, queued or processed (Event invocations included)."""
        with self._lock:
            if self._accepting:
                return False
            records = list(self.records.values())
            parked = {id(record) for record in self._parked}
        # A record is done once every action has its outcome, Event invocations included;
        # a replayed message waiting for a rule set stays in the spool.
        return all(record.done.is_set() or id(record) in parked for record in records)

    def stopping(self) -> None:
        """From now on, a message whose processing fails stays in the spool for the next start
        (it was cut off by the stop), and the worker takes no further message."""
        self._stopping = True

    def stop(self, timeout: float = 10.0) -> None:
        """End the worker after the message it is processing; queued messages stay in the
        spool for the next start."""
        self._stopping = True
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout)
            self._worker = None
        # Whatever is left was spooled: the next start replays it.
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break

    def _run(self) -> None:
        while True:
            try:
                record = self._queue.get(timeout=1.0)
            except queue.Empty:
                self._unpark()
                continue
            if record is None or self._stopping:
                return
            record.processing_started = time.time()
            try:
                self.process(record)  # sets record.done, at once or when its invocations end
            except Exception as exc:  # never lose the worker; the record says what happened
                log.exception("processing %s failed", record.message_id)
                record.status = "failed"
                record.error = f"{type(exc).__name__}: {exc}"
                _collect_objects(record)
                record.done.set()
                self.changed(record)

    def wait(self, message_id: str, timeout: float) -> MessageRecord | None:
        record = self.records.get(message_id)
        if record is not None:
            record.done.wait(timeout)
        return record

    # --- processing ---------------------------------------------------------------------

    def process(self, record: MessageRecord) -> None:
        record.status = "processing"
        path = self.spool_dir / f"{record.message_id}.eml"
        message = path.read_bytes()
        moment: datetime = getattr(record, "_moment", datetime.now(UTC))
        active = self.active_rule_set()
        if active is None and getattr(record, "_replayed", False):
            # Replayed after a restart of the process: the resources are gone until the app
            # is deployed again. The message waits (in the spool) for a rule set to be active.
            record.status = "waiting"
            record.notes.append(
                "no rule set is active yet: the message waits in the spool until one is"
            )
            with self._lock:
                self._parked.append(record)
            return
        if active is None:
            record.notes.append("no rule set was active when processing started")
            record.status = "done"
            record.done.set()
            self.changed(record)
            return
        record.rule_set = active.name
        run = MessageRun(self, record, message, moment)
        for rule in list(active.rules):
            if not rule_enabled(rule):
                continue
            recipients = matched_recipients(rule, record.recipients)
            if not recipients:
                continue
            if rule.get("TlsPolicy") == "Require" and not record.tls:
                self._bounce_without_tls(run, rule, recipients)
                continue
            if run.run_rule(rule, recipients) == "STOP_RULE_SET":
                break
        run.settle(lambda: self._finish(record, path))

    def _finish(self, record: MessageRecord, path: Path) -> None:
        """Every action has its outcome (Event invocations included): the record is done."""
        try:
            record.status = (
                "failed"
                if any(a.status == "failed" for r in record.rules for a in r.actions)
                else "done"
            )
            if record.status == "done":
                path.unlink(missing_ok=True)
                path.with_suffix(".json").unlink(missing_ok=True)
            elif self._stopping:
                record.notes.append(
                    f"the local cloud stopped while it was processed: it stays in the spool "
                    f"({path}) and is processed again at the next start"
                )
            else:
                kept = self._move_to_failed(path)
                record.notes.append(f"the message is kept in {kept}")
            log.info("processed %s: %s", record.message_id, _summary(record))
        finally:
            _collect_objects(record)
            record.done.set()
            self.changed(record)

    def _failed_dir(self) -> Path:
        return self.spool_dir / "failed"

    def _move_to_failed(self, path: Path) -> Path:
        """Keep a message (and its envelope) out of the replay, for the user to look at."""
        target = self._failed_dir()
        target.mkdir(parents=True, exist_ok=True)
        for source in (path, path.with_suffix(".json")):
            if source.exists():
                source.replace(target / source.name)
        return target / path.name

    def _bounce_without_tls(
        self, run: MessageRun, rule: dict[str, Any], recipients: list[str]
    ) -> None:
        """``TlsPolicy`` ``Require``: "Amazon SES bounces emails that are not received over
        TLS" (SES API reference, ReceiptRule,
        https://docs.aws.amazon.com/ses/latest/APIReference/API_ReceiptRule.html). A bounce in
        SES receiving happens after the message was accepted (like the Bounce action, whose
        bounce message is sent from ``Sender``); the SMTP conversation already ended with 250.
        So the message is accepted, none of this rule's actions run, and a bounce to the
        envelope sender is recorded (the local cloud sends no mail). The reply code and text are
        the ones RFC 3207 section 4 gives a server that requires TLS. Other rules still run.
        """
        bounce = run.bounce(
            rule, "530", "5.7.0", "Must issue a STARTTLS command first (the rule requires TLS)"
        )
        run.record.rules.append(
            RuleRecord(rule=rule["Name"], recipients=recipients, bounced=bounce)
        )
        run.record.notes.append(
            f"rule {rule['Name']}: TlsPolicy Require and the message arrived without TLS: "
            "SES bounces it; none of the rule's actions ran"
        )


def _write_synced(path: Path, data: bytes) -> None:
    """Write ``path`` atomically and durably: a synced temporary file renamed into place."""
    partial = path.with_name(f".{path.name}.tmp")
    with open(partial, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _collect_objects(record: MessageRecord) -> None:
    """Every object stored while the message was processed (from the start of its rule set's
    run to the outcome of its last action, Event invocations included): SES's S3 action and
    whatever the functions wrote, in any bucket. Messages whose processing overlaps (Event
    invocations still running while the next message is processed) see each other's objects."""
    started = record.processing_started or time.time()
    record.objects = [write.to_dict() for write in JOURNAL.between(started, time.time())]


def _subject(message: bytes) -> str | None:
    try:
        parsed = BytesHeaderParser(policy=email_policy.default).parsebytes(
            message[: mailmod.header_block_end(message) + 4]
        )
        subject = parsed.get("Subject")
        return str(subject) if subject is not None else None
    except Exception:
        return None


def _summary(record: MessageRecord) -> str:
    parts = []
    for rule in record.rules:
        actions = ", ".join(f"{a.type}:{a.status}" for a in rule.actions)
        parts.append(f"rule {rule.rule} [{'bounced: no TLS' if rule.bounced else actions}]")
    return f"{record.status}; " + ("; ".join(parts) if parts else "no rule matched")


__all__ = ["ActionRecord", "MessageRecord", "Receiver", "RecipientRejected", "RuleRecord"]

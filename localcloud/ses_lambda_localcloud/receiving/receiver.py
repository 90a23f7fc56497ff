"""Local SES receiving: which recipients are accepted, and what the active rule set does.

SMTP-time decisions (SES_FACTS.md "The pipeline"): a recipient is accepted only if its address
or domain is a verified identity in the region and an enabled rule of the *active* rule set
matches it; everyone else gets SMTP 550. An accepted message is written to the spool (stored)
before the SMTP ``250`` reply and before any action runs; a worker then evaluates the rules in
order and runs each matching rule's actions in order:

- S3: the message (with the headers SES adds) at ``ObjectKeyPrefix + messageId``, after checking
  the bucket policy as SES would; KMS client-side encryption is not emulated;
- Lambda: the documented event; ``Event`` runs with Lambda's async retries and destinations,
  ``RequestResponse`` waits (30 s, SES's limit) and honours the returned ``disposition``
  (STOP_RULE, STOP_RULE_SET, CONTINUE); the function policy is checked as SES would;
- SNS (``content`` as UTF-8 or Base64, up to 150 KB), Stop, Bounce (recorded, no mail is sent),
  AddHeader; WorkMail and Connect are recorded as not emulated.

Every accepted and rejected message leaves a record (``records``) that ``show`` prints.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from email import policy as email_policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from .. import lambda_runner
from . import mail as mailmod
from .matching import identity_covers, matched_recipients, rule_enabled, rule_matches, split_address

log = logging.getLogger(__name__)

#: SES_FACTS.md: the SNS action carries the message only up to 150 KB; bigger mail bounces.
SNS_CONTENT_LIMIT = 150 * 1024
#: SES waits at most 30 seconds for a RequestResponse invocation.
REQUEST_RESPONSE_LIMIT_SECONDS = 30
#: Local only: a header that sets the verdicts, e.g. "X-LocalCloud-Verdicts: spam=FAIL".
VERDICT_OVERRIDE_HEADER = "X-LocalCloud-Verdicts"
_MAX_RECORDS = 500


@dataclass
class ActionRecord:
    type: str
    status: str  # "ok", "failed", "skipped"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class RuleRecord:
    rule: str
    recipients: list[str]
    actions: list[ActionRecord] = field(default_factory=list)


@dataclass
class MessageRecord:
    message_id: str
    mail_from: str
    recipients: list[str]
    size: int
    received_at: str
    status: str = "queued"  # queued -> processing -> done | failed; or "rejected"
    subject: str | None = None
    rule_set: str | None = None
    rules: list[RuleRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    rejected: list[dict[str, str]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("done", "rules")
        }
        data["rules"] = [asdict(rule) for rule in self.rules]
        data["finished"] = self.done.is_set()
        return data


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

    # --- backends ------------------------------------------------------------------------

    @property
    def ses(self) -> Any:
        from moto.ses.models import ses_backends

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
        self, *, mail_from: str, recipients: list[str], data: bytes, helo: str, peer_ip: str
    ) -> MessageRecord:
        """Store the message (spool file, fsynced) and queue it; called before the 250 reply."""
        moment = datetime.now(UTC)
        message_id = mailmod.new_message_id()
        stored = (
            mailmod.received_headers(
                mail_from=mail_from,
                recipients=recipients,
                message_id=message_id,
                helo=helo,
                peer_ip=peer_ip,
                region=self.region,
                moment=moment,
            )
            + data
        )
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"{message_id}.eml"
        with open(path, "wb") as handle:
            handle.write(stored)
            handle.flush()
            os.fsync(handle.fileno())
        subject = _subject(stored)
        record = MessageRecord(
            message_id=message_id,
            mail_from=mail_from,
            recipients=list(recipients),
            size=len(stored),
            received_at=mailmod.iso_timestamp(moment),
            subject=subject,
        )
        record._moment = moment  # type: ignore[attr-defined]
        self._remember(record)
        log.info(
            "accepted %s from %s for %s (%d bytes)",
            message_id,
            mail_from or "<>",
            ", ".join(recipients),
            len(stored),
        )
        self._queue.put(record)
        return record

    def _remember(self, record: MessageRecord) -> None:
        with self._lock:
            self.records[record.message_id] = record
            while len(self.records) > _MAX_RECORDS:
                self.records.popitem(last=False)

    # --- the worker ---------------------------------------------------------------------

    def start(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="ses-receiver", daemon=True)
            self._worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout)
            self._worker = None

    def _run(self) -> None:
        while True:
            record = self._queue.get()
            if record is None:
                return
            try:
                self.process(record)
            except Exception as exc:  # never lose the worker; the record says what happened
                log.exception("processing %s failed", record.message_id)
                record.status = "failed"
                record.error = f"{type(exc).__name__}: {exc}"
            finally:
                record.done.set()

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
        if active is None:
            record.notes.append("no rule set was active when processing started")
            record.status = "done"
            return
        record.rule_set = active.name
        run = _Run(self, record, message, moment)
        for rule in list(active.rules):
            if not rule_enabled(rule):
                continue
            recipients = matched_recipients(rule, record.recipients)
            if not recipients:
                continue
            if rule.get("TlsPolicy") == "Require":
                record.notes.append(
                    f"rule {rule['Name']}: TlsPolicy Require is not enforced (the local SMTP "
                    "receiver is plain text on localhost)"
                )
            if run.run_rule(rule, recipients) == "STOP_RULE_SET":
                break
        record.status = (
            "failed"
            if any(a.status == "failed" for r in record.rules for a in r.actions)
            else "done"
        )
        if record.status == "done":
            path.unlink(missing_ok=True)
        else:
            record.notes.append(f"the message stays in the spool: {path}")
        log.info("processed %s: %s", record.message_id, _summary(record))


class _Run:
    """One message going through the rule set."""

    def __init__(
        self, receiver: Receiver, record: MessageRecord, message: bytes, moment: datetime
    ) -> None:
        self.receiver = receiver
        self.record = record
        self.message = message
        self.moment = moment
        self.verdicts = _verdict_overrides(message)

    @property
    def account(self) -> str:
        return self.receiver.account_id

    @property
    def region(self) -> str:
        return self.receiver.region

    def source_arn(self, rule: dict[str, Any]) -> str:
        from ..moto_ext.ses_checks import rule_arn

        return rule_arn(self.region, self.account, self.record.rule_set or "", rule["Name"])

    # the event --------------------------------------------------------------------------

    def receipt(
        self, rule: dict[str, Any], recipients: list[str], action: dict[str, Any]
    ) -> dict[str, Any]:
        scanned = rule.get("ScanEnabled") in (True, "true")
        verdicts = {
            # Local: nothing is scanned or authenticated. Scanning on -> PASS (unless overridden
            # by the X-LocalCloud-Verdicts header); off -> DISABLED. SPF/DKIM/DMARC need DNS
            # and signatures this machine cannot check -> GRAY.
            "spamVerdict": "PASS" if scanned else "DISABLED",
            "virusVerdict": "PASS" if scanned else "DISABLED",
            "spfVerdict": "GRAY",
            "dkimVerdict": "GRAY",
            "dmarcVerdict": "GRAY",
        }
        for name in ("spam", "virus", "spf", "dkim", "dmarc"):
            if name in self.verdicts:
                verdicts[f"{name}Verdict"] = self.verdicts[name]
        receipt: dict[str, Any] = {
            "timestamp": mailmod.iso_timestamp(self.moment),
            "processingTimeMillis": int((datetime.now(UTC) - self.moment).total_seconds() * 1000),
            "recipients": recipients,
            **{key: {"status": value} for key, value in verdicts.items()},
            "action": action,
        }
        if verdicts["dmarcVerdict"] == "FAIL":
            receipt["dmarcPolicy"] = self.verdicts.get("dmarcPolicy", "none")
        return receipt

    def mail(self) -> dict[str, Any]:
        return mailmod.mail_object(
            self.message,
            message_id=self.record.message_id,
            mail_from=self.record.mail_from,
            moment=self.moment,
        )

    def notify(
        self, topic_arn: str | None, receipt: dict[str, Any], content: str | None = None
    ) -> None:
        if not topic_arn:
            return
        from moto.sns.models import sns_backends

        notification: dict[str, Any] = {
            "notificationType": "Received",
            "mail": self.mail(),
            "receipt": receipt,
        }
        if content is not None:
            notification["content"] = content
        region = topic_arn.split(":")[3] or self.region
        sns_backends[self.account][region].publish(
            json.dumps(notification),
            arn=topic_arn,
            subject="Amazon SES Email Receipt Notification",
        )

    # the rule ---------------------------------------------------------------------------

    def run_rule(self, rule: dict[str, Any], recipients: list[str]) -> str | None:
        rule_record = RuleRecord(rule=rule["Name"], recipients=recipients)
        self.record.rules.append(rule_record)
        for action in rule.get("Actions") or []:
            kind, body = next(iter(action.items()))
            handler = getattr(self, f"_{kind}", None)
            if handler is None:
                rule_record.actions.append(
                    ActionRecord(
                        type=kind,
                        status="skipped",
                        detail={"reason": f"{kind} is not emulated by the local cloud"},
                    )
                )
                continue
            try:
                outcome, signal = handler(rule, recipients, body or {})
            except Exception as exc:
                log.exception("%s action of rule %s failed", kind, rule["Name"])
                outcome, signal = ActionRecord(kind, "failed", {"error": str(exc)}), None
            rule_record.actions.append(outcome)
            if signal in ("STOP_RULE", "STOP_RULE_SET"):
                outcome.detail["disposition"] = signal
                return str(signal)
        return None

    # the actions (named after the CloudFormation/SES action keys) -----------------------

    def _S3Action(
        self, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
    ) -> tuple[ActionRecord, None]:
        from moto.s3.models import s3_backends

        from ..moto_ext.ses_checks import s3_put_decision
        from ..policy import Decision

        bucket = body["BucketName"]
        key = f"{body.get('ObjectKeyPrefix') or ''}{self.record.message_id}"
        detail: dict[str, Any] = {"bucket": bucket, "key": key}
        decision = s3_put_decision(self.receiver.ses, bucket, key, self.source_arn(rule))
        if decision is not Decision.ALLOW:
            detail["error"] = f"SES could not write to bucket {bucket}: " + (
                "it does not exist" if decision is None else "its policy does not allow it"
            )
            return ActionRecord("S3", "failed", detail), None
        if body.get("KmsKeyArn"):
            detail["note"] = "KMS client-side encryption is not emulated; stored as plain text"
        s3_backends[self.account]["aws"].put_object(bucket, key, self.message)
        detail["size"] = len(self.message)
        self.notify(
            body.get("TopicArn"),
            self.receipt(
                rule,
                recipients,
                {
                    "type": "S3",
                    "topicArn": body.get("TopicArn"),
                    "bucketName": bucket,
                    "objectKeyPrefix": body.get("ObjectKeyPrefix") or "",
                    "objectKey": key,
                },
            ),
        )
        return ActionRecord("S3", "ok", detail), None

    def _LambdaAction(
        self, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
    ) -> tuple[ActionRecord, str | None]:
        from moto.awslambda.models import lambda_backends

        from ..moto_ext.ses_checks import lambda_invoke_decision
        from ..policy import Decision

        function_arn = body["FunctionArn"]
        invocation_type = body.get("InvocationType") or "Event"
        detail: dict[str, Any] = {"functionArn": function_arn, "invocationType": invocation_type}
        decision = lambda_invoke_decision(self.receiver.ses, function_arn, self.source_arn(rule))
        if decision is not Decision.ALLOW:
            detail["error"] = f"SES could not invoke {function_arn}: " + (
                "it does not exist" if decision is None else "its policy does not allow it"
            )
            return ActionRecord("Lambda", "failed", detail), None
        fn = lambda_backends[self.account][self.region].get_function(function_arn)
        action = {"type": "Lambda", "functionArn": function_arn, "invocationType": invocation_type}
        if body.get("TopicArn"):
            action["topicArn"] = body["TopicArn"]
        receipt = self.receipt(rule, recipients, action)
        event = {
            "Records": [
                {
                    "eventSource": "aws:ses",
                    "eventVersion": "1.0",
                    "ses": {"mail": self.mail(), "receipt": receipt},
                }
            ]
        }
        self.notify(body.get("TopicArn"), receipt)
        if invocation_type == "RequestResponse":
            invocation = lambda_runner.invoke(fn, event)
            attempts = [invocation]
        else:
            attempts = lambda_runner.invoke_async(fn, event)
            invocation = attempts[-1]
        detail["attempts"] = [a.summary() for a in attempts]
        detail["result"] = invocation.result
        detail["logGroup"] = invocation.log_group
        detail["logStream"] = invocation.log_stream
        if not invocation.ok:
            detail["error"] = invocation.error
            return ActionRecord("Lambda", "failed", detail), None
        signal = None
        if invocation_type == "RequestResponse":
            if invocation.duration_ms > REQUEST_RESPONSE_LIMIT_SECONDS * 1000:
                detail["note"] = "took longer than SES's 30 s limit: SES would not wait for it"
            elif isinstance(invocation.result, dict):
                disposition = invocation.result.get("disposition")
                if disposition in ("STOP_RULE", "STOP_RULE_SET"):
                    signal = disposition
        return ActionRecord("Lambda", "ok", detail), signal

    def _SNSAction(
        self, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
    ) -> tuple[ActionRecord, None]:
        topic = body["TopicArn"]
        encoding = body.get("Encoding") or "UTF-8"
        detail: dict[str, Any] = {"topicArn": topic, "encoding": encoding}
        if len(self.message) > SNS_CONTENT_LIMIT:
            bounce = self._bounce(
                rule, "550", "5.3.4", "Message too large for the SNS action (150 KB)"
            )
            detail.update(error="message larger than 150 KB: SES bounces it", bounce=bounce)
            return ActionRecord("SNS", "failed", detail), None
        if encoding.upper() == "BASE64":
            content = base64.b64encode(self.message).decode("ascii")
        else:
            content = self.message.decode("utf-8", errors="replace")
        self.notify(
            topic,
            self.receipt(
                rule,
                recipients,
                {
                    "type": "SNS",
                    "topicArn": topic,
                    "encoding": encoding,
                },
            ),
            content=content,
        )
        return ActionRecord("SNS", "ok", detail), None

    def _StopAction(
        self, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
    ) -> tuple[ActionRecord, str]:
        self.notify(
            body.get("TopicArn"),
            self.receipt(
                rule,
                recipients,
                {
                    "type": "Stop",
                    "topicArn": body.get("TopicArn"),
                },
            ),
        )
        return ActionRecord("Stop", "ok", {"scope": body.get("Scope", "RuleSet")}), "STOP_RULE_SET"

    def _BounceAction(
        self, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
    ) -> tuple[ActionRecord, None]:
        bounce = self._bounce(
            rule,
            body.get("SmtpReplyCode", "550"),
            body.get("StatusCode", ""),
            body.get("Message", ""),
            sender=body.get("Sender"),
        )
        self.notify(
            body.get("TopicArn"),
            self.receipt(
                rule,
                recipients,
                {
                    "type": "Bounce",
                    "topicArn": body.get("TopicArn"),
                    "smtpReplyCode": bounce["smtpReplyCode"],
                    "statusCode": bounce["statusCode"],
                    "message": bounce["message"],
                    "sender": bounce["sender"],
                },
            ),
        )
        return ActionRecord("Bounce", "ok", {"bounce": bounce}), None

    def _bounce(
        self, rule: dict[str, Any], code: str, status: str, message: str, sender: str | None = None
    ) -> dict[str, Any]:
        bounce = {
            "messageId": self.record.message_id,
            "rule": rule["Name"],
            "to": self.record.mail_from,
            "sender": sender or f"MAILER-DAEMON@{self.region}.local-cloud",
            "smtpReplyCode": str(code),
            "statusCode": status,
            "message": message,
            "note": "recorded only: the local cloud sends no bounce mail",
        }
        self.receiver.bounces.append(bounce)
        return bounce

    def _AddHeaderAction(
        self, rule: dict[str, Any], recipients: list[str], body: dict[str, Any]
    ) -> tuple[ActionRecord, None]:
        name, value = body["HeaderName"], body["HeaderValue"]
        self.message = mailmod.prepend_headers(self.message, [(name, value)])
        return ActionRecord("AddHeader", "ok", {"header": f"{name}: {value}"}), None


def _verdict_overrides(message: bytes) -> dict[str, str]:
    headers = mailmod.raw_headers(message)
    overrides: dict[str, str] = {}
    for name, value in headers:
        if name.lower() != VERDICT_OVERRIDE_HEADER.lower():
            continue
        for part in value.replace(",", ";").split(";"):
            key, _, verdict = part.partition("=")
            key, verdict = key.strip().lower(), verdict.strip()
            if key in ("spam", "virus", "spf", "dkim", "dmarc") and verdict.upper() in (
                "PASS",
                "FAIL",
                "GRAY",
                "PROCESSING_FAILED",
                "DISABLED",
            ):
                overrides[key] = verdict.upper()
            elif key == "dmarcpolicy":
                overrides["dmarcPolicy"] = verdict.lower()
    return overrides


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
        parts.append(f"rule {rule.rule} [{actions}]")
    return f"{record.status}; " + ("; ".join(parts) if parts else "no rule matched")

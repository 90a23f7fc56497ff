"""One message going through the active rule set: the event parts SES builds (``mail``,
``receipt``), SNS notifications, bounces, and each matching rule's actions run through the
dispatch table of ``actions``."""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import mail as mailmod
from .actions import ACTIONS, not_emulated
from .records import ActionRecord, MessageRecord, RuleRecord
from .verdicts import LocalVerdicts

if TYPE_CHECKING:
    from ..lambda_async import QueuedEvent
    from ..lambda_runner import Invocation
    from .protocols import ReceiverSide

log = logging.getLogger(__name__)


class MessageRun:
    """One message going through the rule set."""

    def __init__(
        self, receiver: ReceiverSide, record: MessageRecord, message: bytes, moment: datetime
    ) -> None:
        self.receiver = receiver
        self.record = record
        self.message = message
        self.moment = moment
        #: The same verdicts as the fields SES prepended to the stored copy (``Receiver.accept``).
        self.verdicts = LocalVerdicts.for_message(
            mailmod.raw_headers(message), scanned=record.scanned
        )
        self._queued: list[tuple[QueuedEvent, Callable[[list[Invocation]], object]]] = []

    # Event invocations ------------------------------------------------------------------

    def queued(self, item: QueuedEvent, record: Callable[[list[Invocation]], object]) -> None:
        """An Event invocation of a Lambda action: ``record(attempts)`` fills in its record when
        it finishes."""
        self._queued.append((item, record))

    def settle(self, finish: Callable[[], None]) -> None:
        """Call ``finish`` once every queued invocation of this message has its outcome."""
        if not self._queued:
            finish()
            return
        remaining = [len(self._queued)]
        lock = threading.Lock()

        def one_done(item: QueuedEvent, record: Callable[[list[Invocation]], object]) -> None:
            try:
                record(item.wait())
            finally:
                with lock:
                    remaining[0] -= 1
                    last = not remaining[0]
                if last:
                    finish()

        for item, record in self._queued:
            item.add_done_callback(functools.partial(one_done, record=record))

    @property
    def account(self) -> str:
        return self.receiver.account_id

    @property
    def region(self) -> str:
        return self.receiver.region

    @property
    def ses(self) -> Any:
        return self.receiver.ses

    def source_arn(self, rule: dict[str, Any]) -> str:
        from ..moto_ext.ses_checks import rule_arn

        return rule_arn(self.region, self.account, self.record.rule_set or "", rule["Name"])

    # the event --------------------------------------------------------------------------

    def receipt(
        self, rule: dict[str, Any], recipients: list[str], action: dict[str, Any]
    ) -> dict[str, Any]:
        receipt: dict[str, Any] = {
            "timestamp": mailmod.iso_timestamp(self.moment),
            "processingTimeMillis": int((datetime.now(UTC) - self.moment).total_seconds() * 1000),
            "recipients": recipients,
            **self.verdicts.receipt(rule_scans=rule_scans(rule)),
            "action": action,
        }
        return receipt

    def mail(self, *, headers_limit: int) -> dict[str, Any]:
        """The ``mail`` object, its headers cut at ``headers_limit`` (Lambda event or SNS)."""
        return mailmod.mail_object(
            self.message,
            message_id=self.record.message_id,
            mail_from=self.record.mail_from,
            moment=self.moment,
            headers_limit=headers_limit,
        )

    def notify(
        self, topic_arn: str | None, receipt: dict[str, Any], content: str | None = None
    ) -> None:
        if not topic_arn:
            return
        from ..moto_ext.moto_internals import sns_backends

        notification: dict[str, Any] = {
            "notificationType": "Received",
            "mail": self.mail(headers_limit=mailmod.SNS_HEADERS_LIMIT_BYTES),
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
            handler = ACTIONS.get(kind) or not_emulated(kind)
            try:
                outcome, signal = handler(self, rule, recipients, body or {})
            except Exception as exc:
                log.exception("%s action of rule %s failed", kind, rule["Name"])
                outcome, signal = ActionRecord(kind, "failed", {"error": str(exc)}), None
            rule_record.actions.append(outcome)
            if signal in ("STOP_RULE", "STOP_RULE_SET"):
                outcome.detail["disposition"] = signal
                return str(signal)
        return None

    def bounce(
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
        self.receiver.remember_bounce(bounce)
        return bounce


def rule_scans(rule: dict[str, Any]) -> bool:
    """The rule has spam and virus scanning on (``ScanEnabled``)."""
    return rule.get("ScanEnabled") in (True, "true")

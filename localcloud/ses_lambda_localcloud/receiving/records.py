"""What ``show`` reads back: one record per accepted or rejected message, its rules and actions."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any


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
    #: Set when SES bounced the message for this rule instead of running its actions
    #: (``TlsPolicy`` ``Require`` and the message arrived without TLS).
    bounced: dict[str, Any] | None = None


@dataclass
class MessageRecord:
    message_id: str
    mail_from: str
    recipients: list[str]
    size: int
    received_at: str
    #: queued -> processing -> done | failed; or "rejected"; "waiting": replayed from the spool
    #: after a restart, until a rule set is active
    status: str = "queued"
    subject: str | None = None
    rule_set: str | None = None
    rules: list[RuleRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    rejected: list[dict[str, str]] = field(default_factory=list)
    #: The message arrived over TLS (the client sent STARTTLS).
    tls: bool = False
    #: A matching rule has ScanEnabled: the verdicts were "scanned" (see ``verdicts``).
    scanned: bool = False
    #: When the rule set's run began (``time.time()``).
    processing_started: float | None = None
    #: The objects stored while the message was processed (``object_journal``), oldest first.
    objects: list[dict[str, Any]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("done", "rules")
        }
        data["rules"] = [asdict(rule) for rule in self.rules]
        data["finished"] = self.done.is_set()
        return data

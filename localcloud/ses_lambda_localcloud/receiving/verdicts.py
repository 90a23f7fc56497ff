"""The verdicts the local cloud assigns to a received message, once per message.

SES scans for spam and viruses when a matching rule has ``ScanEnabled`` and checks SPF, DKIM
and DMARC; it reports the results in the event's ``receipt`` (``spamVerdict`` ... ``dmarcVerdict``,
statuses PASS, FAIL and GRAY in the guide, "Contents of notifications for Amazon SES email
receiving", https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html;
PROCESSING_FAILED and DISABLED as observed in real events, not from a documented list: see
docs/ses-facts.md, "The stored copy and the event shapes") and in
the header fields it prepends to the stored copy (``X-SES-Spam-Verdict``,
``X-SES-Virus-Verdict``, ``Received-SPF``, ``Authentication-Results``; guide, "Sample incoming
email event", https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action-lambda-event.html).

Locally nothing is scanned and nothing can be authenticated (no DNS, no keys): scanning gives
PASS, SPF/DKIM/DMARC give GRAY, unless the message sets them with the local-only header
``X-LocalCloud-Verdicts: spam=FAIL; dkim=PASS; dmarc=FAIL; dmarcPolicy=reject``. The event and
the stored copy always agree, because both are made from one :class:`LocalVerdicts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Local only: a header that sets the verdicts, e.g. "X-LocalCloud-Verdicts: spam=FAIL".
VERDICT_OVERRIDE_HEADER = "X-LocalCloud-Verdicts"
STATUSES = ("PASS", "FAIL", "GRAY", "PROCESSING_FAILED", "DISABLED")
NAMES = ("spam", "virus", "spf", "dkim", "dmarc")
#: SES status -> result keyword of Received-SPF (RFC 7208 9.1) and Authentication-Results
#: (RFC 8601 2.7): GRAY (nothing to check against) reads as ``none``, PROCESSING_FAILED as a
#: temporary error.
_RESULTS = {
    "PASS": "pass",
    "FAIL": "fail",
    "GRAY": "none",
    "PROCESSING_FAILED": "temperror",
    "DISABLED": "none",
}


@dataclass(frozen=True)
class LocalVerdicts:
    """One message's verdicts. ``scanned``: some matching rule has ``ScanEnabled``."""

    scanned: bool
    spam: str = "PASS"
    virus: str = "PASS"
    spf: str = "GRAY"
    dkim: str = "GRAY"
    dmarc: str = "GRAY"
    dmarc_policy: str = "none"
    overridden: tuple[str, ...] = field(default=())

    @classmethod
    def for_message(cls, headers: list[tuple[str, str]], *, scanned: bool) -> LocalVerdicts:
        """The local verdicts of a message with these (unfolded) header fields."""
        values: dict[str, str] = {}
        for name, value in headers:
            if name.lower() != VERDICT_OVERRIDE_HEADER.lower():
                continue
            for part in value.replace(",", ";").split(";"):
                key, _, verdict = part.partition("=")
                key, verdict = key.strip().lower(), verdict.strip()
                if key in NAMES and verdict.upper() in STATUSES:
                    values[key] = verdict.upper()
                elif key == "dmarcpolicy" and verdict:
                    values["dmarc_policy"] = verdict.lower()
        return cls(scanned=scanned, overridden=tuple(sorted(values)), **values)

    def receipt(self, *, rule_scans: bool) -> dict[str, object]:
        """The verdict fields of ``receipt`` for a rule: DISABLED spam/virus when it does not
        scan; ``dmarcPolicy`` only when DMARC fails (notification contents, receipt object)."""
        fields: dict[str, object] = {
            "spamVerdict": {"status": self.spam if rule_scans else "DISABLED"},
            "virusVerdict": {"status": self.virus if rule_scans else "DISABLED"},
            "spfVerdict": {"status": self.spf},
            "dkimVerdict": {"status": self.dkim},
            "dmarcVerdict": {"status": self.dmarc},
        }
        if self.dmarc == "FAIL":
            fields["dmarcPolicy"] = self.dmarc_policy
        return fields

    @property
    def spf_result(self) -> str:
        return _RESULTS[self.spf]

    @property
    def dkim_result(self) -> str:
        return _RESULTS[self.dkim]

    @property
    def dmarc_result(self) -> str:
        return _RESULTS[self.dmarc]

    def spf_reason(self, domain: str, ip: str) -> str:
        if "spf" in self.overridden:
            return f"set to {self.spf} by the {VERDICT_OVERRIDE_HEADER} header"
        return f"the local cloud looks up no SPF record for {domain or 'the sender'} ({ip})"

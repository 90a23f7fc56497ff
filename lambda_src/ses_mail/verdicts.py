"""Verdict policy: which SES verdicts reject a message, and the disposition returned to SES."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigurationError
from .event import VERDICT_NAMES, Verdicts

DISPOSITION_CONTINUE = "CONTINUE"
DISPOSITION_STOP_RULE_SET = "STOP_RULE_SET"
FAIL = "FAIL"
DEFAULT_REJECT_ON: frozenset[str] = frozenset({"spam", "virus"})


@dataclass(frozen=True, slots=True)
class VerdictPolicy:
    """Reject a message when any verdict named in ``reject_on`` is ``FAIL``.

    ``GRAY``, ``PROCESSING_FAILED``, ``DISABLED`` and absent verdicts never reject.
    """

    reject_on: frozenset[str] = DEFAULT_REJECT_ON

    def __post_init__(self) -> None:
        unknown = sorted(set(self.reject_on) - set(VERDICT_NAMES))
        if unknown:
            raise ValueError(f"unknown verdicts {unknown}; choose from {list(VERDICT_NAMES)}")

    @classmethod
    def from_setting(cls, value: str, variable: str = "REJECT_ON_VERDICTS") -> VerdictPolicy:
        """Parse a comma-separated subset of ``spam,virus,spf,dkim,dmarc`` ("" rejects nothing)."""
        names = {part.strip().lower() for part in value.split(",") if part.strip()}
        unknown = sorted(names - set(VERDICT_NAMES))
        if unknown:
            raise ConfigurationError(
                variable,
                f"unknown verdict(s) {', '.join(unknown)}; "
                f"use a comma-separated subset of {','.join(VERDICT_NAMES)}",
            )
        return cls(frozenset(names))

    def failed(self, verdicts: Verdicts) -> tuple[str, ...]:
        """The configured verdicts that are ``FAIL``, in :data:`VERDICT_NAMES` order."""
        return tuple(
            name
            for name in VERDICT_NAMES
            if name in self.reject_on and verdicts.status(name) == FAIL
        )


def disposition(rejected: bool) -> str:
    """What a ``RequestResponse`` invocation returns to SES for one message.

    ``STOP_RULE_SET`` stops every further action and rule for rejected mail; ``CONTINUE`` lets
    the rule set go on (docs/ses-facts.md, "Lambda action").
    """
    return DISPOSITION_STOP_RULE_SET if rejected else DISPOSITION_CONTINUE

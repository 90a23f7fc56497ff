"""The SES verdicts a policy can reject mail on."""

from __future__ import annotations

import enum


class Verdict(enum.Enum):
    """SES verdicts the handler's policy can reject mail on (``receipt.<name>Verdict``)."""

    SPAM = "spam"
    VIRUS = "virus"
    SPF = "spf"
    DKIM = "dkim"
    DMARC = "dmarc"

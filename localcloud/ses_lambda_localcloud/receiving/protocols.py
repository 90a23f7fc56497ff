"""What the parts of SES receiving know of each other, as protocols: a leaf module.

``receiver`` runs each message through the rule set as a ``run.MessageRun``; the run calls the
action functions of ``actions``; an action uses the run through ``RuleRun`` and the run uses its
receiver through ``ReceiverSide``. Each module imports only these protocols, never the module
that implements them, so the three form a chain (receiver -> run -> actions) and no cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .records import ActionRecord, MessageRecord

if TYPE_CHECKING:
    from ..lambda_async import QueuedEvent
    from ..lambda_runner import Invocation


class ReceiverSide(Protocol):
    """What a message's run needs of the receiver that runs it (``receiver.Receiver``)."""

    account_id: str
    region: str

    @property
    def ses(self) -> Any:
        """Moto's SES backend of the receiver's account and region."""
        ...

    def remember_bounce(self, bounce: dict[str, Any]) -> None: ...


class RuleRun(Protocol):
    """What an action may use of the message going through the rule set (``run.MessageRun``)."""

    record: MessageRecord
    #: The message as the next action sees it (``AddHeaderAction`` replaces it).
    message: bytes

    @property
    def account(self) -> str: ...

    @property
    def region(self) -> str: ...

    @property
    def ses(self) -> Any:
        """Moto's SES backend the rule set lives in."""
        ...

    def source_arn(self, rule: dict[str, Any]) -> str: ...

    def receipt(
        self, rule: dict[str, Any], recipients: list[str], action: dict[str, Any]
    ) -> dict[str, Any]: ...

    def mail(self, *, headers_limit: int) -> dict[str, Any]: ...

    def notify(
        self, topic_arn: str | None, receipt: dict[str, Any], content: str | None = None
    ) -> None: ...

    def queued(self, item: QueuedEvent, record: Callable[[list[Invocation]], object]) -> None: ...

    def bounce(
        self, rule: dict[str, Any], code: str, status: str, message: str, sender: str | None = None
    ) -> dict[str, Any]: ...


#: One receipt action: the run, the rule, the rule's matched recipients and the action's
#: properties in; the action's record and a stop signal (``STOP_RULE``, ``STOP_RULE_SET`` or
#: None) out.
Action = Callable[
    [RuleRun, dict[str, Any], list[str], dict[str, Any]], tuple[ActionRecord, str | None]
]

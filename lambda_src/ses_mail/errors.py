"""Errors raised by the SES mail core and the reference handler.

Every error the handler lets escape is a :class:`SesMailError`. Each one names what was wrong:
the event field (``InvalidEventError.field``), the environment variable
(``ConfigurationError.variable``), the S3 location (``MessageUnavailableError.location``,
``OutputWriteError.location``), the event bus (``EventPublishError.event_bus``) or the limit
(``UnparseableMessageError.code``).
"""

from __future__ import annotations


class SesMailError(Exception):
    """Base class of every error raised by ``ses_mail`` and the reference handler."""


class InvalidEventError(SesMailError, ValueError):
    """The Lambda event is not an SES receipt event; ``field`` is the offending JSON path."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"invalid SES event: {field}: {problem}")


class ConfigurationError(SesMailError, ValueError):
    """An environment variable of the handler has an invalid value."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"invalid configuration: {variable}: {problem}")


class MessageUnavailableError(SesMailError):
    """The raw MIME of a message cannot be read (missing object, no bucket and no content).

    Raised, not swallowed: on an ``Event`` invocation Lambda retries and then sends the event to
    the function's on-failure destination, so no accepted message is silently lost.
    """

    def __init__(self, message_id: str, location: str, problem: str) -> None:
        self.message_id = message_id
        self.location = location
        self.problem = problem
        super().__init__(f"raw message {message_id!r} unavailable at {location}: {problem}")


class OutputWriteError(SesMailError):
    """Writing the parsed output (``message.json`` or an attachment) failed."""

    def __init__(self, message_id: str, location: str, problem: str) -> None:
        self.message_id = message_id
        self.location = location
        self.problem = problem
        super().__init__(f"could not write output of {message_id!r} to {location}: {problem}")


class EventPublishError(SesMailError):
    """Putting the message's event on EventBridge failed (the call, or its one entry).

    Raised so that the invocation fails: Lambda retries it (rewriting the same S3 keys and
    putting the event again) and then hands it to the on-failure destination.
    """

    def __init__(self, message_id: str, event_bus: str, problem: str) -> None:
        self.message_id = message_id
        self.event_bus = event_bus
        self.problem = problem
        super().__init__(f"event of {message_id!r} not put on bus {event_bus!r}: {problem}")


class EmailEventError(SesMailError, ValueError):
    """The event is not a valid email event; ``field`` is the offending JSON path."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"invalid email event: {field}: {problem}")


class UnparseableMessageError(SesMailError):
    """The MIME message exceeds a parsing limit, so it is not parsed.

    ``code`` is one of ``too_large``, ``too_many_parts``, ``too_many_headers``,
    ``nesting_too_deep``, ``too_many_lines``. The reference handler turns this error into a
    stored outcome (``status`` ``too_large`` or ``unparseable``) instead of raising it, because
    retrying cannot help; the raw message stays where SES stored it.
    """

    def __init__(self, code: str, problem: str) -> None:
        self.code = code
        self.problem = problem
        super().__init__(f"message not parsed ({code}): {problem}")

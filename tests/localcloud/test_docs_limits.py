"""docs/local-cloud.md's table of limits says what the code enforces: every row is checked
against the constant it describes, and a row nobody checks fails the test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from ses_lambda_localcloud import cli, lambda_runner, outbox, runtime
from ses_lambda_localcloud.eventbridge import delivery
from ses_lambda_localcloud.moto_ext import ses_checks
from ses_lambda_localcloud.receiving import actions, mail, receiver, smtp
from ses_lambda_localcloud.server import LocalCloud

DOC = Path(__file__).resolve().parents[2] / "docs" / "local-cloud.md"


def limits_table() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### Limits the local cloud enforces, and their sources", 1)[1]
    rows: dict[str, str] = {}
    for line in section.strip().split("\n\n", 1)[0].splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows[cells[0]] = cells[1]
    return rows


def thousands(number: int) -> str:
    return f"{number:,}"


def default(function: object, name: str) -> object:
    return inspect.signature(function).parameters[name].default  # type: ignore[arg-type]


def smtp_timeout_default() -> float:
    start = next(
        action
        for action in cli.parser()._subparsers._group_actions[0].choices["start"]._actions  # type: ignore[union-attr]
        if action.dest == "smtp_timeout"
    )
    return float(start.default)


def test_every_limit_in_the_docs_is_the_code_s() -> None:
    expected = {
        "message size, headers included": f"{runtime.MAX_MESSAGE_BYTES // 2**20} MB",
        "recipients per message": f"{runtime.MAX_RECIPIENTS} accepted",
        "SNS action content": f"{actions.SNS_CONTENT_LIMIT // 1024} KB",
        "`mail.headers` in an event": (
            f"{mail.LAMBDA_HEADERS_LIMIT_BYTES // 1024} KB in a Lambda event, "
            f"{mail.SNS_HEADERS_LIMIT_BYTES // 1024} KB in an SNS notification"
        ),
        "RequestResponse invocation": f"{actions.REQUEST_RESPONSE_LIMIT_SECONDS:g} s",
        "rules per set, actions per rule, recipients per rule": (
            f"{ses_checks.MAX_RULES_PER_SET}, {ses_checks.MAX_ACTIONS_PER_RULE}, "
            f"{ses_checks.MAX_RECIPIENTS_PER_RULE}"
        ),
        "command line / text line": "512 / 1000 octets",
        "idle client (also during DATA)": f"{smtp.DEFAULT_TIMEOUT_SECONDS:g} s by default",
        "unknown commands": "close after 5",
        "connections at once": f"{smtp.DEFAULT_MAX_CONNECTIONS} (",
        "message records kept for `show`": f"the last {receiver._MAX_RECORDS}",
        "bounces kept for `show`": f"the last {thousands(receiver._MAX_BOUNCES)}",
        "sent messages kept (the outbox, and moto's copy)": (
            f"the last {thousands(outbox.OUTBOX_LIMIT)}"
        ),
        "EventBridge events kept for `show`": f"the last {thousands(delivery.JOURNAL_SIZE)}",
        "log events per function log stream, log streams per log group": (
            f"{thousands(lambda_runner.LOG_EVENTS_PER_STREAM)}, "
            f"{lambda_runner.LOG_STREAMS_PER_GROUP}"
        ),
        "waiting for work to finish when stopping": (
            f"{default(LocalCloud.__init__, 'drain_timeout'):g} s"
        ),
    }
    rows = limits_table()
    assert sorted(rows) == sorted(expected), "a row of the table is not checked, or is missing"
    for limit, value in expected.items():
        assert value in rows[limit], (limit, rows[limit], value)
    # The command line's default and the server's agree with the table.
    assert smtp_timeout_default() == smtp.DEFAULT_TIMEOUT_SECONDS
    assert default(LocalCloud.__init__, "smtp_timeout") == smtp.DEFAULT_TIMEOUT_SECONDS
    assert f"[--smtp-timeout {smtp.DEFAULT_TIMEOUT_SECONDS:g}]" in DOC.read_text(encoding="utf-8")


def test_the_unknown_command_limit_is_aiosmtpd_s() -> None:
    from aiosmtpd import smtp as aiosmtpd_smtp

    source = inspect.getsource(aiosmtpd_smtp)
    assert re.search(r"BOGUS_LIMIT\s*=\s*5\b", source)

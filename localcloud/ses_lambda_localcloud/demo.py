"""``make demo``: the whole pipeline on this machine, then everything torn down.

1. start the local cloud (a child process, on free ports unless told otherwise);
2. ``cdk bootstrap`` and 3. ``cdk deploy`` of the demo stack with the pinned CDK CLI;
4. send the documented sample message (AWS's documented SES event, as MIME) to the demo's
   recipient and to one address no rule matches (rejected with 550, and shown);
5. send a message with an attachment; for each message, print what the deployed handler parsed
   (``message.json``), its result and its logs, the "Email Received" event it put on the bus,
   and what the demo's ticket desk did with it;
6. a conversation with the ticket desk (``demo_conversation``): a customer's message opens a
   ticket and the acknowledgement goes out from a signed reply address (the outbox);
7. the customer's reply to it lands in the same thread, with its own text and a valid token;
8. an out-of-office answer to the acknowledgement is an automatic reply: no ticket, no reply;
9. a bounce (an RFC 3464 delivery status notification) names its failed recipient;
10. everything the local cloud recorded, and the IAM journal: every request of the functions
    evaluated, none refused;
11. ``cdk destroy``, then stop the local cloud. Nothing is left running.

The local cloud serves its inbox page (``inbox``) on 127.0.0.1; the demo ends by printing its
address. With ``--keep`` (``make demo KEEP=1``) step 11 is skipped: the stack stays deployed and
the local cloud keeps running, for a look at the inbox and more mail, until
``ses-localcloud --state-dir <state dir> stop``. Each message gets a few lines; ``--verbose``
(``make demo VERBOSE=1``) prints its whole report (logs, message.json, the event, the ticket).

Any failing step stops the demo with a message naming the step, and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import cdk_cli, demo_conversation, report, runtime, samples, sender, tooling
from .server import free_port
from .target import PID_FILE, STATE_FILE, CommandError, Target, say, step

STEPS = 11


class DemoFailed(RuntimeError):
    pass


def _banner(number: int, title: str) -> None:
    say("")
    say(f"[{number}/{STEPS}] {title}")


def _parsed_documents(target: Target, record: dict[str, Any]) -> list[Any]:
    outputs = report.parsed_outputs(target, record)
    return [entry["json"] for key, entry in outputs.items() if key.endswith("message.json")]


def _brief(record: dict[str, Any]) -> list[str]:
    """A few lines for a message: its status, then each rule with its actions' outcomes."""
    lines = [f"message {record['message_id']} [{record['status']}]"]
    for rule in record.get("rules", []):
        outcomes = []
        for action in rule["actions"]:
            attempts = action.get("detail", {}).get("attempts", [])
            timing = ""
            if attempts:
                last = attempts[-1]
                start = "cold" if last.get("coldStart") else "warm"
                timing = f" ({last['durationMs']} ms, {start})"
            outcomes.append(f"{action['type']} {action['status']}{timing}")
        lines.append(f"  rule {rule['rule']}: " + (", ".join(outcomes) or "bounced"))
    lines += [f"  error: {record['error']}"] if record.get("error") else []
    return lines


class Demo:
    def __init__(
        self,
        root: Path,
        state_dir: Path,
        api_port: int,
        smtp_port: int,
        region: str,
        *,
        ui_port: int | None = None,
        keep: bool = False,
        verbose: bool = False,
    ) -> None:
        self.root = root
        self.verbose = verbose
        self.ui_port = ui_port
        self.keep = keep
        self.inbox_url: str | None = None
        self.target = Target(
            api_port=api_port, smtp_port=smtp_port, region=region, state_dir=state_dir
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = state_dir / "local-cloud.log"
        self.timings: dict[str, float] = {}
        self.recipient = sender.default_recipient(root) or "support@mail.example.com"
        self.conversation: demo_conversation.Conversation | None = None

    def inbox(self) -> str | None:
        """The inbox page's address (the health answer may come before the page is up)."""
        if self.inbox_url is None and self.process is not None and self.process.poll() is None:
            health = self.target.health() or {}
            self.inbox_url = health.get("inbox")
        return self.inbox_url

    def timed(self, name: str, action: Callable[[], Any]) -> Any:
        started = time.monotonic()
        try:
            return action()
        finally:
            self.timings[name] = time.monotonic() - started

    # --- steps ---------------------------------------------------------------------------

    def check_setup(self) -> None:
        missing = []
        if not (self.root / "lambda_src" / "handler.py").exists():
            missing.append("lambda_src/handler.py (the reference handler)")
        try:
            cdk_cli.find_cdk(self.root)
        except CommandError as error:
            missing.append(str(error))
        if missing:
            raise DemoFailed("set-up is incomplete: " + "; ".join(missing))

    def start(self) -> None:
        state_dir = self.target.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "ses_lambda_localcloud",
            "--state-dir",
            str(state_dir),
            "start",
            "--api-port",
            str(self.target.api_port),
            "--smtp-port",
            str(self.target.smtp_port),
            "--region",
            self.target.region,
            "--iam",
            "enforce",
        ]
        if self.ui_port is not None:
            command += ["--ui-port", str(self.ui_port)]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        health = self.target.wait_until_up(timeout=60, process=self.process)
        self.inbox_url = health.get("inbox")
        say(
            f"    AWS endpoint {health['endpoint']}, SMTP {health['smtp']} "
            f"(pid {health['pid']}, log {self.log_path})"
        )
        if self.inbox_url:
            say(f"    inbox page {self.inbox_url}")

    def send(self, message: bytes, recipients: list[str], label: str) -> list[Any]:
        step(f"sending {label} to {', '.join(recipients)}")
        result = sender.send(
            self.target, message, recipients=recipients, mail_from=sender.sender_of(message)
        )
        for recipient in result.accepted:
            say(f"    accepted  {recipient}")
        for recipient, reply in result.rejected.items():
            say(f"    REJECTED  {recipient}: {reply}")
        if result.message_id is None:
            raise DemoFailed(f"no recipient of {label} was accepted")
        say(f"    SMTP: {result.reply}")
        record = sender.wait_for(self.target, result.message_id, timeout=90)
        if self.verbose:
            for line in report.render(self.target, record, logs=True, documents=False):
                say(f"    {line}")
        else:
            for line in _brief(record):
                say(f"    {line}")
        if record["status"] != "done":
            raise DemoFailed(f"{label} was not processed cleanly (status {record['status']})")
        documents = _parsed_documents(self.target, record)
        if not documents:
            raise DemoFailed(f"the handler wrote no message.json for {label}")
        if self.verbose:
            say("    parsed by the deployed handler (message.json):")
            for line in json.dumps(documents[0], indent=2, ensure_ascii=False).splitlines():
                say(f"      {line}")
        else:
            parsed = documents[0] if isinstance(documents[0], dict) else {}
            headers = parsed.get("headers") or {}
            attachments = parsed.get("attachments") or []
            say(
                f"    message.json: {parsed.get('status')}, subject {headers.get('subject')!r}, "
                f"{len(attachments)} attachment(s)"
            )
        self.show_event(record, label)
        if not self.verbose:
            where = (
                f"{self.inbox()}#/message/{record['message_id']}"
                if self.inbox()
                else f"ses-localcloud show {record['message_id']}"
            )
            say(f"    details: {where}")
        return documents

    def show_event(self, record: dict[str, Any], label: str) -> None:
        """The "Email Received" event the handler put, and what the ticket desk did."""
        events = self.target.local(f"events?message={record['message_id']}&wait=60", timeout=70)[
            "events"
        ]
        received = [e for e in events if e["detail_type"] == "Email Received"]
        if not received:
            raise DemoFailed(f"the handler put no 'Email Received' event for {label}")
        event = received[0]
        if self.verbose:
            say(
                f"    the event the handler put on {event['bus']} "
                f"(detail-type {event['detail_type']!r}):"
            )
            for line in json.dumps(event["event"], indent=2, ensure_ascii=False).splitlines():
                say(f"      {line}")
        results = [
            attempt["result"]
            for rule in event["matched"]
            for outcome in rule["targets"]
            for attempt in outcome["invocations"]
            if attempt["ok"]
        ]
        if not results:
            raise DemoFailed(f"the ticket desk did not process the event of {label}")
        if not self.verbose:
            say(
                f"    event {event['detail_type']!r} on {event['bus']}: the ticket desk "
                f"returned {json.dumps(results[0])}"
            )
            return
        say(f"    the ticket desk's result: {json.dumps(results[0])}")
        ticket = report.parsed_outputs(self.target, record)
        for location, entry in ticket.items():
            if "/tickets/" in location and "json" in entry:
                say(f"    {location}:")
                for line in json.dumps(entry["json"], indent=2, ensure_ascii=False).splitlines():
                    say(f"      {line}")

    def converse(self, name: str) -> None:
        """One step of the conversation with the ticket desk (``demo_conversation``)."""
        if self.conversation is None:
            self.conversation = demo_conversation.Conversation(
                self.target, self.recipient, timeout=90
            )
        try:
            found: demo_conversation.Found = getattr(self.conversation, name)()
        except demo_conversation.ConversationFailed as error:
            raise DemoFailed(str(error)) from None
        for line in found.lines:
            say(f"    {line}")
        if self.verbose:
            for line in json.dumps(found.facts, indent=2, default=str).splitlines():
                say(f"      {line}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        say(f"    local cloud stopped (exit status {self.process.returncode})")

    def run(self) -> None:
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("start the local cloud", self.start),
            ("cdk bootstrap", lambda: cdk_cli.bootstrap(self.target, root=self.root)),
            (
                "cdk deploy the demo stack",
                lambda: cdk_cli.deploy(self.target, root=self.root, bootstrap_first=False),
            ),
            (
                "send the documented sample message",
                lambda: self.send(
                    samples.documented_sample(self.recipient),
                    [self.recipient, self._unmatched()],
                    "the documented sample",
                ),
            ),
            (
                "send a message with an attachment",
                lambda: self.send(
                    samples.attachment_sample(self.recipient),
                    [self.recipient],
                    "the attachment sample",
                ),
            ),
            (
                "a customer's message opens a ticket; the acknowledgement goes out",
                lambda: self.converse("open_ticket"),
            ),
            (
                "the customer's reply to the acknowledgement lands in the ticket's thread",
                lambda: self.converse("reply"),
            ),
            (
                "an out-of-office answer to the acknowledgement",
                lambda: self.converse("out_of_office"),
            ),
            ("a bounce names its failed recipient", lambda: self.converse("bounce")),
            ("everything the local cloud recorded", self.show),
            (
                "cdk destroy",
                (lambda: say("    skipped (--keep): the stack stays deployed"))
                if self.keep
                else lambda: cdk_cli.destroy(self.target, root=self.root),
            ),
        ]
        self.check_setup()
        for number, (title, action) in enumerate(steps, start=1):
            _banner(number, title)
            try:
                self.timed(title, action)
            except (CommandError, DemoFailed) as error:
                raise DemoFailed(f"step {number}/{STEPS} ({title}) failed: {error}") from None

    def show(self) -> None:
        records = report.messages(self.target)
        accepted = [r for r in records if r["status"] != "rejected"]
        rejected = [r for r in records if r["status"] == "rejected"]
        say(
            f"    {len(accepted)} message(s) accepted and processed, "
            f"{len(rejected)} recipient(s) rejected"
        )
        for record in rejected:
            for line in report.render(self.target, record):
                say(f"    {line}")
        sent = self.target.local("sent?since=0")["sent"]
        say(f"    {len(sent)} message(s) sent with SES (the outbox; nothing left this machine)")
        for copy in sent:
            say(f"      {report.sent_line(copy, copy.get('relay'))}")
        journal = self.target.local("iam")
        say(
            f"    IAM ({journal['mode']}): {journal['evaluated']} request(s) of the functions "
            f"evaluated, {len(journal['denials'])} refused"
        )
        for denial in journal["denials"]:
            say(f"      {denial['function']}: {denial['message']}")
        if journal["denials"]:
            raise DemoFailed("the local cloud refused requests AWS would refuse (above)")

    def _unmatched(self) -> str:
        domain = self.recipient.rpartition("@")[2]
        return f"nobody-here@{domain}"

    def server_log_tail(self, lines: int = 30) -> list[str]:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ses_lambda_localcloud.demo",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--api-port", type=int, default=0, help="default: a free port")
    parser.add_argument("--smtp-port", type=int, default=0, help="default: a free port")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="default: .local-cloud/demo in the project"
    )
    parser.add_argument(
        "--ui-port",
        type=int,
        default=None,
        help=f"the inbox page's port (default {runtime.DEFAULT_UI_PORT}, or a free one)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print each message's whole report: logs, message.json, the event, the ticket",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the stack deployed and the local cloud running (make demo KEEP=1)",
    )
    args = parser.parse_args(argv)
    try:
        root = cdk_cli.project_root()
    except CommandError as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    state_dir = (args.state_dir or root / ".local-cloud" / "demo").resolve()
    for name in (STATE_FILE, PID_FILE, "outputs.json"):
        (state_dir / name).unlink(missing_ok=True)
    demo = Demo(
        root,
        state_dir,
        args.api_port or free_port(),
        args.smtp_port or free_port(),
        args.region,
        ui_port=args.ui_port,
        keep=args.keep,
        verbose=args.verbose,
    )
    started = time.monotonic()
    say("ses-lambda-constructs demo: the demo stack on a local cloud (no AWS account, no Docker)")
    status = 0
    try:
        demo.run()
    except DemoFailed as error:
        status = 1
        print(f"\ndemo failed: {error}", file=sys.stderr)
        tail = demo.server_log_tail()
        if tail:
            print(f"last lines of the local cloud's log ({demo.log_path}):", file=sys.stderr)
            for line in tail:
                print(f"  {line}", file=sys.stderr)
    except KeyboardInterrupt:
        status = 130
        print("\ndemo interrupted", file=sys.stderr)
    finally:
        if status != 0 or not demo.keep:
            say("")
            say("stopping the local cloud")
            demo.stop()
    total = time.monotonic() - started
    say("")
    say(
        "timings: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in demo.timings.items())
        + f"; total {total:.1f} s"
    )
    if status == 0 and demo.keep:
        say(
            f"demo finished: the stack stays deployed and the local cloud keeps running (pid "
            f"{demo.process.pid if demo.process else '?'}, log {demo.log_path})"
        )
        say(f"  send more:  .venv/bin/ses-localcloud --state-dir {state_dir} send")
        say(f"  stop it:    .venv/bin/ses-localcloud --state-dir {state_dir} stop")
    elif status == 0:
        say(
            "demo finished: the stack was deployed, received mail, was destroyed; nothing is "
            "left running"
        )
    if demo.inbox():
        if demo.keep and status == 0:
            say(f"inbox: {demo.inbox_url}")
        else:
            say(f"inbox: {demo.inbox_url} (stopped with the demo; `make demo KEEP=1` keeps it)")
    return status


if __name__ == "__main__":
    tooling.apply_quiet_tooling()
    sys.exit(main())

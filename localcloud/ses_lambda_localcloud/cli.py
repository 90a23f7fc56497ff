"""``ses-localcloud <command>``: the local cloud's commands.

start     run the local cloud in the foreground (Ctrl-C stops it)
deploy    cdk bootstrap + cdk deploy of the CDK app in this directory (all its stacks, or those
          named), with the project's own CDK CLI; prints each stack's outputs
send      send an .eml file, or a built-in sample, to an address over SMTP
show      what happened to received mail: rules, actions, handler results and logs, and every
          object written while the message was processed
destroy   cdk destroy of the app's stacks (all, or those named)
stop      stop the local cloud started with ``start``
status    is a local cloud running, and where
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from . import cdk_cli, report, runtime, samples, sender
from .target import CommandError, Target, say, step, stop


def _target(args: argparse.Namespace) -> Target:
    return Target.load(
        args.state_dir,
        api_port=getattr(args, "api_port", None),
        smtp_port=getattr(args, "smtp_port", None),
        region=getattr(args, "region", None),
    )


def _project(args: argparse.Namespace) -> Path:
    """The CDK project: the nearest cdk.json; with --app, the working directory will do."""
    try:
        return cdk_cli.project_root()
    except CommandError:
        if args.app:
            return Path.cwd().resolve()
        raise


def cmd_start(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("werkzeug", "mail.log", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    target = _target(args)
    existing = target.health()
    if existing is not None:
        raise CommandError(
            f"a local cloud already runs at {target.endpoint_url} (pid {existing.get('pid')}); "
            "stop it first (`ses-localcloud stop`)"
        )
    say("starting the local cloud (moto server with this project's extensions, SMTP receiver)")
    started = time.monotonic()
    from .inbox import UiPortInUse
    from .server import LocalCloud, PortInUse

    cloud = LocalCloud(
        api_port=target.api_port,
        smtp_port=target.smtp_port,
        region=target.region,
        state_dir=target.state_dir,
        smtp_timeout=args.smtp_timeout,
        relay_smtp_port=args.relay_smtp,
        lambda_concurrency=args.lambda_concurrency,
        ui_port=None
        if args.no_ui
        else (runtime.DEFAULT_UI_PORT if args.ui_port is None else args.ui_port),
        # the default port may be taken (another local cloud's page): then any free one
        ui_port_fallback=args.ui_port is None,
        iam=args.iam,
    )
    # The pid and state files exist before the endpoint answers: whoever sees it can stop it.
    target.save(os.getpid())
    try:
        cloud.start()
    except PortInUse as error:
        target.forget()
        raise CommandError(f"{error}: is another local cloud (or LocalStack) running?") from None
    except UiPortInUse as error:
        target.forget()
        raise CommandError(f"{error}: choose another with --ui-port, or --no-ui") from None
    except BaseException:
        target.forget()
        raise
    if (target.api_port, target.smtp_port) != (cloud.api_port, cloud.smtp_port):
        target.api_port, target.smtp_port = cloud.api_port, cloud.smtp_port
        target.save(os.getpid())
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    say(f"local cloud ready in {time.monotonic() - started:.1f} s (pid {os.getpid()})")
    say(
        f"  AWS endpoint  {cloud.endpoint_url}   (AWS_ENDPOINT_URL, region {cloud.region}, "
        f"account {runtime.ACCOUNT_ID}, any credentials)"
    )
    say(f"  SMTP          localhost:{cloud.smtp_port}")
    if cloud.inbox is not None:
        say(f"  inbox page    {cloud.inbox.url}")
    if args.relay_smtp:
        say(f"  sent mail     relayed to localhost:{args.relay_smtp}")
    say(f"  state         {cloud.state_dir}")
    say("  Ctrl-C (or `ses-localcloud stop`) stops it")
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        say("stopping the local cloud")
        cloud.stop()
        target.forget()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    target = _target(args)
    health = target.health()
    if health is None:
        say(f"no local cloud answers at {target.endpoint_url}")
        return 1
    say(json.dumps(health, indent=2))
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    target = _target(args)
    timings = cdk_cli.deploy(
        target,
        stacks=args.stacks,
        context=args.context,
        bootstrap_first=not args.no_bootstrap,
        root=_project(args),
        app=args.app,
        cdk=args.cdk,
    )
    outputs = cdk_cli.deployed_outputs(target)
    for stack, values in outputs.items():
        say(f"{stack} outputs:" if values else f"{stack}: no outputs")
        for key, value in values.items():
            say(f"  {key} = {value}")
    say("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    target = _target(args)
    cdk_cli.destroy(
        target,
        stacks=args.stacks,
        context=args.context,
        root=_project(args),
        app=args.app,
        cdk=args.cdk,
    )
    return 0


def cmd_send(args: argparse.Namespace) -> int:
    target = _target(args)
    recipients = args.to or [sender.default_recipient()]
    if not recipients or recipients == [None]:
        raise CommandError("say who to send to: --to ADDRESS")
    if args.file:
        message = Path(args.file).read_bytes()
        label = args.file
    else:
        message = samples.SAMPLES[args.sample](recipients[0])
        label = f"the {args.sample} sample"
    mail_from = args.mail_from or sender.sender_of(message)
    step(
        f"sending {label} ({len(message)} bytes) from {mail_from} to {', '.join(recipients)} "
        f"via localhost:{target.smtp_port}"
    )
    result = sender.send(
        target, message, recipients=recipients, mail_from=mail_from, plain_text=args.plain_text
    )
    for recipient in result.accepted:
        say(f"    accepted  {recipient}")
    for recipient, reply in result.rejected.items():
        say(f"    REJECTED  {recipient}: {reply}")
    if result.message_id is None:
        raise CommandError("no recipient was accepted: nothing was delivered")
    say(f"    SMTP reply: {result.reply}")
    if args.no_wait:
        return 0
    step(f"waiting for the rule set to process {result.message_id}")
    record = sender.wait_for(target, result.message_id, timeout=args.timeout)
    for line in report.render(target, record, logs=not args.quiet):
        say(line)
    return 0 if record["status"] == "done" and not result.rejected else 2


def cmd_show(args: argparse.Namespace) -> int:
    target = _target(args)
    records = report.messages(target)
    if args.message_id:
        records = [r for r in records if r["message_id"] == args.message_id]
        if not records:
            raise CommandError(f"no message {args.message_id} in the local cloud")
    elif args.last:
        records = records[-args.last :]
    if not records:
        say("no mail received yet")
    for record in records:
        for line in report.render(target, record, logs=not args.no_logs):
            say(line)
    sent = target.local("sent")["sent"]
    if sent:
        say(f"sent by SES: {len(sent)} message(s)")
    for item in sent:
        say("  " + report.sent_line(item))
    bounces = target.local("bounces")["bounces"]
    for bounce in bounces:
        say(
            f"bounce (recorded, not sent) to {bounce['to']}: {bounce['smtpReplyCode']} "
            f"{bounce['statusCode']} {bounce['message']} (rule {bounce['rule']})"
        )
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    target = _target(args)
    if stop(target):
        say("local cloud stopped")
    else:
        say("no local cloud was running (no pid file)")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="ses-localcloud",
        description="A local AWS endpoint and SES receiver for any CDK app that receives email "
        "with Amazon SES: real cdk deploy, real SMTP, no AWS account, no Docker.",
    )
    top.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the local cloud keeps its files (default .local-cloud, or "
        "$LOCALCLOUD_STATE_DIR)",
    )
    commands = top.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text)

    start = add("start", "run the local cloud in the foreground (Ctrl-C stops it)")
    start.add_argument("--api-port", type=int, default=None, help="AWS endpoint port (4566)")
    start.add_argument("--smtp-port", type=int, default=None, help="SMTP port (2525)")
    start.add_argument("--region", default=None, help="region (us-east-1)")
    start.add_argument(
        "--smtp-timeout",
        type=float,
        default=300.0,
        help="seconds before an idle SMTP client is disconnected (RFC 5321 4.5.3.2.7: 300)",
    )
    start.add_argument(
        "--relay-smtp",
        type=int,
        default=None,
        metavar="PORT",
        help="relay mail that SES sends (e.g. forwarded copies) to this local SMTP port",
    )
    start.add_argument(
        "--lambda-concurrency",
        type=_positive,
        default=4,
        metavar="N",
        help="execution environments per function without reserved concurrency (4)",
    )
    start.add_argument(
        "--ui-port",
        type=int,
        default=None,
        metavar="PORT",
        help=f"the inbox page's port on 127.0.0.1 (default {runtime.DEFAULT_UI_PORT}, or any "
        "free port if that one is taken)",
    )
    start.add_argument("--no-ui", action="store_true", help="do not serve the inbox page")
    start.add_argument(
        "--iam",
        choices=("enforce", "audit", "off"),
        default="enforce",
        help="IAM and KMS: refuse what AWS refuses (enforce, the default), only record it "
        "in /_localcloud/iam (audit), or evaluate nothing (off)",
    )
    start.add_argument("--verbose", action="store_true", help="log every request")
    start.set_defaults(run=cmd_start)

    status = add("status", "is a local cloud running, and where")
    status.set_defaults(run=cmd_status)

    for name, help_text, run in (
        ("deploy", "cdk bootstrap + cdk deploy against the local cloud", cmd_deploy),
        ("destroy", "cdk destroy against the local cloud", cmd_destroy),
    ):
        sub = add(name, help_text)
        sub.add_argument(
            "stacks",
            nargs="*",
            metavar="STACK",
            help=f"stacks to {name}, as the CDK CLI takes them (default: all the app's stacks)",
        )
        sub.add_argument("--app", default=None, help="the CDK app command (default: cdk.json's)")
        sub.add_argument(
            "--cdk",
            default=None,
            metavar="PATH",
            help="the CDK CLI to run (default: the project's node_modules/.bin/cdk, then "
            "`npx --no-install cdk`, then cdk on PATH)",
        )
        sub.add_argument(
            "--context",
            "-c",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="CDK context (repeatable)",
        )
        if name == "deploy":
            sub.add_argument(
                "--no-bootstrap", action="store_true", help="skip cdk bootstrap (already done)"
            )
        sub.set_defaults(run=run)

    send = add("send", "send an .eml file or a built-in sample over SMTP, then show the result")
    send.add_argument("file", nargs="?", help="an .eml file (default: a built-in sample)")
    send.add_argument(
        "--to",
        action="append",
        default=[],
        metavar="ADDRESS",
        help='recipient (repeatable; default: the first of cdk.json\'s "recipients" context)',
    )
    send.add_argument("--from", dest="mail_from", default=None, help="envelope sender")
    send.add_argument(
        "--sample",
        choices=sorted(samples.SAMPLES),
        default="documented",
        help="which built-in sample to send without a file",
    )
    send.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for processing")
    send.add_argument("--no-wait", action="store_true", help="do not wait for processing")
    send.add_argument(
        "--plain-text",
        action="store_true",
        help="no STARTTLS: send in plain text (a TlsPolicy Require rule then bounces the mail)",
    )
    send.add_argument("--quiet", action="store_true", help="do not print the handler's logs")
    send.set_defaults(run=cmd_send)

    show = add("show", "what happened to received mail")
    show.add_argument("message_id", nargs="?", help="one message (default: all)")
    show.add_argument("--last", type=int, default=0, help="only the last N messages")
    show.add_argument("--no-logs", action="store_true", help="leave out the handler's logs")
    show.set_defaults(run=cmd_show)

    stop = add("stop", "stop the local cloud started with start")
    stop.set_defaults(run=cmd_stop)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

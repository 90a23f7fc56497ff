"""What the commands do against a running local cloud: deploy and destroy with the pinned CDK
CLI, send mail over SMTP, and show what happened. Nothing here imports moto, so these commands
start fast; they talk to the local cloud over HTTP and SMTP like any client.
"""

from __future__ import annotations

import json
import os
import shutil
import smtplib
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from . import runtime

STATE_FILE = "cloud.json"
PID_FILE = "local-cloud.pid"
DEFAULT_STACK = "SesLambdaDemo"


class CommandError(RuntimeError):
    """A step failed; the message says which and why (printed without a traceback)."""


def say(message: str) -> None:
    print(message, flush=True)


def step(message: str) -> None:
    say(f"==> {message}")


# --- where the local cloud is ------------------------------------------------------------


@dataclass
class Target:
    api_port: int = runtime.DEFAULT_API_PORT
    smtp_port: int = runtime.DEFAULT_SMTP_PORT
    region: str = runtime.DEFAULT_REGION
    state_dir: Path = field(default_factory=runtime.default_state_dir)
    pid: int | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://localhost:{self.api_port}"

    @classmethod
    def load(cls, state_dir: Path | None = None, **overrides: Any) -> Target:
        """The running local cloud's settings (``<state dir>/cloud.json``), then overrides."""
        state_dir = (state_dir or runtime.default_state_dir()).resolve()
        target = cls(state_dir=state_dir)
        path = state_dir / STATE_FILE
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            target.api_port = int(data.get("apiPort", target.api_port))
            target.smtp_port = int(data.get("smtpPort", target.smtp_port))
            target.region = str(data.get("region", target.region))
            target.pid = data.get("pid")
        for key, value in overrides.items():
            if value is not None:
                setattr(target, key, value)
        return target

    def save(self, pid: int) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / STATE_FILE).write_text(
            json.dumps(
                {
                    "pid": pid,
                    "apiPort": self.api_port,
                    "smtpPort": self.smtp_port,
                    "region": self.region,
                    "endpoint": self.endpoint_url,
                }
            ),
            encoding="utf-8",
        )
        (self.state_dir / PID_FILE).write_text(f"{pid}\n", encoding="utf-8")

    def forget(self) -> None:
        for name in (STATE_FILE, PID_FILE):
            (self.state_dir / name).unlink(missing_ok=True)

    # local HTTP paths ---------------------------------------------------------------

    def local(self, path: str, timeout: float = 10.0) -> Any:
        url = f"{self.endpoint_url}/_localcloud/{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            body = error.read().decode("utf-8", "replace")
            raise CommandError(
                f"the local cloud answered {error.code} for {path}: {body}"
            ) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            raise CommandError(
                f"no local cloud answers at {self.endpoint_url} ({error}); start it with "
                "`ses-localcloud start`"
            ) from None

    def health(self) -> dict[str, Any] | None:
        try:
            result = self.local("health", timeout=2.0)
        except CommandError:
            return None
        return result if isinstance(result, dict) else None

    def wait_until_up(
        self, timeout: float = 60.0, process: subprocess.Popen[Any] | None = None
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = self.health()
            if health is not None:
                return health
            if process is not None and process.poll() is not None:
                raise CommandError(f"the local cloud exited with status {process.returncode}")
            time.sleep(0.2)
        raise CommandError(
            f"the local cloud did not come up at {self.endpoint_url} in {timeout:.0f} s"
        )

    # AWS clients ---------------------------------------------------------------------

    def client(self, service: str) -> Any:
        import boto3

        factory: Any = boto3.client  # any service name, so not the stubs' overloads
        return factory(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=runtime.DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=runtime.DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=runtime.DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
        )


# --- the CDK CLI -------------------------------------------------------------------------


def project_root(start: Path | None = None) -> Path:
    """The nearest directory (from the working directory up) that holds cdk.json."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "cdk.json").exists():
            return candidate
    raise CommandError("no cdk.json here or above: run this from the project (or pass --app)")


def cdk_command(root: Path) -> list[str]:
    """The pinned CLI: node_modules/.bin/cdk of the app's directory or a parent, or of the
    checkout this package lives in."""
    package_checkout = Path(__file__).resolve().parents[2]
    for candidate in (root, *root.parents, package_checkout):
        local = candidate / "node_modules" / ".bin" / "cdk"
        if local.exists():
            return [str(local)]
    if shutil.which("npx"):
        return ["npx", "--no-install", "cdk"]
    raise CommandError("the pinned CDK CLI is not installed: run `npm ci` (or `make setup`)")


def cdk_environment(target: Target) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")
    }
    cache = target.state_dir / "cdk-home"
    env.update(
        {
            "AWS_ENDPOINT_URL": target.endpoint_url,
            "AWS_REGION": target.region,
            "AWS_DEFAULT_REGION": target.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED": "true",
            # The CLI caches the account per access key: one CDK_HOME per local cloud.
            "CDK_HOME": str(cache),
            "CDK_DISABLE_VERSION_CHECK": "true",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": os.environ.get(
                "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20"
            ),
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "true",
            **runtime.DUMMY_CREDENTIALS,
        }
    )
    return env


def run_cdk(
    target: Target,
    arguments: Sequence[str],
    *,
    root: Path,
    label: str,
    echo: Callable[[str], None] = say,
    cwd: Path | None = None,
) -> float:
    """Run one CDK CLI command with its output streaming through; returns the seconds taken."""
    command = [*cdk_command(root), *arguments]
    step(f"{label}: {' '.join(['cdk', *arguments])}")
    workdir = cwd or root
    env = cdk_environment(target)
    env["PWD"] = str(workdir)
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    assert process.stdout is not None
    for line in process.stdout:
        echo(f"    {line.rstrip()}")
    status = process.wait()
    elapsed = time.monotonic() - started
    if status != 0:
        raise CommandError(f"{label} failed (cdk exited with {status} after {elapsed:.1f} s)")
    say(f"    {label} done in {elapsed:.1f} s")
    return elapsed


def context_arguments(context: Sequence[str], app: str | None = None) -> list[str]:
    """``--app`` and ``--context`` arguments. (The cloud assembly goes to the state directory,
    ``--output``, so a deploy never races ``cdk synth`` over the project's cdk.out.)"""
    arguments: list[str] = ["--app", app] if app else []
    for item in context:
        if "=" not in item:
            raise CommandError(f"--context takes key=value, got {item!r}")
        arguments += ["--context", item]
    return arguments


def bootstrap(
    target: Target, *, root: Path | None = None, echo: Callable[[str], None] = say
) -> float:
    """``cdk bootstrap`` of the local account and region.

    Run from the state directory: with no cdk.json there, the CLI bootstraps the named
    environment without synthesizing the app first.
    """
    root = root or project_root()
    target.state_dir.mkdir(parents=True, exist_ok=True)
    return run_cdk(
        target,
        ["bootstrap", f"aws://{runtime.ACCOUNT_ID}/{target.region}", "--no-notices"],
        root=root,
        label="bootstrap",
        echo=echo,
        cwd=target.state_dir,
    )


def deploy(
    target: Target,
    *,
    stack: str = DEFAULT_STACK,
    context: Sequence[str] = (),
    bootstrap_first: bool = True,
    root: Path | None = None,
    echo: Callable[[str], None] = say,
    app: str | None = None,
) -> dict[str, float]:
    """``cdk bootstrap`` (unless told not to) and ``cdk deploy`` against the local endpoint."""
    root = root or project_root()
    if target.health() is None:
        raise CommandError(
            f"no local cloud answers at {target.endpoint_url}; start it first "
            "(`ses-localcloud start`)"
        )
    timings: dict[str, float] = {}
    if bootstrap_first:
        timings["bootstrap"] = bootstrap(target, root=root, echo=echo)
    outputs = target.state_dir / "outputs.json"
    timings["deploy"] = run_cdk(
        target,
        [
            "deploy",
            stack,
            "--require-approval",
            "never",
            "--no-notices",
            "--outputs-file",
            str(outputs),
            "--output",
            str(target.state_dir / "cdk.out"),
            *context_arguments(context, app),
        ],
        root=root,
        label="deploy",
        echo=echo,
    )
    return timings


def destroy(
    target: Target,
    *,
    stack: str = DEFAULT_STACK,
    context: Sequence[str] = (),
    root: Path | None = None,
    echo: Callable[[str], None] = say,
    app: str | None = None,
) -> float:
    root = root or project_root()
    return run_cdk(
        target,
        [
            "destroy",
            stack,
            "--force",
            "--no-notices",
            "--output",
            str(target.state_dir / "cdk.out"),
            *context_arguments(context, app),
        ],
        root=root,
        label="destroy",
        echo=echo,
    )


def stack_outputs(target: Target, stack: str = DEFAULT_STACK) -> dict[str, str]:
    cloudformation = target.client("cloudformation")
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as error:
        raise CommandError(f"stack {stack} is not deployed in the local cloud ({error})") from None
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}


# --- mail --------------------------------------------------------------------------------


@dataclass
class SendResult:
    accepted: list[str]
    rejected: dict[str, str]
    message_id: str | None
    reply: str


def send(
    target: Target,
    message: bytes,
    *,
    recipients: Sequence[str],
    mail_from: str,
    timeout: float = 30.0,
) -> SendResult:
    """Send over SMTP; rejected recipients are reported, never dropped silently."""
    rejected: dict[str, str] = {}
    accepted: list[str] = []
    try:
        with smtplib.SMTP("localhost", target.smtp_port, timeout=timeout) as smtp:
            smtp.ehlo("local-cloud-client")
            code, reply = smtp.mail(
                mail_from, [f"SIZE={len(message)}"] if smtp.has_extn("size") else []
            )
            if code != 250:
                raise CommandError(f"MAIL FROM refused: {code} {reply.decode(errors='replace')}")
            for recipient in recipients:
                code, reply = smtp.rcpt(recipient)
                if code in (250, 251):
                    accepted.append(recipient)
                else:
                    rejected[recipient] = f"{code} {reply.decode(errors='replace')}"
            if not accepted:
                smtp.rset()
                return SendResult(accepted, rejected, None, "no recipient was accepted")
            code, reply = smtp.data(message)
            text = reply.decode(errors="replace")
            if code != 250:
                raise CommandError(f"the message was refused: {code} {text}")
    except (OSError, smtplib.SMTPException) as error:
        if isinstance(error, smtplib.SMTPException) and not isinstance(
            error, smtplib.SMTPServerDisconnected
        ):
            raise CommandError(f"SMTP error: {error}") from None
        raise CommandError(
            f"no SMTP server answers at localhost:{target.smtp_port} ({error}); is the local "
            "cloud running?"
        ) from None
    message_id = text.split()[-1] if text.lower().startswith("ok ") else None
    return SendResult(accepted, rejected, message_id, f"{code} {text}")


def wait_for(target: Target, message_id: str, timeout: float = 90.0) -> dict[str, Any]:
    record: dict[str, Any] = target.local(
        f"messages/{message_id}?wait={timeout}", timeout=timeout + 10
    )
    if not record.get("finished"):
        raise CommandError(f"message {message_id} was not processed within {timeout:.0f} s")
    return record


def default_recipient(root: Path | None = None) -> str | None:
    """The first recipient of the demo app's context (cdk.json), if there is one."""
    try:
        data = json.loads((root or project_root()).joinpath("cdk.json").read_text("utf-8"))
    except (CommandError, OSError, ValueError):
        return None
    recipients = data.get("context", {}).get("recipients")
    if isinstance(recipients, list):
        recipients = ",".join(str(r) for r in recipients)
    if isinstance(recipients, str):
        first = recipients.split(",")[0].strip()
        if "@" in first:
            return first
        if first:
            return f"test@{first.lstrip('.')}"
    return None


def sender_of(message: bytes) -> str:
    from email.parser import BytesHeaderParser

    headers = BytesHeaderParser().parsebytes(message)
    return parseaddr(str(headers.get("From", "")))[1] or "sender@example.com"


# --- show --------------------------------------------------------------------------------


def messages(target: Target) -> list[dict[str, Any]]:
    return list(target.local("messages")["messages"])


def parsed_outputs(target: Target, record: dict[str, Any]) -> dict[str, Any]:
    """Objects under any key holding the message id in the buckets its S3 actions wrote to,
    with the content of JSON documents (the reference handler's message.json)."""
    s3 = target.client("s3")
    buckets = {
        action["detail"]["bucket"]
        for rule in record.get("rules", [])
        for action in rule["actions"]
        if action["type"] == "S3" and "bucket" in action.get("detail", {})
    }
    found: dict[str, Any] = {}
    for bucket in sorted(buckets):
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            for item in page.get("Contents") or []:
                key = item["Key"]
                if record["message_id"] not in key:
                    continue
                entry: dict[str, Any] = {"size": item["Size"]}
                if key.endswith(".json"):
                    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                    try:
                        entry["json"] = json.loads(body)
                    except ValueError:
                        entry["text"] = body.decode("utf-8", "replace")
                found[f"s3://{bucket}/{key}"] = entry
    return found


def log_lines(target: Target, group: str, stream: str) -> list[str]:
    logs = target.client("logs")
    try:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)[
            "events"
        ]
    except Exception as error:
        return [f"(logs unavailable: {error})"]
    return [str(e["message"]) for e in events]


def render(
    target: Target, record: dict[str, Any], *, logs: bool = True, documents: bool = True
) -> list[str]:
    lines: list[str] = []
    if record.get("status") == "rejected":
        for item in record.get("rejected", []):
            lines.append(
                f"REJECTED {item['recipient']} (from {record['mail_from'] or '<>'}): "
                f"{item['reply']}"
            )
        return lines
    lines.append(
        f"message {record['message_id']}  [{record['status']}]  from {record['mail_from']}  "
        f"to {', '.join(record['recipients'])}  {record['size']} bytes"
    )
    if record.get("subject") is not None:
        lines.append(f"  subject: {record['subject']}")
    lines.append(f"  rule set: {record.get('rule_set')}")
    if not record.get("rules"):
        lines.append("  no rule matched")
    for rule in record.get("rules", []):
        lines.append(f"  rule {rule['rule']} (recipients {', '.join(rule['recipients'])})")
        for action in rule["actions"]:
            detail = action.get("detail", {})
            lines.append(f"    {action['type']}: {action['status']}" + _action_text(detail))
            if action["type"] == "Lambda":
                for attempt in detail.get("attempts", []):
                    outcome = "ok" if attempt["ok"] else "error"
                    lines.append(
                        f"      attempt {attempt['requestId']}: {outcome} in "
                        f"{attempt['durationMs']} ms"
                        + (
                            f" -> {json.dumps(attempt['result'])}"
                            if attempt["ok"]
                            else f" -> {json.dumps(attempt['error'])}"
                        )
                    )
                if logs and detail.get("logGroup"):
                    lines.append(f"      logs {detail['logGroup']} {detail['logStream']}:")
                    lines += [
                        f"        {line}"
                        for line in log_lines(target, detail["logGroup"], detail["logStream"])
                    ]
    for note in record.get("notes", []):
        lines.append(f"  note: {note}")
    if record.get("error"):
        lines.append(f"  error: {record['error']}")
    if documents:
        outputs = parsed_outputs(target, record)
        if outputs:
            lines.append("  objects written:")
        for location, entry in outputs.items():
            lines.append(f"    {location} ({entry['size']} bytes)")
            if "json" in entry:
                text = json.dumps(entry["json"], indent=2, ensure_ascii=False)
                lines += [f"      {line}" for line in text.splitlines()]
    return lines


def _action_text(detail: dict[str, Any]) -> str:
    parts = []
    if "bucket" in detail:
        parts.append(f"s3://{detail['bucket']}/{detail['key']}")
    if "functionArn" in detail:
        parts.append(f"{detail['functionArn'].rsplit(':', 1)[-1]} ({detail['invocationType']})")
    if "disposition" in detail:
        parts.append(f"disposition {detail['disposition']}")
    if "error" in detail:
        error = detail["error"]
        parts.append(f"ERROR {error if isinstance(error, str) else json.dumps(error)}")
    if "bounce" in detail:
        parts.append(f"bounce {detail['bounce']['smtpReplyCode']} to {detail['bounce']['to']}")
    if "note" in detail:
        parts.append(f"({detail['note']})")
    return "  " + "  ".join(parts) if parts else ""


def stop(target: Target, timeout: float = 15.0) -> bool:
    """Stop the local cloud started with ``start`` (its pid file); True if one was running."""
    import signal

    pid_file = target.state_dir / PID_FILE
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text(encoding="utf-8").strip() or 0)
    health = target.health()
    if health is not None and health.get("pid") not in (None, pid):
        raise CommandError(
            f"the pid file says {pid} but the local cloud at {target.endpoint_url} is "
            f"{health.get('pid')}; not stopping anything"
        )
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        target.forget()
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            target.forget()
            return True
        time.sleep(0.1)
    raise CommandError(f"the local cloud (pid {pid}) did not stop within {timeout:.0f} s")


def _alive(pid: int) -> bool:
    """Is the process running (an exited child that nobody reaped yet counts as gone)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"

"""Runs deployed Python Lambda code in a subprocess, without Docker.

Moto's Lambda backend runs code only inside Docker containers. The local cloud replaces that:
the function's zip (as deployed: the CDK asset in the bootstrap bucket) is unpacked once per
code SHA-256 into a cache directory and ``sys.executable`` runs a small bootstrap that imports
the handler and calls it with the event. Like the managed runtime, the function sees only its
own code and the runtime's ``boto3`` on ``sys.path`` (not this virtualenv), its environment
variables, ``AWS_LAMBDA_*`` variables, dummy credentials and ``AWS_ENDPOINT_URL`` pointing at the
local endpoint. Its output becomes a CloudWatch Logs stream in ``/aws/lambda/<name>`` with the
START/END/REPORT lines Lambda writes.

Emulated: timeout (the process is killed), errors as ``{"errorType", "errorMessage"}``,
asynchronous invocation with retries (``EventInvokeConfig.MaximumRetryAttempts``, default 2) and
the on-failure destination or dead-letter queue (SQS, SNS or Lambda). Not emulated: memory
limits, concurrency limits, layers, container images, non-Python runtimes, warm starts.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import runtime

if TYPE_CHECKING:
    from .moto_ext.moto_internals import LambdaFunction

log = logging.getLogger(__name__)

_BOOTSTRAP = Path(__file__).with_name("_lambda_bootstrap.py")
#: What the managed Python runtime provides besides the standard library.
_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
#: Time allowed for interpreter start-up on top of the function's own timeout.
_STARTUP_GRACE_SECONDS = 1.0
_extract_lock = threading.Lock()


@dataclass
class Invocation:
    """The outcome of one invocation attempt."""

    request_id: str
    function_name: str
    function_arn: str
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    log_group: str = ""
    log_stream: str = ""
    log_lines: list[str] = field(default_factory=list)

    @property
    def payload(self) -> bytes:
        """The Invoke API's response payload: the result, or the error document."""
        body = self.result if self.ok else self.error
        return json.dumps(body).encode("utf-8")

    def summary(self) -> dict[str, Any]:
        return {
            "requestId": self.request_id,
            "functionName": self.function_name,
            "ok": self.ok,
            "result": self.result,
            "error": self.error,
            "durationMs": round(self.duration_ms, 1),
            "logGroup": self.log_group,
            "logStream": self.log_stream,
        }


def _runtime_site(cache_dir: Path) -> Path:
    """A directory holding only the runtime's own packages (links into this interpreter's)."""
    site = cache_dir / "runtime-site"
    marker = site / ".complete"
    # The links must still resolve (the virtualenv may have moved since they were made).
    if marker.exists() and (site / "boto3").exists():
        return site
    with _extract_lock:
        if marker.exists() and (site / "boto3").exists():
            return site
        site.mkdir(parents=True, exist_ok=True)
        for stale in site.iterdir():
            if stale.is_symlink() and not stale.exists():
                stale.unlink()
        for name in _RUNTIME_PACKAGES:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                continue
            origin = Path(spec.origin)
            source = origin.parent if origin.name == "__init__.py" else origin
            target = site / source.name
            if not target.exists():
                target.symlink_to(source, target_is_directory=source.is_dir())
        marker.touch()
    return site


def _code_dir(cache_dir: Path, fn: LambdaFunction) -> Path:
    """Unpack the function's zip once per code digest."""
    digest = getattr(fn, "code_digest", None) or "empty"
    target = cache_dir / "code" / digest
    if target.exists():
        return target
    with _extract_lock:
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
        try:
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                archive.extractall(staging)
            staging.rename(target)
        except Exception:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


def _logs_backend(fn: LambdaFunction) -> Any:
    from .moto_ext.moto_internals import logs_backends

    return logs_backends[fn.account_id][fn.region]


def log_group_of(fn: LambdaFunction) -> str:
    config = getattr(fn, "logging_config", None) or {}
    return str(config.get("LogGroup") or f"/aws/lambda/{fn.function_name}")


def _write_logs(fn: LambdaFunction, group: str, stream: str, lines: list[str]) -> None:
    backend = _logs_backend(fn)
    backend.ensure_log_group(group)
    backend.create_log_stream(group, stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line} for line in lines] or [
        {"timestamp": now, "message": ""}
    ]
    backend.put_log_events(group, stream, events)


def _log_format(fn: LambdaFunction) -> str:
    config = getattr(fn, "logging_config", None) or {}
    return str(config.get("LogFormat") or "Text").upper()


def _platform_line(
    json_logs: bool,
    kind: str,
    request_id: str,
    invocation: Invocation | None = None,
    memory: int = 128,
) -> str:
    """The START/END/REPORT lines Lambda writes, in the function's log format."""
    duration = invocation.duration_ms if invocation else 0.0
    billed = max(1, int(duration + 0.999))
    if json_logs:
        record: dict[str, Any] = {"requestId": request_id}
        if kind == "start":
            record["version"] = "$LATEST"
        if kind == "report":
            record["status"] = "success" if invocation and invocation.ok else "error"
            record["metrics"] = {
                "durationMs": round(duration, 2),
                "billedDurationMs": billed,
                "memorySizeMB": memory,
            }
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return json.dumps({"time": now, "type": f"platform.{kind}", "record": record})
    if kind == "start":
        return f"START RequestId: {request_id} Version: $LATEST"
    if kind == "end":
        return f"END RequestId: {request_id}"
    return (
        f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
        f"Billed Duration: {billed} ms\tMemory Size: {memory} MB"
    )


def _environment(
    fn: LambdaFunction, request_id: str, group: str, stream: str, code_dir: Path
) -> dict[str, str]:
    rt = runtime.current()
    env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
            "AWS_LAMBDA_LOG_GROUP_NAME": group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_FORMAT": "JSON" if _log_format(fn) == "JSON" else "Text",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_ENDPOINT_URL": rt.endpoint_url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "LAMBDA_TASK_ROOT": str(code_dir),
            "LAMBDA_RUNTIME_DIR": str(_BOOTSTRAP.parent),
            "_HANDLER": fn.handler or "",
            "LOCALCLOUD_REQUEST_ID": request_id,
            "LOCALCLOUD_FUNCTION_ARN": fn.function_arn,
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
    )
    level = (getattr(fn, "logging_config", None) or {}).get("ApplicationLogLevel")
    if level:
        env["AWS_LAMBDA_LOG_LEVEL"] = str(level)
    env.update(runtime.DUMMY_CREDENTIALS)
    return env


def invoke(fn: LambdaFunction, event: Any) -> Invocation:
    """Run the function once, synchronously, and record its log stream."""
    rt = runtime.current()
    request_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    group = log_group_of(fn)
    stream = f"{now:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
    invocation = Invocation(
        request_id=request_id,
        function_name=fn.function_name,
        function_arn=fn.function_arn,
        ok=False,
        log_group=group,
        log_stream=stream,
    )
    json_logs = _log_format(fn) == "JSON"
    lines = [_platform_line(json_logs, "start", request_id)]
    started = time.monotonic()
    try:
        invocation.error, output = _run(fn, event, request_id, group, stream, rt.cache_dir)
    except Exception as exc:  # a problem of the emulator itself: still visible in the logs
        log.exception("local Lambda runner failed for %s", fn.function_name)
        invocation.error = {"errorType": "LocalCloud.RunnerError", "errorMessage": str(exc)}
        output = [f"[ERROR] local cloud could not run the function: {exc}"]
    invocation.duration_ms = (time.monotonic() - started) * 1000
    if invocation.error is None:
        invocation.ok = True
        invocation.result = output.pop()
    lines.extend(output)
    lines.append(_platform_line(json_logs, "end", request_id))
    lines.append(_platform_line(json_logs, "report", request_id, invocation, fn.memory_size))
    invocation.log_lines = lines
    try:
        _write_logs(fn, group, stream, lines)
    except Exception:
        log.exception("could not write CloudWatch logs for %s", fn.function_name)
    return invocation


def _run(
    fn: LambdaFunction, event: Any, request_id: str, group: str, stream: str, cache_dir: Path
) -> tuple[dict[str, Any] | None, list[Any]]:
    """Returns (error or None, output lines [+ result as the last item when successful])."""
    runtime_name = fn.run_time or ""
    if not runtime_name.startswith("python"):
        return (
            {
                "errorType": "LocalCloud.UnsupportedRuntime",
                "errorMessage": f"runtime {runtime_name or '(none)'} is not emulated locally; "
                "the local cloud runs Python functions only",
            },
            [f"[ERROR] runtime {runtime_name} is not emulated by the local cloud"],
        )
    if not getattr(fn, "code_bytes", b""):
        return (
            {"errorType": "LocalCloud.NoCode", "errorMessage": "the function has no code"},
            ["[ERROR] the function has no code (its S3 object was missing at deploy time)"],
        )
    code_dir = _code_dir(cache_dir, fn)
    site = _runtime_site(cache_dir)
    with tempfile.TemporaryDirectory(prefix="invoke-") as scratch:
        result_file = Path(scratch) / "result.json"
        command = [
            sys.executable,
            "-I",
            "-S",
            str(_BOOTSTRAP),
            fn.handler or "",
            str(code_dir),
            str(site),
            str(result_file),
        ]
        env = _environment(fn, request_id, group, stream, code_dir)
        env["TMPDIR"] = scratch
        timeout = float(fn.timeout or 3)
        try:
            completed = subprocess.run(
                command,
                input=json.dumps(event).encode("utf-8"),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=scratch,
                timeout=timeout + _STARTUP_GRACE_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as expired:
            output = _lines(expired.stdout or b"")
            message = f"Task timed out after {timeout:.2f} seconds"
            output.append(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ} {request_id} {message}")
            return {"errorType": "Sandbox.Timedout", "errorMessage": message}, output
        output = _lines(completed.stdout)
        if not result_file.exists():
            message = (
                f"RequestId: {request_id} Error: Runtime exited with error: "
                f"exit status {completed.returncode}"
            )
            output.append(message)
            return {"errorType": "Runtime.ExitError", "errorMessage": message}, output
        outcome = json.loads(result_file.read_text(encoding="utf-8"))
    if not outcome.pop("ok"):
        return outcome, output
    return None, [*output, outcome["result"]]


def _lines(raw: bytes) -> list[str]:
    return raw.decode("utf-8", errors="replace").splitlines()


# --- asynchronous invocation -------------------------------------------------------------


def _event_invoke_config(fn: LambdaFunction) -> dict[str, Any]:
    configs = getattr(fn, "event_invoke_config", None) or []
    return dict(configs[0].config) if configs else {}


def invoke_async(fn: LambdaFunction, event: Any) -> list[Invocation]:
    """Invoke like Lambda's Event type: retries on error, then the failure destination.

    Runs in the caller's thread and returns every attempt; use ``invoke_in_background`` for
    fire-and-forget.
    """
    config = _event_invoke_config(fn)
    retries = int(config.get("MaximumRetryAttempts", 2))
    attempts: list[Invocation] = []
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(runtime.current().async_retry_delay)
        attempts.append(invoke(fn, event))
        if attempts[-1].ok:
            break
    last = attempts[-1]
    destinations = config.get("DestinationConfig") or {}
    key = "OnSuccess" if last.ok else "OnFailure"
    target = (destinations.get(key) or {}).get("Destination")
    if target:
        _send_destination_record(fn, target, event, attempts)
    elif not last.ok:
        dead_letter = (getattr(fn, "dead_letter_config", None) or {}).get("TargetArn")
        if dead_letter:
            _send_dead_letter(fn, dead_letter, event, last)
    return attempts


def invoke_in_background(fn: LambdaFunction, event: Any) -> threading.Thread:
    thread = threading.Thread(
        target=invoke_async, args=(fn, event), name=f"lambda-event-{fn.function_name}", daemon=True
    )
    thread.start()
    return thread


def _send_destination_record(
    fn: LambdaFunction, target: str, event: Any, attempts: list[Invocation]
) -> None:
    last = attempts[-1]
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": last.request_id,
            "functionArn": f"{fn.function_arn}:$LATEST",
            "condition": "Success" if last.ok else "RetriesExhausted",
            "approximateInvokeCount": len(attempts),
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": last.result if last.ok else last.error,
    }
    if not last.ok:
        record["responseContext"]["functionError"] = "Unhandled"
    _deliver(fn, target, json.dumps(record), attributes={})


def _send_dead_letter(fn: LambdaFunction, target: str, event: Any, last: Invocation) -> None:
    error = last.error or {}
    attributes = {
        "RequestID": last.request_id,
        "ErrorCode": "200",
        "ErrorMessage": str(error.get("errorMessage", ""))[:1000],
    }
    _deliver(fn, target, json.dumps(event), attributes=attributes)


def _deliver(fn: LambdaFunction, target: str, body: str, attributes: dict[str, str]) -> None:
    service = target.split(":")[2]
    region = target.split(":")[3] or fn.region
    try:
        if service == "sqs":
            from .moto_ext.moto_internals import sqs_backends

            queue_name = target.rsplit(":", 1)[-1]
            sqs_attributes = {
                name: {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
            }
            sqs_backends[fn.account_id][region].send_message(
                queue_name, body, message_attributes=sqs_attributes
            )
        elif service == "sns":
            from .moto_ext.moto_internals import sns_backends

            sns_backends[fn.account_id][region].publish(body, arn=target)
        elif service == "lambda":
            from .moto_ext.moto_internals import lambda_backends

            other = lambda_backends[fn.account_id][region].get_function(target)
            invoke_in_background(other, json.loads(body))
        else:
            log.warning("destination %s of %s is not emulated", target, fn.function_name)
    except Exception:
        log.exception("could not deliver to %s for %s", target, fn.function_name)

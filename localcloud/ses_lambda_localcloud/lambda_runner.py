"""Runs deployed Python Lambda code in warm execution environments, without Docker.

Moto's Lambda backend runs code only inside Docker containers. The local cloud replaces that:
the function's zip (as deployed: the CDK asset in the bootstrap bucket) is unpacked once per
code SHA-256, and each invocation runs in an execution environment (``lambda_environments``): a
long-lived worker process of the function version's code and configuration, on the interpreter
of its declared runtime when this machine has it (``lambda_interpreters``), reused across
invocations like Lambda's. Like the managed runtime, the function sees only its own code, its
layers (unpacked in order into one folder that stands for ``/opt``) and the runtime's ``boto3``
on ``sys.path`` (not this virtualenv), and the environment variables Lambda
sets, plus ``AWS_ENDPOINT_URL`` pointing at the local endpoint. Its output goes to the
environment's CloudWatch Logs stream in ``/aws/lambda/<name>`` with the INIT_START/START/END/
REPORT lines Lambda writes.

Emulated: cold and warm starts, timeouts (the environment is killed and replaced), runtime exits,
errors as ``{"errorType", "errorMessage"}``, reserved concurrency (synchronous invocations beyond
it are throttled), asynchronous invocation through a queue (``lambda_async``) with Lambda's
retries, maximum event age, and on-success / on-failure destinations or the dead-letter queue.
Not emulated: memory limits (the peak is reported), container images, non-Python
runtimes, provisioned concurrency, SnapStart.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import lambda_environments, runtime
from .lambda_environments import Environment, Throttled
from .lifecycle import Stopping

if TYPE_CHECKING:
    from .moto_ext.moto_internals import LambdaFunction

log = logging.getLogger(__name__)


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
    #: The environment that ran it, whether this was its first invocation, and its init time.
    environment_id: str = ""
    cold_start: bool = False
    init_duration_ms: float | None = None
    max_memory_mb: int | None = None
    #: Which interpreter ran it (``lambda_interpreters.Interpreter.summary``).
    interpreter: dict[str, Any] | None = None
    #: Refused because the function's reserved concurrency was in use (Lambda's 429).
    throttled: bool = False
    #: The access key of the environment's credentials (its AWS requests are signed with it).
    access_key_id: str = ""

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
            "logLines": self.log_lines,
            "environment": self.environment_id,
            "coldStart": self.cold_start,
            "initDurationMs": (
                None if self.init_duration_ms is None else round(self.init_duration_ms, 1)
            ),
            "interpreter": self.interpreter,
        }


def log_group_of(fn: LambdaFunction) -> str:
    config = getattr(fn, "logging_config", None) or {}
    return str(config.get("LogGroup") or f"/aws/lambda/{fn.function_name}")


def _log_format(fn: LambdaFunction) -> str:
    config = getattr(fn, "logging_config", None) or {}
    return str(config.get("LogFormat") or "Text").upper()


def environment_variables(fn: LambdaFunction) -> dict[str, str]:
    """The variables an environment starts with: the function's own, then those Lambda sets.

    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
    (``AWS_LAMBDA_LOG_STREAM_NAME``, ``LAMBDA_TASK_ROOT`` and ``LAMBDA_RUNTIME_DIR`` are set per
    environment; ``_X_AMZN_TRACE_ID`` per invocation.) The log format and level variables are
    those of advanced logging controls:
    https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html.
    The credentials stand in for the execution role's (the local endpoint accepts any).
    """
    rt = runtime.current()
    env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
    env.update(
        {
            "_HANDLER": fn.handler or "",
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": log_group_of(fn),
            "AWS_LAMBDA_LOG_FORMAT": "JSON" if _log_format(fn) == "JSON" else "Text",
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            # Local: where the AWS SDKs find the local cloud, and no shared config files.
            "AWS_ENDPOINT_URL": rt.endpoint_url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    level = (getattr(fn, "logging_config", None) or {}).get("ApplicationLogLevel")
    if level:
        env["AWS_LAMBDA_LOG_LEVEL"] = str(level)
    env.update(runtime.DUMMY_CREDENTIALS)
    return env


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _platform_line(fn: LambdaFunction, kind: str, record: dict[str, Any]) -> str:
    """The platform lines Lambda writes, in the function's log format.

    https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html (JSON) and
    https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html (text).
    """
    if _log_format(fn) == "JSON":
        return json.dumps({"time": _now(), "type": f"platform.{kind}", "record": record})
    if kind == "initStart":
        return f"INIT_START Runtime Version: {record['runtimeVersion']}"
    if kind == "start":
        return f"START RequestId: {record['requestId']} Version: {record['version']}"
    if kind == "runtimeDone":
        return f"END RequestId: {record['requestId']}"
    metrics = record["metrics"]
    text = (
        f"REPORT RequestId: {record['requestId']}\tDuration: {metrics['durationMs']:.2f} ms\t"
        f"Billed Duration: {metrics['billedDurationMs']} ms\t"
        f"Memory Size: {metrics['memorySizeMB']} MB"
    )
    if metrics.get("maxMemoryUsedMB") is not None:
        text += f"\tMax Memory Used: {metrics['maxMemoryUsedMB']} MB"
    if metrics.get("initDurationMs") is not None:
        text += f"\tInit Duration: {metrics['initDurationMs']:.2f} ms"
    return text


def unrunnable(fn: LambdaFunction) -> dict[str, Any] | None:
    runtime_name = fn.run_time or ""
    if not runtime_name.startswith("python"):
        return {
            "errorType": "LocalCloud.UnsupportedRuntime",
            "errorMessage": f"runtime {runtime_name or '(none)'} is not emulated locally; "
            "the local cloud runs Python functions only",
        }
    if not getattr(fn, "code_bytes", b""):
        return {
            "errorType": "LocalCloud.NoCode",
            "errorMessage": "the function has no code (its S3 object was missing at deploy time)",
        }
    return None


def invoke(fn: LambdaFunction, event: Any, *, request_id: str | None = None) -> Invocation:
    """Run the function once, synchronously, in a free (or new) environment.

    Waits for an environment when the local limit (``Runtime.lambda_concurrency``) is reached;
    throttled (``Invocation.throttled``) when the function's reserved concurrency is.
    """
    request_id = request_id or str(uuid.uuid4())
    slots = lambda_environments.slots_of(fn)
    problem = unrunnable(fn)
    if problem is not None:
        return _failed(fn, request_id, problem)
    try:
        environment = slots.acquire(fn, wait=None)
    except Throttled:
        # https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors
        invocation = _failed(
            fn,
            request_id,
            {
                "errorType": "TooManyRequestsException",
                "errorMessage": "Rate Exceeded.",
                "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
            },
            log=False,
        )
        invocation.throttled = True
        return invocation
    assert environment is not None
    try:
        return run_in(fn, environment, event, request_id)
    finally:
        slots.release(environment)


def _failed(
    fn: LambdaFunction, request_id: str, error: dict[str, Any], *, log: bool = True
) -> Invocation:
    invocation = Invocation(
        request_id=request_id,
        function_name=fn.function_name,
        function_arn=fn.function_arn,
        ok=False,
        error=error,
        log_group=log_group_of(fn),
    )
    if log:
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[{fn.version}]{uuid.uuid4().hex}"
        invocation.log_stream = stream
        invocation.log_lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
        _write_logs(fn, invocation.log_group, stream, invocation.log_lines, create=True)
    return invocation


def run_in(fn: LambdaFunction, environment: Environment, event: Any, request_id: str) -> Invocation:
    """One invocation in an environment the caller holds (``Slots.acquire``)."""
    group = log_group_of(fn)
    invocation = Invocation(
        request_id=request_id,
        function_name=fn.function_name,
        function_arn=fn.function_arn,
        ok=False,
        log_group=group,
        log_stream=environment.log_stream,
        environment_id=environment.id,
        interpreter=environment.interpreter.summary(),
        access_key_id=environment.access_key_id,
    )
    lines: list[str] = []
    init_ms: float | None = None
    try:
        if environment.init is None:
            invocation.cold_start = True
            lines += _init_lines(fn, environment)
            environment.prepare(fn)
            started = time.monotonic()
            init = environment.start(fn, environment_variables(fn))
            init_ms = (time.monotonic() - started) * 1000
            invocation.init_duration_ms = init_ms
            lines += init.lines
        else:
            init = environment.init
        lines.append(_platform_line(fn, "start", {"requestId": request_id, "version": fn.version}))
        if init.ok:
            phase = environment.invoke(_request(fn, request_id, event), float(fn.timeout or 3))
        else:
            phase = init
            phase.lines = []
        lines += phase.lines
        invocation.duration_ms = phase.duration_ms if init.ok else 0.0
        if phase.ok:
            invocation.ok = True
            invocation.result = phase.message.get("result")
        else:
            invocation.error = phase.message
    except Exception as exc:  # a problem of the emulator itself: still visible in the logs
        if isinstance(exc, Stopping):
            log.info("%s: %s", fn.function_name, exc)
        else:
            log.exception("local Lambda runner failed for %s", fn.function_name)
        environment.kill()
        invocation.error = {"errorType": "LocalCloud.RunnerError", "errorMessage": str(exc)}
        lines.append(f"[ERROR] local cloud could not run the function: {exc}")
    invocation.max_memory_mb = environment.max_memory_mb()
    lines.append(_platform_line(fn, "runtimeDone", {"requestId": request_id}))
    lines.append(_platform_line(fn, "report", _report(fn, invocation, init_ms)))
    invocation.log_lines = lines
    try:
        _write_logs(fn, group, environment.log_stream, lines, create=invocation.cold_start)
    except Exception:
        log.exception("could not write CloudWatch logs for %s", fn.function_name)
    return invocation


def _init_lines(fn: LambdaFunction, environment: Environment) -> list[str]:
    interpreter = environment.interpreter
    lines = [
        _platform_line(
            fn,
            "initStart",
            {
                "initializationType": "on-demand",
                "phase": "init",
                # Lambda names its runtime build here; locally, the interpreter that runs.
                "runtimeVersion": f"python:{interpreter.version} (local {interpreter.path})",
                "functionName": fn.function_name,
                "functionVersion": str(fn.version),
            },
        )
    ]
    if interpreter.fallback:
        lines.append(f"[WARNING] local cloud: {fn.run_time}: {interpreter.fallback}")
    return lines


def _request(fn: LambdaFunction, request_id: str, event: Any) -> dict[str, Any]:
    # https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return {
        "requestId": request_id,
        "event": event,
        "deadline": time.time() + float(fn.timeout or 3),
        "invokedFunctionArn": fn.function_arn,
        "traceId": f"Root={root};Parent={secrets.token_hex(8)};Sampled=0",
    }


def _report(fn: LambdaFunction, invocation: Invocation, init_ms: float | None) -> dict[str, Any]:
    duration = invocation.duration_ms
    metrics: dict[str, Any] = {
        "durationMs": round(duration, 2),
        "billedDurationMs": max(1, int(duration + 0.999)),
        "memorySizeMB": fn.memory_size,
        "maxMemoryUsedMB": invocation.max_memory_mb,
    }
    if init_ms is not None:
        metrics["initDurationMs"] = round(init_ms, 2)
    error_type = (invocation.error or {}).get("errorType")
    status = "success" if invocation.ok else "error"
    if error_type == "Sandbox.Timedout":
        status = "timeout"
    record: dict[str, Any] = {"requestId": invocation.request_id, "status": status}
    if error_type and not invocation.ok:
        record["errorType"] = error_type
    record["metrics"] = metrics
    return record


def _write_logs(
    fn: LambdaFunction, group: str, stream: str, lines: list[str], *, create: bool
) -> None:
    from .moto_ext.moto_internals import logs_backends

    backend = logs_backends[fn.account_id][fn.region]
    backend.ensure_log_group(group)
    if create:
        backend.create_log_stream(group, stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line} for line in lines] or [
        {"timestamp": now, "message": ""}
    ]
    backend.put_log_events(group, stream, events)
    _bound_logs(backend, group)


#: Log events kept per stream, and streams per log group (the oldest go first): local memory
#: bounds for long runs. CloudWatch Logs keeps everything for the group's retention period.
LOG_EVENTS_PER_STREAM = 10_000
LOG_STREAMS_PER_GROUP = 200


def _bound_logs(backend: Any, group: str) -> None:
    found = backend.groups.get(group)
    if found is None:
        return
    streams = found.streams
    for name in list(streams)[: max(0, len(streams) - LOG_STREAMS_PER_GROUP)]:
        del streams[name]  # dicts keep creation order: these are the oldest
    for log_stream in streams.values():
        if len(log_stream.events) > LOG_EVENTS_PER_STREAM:
            del log_stream.events[: len(log_stream.events) - LOG_EVENTS_PER_STREAM]


def shutdown() -> None:
    """Shut down every execution environment (the local cloud stops or resets)."""
    lambda_environments.shutdown_all()

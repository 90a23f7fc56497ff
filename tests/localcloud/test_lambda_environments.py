"""Warm execution environments: module state kept between invocations, one cold start per
environment (Powertools' own ``cold_start`` field), updates retiring environments, timeouts and
crashes replacing them, concurrency bounded by reserved concurrency, and the interpreter that
runs each function. Real worker processes throughout; waits have generous deadlines, and no
assertion is about how long anything took."""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.config
import pytest

from ses_lambda_constructs.handler_bundle import HANDLER_BUNDLE_PRUNE
from ses_lambda_localcloud import lambda_interpreters
from ses_lambda_localcloud.server import LocalCloud

from .conftest import grant, wait_until

CODE = """
import json, os, sys, tempfile, time
INVOCATIONS = 0
FIRST_SEEN = None

def handler(event, context):
    global INVOCATIONS, FIRST_SEEN
    INVOCATIONS += 1
    action = event.get("action")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "crash":
        os._exit(9)
    if action == "overlap":
        # Count the invocations running at once through files in a shared directory.
        mine = os.path.join(event["dir"], context.aws_request_id)
        open(mine, "w").close()
        most, deadline = 0, time.time() + event["wait"]
        while time.time() < deadline:
            most = max(most, len(os.listdir(event["dir"])))
            if most >= event["enough"]:
                break
            time.sleep(0.01)
        os.remove(mine)
        return {"most": most}
    scratch = os.path.join(tempfile.gettempdir(), "first-request")
    if FIRST_SEEN is None:
        FIRST_SEEN = context.aws_request_id
        with open(scratch, "w") as handle:
            handle.write(context.aws_request_id)
    with open(scratch) as handle:
        kept = handle.read()
    return {
        "invocations": INVOCATIONS,
        "pid": os.getpid(),
        "tmp_kept": kept,
        "first": FIRST_SEEN,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "env": {k: os.environ.get(k) for k in (
            "GREETING", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_INITIALIZATION_TYPE", "_HANDLER",
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT",
            "LAMBDA_RUNTIME_DIR", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "TZ", "_X_AMZN_TRACE_ID")},
        "cwd": os.getcwd(),
    }
"""

POWERTOOLS_CODE = """
import os
from aws_lambda_powertools import Logger
logger = Logger(service="warm-test")

@logger.inject_lambda_context
def handler(event, context):
    logger.info("handled")
    return {"pid": os.getpid()}
"""


def zipped(code: str, with_powertools: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", code)
        if with_powertools:
            # Powertools as the reference handler's bundle has it (the same pruned files).
            import aws_lambda_powertools
            import typing_extensions

            archive.write(typing_extensions.__file__, "typing_extensions.py")
            package = Path(aws_lambda_powertools.__file__).parent
            pruned = {p for pattern in HANDLER_BUNDLE_PRUNE for p in package.parent.glob(pattern)}
            for path in sorted(package.rglob("*.py")):
                if "__pycache__" in path.parts or any(p in pruned for p in path.parents):
                    continue
                archive.write(path, str(path.relative_to(package.parent)))
    return buffer.getvalue()


@pytest.fixture
def function(fresh: LocalCloud, aws: Callable[[str], Any]) -> Callable[..., str]:
    role = aws("iam").create_role(
        RoleName="warm",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    # Lambda sends to destinations with the function's role.
    grant(aws, "warm", "sqs:SendMessage", "sns:Publish", "lambda:InvokeFunction")

    def make(
        name: str = "warm-test",
        code: bytes | None = None,
        runtime: str = "python3.13",
        timeout: int = 10,
        **extra: Any,
    ) -> str:
        aws("lambda").create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": code or zipped(CODE)},
            Timeout=timeout,
            Environment={"Variables": {"GREETING": "hello"}},
            **extra,
        )
        return name

    return make


def invoke(aws: Callable[[str], Any], name: str, event: dict[str, Any], **extra: Any) -> Any:
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event), **extra)
    response["body"] = json.loads(response["Payload"].read() or b"null")
    return response


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def tail(response: Any) -> list[str]:
    import base64

    return base64.b64decode(response["LogResult"]).decode().splitlines()


def test_module_state_and_tmp_persist_in_a_warm_environment(
    function: Callable[..., str], aws: Callable[[str], Any], cloud: LocalCloud
) -> None:
    name = function()
    first = invoke(aws, name, {}, LogType="Tail")
    second = invoke(aws, name, {}, LogType="Tail")
    third = invoke(aws, name, {})["body"]
    assert [first["body"]["invocations"], second["body"]["invocations"], third["invocations"]] == [
        1,
        2,
        3,
    ]
    assert first["body"]["pid"] == second["body"]["pid"] == third["pid"]
    assert third["tmp_kept"] == third["first"] == first["body"]["first"]
    # One cold start: the init phase is reported by the first invocation only.
    assert tail(first)[0].startswith("INIT_START Runtime Version: python:")
    assert "Init Duration:" in tail(first)[-1]
    assert not any(line.startswith("INIT_START") for line in tail(second))
    assert "Init Duration:" not in tail(second)[-1]
    # One environment, one log stream.
    streams = aws("logs").describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert len(streams) == 1


def test_environment_variables_are_those_lambda_sets(
    function: Callable[..., str], aws: Callable[[str], Any], cloud: LocalCloud
) -> None:
    name = function(MemorySize=256)
    body = invoke(aws, name, {})["body"]
    env = body["env"]
    streams = aws("logs").describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert env == {
        "GREETING": "hello",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": streams[0]["logStreamName"],
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": "index.handler",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": body["cwd"],
        "LAMBDA_RUNTIME_DIR": env["LAMBDA_RUNTIME_DIR"],
        "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": cloud.endpoint_url,
        "TZ": ":UTC",
        "_X_AMZN_TRACE_ID": env["_X_AMZN_TRACE_ID"],
    }
    assert streams[0]["logStreamName"].split("/")[-1].startswith("[$LATEST]")
    # The environment's own temporary-style credentials.
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and len(env["AWS_ACCESS_KEY_ID"]) == 20
    assert (Path(env["LAMBDA_RUNTIME_DIR"]) / "boto3").is_dir()
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert invoke(aws, name, {})["body"]["env"]["_X_AMZN_TRACE_ID"] != env["_X_AMZN_TRACE_ID"]


def test_powertools_logger_reports_one_cold_start_per_environment(
    function: Callable[..., str], aws: Callable[[str], Any]
) -> None:
    name = function(code=zipped(POWERTOOLS_CODE, with_powertools=True), timeout=30)

    def cold_starts() -> list[bool]:
        lines = tail(invoke(aws, name, {}, LogType="Tail"))
        records = [json.loads(line) for line in lines if line.startswith("{")]
        return [r["cold_start"] for r in records if r.get("message") == "handled"]

    assert cold_starts() + cold_starts() + cold_starts() == [True, False, False]
    # An update: a new environment, so a cold start again.
    aws("lambda").update_function_configuration(
        FunctionName=name, Environment={"Variables": {"GREETING": "again"}}
    )
    assert cold_starts() + cold_starts() == [True, False]


def test_an_update_retires_the_environment(
    function: Callable[..., str], aws: Callable[[str], Any]
) -> None:
    name = function()
    before = invoke(aws, name, {})["body"]
    assert invoke(aws, name, {})["body"]["invocations"] == 2
    aws("lambda").update_function_configuration(
        FunctionName=name, Environment={"Variables": {"GREETING": "bye"}}
    )
    configured = invoke(aws, name, {})["body"]
    assert configured["invocations"] == 1 and configured["env"]["GREETING"] == "bye"
    assert configured["pid"] != before["pid"]
    assert not alive(before["pid"])
    aws("lambda").update_function_code(FunctionName=name, ZipFile=zipped(CODE + "\nVERSION = 2\n"))
    recoded = invoke(aws, name, {})["body"]
    assert recoded["invocations"] == 1 and recoded["pid"] != configured["pid"]
    assert not alive(configured["pid"])


def test_a_timeout_and_a_crash_replace_the_environment(
    function: Callable[..., str], aws: Callable[[str], Any]
) -> None:
    name = function(timeout=1)
    first = invoke(aws, name, {})["body"]
    timed_out = invoke(aws, name, {"action": "sleep", "seconds": 30})
    assert timed_out["FunctionError"] == "Unhandled"
    assert timed_out["body"]["errorType"] == "Sandbox.Timedout"
    assert timed_out["body"]["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert not alive(first["pid"])
    second = invoke(aws, name, {})["body"]
    assert second["invocations"] == 1 and second["pid"] != first["pid"]
    crashed = invoke(aws, name, {"action": "crash"})
    assert crashed["body"]["errorType"] == "Runtime.ExitError"
    assert crashed["body"]["errorMessage"].endswith("Runtime exited with error: exit status 9")
    third = invoke(aws, name, {})["body"]
    assert third["invocations"] == 1 and third["pid"] not in (first["pid"], second["pid"])


def test_reserved_concurrency_bounds_event_invocations(
    function: Callable[..., str], aws: Callable[[str], Any], tmp_path: Path
) -> None:
    name = function(timeout=30)
    sqs = aws("sqs")
    queue_url = sqs.create_queue(QueueName="outcomes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    aws("lambda").put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": queue_arn}}
    )
    # Each invocation waits (up to 2 s) to see 3 running at once, which the reservation forbids.
    event = {"action": "overlap", "dir": str(tmp_path), "wait": 2.0, "enough": 3}
    for _ in range(4):
        response = aws("lambda").invoke(
            FunctionName=name, InvocationType="Event", Payload=json.dumps(event)
        )
        assert response["StatusCode"] == 202
    records: list[dict[str, Any]] = []

    def collected() -> bool:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            records.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(records) >= 4

    wait_until(collected, timeout=60)
    assert {r["requestContext"]["condition"] for r in records} == {"Success"}
    assert max(r["responsePayload"]["most"] for r in records) == 2


def test_without_a_reservation_the_local_limit_bounds_concurrency(
    function: Callable[..., str],
    aws: Callable[[str], Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ses_lambda_localcloud import runtime

    monkeypatch.setattr(runtime.current(), "lambda_concurrency", 1)
    name = function(timeout=30)
    queue_url = aws("sqs").create_queue(QueueName="local-limit")["QueueUrl"]
    queue_arn = aws("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws("lambda").put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": queue_arn}}
    )
    event = {"action": "overlap", "dir": str(tmp_path), "wait": 0.5, "enough": 2}
    for _ in range(3):
        aws("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))
    records: list[dict[str, Any]] = []

    def collected() -> bool:
        for message in (
            aws("sqs")
            .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            .get("Messages", [])
        ):
            records.append(json.loads(message["Body"]))
            aws("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(records) >= 3

    wait_until(collected, timeout=60)
    assert [r["responsePayload"]["most"] for r in records] == [1, 1, 1]


def test_synchronous_invocations_beyond_reserved_concurrency_are_throttled(
    function: Callable[..., str], aws: Callable[[str], Any], target: Any
) -> None:
    name = function(timeout=30)
    aws("lambda").put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    invoke(aws, name, {})  # the environment is warm
    busy = threading.Thread(target=invoke, args=(aws, name, {"action": "sleep", "seconds": 3}))
    busy.start()
    try:
        wait_until(lambda: _busy(name), timeout=20)
        import boto3
        from botocore.exceptions import ClientError

        no_retries = boto3.client(
            "lambda",
            endpoint_url=target.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=botocore.config.Config(retries={"total_max_attempts": 1}),
        )
        with pytest.raises(ClientError) as raised:
            no_retries.invoke(FunctionName=name, Payload=b"{}")
        assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    finally:
        busy.join()


def _busy(name: str) -> bool:
    from ses_lambda_localcloud import lambda_environments

    return any(
        fn.function_name == name and slots.busy > 0
        for fn, slots in list(lambda_environments._slots.items())
    )


@pytest.fixture
def no_other_pythons(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Nothing but this interpreter on PATH, and an empty pyenv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    lambda_interpreters.forget()
    yield
    lambda_interpreters.forget()


def test_runs_on_the_local_interpreter_and_says_so_when_the_runtime_is_missing(
    function: Callable[..., str], aws: Callable[[str], Any], no_other_pythons: None
) -> None:
    declared = "python3.12" if sys.version_info[:2] == (3, 13) else "python3.13"
    name = function(runtime=declared)
    response = invoke(aws, name, {}, LogType="Tail")
    own = ".".join(str(part) for part in sys.version_info[:3])
    assert response["body"]["python"] == own
    warning = next(line for line in tail(response) if line.startswith("[WARNING] local cloud"))
    assert f"{declared}: no {declared} interpreter here" in warning
    assert f"ran on the local cloud's own Python {own.rsplit('.', 1)[0]}" in warning


def test_runs_on_the_declared_runtime_when_it_is_installed(
    function: Callable[..., str], aws: Callable[[str], Any]
) -> None:
    lambda_interpreters.forget()
    found = [
        lambda_interpreters.for_runtime(f"python3.{minor}")
        for minor in range(9, 16)
        if (3, minor) != sys.version_info[:2]
    ]
    others = [i for i in found if i.fallback is None]
    if not others:
        pytest.skip("no Python other than the local cloud's own is installed here")
    interpreter = others[-1]
    name = function(runtime=interpreter.runtime)
    response = invoke(aws, name, {"action": "echo"}, LogType="Tail")
    assert response["body"]["python"] == interpreter.version
    assert tail(response)[0].startswith(
        f"INIT_START Runtime Version: python:{interpreter.version} (local {interpreter.path})"
    )
    assert not any("[WARNING] local cloud" in line for line in tail(response))

"""Deployed Python code run in a subprocess: the Invoke API, errors, timeouts, logs, isolation
from this virtualenv, and asynchronous failures going to the on-failure destination."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from ses_lambda_localcloud.server import LocalCloud

from .conftest import grant, wait_until

CODE = """
import json, logging, os, sys, time
logging.getLogger().setLevel(logging.INFO)
def handler(event, context):
    logging.info("event %s", json.dumps(event))
    action = event.get("action")
    if action == "fail":
        raise ValueError("bad input")
    if action == "sleep":
        time.sleep(5)
    if action == "import":
        __import__(event["module"])
    if action == "exit":
        sys.exit(3)
    return {
        "env": {k: os.environ.get(k) for k in ("AWS_LAMBDA_FUNCTION_NAME", "GREETING",
                "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_LAMBDA_LOG_GROUP_NAME")},
        "request": context.aws_request_id,
        "remaining": context.get_remaining_time_in_millis(),
        "path0": sys.path[0],
    }
"""


def zipped(code: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", code)
    return buffer.getvalue()


@pytest.fixture
def make_function(fresh: LocalCloud, aws: Callable[[str], Any]) -> Callable[..., str]:
    role = aws("iam").create_role(
        RoleName="runner",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    # Lambda sends to destinations with the function's role.
    grant(aws, "runner", "sqs:SendMessage", "sns:Publish", "lambda:InvokeFunction")

    def make(name: str = "runner-test", timeout: int = 3, **extra: Any) -> str:
        aws("lambda").create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": zipped(CODE)},
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


def test_invoke_runs_the_code_with_the_function_environment(
    make_function: Callable[..., str], aws: Callable[[str], Any], cloud: LocalCloud
) -> None:
    name = make_function()
    response = invoke(aws, name, {"action": "echo"}, LogType="Tail")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    body = response["body"]
    assert body["env"] == {
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "GREETING": "hello",
        "AWS_ENDPOINT_URL": cloud.endpoint_url,
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
    }
    assert 0 < body["remaining"] <= 3000
    tail = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {body['request']}" in tail
    assert '"action": "echo"' in tail
    # The same lines are in CloudWatch Logs.
    logs = aws("logs")
    stream = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"][0]
    events = logs.get_log_events(
        logGroupName=f"/aws/lambda/{name}", logStreamName=stream["logStreamName"]
    )["events"]
    assert any("REPORT RequestId" in e["message"] for e in events)


def test_errors_are_reported_like_lambda(
    make_function: Callable[..., str], aws: Callable[[str], Any]
) -> None:
    name = make_function()
    response = invoke(aws, name, {"action": "fail"})
    assert response["FunctionError"] == "Unhandled"
    assert response["body"]["errorType"] == "ValueError"
    assert response["body"]["errorMessage"] == "bad input"
    exited = invoke(aws, name, {"action": "exit"})
    assert exited["body"]["errorType"] == "Runtime.ExitError"


def test_timeouts_kill_the_function(
    make_function: Callable[..., str], aws: Callable[[str], Any]
) -> None:
    name = make_function(timeout=1)
    response = invoke(aws, name, {"action": "sleep"})
    assert response["FunctionError"] == "Unhandled"
    assert response["body"]["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in response["body"]["errorMessage"]


def test_code_sees_only_its_own_files_and_the_runtime_boto3(
    make_function: Callable[..., str], aws: Callable[[str], Any]
) -> None:
    name = make_function()
    # This virtualenv has moto; a deployed function does not (nor would it on AWS).
    response = invoke(aws, name, {"action": "import", "module": "moto"})
    assert response["body"]["errorType"] == "ModuleNotFoundError"
    assert "FunctionError" not in invoke(aws, name, {"action": "import", "module": "boto3"})
    assert invoke(aws, name, {"action": "echo"})["body"]["path0"].endswith(
        tuple("0123456789abcdef")
    )


def test_json_log_format(make_function: Callable[..., str], aws: Callable[[str], Any]) -> None:
    name = make_function(LoggingConfig={"LogFormat": "JSON", "LogGroup": "custom-group"})
    invoke(aws, name, {"action": "echo"})
    logs = aws("logs")
    stream = logs.describe_log_streams(logGroupName="custom-group")["logStreams"][0]
    messages = [
        json.loads(e["message"])
        for e in logs.get_log_events(
            logGroupName="custom-group", logStreamName=stream["logStreamName"]
        )["events"]
    ]
    # A cold start: the init phase, then the invocation.
    assert [m.get("type") for m in messages[:2]] == ["platform.initStart", "platform.start"]
    assert any(m.get("level") == "INFO" and "event" in m.get("message", "") for m in messages)
    assert messages[-1]["type"] == "platform.report"


def test_failed_event_invocations_are_retried_then_sent_to_the_failure_queue(
    make_function: Callable[..., str], aws: Callable[[str], Any]
) -> None:
    name = make_function()
    sqs = aws("sqs")
    queue_url = sqs.create_queue(QueueName="failures")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws("lambda").put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    response = aws("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"action": "fail"})
    )
    assert response["StatusCode"] == 202
    messages = wait_until(lambda: sqs.receive_message(QueueUrl=queue_url).get("Messages"))
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"] == {"action": "fail"}
    assert record["responsePayload"]["errorMessage"] == "bad input"
    # Both attempts ran under the event's one request id, the record's.
    logs = aws("logs")
    group = f"/aws/lambda/{name}"
    lines = [
        event["message"]
        for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]
        for event in logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])[
            "events"
        ]
    ]
    starts = [line for line in lines if line.startswith("START RequestId: ")]
    assert (
        starts == [f"START RequestId: {record['requestContext']['requestId']} Version: $LATEST"] * 2
    )


def failure_queue(aws: Callable[[str], Any], name: str, **config: Any) -> str:
    sqs = aws("sqs")
    queue_url = sqs.create_queue(QueueName=f"{name}-failures")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws("lambda").put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": queue_arn}}, **config
    )
    return str(queue_url)


def test_an_event_older_than_the_maximum_event_age_is_discarded_to_the_destination(
    make_function: Callable[..., str], aws: Callable[[str], Any]
) -> None:
    from ses_lambda_localcloud import lambda_async
    from ses_lambda_localcloud.moto_ext.moto_internals import lambda_backends

    name = make_function()
    queue_url = failure_queue(aws, name, MaximumEventAgeInSeconds=60)
    fn = lambda_backends["123456789012"]["us-east-1"].get_function(name)
    # An event that has waited 61 s (as when no environment was free, e.g. reserved
    # concurrency 0): it never runs.
    queued = lambda_async.submit(fn, {"action": "echo"}, received=time.monotonic() - 61)
    assert queued.done.wait(30)
    assert queued.condition == "EventAgeExceeded" and queued.attempts == []
    messages = wait_until(lambda: aws("sqs").receive_message(QueueUrl=queue_url).get("Messages"))
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"action": "echo"}
    assert "responsePayload" not in record


def test_an_event_that_succeeds_goes_to_the_success_destination_once(
    make_function: Callable[..., str], aws: Callable[[str], Any]
) -> None:
    name = make_function()
    sqs = aws("sqs")
    queue_url = sqs.create_queue(QueueName="successes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws("lambda").put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": queue_arn}}
    )
    aws("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=b'{"action": "echo"}')
    messages = wait_until(lambda: sqs.receive_message(QueueUrl=queue_url).get("Messages"))
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responsePayload"]["env"]["GREETING"] == "hello"
    assert "functionError" not in record["responseContext"]

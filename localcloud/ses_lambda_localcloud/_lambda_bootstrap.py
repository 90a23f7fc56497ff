"""One Lambda execution environment's runtime (started by lambda_environments, never imported).

argv: the control pipe to read requests from, the control pipe to write outcomes to, and the
end-of-output marker. Like the managed runtime, it initializes once (imports the handler module
named by ``_HANDLER`` from ``LAMBDA_TASK_ROOT``: the cold start), then serves invocations one at
a time, keeping module state between them, until its control pipe closes.

Everything the function prints goes to stdout (captured as its CloudWatch log); after the init
phase and after each invocation the marker is written on a line of its own, so the local cloud
knows that the output of that phase is complete. Messages are JSON lines: requests
``{"requestId", "event", "deadline", "invokedFunctionArn", "traceId"}``; outcomes
``{"type": "init" | "result", "ok": ..., "result" | "errorType", "errorMessage", ...}``.
An unhandled ``SystemExit`` ends the process, as it ends the managed runtime's.
"""

import importlib
import json
import logging
import os
import sys
import time
import traceback
from typing import Any

_request_id = ""


class LambdaContext:
    """The attributes and method of the Python runtime's context object.

    https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
    """

    def __init__(self, request: dict[str, Any]) -> None:
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = request["invokedFunctionArn"]
        self.memory_limit_in_mb = env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = request["requestId"]
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline = float(request["deadline"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id
        return True


class _JsonFormatter(logging.Formatter):
    """The managed runtime's JSON log format (LoggingConfig.LogFormat = JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        document = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", None) or None,
        }
        if record.exc_info:
            document["stackTrace"] = self.formatException(record.exc_info).splitlines()
        return json.dumps(document, default=str)


def _configure_logging() -> None:
    # Like the managed runtime: the root logger writes "[LEVEL] time request-id message", or
    # JSON documents when the function's log format is JSON.
    # https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html
    handler = logging.StreamHandler(sys.stdout)
    json_format = os.environ.get("AWS_LAMBDA_LOG_FORMAT", "Text").upper() == "JSON"
    if json_format:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    handler.addFilter(_RequestIdFilter())
    logging.Formatter.converter = time.gmtime
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL") or ("INFO" if json_format else "WARNING")
    root.setLevel(getattr(logging, level.upper(), logging.WARNING))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "ok": False,
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        # The function's frames, not this runtime's.
        "stackTrace": traceback.format_list(
            [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
        ),
    }


def _print_error(outcome: dict[str, Any]) -> None:
    # What the managed runtime prints for an unhandled error.
    print(f"[ERROR] {outcome['errorType']}: {outcome['errorMessage']}", flush=True)
    print("Traceback (most recent call last):", flush=True)
    for frame in outcome["stackTrace"]:
        print(frame.rstrip("\n"), flush=True)


class _Channel:
    def __init__(self, read_fd: int, write_fd: int, marker: str) -> None:
        self._reader = os.fdopen(read_fd, "rb")
        self._write_fd = write_fd
        self._marker = f"\x1e{marker}\n".encode("ascii")

    def receive(self) -> dict[str, Any] | None:
        line = self._reader.readline()
        return json.loads(line) if line else None

    def send(self, message: dict[str, Any]) -> None:
        # The output of this phase first, then its end marker, then the outcome.
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(1, self._marker)
        try:
            text = json.dumps(message)
        except (TypeError, ValueError) as exc:
            failed = _error(exc, "Runtime.MarshalError")
            failed["errorMessage"] = f"Unable to marshal response: {exc}"
            text = json.dumps({"type": message["type"], **failed})
        data = (text + "\n").encode("utf-8")
        while data:
            data = data[os.write(self._write_fd, data) :]


def _load_handler(handler_spec: str) -> Any:
    module_name, _, function_name = handler_spec.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler '{handler_spec}': expected module.function")
    module = importlib.import_module(module_name.replace("/", "."))
    function = getattr(module, function_name, None)
    if function is None:
        raise AttributeError(f"Handler '{function_name}' missing on module '{module_name}'")
    return function


def main() -> int:
    global _request_id
    channel = _Channel(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
    code_dir = os.environ["LAMBDA_TASK_ROOT"]
    handler_spec = os.environ["_HANDLER"]
    # The function's code first, then its layers (Lambda's /opt/python paths, given by the
    # local cloud), then the runtime's boto3; never this package's own directory (the
    # interpreter runs with -I -S: no script directory, no site-packages).
    layers = [p for p in (sys.argv[4] if len(sys.argv) > 4 else "").split(os.pathsep) if p]
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if p != here]
    sys.path[:] = [code_dir, *layers, os.environ["LAMBDA_RUNTIME_DIR"], *rest]
    os.chdir(code_dir)
    _configure_logging()

    # The init phase: import the handler's module (its module-scope code runs once).
    try:
        function = _load_handler(handler_spec)
    except Exception as exc:  # the runtime reports import problems as Runtime.ImportModuleError
        outcome = _error(exc, "Runtime.ImportModuleError")
        outcome["errorMessage"] = f"Unable to import module '{handler_spec}': {exc}"
        _print_error(outcome)
        channel.send({"type": "init", **outcome})
        return 0
    channel.send({"type": "init", "ok": True})

    # The invoke phase, once per request, until the local cloud closes the pipe.
    while True:
        request = channel.receive()
        if request is None:
            return 0
        _request_id = request["requestId"]
        os.environ["_X_AMZN_TRACE_ID"] = request["traceId"]
        event = request["event"]
        try:
            result = function(event, LambdaContext(request))
        except Exception as exc:
            outcome = _error(exc)
            _print_error(outcome)
        else:
            outcome = {"ok": True, "result": result}
        channel.send({"type": "result", **outcome})
        _request_id = ""


if __name__ == "__main__":
    sys.exit(main())

"""Runs one Lambda invocation in a fresh interpreter (started by lambda_runner, never imported).

argv: handler ("module.function"), code dir, runtime site dir, result file.
The event arrives as JSON on stdin. Everything the function prints goes to stdout (captured as
its CloudWatch log); the outcome goes to the result file as JSON, either
{"ok": true, "result": ...} or {"ok": false, "errorType": ..., "errorMessage": ..., ...}.
"""

import importlib
import json
import logging
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes and method of the Python runtime's context object."""

    def __init__(self, deadline: float) -> None:
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = env["LOCALCLOUD_FUNCTION_ARN"]
        self.memory_limit_in_mb = env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = env["LOCALCLOUD_REQUEST_ID"]
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


class _RequestIdFilter(logging.Filter):
    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
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
            "requestId": getattr(record, "aws_request_id", None),
        }
        if record.exc_info:
            document["stackTrace"] = self.formatException(record.exc_info).splitlines()
        return json.dumps(document, default=str)


def _configure_logging(request_id: str) -> None:
    # Like the managed runtime: the root logger writes "[LEVEL] time request-id message", or
    # JSON documents when the function's log format is JSON.
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
    handler.addFilter(_RequestIdFilter(request_id))
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
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def main() -> int:
    handler_spec, code_dir, runtime_site, result_file = sys.argv[1:5]
    # The function's code first, then the runtime's boto3; never this package's own directory
    # (the interpreter runs with -I -S: no script directory, no site-packages).
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [code_dir, runtime_site, *(p for p in sys.path if p != here)]
    os.chdir(code_dir)
    request_id = os.environ["LOCALCLOUD_REQUEST_ID"]
    deadline = time.time() + float(os.environ["AWS_LAMBDA_FUNCTION_TIMEOUT"])
    _configure_logging(request_id)

    outcome: dict[str, Any]
    try:
        module_name, _, function_name = handler_spec.rpartition(".")
        if not module_name:
            raise ValueError(f"Bad handler '{handler_spec}': expected module.function")
        module = importlib.import_module(module_name.replace("/", "."))
        function = getattr(module, function_name, None)
        if function is None:
            raise AttributeError(f"Handler '{function_name}' missing on module '{module_name}'")
    except Exception as exc:  # the runtime reports import problems as Runtime.ImportModuleError
        outcome = _error(exc, "Runtime.ImportModuleError")
        outcome["errorMessage"] = f"Unable to import module '{handler_spec}': {exc}"
    else:
        event = json.loads(sys.stdin.read() or "null")
        try:
            result = function(event, LambdaContext(deadline))
        except Exception as exc:
            outcome = _error(exc)
        except SystemExit as exc:
            outcome = _error(exc, "Runtime.ExitError")
        else:
            outcome = {"ok": True, "result": result}
    if not outcome["ok"]:
        # What the managed runtime prints for an unhandled error.
        print(f"[ERROR] {outcome['errorType']}: {outcome['errorMessage']}", flush=True)
        print("Traceback (most recent call last):", flush=True)
        for frame in outcome["stackTrace"]:
            print(frame.rstrip("\n"), flush=True)
    try:
        text = json.dumps(outcome)
    except (TypeError, ValueError) as exc:
        text = json.dumps(_error(exc, "Runtime.MarshalError"))
    with open(result_file, "w", encoding="utf-8") as handle:
        handle.write(text)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

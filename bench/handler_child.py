"""The reference handler in a fresh process: one message from S3 (moto) through parse and write.

Usage:
  handler_child.py invoke CODE_DIR MESSAGE_FILE [--tracemalloc]
  handler_child.py import CODE_DIR

``CODE_DIR`` is what the Lambda function runs (the staged asset: ``handler.py``, ``ses_mail``
and the bundled requirements); boto3 comes from this interpreter, as the runtime provides it.

``invoke`` prints one JSON line with the handler's wall time for the message (after a warm-up
invocation, as in a warm Lambda container), the time of the stdlib floor
(``BytesParser(policy=default).parsebytes`` of the same bytes, and with ``compat32``), the
resident-memory peak of each above the memory right before it (VmHWM, reset through
``/proc/self/clear_refs``), the same peak for the S3 download alone (moto's in-process share),
what the handler wrote, and which files of ``CODE_DIR`` were imported. With ``--tracemalloc``
it reports tracemalloc's peak instead of timing (tracemalloc slows Python down).

``import`` prints the wall time of ``import handler`` in a fresh interpreter that may not write
bytecode (as on Lambda, whose code directory is read-only).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

BUCKET = "bench-raw-messages"
MESSAGE_ID = "benchmessage0000000001"
WARMUP_ID = "benchwarmup00000000001"


def _document_key(event: dict[str, Any]) -> str:
    """Where the handler stored the document of this event's delivery."""
    from ses_mail import message_document_key

    record = event["Records"][0]["ses"]
    return message_document_key(
        "parsed/", record["mail"]["messageId"], record["receipt"]["recipients"]
    )


def _status() -> dict[str, int]:
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    values[key] = int(value.split()[0]) * 1024
    except OSError:  # not Linux: no resettable peak, the tracemalloc numbers remain
        pass
    return values


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


class Peak:
    """Resident memory above the level at entry, at its highest inside the block."""

    def __enter__(self) -> Peak:
        gc.collect()
        self.resettable = _reset_peak()
        self.baseline = _status()["VmRSS"]
        return self

    def __exit__(self, *exc: object) -> None:
        status = _status()
        self.peak = status["VmHWM"] - self.baseline if self.resettable else float("nan")


class Context:
    function_name = "bench-reference-handler"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _configure(code_dir: str) -> None:
    sys.path.insert(0, code_dir)
    sys.path.insert(1, str(Path(__file__).resolve().parent))
    os.environ.update(
        {
            "RAW_MESSAGE_BUCKET": BUCKET,
            "RAW_MESSAGE_PREFIX": "raw/",
            "PARSED_PREFIX": "parsed/",
            "REJECT_ON_VERDICTS": "spam,virus",
            "MAX_MESSAGE_BYTES": "41943040",
            "POWERTOOLS_SERVICE_NAME": "ses-lambda-handler",
            "POWERTOOLS_METRICS_NAMESPACE": "SesLambdaConstructs",
            "AWS_LAMBDA_FUNCTION_NAME": Context.function_name,
        }
    )


def _time_s3_calls() -> dict[str, float]:
    """Seconds spent in each botocore API operation (moto answers in process), from now on."""
    from botocore.client import BaseClient

    spent: dict[str, float] = {}
    original = BaseClient._make_api_call

    def timed(self: Any, operation_name: str, api_params: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, operation_name, api_params)
        finally:
            spent[operation_name] = spent.get(operation_name, 0.0) + time.perf_counter() - started

    BaseClient._make_api_call = timed  # type: ignore[method-assign]
    return spent


def invoke(code_dir: str, message_file: str, use_tracemalloc: bool) -> dict[str, Any]:
    _configure(code_dir)
    import boto3
    import messages
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        import handler

        # Warm-up: the module's S3 client and the first-call paths, as in a warm container.
        s3.put_object(Bucket=BUCKET, Key=f"raw/{WARMUP_ID}", Body=messages.message(10_000))
        handler.lambda_handler(
            messages.ses_event(WARMUP_ID, bucket=BUCKET, key=f"raw/{WARMUP_ID}"), Context()
        )

        data = Path(message_file).read_bytes()
        size = len(data)
        key = f"raw/{MESSAGE_ID}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        del data
        event = messages.ses_event(MESSAGE_ID, bucket=BUCKET, key=key, size_hint=size)

        result: dict[str, Any] = {"size": size}
        s3_calls = _time_s3_calls()
        with Peak() as download:
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
            for _ in body.iter_chunks(1 << 20):
                pass
            body.close()
            del body
        result["download_peak"] = download.peak

        if use_tracemalloc:
            import tracemalloc

            gc.collect()
            tracemalloc.start()
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
            for _ in body.iter_chunks(1 << 20):
                pass
            body.close()
            del body
            result["download_tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            gc.collect()
            tracemalloc.start()
            handler.lambda_handler(event, Context())
            result["handler_tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        else:
            s3_calls.clear()
            with Peak() as memory:
                started = time.perf_counter()
                response = handler.lambda_handler(event, Context())
                result["handler_s"] = time.perf_counter() - started
            result["s3_calls"] = dict(s3_calls)
            result["handler_peak"] = memory.peak
            result["baseline_rss"] = memory.baseline
            result["peak_resettable"] = memory.resettable
            result["response"] = response

        document = json.loads(s3.get_object(Bucket=BUCKET, Key=_document_key(event))["Body"].read())
        result["status"] = document["status"]
        result["attachments"] = len(document["attachments"])
        result["attachment_bytes"] = sum(a["size"] or 0 for a in document["attachments"])
        stored = [
            s3.head_object(Bucket=BUCKET, Key=a["key"])["ContentLength"]
            for a in document["attachments"]
            if a.get("key")
        ]
        result["attachments_stored"] = len(stored)

    # The floor: the stdlib parser alone on the same bytes, in the same process.
    from email import policy
    from email.parser import BytesParser

    data = Path(message_file).read_bytes()
    if use_tracemalloc:
        import tracemalloc

        gc.collect()
        tracemalloc.start()
        parsed = BytesParser(policy=policy.default).parsebytes(data)
        result["floor_tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del parsed
    else:
        with Peak() as floor:
            started = time.perf_counter()
            parsed = BytesParser(policy=policy.default).parsebytes(data)
            result["floor_s"] = time.perf_counter() - started
        result["floor_peak"] = floor.peak
        del parsed
        gc.collect()
        started = time.perf_counter()
        parsed = BytesParser().parsebytes(data)
        result["floor_compat32_s"] = time.perf_counter() - started
        del parsed

    root = os.path.realpath(code_dir) + os.sep
    loaded = sorted(
        os.path.relpath(os.path.realpath(module.__file__), root)
        for module in list(sys.modules.values())
        if getattr(module, "__file__", None) and os.path.realpath(module.__file__).startswith(root)
    )
    result["loaded_files"] = loaded
    return result


def import_time(code_dir: str) -> dict[str, Any]:
    _configure(code_dir)
    started = time.perf_counter()
    import handler  # noqa: F401

    elapsed = time.perf_counter() - started
    root = os.path.realpath(code_dir) + os.sep
    count = sum(
        1
        for module in list(sys.modules.values())
        if getattr(module, "__file__", None) and os.path.realpath(module.__file__).startswith(root)
    )
    return {"import_s": elapsed, "modules_from_code_dir": count, "modules": len(sys.modules)}


def main() -> None:
    mode = sys.argv[1]
    if mode == "invoke":
        result = invoke(sys.argv[2], sys.argv[3], "--tracemalloc" in sys.argv[4:])
    elif mode == "import":
        result = import_time(sys.argv[2])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    sys.stdout.flush()
    print("\n" + json.dumps(result))


if __name__ == "__main__":
    main()

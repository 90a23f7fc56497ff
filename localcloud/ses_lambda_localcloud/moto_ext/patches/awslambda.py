"""Lambda: the configuration moto drops, and invocations run by the local runner (no Docker)."""

from __future__ import annotations

import base64
import json
from typing import Any

from ... import lambda_async, lambda_runner
from ..moto_internals import LambdaClientError, LambdaFunction
from .patching import patch


def apply() -> None:
    _patch_lambda()
    _patch_inline_code_update()


def _patch_inline_code_update() -> None:
    """A stack update of a function with inline code (``Code.ZipFile``) keeps it runnable.

    CloudFormation's ``ZipFile`` is the plain source text, which Lambda stores as ``index.py``
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-function-code.html).
    Moto zips it on create, but its update handed the plain text to ``update_function_code``,
    which expects a base64 zip: the next invocation failed with "File is not a zip file".
    """

    @patch(LambdaFunction, "update_from_cloudformation_json")
    def update_from_cloudformation_json(
        original_resource: LambdaFunction,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> LambdaFunction:
        code = cloudformation_json.get("Properties", {}).get("Code", {})
        if isinstance(code.get("ZipFile"), str):
            archive = LambdaFunction._create_zipfile_from_plaintext_code(code["ZipFile"])
            cloudformation_json = {
                **cloudformation_json,
                "Properties": {
                    **cloudformation_json["Properties"],
                    "Code": {**code, "ZipFile": base64.b64encode(archive).decode()},
                },
            }
        return update_from_cloudformation_json.original(  # type: ignore[attr-defined,no-any-return]
            original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )


class Throttled(LambdaClientError):
    """Invoke's 429: the function's reserved concurrency is in use.

    https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors
    """

    code = 429

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__("TooManyRequestsException", str(error.get("errorMessage", "")))
        self.description = json.dumps(
            {"__type": self.error_type, "message": self.message, "Reason": error.get("Reason")}
        )


def _header(headers: Any, name: str) -> str | None:
    """A request header, whatever its case (moto passes HTTP headers or plain dicts)."""
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _patch_lambda() -> None:
    @patch(LambdaFunction, "__init__")
    def __init__(
        self: LambdaFunction,
        account_id: str,
        spec: dict[str, Any],
        region: str,
        version: str | int = 1,
    ) -> None:
        __init__.original(self, account_id, spec, region, version)  # type: ignore[attr-defined]
        # Moto drops these; the runner needs them (log group, dead-letter queue).
        self.logging_config = spec.get("LoggingConfig")  # type: ignore[attr-defined]
        self.dead_letter_config = spec.get("DeadLetterConfig")  # type: ignore[attr-defined]

    @patch(LambdaFunction, "update_configuration")
    def update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> Any:
        for key, attribute in (
            ("LoggingConfig", "logging_config"),
            ("DeadLetterConfig", "dead_letter_config"),
        ):
            if key in config_updates:
                setattr(self, attribute, config_updates[key])
        return update_configuration.original(self, config_updates)  # type: ignore[attr-defined]

    @patch(LambdaFunction, "invoke")
    def invoke(
        self: LambdaFunction, body: str | bytes, request_headers: Any, response_headers: Any
    ) -> bytes:
        # Moto runs code only in Docker; run it in a subprocess instead (lambda_runner).
        event = json.loads(body) if body else {}
        invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
        if isinstance(request_headers, dict) and not request_headers:
            # Moto's own deliveries (SNS subscriptions, EventBridge targets) pass no headers;
            # those services invoke asynchronously.
            invocation_type = "Event"
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            # Queued with Lambda's retries and destinations; 202 as soon as it is queued.
            lambda_async.submit(self, event)
            return b""
        result = lambda_runner.invoke(self, event)
        if result.throttled:
            raise Throttled(result.error or {})
        if not result.ok:
            response_headers["x-amz-function-error"] = "Unhandled"
        if _header(request_headers, "X-Amz-Log-Type") == "Tail":
            tail = "\n".join(result.log_lines).encode("utf-8")[-4096:]
            response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
        return result.payload

"""Handler test set-up: dummy AWS settings, S3 and EventBridge in moto (never a mock of boto3)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from handler_support import (
    BUCKET,
    EVENT_BUS,
    PARSED_PREFIX,
    RAW_PREFIX,
    FakeLambdaContext,
    MailBus,
)


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def handler_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the handler's environment as the construct does; keyword arguments override."""

    def apply(**overrides: str | None) -> None:
        values: dict[str, str | None] = {
            "RAW_MESSAGE_BUCKET": BUCKET,
            "RAW_MESSAGE_PREFIX": RAW_PREFIX,
            "PARSED_PREFIX": PARSED_PREFIX,
            "REJECT_ON_VERDICTS": "spam,virus",
            "MAX_MESSAGE_BYTES": str(40 * 1024 * 1024),
            **overrides,
        }
        for key, value in values.items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)

    apply()
    return apply


@pytest.fixture
def s3(handler_env: Callable[..., None]) -> Iterator[Any]:
    """moto's S3 with the raw-message bucket; the handler's cached client is created inside it."""
    import handler
    from moto import mock_aws

    handler.s3_client.cache_clear()
    with mock_aws():
        import boto3

        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client
    handler.s3_client.cache_clear()


@pytest.fixture
def mail_bus(s3: Any, handler_env: Callable[..., None], detail_validator: Any) -> Iterator[MailBus]:
    """An EventBridge bus in moto whose rule sends every handler event to an SQS queue, and the
    handler configured to put its events there (``EVENT_BUS_NAME``)."""
    import boto3
    import handler

    handler.events_client.cache_clear()
    bus = MailBus(
        events=boto3.client("events", region_name="us-east-1"),
        sqs=boto3.client("sqs", region_name="us-east-1"),
        validator=detail_validator,
    )
    bus.create()
    handler_env(EVENT_BUS_NAME=EVENT_BUS)
    yield bus
    handler.events_client.cache_clear()


@pytest.fixture
def detail_validator() -> Any:
    import jsonschema
    from ses_mail import load_detail_schema

    schema = load_detail_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture
def schema_validator() -> Any:
    import jsonschema
    from ses_mail import load_schema

    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture
def handler_logs() -> Iterator[io.StringIO]:
    """The handler's JSON log lines (Powertools' handler keeps the stdout it started with)."""
    import handler

    stream = io.StringIO()
    log_handler = handler.logger.registered_handler
    previous = log_handler.setStream(stream)
    yield stream
    log_handler.setStream(previous)

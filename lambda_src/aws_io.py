"""The AWS side shared by the library's functions: one client per service, the raw-message download.

Clients are created on first use and reused by every invocation of an execution environment.
boto3 is imported inside the factories, not at module level: it is most of a function's import
time, and lazy clients let tests start moto first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from tempfile import SpooledTemporaryFile
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from ses_mail import HandlerConfig, MessageUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sesv2 import SESV2Client

DOWNLOAD_CHUNK_BYTES = 1 << 16
SPOOL_MEMORY_BYTES = 256 << 10
"""Raw messages and decoded attachments up to 256 KiB are buffered in memory, larger ones in a
/tmp file (Lambda's ephemeral storage, 512 MB by default, far above SES's 40 MB)."""


@cache
def s3_client() -> S3Client:
    """The module's one S3 client, created on first use and reused by every invocation.

    boto3 is imported here, not at module level: it is most of the handler's import time, and a
    lazy client lets tests start moto first. Checksums are computed only where S3 requires them:
    the default CRC32 trailer re-chunks every upload in Python, which costs more than parsing a
    large message.
    """
    import boto3
    from botocore.config import Config

    client: S3Client = boto3.client(
        "s3",
        config=Config(
            request_checksum_calculation="when_required",
            retries={"mode": "standard", "max_attempts": 3},
        ),
    )
    return client


@cache
def events_client() -> EventBridgeClient:
    """The module's one EventBridge client, created on first use (like :func:`s3_client`)."""
    import boto3
    from botocore.config import Config

    client: EventBridgeClient = boto3.client(
        "events", config=Config(retries={"mode": "standard", "max_attempts": 3})
    )
    return client


@cache
def ses_client() -> SESV2Client:
    """The one SES v2 client (v2: 40 MB messages; v1 sends at most 10 MB)."""
    import boto3
    from botocore.config import Config

    client: SESV2Client = boto3.client(
        "sesv2", config=Config(retries={"mode": "standard", "max_attempts": 3})
    )
    return client


@cache
def secrets_client() -> Any:
    """The one Secrets Manager client (the reply-address keys), created on first use."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "secretsmanager", config=Config(retries={"mode": "standard", "max_attempts": 3})
    )


@contextmanager
def download_raw_message(
    bucket: str, key: str, message_id: str, config: HandlerConfig
) -> Iterator[tuple[IO[bytes] | None, int]]:
    """Copy the raw object into a spooled file, never past ``MAX_MESSAGE_BYTES``.

    Yields ``(file, size)``, or ``(None, size)`` when the object is too large. Copying first
    lets the response (and, under moto, its whole body) be freed before parsing starts, so the
    parser's memory is the only large allocation.
    """
    location = f"s3://{bucket}/{key}"
    limit = config.max_message_bytes
    try:
        response = s3_client().get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise MessageUnavailableError(message_id, location, f"{code}: {error}") from error
    except BotoCoreError as error:
        raise MessageUnavailableError(message_id, location, str(error)) from error
    stream = response["Body"]
    declared = int(response.get("ContentLength") or 0)
    del response
    if declared > limit:
        stream.close()
        yield None, declared
        return
    with SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
        size = 0
        try:
            for chunk in stream.iter_chunks(DOWNLOAD_CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    break
                spool.write(chunk)
        except (BotoCoreError, ClientError, OSError) as error:
            raise MessageUnavailableError(message_id, location, f"read failed: {error}") from error
        finally:
            stream.close()
            del stream
        if size > limit:
            yield None, size
            return
        spool.seek(0)
        yield spool, size

"""Process-wide settings of a running local cloud, shared by the server and the moto extensions.

The moto extensions (custom resources, the Lambda runner, the SES receiver) need to know where
the local AWS endpoint listens and where to keep files; the server fills this in when it starts.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import tooling

#: moto's default account; the CDK CLI learns it from STS GetCallerIdentity.
ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
DEFAULT_API_PORT = 4566
DEFAULT_SMTP_PORT = 2525
#: Largest message SES receiving accepts, headers included: 40 MB (SES Developer Guide, "Deliver
#: to S3 bucket action", https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action-s3.html,
#: and "Service quotas", https://docs.aws.amazon.com/ses/latest/dg/quotas.html).
MAX_MESSAGE_BYTES = 40 * 1024 * 1024
#: Recipients accepted per message: the 100 that RFC 5321 section 4.5.3.1.8 requires every SMTP
#: server to accept. SES documents no receiving limit per message (its quotas page lists 50
#: recipients per message for *sending* only, and 100 recipients per *receipt rule*).
MAX_RECIPIENTS = 100

#: Credentials handed to deployed code and to the CDK CLI (defined in ``tooling``).
DUMMY_CREDENTIALS = tooling.DUMMY_CREDENTIALS


def default_state_dir() -> Path:
    return Path(os.environ.get("LOCALCLOUD_STATE_DIR", ".local-cloud")).resolve()


@dataclass
class Runtime:
    endpoint_url: str = f"http://localhost:{DEFAULT_API_PORT}"
    region: str = DEFAULT_REGION
    state_dir: Path = field(default_factory=default_state_dir)
    #: Pause between retries of a failed asynchronous invocation (AWS waits 1 then 2 minutes).
    async_retry_delay: float = 0.2
    #: Execution environments one function may run at once without reserved concurrency (a
    #: local limit: AWS allows the account's unreserved concurrency; see lambda_environments).
    lambda_concurrency: int = 4
    #: An idle execution environment is shut down after this long (a local choice).
    lambda_idle_seconds: float = 600.0
    #: How long a custom resource's function may take to answer CloudFormation.
    custom_resource_timeout: float = 120.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _pending: dict[str, PendingResponse] = field(default_factory=dict, repr=False)

    @property
    def cache_dir(self) -> Path:
        return self.state_dir / "cache"

    # --- CloudFormation custom resource responses (the ResponseURL) -------------------------

    def expect_response(self, token: str) -> PendingResponse:
        pending = PendingResponse()
        with self._lock:
            self._pending[token] = pending
        return pending

    def deliver_response(self, token: str, body: dict[str, Any]) -> bool:
        with self._lock:
            pending = self._pending.pop(token, None)
        if pending is None:
            return False
        pending.body = body
        pending.event.set()
        return True

    def forget_response(self, token: str) -> None:
        with self._lock:
            self._pending.pop(token, None)


@dataclass
class PendingResponse:
    event: threading.Event = field(default_factory=threading.Event)
    body: dict[str, Any] | None = None


_current = Runtime()


def current() -> Runtime:
    return _current


def configure(**settings: Any) -> Runtime:
    for key, value in settings.items():
        if not hasattr(_current, key):
            raise AttributeError(f"unknown local cloud setting {key!r}")
        setattr(_current, key, value)
    return _current

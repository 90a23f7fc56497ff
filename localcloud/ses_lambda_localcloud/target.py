"""Where a running local cloud is and how a client reaches it: its state files, its HTTP paths,
AWS clients against its endpoint, and stopping it. Nothing here imports moto, so the commands
start fast; they talk to the local cloud over HTTP and SMTP like any client.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import runtime
from .guard import TOKEN_HEADER, read_token

STATE_FILE = "cloud.json"
PID_FILE = "local-cloud.pid"


class CommandError(RuntimeError):
    """A step failed; the message says which and why (printed without a traceback)."""


def say(message: str) -> None:
    print(message, flush=True)


def step(message: str) -> None:
    say(f"==> {message}")


# --- where the local cloud is ------------------------------------------------------------


@dataclass
class Target:
    api_port: int = runtime.DEFAULT_API_PORT
    smtp_port: int = runtime.DEFAULT_SMTP_PORT
    region: str = runtime.DEFAULT_REGION
    state_dir: Path = field(default_factory=runtime.default_state_dir)
    pid: int | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://localhost:{self.api_port}"

    @classmethod
    def load(cls, state_dir: Path | None = None, **overrides: Any) -> Target:
        """The running local cloud's settings (``<state dir>/cloud.json``), then overrides."""
        state_dir = (state_dir or runtime.default_state_dir()).resolve()
        target = cls(state_dir=state_dir)
        path = state_dir / STATE_FILE
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            target.api_port = int(data.get("apiPort", target.api_port))
            target.smtp_port = int(data.get("smtpPort", target.smtp_port))
            target.region = str(data.get("region", target.region))
            target.pid = data.get("pid")
        for key, value in overrides.items():
            if value is not None:
                setattr(target, key, value)
        return target

    def save(self, pid: int) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / STATE_FILE).write_text(
            json.dumps(
                {
                    "pid": pid,
                    "apiPort": self.api_port,
                    "smtpPort": self.smtp_port,
                    "region": self.region,
                    "endpoint": self.endpoint_url,
                }
            ),
            encoding="utf-8",
        )
        (self.state_dir / PID_FILE).write_text(f"{pid}\n", encoding="utf-8")

    def forget(self) -> None:
        for name in (STATE_FILE, PID_FILE):
            (self.state_dir / name).unlink(missing_ok=True)

    # local HTTP paths ---------------------------------------------------------------

    def local(self, path: str, timeout: float = 10.0) -> Any:
        url = f"{self.endpoint_url}/_localcloud/{path}"
        request = urllib.request.Request(url)
        token = read_token(self.state_dir)
        if token is not None:  # the running local cloud's control token (guard)
            request.add_header(TOKEN_HEADER, token)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            body = error.read().decode("utf-8", "replace")
            raise CommandError(
                f"the local cloud answered {error.code} for {path}: {body}"
            ) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            raise CommandError(
                f"no local cloud answers at {self.endpoint_url} ({error}); start it with "
                "`ses-localcloud start`"
            ) from None

    def health(self) -> dict[str, Any] | None:
        try:
            result = self.local("health", timeout=2.0)
        except CommandError:
            return None
        return result if isinstance(result, dict) else None

    def wait_until_up(
        self, timeout: float = 60.0, process: subprocess.Popen[Any] | None = None
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = self.health()
            if health is not None:
                return health
            if process is not None and process.poll() is not None:
                raise CommandError(f"the local cloud exited with status {process.returncode}")
            time.sleep(0.2)
        raise CommandError(
            f"the local cloud did not come up at {self.endpoint_url} in {timeout:.0f} s"
        )

    # AWS clients ---------------------------------------------------------------------

    def client(self, service: str) -> Any:
        import boto3

        factory: Any = boto3.client  # any service name, so not the stubs' overloads
        return factory(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=runtime.DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=runtime.DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=runtime.DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
        )


def stop(target: Target, timeout: float = 90.0) -> bool:
    """Stop the local cloud started with ``start`` (its pid file); True if one was running.

    ``timeout`` covers the ordered stop, whose drain waits up to ``LocalCloud.drain_timeout``
    (60 s) for accepted mail and queued work."""
    import signal

    pid_file = target.state_dir / PID_FILE
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text(encoding="utf-8").strip() or 0)
    health = target.health()
    if health is not None and health.get("pid") not in (None, pid):
        raise CommandError(
            f"the pid file says {pid} but the local cloud at {target.endpoint_url} is "
            f"{health.get('pid')}; not stopping anything"
        )
    if health is None and not _is_local_cloud(pid):
        # Nothing answers and the pid is not a local cloud: a stale file (the pid may belong
        # to another program by now). Signal nothing.
        target.forget()
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        target.forget()
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            target.forget()
            return True
        time.sleep(0.1)
    raise CommandError(f"the local cloud (pid {pid}) did not stop within {timeout:.0f} s")


def _is_local_cloud(pid: int) -> bool:
    """Is ``pid`` a running ``ses-localcloud start`` (its command line says so)?"""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    text = b" ".join(command)
    return (b"ses-localcloud" in text or b"ses_lambda_localcloud" in text) and b"start" in command


def _alive(pid: int) -> bool:
    """Is the process running (an exited child that nobody reaped yet counts as gone)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"

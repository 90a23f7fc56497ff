"""Lambda execution environments: long-lived worker processes, reused across invocations.

Like Lambda's (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html):

- An environment serves one invocation at a time and is reused for later ones: its module state,
  its ``/tmp`` (here ``TMPDIR``, a directory of its own) and its clients persist. Its first
  invocation is a cold start: the init phase (interpreter start and the handler module's import)
  runs once, and that invocation's REPORT line carries ``Init Duration``.
- Environments belong to one function version's code and configuration. After an update, new
  invocations get new environments; the old ones are shut down when they fall idle.
- A timeout, or a runtime that exits (an unhandled ``sys.exit``, a crash), kills the process
  (with the processes it started); the next invocation gets a new environment.
- Concurrency is the number of environments busy at one time. A function's reserved concurrency
  (``PutFunctionConcurrency``) caps it, and a synchronous invocation beyond it is throttled
  (``TooManyRequestsException``); https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html.
  Without a reservation AWS allows up to the account's unreserved concurrency (1,000 by default,
  https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); this machine is no
  Lambda fleet, so locally a function runs at most ``Runtime.lambda_concurrency`` environments
  (default 4) and further invocations wait for one to be free, never failing for it.
- Idle environments are shut down after ``Runtime.lambda_idle_seconds`` (AWS keeps them for an
  undocumented while). When the local cloud stops or resets, every environment, idle or busy,
  ends with its whole process group (``kill_all``), no new one starts while it stops, and the
  unpacked code and layers and the environments' scratch folders are removed (``clean_cache``).
- Workers write no bytecode into the function's code folder: every interpreter keeps it under
  ``-X pycache_prefix`` in the machine-wide cache (``lambda_interpreters.pycache_dir``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import lambda_interpreters, runtime
from .iam import identities as iam_identities
from .lambda_interpreters import Interpreter
from .lifecycle import WORK, Stopping

if TYPE_CHECKING:
    from .moto_ext.moto_internals import LambdaFunction

log = logging.getLogger(__name__)

_BOOTSTRAP = Path(__file__).with_name("_lambda_bootstrap.py")
#: The init phase of an on-demand environment may take at most 10 seconds.
#: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html ("Init phase")
INIT_LIMIT_SECONDS = 10.0
#: Time for the outcome and the output to travel from the worker once the function returned.
_IPC_GRACE_SECONDS = 0.25
_extract_lock = threading.Lock()
#: How long idle workers get to exit on their own when the local cloud stops (a local choice).
_SHUTDOWN_GRACE_SECONDS = 1.0


class Throttled(Exception):
    """The function's reserved concurrency is in use (Lambda answers 429)."""


@dataclass
class Phase:
    """What one phase (init or one invocation) of an environment produced."""

    ok: bool
    message: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    duration_ms: float = 0.0


def fingerprint(fn: LambdaFunction) -> str:
    """What makes a version's environments: its code and its configuration."""
    parts = {
        "arn": fn.function_arn,
        "version": str(getattr(fn, "version", "")),
        "code": getattr(fn, "code_sha_256", "") or getattr(fn, "code_digest", ""),
        "handler": fn.handler,
        "runtime": fn.run_time,
        "environment": fn.environment_vars or {},
        "memory": fn.memory_size,
        "timeout": fn.timeout,
        "role": fn.role,
        "layers": [str(layer) for layer in (getattr(fn, "layers", None) or [])],
        "logging": getattr(fn, "logging_config", None) or {},
        "architectures": getattr(fn, "architectures", None),
        "storage": getattr(fn, "ephemeral_storage", None),
    }
    return json.dumps(parts, sort_keys=True, default=str)


def code_dir(cache_dir: Path, fn: LambdaFunction) -> Path:
    """The function's zip, unpacked once per code digest."""
    return _unpacked_once(cache_dir / "code" / _digest(fn), [fn.code_bytes or b""])


def _digest(code: Any) -> str:
    """The digest moto records for a function's or a layer version's zip; without one, the
    SHA-256 of the bytes themselves, so two zips without a digest never share (and overwrite)
    each other's folder."""
    import hashlib

    recorded = getattr(code, "code_digest", None)
    return str(recorded or "sha256-" + hashlib.sha256(code.code_bytes or b"").hexdigest())


def _unpacked_once(target: Path, archives: list[bytes]) -> Path:
    """``archives`` unpacked in order into ``target``, once: into a staging folder beside it,
    renamed into place when complete, so a reader never sees half of it."""
    import io
    import zipfile

    if target.exists():
        return target
    with _extract_lock:
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
        try:
            for archive_bytes in archives:
                with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
                    archive.extractall(staging)
            staging.rename(target)
        except Exception:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


def layer_versions(fn: LambdaFunction) -> list[Any]:
    """The function's layer versions, in the order of its ``Layers``."""
    from .moto_ext.moto_internals import lambda_backends

    backend = lambda_backends[fn.account_id][fn.region]
    found = []
    for layer in getattr(fn, "layers", None) or []:
        arn = str(layer["Arn"] if isinstance(layer, dict) else layer)
        version = backend.layers_versions_by_arn(arn)
        if version is None:
            raise LookupError(f"layer version {arn} of {fn.function_name} does not exist")
        found.append(version)
    return found


def layer_dir(cache_dir: Path, fn: LambdaFunction) -> Path | None:
    """The function's layers unpacked into one folder, Lambda's ``/opt``; ``None`` without any.

    Lambda extracts each layer into ``/opt`` in the order the function lists them, a later
    layer's file replacing an earlier one's of the same path (Lambda developer guide, "Adding
    layers to functions" and "Managing Lambda dependencies with layers"). Unpacked once per
    sequence of layer contents.
    """
    versions = layer_versions(fn)
    if not versions:
        return None
    import hashlib

    name = hashlib.sha256("\n".join(_digest(v) for v in versions).encode()).hexdigest()[:32]
    return _unpacked_once(cache_dir / "layers" / name, [v.code_bytes or b"" for v in versions])


def layer_paths(opt: Path | None, runtime_name: str) -> list[str]:
    """Where a Python runtime imports from in ``/opt`` (Lambda developer guide, "Packaging your
    layer content", "Layer paths for each Lambda runtime": ``python`` and
    ``python/lib/python3.x/site-packages``), the site-packages folder first, as the Python
    runtimes' ``sys.path`` lists them ("Working with .zip file archives for Python Lambda
    functions", "Dependency search path and runtime-included libraries")."""
    if opt is None:
        return []
    version = runtime_name.removeprefix("python")
    return [str(opt / "python" / "lib" / f"python{version}" / "site-packages"), str(opt / "python")]


class Environment:
    """One worker process running one function version's code."""

    def __init__(self, fn: LambdaFunction, print_: str, interpreter: Interpreter) -> None:
        self.id = uuid.uuid4().hex
        self.fingerprint = print_
        self.interpreter = interpreter
        self.function_name = fn.function_name
        self.version = str(fn.version)
        self.log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[{self.version}]{self.id}"
        #: Lambda gives each environment the execution role's temporary credentials; here each
        #: gets an access key of its own in STS's temporary-key form ("ASIA" + 16 characters,
        #: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html), so a
        #: request the local endpoint receives can be traced to the environment that sent it.
        self.access_key_id = "ASIA" + self.id[:16].upper()
        # The local endpoint evaluates this key's requests as the role's session (iam.gate).
        iam_identities.register(self.access_key_id, str(fn.role or ""), fn.function_name)
        self.invocations = 0
        self.idle_since = time.monotonic()
        self.init: Phase | None = None
        self._marker = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None
        self._control: IO[bytes] | None = None
        self._outcomes: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._lines: list[str] = []
        self._lines_lock = threading.Lock()
        self._phase_done = threading.Event()
        self._stdout_closed = threading.Event()
        self._scratch: str | None = None
        self._readers: list[threading.Thread] = []
        self._task_root = Path()
        self._runtime_dir = Path()
        self._layer_paths: list[str] = []

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    # --- start: the init phase ---------------------------------------------------------

    def prepare(self, fn: LambdaFunction) -> None:
        """What precedes the init phase: the code unpacked, the runtime's packages in place."""
        rt = runtime.current()
        self._task_root = code_dir(rt.cache_dir, fn)
        self._layer_paths = layer_paths(layer_dir(rt.cache_dir, fn), str(fn.run_time or ""))
        self._runtime_dir = lambda_interpreters.prepare(self.interpreter)
        self._scratch = tempfile.mkdtemp(prefix="env-", dir=_environments_dir(rt.cache_dir))

    def start(self, fn: LambdaFunction, environment: dict[str, str]) -> Phase:
        """Start the worker and run its init phase (the cold start)."""
        if self._scratch is None:
            self.prepare(fn)
        assert self._scratch is not None
        started = time.monotonic()
        env = dict(environment)
        env.update(
            {
                "LAMBDA_TASK_ROOT": str(self._task_root),
                "LAMBDA_RUNTIME_DIR": str(self._runtime_dir),
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
                "TMPDIR": self._scratch,
                "HOME": self._scratch,
                "AWS_ACCESS_KEY_ID": self.access_key_id,
            }
        )
        # Bytecode goes to the machine-wide cache, never next to the code (a folder that is
        # removed when the local cloud stops) nor into any virtualenv.
        command = [self.interpreter.path, "-I", "-S", "-u", "-X", "utf8"]
        command += ["-X", f"pycache_prefix={lambda_interpreters.pycache_dir()}", str(_BOOTSTRAP)]
        request_read, request_write = os.pipe()
        outcome_read, outcome_write = os.pipe()
        try:
            with _live_lock:
                if WORK.closed:
                    raise Stopping("the local cloud is stopping: no execution environment starts")
                self._process = subprocess.Popen(
                    [
                        *command,
                        str(request_read),
                        str(outcome_write),
                        self._marker,
                        os.pathsep.join(self._layer_paths),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self._scratch,
                    pass_fds=(request_read, outcome_write),
                    start_new_session=True,  # its own process group: a kill takes its children
                )
                _live.add(self)
        except BaseException:
            # The worker did not start: this side's ends of both pipes go too.
            os.close(request_write)
            os.close(outcome_read)
            raise
        finally:
            os.close(request_read)
            os.close(outcome_write)
        self._control = os.fdopen(request_write, "wb", buffering=0)
        assert self._process.stdout is not None
        try:
            self._readers = [
                WORK.spawn(
                    self._read_output, self._process.stdout, name=f"lambda-output-{self.id[:8]}"
                ),
                WORK.spawn(self._read_outcomes, outcome_read, name=f"lambda-control-{self.id[:8]}"),
            ]
        except Stopping:
            os.close(outcome_read)
            self.kill()
            raise
        phase = self._finish_phase(started, INIT_LIMIT_SECONDS, "init")
        if not phase.ok:
            self.kill()
        self.init = phase
        return phase

    # --- one invocation ------------------------------------------------------------------

    def invoke(self, request: dict[str, Any], timeout: float) -> Phase:
        started = time.monotonic()
        assert self._control is not None
        # If it exited meanwhile, the outcome queue says how.
        with contextlib.suppress(OSError, ValueError):
            self._control.write((json.dumps(request) + "\n").encode("utf-8"))
        self.invocations += 1
        return self._finish_phase(started, timeout, "invoke", request["requestId"])

    def _finish_phase(self, started: float, limit: float, kind: str, request_id: str = "") -> Phase:
        try:
            message = self._outcomes.get(timeout=limit + _IPC_GRACE_SECONDS)
        except queue.Empty:
            self.kill()
            self._stdout_closed.wait(2.0)
            lines = self._take_lines()
            if kind == "init":
                text = f"Init phase timed out after {limit:.2f} seconds"
                error = {"errorType": "Runtime.InitTimeout", "errorMessage": text}
            else:
                text = f"Task timed out after {limit:.2f} seconds"
                lines.append(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ} {request_id} {text}")
                error = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: {text}",
                }
            return Phase(False, error, lines, _ms(started))
        if message is None:  # the runtime exited
            status = self._wait_exit()
            self._stdout_closed.wait(2.0)
            lines = self._take_lines()
            text = f"Runtime exited with error: exit status {status}"
            if kind == "invoke":
                text = f"RequestId: {request_id} Error: {text}"
            lines.append(text)
            error = {"errorType": "Runtime.ExitError", "errorMessage": text}
            return Phase(False, error, lines, _ms(started))
        duration = _ms(started)
        # The marker precedes the outcome on the worker's side; its output is complete soon.
        self._phase_done.wait(2.0)
        self._phase_done.clear()
        lines = self._take_lines()
        ok = bool(message.pop("ok", False))
        message.pop("type", None)
        return Phase(ok, message, lines, duration)

    def max_memory_mb(self) -> int | None:
        """The worker's peak resident memory so far (Linux only)."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except (OSError, TypeError):
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(int(line.split()[1]) / 1024 + 0.5)
        return None

    # --- the worker's pipes ------------------------------------------------------------

    def _read_output(self, stream: IO[bytes]) -> None:
        marker = f"\x1e{self._marker}".encode("ascii")
        try:
            for raw in iter(stream.readline, b""):
                index = raw.find(marker)
                text = raw[: index if index >= 0 else len(raw)]
                text = text.rstrip(b"\n")
                if index < 0 or text:
                    with self._lines_lock:
                        self._lines.append(text.decode("utf-8", "replace"))
                if index >= 0:
                    self._phase_done.set()
        finally:
            stream.close()
            self._stdout_closed.set()

    def _read_outcomes(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as reader:
            for line in iter(reader.readline, b""):
                try:
                    self._outcomes.put(json.loads(line))
                except ValueError:
                    log.warning("unreadable message from environment %s", self.id)
        self._outcomes.put(None)

    def _take_lines(self) -> list[str]:
        with self._lines_lock:
            lines, self._lines = self._lines, []
        return lines

    def _wait_exit(self) -> int | None:
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self.kill()
            return self._process.returncode

    # --- the end -----------------------------------------------------------------------

    def shutdown(self) -> None:
        """Close the worker's request pipe (it exits), and kill it if it does not."""
        if self._control is not None:
            with contextlib.suppress(OSError):
                self._control.close()
        if self._process is not None:
            try:
                self._process.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                self.kill()
        self._cleanup()

    def kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5.0)
        if self._control is not None:
            with contextlib.suppress(OSError):
                self._control.close()
        self._cleanup()

    def _cleanup(self) -> None:
        if not self.alive:
            with _live_lock:
                _live.discard(self)
            if self._scratch:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None


class Slots:
    """One function version's environments: the idle ones and how many are busy."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.idle: list[Environment] = []
        self.busy = 0
        self.fingerprint = ""
        self.interpreter: Interpreter | None = None

    def acquire(self, fn: LambdaFunction, *, wait: float | None) -> Environment | None:
        """An idle environment or a new (unstarted) one; waits at most ``wait`` seconds for
        one to be free (None: raise Throttled if reserved concurrency is why none is free)."""
        current = fingerprint(fn)
        retired: list[Environment] = []
        deadline = None if wait is None else time.monotonic() + wait
        with self.condition:
            if current != self.fingerprint:
                retired, self.idle = self.idle, []
                self.fingerprint = current
                self.interpreter = lambda_interpreters.for_runtime(fn.run_time or "")
            try:
                while True:
                    reserved = getattr(fn, "reserved_concurrency", None)
                    limited = reserved is not None and self.busy >= int(reserved)
                    if not limited:
                        if self.idle:
                            self.busy += 1
                            return self.idle.pop()
                        if self.busy < max(1, runtime.current().lambda_concurrency):
                            self.busy += 1
                            assert self.interpreter is not None
                            return Environment(fn, current, self.interpreter)
                    if wait is None and limited:
                        raise Throttled(f"reserved concurrency {reserved} of {fn.function_name}")
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return None
                    self.condition.wait(remaining)
            finally:
                for environment in retired:
                    _retire(environment)

    def release(self, environment: Environment) -> None:
        with self.condition:
            self.busy -= 1
            keep = environment.alive and environment.fingerprint == self.fingerprint
            if keep:
                environment.idle_since = time.monotonic()
                self.idle.append(environment)
            self.condition.notify_all()
        if not keep:
            _retire(environment)

    def reap(self, idle_seconds: float) -> None:
        now = time.monotonic()
        with self.condition:
            stale = [e for e in self.idle if now - e.idle_since > idle_seconds or not e.alive]
            self.idle = [e for e in self.idle if e not in stale]
        for environment in stale:
            _retire(environment)

    def close(self) -> None:
        with self.condition:
            idle, self.idle = self.idle, []
            self.fingerprint = ""
        for environment in idle:
            _retire(environment)


_registry_lock = threading.Lock()
_slots: weakref.WeakKeyDictionary[LambdaFunction, Slots] = weakref.WeakKeyDictionary()
_reaper: threading.Thread | None = None
#: Every environment whose process was started and has not been cleaned up.
_live_lock = threading.Lock()
_live: set[Environment] = set()


def slots_of(fn: LambdaFunction) -> Slots:
    """The environments of this function object (moto keeps one per version)."""
    global _reaper
    with _registry_lock:
        found = _slots.get(fn)
        if found is None:
            found = _slots[fn] = Slots()
            # A deleted function's environments go with it.
            weakref.finalize(fn, found.close)
        if _reaper is None or not _reaper.is_alive():
            with contextlib.suppress(Stopping):
                _reaper = WORK.spawn(_reap_forever, name="lambda-environment-reaper")
        return found


def shutdown_all() -> None:
    """Shut down every idle environment (busy ones end after their invocation)."""
    with _registry_lock:
        every = list(_slots.values())
    for slots in every:
        slots.close()


def kill_all() -> None:
    """End every environment, idle or busy, with its process group (the local cloud stops).

    ``lifecycle.WORK`` is closed first, so none starts meanwhile; a busy one's invocation ends
    as a runtime exit."""
    with _registry_lock:
        every_slots = list(_slots.values())
    idle: list[Environment] = []
    for slots in every_slots:
        with slots.condition:
            idle += slots.idle
            slots.idle = []
            slots.fingerprint = ""
    # Idle workers exit when their request pipe closes: close every pipe first, then give them
    # all one grace period together before the kill.
    for environment in idle:
        if environment._control is not None:
            with contextlib.suppress(OSError):
                environment._control.close()
    deadline = time.monotonic() + _SHUTDOWN_GRACE_SECONDS
    for environment in idle:
        process = environment._process
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
    with _live_lock:
        every = list(_live)
    for environment in {*every, *idle}:
        try:
            environment.kill()
        except Exception:
            log.exception("could not end environment %s", environment.id)


def clean_cache(cache_dir: Path) -> None:
    """Remove the unpacked code and layers and the environments' scratch folders (nothing may
    run)."""
    for name in ("code", "layers", "environments"):
        shutil.rmtree(cache_dir / name, ignore_errors=True)


def count() -> dict[str, int]:
    """How many environments are idle and busy, over all functions."""
    with _registry_lock:
        every = list(_slots.values())
    return {"idle": sum(len(s.idle) for s in every), "busy": sum(s.busy for s in every)}


def _reap_forever() -> None:
    while not WORK.closing.wait(15):
        with _registry_lock:
            every = list(_slots.values())
        for slots in every:
            slots.reap(runtime.current().lambda_idle_seconds)


def _retire(environment: Environment) -> None:
    try:
        environment.shutdown()
    except Exception:
        log.exception("could not shut down environment %s", environment.id)


def _environments_dir(cache_dir: Path) -> Path:
    path = cache_dir / "environments"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


atexit.register(kill_all)

"""Every thread the local cloud starts in the background, owned so that stopping can end them.

The local cloud does its work on threads of its own: the receiver's worker, Lambda's event
queues and the attempts they start, EventBridge deliveries, the relay of sent mail, the readers
of each execution environment's pipes and the reaper of idle environments. Each is started with
``spawn``, which records it until it returns. ``LocalCloud.stop`` (and ``reset``) first let the
work drain, then ``close`` refuses new threads, the environments' process groups are ended, and
``join`` waits for what is left: once ``stop`` returns, nothing the local cloud started runs.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)


class Stopping(RuntimeError):
    """The local cloud is stopping: no new background work starts."""


class Work:
    """The set of live background threads of the local cloud in this process."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._threads: set[threading.Thread] = set()
        self._processes: set[subprocess.Popen[bytes]] = set()
        self._closed = False
        #: Set while stopping or resetting: long waits (queues, idle timers) end early.
        self.closing = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed

    def open(self) -> None:
        with self._lock:
            self._closed = False
            self.closing.clear()

    def close(self) -> None:
        """Refuse new threads from now on (``spawn`` raises ``Stopping``)."""
        with self._lock:
            self._closed = True
            self.closing.set()
            self._lock.notify_all()

    def spawn(self, target: Callable[..., Any], *args: Any, name: str) -> threading.Thread:
        """Start ``target(*args)`` on a thread owned by the local cloud."""
        with self._lock:
            if self._closed:
                raise Stopping(f"the local cloud is stopping: {name} does not start")
            thread = threading.Thread(target=self._run, args=(target, args), name=name, daemon=True)
            self._threads.add(thread)
        try:
            thread.start()
        except BaseException:
            with self._lock:
                self._threads.discard(thread)
            raise
        return thread

    def _run(self, target: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            target(*args)
        except Stopping as stopping:
            log.debug("%s", stopping)
        except Exception:
            log.exception("background work %s failed", threading.current_thread().name)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())
                self._lock.notify_all()

    def run_process(self, command: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
        """Run a short helper process (its output captured) that ``close`` can end."""
        with self._lock:
            if self._closed:
                raise Stopping(f"the local cloud is stopping: {command[0]} does not start")
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
            self._processes.add(process)
        try:
            try:
                output, _ = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                raise
            return subprocess.CompletedProcess(command, process.returncode, output, None)
        finally:
            with self._lock:
                self._processes.discard(process)

    def end_processes(self) -> None:
        """Kill the helper processes still running (after ``close``)."""
        with self._lock:
            running = list(self._processes)
        for process in running:
            with contextlib.suppress(OSError):
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)

    def alive(self) -> list[threading.Thread]:
        with self._lock:
            return [t for t in self._threads if t.is_alive()]

    def join(self, timeout: float, keep: Iterable[threading.Thread] = ()) -> list[threading.Thread]:
        """Wait until every thread but ``keep`` ended (at most ``timeout`` s); returns those
        still alive."""
        deadline = time.monotonic() + timeout
        skip = {threading.current_thread(), *keep}
        with self._lock:
            while True:
                left = [t for t in self._threads if t not in skip and t.is_alive()]
                remaining = deadline - time.monotonic()
                if not left or remaining <= 0:
                    return left
                self._lock.wait(min(remaining, 0.1))


#: The process's one local cloud owns these (one local cloud per process, see ``runtime``).
WORK = Work()


def wait_until(predicate: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds passed; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)

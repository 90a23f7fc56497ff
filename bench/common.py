"""Shared helpers of the benchmarks: paths, the child-process environment, statistics, machine.

Every benchmark runs its measured work in fresh child processes started with this interpreter,
and each child prints one JSON document as its last line of standard output.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ses_lambda_localcloud import tooling

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
CDK_CLI = ROOT / "node_modules" / ".bin" / "cdk"


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a benchmark child: the tooling settings, dummy AWS credentials."""
    env = dict(os.environ)
    for key, value in tooling.quiet_tooling(ROOT / ".cache").items():
        env.setdefault(key, value)
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_ENDPOINT_URL", None)
    env.update(tooling.isolated_aws_environment("us-east-1"))
    env["PYTHONHASHSEED"] = "0"
    env.update(extra or {})
    return env


class ChildError(RuntimeError):
    pass


def run_child(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    cwd: Path = ROOT,
) -> tuple[dict[str, Any], float]:
    """Run ``python <args>`` and return (its last stdout line as JSON, wall seconds)."""
    command = [PYTHON, *args]
    started = time.perf_counter()
    completed = subprocess.run(
        command,
        cwd=cwd,
        env=dict(env) if env is not None else child_env(),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - started
    out = completed.stdout.decode("utf-8", "replace").strip().splitlines()
    if completed.returncode != 0 or not out:
        err = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        tail = "\n".join(err[-25:] or out[-25:])
        raise ChildError(f"{' '.join(args)} exited with {completed.returncode}:\n{tail}")
    try:
        return json.loads(out[-1]), wall
    except ValueError as error:
        raise ChildError(f"{' '.join(args)} printed no JSON result: {out[-1][:200]!r}") from error


# --- statistics --------------------------------------------------------------------------


@dataclass
class Sample:
    """Repeated measurements of one quantity."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(float(value))

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def low(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def high(self) -> float:
        return max(self.values) if self.values else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.low, "max": self.high, "values": self.values}


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    lower = int(rank)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (rank - lower)


# --- formatting --------------------------------------------------------------------------


def fmt_seconds(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if value < 1:
        return f"{value * 1000:.0f} ms" if value >= 0.01 else f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def fmt_ms(value: float) -> str:
    return fmt_seconds(value / 1000)


def fmt_bytes(value: float) -> str:
    if value != value:
        return "n/a"
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size:
            return f"{sign}{value / size:.1f} {unit}"
    return f"{sign}{value:.0f} B"


def fmt_sample(sample: Sample, fmt: Any = fmt_seconds) -> str:
    """``median (min-max, n=N)``."""
    if sample.n == 0:
        return "n/a"
    if sample.n == 1:
        return f"{fmt(sample.median)} (n=1)"
    return f"{fmt(sample.median)} ({fmt(sample.low)}-{fmt(sample.high)}, n={sample.n})"


# --- results -----------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the summary table."""

    measurement: str
    result: str
    target: str = ""
    #: True (met), False (missed), None (no target, or not measured).
    met: bool | None = None


@dataclass
class Section:
    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Extra Markdown written below the summary (tables of details).
    details: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def row(self, measurement: str, result: str, target: str = "", met: bool | None = None) -> Row:
        item = Row(measurement, result, target, met)
        self.rows.append(item)
        return item


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |"]
    lines.append("| " + " | ".join("---" for _ in header) + " |")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


# --- the machine -------------------------------------------------------------------------


def _first_line(command: Sequence[str]) -> str:
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=60, check=False, env=child_env()
        )
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    text = (completed.stdout or completed.stderr).strip().splitlines()
    return text[0].strip() if text else "not found"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return fmt_bytes(int(line.split()[1]) * 1024)
    except OSError:
        pass
    return "unknown"


def _package_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    node = shutil.which("node")
    cli = _first_line([str(CDK_CLI), "--version"]) if CDK_CLI.exists() else "not installed"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "memory": _memory(),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
        "node": _first_line([node, "--version"]) if node else "not found",
        "aws-cdk-lib": _package_version("aws-cdk-lib"),
        "cdk cli": re.sub(r"\s*\(build.*\)", "", cli),
        "moto": _package_version("moto"),
        "boto3": _package_version("boto3"),
        "aws-lambda-powertools": _package_version("aws-lambda-powertools"),
        "load average at start": load,
        "commit": _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
    }

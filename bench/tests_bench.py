"""`make test`: one timed run of the test suite and where its time goes.

Runs the command ``make test`` runs (``python -m pytest``, set-up already done) once, with
``--durations=0`` so that every test's set-up, call and teardown time is reported, then sums
them per test file and lists the slowest. A single run: the suite takes minutes.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from common import PYTHON, ROOT, Section, child_env, fmt_seconds, markdown_table

TARGET_S = 120.0  # the 2-minute target for `make test`
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s (setup|call|teardown)\s+(\S+)")
_SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors|skipped|xfailed|xpassed|deselected)")


def pytest_command() -> list[str]:
    """The pytest command of the Makefile's ``test`` target (``make -n test``), with every
    duration listed; ``python -m pytest`` when make is not there."""
    command = [PYTHON, "-m", "pytest"]
    if shutil.which("make"):
        dry = subprocess.run(
            ["make", "-n", "test"],
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        for line in dry.stdout.splitlines():
            if "-m pytest" in line:
                command = shlex.split(line.strip())
                break
    extra = ["--durations=0"]
    if not any(arg.startswith("-q") for arg in command):
        extra.append("-q")
    return [*command, *extra]


def run(workdir: Path) -> Section:
    section = Section("tests", "5. make test")
    log = workdir / "pytest.log"
    started = time.perf_counter()
    command = pytest_command()
    import os
    import resource

    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        command,
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=3600,
        check=False,
    )
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    output = completed.stdout.decode("utf-8", "replace")
    log.write_text(output)
    lines = output.splitlines()

    durations: list[tuple[float, str, str]] = []
    for line in lines:
        match = _DURATION.match(line.strip())
        if match:
            durations.append((float(match.group(1)), match.group(2), match.group(3)))
    summary = next(
        (line for line in reversed(lines) if " in " in line and _SUMMARY.search(line)), ""
    )
    counts = {kind: int(n) for n, kind in _SUMMARY.findall(summary)}
    failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)

    section.row(
        "`make test` wall time (pytest, set-up done; single run)",
        f"{fmt_seconds(wall)}; {summary.strip('= ').strip() or 'no summary line'}",
        f"≤ {TARGET_S / 60:.0f} min",
        wall <= TARGET_S,
    )
    cores = os.cpu_count() or 1
    section.row(
        "  CPU time of the run (all processes) / wall time",
        f"{fmt_seconds(cpu)} / {fmt_seconds(wall)}: {cpu / wall:.2f} of {cores} cores busy",
    )
    if failed:
        section.notes.append(
            f"The suite reported {failed} failures/errors in this run (see the pytest output "
            f"kept in {log}); the time is still the suite's."
        )

    per_file: dict[str, float] = defaultdict(float)
    per_phase: dict[str, float] = defaultdict(float)
    for seconds, phase, node in durations:
        per_file[node.split("::")[0]] += seconds
        per_phase[phase] += seconds
    accounted = sum(per_file.values())
    if per_file:
        section.details.append(
            "Where the time goes, per test file (set-up + call + teardown, summed from "
            "`--durations=0`; session fixtures count against the first test that uses them):\n\n"
            + markdown_table(
                ["test file", "seconds", "share of the run"],
                [
                    [name, f"{seconds:.1f}", f"{100 * seconds / wall:.0f}%"]
                    for name, seconds in sorted(per_file.items(), key=lambda item: -item[1])
                ]
                + [
                    [
                        "(collection, start-up, untimed)",
                        f"{wall - accounted:.1f}",
                        f"{100 * (wall - accounted) / wall:.0f}%",
                    ]
                ],
            )
        )
        slowest = sorted(durations, key=lambda item: -item[0])[:15]
        section.details.append(
            "The 15 slowest steps:\n\n"
            + markdown_table(
                ["seconds", "phase", "test"],
                [[f"{s:.2f}", phase, node] for s, phase, node in slowest],
            )
        )
        section.row(
            "  set-up / call / teardown, summed",
            " / ".join(f"{fmt_seconds(per_phase[p])}" for p in ("setup", "call", "teardown")),
        )
    shown = " ".join(Path(command[0]).name if i == 0 else arg for i, arg in enumerate(command))
    section.notes.append(
        f"One run of `{shown}` (the pytest command of `make test`, taken from `make -n test`, "
        "with every duration listed; set-up already done), while nothing else of the benchmark "
        "runs. The machine is shared, so other work on it shows in this number."
    )
    section.raw = {
        "command": command,
        "wall_s": wall,
        "cpu_s": cpu,
        "returncode": completed.returncode,
        "summary": summary,
        "per_file": dict(per_file),
        "per_phase": dict(per_phase),
        "slowest": sorted(durations, key=lambda item: -item[0])[:30],
    }
    return section

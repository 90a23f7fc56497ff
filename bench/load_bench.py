"""Load curve of the local cloud, and the handler at 256, 512 and 1024 MB.

The demo stack is deployed into a local cloud of its own (as in ``pipeline_bench``). Then:

1. **Offered load, open loop.** For each rate in ``RATES`` (messages per second), a dispatcher
   releases one 10 KB message every ``1 / rate`` seconds for ``STEP_SECONDS``, whether or not
   the earlier ones are done; a pool of SMTP senders (one STARTTLS session each) sends them.
   Latency runs from the moment a message was due to the moment its record is finished
   (message.json written), so time spent waiting for a free sender counts. Throughput is the
   step's messages over the time from the step's start to the last one finished. The run stops
   rising once p95 passes ``GIVE_UP_P95_MS``. The curve is plotted with matplotlib.
2. **Memory sizes.** The handler's ``MemorySize`` is set to 256, 512 and 1024 MB in turn
   (``UpdateFunctionConfiguration`` on the local cloud); for each, 10 KB, 1 MB and 10 MB
   messages go through the pipeline and the local cloud's REPORT line gives the duration and
   ``Max Memory Used`` (the execution environment's peak resident memory).

The local cloud runs every execution environment as a process on this machine: memory size
changes neither its CPU share nor its memory limit, unlike Lambda, where CPU is allotted in
proportion to memory. So the durations show the work at a full core; only peak memory carries
over as measured.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import smtplib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import messages
import pipeline_bench
from common import ROOT, Section, fmt_ms, markdown_table, percentile
from pipeline_bench import Cloud, Delivery, _free_port, open_session, transaction, wait

RATES = (2, 5, 10, 15, 20, 30)
QUICK_RATES = (2, 10)
STEP_SECONDS = 10.0
QUICK_STEP_SECONDS = 5.0
SENDERS = 16
GIVE_UP_P95_MS = 10_000
MEMORY_SIZES = (256, 512, 1024)
MESSAGE_SIZES = {"10 KB": 10_000, "1 MB": 1_000_000, "10 MB": 10_000_000}
PLOT = ROOT / "docs" / "images" / "load-curve.png"
_REPORT = re.compile(
    r"Duration: (?P<duration>[\d.]+) ms.*Memory Size: (?P<size>\d+) MB"
    r"(?:.*Max Memory Used: (?P<used>\d+) MB)?"
)


@dataclass
class Step:
    offered: float
    deliveries: list[Delivery] = field(default_factory=list)
    due: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    started: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def latencies_ms(self) -> list[float]:
        return [(d.finished - self.due[d.message_id]) * 1000 for d in self.deliveries]

    @property
    def throughput(self) -> float:
        done = [d for d in self.deliveries if d.status == "done"]
        if not done:
            return 0.0
        return len(done) / (max(d.finished for d in done) - self.started)


def offered_step(cloud: Cloud, body: bytes, rate: float, seconds: float) -> Step:
    step = Step(offered=rate)
    due: queue.Queue[float | None] = queue.Queue()
    waiters = ThreadPoolExecutor(max_workers=64, thread_name_prefix="wait")

    def finish(delivery: Delivery, at: float) -> None:
        try:
            wait(cloud, delivery)
        except Exception as error:  # counted, never dropped silently
            with step.lock:
                step.errors.append(f"{type(error).__name__}: {error}")
            return
        with step.lock:
            step.due[delivery.message_id] = at
            step.deliveries.append(delivery)

    def sender() -> None:
        smtp: smtplib.SMTP | None = None
        while (at := due.get()) is not None:
            try:
                smtp = smtp or open_session(cloud)
                delivery = transaction(smtp, body)
            except Exception as error:
                with step.lock:
                    step.errors.append(f"{type(error).__name__}: {error}")
                smtp = None
                continue
            waiters.submit(finish, delivery, at)
        if smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()

    threads = [threading.Thread(target=sender, name=f"sender-{i}") for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    count = max(1, round(rate * seconds))
    step.started = time.perf_counter()
    for index in range(count):
        at = step.started + index / rate
        delay = at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        due.put(at)
    for _ in threads:
        due.put(None)
    for thread in threads:
        thread.join()
    waiters.shutdown(wait=True)
    return step


def handler_name(cloud: Cloud) -> str:
    import boto3

    cloudformation = boto3.client(
        "cloudformation",
        endpoint_url=cloud.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stack = cloudformation.describe_stacks(StackName="SesLambdaDemo")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
    return str(outputs["HandlerFunction"])


def _report_metrics(line: str) -> dict[str, float] | None:
    """Duration, memory size and peak memory from a REPORT line (JSON or text log format)."""
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            return None
        if record.get("type") != "platform.report":
            return None
        metrics = record["record"]["metrics"]
        used = metrics.get("maxMemoryUsedMB")
        return {
            "duration_ms": float(metrics["durationMs"]),
            "memory_size_mb": float(metrics["memorySizeMB"]),
            "max_memory_mb": float("nan") if used is None else float(used),
        }
    match = _REPORT.search(line)
    if match is None or not line.startswith("REPORT"):
        return None
    return {
        "duration_ms": float(match["duration"]),
        "memory_size_mb": float(match["size"]),
        "max_memory_mb": float(match["used"] or "nan"),
    }


def reports(cloud: Cloud, delivery: Delivery) -> list[dict[str, float]]:
    """The REPORT lines of the handler's invocations for one message."""
    record = cloud.local(f"messages/{delivery.message_id}")
    found: list[dict[str, float]] = []
    for rule in record.get("rules", []):
        for action in rule["actions"]:
            for attempt in action.get("detail", {}).get("attempts", []):
                for line in attempt.get("logLines", []):
                    metrics = _report_metrics(line)
                    if metrics is not None:
                        found.append({**metrics, "cold": float(bool(attempt.get("coldStart")))})
    if not found:
        raise RuntimeError(f"no REPORT line for message {delivery.message_id}: {record!r:.2000}")
    return found


def memory_sizes(cloud: Cloud, repeats: int) -> dict[int, dict[str, dict[str, Any]]]:
    import boto3

    lambda_client = boto3.client(
        "lambda",
        endpoint_url=cloud.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    function = handler_name(cloud)
    bodies = {label: messages.message(size) for label, size in MESSAGE_SIZES.items()}
    results: dict[int, dict[str, dict[str, Any]]] = {}
    for memory in MEMORY_SIZES:
        lambda_client.update_function_configuration(FunctionName=function, MemorySize=memory)
        results[memory] = {}
        # Smallest first: Max Memory Used is the environment's peak so far.
        for label, body in bodies.items():
            rows: list[dict[str, float]] = []
            for _ in range(repeats + 1):
                delivery = wait(cloud, pipeline_bench.send(cloud, body))
                rows += reports(cloud, delivery)
            warm = [r for r in rows if not r["cold"]] or rows
            results[memory][label] = {
                "duration_ms": percentile([r["duration_ms"] for r in warm], 50),
                "max_memory_mb": max(r["max_memory_mb"] for r in rows),
                "memory_size_mb": sorted({r["memory_size_mb"] for r in rows}),
                "invocations": len(rows),
            }
    return results


def plot(steps: list[Step], path: Path, load: tuple[float, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    offered = [s.offered for s in steps]
    achieved = [s.throughput for s in steps]
    p95 = [percentile(s.latencies_ms, 95) for s in steps]
    p50 = [percentile(s.latencies_ms, 50) for s in steps]
    figure, left = plt.subplots(figsize=(7.5, 4.2), dpi=110)
    left.plot(offered, offered, linestyle=":", color="grey", label="offered = achieved")
    left.plot(offered, achieved, marker="o", color="tab:blue", label="throughput")
    left.set_xlabel("offered load (messages/s, 10 KB each)")
    left.set_ylabel("throughput (messages/s)", color="tab:blue")
    right = left.twinx()
    right.plot(offered, p95, marker="s", color="tab:red", label="p95 latency")
    right.plot(offered, p50, marker=".", linestyle="--", color="tab:orange", label="p50 latency")
    right.set_ylabel("latency, due → message.json (ms)", color="tab:red")
    right.set_yscale("log")
    lines = left.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    left.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left", fontsize=8)
    left.set_title(
        f"Local cloud, {os.cpu_count()} shared cores "
        f"(load average {load[0]:.1f} before, {load[1]:.1f} after)",
        fontsize=9,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def run(quick: bool, workdir: Path) -> Section:
    section = Section("load", "6. Load curve and memory sizes")
    cloud = Cloud(workdir / "local-cloud-load", _free_port(), _free_port())
    body = messages.message(10_000)
    rates = QUICK_RATES if quick else RATES
    seconds = QUICK_STEP_SECONDS if quick else STEP_SECONDS
    try:
        cloud.start()
        cloud.deploy()
        for _ in range(3):  # warm the environments
            wait(cloud, pipeline_bench.send(cloud, body))
        load_before = os.getloadavg()
        steps: list[Step] = []
        for rate in rates:
            step = offered_step(cloud, body, rate, seconds)
            steps.append(step)
            if percentile(step.latencies_ms, 95) > GIVE_UP_P95_MS:
                break
        load_after = os.getloadavg()
        plot(steps, PLOT, (load_before[0], load_after[0]))
        best = max(steps, key=lambda s: s.throughput)
        section.row(
            f"Open-loop load, 10 KB messages, {seconds:.0f} s per rate: highest throughput",
            f"{best.throughput:.1f} msg/s at {best.offered:g} msg/s offered "
            f"(p95 {fmt_ms(percentile(best.latencies_ms, 95))})",
        )
        for step in steps:
            lat = step.latencies_ms
            lost = round(step.offered * seconds) - len(step.deliveries)
            section.row(
                f"  offered {step.offered:g} msg/s: throughput, p50 / p95",
                f"{step.throughput:.1f} msg/s, {fmt_ms(percentile(lat, 50))} / "
                f"{fmt_ms(percentile(lat, 95))}"
                + (f"; {lost} not finished, {len(step.errors)} errors" if lost else ""),
            )
        section.row(
            "  load average (1 min) before / after the load run",
            f"{load_before[0]:.1f} / {load_after[0]:.1f} on {os.cpu_count()} cores",
        )
        memory = memory_sizes(cloud, 1 if quick else 3)
        for size, per_message in memory.items():
            section.row(
                f"Handler at {size} MB (local cloud REPORT): duration / Max Memory Used",
                "; ".join(
                    f"{label} {fmt_ms(v['duration_ms'])} / {v['max_memory_mb']:.0f} MB"
                    for label, v in per_message.items()
                ),
            )
        section.details.append(f"![Load curve](docs/images/{PLOT.name})")
        section.details.append(
            markdown_table(
                ["offered (msg/s)", "throughput (msg/s)", "p50", "p95", "p99", "sent", "errors"],
                [
                    [
                        f"{s.offered:g}",
                        f"{s.throughput:.1f}",
                        fmt_ms(percentile(s.latencies_ms, 50)),
                        fmt_ms(percentile(s.latencies_ms, 95)),
                        fmt_ms(percentile(s.latencies_ms, 99)),
                        len(s.deliveries),
                        len(s.errors),
                    ]
                    for s in steps
                ],
            )
        )
        section.details.append(
            markdown_table(
                ["memory size", *(f"{label}: duration / peak" for label in MESSAGE_SIZES)],
                [
                    [
                        f"{size} MB",
                        *(
                            f"{fmt_ms(v['duration_ms'])} / {v['max_memory_mb']:.0f} MB"
                            for v in per_message.values()
                        ),
                    ]
                    for size, per_message in memory.items()
                ],
            )
        )
        section.notes += [
            "Open loop: a dispatcher releases messages at the offered rate whatever the state "
            f"of the earlier ones; {SENDERS} SMTP senders (one STARTTLS session each) send them, "
            "and each message's latency runs from when it was due to when the local cloud's "
            "record of it is finished (message.json written, its event put). Throughput: the "
            "step's finished messages over the time from the step's start to the last one "
            "finished, so a backlog shows as throughput below the offered rate and a growing "
            "p95.",
            "What this curve measures is the local cloud on a shared 2-core machine, where "
            "moto's request handling, the SMTP receiver and every execution environment share "
            "the same CPUs; it is not a prediction of AWS, where SES, S3, EventBridge and each "
            "Lambda environment scale on their own. docs/operations.md gives the quotas that "
            "bind first in AWS.",
            "Memory sizes: the handler's MemorySize set with UpdateFunctionConfiguration, then 10 "
            "KB, 1 MB and 10 MB messages, each size sent "
            + ("twice" if quick else "four times")
            + " (the first invocation after the change is a cold start and is left out of the "
            "median duration); 'Max Memory Used' is the environment's peak resident memory "
            "(VmHWM), as Lambda's REPORT line gives it. Locally the memory size sets neither the "
            "CPU share nor a memory limit, so the durations are equal by construction: they are "
            "the work at a full core. Lambda gives a function CPU in proportion to its memory "
            "(one vCPU at 1,769 MB; Lambda Developer Guide, 'Configure Lambda function "
            "memory'), which this machine cannot reproduce.",
            "x86_64 only: this machine has no arm64 CPU, so nothing here compares Graviton.",
        ]
        section.raw = {
            "steps": [
                {
                    "offered": s.offered,
                    "throughput": s.throughput,
                    "latency_ms": s.latencies_ms,
                    "errors": s.errors,
                }
                for s in steps
            ],
            "load_average": [load_before, load_after],
            "memory_sizes": memory,
            "plot": str(PLOT),
        }
    finally:
        cloud.stop()
    return section

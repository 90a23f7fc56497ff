"""IAM evaluation: what the local cloud's IAM gate costs per request (``iam_child.py``)."""

from __future__ import annotations

from common import BENCH, Sample, Section, fmt_sample, run_child

CHILD = str(BENCH / "iam_child.py")


def _us(value: float) -> str:
    return f"{value * 1e6:.0f} µs"


def run(runs: int, quick: bool) -> Section:
    section = Section("iam", "9. IAM evaluation")
    count = 200 if quick else 2000
    samples = {name: Sample() for name in ("get_object_s", "put_events_s", "admin_s", "engine_s")}
    for _ in range(runs):
        result, _wall = run_child([CHILD, str(count)])
        for name, sample in samples.items():
            sample.add(result[name])
    section.row(
        "gate, a function's GetObject of an SSE-KMS object (s3:GetObject + kms:Decrypt)",
        fmt_sample(samples["get_object_s"], _us),
    )
    section.row(
        "gate, a function's PutEvents (one entry)", fmt_sample(samples["put_events_s"], _us)
    )
    section.row(
        "gate, an administrator's request (not evaluated)", fmt_sample(samples["admin_s"], _us)
    )
    section.row(
        "engine alone, one request against a 7-statement role policy",
        fmt_sample(samples["engine_s"], _us),
    )
    section.notes.append(
        f"Each run is a fresh process timing {count} calls of the gate on WSGI requests signed "
        "with "
        "a registered execution-environment key, after one warm-up call; the policies live in "
        "moto's backends as in the local cloud (a role with the hardened handler's grants, a "
        "bucket policy, a customer managed key with the default key policy). The gate's share "
        "of a request: reading the policies from moto, parsing them (cached per document), "
        "evaluating, and building the context."
    )
    section.raw = {name: sample.values for name, sample in samples.items()}
    return section

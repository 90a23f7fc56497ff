"""Synth: the demo stack with the library against the same resources wired by hand with L2s.

Each synthesis runs in a fresh process (``synth_child.py``), so interpreter and jsii start-up are
included on both sides; library and hand-wired runs alternate. The hand-wired app's function uses
the very bundle directory the library staged. A second part shows the bundle cache: a library
synth with an empty cache (pip runs) against the warm runs above (no pip install), and a re-synth
into an existing ``cdk.out`` (the CDK does not call the bundler at all).
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from common import BENCH, ROOT, Sample, Section, child_env, fmt_sample, fmt_seconds, run_child

CHILD = str(BENCH / "synth_child.py")
TARGET_RATIO = 1.10


def context() -> dict[str, Any]:
    """cdk.json's context (as the CLI would pass it), a hosted zone by attributes, asset
    metadata on (as ``cdk synth`` sets it)."""
    base = json.loads((ROOT / "cdk.json").read_text()).get("context", {})
    return {
        **base,
        "hostedZoneId": "Z0123456789ABCDEFGHIJ",
        "hostedZoneName": "example.com",
        "aws:cdk:enable-asset-metadata": True,
    }


def _synth(
    mode: str, outdir: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], float]:
    return run_child([CHILD, mode, str(outdir), json.dumps(context()), *extra], env=env)


def run(runs: int, quick: bool, workdir: Path) -> Section:
    section = Section("synth", "1. Synth")
    base = workdir / "synth"
    base.mkdir(parents=True, exist_ok=True)

    # Warm-up (untimed): jsii package cache, the OS file cache and the bundle cache.
    warm_lib, _ = _synth("library", base / "warmup-library")
    stack = next(iter(warm_lib["stacks"].values()))
    if not stack["handler_asset"]:
        raise RuntimeError("the demo template has no function with handler.lambda_handler")
    handler_asset = base / "handler-asset"
    shutil.copytree(stack["handler_asset"], handler_asset)
    warm_hand, _ = _synth("handwired", base / "warmup-handwired", str(handler_asset))

    wall = {"library": Sample(), "handwired": Sample()}
    inproc = {"library": Sample(), "handwired": Sample()}
    phases: dict[str, dict[str, Sample]] = {
        mode: {"import_s": Sample(), "define_s": Sample(), "synth_s": Sample()} for mode in wall
    }
    warm_build = Sample()
    warm_probe = Sample()
    warm_pip_installs = 0
    warm_runs = 0
    seen_assets = {Path(stack["handler_asset"]).name}
    changed_assets = 0
    pairs: list[float] = []
    for i in range(runs):
        order = ("library", "handwired") if i % 2 == 0 else ("handwired", "library")
        times: dict[str, float] = {}
        for mode in order:
            outdir = base / f"run{i}-{mode}"
            extra = (str(handler_asset),) if mode == "handwired" else ()
            result, seconds = _synth(mode, outdir, *extra)
            times[mode] = seconds
            wall[mode].add(seconds)
            inproc[mode].add(result["define_s"] + result["synth_s"])
            for key, sample in phases[mode].items():
                sample.add(result[key])
            if mode == "library":
                bundling = result["bundling"]
                asset_name = Path(next(iter(result["stacks"].values()))["handler_asset"]).name
                if asset_name in seen_assets:  # lambda_src as in an earlier synth: a warm run
                    warm_runs += 1
                    warm_build.add(bundling["build_s"])
                    warm_probe.add(bundling["pip_probe_s"])
                    warm_pip_installs += bundling["pip_install_runs"]
                else:  # lambda_src was edited while the benchmark ran
                    changed_assets += 1
                    seen_assets.add(asset_name)
            shutil.rmtree(outdir, ignore_errors=True)
        pairs.append(times["library"] / times["handwired"])

    ratio = wall["library"].median / wall["handwired"].median
    ratio_inproc = inproc["library"].median / inproc["handwired"].median
    section.row(
        "Synth wall time, demo stack with the library (fresh process each)",
        fmt_sample(wall["library"]),
    )
    section.row(
        "Synth wall time, the same resources hand-wired with L2 constructs",
        fmt_sample(wall["handwired"]),
    )
    section.row(
        "Ratio library / hand-wired (medians, same run)",
        f"{ratio:.2f} (median of paired ratios {statistics.median(pairs):.2f})",
        f"≤ {TARGET_RATIO:.2f}",
        ratio <= TARGET_RATIO,
    )
    section.row(
        "Ratio without interpreter and jsii start-up (define + synth in process)",
        f"{ratio_inproc:.2f} ({fmt_seconds(inproc['library'].median)} vs "
        f"{fmt_seconds(inproc['handwired'].median)})",
    )
    lib_stack = next(iter(warm_lib["stacks"].values()))
    hand_stack = next(iter(warm_hand["stacks"].values()))
    same = lib_stack["types"] == hand_stack["types"]
    section.row(
        "Resources in the two templates",
        f"{lib_stack['resources']} vs {hand_stack['resources']} "
        f"({len(lib_stack['types'])} types, " + ("identical counts)" if same else "DIFFERENT)"),
        "same resources",
        same,
    )
    if not same:
        kinds = sorted(set(lib_stack["types"]) | set(hand_stack["types"]))
        differences = [
            f"{kind}: {lib_stack['types'].get(kind, 0)} vs {hand_stack['types'].get(kind, 0)}"
            for kind in kinds
            if lib_stack["types"].get(kind, 0) != hand_stack["types"].get(kind, 0)
        ]
        section.notes.append(
            "Resource types that differ (library vs hand-wired): " + "; ".join(differences)
        )

    # Bundling: an empty bundle cache against the warm runs above.
    cold_build = Sample()
    cold_wall = Sample()
    cold_installs: list[int] = []
    cold_runs = 1 if quick else runs
    for i in range(cold_runs):
        cache = Path(tempfile.mkdtemp(prefix="bundle-cache-", dir=base))
        env = child_env({"SES_LAMBDA_CONSTRUCTS_BUNDLE_CACHE": str(cache)})
        result, seconds = _synth("library", base / f"cold{i}", env=env)
        cold_build.add(result["bundling"]["build_s"])
        cold_wall.add(seconds)
        cold_installs.append(result["bundling"]["pip_install_runs"])
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(base / f"cold{i}", ignore_errors=True)
    section.row(
        "First synth, empty bundle cache: time in PythonBundle.build",
        f"{fmt_sample(cold_build)}; pip install runs: {'/'.join(map(str, cold_installs))}; "
        f"whole synth {fmt_seconds(cold_wall.median)}",
    )
    section.row(
        "Second synth, lambda_src unchanged (warm cache, fresh cdk.out): PythonBundle.build",
        f"{fmt_sample(warm_build)}; pip install runs: {warm_pip_installs} in {warm_runs} synths",
        "no bundling work",
        warm_pip_installs == 0 if warm_runs else None,
    )
    if changed_assets:
        section.notes.append(
            f"lambda_src changed while this benchmark ran: {changed_assets} library synth(s) "
            "met a new asset hash and bundled it; they are left out of the warm-cache row."
        )
    section.row(
        "  of which the `pip --version` probe before each cache hit",
        fmt_sample(warm_probe),
    )
    # Re-synth into the warm-up's cdk.out: the staged asset exists, the bundler is not called.
    again, again_wall = _synth("library", base / "warmup-library")
    calls = again["bundling"]["try_bundle_calls"]
    again_asset = Path(next(iter(again["stacks"].values()))["handler_asset"]).name
    if again_asset != Path(stack["handler_asset"]).name:
        section.notes.append(
            "lambda_src changed between the warm-up and the re-synth into its cdk.out, so that "
            "re-synth had a new asset to bundle."
        )
    section.row(
        "Re-synth into an existing cdk.out: bundler calls",
        f"{calls} (synth {fmt_seconds(again_wall)})",
        "no bundling work",
        (calls == 0) if again_asset == Path(stack["handler_asset"]).name else None,
    )
    section.notes += [
        "Each synthesis is a fresh `python` process running `app.py`'s `build_app` (the library) "
        "or `bench/handwired.py` (plain L2s), `app.synth()` into a new directory; wall time is "
        "measured around the process, so Python and jsii start-up count on both sides. The "
        "context is cdk.json's plus a hosted zone passed by attributes (so the DKIM and MX "
        "records exist) and asset metadata on, as `cdk synth` sets it. Runs alternate "
        "library/hand-wired after one untimed warm-up of each.",
        "The hand-wired function uses `Code.from_asset` on a copy of the directory the library "
        "staged (same files); the custom resource uses the library's provider source. The "
        "hand-wired version uses `ses_actions.S3`/`ses_actions.Lambda` with an `AllowSes` "
        "permission pre-added with the rule's SourceArn.",
        "Phase medians (import aws_cdk / define / synth), library: "
        + " / ".join(fmt_seconds(s.median) for s in phases["library"].values())
        + "; hand-wired: "
        + " / ".join(fmt_seconds(s.median) for s in phases["handwired"].values())
        + ".",
        "The cold-cache runs use an empty `SES_LAMBDA_CONSTRUCTS_BUNDLE_CACHE`; pip's own "
        "download cache is left as it is (pip may still resolve against the package index).",
    ]
    section.raw = {
        "wall": {k: v.to_dict() for k, v in wall.items()},
        "in_process": {k: v.to_dict() for k, v in inproc.items()},
        "phases": {m: {k: v.to_dict() for k, v in p.items()} for m, p in phases.items()},
        "paired_ratios": pairs,
        "ratio": ratio,
        "cold_build": cold_build.to_dict(),
        "cold_wall": cold_wall.to_dict(),
        "warm_build": warm_build.to_dict(),
        "warm_probe": warm_probe.to_dict(),
        "resources": {"library": lib_stack, "handwired": hand_stack},
        "resynth_bundler_calls": calls,
    }
    # Keep the staged handler asset of the warm-up for the asset benchmark.
    section.raw["handler_asset"] = str(handler_asset)
    shutil.rmtree(base / "warmup-library", ignore_errors=True)
    shutil.rmtree(base / "warmup-handwired", ignore_errors=True)
    return section


def stage_handler_asset(workdir: Path) -> Path:
    """The reference handler's asset directory, from one library synthesis (untimed)."""
    base = workdir / "synth"
    base.mkdir(parents=True, exist_ok=True)
    result, _ = _synth("library", base / "stage")
    stack = next(iter(result["stacks"].values()))
    if not stack["handler_asset"]:
        raise RuntimeError("the demo template has no function with handler.lambda_handler")
    target = base / "handler-asset"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(stack["handler_asset"], target)
    shutil.rmtree(base / "stage", ignore_errors=True)
    return target

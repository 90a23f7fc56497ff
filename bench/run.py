#!/usr/bin/env python3
"""`make bench`: run the benchmarks, print the table, write BENCHMARKS.md.

    python bench/run.py                 # everything, medians of 5 runs, writes BENCHMARKS.md
    python bench/run.py --quick         # smoke run: fewer runs, shorter load; writes nothing
    python bench/run.py --only synth handler --runs 7 --output /tmp/bench.md
    python bench/run.py --only pipeline   # rewrites that section; keeps the others' results

Sections: synth, asset, handler, pipeline, load, tests, iam, inbox (see bench/README.md).
Timings never pass or fail anything: the exit status is 0 unless a benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Row, Section, machine, markdown_table

SECTIONS = ("synth", "asset", "handler", "pipeline", "load", "tests", "iam", "inbox")
DEFAULT_OUTPUT = ROOT / "BENCHMARKS.md"


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def mark(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: ""}[met]


def print_table(sections: list[Section]) -> None:
    rows = [("section", "measurement", "result", "target", "")]
    for section in sections:
        if section.error:
            rows.append((section.title, "did not run", section.error.splitlines()[0], "", "ERROR"))
        for row in section.rows:
            rows.append((section.title, row.measurement, row.result, row.target, mark(row.met)))
    widths = [min(max(len(r[i]) for r in rows), cap) for i, cap in enumerate((22, 70, 60, 28, 6))]

    def cut(text: str, width: int) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    for index, row in enumerate(rows):
        print("  ".join(cut(cell, w).ljust(w) for cell, w in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * w for w in widths))


def previous_sections(path: Path) -> tuple[list[str], dict[str, list[str]], dict[str, str]]:
    """An earlier BENCHMARKS.md: its section titles in order, each one's summary rows (the
    Markdown lines) and its own part (from its ``## title`` to the next heading)."""
    if not path.exists():
        return [], {}, {}
    text = path.read_text(encoding="utf-8")
    order: list[str] = []
    rows: dict[str, list[str]] = {}
    summary = text.split("## Summary", 1)[1].split("\n## ", 1)[0] if "## Summary" in text else ""
    title = ""
    table = [line for line in summary.splitlines() if line.startswith("| ")]
    for line in table[2:]:  # after the table's header and separator
        first = line[2:].split(" | ", 1)[0].strip()
        if first:
            title = first
            order.append(title)
        rows.setdefault(title, []).append(line)
    bodies: dict[str, str] = {}
    for part in text.split("\n## ")[1:]:
        heading, _, body = part.partition("\n")
        if heading in rows:
            bodies[heading] = body.strip("\n")
    return order, rows, bodies


def previous_date(path: Path) -> str:
    """`` of <date>`` from an earlier BENCHMARKS.md's machine table, if it has one."""
    if not path.exists():
        return ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("| date | "):
            return f" of {line.split('|')[2].strip()}"
    return ""


def write_markdown(
    path: Path,
    sections: list[Section],
    info: dict[str, str],
    args: argparse.Namespace,
    elapsed: float,
) -> None:
    # A partial run (--only / --skip) keeps the other sections of the file it rewrites.
    order, kept_rows, kept_bodies = previous_sections(path) if args.partial else ([], {}, {})
    measured = {s.title: s for s in sections}
    titles = [t for t in order if t in measured or t in kept_rows]
    titles += [s.title for s in sections if s.title not in titles]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python bench/run.py`); do not edit by hand. Timings are medians "
        f"of {args.runs} runs in fresh processes unless a row says otherwise (shown as "
        "`median (min-max, n=runs)`); ratios are taken between measurements of the same run. "
        "This machine is shared and noisy, so no timing here is a pass/fail test.",
        "",
        f"This run took {elapsed / 60:.1f} min"
        + (" (`--quick`: fewer runs, shorter load, not for comparison)." if args.quick else ".")
        + (
            f" It measured {', '.join(s.title for s in sections)}; the other sections are kept "
            f"from the previous run{previous_date(path)} (the machine below is this run's)."
            if args.partial and len(titles) > len(sections)
            else ""
        ),
        "",
        "## Machine",
        "",
        markdown_table(["", ""], [[key, value] for key, value in info.items()]),
        "",
        "## Summary",
        "",
    ]
    table = markdown_table(["", "measurement", "result", "target", "met?"], []).splitlines()
    for title in titles:
        if title not in measured:
            table += kept_rows[title]
            continue
        section = measured[title]
        table += markdown_table(
            ["", "", "", "", ""],
            [
                [title if i == 0 else "", r.measurement, r.result, r.target, mark(r.met)]
                for i, r in enumerate(
                    section.rows
                    or [Row("did not run", (section.error or "").splitlines()[0], "", None)]
                )
            ],
        ).splitlines()[2:]
    lines += [*table, ""]
    for title in titles:
        lines += [f"## {title}", ""]
        if title not in measured:
            lines += [kept_bodies.get(title, ""), ""]
            continue
        section = measured[title]
        if section.error:
            lines += ["This benchmark could not run:", "", "```", section.error.strip(), "```", ""]
        for detail in section.details:
            lines += [detail, ""]
        if section.notes:
            lines += ["Notes:", ""]
            lines += [f"- {note}" for note in section.notes]
            lines.append("")
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2 runs, shorter pipeline load, no test-suite run, "
        "writes nothing unless --output is given",
    )
    parser.add_argument("--runs", type=int, default=None, help="runs per measurement (default 5)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=None)
    parser.add_argument("--skip", nargs="+", choices=SECTIONS, default=[])
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"Markdown file to write (default {DEFAULT_OUTPUT.name}; none with --quick)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    args.runs = args.runs or (2 if args.quick else 5)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    args.partial = bool(args.only or args.skip)
    selected = [s for s in (args.only or SECTIONS) if s not in args.skip]
    if args.quick and args.only is None and "tests" in selected:
        selected.remove("tests")

    started = time.perf_counter()
    info = machine()
    progress(
        f"machine: {info['cores']} cores, {info['cpu']}, {info['memory']}; "
        f"sections: {', '.join(selected)}; {args.runs} runs each"
    )
    workdir = Path(tempfile.mkdtemp(prefix="ses-bench-"))
    sections: list[Section] = []
    handler_asset: Path | None = None

    def attempt(key: str, title: str, body) -> Section:  # type: ignore[no-untyped-def]
        progress(f"{title} ...")
        begun = time.perf_counter()
        try:
            section = body()
        except Exception:
            section = Section(key, title, error=traceback.format_exc(limit=6))
            progress(f"{title} FAILED:\n{section.error}")
        else:
            progress(f"{title} done in {time.perf_counter() - begun:.0f} s")
        sections.append(section)
        return section

    def asset_dir() -> Path:
        nonlocal handler_asset
        if handler_asset is None or not handler_asset.exists():
            import synth_bench

            handler_asset = synth_bench.stage_handler_asset(workdir)
        return handler_asset

    try:
        if "synth" in selected:
            import synth_bench

            section = attempt(
                "synth", "1. Synth", lambda: synth_bench.run(args.runs, args.quick, workdir)
            )
            if section.raw.get("handler_asset"):
                handler_asset = Path(section.raw["handler_asset"])
        if "asset" in selected:
            import asset_bench
            import handler_bench

            def asset() -> Section:
                files = handler_bench.write_messages(workdir / "messages")
                return asset_bench.run(asset_dir(), files["10 KB"])

            attempt("asset", "3. Lambda asset", asset)
        if "handler" in selected:
            import handler_bench

            attempt(
                "handler",
                "2. Handler",
                lambda: handler_bench.run(args.runs, args.quick, workdir, asset_dir()),
            )
        if "pipeline" in selected:
            import pipeline_bench

            attempt(
                "pipeline", "4. Local pipeline", lambda: pipeline_bench.run(args.quick, workdir)
            )
        if "load" in selected:
            import load_bench

            attempt(
                "load",
                "6. Load curve and memory sizes",
                lambda: load_bench.run(args.quick, workdir),
            )
        if "inbox" in selected:
            import inbox_bench

            attempt("inbox", "8. Inbox page", lambda: inbox_bench.run(args.quick, workdir))
        if "iam" in selected:
            import iam_bench

            attempt("iam", "9. IAM evaluation", lambda: iam_bench.run(args.runs, args.quick))
        if "tests" in selected:
            import tests_bench

            attempt("tests", "5. make test", lambda: tests_bench.run(workdir))
    finally:
        if args.keep:
            progress(f"working directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    # The order of BENCHMARKS.md's numbered sections.
    order = {
        key: i
        for i, key in enumerate(
            ("synth", "handler", "asset", "pipeline", "tests", "load", "inbox", "iam")
        )
    }
    sections.sort(key=lambda s: order[s.key])
    elapsed = time.perf_counter() - started
    print()
    print_table(sections)
    print(f"\n{len(sections)} benchmarks in {elapsed / 60:.1f} min", end="")
    if output:
        write_markdown(output, sections, info, args, elapsed)
        print(f"; written to {output}")
    else:
        print(" (--quick: nothing written; pass --output FILE to write the Markdown)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "sections": {
                        s.key: {
                            "rows": [r.__dict__ for r in s.rows],
                            "raw": s.raw,
                            "error": s.error,
                        }
                        for s in sections
                    },
                },
                indent=1,
                default=str,
            )
        )
    return 1 if any(s.error for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())

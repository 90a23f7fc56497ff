"""The per-module table of a mutmut run (``make mutation``), with the equivalent mutants applied.

Usage: ``python tools/mutation_report.py [build/mutation] [--survivors]``.

mutmut keeps one ``<source>.meta`` file per mutated module (the exit code of each mutant's test
run) and one ``<source>.spans`` file (where each mutant function is in the mutated copy). This
reads both, so it needs neither mutmut's command line nor its interactive browser:

- each mutant's status comes from mutmut's own table of exit codes (``mutmut.stats``);
- each mutant's change is the one line in which its function differs from the original copy;
- ``docs/mutation.md`` lists the equivalent mutants (a mutant no test can kill because it
  behaves like the original), each with the changed line recorded. An entry whose line no
  longer matches the run's mutant of that name (the source changed and mutmut renumbered) is
  reported as stale and not applied.

The score of a module is the share of its non-equivalent mutants that the tests detect:
``(killed + timeouts) / (mutants - equivalent - not run)``; a mutant with no test counts as
surviving, and "not run" is non-zero only for an interrupted run.
``--survivors`` prints each non-equivalent survivor with its change, to work through.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "docs" / "mutation.md"
#: A row of the equivalent-mutant tables: | `mutant name` | `changed line` | reason |
_ROW = re.compile(r"^\|\s*`(?P<name>[^`]+)`\s*\|\s*`(?P<line>(?:[^`]|``)*)`\s*\|(?P<why>.*)\|\s*$")


@dataclass(frozen=True)
class Mutant:
    name: str
    module: str
    status: str
    change: str
    """The mutated line (stripped), or ``"?"`` when it cannot be read."""
    original: str


def read_equivalents(path: Path = EQUIVALENTS) -> dict[str, tuple[str, str]]:
    """``{mutant name: (changed line, reason)}`` from the tables of ``docs/mutation.md``."""
    found: dict[str, tuple[str, str]] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            line = match["line"].replace("``", "`").replace("\\|", "|")
            found[match["name"]] = (line, match["why"].strip())
    return found


def _function_sources(mutated: Path, spans: dict[str, list[int]]) -> dict[str, list[str]]:
    lines = mutated.read_text(encoding="utf-8").splitlines()
    return {name: lines[start - 1 : end] for name, (start, end) in spans.items()}


def _change(original: list[str], mutant: list[str], names: tuple[str, str]) -> tuple[str, str]:
    """The lines in which the two copies of a function differ: ``(original, mutated)``.

    ``names`` are the two copies' names (``x_f__mutmut_orig``, ``x_f__mutmut_3``), which the
    comparison ignores.
    """
    before = [line.strip().replace(names[0], "_") for line in original if line.strip()]
    after = [line.strip().replace(names[1], "_") for line in mutant if line.strip()]
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after).get_opcodes():
        if tag != "equal":
            old = " ".join(before[i1:i2]) or "(nothing)"
            new = " ".join(after[j1:j2]) or "(nothing)"
            return old, new
    return "?", "?"


def read_run(tree: Path) -> list[Mutant]:
    """Every mutant of the run in ``tree`` (the directory ``make mutation`` runs mutmut in)."""
    mutants: list[Mutant] = []
    for meta_path in sorted((tree / "mutants").rglob("*.py.meta")):
        source = meta_path.with_suffix("")  # .../keys.py
        spans_path = source.with_name(source.name + ".spans")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        spans = json.loads(spans_path.read_text(encoding="utf-8"))["spans"]
        sources = _function_sources(source, spans)
        for key, code in sorted(meta["exit_code_by_key"].items(), key=lambda kv: _order(kv[0])):
            module, _, mangled = key.rpartition(".")
            function = mangled.partition("__mutmut_")[0]
            original = sources.get(f"{function}__mutmut_orig")
            mutated = sources.get(mangled)
            old, new = ("?", "?")
            if original is not None and mutated is not None:
                old, new = _change(original, mutated, (f"{function}__mutmut_orig", mangled))
            mutants.append(
                Mutant(
                    name=key,
                    module=module,
                    status=status_by_exit_code[code],
                    change=new,
                    original=old,
                )
            )
    return mutants


def _order(key: str) -> tuple[str, int]:
    stem, _, number = key.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


def table(mutants: list[Mutant], equivalents: dict[str, tuple[str, str]]) -> tuple[str, list[str]]:
    """The Markdown table of the run and the list of stale equivalence entries."""
    stale: list[str] = []
    known = {m.name: m for m in mutants}
    for name, (line, _) in equivalents.items():
        mutant = known.get(name)
        if mutant is not None and mutant.change != line:
            stale.append(f"{name}: recorded {line!r}, the run has {mutant.change!r}")
    rows = [
        "| Module | Mutants | Killed | Timeouts | Survived | Equivalent | No test | Not run "
        "| Score |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    totals: Counter[str] = Counter()
    for module in sorted({m.module for m in mutants}, key=_module_order):
        counts: Counter[str] = Counter()
        for mutant in (m for m in mutants if m.module == module):
            counts["mutants"] += 1
            recorded = equivalents.get(mutant.name)
            if (
                mutant.status in ("survived", "no tests")
                and recorded
                and recorded[0] == mutant.change
            ):
                counts["equivalent"] += 1
            else:
                counts[mutant.status] += 1
        totals.update(counts)
        rows.append(_row(module, counts))
    rows.append(_row("**all**", totals))
    return "\n".join(rows), stale


_MODULE_ORDER = (
    "ses_mail.keys",
    "ses_mail.verdicts",
    "ses_mail.headers",
    "ses_mail.decoding",
    "ses_mail.forwarding",
    "ses_lambda_constructs.limits",
    "ses_lambda_constructs.event_patterns",
)


def _module_order(module: str) -> tuple[int, str]:
    return (_MODULE_ORDER.index(module) if module in _MODULE_ORDER else len(_MODULE_ORDER), module)


def _row(module: str, counts: Counter[str]) -> str:
    detected = counts["killed"] + counts["timeout"]
    not_run = counts["not checked"]
    candidates = counts["mutants"] - counts["equivalent"] - not_run
    score = f"{100 * detected / candidates:.1f} %" if candidates else "-"
    other = counts["mutants"] - sum(
        counts[k]
        for k in ("killed", "timeout", "survived", "equivalent", "no tests", "not checked")
    )
    survived = counts["survived"] + other  # suspicious, segfault: not detected
    return (
        f"| {module} | {counts['mutants']} | {counts['killed']} | {counts['timeout']} | "
        f"{survived} | {counts['equivalent']} | {counts['no tests']} | {not_run} | {score} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", nargs="?", default="build/mutation", type=Path)
    parser.add_argument("--survivors", action="store_true", help="list the survivors' changes")
    args = parser.parse_args(argv)
    if not (args.tree / "mutants").is_dir():
        print(f"no mutmut run in {args.tree} (run `make mutation` first)", file=sys.stderr)
        return 2
    mutants = read_run(args.tree)
    equivalents = read_equivalents()
    rendered, stale = table(mutants, equivalents)
    print(rendered)
    for entry in stale:
        print(f"stale equivalence entry: {entry}", file=sys.stderr)
    if args.survivors:
        for mutant in mutants:
            recorded = equivalents.get(mutant.name)
            if mutant.status in ("survived", "no tests") and not (
                recorded and recorded[0] == mutant.change
            ):
                print(
                    f"\n{mutant.name} [{mutant.status}]\n  - {mutant.original}\n  + {mutant.change}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())

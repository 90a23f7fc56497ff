"""Compare two dumps of ``dump_outputs.py``: every input must give byte-identical message.json.

Exits 1 and prints each difference (the first differing JSON paths of each input) otherwise.

Usage: python tests/parity/compare_outputs.py A.json B.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def differences(a: Any, b: Any, path: str = "$") -> list[str]:
    """JSON paths where ``a`` and ``b`` differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        found: list[str] = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                found.append(f"{path}.{key}: only in {'second' if key not in a else 'first'}")
            else:
                found += differences(a[key], b[key], f"{path}.{key}")
        return found
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items vs {len(b)}: {a!r} vs {b!r}"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} vs {b!r}"]


def compare(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    outputs_a, outputs_b = first["outputs"], second["outputs"]
    for name in sorted(set(outputs_a) | set(outputs_b)):
        if name not in outputs_a or name not in outputs_b:
            problems.append(f"{name}: only in one dump")
            continue
        a, b = outputs_a[name], outputs_b[name]
        if a["input_sha256"] != b["input_sha256"]:
            problems.append(f"{name}: the inputs differ (not the same checkout?)")
        elif a["message_json"] != b["message_json"]:
            paths = differences(json.loads(a["message_json"]), json.loads(b["message_json"]))
            detail = "; ".join(paths[:5]) or "same JSON, different bytes"
            problems.append(f"{name}: {detail}")
    return problems


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    first, second = (json.loads(Path(p).read_text(encoding="utf-8")) for p in sys.argv[1:])
    problems = compare(first, second)
    label = f"Python {first['python']} vs Python {second['python']}"
    if problems:
        print(f"{label}: {len(problems)} of {len(first['outputs'])} inputs differ")
        for problem in problems:
            print(f"  {problem}")
        raise SystemExit(1)
    print(f"{label}: identical message.json for all {len(first['outputs'])} inputs")


if __name__ == "__main__":
    main()

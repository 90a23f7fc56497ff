"""The parity comparison itself: it must report every difference between two dumps.

The comparison across interpreters runs in the Python 3.14 stage (``make test-py314``); here the
comparison logic and the dump of the current interpreter are checked.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"parity_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


compare_outputs = _load("compare_outputs")


def _dump(python: str, **outputs: dict[str, object]) -> dict[str, object]:
    return {
        "python": python,
        "outputs": {
            name: {"input_sha256": "ab", "message_json": json.dumps(doc)}
            for name, doc in outputs.items()
        },
    }


def test_identical_dumps_have_no_differences() -> None:
    doc = {"headers": {"from": [{"name": "", "address": "a@example.com"}]}}
    assert compare_outputs.compare(_dump("3.11", m=doc), _dump("3.14", m=doc)) == []


def test_fails_when_an_address_list_differs() -> None:
    first = {"headers": {"from": [{"name": "", "address": "a@example.com"}]}}
    second = {"headers": {"from": [*first["headers"]["from"], {"name": "", "address": "<>"}]}}
    (problem,) = compare_outputs.compare(_dump("3.11", m=first), _dump("3.14", m=second))
    assert problem.startswith("m: $.headers.from: 1 items vs 2")


def test_fails_when_an_input_is_missing_or_different() -> None:
    doc = {"size": 1}
    changed = _dump("3.14", m=doc)
    changed["outputs"]["m"]["input_sha256"] = "cd"  # type: ignore[index]
    assert compare_outputs.compare(_dump("3.11", m=doc, n=doc), changed) == [
        "m: the inputs differ (not the same checkout?)",
        "n: only in one dump",
    ]


def test_fails_on_same_json_with_different_bytes() -> None:
    first = _dump("3.11", m={"a": 1})
    second = _dump("3.14", m={"a": 1})
    second["outputs"]["m"]["message_json"] = '{"a": 1}'  # type: ignore[index]
    first["outputs"]["m"]["message_json"] = '{"a":1}'  # type: ignore[index]
    assert compare_outputs.compare(first, second) == ["m: same JSON, different bytes"]


def test_command_line_exits_1_and_names_the_difference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.json").write_text(json.dumps(_dump("3.11", m={"size": 78})))
    (tmp_path / "b.json").write_text(json.dumps(_dump("3.14", m={"size": 98})))
    sys.argv = ["compare_outputs.py", str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    with pytest.raises(SystemExit) as exited:
        compare_outputs.main()
    assert exited.value.code == 1
    assert "m: $.size: 78 vs 98" in capsys.readouterr().out

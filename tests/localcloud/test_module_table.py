"""The module table of docs/local-cloud.md ("Module layout") lists exactly the modules of the
local cloud's package: every file it names exists, and every module in the tree is named.

How the table names files: a row's first column holds paths relative to the package
(`server.py`, `moto_ext/cfn_engine.py`) or a folder (`receiving/`); a folder row's second column
names the folder's files (`smtp.py`) and sub-folders (`static/`) in backticks. Package
`__init__.py` files are the folder itself and need no name.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DOC = ROOT / "docs" / "local-cloud.md"
PACKAGE = ROOT / "localcloud" / "ses_lambda_localcloud"
HEADING = "## Module layout (`localcloud/ses_lambda_localcloud/`)"


def table_rows(markdown: str) -> list[list[str]]:
    lines = markdown.splitlines()
    start = lines.index(HEADING)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        rows.append(cells)
    assert rows, f"no table under {HEADING!r}"
    header, separator, *body = rows
    assert header == ["module", "what it is"] and set("".join(separator)) <= {"-", " "}
    return body


def named_paths(rows: list[list[str]]) -> set[str]:
    """Every path the table names, relative to the package; folders end with `/`."""
    named: set[str] = set()
    for row in rows:
        assert len(row) == 2, f"a row of two cells expected: {row}"
        first, description = row
        for path in re.findall(r"`([^`]+)`", first):
            named.add(path)
            if path.endswith("/"):
                for inner in re.findall(r"`([\w./-]+(?:\.py|/))`", description):
                    named.add(path + inner)
    return named


def modules_in_tree() -> set[str]:
    return {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts and path.name != "__init__.py"
    }


def test_the_table_names_every_module_of_the_package() -> None:
    named = named_paths(table_rows(DOC.read_text(encoding="utf-8")))
    missing = modules_in_tree() - named
    assert not missing, (
        f"modules docs/local-cloud.md's module table does not name: {sorted(missing)}"
    )


def test_every_file_the_table_names_exists() -> None:
    named = named_paths(table_rows(DOC.read_text(encoding="utf-8")))
    absent = sorted(path for path in named if not (PACKAGE / path).exists())
    assert not absent, f"docs/local-cloud.md's module table names what is not in the tree: {absent}"
    for path in named:
        if path.endswith("/"):
            assert (PACKAGE / path).is_dir(), f"{path} is not a folder"


def test_the_table_reader_sees_folder_rows_and_both_directions(tmp_path: Path) -> None:
    rows = [
        ["`cli.py`, `__main__.py`", "commands"],
        ["`receiving/`", "`smtp.py` (aiosmtpd), the `ACTIONS` table, `static/` (files)"],
        ["`moto_ext/cfn_engine.py`", "the engine"],
    ]
    assert named_paths(rows) == {
        "cli.py",
        "__main__.py",
        "receiving/",
        "receiving/smtp.py",
        "receiving/static/",
        "moto_ext/cfn_engine.py",
    }

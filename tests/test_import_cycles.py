"""No import cycle between the modules of the library, the reference handler or the local cloud.

The graph is read from the source, not from what Python happened to import: every `import` and
`from ... import` statement counts wherever it stands (inside a function, under `TYPE_CHECKING`),
because a cycle hidden behind a function-level import is still two modules that cannot be
understood, tested or changed one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PACKAGES = {
    "ses_lambda_constructs": ROOT / "ses_lambda_constructs",
    "ses_mail": ROOT / "lambda_src" / "ses_mail",
    "ses_lambda_localcloud": ROOT / "localcloud" / "ses_lambda_localcloud",
}

# Cycles being taken apart, each the sorted tuple of the modules of one strongly connected
# component. The test fails on any cycle not listed here and on any listed cycle that no longer
# exists, so the list can only shrink; it is empty, and must stay so.
KNOWN_CYCLES: set[tuple[str, ...]] = set()


def module_name(package: str, root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def modules_of(package: str, root: Path) -> dict[str, Path]:
    return {
        module_name(package, root, path): path
        for path in sorted(root.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def imported_names(module: str, path: Path, *, is_package: bool) -> set[str]:
    """Every module name that `module` imports, absolute, including `from pkg import submodule`
    (returned as `pkg.submodule`; the caller keeps only names that are modules)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module.split(".") if is_package else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = here[: len(here) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(package: str, root: Path) -> dict[str, set[str]]:
    modules = modules_of(package, root)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(module, path, is_package=path.name == "__init__.py"):
            # `import a.b.c` also runs a and a.b; only the module itself is an edge here, the
            # packages' own imports are their own edges.
            if name in modules and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components with more than one module (Tarjan's algorithm).

    A package's `__init__` importing its own submodules is not counted as a cycle with them when
    the submodule imports the package only to reach a sibling: edges into a package `__init__`
    from its own submodules are ignored, since Python has already run that `__init__` first.
    """
    edges = {
        source: {
            target
            for target in targets
            if not (source.startswith(target + ".") and target in graph)
        }
        for source, targets in graph.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.add(tuple(sorted(component)))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle_behind_a_function_level_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import thing\n")
    (package / "b.py").write_text("def thing():\n    from . import a\n    return a\n")
    (package / "c.py").write_text("from pkg import a\n")
    assert cycles(import_graph("pkg", package)) == {("pkg.a", "pkg.b")}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycles(package: str) -> None:
    found = cycles(import_graph(package, PACKAGES[package]))
    known = {cycle for cycle in KNOWN_CYCLES if cycle[0].startswith(package + ".")}
    assert found - known == set(), f"import cycles in {package}: {sorted(found - known)}"
    assert known - found == set(), f"listed cycles that no longer exist: {sorted(known - found)}"

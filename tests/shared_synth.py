"""Synthesis done once per test run, shared by every pytest-xdist worker.

Each worker of ``pytest -n 2`` is a process of its own with its own session fixtures, so a
session-scoped stack used to be synthesized (and linted) once per worker. ``shared_output``
builds into a directory of the run instead, under a file lock: the first worker to ask builds,
the others wait for it and read the same files. The run's directory is the parent of the
workers' base temporary directories (pytest-xdist puts each worker's under one directory per
run); without xdist it is the session's own. Nothing outlives the run, so no result can be stale.

A build that fails leaves nothing behind: the next worker to ask builds again and fails the
same way, so each worker reports the failure of the tests that needed it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

#: The file written last into a finished output directory.
DONE = ".done"


def run_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_output(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]
) -> Path:
    """The directory ``build(directory)`` filled, built once per run whichever worker asks."""
    root = run_directory(tmp_path_factory) / "shared-synth"
    root.mkdir(exist_ok=True)
    final = root / name
    with exclusive(root / f"{name}.lock"):
        if not (final / DONE).exists():
            shutil.rmtree(final, ignore_errors=True)
            final.mkdir()
            try:
                build(final)
            except BaseException:
                shutil.rmtree(final, ignore_errors=True)
                raise
            (final / DONE).write_text("")
    return final


def shared_json(
    tmp_path_factory: pytest.TempPathFactory, name: str, compute: Callable[[], Any]
) -> Any:
    """``compute()`` (JSON: synthesized templates), computed once per run."""

    def build(directory: Path) -> None:
        (directory / "value.json").write_text(json.dumps(compute()), encoding="utf-8")

    output = shared_output(tmp_path_factory, name, build)
    return json.loads((output / "value.json").read_text("utf-8"))


def synthesize_script(script: Path, outdir: Path) -> Path:
    """Run a CDK app script as ``python script`` does (as ``__main__``), but in this process, and
    move the cloud assembly its module-level ``app`` synthesized into ``outdir``.

    In this process because a child Python starts its own jsii runtime and loads aws-cdk-lib
    again, seconds of CPU per script; the script's code, its synthesis and the validation
    plugins it adds run the same. An exception in the script fails the caller.
    """
    import runpy

    import aws_cdk as cdk

    namespace = runpy.run_path(str(script), run_name="__main__")
    app = namespace.get("app")
    assert isinstance(app, cdk.App), f"{script.name} defines no module-level `app`"
    assembly = Path(app.synth().directory)  # the assembly the script's own synth() made
    shutil.copytree(assembly, outdir, dirs_exist_ok=True)
    shutil.rmtree(assembly, ignore_errors=True)
    return outdir

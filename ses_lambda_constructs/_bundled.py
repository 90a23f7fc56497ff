"""The reference functions' source folder, and the modules of it the constructs read.

``lambda_src`` sits at the top of the repository and ships in the wheel as
``ses_lambda_constructs/lambda_src`` (setup.py). Two of its ``ses_mail`` modules are plain data
the constructs need at synth time: ``contract`` (values both sides must agree on: detail-types,
prefixes, limits, environment variable names) and ``metric_names``. They are executed from their
file, standalone, so the constructs never import ``ses_mail`` as a package (its name would clash
with a user's copy, and its other modules are of no use here). A leaf module: it imports nothing
of the library, so any module of it can read the contract at import time.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType


@cache
def handler_source() -> Path:
    """The folder of the reference handler, in the repository or inside the installed wheel."""
    spec = importlib.util.find_spec("ses_lambda_constructs.lambda_src")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations)))
        if (path / "handler.py").is_file():
            return path
    repo_copy = Path(__file__).resolve().parent.parent / "lambda_src"
    if (repo_copy / "handler.py").is_file():
        return repo_copy
    raise FileNotFoundError("the reference handler source (lambda_src/handler.py) is missing")


@cache
def core_module(name: str) -> ModuleType:
    """``ses_mail.<name>`` executed from the bundled source file, once per process."""
    path = handler_source() / "ses_mail" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_ses_lambda_constructs_{name}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise FileNotFoundError(f"the handler source is incomplete: {path} is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def contract() -> ModuleType:
    """``ses_mail/contract.py``: the values the constructs and the functions share."""
    return core_module("contract")

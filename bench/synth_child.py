"""One synthesis in a fresh process: ``library`` (the demo app) or ``handwired`` (the baseline).

Usage: synth_child.py library|handwired OUTDIR CONTEXT_JSON [HANDLER_ASSET]

Prints one JSON line: the in-process phase times (``import aws_cdk``, defining the app,
``app.synth()``), the resources of each template, and, for the library, what bundling did
(time in ``LocalPythonBundler.try_bundle`` and ``PythonBundle.build``, pip runs).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parent.parent

_bundling: dict[str, Any] = {
    "try_bundle_calls": 0,
    "try_bundle_s": 0.0,
    "build_s": 0.0,
    "pip_install_runs": 0,
    "pip_install_s": 0.0,
    "pip_probe_runs": 0,
    "pip_probe_s": 0.0,
}


def _instrument_bundling() -> None:
    """Time the library's bundling steps and count the pip processes it starts."""
    from ses_lambda_constructs import bundling

    real_run = subprocess.run

    def run(command: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return real_run(command, *args, **kwargs)
        finally:
            elapsed = time.perf_counter() - started
            words = [str(word) for word in command] if isinstance(command, list | tuple) else []
            if "pip" in words and "install" in words:
                _bundling["pip_install_runs"] += 1
                _bundling["pip_install_s"] += elapsed
            elif "pip" in words:
                _bundling["pip_probe_runs"] += 1
                _bundling["pip_probe_s"] += elapsed

    subprocess.run = run  # type: ignore[assignment]

    def timed(owner: Any, name: str, key: str, count: str | None = None) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                _bundling[key] += time.perf_counter() - started
                if count:
                    _bundling[count] += 1

        setattr(owner, name, wrapper)

    timed(bundling.PythonBundle, "build", "build_s")
    timed(bundling.LocalPythonBundler, "try_bundle", "try_bundle_s", "try_bundle_calls")


def _resources(outdir: Path) -> dict[str, Any]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks: dict[str, Any] = {}
    for name, artifact in manifest["artifacts"].items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        resources = template.get("Resources", {})
        handler_asset = None
        for resource in resources.values():
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::Lambda::Function" and (
                properties.get("Handler") == "handler.lambda_handler"
            ):
                handler_asset = resource.get("Metadata", {}).get("aws:asset:path")
        stacks[name] = {
            "template": str(outdir / artifact["properties"]["templateFile"]),
            "resources": len(resources),
            "types": dict(sorted(Counter(r["Type"] for r in resources.values()).items())),
            "outputs": len(template.get("Outputs", {})),
            "handler_asset": str(outdir / handler_asset) if handler_asset else None,
        }
    return stacks


def main() -> None:
    mode, outdir_arg, context_json = sys.argv[1:4]
    outdir = Path(outdir_arg)
    context = json.loads(context_json)
    if mode == "library":
        sys.path.insert(0, str(ROOT))
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))

    import aws_cdk as cdk

    imported = time.perf_counter()
    app = cdk.App(outdir=str(outdir), context=context)
    if mode == "library":
        _instrument_bundling()
        import app as demo_app

        demo_app.build_app(app)
    elif mode == "handwired":
        import handwired

        handwired.build_app(app, handler_asset=sys.argv[4])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    defined = time.perf_counter()
    app.synth()
    synthesized = time.perf_counter()
    result = {
        "mode": mode,
        "import_s": imported - STARTED,
        "define_s": defined - imported,
        "synth_s": synthesized - defined,
        "in_process_s": synthesized - STARTED,
        "stacks": _resources(outdir),
    }
    if mode == "library":
        result["bundling"] = _bundling
    print(json.dumps(result))


if __name__ == "__main__":
    main()

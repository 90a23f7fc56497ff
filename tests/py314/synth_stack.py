"""Synthesize the demo app (``app.py``, reference handler included) into a cloud assembly.

Run on the host by the Python 3.14 stage (``.ci/py314``): the CDK needs Node and jsii, the
chroot that runs Python 3.14 has neither. ``deliver_one.py`` deploys the result there.

Usage: python tests/py314/synth_stack.py OUTDIR
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
STACK = "SesLambdaDemo"


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    outdir = Path(sys.argv[1]).resolve()
    shutil.rmtree(outdir, ignore_errors=True)
    sys.path.insert(0, str(ROOT))
    # Before aws_cdk: quiet jsii, caches inside the project, dummy credentials (as the tests).
    importlib.import_module("tests.conftest")
    import aws_cdk as cdk

    spec = importlib.util.spec_from_file_location("demo_app", ROOT / "app.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    demo.build_app(cdk.App(outdir=str(outdir))).synth()
    template = outdir / f"{STACK}.template.json"
    if not template.is_file():
        raise SystemExit(f"synthesis wrote no {template}")
    print(f"demo stack synthesized into {outdir}")


if __name__ == "__main__":
    main()

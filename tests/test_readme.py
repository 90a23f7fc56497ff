"""The README's quickstart is a working app."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.shared_synth import synthesize_script

ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_synthesizes(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    script = tmp_path / "quickstart.py"
    script.write_text(code.group(1))
    synthesize_script(script, tmp_path / "out")
    template = json.loads((tmp_path / "out" / "Inbound.template.json").read_text())
    types = [r["Type"] for r in template["Resources"].values()]
    assert types.count("AWS::SES::ReceiptRule") == 1
    assert "Custom::SesReceiptRuleSetActivation" in types
    assert "AWS::SES::EmailIdentity" in types

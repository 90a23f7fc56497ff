"""examples/monitoring_facade.py synthesizes: the receiver's metrics in a MonitoringFacade."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "monitoring_facade.py"


def test_the_facade_shows_the_receivers_own_metrics(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        cwd=tmp_path,
        env={**os.environ, "CDK_OUTDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "MonitoredInbox.template.json").read_text())
    resources = template["Resources"]
    handler = next(
        key
        for key, value in resources.items()
        if value["Type"] == "AWS::Lambda::Function"
        and value["Properties"].get("Handler") == "handler.lambda_handler"
    )
    dashboards = [
        json.dumps(value["Properties"]["DashboardBody"])
        for value in resources.values()
        if value["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    assert dashboards, "the facade defined no dashboard"
    body = "\n".join(dashboards)
    # The receiver's metrics, with the dimensions the handler and the forwarder emit them with.
    for name in ("MessagesReceived", "MessagesTooLarge", "EventsPublished", "ForwardsSent"):
        assert f'\\"SesLambdaConstructs\\",\\"{name}\\"' in body, name
    assert f'\\"FunctionName\\",\\"", {{"Ref": "{handler}"}}' in body
    assert "ApproximateNumberOfMessagesVisible" in body

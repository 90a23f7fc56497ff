"""examples/monitoring_facade.py synthesizes: the receiver's metrics in a MonitoringFacade."""

from __future__ import annotations

import json
from pathlib import Path

from tests.shared_synth import synthesize_script

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "monitoring_facade.py"


def test_the_facade_shows_the_receivers_own_metrics(tmp_path: Path) -> None:
    synthesize_script(EXAMPLE, tmp_path)
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

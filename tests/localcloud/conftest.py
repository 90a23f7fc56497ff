"""One local cloud per test session, in this process, on free ports.

The moto backends are process-wide, so tests that deploy stacks clean up after themselves (or use
``fresh``, which resets every backend) to leave no rule set active for the next test.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ses_lambda_localcloud import assembly
from ses_lambda_localcloud.server import LocalCloud
from ses_lambda_localcloud.target import Target
from tests.infra.lint import assert_cfn_lint_clean
from tests.shared_synth import shared_output

HERE = Path(__file__).resolve().parent
CDK_APP = HERE / "cdk_app"
ROOT = HERE.parent.parent
#: The documented SES Lambda event (a copy of the example in
#: https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action-lambda-event.html).
FIXTURES = ROOT / "tests" / "handler" / "events"


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    state_dir = tmp_path_factory.mktemp("local-cloud")
    local = LocalCloud(
        api_port=0,
        smtp_port=0,
        state_dir=state_dir,
        async_retry_delay=0.0,
    )
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def target(cloud: LocalCloud) -> Target:
    return Target(
        api_port=cloud.api_port,
        smtp_port=cloud.smtp_port,
        region=cloud.region,
        state_dir=cloud.state_dir,
    )


@pytest.fixture(scope="session")
def aws(target: Target) -> Callable[[str], Any]:
    """``aws("s3")``: a boto3 client of the local endpoint."""
    return target.client


@pytest.fixture
def fresh(cloud: LocalCloud) -> LocalCloud:
    """Every AWS resource and message record forgotten before the test."""
    cloud.reset()
    return cloud


def synth(outdir: Path, **context: str) -> Path:
    """Synthesize the test CDK app (``cdk_app/app.py``) into ``outdir``."""
    import aws_cdk as cdk

    mini_app = load_module("localcloud_mini_app", CDK_APP / "app.py")
    mini_app.build(cdk.App(outdir=str(outdir), context=dict(context))).synth()
    for template in outdir.glob("*.template.json"):
        assert_cfn_lint_clean(json.loads(template.read_text()), name=template.name)
    return outdir


def demo_assembly(tmp_path_factory: pytest.TempPathFactory, **context: str) -> Path:
    """The demo app (``app.py``) synthesized with ``context``, once per test run (the cloud
    assembly is only read by a deployment, so every test and worker can share it)."""
    import aws_cdk as cdk

    def build(outdir: Path) -> None:
        demo_app = load_module("demo_app", ROOT / "app.py")
        demo_app.build_app(cdk.App(outdir=str(outdir), context=context)).synth()

    name = "-".join(["localcloud-demo", *(f"{key}={value}" for key, value in context.items())])
    return shared_output(tmp_path_factory, name, build)


@pytest.fixture
def demo_stack(
    fresh: LocalCloud, target: Target, tmp_path_factory: pytest.TempPathFactory
) -> assembly.DeployResult:
    """The demo app (``app.py``, reference handler included) deployed without the CLI."""
    outdir = demo_assembly(tmp_path_factory)
    result = assembly.deploy_stack(target.client, outdir, "SesLambdaDemo", fresh.region)
    assert result.ok, result.failures()
    return result


@pytest.fixture
def hardened_demo_stack(
    fresh: LocalCloud, target: Target, tmp_path_factory: pytest.TempPathFactory
) -> assembly.DeployResult:
    """The demo app's hardened configuration (``-c hardened=true``) deployed without the CLI."""
    outdir = demo_assembly(tmp_path_factory, hardened="true")
    result = assembly.deploy_stack(target.client, outdir, "SesLambdaDemo", fresh.region)
    assert result.ok, result.failures()
    return result


def load_module(name: str, path: Path) -> Any:
    """Import a CDK app file under its own module name (both apps are called app.py)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def mini_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test app synthesized and linted once per test run; read only (copy it to change it)."""
    return shared_output(tmp_path_factory, "localcloud-mini", synth)


@pytest.fixture(scope="session")
def mini_stack(
    cloud: LocalCloud, target: Target, mini_assembly: Path
) -> Iterator[assembly.DeployResult]:
    """The test app deployed (without the CLI), for the tests that only send mail to it."""
    cloud.reset()
    result = assembly.deploy_stack(target.client, mini_assembly, "LocalCloudMini", cloud.region)
    assert result.ok, (result.status, result.failures())
    yield result
    cloud.reset()


@pytest.fixture(scope="module")
def inbox(cloud: LocalCloud) -> Iterator[Any]:
    """The inbox page of the session's local cloud, on a free port."""
    from ses_lambda_localcloud.inbox import InboxServer

    server = InboxServer(cloud, 0).start()
    yield server
    server.stop()


@pytest.fixture
def mini(cloud: LocalCloud, target: Target, mini_assembly: Path) -> None:
    """The test app deployed: once, and again if another test reset the local cloud since."""
    active = target.client("ses").describe_active_receipt_rule_set().get("Metadata", {})
    if active.get("Name") != "local-cloud-mini-rules":
        cloud.reset()
        result = assembly.deploy_stack(target.client, mini_assembly, "LocalCloudMini", cloud.region)
        assert result.ok, (result.status, result.failures())


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def grant(aws: Callable[[str], Any], role_name: str, *actions: str) -> None:
    """Let a test function's execution role do ``actions`` (the local cloud enforces IAM)."""
    aws("iam").put_role_policy(
        RoleName=role_name,
        PolicyName="test-grants",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
            }
        ),
    )

"""The local cloud as a user gets it: both wheels in a fresh virtualenv, a CDK project of the
user's own outside the repository (its app.py, cdk.json and package.json pinning the CDK CLI),
and the whole cycle through the ``ses-localcloud`` console script with no ``--stack``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.packaging_support import ROOT, build_wheel, copy_source, fresh_virtualenv

STACK = "ScratchInbound"
ECHO = "echo@scratch.example.com"
SUPPORT = "support@scratch.example.com"

APP = textwrap.dedent(
    '''
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_s3 as s3

    from ses_lambda_constructs import EmailReceiver, Route

    # The user's own function: keeps every SES event it receives, under its version.
    ECHO = """
    import json, os
    import boto3

    def handler(event, context):
        message_id = event["Records"][0]["ses"]["mail"]["messageId"]
        boto3.client("s3").put_object(
            Bucket=os.environ["SEEN_BUCKET"],
            Key=f"events/v{os.environ['ECHO_VERSION']}/{message_id}.json",
            Body=json.dumps(event),
        )
    """

    app = cdk.App()
    stack = cdk.Stack(app, "ScratchInbound")
    seen = s3.Bucket(stack, "Seen")
    echo = lambda_.Function(
        stack,
        "Echo",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline(ECHO),
        environment={
            "SEEN_BUCKET": seen.bucket_name,
            "ECHO_VERSION": str(app.node.try_get_context("echoVersion") or "1"),
        },
    )
    seen.grant_put(echo)
    EmailReceiver(
        stack,
        "Receiver",
        domain_name="scratch.example.com",
        rule_set_name="scratch-rules",
        activate_rule_set=True,
        routes=[
            Route(id="Echo", recipients=["echo@scratch.example.com"], function=echo),
            Route(id="Support", recipients=["support@scratch.example.com"]),
        ],
    )
    cdk.CfnOutput(stack, "SeenBucket", value=seen.bucket_name)
    app.synth()
    '''
)


def cdk_cli_version() -> str:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    return str(lock["packages"]["node_modules/aws-cdk"]["version"])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The user's CDK project, with its CDK CLI installed by npm as the user would."""
    project = tmp_path / "scratch-project"
    project.mkdir()
    (project / "app.py").write_text(APP, encoding="utf-8")
    (project / "cdk.json").write_text(json.dumps({"app": "python app.py"}), encoding="utf-8")
    (project / "package.json").write_text(
        json.dumps(
            {
                "name": "scratch-project",
                "private": True,
                "devDependencies": {"aws-cdk": cdk_cli_version()},
            }
        ),
        encoding="utf-8",
    )
    npm = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert npm.returncode == 0, npm.stdout + npm.stderr
    assert (project / "node_modules" / ".bin" / "cdk").exists()
    return project


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """Both wheels installed into a fresh virtualenv (console script included)."""
    out = tmp_path / "wheels"
    source = copy_source(out / "src")
    library = build_wheel(source, out, "ses_lambda_constructs-*.whl")
    localcloud = build_wheel(source / "localcloud", out, "ses_lambda_localcloud-*.whl")
    python, _ = fresh_virtualenv(tmp_path / "venv")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            str(library),
            str(localcloud),
        ],
        check=True,
        capture_output=True,
    )
    return python.parent.parent


@pytest.fixture
def localcloud(venv: Path, project: Path) -> Iterator[tuple[Path, dict[str, str], int]]:
    """``ses-localcloud start`` in the project, on free ports; stopped (or killed) after."""
    from ses_lambda_localcloud.server import free_port
    from ses_lambda_localcloud.target import Target

    api_port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LOCALCLOUD_STATE_DIR")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", VIRTUAL_ENV=str(venv))
    script = venv / "bin" / "ses-localcloud"
    log = (project / "local-cloud.log").open("wb")
    process = subprocess.Popen(
        [str(script), "start", "--api-port", str(api_port), "--smtp-port", str(smtp_port)],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        Target(api_port=api_port).wait_until_up(timeout=120, process=process)
        yield script, env, api_port
    finally:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


TIMINGS: dict[str, float] = {}


def run(script: Path, env: dict[str, str], cwd: Path, *arguments: str) -> str:
    started = time.monotonic()
    result = subprocess.run(
        [str(script), *arguments],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    TIMINGS[arguments[0]] = round(time.monotonic() - started, 1)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"ses-localcloud {' '.join(arguments)}:\n{output[-6000:]}"
    return output


def send_to_both(script: Path, env: dict[str, str], project: Path) -> tuple[str, str]:
    """Mail to the user's route and the reference-handler route; the report and the message id."""
    sent = run(script, env, project, "send", "--to", ECHO, "--to", SUPPORT, "--quiet")
    message_id = re.search(r"SMTP reply: 250 Ok (\S+)", sent)
    assert message_id, sent
    return sent, message_id.group(1)


@pytest.mark.slow
def test_a_users_own_cdk_project_runs_start_deploy_update_send_show_destroy_stop(
    localcloud: tuple[Path, dict[str, str], int], project: Path, venv: Path
) -> None:
    # The one end-to-end run of the real CDK CLI against the local cloud: bootstrap, deploy,
    # an update through a change set, destroy.
    import boto3

    script, env, api_port = localcloud
    aws = boto3.Session(region_name="us-east-1")

    def client(service: str) -> Any:
        return aws.client(service, endpoint_url=f"http://localhost:{api_port}")

    assert '"status": "running"' in run(script, env, project, "status")
    deployed = run(script, env, project, "deploy")
    # All the app's stacks, with the project's own CLI; and the stack's outputs printed.
    assert "cdk deploy --all" in deployed
    assert f"(CLI: {project / 'node_modules' / '.bin' / 'cdk'})" in deployed
    assert f"{STACK} outputs:" in deployed
    seen_bucket = re.search(r"SeenBucket = (\S+)", deployed)
    assert seen_bucket, deployed
    bucket = seen_bucket.group(1)

    sent, mid = send_to_both(script, env, project)
    # The user's function got the SES event; the reference handler wrote message.json.
    assert f"s3://{bucket}/events/v1/{mid}.json" in sent
    assert '"eventSource": "aws:ses"' in sent
    assert re.search(rf"s3://\S+/parsed/{mid}/[0-9a-f]{{16}}/message\.json", sent), sent
    shown = run(script, env, project, "show", mid, "--no-logs")
    assert f"s3://{bucket}/events/v1/{mid}.json" in shown
    assert re.search(rf"s3://\S+/parsed/{mid}/[0-9a-f]{{16}}/message\.json", shown), shown
    assert f"message {mid}  [done]" in shown

    # An update: the function's configuration changes through a change set, and the next
    # message runs the new version.
    updated = run(script, env, project, "deploy", "-c", "echoVersion=2")
    assert re.search(r"UPDATE_COMPLETE.*AWS::Lambda::Function", updated), updated[-4000:]
    sent, mid = send_to_both(script, env, project)
    assert f"s3://{bucket}/events/v2/{mid}.json" in sent

    destroyed = run(script, env, project, "destroy")
    assert "cdk destroy --all" in destroyed
    summaries = client("cloudformation").list_stacks()["StackSummaries"]
    assert {s["StackName"]: s["StackStatus"] for s in summaries}[STACK] == "DELETE_COMPLETE"
    # The delete deactivated its own rule set, then deleted it.
    assert client("ses").describe_active_receipt_rule_set().get("Metadata") is None
    assert client("ses").list_receipt_rule_sets()["RuleSets"] == []
    # The receiver's bucket has RemovalPolicy.RETAIN: it stays, as on AWS.
    assert any(
        b["Name"].startswith("scratchinbound-receiverstore")
        for b in client("s3").list_buckets()["Buckets"]
    ), client("s3").list_buckets()["Buckets"]
    stopped = run(script, env, project, "stop")
    assert "local cloud stopped" in stopped
    print(f"\nses-localcloud command timings (s): {TIMINGS}")

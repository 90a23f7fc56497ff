"""The CDK CLI run against the local cloud: which CLI, with what environment, and the
bootstrap, deploy and destroy commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from . import runtime, tooling
from .target import CommandError, Target, say, step

DEFAULT_STACK = "SesLambdaDemo"


def project_root(start: Path | None = None) -> Path:
    """The nearest directory (from the working directory up) that holds cdk.json."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "cdk.json").exists():
            return candidate
    raise CommandError("no cdk.json here or above: run this from the project (or pass --app)")


def cdk_command(root: Path) -> list[str]:
    """The pinned CLI: node_modules/.bin/cdk of the app's directory or a parent, or of the
    checkout this package lives in."""
    package_checkout = Path(__file__).resolve().parents[2]
    for candidate in (root, *root.parents, package_checkout):
        local = candidate / "node_modules" / ".bin" / "cdk"
        if local.exists():
            return [str(local)]
    if shutil.which("npx"):
        return ["npx", "--no-install", "cdk"]
    raise CommandError("the pinned CDK CLI is not installed: run `npm ci` (or `make setup`)")


def cdk_environment(target: Target) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")
    }
    for key, value in tooling.quiet_tooling().items():
        env.setdefault(key, value)
    env.update(tooling.isolated_aws_environment(target.region))
    env.update(
        {
            "AWS_ENDPOINT_URL": target.endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
            # The CLI caches the account per access key: one CDK_HOME per local cloud.
            "CDK_HOME": str(target.state_dir / "cdk-home"),
        }
    )
    return env


def run_cdk(
    target: Target,
    arguments: Sequence[str],
    *,
    root: Path,
    label: str,
    echo: Callable[[str], None] = say,
    cwd: Path | None = None,
) -> float:
    """Run one CDK CLI command with its output streaming through; returns the seconds taken."""
    command = [*cdk_command(root), *arguments]
    step(f"{label}: {' '.join(['cdk', *arguments])}")
    workdir = cwd or root
    env = cdk_environment(target)
    env["PWD"] = str(workdir)
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    assert process.stdout is not None
    for line in process.stdout:
        echo(f"    {line.rstrip()}")
    status = process.wait()
    elapsed = time.monotonic() - started
    if status != 0:
        raise CommandError(f"{label} failed (cdk exited with {status} after {elapsed:.1f} s)")
    say(f"    {label} done in {elapsed:.1f} s")
    return elapsed


def context_arguments(context: Sequence[str], app: str | None = None) -> list[str]:
    """``--app`` and ``--context`` arguments. (The cloud assembly goes to the state directory,
    ``--output``, so a deploy never races ``cdk synth`` over the project's cdk.out.)"""
    arguments: list[str] = ["--app", app] if app else []
    for item in context:
        if "=" not in item:
            raise CommandError(f"--context takes key=value, got {item!r}")
        arguments += ["--context", item]
    return arguments


def bootstrap(
    target: Target, *, root: Path | None = None, echo: Callable[[str], None] = say
) -> float:
    """``cdk bootstrap`` of the local account and region.

    Run from the state directory: with no cdk.json there, the CLI bootstraps the named
    environment without synthesizing the app first.
    """
    root = root or project_root()
    target.state_dir.mkdir(parents=True, exist_ok=True)
    return run_cdk(
        target,
        ["bootstrap", f"aws://{runtime.ACCOUNT_ID}/{target.region}", "--no-notices"],
        root=root,
        label="bootstrap",
        echo=echo,
        cwd=target.state_dir,
    )


def deploy(
    target: Target,
    *,
    stack: str = DEFAULT_STACK,
    context: Sequence[str] = (),
    bootstrap_first: bool = True,
    root: Path | None = None,
    echo: Callable[[str], None] = say,
    app: str | None = None,
) -> dict[str, float]:
    """``cdk bootstrap`` (unless told not to) and ``cdk deploy`` against the local endpoint."""
    root = root or project_root()
    if target.health() is None:
        raise CommandError(
            f"no local cloud answers at {target.endpoint_url}; start it first "
            "(`ses-localcloud start`)"
        )
    timings: dict[str, float] = {}
    if bootstrap_first:
        timings["bootstrap"] = bootstrap(target, root=root, echo=echo)
    outputs = target.state_dir / "outputs.json"
    timings["deploy"] = run_cdk(
        target,
        [
            "deploy",
            stack,
            "--require-approval",
            "never",
            "--no-notices",
            "--outputs-file",
            str(outputs),
            "--output",
            str(target.state_dir / "cdk.out"),
            *context_arguments(context, app),
        ],
        root=root,
        label="deploy",
        echo=echo,
    )
    return timings


def destroy(
    target: Target,
    *,
    stack: str = DEFAULT_STACK,
    context: Sequence[str] = (),
    root: Path | None = None,
    echo: Callable[[str], None] = say,
    app: str | None = None,
) -> float:
    root = root or project_root()
    return run_cdk(
        target,
        [
            "destroy",
            stack,
            "--force",
            "--no-notices",
            "--output",
            str(target.state_dir / "cdk.out"),
            *context_arguments(context, app),
        ],
        root=root,
        label="destroy",
        echo=echo,
    )


def stack_outputs(target: Target, stack: str = DEFAULT_STACK) -> dict[str, str]:
    cloudformation = target.client("cloudformation")
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as error:
        raise CommandError(f"stack {stack} is not deployed in the local cloud ({error})") from None
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}

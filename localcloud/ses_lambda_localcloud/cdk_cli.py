"""The CDK CLI run against the local cloud: which CLI, with what environment, and the
bootstrap, deploy and destroy commands, for any CDK app (the directory with ``cdk.json``)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from . import runtime, tooling
from .target import CommandError, Target, say, step

#: Where ``deploy`` asks the CLI to write every deployed stack's outputs (``--outputs-file``).
OUTPUTS_FILE = "outputs.json"


def project_root(start: Path | None = None) -> Path:
    """The nearest directory (from the working directory up) that holds cdk.json."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "cdk.json").exists():
            return candidate
    raise CommandError(
        f"no cdk.json in {here} or above: run this from your CDK project's directory"
    )


def find_cdk(root: Path, explicit: str | None = None) -> list[str]:
    """The CDK CLI as the project's users run it, in this order: ``explicit`` (``--cdk``: a
    path or a command on PATH), the project's ``node_modules/.bin/cdk`` (in ``root`` or a
    parent, as npm installs it), ``npx --no-install cdk`` if npx resolves one without
    downloading anything, then ``cdk`` on PATH."""
    if explicit:
        path = Path(explicit).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return [str(path.resolve())]
        found = shutil.which(explicit)
        if found:
            return [found]
        raise CommandError(f"--cdk {explicit}: no such executable file or command on PATH")
    looked: list[str] = []
    for candidate in (root, *root.parents):
        local = candidate / "node_modules" / ".bin" / "cdk"
        if local.exists():
            return [str(local)]
    looked.append(f"node_modules/.bin/cdk in {root} and its parents")
    npx = shutil.which("npx")
    if npx is not None and _npx_resolves_cdk(npx, root):
        return [npx, "--no-install", "cdk"]
    looked.append("`npx --no-install cdk`" if npx else "npx (not on PATH)")
    on_path = shutil.which("cdk")
    if on_path is not None:
        return [on_path]
    looked.append("cdk on PATH")
    raise CommandError(
        "no CDK CLI found; looked for " + ", ".join(looked) + ". Install it in the project "
        "(`npm install --save-dev aws-cdk`) or globally (`npm install -g aws-cdk`), or pass "
        "--cdk PATH"
    )


@functools.cache
def _npx_resolves_cdk(npx: str, root: Path) -> bool:
    """Does ``npx --no-install cdk`` find a CLI (npm's cache or a global install)?"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(tooling.quiet_tooling())
    try:
        probe = subprocess.run(
            [npx, "--no-install", "cdk", "--version"],
            cwd=root,
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


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
    cdk: str | None = None,
) -> float:
    """Run one CDK CLI command with its output streaming through; returns the seconds taken."""
    cli = find_cdk(root, cdk)
    command = [*cli, *arguments]
    step(f"{label}: {' '.join(['cdk', *arguments])}  (CLI: {' '.join(cli)})")
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


def stack_arguments(stacks: Sequence[str]) -> list[str]:
    """The named stacks (CLI patterns allowed), or ``--all``: every stack of the app."""
    return list(stacks) if stacks else ["--all"]


def bootstrap(
    target: Target,
    *,
    root: Path | None = None,
    echo: Callable[[str], None] = say,
    cdk: str | None = None,
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
        cdk=cdk,
    )


def deploy(
    target: Target,
    *,
    stacks: Sequence[str] = (),
    context: Sequence[str] = (),
    bootstrap_first: bool = True,
    root: Path | None = None,
    echo: Callable[[str], None] = say,
    app: str | None = None,
    cdk: str | None = None,
) -> dict[str, float]:
    """``cdk bootstrap`` (unless told not to) and ``cdk deploy`` of the named stacks, or of
    all the app's stacks, against the local endpoint. The outputs land in
    :func:`deployed_outputs`."""
    root = root or project_root()
    if target.health() is None:
        raise CommandError(
            f"no local cloud answers at {target.endpoint_url}; start it first "
            "(`ses-localcloud start`)"
        )
    timings: dict[str, float] = {}
    if bootstrap_first:
        timings["bootstrap"] = bootstrap(target, root=root, echo=echo, cdk=cdk)
    outputs = target.state_dir / OUTPUTS_FILE
    outputs.unlink(missing_ok=True)
    timings["deploy"] = run_cdk(
        target,
        [
            "deploy",
            *stack_arguments(stacks),
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
        cdk=cdk,
    )
    return timings


def destroy(
    target: Target,
    *,
    stacks: Sequence[str] = (),
    context: Sequence[str] = (),
    root: Path | None = None,
    echo: Callable[[str], None] = say,
    app: str | None = None,
    cdk: str | None = None,
) -> float:
    """``cdk destroy`` of the named stacks, or of all the app's stacks.

    With neither ``app`` nor ``context``, the CLI reads the cloud assembly of the last
    ``deploy`` (``--app <state dir>/cdk.out``): it destroys what was deployed, without
    synthesizing the app again. Otherwise it synthesizes the app as ``deploy`` does.
    """
    root = root or project_root()
    assembly = target.state_dir / "cdk.out"
    if app is None and not context and (assembly / "manifest.json").exists():
        source = ["--app", str(assembly)]
    else:
        source = ["--output", str(assembly), *context_arguments(context, app)]
    return run_cdk(
        target,
        ["destroy", *stack_arguments(stacks), "--force", "--no-notices", *source],
        root=root,
        label="destroy",
        echo=echo,
        cdk=cdk,
    )


def deployed_outputs(target: Target) -> dict[str, dict[str, str]]:
    """Each stack of the last ``deploy`` with its outputs (the CLI's ``--outputs-file``)."""
    path = target.state_dir / OUTPUTS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(stack): {str(k): str(v) for k, v in (values or {}).items()}
        for stack, values in data.items()
        if isinstance(values, dict)
    }


def stack_outputs(target: Target, stack: str) -> dict[str, str]:
    """One deployed stack's outputs, as CloudFormation describes them."""
    cloudformation = target.client("cloudformation")
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as error:
        raise CommandError(f"stack {stack} is not deployed in the local cloud ({error})") from None
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}

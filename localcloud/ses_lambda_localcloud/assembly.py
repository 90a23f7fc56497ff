"""Deploy a synthesized cloud assembly (``cdk.out``) without the CDK CLI.

What ``cdk bootstrap`` + ``cdk deploy`` do that a stack needs, done with boto3 against the local
endpoint: the bootstrap bucket and version parameter, the file assets (zipped directories or
files) at their destinations, then a change set (CREATE or UPDATE) executed and waited for.
Used by the fast end-to-end tests; the real CLI path is ``cdk_cli.deploy``.
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import runtime

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION = "30"


@dataclass
class DeployResult:
    stack_id: str
    status: str
    reason: str | None
    outputs: dict[str, str]
    events: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return self.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")

    def failures(self) -> list[str]:
        return [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
            for e in self.events
            if e["ResourceStatus"].endswith("_FAILED")
        ]


def _substitute(text: str, account: str, region: str) -> str:
    return (
        text.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def zip_directory(path: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = Path(root) / name
                archive.write(full, full.relative_to(path).as_posix())
    return buffer.getvalue()


def ensure_bootstrap(session: Any, region: str) -> str:
    """The parts of the bootstrap stack a deployment uses: the asset bucket and the version."""
    bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{runtime.ACCOUNT_ID}-{region}"
    s3 = session("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    session("ssm").put_parameter(
        Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version",
        Value=BOOTSTRAP_VERSION,
        Type="String",
        Overwrite=True,
    )
    return bucket


def publish_assets(session: Any, cloud_dir: Path, stack: str, region: str) -> int:
    manifest = json.loads((cloud_dir / f"{stack}.assets.json").read_text(encoding="utf-8"))
    s3 = session("s3")
    count = 0
    for asset in manifest.get("files", {}).values():
        source = cloud_dir / asset["source"]["path"]
        packaging = asset["source"].get("packaging", "file")
        body = zip_directory(source) if packaging == "zip" else source.read_bytes()
        for destination in asset["destinations"].values():
            s3.put_object(
                Bucket=_substitute(destination["bucketName"], runtime.ACCOUNT_ID, region),
                Key=_substitute(destination["objectKey"], runtime.ACCOUNT_ID, region),
                Body=body,
            )
            count += 1
    return count


def deploy_stack(
    session: Any, cloud_dir: Path, stack: str, region: str, *, timeout: float = 120.0
) -> DeployResult:
    """Publish the stack's assets and create or update it through a change set."""
    ensure_bootstrap(session, region)
    publish_assets(session, cloud_dir, stack, region)
    template = (cloud_dir / f"{stack}.template.json").read_text(encoding="utf-8")
    cloudformation = session("cloudformation")
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        exists = described["StackStatus"] != "REVIEW_IN_PROGRESS"
    except cloudformation.exceptions.ClientError:
        exists = False
    name = f"local-deploy-{int(time.time() * 1000)}"
    created = cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType="UPDATE" if exists else "CREATE",
        TemplateBody=template,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    change_set = cloudformation.describe_change_set(ChangeSetName=created["Id"], StackName=stack)
    if change_set["Status"] == "FAILED":
        reason = change_set.get("StatusReason", "")
        cloudformation.delete_change_set(ChangeSetName=created["Id"], StackName=stack)
        if "didn't contain changes" not in reason:
            raise RuntimeError(f"change set failed: {reason}")
    else:
        cloudformation.execute_change_set(ChangeSetName=created["Id"], StackName=stack)
    return wait_for_stack(session, created["StackId"], timeout=timeout)


def wait_for_stack(session: Any, stack: str, *, timeout: float = 120.0) -> DeployResult:
    cloudformation = session("cloudformation")
    deadline = time.monotonic() + timeout
    while True:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        status = described["StackStatus"]
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    events = cloudformation.describe_stack_events(StackName=described["StackId"])["StackEvents"]
    return DeployResult(
        stack_id=described["StackId"],
        status=status,
        reason=described.get("StackStatusReason"),
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []},
        events=list(reversed(events)),
    )


def delete_stack(session: Any, stack: str, *, timeout: float = 120.0) -> DeployResult:
    cloudformation = session("cloudformation")
    stack_id = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    cloudformation.delete_stack(StackName=stack)
    return wait_for_stack(session, stack_id, timeout=timeout)

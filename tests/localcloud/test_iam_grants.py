"""Every grant the library makes is needed: the hardened demo delivers under enforcement with no
denial at all, and with each grant removed the request it covers is refused the way AWS refuses
it (the denial names the function's role session, the action and the reason)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ses_lambda_localcloud import assembly, samples
from ses_lambda_localcloud.iam import gate
from ses_lambda_localcloud.target import Target

from .conftest import wait_until
from .test_end_to_end import deliver


class Roles:
    """Remove one action from a role's inline policies, and put them back."""

    def __init__(self, aws: Callable[[str], Any]) -> None:
        self.iam = aws("iam")
        self.saved: dict[tuple[str, str], Any] = {}

    def remove(self, role: str, action: str, resource_part: str = "") -> None:
        removed = 0
        for name in self.iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = self.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            # The policy as it was before the first removal (removals may be combined).
            self.saved.setdefault((role, name), json.loads(json.dumps(document)))
            statements = []
            for statement in document["Statement"]:
                actions = statement["Action"]
                actions = [actions] if isinstance(actions, str) else actions
                if action in actions and resource_part in json.dumps(statement["Resource"]):
                    removed += 1
                    actions = [a for a in actions if a != action]
                    if not actions:
                        continue
                    statement = {**statement, "Action": actions}
                statements.append(statement)
            self.iam.put_role_policy(
                RoleName=role,
                PolicyName=name,
                PolicyDocument=json.dumps({**document, "Statement": statements}),
            )
        assert removed, f"{role} has no grant of {action} on *{resource_part}*"

    def restore(self) -> None:
        for (role, name), document in self.saved.items():
            self.iam.put_role_policy(
                RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document)
            )
        self.saved.clear()


@pytest.fixture
def roles(aws: Callable[[str], Any]) -> Iterator[Roles]:
    saved = Roles(aws)
    yield saved
    saved.restore()


def role_of(aws: Callable[[str], Any], function: str) -> str:
    arn = aws("lambda").get_function_configuration(FunctionName=function)["Role"]
    return str(arn).rsplit("/", 1)[-1]


def ses_role(aws: Callable[[str], Any]) -> str:
    for role in aws("iam").list_roles()["Roles"]:
        if "ses.amazonaws.com" in json.dumps(role["AssumeRolePolicyDocument"]):
            return str(role["RoleName"])
    raise AssertionError("no role for SES")


def denials(target: Target, function: str) -> list[dict[str, Any]]:
    journal = target.local("iam")
    return [d for d in journal["denials"] if d["function"] == function]


def test_every_library_grant_is_needed_under_enforcement(
    target: Target,
    aws: Callable[[str], Any],
    hardened_demo_stack: assembly.DeployResult,
    roles: Roles,
) -> None:
    assert gate.mode() == "enforce"
    outputs = hardened_demo_stack.outputs
    handler, tickets = outputs["HandlerFunction"], outputs["TicketFunction"]
    bucket = outputs["RawMessageBucket"]

    # With every grant: delivered, parsed, announced, and the consumer's ticket written.
    _, record = deliver(target, samples.attachment_sample("support@mail.example.com"), timeout=60)
    assert record["status"] == "done", record
    s3 = target.client("s3")
    ticket = f"tickets/{record['message_id']}.json"
    try:
        wait_until(lambda: s3.list_objects_v2(Bucket=bucket, Prefix=ticket).get("KeyCount"), 60)
    except AssertionError:
        events = target.local(f"events?message={record['message_id']}")
        raise AssertionError(
            json.dumps([target.local("iam"), events], default=str)[:6000]
        ) from None
    assert denials(target, handler) == [] and denials(target, tickets) == []

    cases = [
        (handler, "s3:GetObject", "raw/", "s3:GetObject"),
        (handler, "kms:Decrypt", "", "kms:Decrypt"),
        (handler, "s3:PutObject", "parsed/", "s3:PutObject"),
        (handler, "kms:GenerateDataKey", "", "kms:GenerateDataKey"),
        (handler, "events:PutEvents", "", "events:PutEvents"),
        (tickets, "s3:PutObject", "tickets/", "s3:PutObject"),
        (tickets, "kms:GenerateDataKey", "", "kms:GenerateDataKey"),
    ]
    for function, action, resource_part, refused in cases:
        roles.remove(role_of(aws, function), action, resource_part)
        before = len(denials(target, function))
        deliver(target, samples.attachment_sample("support@mail.example.com"), timeout=60)
        found = wait_until(lambda: denials(target, function)[before:], 60)  # noqa: B023
        assert found[0]["action"] == refused, (action, found[0])
        assert found[0]["principal"].startswith("arn:aws:sts::123456789012:assumed-role/")
        assert found[0]["principal"].endswith(f"/{function}")
        assert found[0]["message"].startswith(f"User: {found[0]['principal']} is not authorized")
        assert "no identity-based policy allows" in found[0]["reason"], found[0]
        roles.restore()

    # SES's own role: the S3 action fails at delivery.
    for action in ("s3:PutObject", "kms:GenerateDataKey"):
        roles.remove(ses_role(aws), action)
        _, record = deliver(
            target, samples.attachment_sample("support@mail.example.com"), timeout=60
        )
        (s3_action,) = [
            action
            for rule in record["rules"]
            for action in rule["actions"]
            if action["type"] == "S3"
        ]
        assert s3_action["status"] == "failed", (action, record)
        assert "role does not allow it" in s3_action["detail"]["error"]
        roles.restore()

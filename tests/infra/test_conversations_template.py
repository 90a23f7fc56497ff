"""Reply-address keys and the reply permission in the template."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from ses_lambda_constructs import EmailReceiver, ReplyAddressKeys, Route, ValidationError
from tests.infra.conftest import ACCOUNT_ENV, only
from tests.infra.test_events_template import handler_function, policy_statements


@pytest.fixture(scope="module")
def replies() -> tuple[cdk.Stack, Template, str]:
    stack = cdk.Stack(cdk.App(), "Replies", env=ACCOUNT_ENV)
    receiver = EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="replies",
        routes=[Route(id="Support", recipients=["support@mail.example.com", "example.org"])],
    )
    receiver.reply_addresses()
    sender = iam.Role(stack, "Sender", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    receiver.grant_send_replies(sender)
    role_id = stack.get_logical_id(sender.node.default_child)  # type: ignore[arg-type]
    return stack, Template.from_stack(stack), role_id


def _statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    return policy_statements(template, {"Ref": role_id})


def test_the_handler_verifies_with_a_generated_retained_secret(
    replies: tuple[cdk.Stack, Template, str],
) -> None:
    _, template, _ = replies
    secret_id, secret = only(template, "AWS::SecretsManager::Secret")
    assert secret["DeletionPolicy"] == "Retain"
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "current"
    assert generated["PasswordLength"] == 44
    _, handler = handler_function(template)
    variables = handler["Properties"]["Environment"]["Variables"]
    assert variables["REPLY_ADDRESS_SECRET_ARN"] == {"Ref": secret_id}
    statements = _statements(template, handler["Properties"]["Role"]["Fn::GetAtt"][0])
    reads = [s for s in statements if "secretsmanager:GetSecretValue" in str(s["Action"])]
    assert [s["Resource"] for s in reads] == [{"Ref": secret_id}]


def test_replies_may_be_sent_from_the_receiving_addresses_only(
    replies: tuple[cdk.Stack, Template, str],
) -> None:
    stack, template, role_id = replies
    (statement,) = [s for s in _statements(template, role_id) if s["Action"] == "ses:SendEmail"]
    assert statement["Condition"] == {
        "StringLike": {
            "ses:FromAddress": [
                "support@mail.example.com",
                "support+*@mail.example.com",
                "*@example.org",
            ]
        }
    }
    resources = [stack.resolve(item) for item in statement["Resource"]]
    assert [str(item).split("identity/")[-1].strip("']}") for item in resources] == [
        "mail.example.com",
        "example.org",
    ]


def test_fails_when_a_secret_and_a_key_are_both_given() -> None:
    stack = cdk.Stack(cdk.App(), "Both", env=ACCOUNT_ENV)
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_secretsmanager as secretsmanager

    secret = secretsmanager.Secret(stack, "Own")
    with pytest.raises(ValidationError, match="give secret or encryption_key, not both"):
        ReplyAddressKeys(stack, "Keys", secret=secret, encryption_key=kms.Key(stack, "Key"))

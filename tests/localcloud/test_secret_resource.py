"""``AWS::SecretsManager::Secret`` as CloudFormation documents it: the value given or generated
by ``GenerateSecretString``, ``Ref``/``Id`` the ARN, updates in place or by replacement,
delete, and the ``Retain`` policies (hand-written templates, boto3 only)."""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from ses_lambda_localcloud.moto_ext.cfn.base import ResourceFailed
from ses_lambda_localcloud.moto_ext.cfn.secretsmanager import generate_value
from ses_lambda_localcloud.server import LocalCloud

from .test_cloudformation import change_set_deploy, failures


def secret_template(secret: dict[str, Any], **attributes: Any) -> dict[str, Any]:
    return {
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": []}}},
            "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": secret, **attributes},
        },
        "Outputs": {
            "Ref": {"Value": {"Ref": "Secret"}},
            "Id": {"Value": {"Fn::GetAtt": ["Secret", "Id"]}},
        },
    }


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}


def test_a_generated_secret_in_a_template_ref_is_the_arn(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    generate = {
        "SecretStringTemplate": '{"purpose": "reply keys"}',
        "GenerateStringKey": "current",
        "PasswordLength": 44,
        "ExcludePunctuation": True,
        "IncludeSpace": False,
    }
    template = secret_template(
        {"GenerateSecretString": generate, "KmsKeyId": {"Ref": "Key"}, "Description": "keys"}
    )
    stack = change_set_deploy(aws, "secret", template)
    assert stack["StackStatus"] == "CREATE_COMPLETE", failures(aws, "secret")
    arn = outputs(stack)["Ref"]
    assert outputs(stack)["Id"] == arn
    assert arn.startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:secret-Secret-")
    manager = aws("secretsmanager")
    value = json.loads(manager.get_secret_value(SecretId=arn)["SecretString"])
    assert value["purpose"] == "reply keys"
    assert len(value["current"]) == 44
    assert set(value["current"]) <= set(string.ascii_letters + string.digits)
    described = manager.describe_secret(SecretId=arn)
    key_id = aws("kms").list_keys()["Keys"][0]["KeyId"]
    assert described["KmsKeyId"] == key_id
    assert described["Description"] == "keys"

    # Metadata changes update in place; the value stays.
    template["Resources"]["Secret"]["Properties"]["Description"] = "keys, described again"
    stack = change_set_deploy(aws, "secret", template)
    assert stack["StackStatus"] == "UPDATE_COMPLETE", failures(aws, "secret")
    assert outputs(stack)["Ref"] == arn
    assert manager.describe_secret(SecretId=arn)["Description"] == "keys, described again"
    assert json.loads(manager.get_secret_value(SecretId=arn)["SecretString"]) == value

    # A changed GenerateSecretString writes a new version of the same secret.
    generate["PasswordLength"] = 20
    stack = change_set_deploy(aws, "secret", template)
    assert stack["StackStatus"] == "UPDATE_COMPLETE", failures(aws, "secret")
    assert outputs(stack)["Ref"] == arn
    assert len(json.loads(manager.get_secret_value(SecretId=arn)["SecretString"])["current"]) == 20

    aws("cloudformation").delete_stack(StackName="secret")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        manager.get_secret_value(SecretId=arn)


def test_a_given_value_a_new_name_replaces_and_retain_keeps(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    manager = aws("secretsmanager")
    template = secret_template(
        {"Name": "demo/keys", "SecretString": '{"current": "a2V5"}'},
        UpdateReplacePolicy="Retain",
        DeletionPolicy="Delete",
    )
    stack = change_set_deploy(aws, "named", template)
    first = outputs(stack)["Ref"]
    assert manager.get_secret_value(SecretId="demo/keys")["SecretString"] == '{"current": "a2V5"}'

    template["Resources"]["Secret"]["Properties"]["SecretString"] = '{"current": "b2V5"}'
    stack = change_set_deploy(aws, "named", template)
    assert outputs(stack)["Ref"] == first
    assert manager.get_secret_value(SecretId=first)["SecretString"] == '{"current": "b2V5"}'

    # Name: replacement. UpdateReplacePolicy Retain keeps the old secret.
    template["Resources"]["Secret"]["Properties"]["Name"] = "demo/keys-2"
    stack = change_set_deploy(aws, "named", template)
    assert stack["StackStatus"] == "UPDATE_COMPLETE", failures(aws, "named")
    second = outputs(stack)["Ref"]
    assert second != first and ":secret:demo/keys-2-" in second
    assert manager.describe_secret(SecretId=first)["Name"] == "demo/keys"

    # DeletionPolicy Delete: the stack's delete removes the current secret.
    aws("cloudformation").delete_stack(StackName="named")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        manager.describe_secret(SecretId=second)
    manager.describe_secret(SecretId=first)


def test_a_replaced_secret_goes_unless_retained_whatever_its_deletion_policy(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    manager = aws("secretsmanager")
    template = secret_template(
        {"Name": "kept", "SecretString": "x"}, DeletionPolicy="Retain", UpdateReplacePolicy="Delete"
    )
    first = outputs(change_set_deploy(aws, "policies", template))["Ref"]
    template["Resources"]["Secret"]["Properties"]["Name"] = "kept-2"
    second = outputs(change_set_deploy(aws, "policies", template))["Ref"]
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        manager.describe_secret(SecretId=first)
    aws("cloudformation").delete_stack(StackName="policies")
    assert manager.describe_secret(SecretId=second)["Name"] == "kept-2"


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (
            {"SecretString": "x", "GenerateSecretString": {}},
            "give SecretString or GenerateSecretString, not both",
        ),
        (
            {"GenerateSecretString": {"PasswordLength": 0}},
            "GenerateSecretString.PasswordLength must be 1 to 4096; got 0",
        ),
        (
            {"GenerateSecretString": {"GenerateStringKey": "password"}},
            "SecretStringTemplate and GenerateStringKey go together",
        ),
        (
            {"GenerateSecretString": {"SecretStringTemplate": "[]", "GenerateStringKey": "k"}},
            "SecretStringTemplate must be a JSON object; got '[]'",
        ),
        ({"KmsKeyId": "alias/none-such"}, "KmsKeyId 'alias/none-such' names no KMS key"),
    ],
)
def test_bad_properties_fail_the_resource_naming_the_property(
    fresh: LocalCloud, aws: Callable[[str], Any], secret: dict[str, Any], reason: str
) -> None:
    stack = change_set_deploy(aws, "bad-secret", secret_template(secret))
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert any(
        logical == "Secret" and reason in why for logical, why in failures(aws, "bad-secret")
    ), failures(aws, "bad-secret")


def test_without_a_value_the_secret_is_empty(fresh: LocalCloud, aws: Callable[[str], Any]) -> None:
    stack = change_set_deploy(aws, "empty", secret_template({"Name": "empty"}))
    assert stack["StackStatus"] == "CREATE_COMPLETE", failures(aws, "empty")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        aws("secretsmanager").get_secret_value(SecretId="empty")


CLASSES = {
    "ExcludeLowercase": string.ascii_lowercase,
    "ExcludeUppercase": string.ascii_uppercase,
    "ExcludeNumbers": string.digits,
    "ExcludePunctuation": string.punctuation,
}


@settings(max_examples=200, deadline=None)
@given(
    length=st.integers(min_value=1, max_value=200),
    excluded=st.sets(st.sampled_from(sorted(CLASSES))),
    include_space=st.booleans(),
    require_each=st.booleans(),
    exclude_characters=st.text(alphabet=string.printable, max_size=20),
)
def test_generated_strings_keep_to_every_documented_property(
    length: int,
    excluded: set[str],
    include_space: bool,
    require_each: bool,
    exclude_characters: str,
) -> None:
    spec: dict[str, Any] = {
        "PasswordLength": length,
        "IncludeSpace": include_space,
        "RequireEachIncludedType": require_each,
        "ExcludeCharacters": exclude_characters,
        **{name: True for name in excluded},
    }
    allowed = [chars for name, chars in CLASSES.items() if name not in excluded]
    allowed += [" "] if include_space else []
    usable = [[c for c in chars if c not in exclude_characters] for chars in allowed]
    try:
        value = generate_value(spec)
    except ResourceFailed as failed:
        # Refused only when no string can satisfy the properties.
        assert not any(usable) or (require_each and (not all(usable) or length < len(usable)))
        assert "GenerateSecretString" in str(failed)
        return
    assert len(value) == length
    assert not set(value) & set(exclude_characters)
    assert set(value) <= set("".join(allowed))
    if require_each:
        for chars in allowed:
            assert set(value) & set(chars), (chars, value)

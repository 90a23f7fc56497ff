"""CloudFormation as the CDK CLI and SES need it: change sets, ordering, checks, rollback,
custom resources, and the new resource types (hand-written templates, boto3 only)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ses_lambda_localcloud import assembly
from ses_lambda_localcloud.server import LocalCloud
from ses_lambda_localcloud.target import Target

ACCOUNT = "123456789012"
RULE_ARN = f"arn:aws:ses:us-east-1:{ACCOUNT}:receipt-rule-set/cfn-set:receipt-rule/cfn-rule"
ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                }
            ],
        }
    },
}
NOOP_CODE = "def handler(event, context):\n    return event\n"
# Answers CloudFormation, records each request type in SSM, fails when told to.
CUSTOM_CODE = """
import json, urllib.request, boto3
def handler(event, context):
    props = event["ResourceProperties"]
    boto3.client("ssm").put_parameter(
        Name="/cfn-test/" + event["RequestType"], Value=json.dumps(event), Type="String",
        Overwrite=True)
    failed = props.get("Fail") == "yes" and event["RequestType"] != "Delete"
    body = {"Status": "FAILED" if failed else "SUCCESS", "Reason": "told to fail",
            "PhysicalResourceId": "custom-" + props.get("Generation", "1"),
            "StackId": event["StackId"], "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": {"Answer": "forty-two-" + props.get("Generation", "1")}}
    request = urllib.request.Request(event["ResponseURL"], data=json.dumps(body).encode(),
                                     method="PUT")
    urllib.request.urlopen(request).read()
"""


def function(code: str, handler: str = "index.handler") -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.13",
            "Handler": handler,
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": code},
            "Timeout": 30,
        },
    }


def receiving_template(
    *, permission: bool = True, depends_on: bool = True, recipients: list[str] | None = None
) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Role": ROLE,
        "Fn": function(NOOP_CODE),
        "Identity": {
            "Type": "AWS::SES::EmailIdentity",
            "Properties": {"EmailIdentity": "cfn.example.com"},
        },
        "RuleSet": {"Type": "AWS::SES::ReceiptRuleSet", "Properties": {"RuleSetName": "cfn-set"}},
        "Rule": {
            "Type": "AWS::SES::ReceiptRule",
            "Properties": {
                "RuleSetName": {"Ref": "RuleSet"},
                "Rule": {
                    "Name": "cfn-rule",
                    "Enabled": True,
                    "Recipients": recipients or ["a@cfn.example.com"],
                    "Actions": [{"LambdaAction": {"FunctionArn": {"Fn::GetAtt": ["Fn", "Arn"]}}}],
                },
            },
        },
    }
    if permission:
        resources["Permission"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Fn::GetAtt": ["Fn", "Arn"]},
                "Principal": "ses.amazonaws.com",
                "SourceAccount": {"Ref": "AWS::AccountId"},
                "SourceArn": RULE_ARN,
            },
        }
        if depends_on:
            resources["Rule"]["DependsOn"] = ["Permission"]
    return {
        "Resources": resources,
        "Outputs": {
            "RuleName": {"Value": {"Ref": "Rule"}},
            "Token": {"Value": {"Fn::GetAtt": ["Identity", "DkimDNSTokenName1"]}},
        },
    }


def change_set_deploy(
    aws: Callable[[str], Any],
    stack: str,
    template: dict[str, Any],
    parameters: list[dict[str, Any]] | None = None,
    name: str = "cdk-deploy-change-set",
) -> dict[str, Any]:
    cloudformation = aws("cloudformation")
    try:
        status = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        kind = "CREATE" if status == "REVIEW_IN_PROGRESS" else "UPDATE"
    except ClientError:
        kind = "CREATE"
    cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType=kind,
        TemplateBody=json.dumps(template),
        Parameters=parameters or [],
    )
    cloudformation.execute_change_set(StackName=stack, ChangeSetName=name)
    return dict(cloudformation.describe_stacks(StackName=stack)["Stacks"][0])


def failures(aws: Callable[[str], Any], stack: str) -> list[tuple[str, str]]:
    events = aws("cloudformation").describe_stack_events(StackName=stack)["StackEvents"]
    return [
        (e["LogicalResourceId"], e.get("ResourceStatusReason", ""))
        for e in events
        if e["ResourceStatus"].endswith("_FAILED")
    ]


def test_change_set_path_creates_in_dependency_order_with_outputs(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    stack = change_set_deploy(aws, "ordered", receiving_template())
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["RuleName"] == "cfn-rule"
    assert outputs["Token"].endswith("._domainkey.cfn.example.com")
    events = aws("cloudformation").describe_stack_events(StackName="ordered")["StackEvents"]
    completed = [
        e["LogicalResourceId"] for e in reversed(events) if e["ResourceStatus"] == "CREATE_COMPLETE"
    ]
    assert completed.index("Permission") < completed.index("Rule")
    assert completed[-1] == "ordered"
    rule = aws("ses").describe_receipt_rule(RuleSetName="cfn-set", RuleName="cfn-rule")["Rule"]
    assert rule["Recipients"] == ["a@cfn.example.com"]


def test_fails_when_the_rule_does_not_depend_on_the_lambda_permission(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    stack = change_set_deploy(aws, "racy", receiving_template(depends_on=False))
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    ((logical_id, reason),) = failures(aws, "racy")
    assert logical_id == "Rule"
    assert "Could not invoke Lambda function" in reason
    # Rolled back: nothing is left behind.
    assert aws("ses").list_receipt_rule_sets()["RuleSets"] == []
    assert aws("lambda").list_functions()["Functions"] == []


def test_fails_when_there_is_no_lambda_permission(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    stack = change_set_deploy(aws, "unpermitted", receiving_template(permission=False))
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "Could not invoke Lambda function" in failures(aws, "unpermitted")[0][1]


def test_change_set_api_answers_like_cloudformation(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    cloudformation = aws("cloudformation")
    change_set_deploy(aws, "first", receiving_template())
    # The executed change set is gone; the CLI waits for exactly this error.
    with pytest.raises(cloudformation.exceptions.ChangeSetNotFoundException):
        cloudformation.describe_change_set(StackName="first", ChangeSetName="cdk-deploy-change-set")
    # Deleting a change set that does not exist is not an error (the CLI does it every deploy).
    cloudformation.delete_change_set(StackName="first", ChangeSetName="cdk-deploy-change-set")
    # Change set names are per stack.
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    cloudformation.create_change_set(
        StackName="second",
        ChangeSetName="same",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(template),
    )
    cloudformation.create_change_set(
        StackName="first",
        ChangeSetName="same",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(receiving_template()),
    )
    unchanged = cloudformation.describe_change_set(StackName="first", ChangeSetName="same")
    assert unchanged["Status"] == "FAILED"
    assert unchanged["StatusReason"].startswith("The submitted information didn't contain changes")
    created = cloudformation.describe_change_set(StackName="second", ChangeSetName="same")
    assert created["Status"] == "CREATE_COMPLETE"


def test_parameters_with_use_previous_value(fresh: LocalCloud, aws: Callable[[str], Any]) -> None:
    template = {
        "Parameters": {"Version": {"Type": "String", "Default": "1"}},
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Ref": "Version"}}}
        },
        "Outputs": {"Shown": {"Value": {"Ref": "Version"}}},
    }
    # CREATE with UsePreviousValue (the CDK's BootstrapVersion): the default applies.
    stack = change_set_deploy(
        aws, "params", template, [{"ParameterKey": "Version", "UsePreviousValue": True}]
    )
    assert stack["Outputs"][0]["OutputValue"] == "1"
    template["Resources"]["Queue"] = {"Type": "AWS::SQS::Queue"}
    stack = change_set_deploy(
        aws, "params", template, [{"ParameterKey": "Version", "ParameterValue": "7"}]
    )
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    template["Resources"]["Other"] = {"Type": "AWS::SQS::Queue"}
    stack = change_set_deploy(
        aws, "params", template, [{"ParameterKey": "Version", "UsePreviousValue": True}]
    )
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"] == "7"


@pytest.mark.parametrize(
    ("region", "resource_type", "message"),
    [
        ("us-east-1", "AWS::Made::Up", "Unrecognized resource types: [AWS::Made::Up]"),
        (
            "ap-east-1",
            "AWS::SES::ReceiptRuleSet",
            "Unrecognized resource types: [AWS::SES::ReceiptRuleSet]",
        ),
    ],
)
def test_fails_for_types_that_cannot_be_created_here(
    fresh: LocalCloud, target: Target, region: str, resource_type: str, message: str
) -> None:
    cloudformation = Target(api_port=target.api_port, region=region).client("cloudformation")
    with pytest.raises(ClientError, match=message.replace("[", r"\[").replace("]", r"\]")):
        cloudformation.create_change_set(
            StackName="unknown",
            ChangeSetName="c",
            ChangeSetType="CREATE",
            TemplateBody=json.dumps({"Resources": {"X": {"Type": resource_type}}}),
        )


def test_custom_resources_get_create_update_and_delete(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    template = {
        "Resources": {
            "Role": ROLE,
            "Provider": function(CUSTOM_CODE),
            "Custom": {
                "Type": "Custom::Thing",
                "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]},
                    "Generation": "1",
                },
            },
        },
        "Outputs": {"Answer": {"Value": {"Fn::GetAtt": ["Custom", "Answer"]}}},
    }
    stack = change_set_deploy(aws, "custom", template)
    assert stack["Outputs"][0]["OutputValue"] == "forty-two-1"
    template["Resources"]["Custom"]["Properties"]["Generation"] = "2"
    stack = change_set_deploy(aws, "custom", template)
    assert stack["Outputs"][0]["OutputValue"] == "forty-two-2"
    ssm = aws("ssm")
    update = json.loads(ssm.get_parameter(Name="/cfn-test/Update")["Parameter"]["Value"])
    assert update["OldResourceProperties"]["Generation"] == "1"
    assert update["PhysicalResourceId"] == "custom-1"
    # A new physical id: the old one gets a Delete in the cleanup phase.
    delete = json.loads(ssm.get_parameter(Name="/cfn-test/Delete")["Parameter"]["Value"])
    assert delete["PhysicalResourceId"] == "custom-1"
    ssm.delete_parameter(Name="/cfn-test/Delete")
    aws("cloudformation").delete_stack(StackName="custom")
    delete = json.loads(ssm.get_parameter(Name="/cfn-test/Delete")["Parameter"]["Value"])
    assert delete["PhysicalResourceId"] == "custom-2"


def test_a_failing_custom_resource_fails_the_stack_with_its_reason(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    template = {
        "Resources": {
            "Role": ROLE,
            "Provider": function(CUSTOM_CODE),
            "Custom": {
                "Type": "Custom::Thing",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]}, "Fail": "yes"},
            },
        }
    }
    stack = change_set_deploy(aws, "failing", template)
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    ((logical_id, reason),) = failures(aws, "failing")
    assert logical_id == "Custom"
    assert "Received response status [FAILED] from custom resource" in reason
    assert "told to fail" in reason


def test_fails_to_delete_an_active_rule_set_and_a_bucket_with_objects(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    template = receiving_template()
    template["Resources"]["Bucket"] = {
        "Type": "AWS::S3::Bucket",
        "Properties": {"BucketName": "not-empty"},
    }
    change_set_deploy(aws, "sticky", template)
    aws("ses").set_active_receipt_rule_set(RuleSetName="cfn-set")
    aws("s3").put_object(Bucket="not-empty", Key="k", Body=b"v")
    aws("cloudformation").delete_stack(StackName="sticky")
    stack = aws("cloudformation").describe_stacks(StackName="sticky")["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_FAILED"
    reasons = dict(failures(aws, "sticky"))
    assert "Cannot delete active rule set" in reasons["RuleSet"]
    assert "not empty" in reasons["Bucket"]
    # Fix both, and the delete goes through.
    aws("ses").set_active_receipt_rule_set()
    aws("s3").delete_object(Bucket="not-empty", Key="k")
    aws("cloudformation").delete_stack(StackName="sticky")
    assert (
        aws("cloudformation").list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"][
            0
        ]["StackName"]
        == "sticky"
    )


def test_updates_rules_in_place_and_replaces_renamed_ones(
    fresh: LocalCloud, aws: Callable[[str], Any]
) -> None:
    change_set_deploy(aws, "rules", receiving_template())
    ses = aws("ses")
    change_set_deploy(aws, "rules", receiving_template(recipients=["cfn.example.com"]))
    rule = ses.describe_receipt_rule(RuleSetName="cfn-set", RuleName="cfn-rule")["Rule"]
    assert rule["Recipients"] == ["cfn.example.com"]
    renamed = receiving_template()
    renamed["Resources"]["Rule"]["Properties"]["Rule"]["Name"] = "cfn-rule-2"
    renamed["Resources"]["Permission"]["Properties"]["SourceArn"] = RULE_ARN + "-2"
    stack = change_set_deploy(aws, "rules", renamed)
    assert stack["StackStatus"] == "UPDATE_COMPLETE", failures(aws, "rules")
    rules = ses.describe_receipt_rule_set(RuleSetName="cfn-set")["Rules"]
    assert [r["Name"] for r in rules] == ["cfn-rule-2"]
    # The replaced permission's statement is gone from the function policy.
    function_name = aws("lambda").list_functions()["Functions"][0]["FunctionName"]
    policy = json.loads(aws("lambda").get_policy(FunctionName=function_name)["Policy"])
    assert [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"]] == [
        RULE_ARN + "-2"
    ]


def test_failed_update_rolls_back(fresh: LocalCloud, aws: Callable[[str], Any]) -> None:
    change_set_deploy(aws, "rollback", receiving_template())
    broken = receiving_template()
    broken["Resources"]["Rule"]["Properties"]["Rule"]["Recipients"] = ["b@cfn.example.com"]
    broken["Resources"]["Permission"]["Properties"]["SourceArn"] = RULE_ARN + "-wrong"
    stack = change_set_deploy(aws, "rollback", broken)
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert any("Could not invoke" in reason for _, reason in failures(aws, "rollback"))
    rule = aws("ses").describe_receipt_rule(RuleSetName="cfn-set", RuleName="cfn-rule")["Rule"]
    assert rule["Recipients"] == ["a@cfn.example.com"]


def test_describe_stack_resources_does_not_create_anything(
    fresh: LocalCloud, aws: Callable[[str], Any], target: Target
) -> None:
    change_set_deploy(aws, "racy", receiving_template(depends_on=False))
    resources = aws("cloudformation").describe_stack_resources(StackName="racy")
    assert resources["StackResources"] == []
    assert aws("lambda").list_functions()["Functions"] == []
    # And the deploy helper reports the failure it saw.
    result = assembly.wait_for_stack(target.client, "racy")
    assert result.failures() and not result.ok

"""Rule-set choices: import by name, add to the active set, activate with or without replacing."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses as ses

from ses_lambda_constructs import (
    ActiveReceiptRuleSet,
    EmailReceiver,
    ReceiptRuleSetActivation,
    Route,
)
from tests.infra.conftest import make_stack, only, synth


def user_function(stack: cdk.Stack) -> lambda_.IFunction:
    return lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )


def test_imported_rule_set_gets_rules_without_being_defined() -> None:
    stack = make_stack()
    imported = ses.ReceiptRuleSet.from_receipt_rule_set_name(stack, "Existing", "prod-rules")
    EmailReceiver(
        stack,
        "Receiver",
        rule_set=imported,
        routes=[
            Route(
                id="Inbox",
                rule_name="inbox",
                recipients=["a@example.com"],
                function=user_function(stack),
            )
        ],
    )
    template = synth(stack)
    template.resource_count_is("AWS::SES::ReceiptRuleSet", 0)
    template.resource_count_is("Custom::SesReceiptRuleSetActivation", 0)
    _, rule = only(template, "AWS::SES::ReceiptRule")
    assert rule["Properties"]["RuleSetName"] == "prod-rules"
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "SourceArn": "arn:aws:ses:eu-west-1:111122223333:receipt-rule-set/prod-rules:receipt-rule/inbox"
        },
    )


def test_active_rule_set_is_looked_up_at_deploy_time() -> None:
    stack = make_stack()
    active = ActiveReceiptRuleSet(stack, "Active")
    EmailReceiver(
        stack,
        "Receiver",
        rule_set=active.rule_set,
        routes=[
            Route(
                id="Inbox",
                rule_name="inbox",
                recipients=["a@example.com"],
                function=user_function(stack),
            )
        ],
    )
    template = synth(stack)
    lookup_id, lookup = only(template, "Custom::SesActiveReceiptRuleSet")
    assert lookup["Properties"]["Action"] == "describe-active"
    _, rule = only(template, "AWS::SES::ReceiptRule")
    assert rule["Properties"]["RuleSetName"] == {"Fn::GetAtt": [lookup_id, "RuleSetName"]}
    template.resource_count_is("Custom::SesReceiptRuleSetActivation", 0)
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "SourceArn": {
                "Fn::Join": [
                    "",
                    [
                        "arn:aws:ses:eu-west-1:111122223333:receipt-rule-set/",
                        {"Fn::GetAtt": [lookup_id, "RuleSetName"]},
                        ":receipt-rule/inbox",
                    ],
                ]
            }
        },
    )


def test_replace_active_is_passed_to_the_activation() -> None:
    stack = make_stack()
    EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="new-rules",
        activate_rule_set=True,
        replace_active_rule_set=True,
        routes=[Route(id="Inbox", recipients=["a@example.com"], function=user_function(stack))],
    )
    template = synth(stack)
    _, activation = only(template, "Custom::SesReceiptRuleSetActivation")
    assert activation["Properties"]["ReplaceActive"] == "true"
    assert activation["Properties"]["RuleSetName"] == "new-rules"


def test_standalone_activation_of_a_rule_set_of_your_own() -> None:
    stack = make_stack()
    rule_set = ses.ReceiptRuleSet(stack, "Mine", receipt_rule_set_name="mine")
    ReceiptRuleSetActivation(stack, "Activation", rule_set=rule_set)
    ReceiptRuleSetActivation(
        stack, "Again", rule_set=ses.ReceiptRuleSet(stack, "Other", receipt_rule_set_name="other")
    )
    template = synth(stack)
    template.resource_count_is("Custom::SesReceiptRuleSetActivation", 2)
    # One provider function serves every rule-set custom resource of the stack.
    template.resource_count_is("AWS::Lambda::Function", 1)


def test_default_rule_set_name_is_fixed_and_valid() -> None:
    stack = make_stack()
    receiver = EmailReceiver(stack, "Receiver")
    assert receiver.rule_set_name.startswith("TestStack-Receiver-")
    assert receiver.rule_set_name.endswith("-rules")
    assert len(receiver.rule_set_name) <= 64

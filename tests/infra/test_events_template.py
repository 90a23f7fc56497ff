"""Received-mail events in the template: bus, PutEvents grant, subscriptions, DLQs, alarms, layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from ses_lambda_constructs import EmailEvents, EmailReceiver, EmailTarget, MailStatus, Route
from tests.infra.conftest import ACCOUNT_ENV, only, synth

TOPIC_ARN = "arn:aws:sns:eu-west-1:111122223333:ops-alarms"


class EventsApp:
    def __init__(self) -> None:
        self.app = cdk.App(context={"@aws-cdk/core:enablePartitionLiterals": True})
        stack = cdk.Stack(self.app, "Events", env=ACCOUNT_ENV)
        topic = sns.Topic.from_topic_arn(stack, "Alarms", TOPIC_ARN)
        receiver = EmailReceiver(
            stack,
            "Receiver",
            rule_set_name="events-test",
            alarm_topic=topic,
            routes=[Route(id="Support", recipients=["support@example.com", "example.org"])],
        )
        self.consumer = lambda_.Function(
            stack,
            "Consumer",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
            layers=[receiver.reader_layer()],
        )
        receiver.grant_read_messages(self.consumer)
        self.tickets = receiver.subscribe(
            "Tickets",
            EmailTarget.function(self.consumer),
            recipients=["Support@Example.com", ".example.org"],
            senders=["example.net"],
            subject_prefix=["[ticket]"],
        )
        self.audit_queue = sqs.Queue(stack, "Audit", enforce_ssl=True)
        self.rejections = receiver.subscribe(
            "Rejections",
            EmailTarget.queue(self.audit_queue),
            statuses=[MailStatus.REJECTED, MailStatus.UNPARSEABLE],
            retry_attempts=3,
            max_event_age=cdk.Duration.hours(1),
        )
        self.receiver = receiver
        self.stack = stack


@pytest.fixture(scope="module")
def events_app() -> EventsApp:
    return EventsApp()


@pytest.fixture(scope="module")
def template(events_app: EventsApp) -> Template:
    return synth(events_app.stack)


def logical_id(stack: cdk.Stack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)


def handler_function(template: Template) -> tuple[str, dict[str, Any]]:
    return only(template, "AWS::Lambda::Function", {"Handler": "handler.lambda_handler"})


def policy_statements(template: Template, role_ref: dict[str, Any]) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [role_ref]}})
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_receiver_defines_a_bus_and_tells_the_handler(
    events_app: EventsApp, template: Template
) -> None:
    bus_id, _ = only(template, "AWS::Events::EventBus")
    _, handler = handler_function(template)
    variables = handler["Properties"]["Environment"]["Variables"]
    assert variables["EVENT_BUS_NAME"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert variables["EVENT_SOURCE"] == "ses-lambda-constructs"


def test_handler_may_put_events_on_that_bus_only(template: Template) -> None:
    bus_id, _ = only(template, "AWS::Events::EventBus")
    _, handler = handler_function(template)
    statements = policy_statements(
        template, {"Ref": handler["Properties"]["Role"]["Fn::GetAtt"][0]}
    )
    put = [s for s in statements if "events:PutEvents" in str(s["Action"])]
    assert put == [
        {
            "Action": "events:PutEvents",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [bus_id, "Arn"]},
        }
    ]


def test_subscription_rule_has_the_pattern_built_from_mail_fields(
    events_app: EventsApp, template: Template
) -> None:
    bus_id, _ = only(template, "AWS::Events::EventBus")
    rule = template.to_json()["Resources"][logical_id(events_app.stack, events_app.tickets.rule)]
    assert rule["Properties"]["EventBusName"] == {"Ref": bus_id}
    assert rule["Properties"]["EventPattern"] == {
        "source": ["ses-lambda-constructs"],
        "detail-type": ["Email Received"],
        "detail": {
            "envelope": {
                "recipients": [
                    "support@example.com",
                    {"wildcard": "support+*@example.com"},
                    {"suffix": ".example.org"},
                ],
                "source": [{"suffix": "@example.net"}],
            },
            "headers": {"subject": [{"prefix": "[ticket]"}]},
        },
    }


def test_function_target_has_retries_a_dead_letter_queue_and_a_scoped_permission(
    events_app: EventsApp, template: Template
) -> None:
    stack = events_app.stack
    rule_id = logical_id(stack, events_app.tickets.rule)
    dlq_id = logical_id(stack, events_app.tickets.dead_letter_queue)
    function_id = logical_id(stack, events_app.consumer)
    (target,) = template.to_json()["Resources"][rule_id]["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
            "SourceAccount": "111122223333",
        },
    )
    # The function's own failures (after Lambda's retries) land in the same queue.
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": function_id},
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id, "Arn"]}}},
        },
    )


def test_dead_letter_queue_is_encrypted_retained_and_only_this_rule_may_send(
    events_app: EventsApp, template: Template
) -> None:
    stack = events_app.stack
    dlq_id = logical_id(stack, events_app.tickets.dead_letter_queue)
    rule_id = logical_id(stack, events_app.tickets.rule)
    queue = template.to_json()["Resources"][dlq_id]
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["DeletionPolicy"] == "Retain"
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": dlq_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Sid": "AllowRuleDeadLetters",
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": [dlq_id, "Arn"]},
                            "Condition": {
                                "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}},
                                "StringEquals": {"aws:SourceAccount": "111122223333"},
                            },
                        }
                    ]
                )
            },
        },
    )


def test_each_dead_letter_queue_is_alarmed_to_the_receivers_topic(
    events_app: EventsApp, template: Template
) -> None:
    stack = events_app.stack
    for subscription in (events_app.tickets, events_app.rejections):
        dlq_id = logical_id(stack, subscription.dead_letter_queue)
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Namespace": "AWS/SQS",
                "Dimensions": [
                    {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}
                ],
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [TOPIC_ARN],
            },
        )


def test_queue_target_matches_statuses_with_its_own_retry_policy(
    events_app: EventsApp, template: Template
) -> None:
    stack = events_app.stack
    rule = template.to_json()["Resources"][logical_id(stack, events_app.rejections.rule)]
    assert rule["Properties"]["EventPattern"] == {
        "source": ["ses-lambda-constructs"],
        "detail-type": ["Email Rejected", "Email Unparseable"],
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [logical_id(stack, events_app.audit_queue), "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}
    assert target["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": [logical_id(stack, events_app.rejections.dead_letter_queue), "Arn"]}
    }


def test_grant_read_messages_reads_the_parsed_prefix_only(
    events_app: EventsApp, template: Template
) -> None:
    stack = events_app.stack
    consumer = template.to_json()["Resources"][logical_id(stack, events_app.consumer)]
    statements = policy_statements(
        template, {"Ref": consumer["Properties"]["Role"]["Fn::GetAtt"][0]}
    )
    s3_statements = [s for s in statements if str(s["Action"]).startswith("s3:")]
    assert [s["Action"] for s in s3_statements] == ["s3:GetObject", "s3:ListBucket"]
    assert "/parsed/*" in str(s3_statements[0]["Resource"])
    assert s3_statements[1]["Condition"] == {"StringLike": {"s3:prefix": ["parsed/*"]}}


def test_reader_layer_packages_ses_mail_under_python(
    events_app: EventsApp, template: Template
) -> None:
    layer_id, layer = only(template, "AWS::Lambda::LayerVersion")
    assert layer["Properties"]["CompatibleRuntimes"] == [
        "python3.11",
        "python3.12",
        "python3.13",
        "python3.14",
    ]
    consumer = template.to_json()["Resources"][logical_id(events_app.stack, events_app.consumer)]
    assert consumer["Properties"]["Layers"] == [{"Ref": layer_id}]
    assembly = Path(events_app.app.synth().directory)
    asset = assembly / f"asset.{layer['Properties']['Content']['S3Key'].removesuffix('.zip')}"
    files = {p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file()}
    assert "python/ses_mail/__init__.py" in files
    assert "python/ses_mail/message.schema.json" in files
    assert not [f for f in files if "__pycache__" in f or not f.startswith("python/ses_mail/")]


def test_bring_your_own_bus_and_source() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "OwnBus", env=ACCOUNT_ENV)
    bus = events.EventBus.from_event_bus_arn(
        stack, "Shared", "arn:aws:events:eu-west-1:111122223333:event-bus/mail"
    )
    receiver = EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="own-bus",
        event_bus=bus,
        event_source="acme.mail",
        routes=[Route(id="Support", recipients=["support@example.com"])],
    )
    queue = sqs.Queue(stack, "Inbox")
    receiver.subscribe("All", EmailTarget.queue(queue), statuses=list(MailStatus))
    template = Template.from_stack(stack)

    template.resource_count_is("AWS::Events::EventBus", 0)
    _, handler = handler_function(template)
    assert handler["Properties"]["Environment"]["Variables"]["EVENT_BUS_NAME"] == bus.event_bus_arn
    assert handler["Properties"]["Environment"]["Variables"]["EVENT_SOURCE"] == "acme.mail"
    statements = policy_statements(
        template, {"Ref": handler["Properties"]["Role"]["Fn::GetAtt"][0]}
    )
    assert {
        "Action": "events:PutEvents",
        "Effect": "Allow",
        "Resource": bus.event_bus_arn,
    } in statements
    _, rule = only(template, "AWS::Events::Rule")
    assert rule["Properties"]["EventBusName"] == "mail"
    assert rule["Properties"]["EventPattern"]["source"] == ["acme.mail"]
    assert rule["Properties"]["EventPattern"]["detail-type"] == [
        "Email Received",
        "Email Rejected",
        "Email Too Large",
        "Email Unparseable",
    ]


def test_receiver_without_the_reference_handler_defines_no_bus() -> None:
    stack = cdk.Stack(cdk.App(), "NoHandler", env=ACCOUNT_ENV)
    own = lambda_.Function(
        stack,
        "Own",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )
    EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="no-handler",
        routes=[Route(id="Own", recipients=["own@example.com"], function=own)],
    )
    Template.from_stack(stack).resource_count_is("AWS::Events::EventBus", 0)


def test_state_machine_topic_and_other_targets_get_the_same_retry_and_queue() -> None:
    from aws_cdk import aws_events_targets as targets
    from aws_cdk import aws_stepfunctions as sfn

    stack = cdk.Stack(cdk.App(), "Targets", env=ACCOUNT_ENV)
    receiver = EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="targets",
        routes=[Route(id="Support", recipients=["support@example.com"])],
    )
    machine = sfn.StateMachine(
        stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Pass"))
    )
    topic = sns.Topic(stack, "Topic")
    log_bus = events.EventBus(stack, "Archive")
    receiver.subscribe("Machine", EmailTarget.state_machine(machine))
    receiver.subscribe("Topic", EmailTarget.topic(topic))
    receiver.subscribe("Forward", EmailTarget.of(targets.EventBus(log_bus)))
    template = Template.from_stack(stack)

    rules = template.find_resources("AWS::Events::Rule")
    assert len(rules) == 3
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": 185,
            "MaximumEventAgeInSeconds": 86400,
        }
        assert "DeadLetterConfig" in target
    assert len(template.find_resources("AWS::SQS::Queue")) == 4  # the handler's and three DLQs


def test_demo_stack_subscribes_its_ticket_function(demo_template: Template) -> None:
    bus_id, _ = only(demo_template, "AWS::Events::EventBus")
    _, rule = only(demo_template, "AWS::Events::Rule")
    assert rule["Properties"]["EventBusName"] == {"Ref": bus_id}
    assert rule["Properties"]["EventPattern"] == {
        "source": ["ses-lambda-constructs"],
        "detail-type": ["Email Received"],
        "detail": {
            "envelope": {
                "recipients": [
                    "support@mail.example.com",
                    {"wildcard": "support+*@mail.example.com"},
                ]
            },
            "conversation": {"kind": ["person"]},
        },
    }
    ticket_id, ticket = only(
        demo_template,
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"TICKET_PREFIX": "tickets/"})}},
    )
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [ticket_id, "Arn"]}
    dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    demo_template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}],
        },
    )
    statements = policy_statements(
        demo_template, {"Ref": ticket["Properties"]["Role"]["Fn::GetAtt"][0]}
    )
    s3_resources = [str(s["Resource"]) for s in statements if s["Action"] == "s3:PutObject"]
    assert len(s3_resources) == 1 and "/tickets/*" in s3_resources[0]
    assert not [s for s in statements if str(s["Action"]).startswith("s3:Get")]


def test_email_events_standalone_grants_put_events_on_its_bus_only() -> None:
    stack = cdk.Stack(cdk.App(), "Standalone", env=ACCOUNT_ENV)
    mail_events = EmailEvents(stack, "Mail")
    role = iam.Role(stack, "Publisher", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    grant = mail_events.grant_put_events(role)
    assert isinstance(grant, iam.Grant) and grant.success
    template = Template.from_stack(stack)
    bus_id, _ = only(template, "AWS::Events::EventBus")
    assert policy_statements(template, {"Ref": stack.get_logical_id(role.node.default_child)}) == [
        {
            "Action": "events:PutEvents",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [bus_id, "Arn"]},
        }
    ]


def test_grant_read_messages_decrypts_an_sse_kms_bucket() -> None:
    # Reading an SSE-KMS object needs kms:Decrypt on its key as well as s3:GetObject
    # (S3 User Guide, "Using server-side encryption with AWS KMS keys (SSE-KMS)").
    app = cdk.App(context={"@aws-cdk/core:enablePartitionLiterals": True})
    stack = cdk.Stack(app, "EncryptedReader", env=ACCOUNT_ENV)
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    receiver = EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="encrypted-reader",
        encryption_key=key,
        routes=[Route(id="Support", recipients=["support@example.com"])],
    )
    consumer = lambda_.Function(
        stack,
        "Consumer",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )
    receiver.grant_read_messages(consumer)
    template = Template.from_stack(stack)
    resource = template.to_json()["Resources"][logical_id(stack, consumer)]
    statements = policy_statements(
        template, {"Ref": resource["Properties"]["Role"]["Fn::GetAtt"][0]}
    )
    key_arn = {"Fn::GetAtt": [logical_id(stack, key), "Arn"]}
    kms_statements = [s for s in statements if str(s["Action"]).startswith("kms:")]
    assert [(s["Action"], s["Resource"]) for s in kms_statements] == [("kms:Decrypt", key_arn)]

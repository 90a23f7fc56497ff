"""The hardened configuration: customer managed key, SES writing through a role, VPC, limits."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from ses_lambda_constructs import EmailReceiver, FunctionHardening, RawMessageStore, Route
from ses_lambda_constructs.hardening import VPC_ACCESS_ACTIONS
from ses_lambda_constructs.limits import ValidationError
from tests.infra.conftest import make_stack, only


def key_arn(template: Template) -> dict[str, Any]:
    return {"Fn::GetAtt": [only(template, "AWS::KMS::Key")[0], "Arn"]}


def store_bucket(template: Template) -> tuple[str, dict[str, Any]]:
    return next(
        (k, v) for k, v in template.find_resources("AWS::S3::Bucket").items() if "Store" in k
    )


def test_ses_writes_the_sse_kms_bucket_through_a_role(all_options_template: Template) -> None:
    template = all_options_template
    role_id, role = next(
        (k, v) for k, v in template.find_resources("AWS::IAM::Role").items() if "SesRole" in k
    )
    rules = [
        r
        for r in template.find_resources("AWS::SES::ReceiptRule").values()
        if any("S3Action" in a for a in r["Properties"]["Rule"]["Actions"])
    ]
    assert len(rules) == 2
    for rule in rules:
        (s3_action,) = [
            a["S3Action"] for a in rule["Properties"]["Rule"]["Actions"] if "S3Action" in a
        ]
        assert s3_action["IamRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
        # never SES's client-side encryption: a plain GetObject could not read those objects
        assert "KmsKeyArn" not in s3_action
        # SES assumes the role when it creates the rule (its test write)
        assert role_id in rule["DependsOn"]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ses.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == "111122223333"
    assert trust["Condition"]["StringEquals"]["aws:SourceArn"] == [
        "arn:aws:ses:eu-west-1:111122223333:receipt-rule-set/all-options:receipt-rule/support",
        "arn:aws:ses:eu-west-1:111122223333:receipt-rule-set/all-options:receipt-rule/sales",
    ]
    _, policy = only(template, "AWS::IAM::Policy", {"Roles": [{"Ref": role_id}]})
    bucket_id, _ = store_bucket(template)
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/raw/*"]]},
        },
        {
            # S3Action reference: kms:Encrypt and kms:GenerateDataKey; S3 (SSE-KMS): a multipart
            # upload needs kms:Decrypt as well.
            "Action": ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"],
            "Effect": "Allow",
            "Resource": key_arn(template),
        },
    ]
    # "the role and only the role": no bucket-policy statement for SES
    for bucket_policy in template.find_resources("AWS::S3::BucketPolicy").values():
        for statement in bucket_policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement.get("Principal") != {"Service": "ses.amazonaws.com"}


def test_bucket_is_sse_kms_versioned_logged_and_replicated(all_options_template: Template) -> None:
    template = all_options_template
    _, bucket = store_bucket(template)
    props = bucket["Properties"]
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption == {
        "BucketKeyEnabled": True,
        # the key's full ARN, as the SES guide asks for default bucket encryption
        "ServerSideEncryptionByDefault": {
            "KMSMasterKeyID": key_arn(template),
            "SSEAlgorithm": "aws:kms",
        },
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "access-logs/"
    (rule,) = props["ReplicationConfiguration"]["Rules"]
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    assert rule["Destination"]["EncryptionConfiguration"] == {"ReplicaKmsKeyID": key_arn(template)}
    lifecycle = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert lifecycle["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 30
    }


def test_handler_decrypts_and_generates_data_keys_by_grant(all_options_template: Template) -> None:
    template = all_options_template
    _, function = only(template, "AWS::Lambda::Function", {"Handler": "handler.lambda_handler"})
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    _, policy = only(template, "AWS::IAM::Policy", {"Roles": [{"Ref": role_id}]})
    kms_actions = [
        s["Action"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Resource"] == key_arn(template)
    ]
    # read raw mail; write parsed output; send failed events to the encrypted queue
    assert sorted(map(str, kms_actions)) == sorted(
        ["kms:Decrypt", "kms:GenerateDataKey", "['kms:GenerateDataKey', 'kms:Decrypt']"]
    )


def test_log_groups_and_queue_use_the_key_that_allows_cloudwatch_logs(
    all_options_template: Template,
) -> None:
    template = all_options_template
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 4  # handler, gate, rule-set provider, flow logs
    for group in groups.values():
        assert group["Properties"]["KmsKeyId"] == key_arn(template)
    for function in template.find_resources("AWS::Lambda::Function").values():
        group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group_id]["Properties"]["RetentionInDays"] == 365
    _, key = only(template, "AWS::KMS::Key")
    (logs_statement,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "logs.eu-west-1.amazonaws.com"}
    ]
    assert logs_statement["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:111122223333:log-group:*"
        }
    }
    assert key["Properties"]["EnableKeyRotation"] is True


def test_every_function_is_traced_reserved_and_in_the_vpc(all_options_template: Template) -> None:
    template = all_options_template
    functions = template.find_resources("AWS::Lambda::Function")
    assert len(functions) == 3
    reserved = {}
    for function in functions.values():
        props = function["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert len(props["VpcConfig"]["SubnetIds"]) == 2  # PrivateNetwork's two zones
        assert props["MemorySize"] in (128, 512)
        reserved[props["Handler"]] = props["ReservedConcurrentExecutions"]
        role_id = props["Role"]["Fn::GetAtt"][0]
        _, policy = only(template, "AWS::IAM::Policy", {"Roles": [{"Ref": role_id}]})
        assert {
            "Action": list(VPC_ACCESS_ACTIONS),
            "Effect": "Allow",
            "Resource": "*",
        } in policy["Properties"]["PolicyDocument"]["Statement"]
    assert reserved == {"handler.lambda_handler": 5, "gate.lambda_handler": 5, "index.handler": 2}


def test_the_network_has_no_internet_route_and_private_endpoints(
    all_options_template: Template,
) -> None:
    template = all_options_template
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    endpoints = template.find_resources("AWS::EC2::VPCEndpoint")
    services = sorted(str(e["Properties"]["ServiceName"]) for e in endpoints.values())
    assert len(services) == 5 and any("s3" in s for s in services)
    assert "com.amazonaws.eu-west-1.email" in services
    assert "com.amazonaws.eu-west-1.secretsmanager" in services  # the reply-address keys
    assert "com.amazonaws.eu-west-1.events" in services
    assert "com.amazonaws.eu-west-1.xray" in services  # tracing is on
    template.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL"})
    _, group = only(
        template,
        "AWS::EC2::SecurityGroup",
        {"GroupDescription": "Interface endpoints: HTTPS from inside the VPC only"},
    )
    assert group["Properties"]["SecurityGroupIngress"] == [
        {
            "CidrIp": "10.80.0.0/20",
            "Description": "HTTPS from the VPC",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]


def test_hardened_demo_is_what_the_context_flag_builds(hardened_demo_template: Template) -> None:
    template = hardened_demo_template
    _, bucket = store_bucket(template)
    assert (
        bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        == "aws:kms"
    )
    for function in template.find_resources("AWS::Lambda::Function").values():
        assert function["Properties"]["ReservedConcurrentExecutions"] in (2, 10)
        assert "VpcConfig" in function["Properties"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {},
            "hardened=True needs function_hardening.vpc, alarm_topic, server_access_logs_bucket, "
            "replication_destination",
        ),
        (
            {
                "function_hardening": "vpc",
                "alarm_topic": "topic",
                "logs": True,
                "replica": True,
                "raw_message_bucket": True,
            },
            "hardened=True defines the raw-message bucket itself",
        ),
    ],
)
def test_fails_when_hardened_lacks_what_only_the_user_has(
    kwargs: dict[str, Any], message: str
) -> None:
    stack = make_stack()
    props: dict[str, Any] = {}
    if kwargs.get("function_hardening"):
        props["function_hardening"] = FunctionHardening(
            vpc=ec2.Vpc.from_vpc_attributes(
                stack,
                "Vpc",
                vpc_id="vpc-1",
                availability_zones=["eu-west-1a"],
                isolated_subnet_ids=["subnet-1"],
            )
        )
    if kwargs.get("alarm_topic"):
        from aws_cdk import aws_sns as sns

        props["alarm_topic"] = sns.Topic.from_topic_arn(
            stack, "T", "arn:aws:sns:eu-west-1:111122223333:t"
        )
    if kwargs.get("logs"):
        props["server_access_logs_bucket"] = s3.Bucket.from_bucket_name(stack, "L", "logs")
    if kwargs.get("replica"):
        props["replication_destination"] = s3.Bucket.from_bucket_name(stack, "R", "replica")
    if kwargs.get("raw_message_bucket"):
        props["raw_message_bucket"] = s3.Bucket.from_bucket_name(stack, "Raw", "raw")
    with pytest.raises(ValidationError, match=re.escape(message)):
        EmailReceiver(stack, "Receiver", rule_set_name="rules", hardened=True, **props)


def test_fails_when_reserved_concurrency_is_not_positive() -> None:
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "reserved_concurrency must be at least 1 (0 stops the function from running); got 0"
        ),
    ):
        FunctionHardening(reserved_concurrency=0)


def test_fails_when_an_sse_kms_bucket_replicates_without_a_replica_key() -> None:
    stack = make_stack()
    with pytest.raises(ValidationError, match="replication_destination of an SSE-KMS bucket needs"):
        RawMessageStore(
            stack,
            "Store",
            encryption_key=kms.Key(stack, "Key"),
            replication_destination=s3.Bucket.from_bucket_name(stack, "R", "replica"),
        )


def test_an_imported_key_gets_a_warning_for_its_logs_policy() -> None:
    from aws_cdk.assertions import Annotations, Match

    stack = make_stack()
    key = kms.Key.from_key_arn(
        stack,
        "Theirs",
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    )
    FunctionHardening(encryption_key=key).log_group(stack, "Logs")
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("is imported, so its policy cannot be changed here")
    )


def test_a_route_of_an_sse_kms_store_without_a_function_uses_the_store_role() -> None:
    # a plain route with a user function (no bundling): the S3 action still carries the role
    stack = make_stack()
    from aws_cdk import aws_lambda as lambda_

    own = lambda_.Function.from_function_attributes(
        stack,
        "Own",
        function_arn="arn:aws:lambda:eu-west-1:111122223333:function:own",
        same_environment=True,
    )
    EmailReceiver(
        stack,
        "Receiver",
        rule_set_name="rules",
        encryption_key=kms.Key(stack, "Key"),
        routes=[Route(id="Inbox", recipients=["a@example.com"], function=own)],
    )
    template = Template.from_stack(stack)
    _, rule = only(template, "AWS::SES::ReceiptRule")
    s3_action = rule["Properties"]["Rule"]["Actions"][0]["S3Action"]
    assert "IamRoleArn" in s3_action


def test_hardened_demo_ticket_function_generates_data_keys_for_its_writes(
    hardened_demo_template: Template,
) -> None:
    # PutObject into an SSE-KMS bucket needs kms:GenerateDataKey on the bucket's key (S3 User
    # Guide, "Using server-side encryption with AWS KMS keys (SSE-KMS)").
    template = hardened_demo_template
    _, ticket = only(
        template,
        "AWS::Lambda::Function",
        {"Description": "ses-lambda-constructs demo: a ticket per received message"},
    )
    role_id = ticket["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        statement
        for _, policy in template.find_resources(
            "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}}
        ).items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    _, bucket = store_bucket(template)
    default = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ]
    kms_statements = [s for s in statements if str(s["Action"]).startswith("kms:")]
    assert [(s["Action"], s["Resource"]) for s in kms_statements] == [
        ("kms:GenerateDataKey", default["KMSMasterKeyID"])
    ]

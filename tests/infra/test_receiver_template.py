"""Template assertions for the demo stack and a two-route receiver: every wired capability."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

from tests.infra.conftest import only

RULE_ARN_SUFFIX = ":receipt-rule-set/ses-lambda-demo-rules:receipt-rule/ses-lambda-demo-inbox"


def rule_arn(suffix: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ses:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                suffix,
            ],
        ]
    }


def test_identity_is_the_demo_domain_with_easy_dkim(demo_template: Template) -> None:
    demo_template.has_resource_properties(
        "AWS::SES::EmailIdentity", {"EmailIdentity": "mail.example.com"}
    )


def test_dkim_cnames_are_written_with_fully_qualified_names(demo_template: Template) -> None:
    identity_id, _ = only(demo_template, "AWS::SES::EmailIdentity")
    for i in (1, 2, 3):
        demo_template.has_resource_properties(
            "AWS::Route53::RecordSet",
            {
                "Type": "CNAME",
                "HostedZoneId": "Z0123456789ABCDEFGHIJ",
                "Name": {
                    "Fn::Join": ["", [{"Fn::GetAtt": [identity_id, f"DkimDNSTokenName{i}"]}, "."]]
                },
                "ResourceRecords": [{"Fn::GetAtt": [identity_id, f"DkimDNSTokenValue{i}"]}],
            },
        )


def test_inbound_mx_points_at_the_regional_ses_endpoint(demo_template: Template) -> None:
    demo_template.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Type": "MX",
            "Name": "mail.example.com.",
            "ResourceRecords": [
                {"Fn::Join": ["", ["10 inbound-smtp.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
            ],
        },
    )


def test_rule_set_has_its_fixed_name(demo_template: Template) -> None:
    demo_template.has_resource_properties(
        "AWS::SES::ReceiptRuleSet", {"RuleSetName": "ses-lambda-demo-rules"}
    )


def test_rule_stores_then_invokes_with_safe_defaults(demo_template: Template) -> None:
    bucket_id, _ = only(demo_template, "AWS::S3::Bucket")
    function_id, _ = only(
        demo_template, "AWS::Lambda::Function", {"Handler": "handler.lambda_handler"}
    )
    rule_set_id, _ = only(demo_template, "AWS::SES::ReceiptRuleSet")
    demo_template.has_resource_properties(
        "AWS::SES::ReceiptRule",
        {
            "RuleSetName": {"Ref": rule_set_id},
            "Rule": {
                "Name": "ses-lambda-demo-inbox",
                "Enabled": True,
                "Recipients": ["support@mail.example.com"],
                "ScanEnabled": True,
                "TlsPolicy": "Require",
                "Actions": [
                    {"S3Action": {"BucketName": {"Ref": bucket_id}, "ObjectKeyPrefix": "raw/"}},
                    {
                        "LambdaAction": {
                            "FunctionArn": {"Fn::GetAtt": [function_id, "Arn"]},
                            "InvocationType": "Event",
                        }
                    },
                ],
            },
        },
    )


def test_invoke_permission_has_source_account_and_source_arn(demo_template: Template) -> None:
    function_id, _ = only(
        demo_template, "AWS::Lambda::Function", {"Handler": "handler.lambda_handler"}
    )
    demo_template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]},
            "Principal": "ses.amazonaws.com",
            "SourceAccount": {"Ref": "AWS::AccountId"},
            "SourceArn": rule_arn(RULE_ARN_SUFFIX),
        },
    )


def test_bucket_policy_lets_ses_put_under_the_prefix_for_this_rule_only(
    demo_template: Template,
) -> None:
    bucket_id, _ = only(demo_template, "AWS::S3::Bucket")
    demo_template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Sid": "AllowSesPutRawMessages",
                            "Effect": "Allow",
                            "Principal": {"Service": "ses.amazonaws.com"},
                            "Action": "s3:PutObject",
                            "Resource": {
                                "Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/raw/*"]]
                            },
                            "Condition": {
                                "StringEquals": {
                                    "aws:SourceAccount": {"Ref": "AWS::AccountId"},
                                    "aws:SourceArn": [rule_arn(RULE_ARN_SUFFIX)],
                                }
                            },
                        }
                    ]
                )
            },
        },
    )


def test_rule_depends_on_the_permission_and_the_bucket_policy(demo_template: Template) -> None:
    permission_id, _ = only(
        demo_template, "AWS::Lambda::Permission", {"Principal": "ses.amazonaws.com"}
    )
    policy_id, _ = only(demo_template, "AWS::S3::BucketPolicy")
    _, rule = only(demo_template, "AWS::SES::ReceiptRule")
    assert set(rule["DependsOn"]) >= {permission_id, policy_id}


def test_activation_runs_after_the_rules_exist(demo_template: Template) -> None:
    rule_id, _ = only(demo_template, "AWS::SES::ReceiptRule")
    rule_set_id, _ = only(demo_template, "AWS::SES::ReceiptRuleSet")
    _, activation = only(demo_template, "Custom::SesReceiptRuleSetActivation")
    assert activation["Properties"]["RuleSetName"] == "ses-lambda-demo-rules"
    assert activation["Properties"]["ReplaceActive"] == "false"
    assert activation["Properties"]["Action"] == "activate"
    assert set(activation["DependsOn"]) >= {rule_id, rule_set_id}


def test_activation_provider_may_only_manage_rule_set_activation(demo_template: Template) -> None:
    _provider_id, provider = only(
        demo_template,
        "AWS::Lambda::Function",
        {"Handler": "index.handler", "Timeout": 120},  # the demo's ticket function has 30 s
    )
    role_id = provider["Properties"]["Role"]["Fn::GetAtt"][0]
    _, policy = only(demo_template, "AWS::IAM::Policy", {"Roles": [{"Ref": role_id}]})
    log_group_id = provider["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]},
        },
        {
            "Action": ["ses:DescribeActiveReceiptRuleSet", "ses:SetActiveReceiptRuleSet"],
            "Effect": "Allow",
            "Resource": "*",
        },
        # X-Ray tracing is on by default; its two actions take no resource.
        {
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Effect": "Allow",
            "Resource": "*",
        },
    ]
    assert provider["Properties"]["Runtime"] == "python3.14"


def test_bucket_is_encrypted_private_ssl_only_and_retained(demo_template: Template) -> None:
    _bucket_id, bucket = only(demo_template, "AWS::S3::Bucket")
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "BucketName" not in props
    demo_template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_reference_handler_configuration(demo_template: Template) -> None:
    bucket_id, _ = only(demo_template, "AWS::S3::Bucket")
    demo_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "handler.lambda_handler",
            "Runtime": "python3.14",
            "MemorySize": 512,
            "Timeout": 60,
            "LoggingConfig": Match.object_like({"LogFormat": "JSON"}),
            "Environment": {
                "Variables": {
                    "RAW_MESSAGE_BUCKET": {"Ref": bucket_id},
                    "RAW_MESSAGE_PREFIX": "raw/",
                    "PARSED_PREFIX": "parsed/",
                    "REJECT_ON_VERDICTS": "spam,virus",
                    "MAX_MESSAGE_BYTES": "41943040",
                    "POWERTOOLS_SERVICE_NAME": "ses-lambda-handler",
                    "POWERTOOLS_METRICS_NAMESPACE": "SesLambdaConstructs",
                }
            },
        },
    )


def test_reference_handler_reads_raw_and_writes_parsed_only(demo_template: Template) -> None:
    bucket_id, _ = only(demo_template, "AWS::S3::Bucket")
    arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
    _function_id, function = only(
        demo_template, "AWS::Lambda::Function", {"Handler": "handler.lambda_handler"}
    )
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    _, role_policy = only(demo_template, "AWS::IAM::Policy", {"Roles": [{"Ref": role_id}]})
    statements = role_policy["Properties"]["PolicyDocument"]["Statement"]
    _, invoke_config = only(
        demo_template, "AWS::Lambda::EventInvokeConfig", {"FunctionName": {"Ref": _function_id}}
    )
    failure_queue_id = invoke_config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"][
        "Fn::GetAtt"
    ][0]
    assert statements == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]},
        },
        {
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Effect": "Allow",
            "Resource": "*",
        },
        {
            "Action": "events:PutEvents",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [only(demo_template, "AWS::Events::EventBus")[0], "Arn"]},
        },
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [arn, "/raw/*"]]},
        },
        {
            "Action": "s3:ListBucket",
            "Condition": {"StringLike": {"s3:prefix": ["raw/*"]}},
            "Effect": "Allow",
            "Resource": arn,
        },
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [arn, "/parsed/*"]]},
        },
        {
            "Action": "sqs:SendMessage",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [failure_queue_id, "Arn"]},
        },
        {
            # the demo verifies signed reply addresses: the keys' secret, read only
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Effect": "Allow",
            "Resource": {"Ref": only(demo_template, "AWS::SecretsManager::Secret")[0]},
        },
    ]
    demo_template.resource_count_is("AWS::IAM::ManagedPolicy", 0)
    for role in demo_template.find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_without_a_zone_the_records_become_outputs(demo_without_zone_template: Template) -> None:
    demo_without_zone_template.resource_count_is("AWS::Route53::RecordSet", 0)
    outputs = demo_without_zone_template.find_outputs("*")
    dns = {key: value for key, value in outputs.items() if "DnsRecord" in key}
    assert len(dns) == 4
    values = [json.dumps(value["Value"]) for value in dns.values()]
    assert any("mail.example.com MX" in value and "inbound-smtp." in value for value in values), (
        values
    )


def test_activation_is_opt_out(demo_without_zone_template: Template) -> None:
    demo_without_zone_template.resource_count_is("Custom::SesReceiptRuleSetActivation", 0)
    demo_without_zone_template.resource_count_is("AWS::SES::ReceiptRule", 1)


def test_routes_are_ordered_and_each_permission_names_its_rule(
    multi_route_template: Template,
) -> None:
    rules = multi_route_template.find_resources("AWS::SES::ReceiptRule")
    by_name = {r["Properties"]["Rule"]["Name"]: (k, r) for k, r in rules.items()}
    assert set(by_name) == {"support", "replies"}
    support_id, _ = by_name["support"]
    _, replies = by_name["replies"]
    assert replies["Properties"]["After"] == {"Ref": support_id}
    for name in ("support", "replies"):
        multi_route_template.has_resource_properties(
            "AWS::Lambda::Permission",
            {
                "Principal": "ses.amazonaws.com",
                "SourceAccount": "111122223333",
                "SourceArn": f"arn:aws:ses:eu-west-1:111122223333:receipt-rule-set/test-rules:receipt-rule/{name}",
            },
        )


def test_user_function_route_is_sync_without_storage(multi_route_template: Template) -> None:
    own_id, _ = only(multi_route_template, "AWS::Lambda::Function", {"Handler": "index.handler"})
    permission_id, _ = only(
        multi_route_template,
        "AWS::Lambda::Permission",
        {"FunctionName": {"Fn::GetAtt": [own_id, "Arn"]}},
    )
    _, replies = only(
        multi_route_template,
        "AWS::SES::ReceiptRule",
        {"Rule": Match.object_like({"Name": "replies"})},
    )
    rule = replies["Properties"]["Rule"]
    assert rule["Recipients"] == ["example.net", ".example.org"]
    assert rule["Actions"] == [
        {
            "LambdaAction": {
                "FunctionArn": {"Fn::GetAtt": [own_id, "Arn"]},
                "InvocationType": "RequestResponse",
            }
        },
        {"StopAction": {"Scope": "RuleSet"}},
    ]
    assert permission_id in replies["DependsOn"]


def test_bucket_policy_names_only_the_storing_rule(multi_route_template: Template) -> None:
    _, policy = only(multi_route_template, "AWS::S3::BucketPolicy")
    ses_statement = next(
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "AllowSesPutRawMessages"
    )
    assert ses_statement["Condition"]["StringEquals"] == {
        "aws:SourceAccount": "111122223333",
        "aws:SourceArn": [
            "arn:aws:ses:eu-west-1:111122223333:receipt-rule-set/test-rules:receipt-rule/support"
        ],
    }


def test_raw_messages_expire_when_asked(multi_route_template: Template) -> None:
    multi_route_template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "Id": "ExpireRawMessages",
                        "Prefix": "raw/",
                        "ExpirationInDays": 30,
                        "Status": "Enabled",
                    },
                    # versioning is on: overwritten or deleted versions go after as long
                    {
                        "Id": "ExpireNoncurrentVersions",
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                        "Status": "Enabled",
                    },
                    # what the reference handler parsed from them goes with them
                    {
                        "Id": "ExpireParsedMessages",
                        "Prefix": "parsed/",
                        "ExpirationInDays": 30,
                        "Status": "Enabled",
                    },
                ]
            }
        },
    )


def test_subdomain_identity_with_mail_from(multi_route_template: Template) -> None:
    multi_route_template.has_resource_properties(
        "AWS::SES::EmailIdentity",
        {
            "EmailIdentity": "inbound.mail.example.com",
            "MailFromAttributes": {"MailFromDomain": "bounce.inbound.mail.example.com"},
        },
    )
    multi_route_template.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Type": "MX",
            "Name": "inbound.mail.example.com.",
            "ResourceRecords": ["10 inbound-smtp.eu-west-1.amazonaws.com"],
        },
    )
    multi_route_template.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Type": "MX",
            "Name": "bounce.inbound.mail.example.com.",
            "ResourceRecords": ["10 feedback-smtp.eu-west-1.amazonses.com"],
        },
    )
    multi_route_template.has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Type": "TXT",
            "Name": "bounce.inbound.mail.example.com.",
            "ResourceRecords": ['"v=spf1 include:amazonses.com ~all"'],
        },
    )

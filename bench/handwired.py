"""The demo stack's resources wired by hand with plain aws-cdk-lib L2 constructs.

The baseline of the synth benchmark: what a CDK user writes without this library to get the
same deployment as ``app.py``'s demo stack with a hosted zone. It imports nothing from
``ses_lambda_constructs``; the two Lambda functions use the same code directories (the
reference handler's pre-built bundle and the rule-set custom resource's source), passed in.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as ses_actions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

RULE_SET = "ses-lambda-demo-rules"
RULE = "ses-lambda-demo-inbox"
PROVIDER_CODE = (
    Path(__file__).resolve().parent.parent
    / "ses_lambda_constructs"
    / "custom_resources"
    / "rule_set"
)


class HandWiredStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler_asset: str,
        domain: str,
        recipients: list[str],
        hosted_zone_id: str,
        hosted_zone_name: str,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        zone = route53.PublicHostedZone.from_public_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=hosted_zone_id, zone_name=hosted_zone_name
        )

        # Verified domain: identity with Easy DKIM, the three DKIM CNAMEs and the inbound MX.
        identity = ses.EmailIdentity(self, "Identity", identity=ses.Identity.domain(domain))
        for i, (name, value) in enumerate(
            [
                (identity.dkim_dns_token_name1, identity.dkim_dns_token_value1),
                (identity.dkim_dns_token_name2, identity.dkim_dns_token_value2),
                (identity.dkim_dns_token_name3, identity.dkim_dns_token_value3),
            ],
            start=1,
        ):
            route53.CnameRecord(
                self,
                f"DkimRecord{i}",
                zone=zone,
                record_name=f"{name}.",
                domain_name=value,
                ttl=cdk.Duration.minutes(30),
            )
        route53.MxRecord(
            self,
            "InboundMx",
            zone=zone,
            record_name=domain,
            values=[
                route53.MxRecordValue(
                    host_name=f"inbound-smtp.{self.region}.amazonaws.com", priority=10
                )
            ],
            ttl=cdk.Duration.minutes(30),
        )

        rule_set = ses.ReceiptRuleSet(self, "RuleSet", receipt_rule_set_name=RULE_SET)

        bucket = s3.Bucket(
            self,
            "RawMessages",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

        # The handler: log group, a role that may log there only, read raw/ and write parsed/.
        handler_logs = logs.LogGroup(
            self,
            "HandlerLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        handler_role = iam.Role(
            self, "HandlerRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        handler_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[handler_logs.log_group_arn],
            )
        )
        function = lambda_.Function(
            self,
            "Handler",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.X86_64,
            handler="handler.lambda_handler",
            code=lambda_.Code.from_asset(handler_asset),
            memory_size=512,
            timeout=cdk.Duration.seconds(60),
            log_group=handler_logs,
            role=handler_role,
            logging_format=lambda_.LoggingFormat.JSON,
            description="hand-wired reference handler",
            environment={
                "RAW_MESSAGE_BUCKET": bucket.bucket_name,
                "RAW_MESSAGE_PREFIX": "raw/",
                "PARSED_PREFIX": "parsed/",
                "REJECT_ON_VERDICTS": "spam,virus",
                "MAX_MESSAGE_BYTES": "41943040",
                "POWERTOOLS_SERVICE_NAME": "ses-lambda-handler",
                "POWERTOOLS_METRICS_NAMESPACE": "SesLambdaConstructs",
            },
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[bucket.arn_for_objects("raw/*")]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["raw/*"]}},
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[bucket.arn_for_objects("parsed/*")]
            )
        )

        # Failed asynchronous invocations: SQS on-failure destination, retries, three alarms.
        queue = sqs.Queue(
            self,
            "FailedEvents",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(queue),
            retry_attempts=2,
            max_event_age=cdk.Duration.hours(6),
        )
        for alarm_id, metric, description in (
            ("Errors", function.metric_errors(period=cdk.Duration.minutes(5)), "handler errors"),
            ("Throttles", function.metric_throttles(period=cdk.Duration.minutes(5)), "throttles"),
            (
                "FailedEventsWaiting",
                queue.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(5)),
                "failed events waiting",
            ),
        ):
            metric.create_alarm(
                self,
                alarm_id,
                alarm_description=description,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

        # The invoke permission, pinned to this rule's ARN; ses_actions.Lambda reuses the
        # "AllowSes" permission it finds and makes the rule depend on it.
        rule_arn = self.format_arn(
            service="ses",
            resource="receipt-rule-set",
            resource_name=f"{RULE_SET}:receipt-rule/{RULE}",
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )
        function.add_permission(
            "AllowSes",
            principal=iam.ServicePrincipal("ses.amazonaws.com"),
            action="lambda:InvokeFunction",
            source_account=self.account,
            source_arn=rule_arn,
        )
        rule = ses.ReceiptRule(
            self,
            "Rule",
            rule_set=rule_set,
            receipt_rule_name=RULE,
            recipients=recipients,
            actions=[
                ses_actions.S3(bucket=bucket, object_key_prefix="raw/"),
                ses_actions.Lambda(
                    function=function, invocation_type=ses_actions.LambdaInvocationType.EVENT
                ),
            ],
            scan_enabled=True,
            tls_policy=ses.TlsPolicy.REQUIRE,
        )

        # Rule-set activation: a custom resource backed by the same provider code.
        provider_logs = logs.LogGroup(
            self, "ProviderLogs", retention=logs.RetentionDays.THREE_MONTHS
        )
        provider_role = iam.Role(
            self, "ProviderRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        provider_role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[provider_logs.log_group_arn],
            )
        )
        provider_role.add_to_policy(
            iam.PolicyStatement(
                actions=["ses:DescribeActiveReceiptRuleSet", "ses:SetActiveReceiptRuleSet"],
                resources=["*"],
            )
        )
        provider = lambda_.Function(
            self,
            "ActivationProvider",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(PROVIDER_CODE), exclude=["__pycache__", "*.pyc"]),
            timeout=cdk.Duration.minutes(2),
            role=provider_role,
            log_group=provider_logs,
        )
        activation = cdk.CustomResource(
            self,
            "Activation",
            service_token=provider.function_arn,
            resource_type="Custom::SesReceiptRuleSetActivation",
            properties={"Action": "activate", "RuleSetName": RULE_SET, "ReplaceActive": "false"},
        )
        activation.node.add_dependency(rule_set)
        activation.node.add_dependency(rule)

        cdk.CfnOutput(self, "RawMessageBucket", value=bucket.bucket_name)
        cdk.CfnOutput(self, "RuleSetName", value=RULE_SET)
        cdk.CfnOutput(self, "HandlerFunction", value=function.function_name)


def build_app(app: cdk.App, *, handler_asset: str) -> cdk.App:
    domain = str(app.node.try_get_context("domain") or "mail.example.com")
    recipients = str(app.node.try_get_context("recipients") or f"support@{domain}").split(",")
    HandWiredStack(
        app,
        "HandWiredDemo",
        handler_asset=handler_asset,
        domain=domain,
        recipients=[r.strip() for r in recipients if r.strip()],
        hosted_zone_id=str(app.node.try_get_context("hostedZoneId")),
        hosted_zone_name=str(app.node.try_get_context("hostedZoneName")),
        description="hand-wired baseline of the ses-lambda-constructs demo",
    )
    return app

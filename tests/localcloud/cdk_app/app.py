"""A small CDK app for the local cloud's tests: what the library's demo stack is made of, built
from aws-cdk-lib L2 constructs and the library's rule-set activation, with a tiny handler.

Context: ``recipients`` (comma-separated, default ``support@mail.example.com``), ``domain``
(default ``mail.example.com``), ``handlerVersion`` (an environment variable of the handler, to
make an update), ``invocationType`` (``Event`` or ``RequestResponse``), ``disposition``,
``withPolicyDependency`` (``false`` removes the rule's DependsOn on the bucket policy: a
deployment that must fail), ``stackName`` (default ``LocalCloudMini``).
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as ses_actions
from constructs import Construct

from ses_lambda_constructs.rule_set import ReceiptRuleSetActivation

HERE = Path(__file__).resolve().parent
RULE_SET = "local-cloud-mini-rules"
RULE = "local-cloud-mini-inbox"


class MiniStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        context = self.node.try_get_context
        domain = str(context("domain") or "mail.example.com")
        recipients = str(context("recipients") or f"support@{domain}").split(",")
        invocation = str(context("invocationType") or "Event")
        bucket = s3.Bucket(
            self,
            "Raw",
            enforce_ssl=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        )
        environment = {
            "RAW_MESSAGE_BUCKET": bucket.bucket_name,
            "RAW_MESSAGE_PREFIX": "raw/",
            "PARSED_PREFIX": "parsed/",
            "HANDLER_VERSION": str(context("handlerVersion") or "1"),
        }
        if context("disposition"):
            environment["DISPOSITION"] = str(context("disposition"))
        function = lambda_.Function(
            self,
            "Handler",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="handler.lambda_handler",
            code=lambda_.Code.from_asset(str(HERE / "handler")),
            timeout=cdk.Duration.seconds(30),
            environment=environment,
        )
        bucket.grant_read_write(function)
        ses.EmailIdentity(self, "Identity", identity=ses.Identity.domain(domain))
        rule_set = ses.ReceiptRuleSet(self, "RuleSet", receipt_rule_set_name=RULE_SET)
        rule = rule_set.add_rule(
            "Inbox",
            receipt_rule_name=RULE,
            recipients=recipients,
            scan_enabled=True,
            actions=[
                ses_actions.S3(bucket=bucket, object_key_prefix="raw/"),
                ses_actions.Lambda(
                    function=function,
                    invocation_type=(
                        ses_actions.LambdaInvocationType.REQUEST_RESPONSE
                        if invocation == "RequestResponse"
                        else ses_actions.LambdaInvocationType.EVENT
                    ),
                ),
            ],
        )
        if str(context("withPolicyDependency") or "true") == "false":
            cfn_rule = rule.node.default_child
            assert isinstance(cfn_rule, cdk.CfnResource)
            cfn_rule.add_override("DependsOn", None)
        ReceiptRuleSetActivation(self, "Activation", rule_set=rule_set)
        cdk.CfnOutput(self, "BucketName", value=bucket.bucket_name)
        cdk.CfnOutput(self, "FunctionName", value=function.function_name)
        cdk.CfnOutput(self, "RuleSetName", value=RULE_SET)
        _ = iam


def build(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    MiniStack(app, str(app.node.try_get_context("stackName") or "LocalCloudMini"))
    return app


if __name__ == "__main__":
    build().synth()

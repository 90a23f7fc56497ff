#!/usr/bin/env python3
"""Demo CDK app: one env-agnostic stack that receives mail for a domain into the reference handler.

Configured by context (``cdk.json`` or ``-c key=value``):

- ``domain``: the receiving domain (default ``mail.example.com``);
- ``hostedZoneId`` and ``hostedZoneName``: a public Route 53 zone that holds the domain; when
  given, the DKIM and MX records are written into it (never looked up);
- ``recipients``: comma-separated addresses or domains to receive (default ``support@<domain>``);
- ``activateRuleSet``: make the demo's rule set the active one (default ``true``);
- ``replaceActiveRuleSet``: replace another active rule set (default ``false``);
- ``hardened``: build the hardened configuration (default ``false``; README, "Hardened
  configuration"): a customer managed key, functions in a private VPC with endpoints, access
  logs, a replica bucket and an alarm topic;
- ``nag``: check the app with cdk-nag while synthesizing (default ``false``; needs the dev
  dependencies): the AwsSolutions and Serverless packs, and with ``hardened=true`` also HIPAA
  Security, NIST 800-53 R5 and PCI DSS 3.2.1. Findings fail the synth and are written to
  ``validation-report.json`` in the cloud assembly;
- ``stackName``: default ``SesLambdaDemo``.

The stack also subscribes a small consumer of its own (``TicketFunction``) to the "Email
Received" events of the demo recipients: it writes ``tickets/<messageId>.json`` to the bucket.

It needs no AWS credentials and no network to synthesize.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from ses_lambda_constructs import (
    EmailReceiver,
    EmailTarget,
    FunctionHardening,
    PrivateNetwork,
    Route,
)
from ses_lambda_constructs.acknowledgments import acknowledge, acknowledge_inline_policy


def context_flag(app: cdk.App, key: str, default: bool) -> bool:
    value = app.node.try_get_context(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if str(value).lower() in {"true", "1", "yes"}:
        return True
    if str(value).lower() in {"false", "0", "no"}:
        return False
    raise ValueError(f"context {key!r} must be true or false; got {value!r}")


def context_list(app: cdk.App, key: str, default: list[str]) -> list[str]:
    value = app.node.try_get_context(key)
    if value is None:
        return default
    if isinstance(value, list):
        return [str(item).strip() for item in value]
    return [item.strip() for item in str(value).split(",") if item.strip()]


class HardenedSupport(Construct):
    """What ``EmailReceiver(hardened=True)`` needs from its app, defined in the same stack.

    A customer managed key, a private network for the functions, a bucket for the access logs,
    a replica bucket and an alarm topic. In production, the replica belongs in another region
    or account and the topic has subscribers; here they show the wiring.
    """

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description="ses-lambda-constructs demo: mail, logs, queues and alarms",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.hardening = FunctionHardening(encryption_key=self.key)
        self.network = PrivateNetwork(self, "Network", hardening=self.hardening)
        # S3 delivers access logs only into a bucket with SSE-S3 default encryption.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        for rule, reason in (
            (
                "S3DefaultEncryptionKMS",
                "S3 server access logging delivers only into buckets whose default encryption "
                "is SSE-S3; SSE-KMS is not supported for a log target.",
            ),
            (
                "S3BucketLoggingEnabled",
                "This is the access-log target itself; logging it into another bucket would "
                "need that one logged in turn.",
            ),
            (
                "S3BucketReplicationEnabled",
                "Access logs are an audit trail of the mail bucket, not mail: the mail bucket "
                "itself is the one replicated.",
            ),
        ):
            for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
                acknowledge(self.access_logs, f"{pack}-{rule}", reason)
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This is the access-log target itself; logging it into another bucket would need "
            "that one logged in turn.",
        )
        self.replica = s3.Bucket(
            self,
            "Replica",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="replica/",
        )
        for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(
                self.replica,
                f"{pack}-S3BucketReplicationEnabled",
                "This bucket is the replica of the mail bucket; replicating the replica would "
                "only chain copies.",
            )
        self.alarm_topic = sns.Topic(
            self, "Alarms", master_key=self.key, enforce_ssl=True, display_name="Mail alarms"
        )
        # CloudWatch publishes alarm notifications to the encrypted topic with this key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )


#: The demo's consumer: records a ticket per "Email Received" event, keyed by the message id
#: (the events' idempotency key: a redelivered event rewrites the same ticket).
TICKET_CODE = """
import json
import os

import boto3

s3 = boto3.client("s3")


def handler(event, context):
    detail = event["detail"]
    text = detail.get("text") or {}
    ticket = {
        "ticket": detail["messageId"],
        "receivedAt": detail["receivedAt"],
        "from": detail["envelope"]["source"],
        "to": detail["envelope"]["recipients"],
        "subject": detail["headers"]["subject"],
        "preview": (text.get("content") or "")[:200],
        "attachments": [a["filename"] for a in detail["attachments"]],
        "message": detail["location"]["messageKey"],
    }
    key = os.environ["TICKET_PREFIX"] + detail["messageId"] + ".json"
    s3.put_object(
        Bucket=os.environ["TICKET_BUCKET"],
        Key=key,
        Body=json.dumps(ticket, indent=2).encode(),
        ContentType="application/json",
    )
    print(json.dumps({"ticket": key, "subject": ticket["subject"]}))
    return {"ticket": key}
"""


class TicketFunction(Construct):
    """The demo's consumer function: writes ``tickets/<messageId>.json`` to ``bucket``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: s3.IBucket,
        hardening: FunctionHardening | None = None,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, id)
        hardening = hardening or FunctionHardening()
        log_group = hardening.log_group(self, "Logs")
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        acknowledge_inline_policy(role)
        self.function = hardening.function(
            self,
            "Function",
            role=role,
            log_group=log_group,
            memory_size=256,
            reserved_concurrency=reserved_concurrency,
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_inline(TICKET_CODE),
            timeout=cdk.Duration.seconds(30),
            description="ses-lambda-constructs demo: a ticket per received message",
            environment={"TICKET_BUCKET": bucket.bucket_name, "TICKET_PREFIX": "tickets/"},
        )
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["s3:PutObject"],
            resource_arns=[bucket.arn_for_objects("tickets/*")],
        )
        if bucket.encryption_key is not None:
            # PutObject into an SSE-KMS bucket needs kms:GenerateDataKey on its key (S3 User
            # Guide, "Using server-side encryption with AWS KMS keys (SSE-KMS)").
            bucket.encryption_key.grant(self.function, "kms:GenerateDataKey")
        bucket_ref = cdk.Stack.of(self).get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{bucket_ref}.Arn>/tickets/*]",
                reason="Ticket keys are message ids, known only when mail arrives; the grant is "
                "one action on the tickets/ prefix only.",
            )
        )


class DemoStack(cdk.Stack):
    """Mail to the demo recipients is stored in S3, parsed by the reference handler, and
    announced on the receiver's bus, where the demo's ticket function is subscribed."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain: str,
        recipients: list[str],
        hosted_zone_id: str | None = None,
        hosted_zone_name: str | None = None,
        activate_rule_set: bool = True,
        replace_active_rule_set: bool = False,
        hardened: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        if hardened:
            # Access-log delivery by bucket policy (as cdk.json sets for the CLI), since the log
            # bucket enforces object ownership and so takes no ACLs.
            self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        zone = None
        if hosted_zone_id or hosted_zone_name:
            if not (hosted_zone_id and hosted_zone_name):
                raise ValueError("context hostedZoneId and hostedZoneName must be given together")
            zone = route53.PublicHostedZone.from_public_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=hosted_zone_id, zone_name=hosted_zone_name
            )
        hardened_props: dict[str, object] = {}
        ticket_hardening = None
        if hardened:
            support = HardenedSupport(self, "Hardened")
            hardened_props = {
                "hardened": True,
                "encryption_key": support.key,
                "function_hardening": support.network.function_hardening(support.hardening),
                "server_access_logs_bucket": support.access_logs,
                "replication_destination": support.replica,
                "alarm_topic": support.alarm_topic,
            }
            ticket_hardening = support.network.function_hardening(support.hardening)
        self.receiver = EmailReceiver(
            self,
            "Receiver",
            domain_name=domain,
            hosted_zone=zone,
            rule_set_name="ses-lambda-demo-rules",
            activate_rule_set=activate_rule_set,
            replace_active_rule_set=replace_active_rule_set,
            routes=[Route(id="Inbox", rule_name="ses-lambda-demo-inbox", recipients=recipients)],
            **hardened_props,  # type: ignore[arg-type]
        )
        assert self.receiver.bucket is not None
        # The demo's own consumer: a ticket for every processed message to the recipients.
        self.tickets = TicketFunction(
            self,
            "Tickets",
            bucket=self.receiver.bucket,
            hardening=ticket_hardening,
            reserved_concurrency=2 if hardened else None,
        )
        self.receiver.subscribe(
            "Tickets", EmailTarget.function(self.tickets.function), recipients=recipients
        )
        # Mail flow, failures, latency and alarms on one CloudWatch dashboard (defined last, so
        # that it shows the subscription above).
        self.dashboard = self.receiver.dashboard()
        cdk.CfnOutput(self, "RawMessageBucket", value=self.receiver.bucket.bucket_name)
        cdk.CfnOutput(self, "RuleSetName", value=self.receiver.rule_set_name)
        cdk.CfnOutput(
            self, "HandlerFunction", value=self.receiver.reference_handler().function.function_name
        )
        cdk.CfnOutput(self, "EventBusName", value=self.receiver.event_bus.event_bus_name)
        cdk.CfnOutput(self, "TicketFunction", value=self.tickets.function.function_name)


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    domain = str(app.node.try_get_context("domain") or "mail.example.com")
    DemoStack(
        app,
        str(app.node.try_get_context("stackName") or "SesLambdaDemo"),
        domain=domain,
        recipients=context_list(app, "recipients", [f"support@{domain}"]),
        hosted_zone_id=app.node.try_get_context("hostedZoneId"),
        hosted_zone_name=app.node.try_get_context("hostedZoneName"),
        activate_rule_set=context_flag(app, "activateRuleSet", True),
        replace_active_rule_set=context_flag(app, "replaceActiveRuleSet", False),
        hardened=context_flag(app, "hardened", False),
        description="ses-lambda-constructs demo: SES inbound mail into Lambda",
    )
    if context_flag(app, "nag", False):
        add_nag_packs(app, all_packs=context_flag(app, "hardened", False))
    return app


def add_nag_packs(app: cdk.App, *, all_packs: bool) -> None:
    """cdk-nag as policy-validation plugins: findings fail the synth."""
    import cdk_nag  # a dev dependency: only needed when asked for

    packs: list[type] = [cdk_nag.AwsSolutionsChecks, cdk_nag.ServerlessChecks]
    if all_packs:
        packs += [cdk_nag.HIPAASecurityChecks, cdk_nag.NIST80053R5Checks, cdk_nag.PCIDSS321Checks]
    cdk.Validations.of(app).add_plugins(*(pack(app) for pack in packs))


if __name__ == "__main__":
    build_app().synth()

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
  configuration"): a customer managed key, functions in a private VPC with endpoints (Secrets
  Manager's too, for the reply-address keys), access logs, a replica bucket and an alarm topic;
- ``nag``: check the app with cdk-nag while synthesizing (default ``false``; needs the dev
  dependencies): the AwsSolutions and Serverless packs, and with ``hardened=true`` also HIPAA
  Security, NIST 800-53 R5 and PCI DSS 3.2.1. Findings fail the synth and are written to
  ``validation-report.json`` in the cloud assembly;
- ``stackName``: default ``SesLambdaDemo``.

The stack also subscribes a small ticket desk of its own (``TicketFunction``) to the "Email
Received" events of people's mail (``kinds=[MailKind.PERSON]``) to the demo recipients: it writes
``tickets/<messageId>.json`` to the bucket. A message to a signed reply address whose token is
valid adds to the ticket the token names; any other opens a ticket, acknowledged with an
automatic reply from ``support+<token>@`` (the reader layer's ``build_reply``, sent with SES v2)
unless the reply must not be sent (an unauthenticated sender, RFC 3834 section 2).

It needs no AWS credentials and no network to synthesize.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
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
    MailKind,
    PrivateNetwork,
    ReplyAddressKeys,
    Route,
)
from ses_lambda_constructs.acknowledgments import acknowledge, acknowledge_inline_policy
from ses_lambda_constructs.network import DEFAULT_INTERFACE_SERVICES, TRACING_INTERFACE_SERVICES


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


def support_address(recipients: list[str], domain: str) -> str:
    """The address the ticket desk answers from: the first recipient that is an address, else
    ``support@`` the first recipient domain (or the receiving domain)."""
    for recipient in recipients:
        if "@" in recipient:
            return recipient
    first = recipients[0].lstrip(".") if recipients else domain
    return f"support@{first}"


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
        # The library's endpoints, and Secrets Manager's: the handler and the ticket desk read the
        # reply-address keys from inside the VPC, which has no other way out.
        self.network = PrivateNetwork(
            self,
            "Network",
            hardening=self.hardening,
            interface_services=(
                *DEFAULT_INTERFACE_SERVICES,
                *(TRACING_INTERFACE_SERVICES if self.hardening.tracing else ()),
                ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            ),
        )
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


#: The demo's ticket desk: a record per "Email Received" event of a person's message, keyed by
#: the message id (the events' idempotency key: a redelivered event rewrites the same record).
#: The acknowledgement is sent before the record is written, so an invocation that fails after
#: sending (EventBridge then retries it) acknowledges twice; a desk that must never do that keeps
#: the acknowledgements it sent (it would need to read them back: more than this demo grants).
TICKET_CODE = """
import json
import os

import boto3
from ses_mail import ReplyAddresses
from ses_mail.reader import ReceivedEmail
from ses_mail.replying import build_reply, refusal

_clients = {}


def client(name):
    if name not in _clients:
        _clients[name] = boto3.client(name)
    return _clients[name]


def handler(event, context):
    detail = event["detail"]
    mail = ReceivedEmail.from_event(event)
    conversation = mail.conversation
    token = conversation.reply_address if conversation else None
    text = detail.get("text") or {}
    key = os.environ["TICKET_PREFIX"] + mail.message_id + ".json"
    record = {
        "messageId": mail.message_id,
        "receivedAt": detail["receivedAt"],
        "from": detail["envelope"]["source"],
        "to": detail["envelope"]["recipients"],
        "subject": detail["headers"]["subject"],
        "preview": (text.get("content") or "")[:200],
        "attachments": [a["filename"] for a in detail["attachments"]],
        "message": detail["location"]["messageKey"],
        "thread": conversation.thread_id if conversation else None,
    }
    if token is not None and token.valid:
        # A reply to an acknowledgement: the ticket id came back in the signed address.
        record.update(ticket=token.payload, new=False, reply=conversation.reply_text)
        result = {"record": key, "ticket": token.payload, "new": False}
    else:
        ticket = mail.message_id[:16]
        record.update(ticket=ticket, new=True)
        result = {"record": key, "ticket": ticket, "new": True}
        why = refusal(mail)
        if why is not None:
            result.update(acknowledged=False, why=why)
        else:
            keys = ReplyAddresses.from_secret(client("secretsmanager"), os.environ["REPLY_KEYS"])
            reply = build_reply(
                mail,
                text=f"Your ticket {ticket} is open. Reply to this message to add to it.",
                from_address=keys.mint(os.environ["SUPPORT_ADDRESS"], ticket),
            )
            sent = client("sesv2").send_email(**reply.send_email_request())
            result.update(
                acknowledged=True, replyFrom=reply.from_address, sesMessageId=sent["MessageId"]
            )
    record["result"] = result
    client("s3").put_object(
        Bucket=os.environ["TICKET_BUCKET"],
        Key=key,
        Body=json.dumps(record, indent=2).encode(),
        ContentType="application/json",
    )
    print(json.dumps(result))
    return result
"""


class TicketFunction(Construct):
    """The demo's ticket desk: writes ``tickets/<messageId>.json`` to ``bucket`` and acknowledges
    new tickets from a signed reply address of ``support_address``."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: s3.IBucket,
        receiver: EmailReceiver,
        reply_keys: ReplyAddressKeys,
        support_address: str,
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
            layers=[receiver.reader_layer()],
            timeout=cdk.Duration.seconds(30),
            description="ses-lambda-constructs demo: a ticket per received message",
            environment={
                "TICKET_BUCKET": bucket.bucket_name,
                "TICKET_PREFIX": "tickets/",
                "SUPPORT_ADDRESS": support_address,
                "REPLY_KEYS": reply_keys.secret.secret_arn,
            },
        )
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["s3:PutObject"],
            resource_arns=[bucket.arn_for_objects("tickets/*")],
        )
        reply_keys.grant_read(self.function)  # to mint the reply addresses
        receiver.grant_send_replies(self.function)  # from the receiving addresses only
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
        keys_key: kms.IKey | None = None
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
            keys_key = support.key
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
        # Signed reply addresses: the handler verifies support+<token>@, the desk mints them.
        self.reply_keys = self.receiver.reply_addresses(
            ReplyAddressKeys(
                self.receiver,
                "ReplyAddressKeys",
                encryption_key=keys_key,
            )
        )
        if hardened:
            for pack in ("HIPAA.Security", "NIST.800.53.R5"):
                acknowledge(
                    self.reply_keys.secret,
                    f"{pack}-SecretsManagerRotationEnabled",
                    "Rotating the reply-address keys means writing a new current key and keeping "
                    "the old one as previous; no rotation function is deployed for the demo, and "
                    "replies to addresses minted with the old key still verify meanwhile.",
                )
        # The demo's own ticket desk: people's mail to the recipients (out-of-office answers,
        # bounces and list mail open no ticket and get no reply).
        self.tickets = TicketFunction(
            self,
            "Tickets",
            bucket=self.receiver.bucket,
            receiver=self.receiver,
            reply_keys=self.reply_keys,
            support_address=support_address(recipients, domain),
            hardening=ticket_hardening,
            reserved_concurrency=2 if hardened else None,
        )
        self.receiver.subscribe(
            "Tickets",
            EmailTarget.function(self.tickets.function),
            recipients=recipients,
            kinds=[MailKind.PERSON],
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
        cdk.CfnOutput(self, "ReplyAddressKeys", value=self.reply_keys.secret.secret_arn)


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

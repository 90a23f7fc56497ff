#!/usr/bin/env python3
"""Composing the constructs in your own CDK app: a support inbox and a sync reply hook.

Run it like any CDK app (``cdk synth --app "python examples/support_inbox.py"``); the tests
synthesize it both from the repository and from an installed wheel.
"""

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_ses_actions as ses_actions
from constructs import Construct

from ses_lambda_constructs import EmailReceiver, Route, Verdict


class SupportInboxStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        zone = route53.PublicHostedZone.from_public_hosted_zone_attributes(
            self, "Zone", hosted_zone_id="Z0123456789ABCDEFGHIJ", zone_name="example.com"
        )
        replies = lambda_.Function(
            self,
            "Replies",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline(
                "def handler(event, context):\n    return {'disposition': 'CONTINUE'}\n"
            ),
        )
        receiver = EmailReceiver(
            self,
            "Inbound",
            domain_name="support.example.com",
            hosted_zone=zone,
            rule_set_name="support-inbound",
            activate_rule_set=True,
            raw_message_expiration=cdk.Duration.days(90),
            reject_on_verdicts=[Verdict.SPAM, Verdict.VIRUS, Verdict.DMARC],
            routes=[
                Route(id="Tickets", rule_name="tickets", recipients=["help@support.example.com"]),
                Route(
                    id="Replies",
                    rule_name="replies",
                    recipients=["reply@support.example.com"],
                    function=replies,
                    invocation_type=ses_actions.LambdaInvocationType.REQUEST_RESPONSE,
                ),
            ],
        )
        # Your own code can read what the reference handler writes.
        assert receiver.bucket is not None
        cdk.CfnOutput(self, "Bucket", value=receiver.bucket.bucket_name)


app = cdk.App()
SupportInboxStack(
    app, "SupportInbox", env=cdk.Environment(account="111122223333", region="eu-west-1")
)
app.synth()

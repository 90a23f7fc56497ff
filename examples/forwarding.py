#!/usr/bin/env python3
"""Forwarding received mail to existing mailboxes, for two domains in one receiver.

``support@`` goes to two people, ``billing@`` to a third (both on ``example.com``, whose
verified domain identity and Easy DKIM sign the copies); mail to ``orders@shop.example.net``
is parsed by the reference handler. One rule set, one bucket.

Run it like any CDK app (``cdk synth --app "python examples/forwarding.py"``); a test
synthesizes it.
"""

import aws_cdk as cdk
from aws_cdk import aws_route53 as route53
from constructs import Construct

from ses_lambda_constructs import Domain, EmailReceiver, ForwardingRoute, Route, Verdict


class ForwardingStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        zone = route53.PublicHostedZone.from_public_hosted_zone_attributes(
            self, "Zone", hosted_zone_id="Z0123456789ABCDEFGHIJ", zone_name="example.com"
        )
        receiver = EmailReceiver(
            self,
            "Inbound",
            domain_name="example.com",
            hosted_zone=zone,
            # The second domain's DNS is elsewhere: its records become stack outputs.
            domains=[Domain(domain_name="shop.example.net")],
            rule_set_name="forwarding-inbound",
            activate_rule_set=True,
            routes=[
                ForwardingRoute(
                    id="Forward",
                    rule_name="forward",
                    recipients=["support@example.com", "billing@example.com"],
                    destination_map={
                        "support@example.com": ["jane@example.org", "omar@example.org"],
                        "billing@example.com": ["accounts@example.org"],
                    },
                    # Also refuse mail whose sender's domain disowns it.
                    reject_on_verdicts=[Verdict.SPAM, Verdict.VIRUS, Verdict.DMARC],
                ),
                Route(id="Orders", rule_name="orders", recipients=["orders@shop.example.net"]),
            ],
        )
        assert receiver.bucket is not None
        cdk.CfnOutput(self, "Bucket", value=receiver.bucket.bucket_name)


app = cdk.App()
ForwardingStack(app, "Forwarding", env=cdk.Environment(account="111122223333", region="eu-west-1"))
app.synth()

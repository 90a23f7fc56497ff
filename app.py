#!/usr/bin/env python3
"""Demo CDK app: one env-agnostic stack that receives mail for a domain into the reference handler.

Configured by context (``cdk.json`` or ``-c key=value``):

- ``domain``: the receiving domain (default ``mail.example.com``);
- ``hostedZoneId`` and ``hostedZoneName``: a public Route 53 zone that holds the domain; when
  given, the DKIM and MX records are written into it (never looked up);
- ``recipients``: comma-separated addresses or domains to receive (default ``support@<domain>``);
- ``activateRuleSet``: make the demo's rule set the active one (default ``true``);
- ``replaceActiveRuleSet``: replace another active rule set (default ``false``);
- ``stackName``: default ``SesLambdaDemo``.

It needs no AWS credentials and no network to synthesize.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_route53 as route53
from constructs import Construct

from ses_lambda_constructs import EmailReceiver, Route


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


class DemoStack(cdk.Stack):
    """Mail to the demo recipients is stored in S3 and parsed by the reference handler."""

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
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        zone = None
        if hosted_zone_id or hosted_zone_name:
            if not (hosted_zone_id and hosted_zone_name):
                raise ValueError("context hostedZoneId and hostedZoneName must be given together")
            zone = route53.PublicHostedZone.from_public_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=hosted_zone_id, zone_name=hosted_zone_name
            )
        self.receiver = EmailReceiver(
            self,
            "Receiver",
            domain_name=domain,
            hosted_zone=zone,
            rule_set_name="ses-lambda-demo-rules",
            activate_rule_set=activate_rule_set,
            replace_active_rule_set=replace_active_rule_set,
            routes=[Route(id="Inbox", rule_name="ses-lambda-demo-inbox", recipients=recipients)],
        )
        assert self.receiver.bucket is not None
        cdk.CfnOutput(self, "RawMessageBucket", value=self.receiver.bucket.bucket_name)
        cdk.CfnOutput(self, "RuleSetName", value=self.receiver.rule_set_name)
        cdk.CfnOutput(
            self, "HandlerFunction", value=self.receiver.reference_handler().function.function_name
        )


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
        description="ses-lambda-constructs demo: SES inbound mail into Lambda",
    )
    return app


if __name__ == "__main__":
    build_app().synth()

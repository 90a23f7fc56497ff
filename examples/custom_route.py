#!/usr/bin/env python3
"""A kind of route of your own, written against the route protocol.

``ArchiveRoute`` keeps the mail to its recipients in an archive bucket of its own (apart from
the receiver's raw messages, with its own expiration) and announces each message on an SNS
topic; no function runs. Like the library's ``Route`` and ``ForwardingRoute`` it is a frozen
dataclass of :class:`RuleOptions` with a ``bind(receiver)`` that defines what it needs inside
the receiver and returns its :class:`EmailRoute`.

Run it like any CDK app (``cdk synth --app "python examples/custom_route.py"``); a test
synthesizes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk.interfaces.aws_ses import IReceiptRuleRef
from constructs import Construct

from ses_lambda_constructs import (
    EmailReceiver,
    EmailRoute,
    IRouteReceiver,
    RawMessageStore,
    Route,
    RuleOptions,
    StoreRawMessage,
    receipt_rule_arn,
)


@jsii.implements(ses.IReceiptRuleAction)
class NotifyTopic:
    """SNS action whose topic lets SES publish for this one rule only.

    SES needs ``sns:Publish`` on the topic, granted by the topic's policy; the conditions
    ``aws:SourceAccount`` and ``aws:SourceArn`` (the receipt rule) keep another account's rule
    from publishing to it (Amazon SES Developer Guide, "Giving permissions to Amazon SES for
    email receiving").
    """

    def __init__(self, topic: sns.ITopic, *, rule_set_name: str, rule_name: str) -> None:
        self._topic = topic
        self._rule_set_name = rule_set_name
        self._rule_name = rule_name

    def bind(self, receipt_rule: IReceiptRuleRef) -> ses.ReceiptRuleActionConfig:
        stack = cdk.Stack.of(receipt_rule)
        self._topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self._topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": receipt_rule_arn(
                            stack, self._rule_set_name, self._rule_name
                        )
                    },
                },
            )
        )
        return ses.ReceiptRuleActionConfig(
            sns_action=ses.SNSActionConfig(topic_arn=self._topic.topic_arn, encoding="UTF-8")
        )


@dataclass(frozen=True, kw_only=True)
class ArchiveRoute(RuleOptions):
    """Mail to ``recipients`` is archived in a bucket of its own and announced on ``topic``."""

    topic: sns.ITopic
    #: Delete archived mail after this long. Default: kept forever.
    expiration: cdk.Duration | None = None
    object_key_prefix: str = "archive/"

    def bind(self, receiver: IRouteReceiver) -> EmailRoute:
        # The archive is a RawMessageStore of its own: an encrypted, private bucket whose
        # policy lets SES put objects for this route's rule only.
        archive = RawMessageStore(
            receiver.scope,
            f"{self.id}Archive",
            object_key_prefix=self.object_key_prefix,
            expiration=self.expiration,
        )
        return EmailRoute(
            receiver.scope,
            self.id,
            options=self,
            rule_set=receiver.rule_set,
            # The actions get the rule's name, which their permissions' conditions name.
            actions=lambda rule_name: [
                StoreRawMessage(archive, rule_set_name=receiver.rule_set_name, rule_name=rule_name),
                NotifyTopic(self.topic, rule_set_name=receiver.rule_set_name, rule_name=rule_name),
            ],
            after=receiver.last_rule,
        )


class CustomRouteStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        topic = sns.Topic(self, "Archived", enforce_ssl=True)
        self.receiver = EmailReceiver(
            self,
            "Inbound",
            domain_name="example.com",
            rule_set_name="custom-route-inbound",
            routes=[
                ArchiveRoute(
                    id="Legal",
                    rule_name="legal-archive",
                    recipients=["legal@example.com"],
                    topic=topic,
                    expiration=cdk.Duration.days(3650),
                ),
                Route(id="Support", rule_name="support", recipients=["support@example.com"]),
            ],
        )


def main(app: cdk.App | None = None) -> None:
    app = app or cdk.App()
    CustomRouteStack(
        app, "CustomRoute", env=cdk.Environment(account="111122223333", region="eu-west-1")
    )
    app.synth()


if __name__ == "__main__":
    main()

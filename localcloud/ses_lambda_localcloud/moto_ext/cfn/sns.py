"""``AWS::SNS::TopicPolicy`` and ``AWS::SNS::Subscription`` on moto's SNS backend."""

from __future__ import annotations

import json
from typing import Any

from ..moto_internals import sns_backends
from .base import LocalModel, properties


class TopicPolicy(LocalModel):
    RESOURCE_TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> TopicPolicy:
        props = properties(cloudformation_json)
        backend = sns_backends[account_id][region_name]
        for arn in props.get("Topics") or []:
            backend.set_topic_attribute(arn, "policy", json.dumps(props["PolicyDocument"]))
        return cls(resource_name, account_id, region_name, props)


class Subscription(LocalModel):
    RESOURCE_TYPE = "AWS::SNS::Subscription"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Subscription:
        props = properties(cloudformation_json)
        region = props.get("Region") or region_name
        backend = sns_backends[account_id][region]
        subscription = backend.subscribe(props["TopicArn"], props["Endpoint"], props["Protocol"])
        if props.get("RawMessageDelivery") in (True, "true"):
            subscription.attributes["RawMessageDelivery"] = "true"
        if props.get("FilterPolicy"):
            subscription.attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
        return cls(subscription.arn, account_id, region, props)

    def delete(self, account_id: str, region_name: str) -> None:
        sns_backends[account_id][self.region_name].unsubscribe(self.physical_resource_id)

"""``AWS::SQS::QueuePolicy`` on moto's SQS backend."""

from __future__ import annotations

import json
from typing import Any

from ..moto_internals import sqs_backends
from .base import LocalModel, properties


class QueuePolicy(LocalModel):
    RESOURCE_TYPE = "AWS::SQS::QueuePolicy"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> QueuePolicy:
        props = properties(cloudformation_json)
        policy = json.dumps(props["PolicyDocument"])
        backend = sqs_backends[account_id][region_name]
        for url in props.get("Queues") or []:
            backend.set_queue_attributes(url.rstrip("/").rsplit("/", 1)[-1], {"Policy": policy})
        return cls(resource_name, account_id, region_name, props)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = sqs_backends[account_id][region_name]
        for url in self.props.get("Queues") or []:
            name = url.rstrip("/").rsplit("/", 1)[-1]
            if name in backend.queues:
                backend.set_queue_attributes(name, {"Policy": ""})

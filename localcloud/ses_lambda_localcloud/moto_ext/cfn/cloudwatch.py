"""``AWS::CloudWatch::Alarm`` on moto's CloudWatch backend."""

from __future__ import annotations

from typing import Any

from ..moto_internals import cloudwatch_backends
from .base import LocalModel, properties


class Alarm(LocalModel):
    ATTRIBUTES = ("Arn",)
    RESOURCE_TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Alarm:
        props = properties(cloudformation_json)
        name = props.get("AlarmName") or resource_name
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=props.get("Namespace", ""),
            metric_name=props.get("MetricName", ""),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=int(props.get("Period", 60)),
            threshold=float(props.get("Threshold", 0)),
            statistic=props.get("Statistic", ""),
            description=props.get("AlarmDescription", ""),
            dimensions=[
                {"Name": d["Name"], "Value": d["Value"]} for d in props.get("Dimensions") or []
            ],
            alarm_actions=props.get("AlarmActions") or [],
            datapoints_to_alarm=props.get("DatapointsToAlarm"),
            ok_actions=props.get("OKActions") or [],
            insufficient_data_actions=props.get("InsufficientDataActions") or [],
            unit=props.get("Unit"),
            actions_enabled=props.get("ActionsEnabled", True) in (True, "true"),
            treat_missing_data=props.get("TreatMissingData"),
        )
        return cls(name, account_id, region_name, props)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Alarm,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Alarm:
        # put_metric_alarm overwrites by name; a new name is a replacement.
        name = (
            properties(cloudformation_json).get("AlarmName")
            or original_resource.physical_resource_id
        )
        if name != original_resource.physical_resource_id:
            original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            name, cloudformation_json, account_id, region_name
        )

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return (
                f"arn:aws:cloudwatch:{self.region_name}:{self.account_id}:alarm:"
                f"{self.physical_resource_id}"
            )
        return super().get_cfn_attribute(attribute_name)

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.physical_resource_id])

"""CloudFormation custom resource for SES receipt rule sets (runs in Lambda; stdlib + boto3).

CloudFormation cannot activate a receipt rule set (aws-cdk#10321), and only one set is active per
account and region, so activating one silently deactivates another. This handler does it safely:

``Action = "activate"`` (``Custom::SesReceiptRuleSetActivation``)
    Create/Update: activate ``RuleSetName`` when no set is active or it already is; when another
    set is active, replace it only if ``ReplaceActive`` is ``"true"``, else fail naming both.
    Delete: deactivate only if ``RuleSetName`` is still the active set.
``Action = "describe-active"`` (``Custom::SesActiveReceiptRuleSet``)
    Create/Update: return the active set's name as ``RuleSetName``; fail when none is active.
    Delete: nothing.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

import boto3

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

ses = boto3.client("ses")


class RuleSetError(Exception):
    """The request cannot be carried out safely; the message says why."""


def active_rule_set() -> str | None:
    metadata = ses.describe_active_receipt_rule_set().get("Metadata") or {}
    return metadata.get("Name")


def activate(
    request_type: str, props: dict[str, Any], physical_id: str | None
) -> tuple[str, dict[str, str]]:
    name = props.get("RuleSetName")
    if not name:
        raise RuleSetError("property RuleSetName is missing")
    replace = str(props.get("ReplaceActive", "false")).lower() == "true"
    active = active_rule_set()
    if request_type == "Delete":
        if active == name:
            ses.set_active_receipt_rule_set()
            LOGGER.info("deactivated receipt rule set %s", name)
        else:
            LOGGER.info("left active receipt rule set %s as it is (ours is %s)", active, name)
        return physical_id or f"activation:{name}", {}
    if active not in (None, name):
        if not replace:
            raise RuleSetError(
                f"receipt rule set {active!r} is active in this account and region; activating "
                f"{name!r} would deactivate it. Set replace_active_rule_set=True to replace it, "
                "or add your rules to the active set instead."
            )
        LOGGER.info("replacing active receipt rule set %s with %s", active, name)
    if active != name:
        ses.set_active_receipt_rule_set(RuleSetName=name)
    return f"activation:{name}", {"RuleSetName": name, "PreviouslyActive": active or ""}


def describe_active(request_type: str, physical_id: str | None) -> tuple[str, dict[str, str]]:
    if request_type == "Delete":
        return physical_id or "active-rule-set", {}
    active = active_rule_set()
    if not active:
        raise RuleSetError(
            "no receipt rule set is active in this account and region, so there is none to add "
            "rules to; define a rule set and activate it instead"
        )
    return "active-rule-set", {"RuleSetName": active}


def respond(
    event: dict[str, Any], status: str, reason: str, physical_id: str, data: dict[str, str]
) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:3000],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def handler(event: dict[str, Any], context: Any) -> None:
    request_type = event.get("RequestType", "")
    props = event.get("ResourceProperties") or {}
    physical_id = event.get("PhysicalResourceId")
    LOGGER.info("%s %s for %s", request_type, props.get("Action"), event.get("LogicalResourceId"))
    try:
        if props.get("Action") == "describe-active":
            physical_id, data = describe_active(request_type, physical_id)
        elif props.get("Action") == "activate":
            physical_id, data = activate(request_type, props, physical_id)
        else:
            raise RuleSetError(
                "property Action must be 'activate' or 'describe-active', "
                f"got {props.get('Action')!r}"
            )
    except Exception as error:  # reported to CloudFormation, which shows it in the stack events
        LOGGER.exception("request failed")
        respond(event, "FAILED", str(error), physical_id or "failed", {})
        return
    respond(event, "SUCCESS", "", physical_id, data)

"""The SES receiving types: ``AWS::SES::ReceiptRuleSet``, ``ReceiptRule`` and ``EmailIdentity``,
on moto's SES backend (which checks rules as SES does, see ``ses_checks``)."""

from __future__ import annotations

import hashlib
from typing import Any

from ..moto_internals import ses_backends
from .base import LocalModel, ResourceFailed, generated_name, properties, replacing


def _ses(account_id: str, region_name: str) -> Any:
    return ses_backends[account_id][region_name]


class ReceiptRuleSet(LocalModel):
    RESOURCE_TYPE = "AWS::SES::ReceiptRuleSet"
    NAME_PROPERTY = "RuleSetName"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ReceiptRuleSet:
        props = properties(cloudformation_json)
        name = props.get("RuleSetName") or generated_name(resource_name)
        _ses(account_id, region_name).create_receipt_rule_set(name)
        return cls(name, account_id, region_name, props)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: ReceiptRuleSet,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> ReceiptRuleSet:
        props = properties(cloudformation_json)
        if props.get("RuleSetName", original_resource.physical_resource_id) == (
            original_resource.physical_resource_id
        ):
            original_resource.props = props
            return original_resource
        # A new name replaces the set: the new one first, the old one in cleanup.
        return replacing(
            original_resource,
            cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            ),
        )

    def delete(self, account_id: str, region_name: str) -> None:
        # Refused by SES while the set is active, as on AWS ("You cannot delete the active rule
        # set": https://docs.aws.amazon.com/ses/latest/APIReference/API_DeleteReceiptRuleSet.html).
        _ses(account_id, region_name).delete_receipt_rule_set(self.physical_resource_id)


class ReceiptRule(LocalModel):
    RESOURCE_TYPE = "AWS::SES::ReceiptRule"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> ReceiptRule:
        props = properties(cloudformation_json)
        rule = dict(props.get("Rule") or {})
        rule.setdefault("Name", generated_name(resource_name))
        # SES checks the bucket policy and the function policy here (see ses_checks).
        _ses(account_id, region_name).create_receipt_rule(
            props["RuleSetName"], rule, props.get("After") or None
        )
        return cls(rule["Name"], account_id, region_name, {**props, "Rule": rule})

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: ReceiptRule,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> ReceiptRule:
        props = properties(cloudformation_json)
        rule = dict(props.get("Rule") or {})
        rule.setdefault("Name", original_resource.physical_resource_id)
        old = original_resource.props
        if props["RuleSetName"] != old["RuleSetName"] or rule["Name"] != old["Rule"]["Name"]:
            # Replacement: create the new rule now; the engine deletes the old one afterwards.
            return replacing(
                original_resource,
                cls.create_from_cloudformation_json(
                    new_resource_name,
                    {"Properties": {**props, "Rule": rule}},
                    account_id,
                    region_name,
                ),
            )
        backend = _ses(account_id, region_name)
        backend.update_receipt_rule(props["RuleSetName"], rule)
        if (props.get("After") or None) != (old.get("After") or None):
            backend.set_receipt_rule_position(
                props["RuleSetName"], rule["Name"], props.get("After") or None
            )
        original_resource.props = {**props, "Rule": rule}
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        _ses(account_id, region_name).delete_receipt_rule(
            self.props["RuleSetName"], self.physical_resource_id
        )


class EmailIdentity(LocalModel):
    """A domain or address identity; the local cloud treats it as verified at once."""

    ATTRIBUTES = tuple(f"DkimDNSToken{kind}{n}" for kind in ("Name", "Value") for n in (1, 2, 3))

    RESOURCE_TYPE = "AWS::SES::EmailIdentity"
    NAME_PROPERTY = "EmailIdentity"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> EmailIdentity:
        props = properties(cloudformation_json)
        identity = props["EmailIdentity"]
        backend = _ses(account_id, region_name)
        if identity in backend.email_identities:
            raise ResourceFailed(f"Email identity {identity} already exists")
        dkim = props.get("DkimSigningAttributes") or {"SigningAttributesOrigin": "AWS_SES"}
        config_set = (props.get("ConfigurationSetAttributes") or {}).get("ConfigurationSetName")
        backend.create_email_identity_v2(identity, props.get("Tags"), dkim, config_set)
        return cls(identity, account_id, region_name, props)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: EmailIdentity,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> EmailIdentity:
        props = properties(cloudformation_json)
        if props["EmailIdentity"] != original_resource.physical_resource_id:
            return replacing(
                original_resource,
                cls.create_from_cloudformation_json(
                    new_resource_name, cloudformation_json, account_id, region_name
                ),
            )
        original_resource.props = props
        return original_resource

    def _tokens(self) -> list[str]:
        seed = f"{self.account_id}:{self.region_name}:{self.physical_resource_id}"
        return [hashlib.sha1(f"{seed}:{n}".encode()).hexdigest()[:32] for n in (1, 2, 3)]

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if not attribute_name.startswith("DkimDNSToken"):
            return super().get_cfn_attribute(attribute_name)
        kind, n = attribute_name[len("DkimDNSToken") : -1], int(attribute_name[-1])
        token = self._tokens()[n - 1]
        if kind == "Name":
            return f"{token}._domainkey.{self.physical_resource_id}"
        return f"{token}.dkim.amazonses.com"

    def delete(self, account_id: str, region_name: str) -> None:
        _ses(account_id, region_name).email_identities.pop(self.physical_resource_id, None)

"""SES receiving: rule creation checked as SES checks it, and the rule APIs moto lacks."""

from __future__ import annotations

from typing import Any

from .. import ses_checks
from ..moto_internals import (
    AlreadyExists,
    EmailResponse,
    EmptyResult,
    InvalidParameterValue,
    RuleDoesNotExist,
    RuleSetDoesNotExist,
    SESBackend,
)
from .patching import patch


def apply() -> None:
    _patch_ses()


def _patch_ses() -> None:
    @patch(SESBackend, "create_receipt_rule")
    def create_receipt_rule(
        self: SESBackend, rule_set_name: str, rule: dict[str, Any], after: str | None
    ) -> None:
        rule_set = self.receipt_rule_set.get(rule_set_name)
        if rule_set is not None:
            # Moto compared whole rule dicts, so a second rule with the same name got in.
            if any(r["Name"] == rule.get("Name") for r in rule_set.rules):
                raise AlreadyExists(f"Rule already exists: {rule['Name']}")
            ses_checks.check_rule(self, rule_set_name, rule, existing=len(rule_set.rules))
        create_receipt_rule.original(self, rule_set_name, rule, after)  # type: ignore[attr-defined]

    @patch(SESBackend, "_validate_iam_role")
    def _validate_iam_role(self: SESBackend, role_arn: str) -> None:
        # Moto looks the S3 action's IamRoleArn up among role ids, so no role was ever found.
        if ses_checks.find_role(self, role_arn) is None:
            raise InvalidParameterValue("Could not assume the provided IAM role")

    @patch(SESBackend, "update_receipt_rule")
    def update_receipt_rule(self: SESBackend, rule_set_name: str, rule: dict[str, Any]) -> None:
        rule_set = self.receipt_rule_set.get(rule_set_name)
        if rule_set is not None and any(r["Name"] == rule.get("Name") for r in rule_set.rules):
            ses_checks.check_rule(self, rule_set_name, rule, existing=None)
        update_receipt_rule.original(self, rule_set_name, rule)  # type: ignore[attr-defined]

    def delete_receipt_rule(self: SESBackend, rule_set_name: str, rule_name: str) -> None:
        # Not implemented by moto.
        rule_set = self.receipt_rule_set.get(rule_set_name)
        if rule_set is None:
            raise RuleSetDoesNotExist(f"Rule set does not exist: {rule_set_name}")
        rule_set.rules = [r for r in rule_set.rules if r["Name"] != rule_name]

    def set_receipt_rule_position(
        self: SESBackend, rule_set_name: str, rule_name: str, after: str | None
    ) -> None:
        # Not implemented by moto.
        rule_set = self.receipt_rule_set.get(rule_set_name)
        if rule_set is None:
            raise RuleSetDoesNotExist(f"Rule set does not exist: {rule_set_name}")
        rule = next((r for r in rule_set.rules if r["Name"] == rule_name), None)
        if rule is None:
            raise RuleDoesNotExist(f"Rule does not exist: {rule_name}")
        rules = [r for r in rule_set.rules if r is not rule]
        if not after:
            rules.insert(0, rule)
        else:
            index = next((i for i, r in enumerate(rules) if r["Name"] == after), None)
            if index is None:
                raise RuleDoesNotExist(f"Rule does not exist: {after}")
            rules.insert(index + 1, rule)
        rule_set.rules = rules

    SESBackend.delete_receipt_rule = delete_receipt_rule  # type: ignore[attr-defined]
    SESBackend.set_receipt_rule_position = set_receipt_rule_position  # type: ignore[attr-defined]

    def delete_receipt_rule_response(self: EmailResponse) -> EmptyResult:
        backend: Any = self.backend  # with the methods added above
        backend.delete_receipt_rule(self._get_param("RuleSetName"), self._get_param("RuleName"))
        return EmptyResult()

    def set_receipt_rule_position_response(self: EmailResponse) -> EmptyResult:
        backend: Any = self.backend  # with the methods added above
        backend.set_receipt_rule_position(
            self._get_param("RuleSetName"),
            self._get_param("RuleName"),
            self._get_param("After") or None,
        )
        return EmptyResult()

    EmailResponse.delete_receipt_rule = delete_receipt_rule_response  # type: ignore[attr-defined]
    EmailResponse.set_receipt_rule_position = set_receipt_rule_position_response  # type: ignore[attr-defined]

"""Receipt-rule actions that wire their own permissions, with confused-deputy conditions.

The aws-cdk ``aws_ses_actions`` module grants SES access with an ``aws:SourceAccount`` condition
only. These actions also pin ``aws:SourceArn`` to the one receipt rule that uses them. The ARN is
built from the rule set's and rule's fixed names, never from the rule's own tokens: a policy that
references the rule while the rule depends on the policy is the cycle behind aws-cdk#30143.
"""

from __future__ import annotations

import jsii
from aws_cdk import Annotations, ArnFormat, Names, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as ses_actions
from aws_cdk.interfaces.aws_ses import IReceiptRuleRef
from constructs import IConstruct

from .limits import validate_name
from .storage import SES_PRINCIPAL, RawMessageStore

# CloudFormation's spelling of each invocation type (the Python enum's values are its names).
_INVOCATION_TYPES = {
    ses_actions.LambdaInvocationType.EVENT: "Event",
    ses_actions.LambdaInvocationType.REQUEST_RESPONSE: "RequestResponse",
}


def receipt_rule_arn(scope: IConstruct, rule_set_name: str, rule_name: str) -> str:
    """``arn:<partition>:ses:<region>:<account>:receipt-rule-set/<set>:receipt-rule/<rule>``."""
    validate_name("rule_set_name", rule_set_name)
    validate_name("rule_name", rule_name)
    return Stack.of(scope).format_arn(
        service="ses",
        resource="receipt-rule-set",
        resource_name=f"{rule_set_name}:receipt-rule/{rule_name}",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


@jsii.implements(ses.IReceiptRuleAction)
class StoreRawMessage:
    """S3 action: store the raw message at ``<prefix><messageId>`` in a :class:`RawMessageStore`.

    Binding it adds the SES put statement to the store's bucket policy and makes the rule depend
    on that policy (SES test-writes under the prefix when it creates the rule).
    """

    def __init__(self, store: RawMessageStore, *, rule_set_name: str, rule_name: str) -> None:
        self._store = store
        self._rule_set_name = rule_set_name
        self._rule_name = rule_name

    def bind(self, receipt_rule: IReceiptRuleRef) -> ses.ReceiptRuleActionConfig:
        source_arn = receipt_rule_arn(receipt_rule, self._rule_set_name, self._rule_name)
        policy = self._store.allow_ses_put(receipt_rule, source_arn=source_arn)
        if policy is not None:
            receipt_rule.node.add_dependency(policy)
        return ses.ReceiptRuleActionConfig(
            s3_action=ses.S3ActionConfig(
                bucket_name=self._store.bucket.bucket_name,
                object_key_prefix=self._store.object_key_prefix or None,
            )
        )


@jsii.implements(ses.IReceiptRuleAction)
class InvokeFunction:
    """Lambda action with an invoke permission limited to this account and this receipt rule.

    Binding it adds ``lambda:InvokeFunction`` for ``ses.amazonaws.com`` with ``SourceAccount``
    and ``SourceArn`` (reusing the permission if the same rule binds twice) and makes the rule
    depend on it: SES checks the permission when it creates the rule ("Could not invoke Lambda
    function" otherwise).
    """

    def __init__(
        self,
        function: lambda_.IFunction,
        *,
        rule_set_name: str,
        rule_name: str,
        invocation_type: ses_actions.LambdaInvocationType = ses_actions.LambdaInvocationType.EVENT,
    ) -> None:
        self._function = function
        self._rule_set_name = rule_set_name
        self._rule_name = rule_name
        self.invocation_type = invocation_type

    def bind(self, receipt_rule: IReceiptRuleRef) -> ses.ReceiptRuleActionConfig:
        source_arn = receipt_rule_arn(receipt_rule, self._rule_set_name, self._rule_name)
        permission_id = f"InvokedBySes{Names.node_unique_id(receipt_rule.node)[-8:]}"
        permission = self._function.permissions_node.try_find_child(permission_id)
        if permission is None:
            self._function.add_permission(
                permission_id,
                principal=iam.ServicePrincipal(SES_PRINCIPAL),
                action="lambda:InvokeFunction",
                source_account=Stack.of(receipt_rule).account,
                source_arn=source_arn,
            )
            permission = self._function.permissions_node.try_find_child(permission_id)
        if permission is not None:
            receipt_rule.node.add_dependency(permission)
        else:
            Annotations.of(receipt_rule).add_warning_v2(
                "ses-lambda-constructs:importedFunctionPermission",
                "The function is imported from another account or environment, so no invoke "
                "permission was added: allow ses.amazonaws.com lambda:InvokeFunction with "
                f"SourceArn {self._rule_name!r} before deploying, or SES fails to create the rule.",
            )
        return ses.ReceiptRuleActionConfig(
            lambda_action=ses.LambdaActionConfig(
                function_arn=self._function.function_arn,
                invocation_type=_INVOCATION_TYPES[self.invocation_type],
            )
        )

"""Receipt-rule actions that wire their own permissions, with confused-deputy conditions.

The aws-cdk ``aws_ses_actions`` module grants SES access with an ``aws:SourceAccount`` condition
only. These actions also pin ``aws:SourceArn`` to the one receipt rule that uses them. The ARN is
built from the rule set's and rule's fixed names, never from the rule's own tokens: a policy that
references the rule while the rule depends on the policy is the cycle behind aws-cdk#30143.
"""

from __future__ import annotations

from collections.abc import Callable

import jsii
from aws_cdk import Annotations, ArnFormat, Aspects, IAspect, Names, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as ses_actions
from aws_cdk.interfaces.aws_ses import IReceiptRuleRef
from constructs import IConstruct

from .limits import ValidationError, validate_rule_name, validate_rule_set_name
from .storage import SES_PRINCIPAL, RawMessageStore

# CloudFormation's spelling of each invocation type (the Python enum's values are its names).
_INVOCATION_TYPES = {
    ses_actions.LambdaInvocationType.EVENT: "Event",
    ses_actions.LambdaInvocationType.REQUEST_RESPONSE: "RequestResponse",
}


def receipt_rule_arn(scope: IConstruct, rule_set_name: str, rule_name: str) -> str:
    """``arn:<partition>:ses:<region>:<account>:receipt-rule-set/<set>:receipt-rule/<rule>``."""
    validate_rule_set_name("rule_set_name", rule_set_name)
    validate_rule_name("rule_name", rule_name)
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
    on that policy (SES test-writes under the prefix when it creates the rule). With an SSE-KMS
    store, the action names the store's :attr:`~RawMessageStore.ses_role` as its ``IamRoleArn``
    instead, and the rule depends on the role.
    """

    def __init__(self, store: RawMessageStore, *, rule_set_name: str, rule_name: str) -> None:
        store.check_ses_can_store()
        self._store = store
        self._rule_set_name = rule_set_name
        self._rule_name = rule_name

    def bind(self, receipt_rule: IReceiptRuleRef) -> ses.ReceiptRuleActionConfig:
        source_arn = receipt_rule_arn(receipt_rule, self._rule_set_name, self._rule_name)
        policy = self._store.allow_ses_put(receipt_rule, source_arn=source_arn)
        if policy is not None:
            receipt_rule.node.add_dependency(policy)
        role = self._store.ses_role
        if role is not None:
            rule_resource = receipt_rule.node.default_child
            if not isinstance(rule_resource, ses.CfnReceiptRule):
                raise ValidationError(
                    "an SSE-KMS RawMessageStore needs the S3 action's IamRoleArn, which only a "
                    f"receipt rule defined in this app can carry; got {receipt_rule.node.path}"
                )
            Aspects.of(rule_resource).add(
                _S3ActionRole(self._store.bucket.bucket_name, self._store.object_key_prefix, role)
            )
        return ses.ReceiptRuleActionConfig(
            s3_action=ses.S3ActionConfig(
                bucket_name=self._store.bucket.bucket_name,
                object_key_prefix=self._store.object_key_prefix or None,
            )
        )


@jsii.implements(IAspect)
class _S3ActionRole:
    """Sets ``IamRoleArn`` on the rule's S3 action that stores into one bucket and prefix.

    The CDK's ``S3ActionConfig`` has no role field, while CloudFormation's S3Action has
    (``IamRoleArn``; docs/ses-facts.md, "S3 action"). Once every action is bound, this finds the
    action's index in the rendered rule and sets the role with a property override.
    """

    def __init__(self, bucket_name: str, prefix: str, role: iam.IRole) -> None:
        self._bucket_name = bucket_name
        self._prefix = prefix
        self._role = role

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, ses.CfnReceiptRule):
            return
        stack = Stack.of(node)
        rule = stack.resolve(node.rule) or {}
        bucket = stack.resolve(self._bucket_name)
        for index, action in enumerate(rule.get("actions") or []):
            s3_action = action.get("s3Action")
            if (
                s3_action
                and s3_action.get("bucketName") == bucket
                and (s3_action.get("objectKeyPrefix") or "") == self._prefix
            ):
                node.add_property_override(
                    f"Rule.Actions.{index}.S3Action.IamRoleArn", self._role.role_arn
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
                f"SourceArn {source_arn} before deploying, or SES fails to create the rule.",
            )
        return ses.ReceiptRuleActionConfig(
            lambda_action=ses.LambdaActionConfig(
                function_arn=self._function.function_arn,
                invocation_type=_INVOCATION_TYPES[self.invocation_type],
            )
        )


def stored_then_invoked(
    route_id: str,
    *,
    store: RawMessageStore | None,
    function: lambda_.IFunction,
    rule_set_name: str,
    invocation_type: ses_actions.LambdaInvocationType = ses_actions.LambdaInvocationType.EVENT,
    store_raw_message: bool = True,
) -> Callable[[str], list[ses.IReceiptRuleAction]]:
    """The actions of a route that stores the raw message (unless ``store_raw_message`` is
    ``False``), then invokes ``function``, given the rule's name (an ``EmailRoute``'s
    ``actions``)."""

    def actions(rule_name: str) -> list[ses.IReceiptRuleAction]:
        found: list[ses.IReceiptRuleAction] = []
        if store_raw_message:
            if store is None:
                raise ValidationError(
                    f"routes[{route_id}].store_raw_message is True but the receiver stores no "
                    "raw messages (store_raw_messages=False)"
                )
            found.append(StoreRawMessage(store, rule_set_name=rule_set_name, rule_name=rule_name))
        found.append(
            InvokeFunction(
                function,
                rule_set_name=rule_set_name,
                rule_name=rule_name,
                invocation_type=invocation_type,
            )
        )
        return found

    return actions

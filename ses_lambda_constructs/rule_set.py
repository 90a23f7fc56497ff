"""Receipt rule sets: define, import or use the active one, and activate safely.

Only one receipt rule set is active per account and region, and CloudFormation cannot activate
one (aws-cdk#10321). :class:`ReceiptRuleSetActivation` does it with a custom resource that never
replaces another active set unless told to, and on delete deactivates only its own set.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CustomResource, Duration, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses as ses
from constructs import Construct

from .acknowledgments import acknowledge
from .hardening import FunctionHardening
from .lambda_role import logging_only_role
from .limits import ValidationError, validate_rule_set_name

_PROVIDER_CODE = Path(__file__).parent / "custom_resources" / "rule_set"
#: Runtime of the custom resource's function (stdlib + boto3 only).
PROVIDER_RUNTIME = lambda_.Runtime.PYTHON_3_14


class _RuleSetProvider(Construct):
    """The one function per stack that serves every rule-set custom resource of the library."""

    ID = "SesRuleSetProvider"

    @classmethod
    def of(cls, scope: Construct, hardening: FunctionHardening | None = None) -> lambda_.IFunction:
        """The stack's provider; the first caller's ``hardening`` configures it."""
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(cls.ID)
        provider = existing if isinstance(existing, cls) else cls(stack, cls.ID, hardening)
        return provider.function

    def __init__(
        self, scope: Construct, id: str, hardening: FunctionHardening | None = None
    ) -> None:
        super().__init__(scope, id)
        hardening = hardening or FunctionHardening()
        log_group = hardening.log_group(self, "Logs")
        role = logging_only_role(self, "Role", log_group=log_group)
        # SES has no resource-level permissions for these two actions: the resource must be "*".
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ses:DescribeActiveReceiptRuleSet", "ses:SetActiveReceiptRuleSet"],
                resources=["*"],
            )
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "ses:DescribeActiveReceiptRuleSet and ses:SetActiveReceiptRuleSet support no "
            "resource-level permissions; the role allows these two actions only.",
        )
        function = hardening.function(
            self,
            "Function",
            role=role,
            log_group=log_group,
            # Two SES API calls and one HTTPS answer, stdlib and boto3 only.
            memory_size=128,
            # Deployments are the only callers, a few requests each.
            reserved_concurrency=2 if hardening.reserved_concurrency is not None else None,
            runtime=PROVIDER_RUNTIME,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(_PROVIDER_CODE), exclude=["__pycache__", "*.pyc"]),
            timeout=Duration.minutes(2),
            description="ses-lambda-constructs: activates and describes SES receipt rule sets",
        )
        for pack in ("Serverless", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(
                function,
                f"{pack}-LambdaDLQ",
                "CloudFormation is the only caller and waits for the answer at the ResponseURL; "
                "the function reports every error there, so a failure fails the deployment "
                "visibly instead of waiting in a queue.",
            )
        self.function: lambda_.IFunction = function


def fixed_rule_set_name(rule_set: ses.IReceiptRuleSet) -> str:
    """The name of ``rule_set`` as a string known at synth time (or a deploy-time lookup).

    The SourceArn conditions of the library's grants are built from this name, so it must not be
    a token of the rule set itself (the cycle behind aws-cdk#30143).
    """
    name = rule_set.receipt_rule_set_name
    if not Token.is_unresolved(name):
        return validate_rule_set_name("rule_set.receipt_rule_set_name", name)
    if isinstance(rule_set.node.scope, ActiveReceiptRuleSet):
        return name
    default_child = rule_set.node.default_child
    if isinstance(default_child, ses.CfnReceiptRuleSet):
        literal = default_child.rule_set_name
        if literal and not Token.is_unresolved(literal):
            return validate_rule_set_name("rule_set.receipt_rule_set_name", literal)
    raise ValidationError(
        "rule_set must have a fixed name: define it with receipt_rule_set_name='...', import it "
        "with ReceiptRuleSet.from_receipt_rule_set_name(), or use ActiveReceiptRuleSet; got a rule "
        f"set whose name is only known at deploy time ({rule_set.node.path})"
    )


class ReceiptRuleSetActivation(Construct):
    """Makes ``rule_set`` the active receipt rule set of the account and region.

    - Create and update: activates the set. If another set is active, the deployment fails and
      names it, unless ``replace_active`` is true.
    - Delete: deactivates the set only if it is still the active one; a set activated since
      stays active.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        rule_set: ses.IReceiptRuleSet,
        replace_active: bool = False,
        hardening: FunctionHardening | None = None,
    ) -> None:
        """
        :param rule_set: the set to activate; it needs a fixed name.
        :param replace_active: replace a different set that is active. Default: ``False``, the
            deployment fails instead of deactivating someone else's rules.
        :param hardening: controls of the stack's custom-resource function, if this defines it.
            Default: ``FunctionHardening()``.
        """
        super().__init__(scope, id)
        self.rule_set_name = fixed_rule_set_name(rule_set)
        provider = _RuleSetProvider.of(self, hardening)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.function_arn,
            resource_type="Custom::SesReceiptRuleSetActivation",
            properties={
                "Action": "activate",
                "RuleSetName": self.rule_set_name,
                "ReplaceActive": "true" if replace_active else "false",
            },
        )
        self.resource.node.add_dependency(rule_set)


class ActiveReceiptRuleSet(Construct):
    """The receipt rule set that is active in the account and region, looked up at deploy time.

    Adding rules to it leaves the account's activation as it is. The deployment fails with a
    clear message when no set is active. Its name is a deploy-time value, so quota checks that
    count the set's existing rules cannot run at synth time.
    """

    def __init__(
        self, scope: Construct, id: str, *, hardening: FunctionHardening | None = None
    ) -> None:
        """
        :param hardening: controls of the stack's custom-resource function, if this defines it.
            Default: ``FunctionHardening()``.
        """
        super().__init__(scope, id)
        provider = _RuleSetProvider.of(self, hardening)
        lookup = CustomResource(
            self,
            "Lookup",
            service_token=provider.function_arn,
            resource_type="Custom::SesActiveReceiptRuleSet",
            properties={"Action": "describe-active"},
        )
        self.rule_set_name: str = lookup.get_att_string("RuleSetName")
        self.rule_set: ses.IReceiptRuleSet = ses.ReceiptRuleSet.from_receipt_rule_set_name(
            self, "Resource", self.rule_set_name
        )

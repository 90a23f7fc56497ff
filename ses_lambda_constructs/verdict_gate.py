"""The verdict gate: a first receipt rule that stops the rule set for failing mail."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Names
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as ses_actions
from constructs import Construct

from ._bundled import contract
from .acknowledgments import acknowledge
from .actions import InvokeFunction
from .bundling import python_code
from .handler_bundle import DEFAULT_RUNTIME, reference_bundle
from .hardening import FunctionHardening
from .lambda_role import logging_only_role
from .limits import ValidationError, validate_rule_name
from .verdicts import Verdict


class VerdictGate(Construct):
    """A first receipt rule that stops the rule set for mail failing the verdict policy.

    Its function (``lambda_src/gate.py``, from the reference handler's bundle) is invoked
    ``RequestResponse``, reads only the event and answers ``STOP_RULE_SET`` or ``CONTINUE``; it
    has no access to any bucket. Scanning is on, so SES computes the verdicts it reads.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        rule_set: ses.IReceiptRuleSet,
        rule_set_name: str,
        recipients: Sequence[str],
        reject_on_verdicts: Sequence[Verdict] = (Verdict.SPAM, Verdict.VIRUS),
        runtime: lambda_.Runtime = DEFAULT_RUNTIME,
        rule_name: str | None = None,
        hardening: FunctionHardening | None = None,
    ) -> None:
        """
        :param hardening: tracing, reserved concurrency, VPC and log encryption of the gate's
            function. Default: ``FunctionHardening()``.
        """
        super().__init__(scope, id)
        hardening = hardening or FunctionHardening()
        verdicts = [Verdict(v) if isinstance(v, str) else v for v in reject_on_verdicts]
        if not verdicts:
            raise ValidationError("verdict_gate needs at least one verdict in reject_on_verdicts")
        bundle = reference_bundle(runtime, lambda_.Architecture.X86_64)
        log_group = hardening.log_group(self, "Logs")
        role = logging_only_role(self, "Role", log_group=log_group)
        function = hardening.function(
            self,
            "Function",
            role=role,
            log_group=log_group,
            # It reads the event's verdicts only, never the message: the smallest size will do.
            memory_size=128,
            runtime=runtime,
            handler="gate.lambda_handler",
            code=python_code(bundle, runtime),
            timeout=Duration.seconds(10),
            description="ses-lambda-constructs verdict gate: stops the rule set for failing mail",
            environment={contract().ENV_REJECT_ON_VERDICTS: ",".join(v.value for v in verdicts)},
        )
        for pack in ("Serverless", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
            acknowledge(
                function,
                f"{pack}-LambdaDLQ",
                "SES invokes the gate synchronously (RequestResponse) only; a dead-letter "
                "queue holds failed asynchronous invocations, which this function never has.",
            )
        self.function: lambda_.IFunction = function
        self.rule_name = validate_rule_name(
            "verdict gate rule_name",
            rule_name or Names.unique_resource_name(self, max_length=64, separator="-"),
        )
        self.rule = ses.ReceiptRule(
            self,
            "Rule",
            rule_set=rule_set,
            receipt_rule_name=self.rule_name,
            recipients=recipients,
            scan_enabled=True,
            tls_policy=ses.TlsPolicy.REQUIRE,
            actions=[
                InvokeFunction(
                    self.function,
                    rule_set_name=rule_set_name,
                    rule_name=self.rule_name,
                    invocation_type=ses_actions.LambdaInvocationType.REQUEST_RESPONSE,
                )
            ],
        )

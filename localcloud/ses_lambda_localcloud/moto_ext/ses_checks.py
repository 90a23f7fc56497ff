"""The checks SES makes when a receipt rule is created or updated.

SES test-writes ``AMAZON_SES_SETUP_NOTIFICATION`` under the S3 action's prefix and checks that it
may invoke the Lambda action's function (docs/ses-facts.md, "S3 action" and "Lambda action").
Without the bucket policy or the function permission, or when the rule is created before them (a
missing ``DependsOn``), rule creation fails with "Could not write to bucket" / "Could not invoke
Lambda function". Moto only checks that the bucket and the function exist; these checks evaluate
the actual policies with the request context SES would send (``aws:SourceAccount``,
``aws:SourceArn``). An S3 action with an ``IamRoleArn`` is checked against that role instead:
SES uses the role and only the role (S3Action API reference), so its trust policy must admit
``ses.amazonaws.com`` with that context and its own policies must allow the put.

Also enforced: the receiving quotas that are not adjustable (SES Developer Guide, "Service
quotas", https://docs.aws.amazon.com/ses/latest/dg/quotas.html).
"""

from __future__ import annotations

from typing import Any

from ..iam import evaluation as engine
from ..iam import store
from ..iam.language import Principal
from ..iam.language import Request as EngineRequest
from ..policy import Decision, Request, evaluate
from .moto_internals import (
    InvalidLambdaFunctionException,
    InvalidS3ConfigurationException,
    InvalidSnsTopicException,
    SESBackend,
    SesValidationError,
    iam_backends,
    lambda_backends,
    s3_backends,
    sns_backends,
)

SES_PRINCIPAL = {"Service": "ses.amazonaws.com"}
SETUP_NOTIFICATION_KEY = "AMAZON_SES_SETUP_NOTIFICATION"
MAX_RULES_PER_SET = 200
MAX_ACTIONS_PER_RULE = 10
#: "Maximum number of recipients per receipt rule | 500" (SES Developer Guide, "Service quotas in
#: Amazon SES", email receiving); the construct library's limits.py holds the same value.
MAX_RECIPIENTS_PER_RULE = 500


def rule_arn(region: str, account: str, rule_set_name: str, rule_name: str) -> str:
    return (
        f"arn:aws:ses:{region}:{account}:receipt-rule-set/{rule_set_name}:receipt-rule/{rule_name}"
    )


def ses_context(account: str, source_arn: str) -> dict[str, str]:
    return {
        "aws:SourceAccount": account,
        "aws:SourceArn": source_arn,
        "aws:SecureTransport": "true",
    }


def check_rule(
    backend: SESBackend, rule_set_name: str, rule: dict[str, Any], existing: int | None
) -> None:
    """Raise the error SES raises; ``existing`` is the number of rules already in the set."""
    if existing is not None and existing >= MAX_RULES_PER_SET:
        raise SesValidationError(
            f"Rule set {rule_set_name} already has {MAX_RULES_PER_SET} rules (the SES limit)"
        )
    actions = rule.get("Actions") or []
    if len(actions) > MAX_ACTIONS_PER_RULE:
        raise SesValidationError(
            f"Rule {rule.get('Name')} has {len(actions)} actions; SES allows {MAX_ACTIONS_PER_RULE}"
        )
    recipients = rule.get("Recipients") or []
    if len(recipients) > MAX_RECIPIENTS_PER_RULE:
        raise SesValidationError(
            f"Rule {rule.get('Name')} has {len(recipients)} recipients; SES allows "
            f"{MAX_RECIPIENTS_PER_RULE}"
        )
    source_arn = rule_arn(backend.region_name, backend.account_id, rule_set_name, rule["Name"])
    for action in actions:
        if "S3Action" in action:
            check_s3_action(backend, action["S3Action"], source_arn)
        if "LambdaAction" in action:
            check_lambda_action(backend, action["LambdaAction"], source_arn)
        for kind, body in action.items():
            topic = (body or {}).get("TopicArn") if isinstance(body, dict) else None
            if topic:
                check_topic(backend, topic, kind)


def s3_put_decision(
    backend: SESBackend,
    bucket_name: str,
    key: str,
    source_arn: str,
    role_arn: str | None = None,
) -> Decision | None:
    """May SES put ``key`` into the bucket? None when the bucket (or the role) does not exist."""
    buckets = s3_backends[backend.account_id]["aws"].buckets
    bucket = buckets.get(bucket_name)
    if bucket is None:
        return None
    if role_arn:
        return role_put_decision(backend, bucket, key, source_arn, role_arn)
    request = Request(
        action="s3:PutObject",
        resource=f"arn:aws:s3:::{bucket_name}/{key}",
        principal=SES_PRINCIPAL,
        context=ses_context(backend.account_id, source_arn),
    )
    decision = evaluate(bucket.policy, request)
    key_arn = _bucket_key(backend, bucket_name)
    if decision is Decision.ALLOW and key_arn:
        # SES encrypts with the bucket's customer managed key: its key policy must let
        # ses.amazonaws.com use it (SES Developer Guide, "Give Amazon SES permission to use
        # your AWS KMS key"; a service principal has no identity policies to delegate to).
        outcome = engine.evaluate(
            EngineRequest(
                "kms:GenerateDataKey",
                key_arn,
                Principal.service("ses.amazonaws.com"),
                ses_context(backend.account_id, source_arn),
            ),
            store.resource_policies(key_arn, backend.account_id, backend.region_name),
        )
        decision = Decision.ALLOW if outcome.allowed else Decision.DENY
    return decision


def _bucket_key(backend: SESBackend, bucket_name: str) -> str | None:
    """The customer managed key of the bucket's default SSE-KMS encryption, if any."""
    lookup = store.MotoLookup(backend.account_id, backend.region_name)
    return lookup.put_key(bucket_name, "", "")


def find_role(backend: SESBackend, role_arn: str) -> Any:
    """The IAM role with this ARN, or None (moto keys its roles by role id, not ARN)."""
    roles = iam_backends[backend.account_id]["global"].roles.values()
    return next((r for r in roles if r.arn == role_arn), None)


def role_put_decision(
    backend: SESBackend, bucket: Any, key: str, source_arn: str, role_arn: str
) -> Decision | None:
    """SES assumes ``role_arn`` and puts ``key`` with it. None when the role does not exist.

    The put is evaluated as the role's (identity policies, boundary, the bucket policy), and
    for an SSE-KMS bucket also ``kms:GenerateDataKey`` on its key through S3 (the key policy
    must allow or delegate; S3 User Guide, "Using server-side encryption with AWS KMS keys").
    """
    role = find_role(backend, role_arn)
    if role is None:
        return None
    assume = Request(
        action="sts:AssumeRole",
        resource=role_arn,
        principal=SES_PRINCIPAL,
        context=ses_context(backend.account_id, source_arn),
    )
    if evaluate(role.assume_role_policy_document, assume) is not Decision.ALLOW:
        return Decision.DENY
    principal = Principal(kind="AWS", arn=role_arn, account=backend.account_id, role_arn=role_arn)
    documents, boundary = store.identity_policies(principal)
    context = {
        "aws:SecureTransport": "true",
        "aws:PrincipalArn": role_arn,
        "aws:PrincipalAccount": backend.account_id,
    }
    put = EngineRequest("s3:PutObject", f"arn:aws:s3:::{bucket.name}/{key}", principal, context)
    outcome = engine.evaluate(
        put,
        engine.Policies(identity=documents, resource=bucket.policy, permissions_boundary=boundary),
    )
    if not outcome.allowed:
        return Decision.DENY
    key_arn = _bucket_key(backend, bucket.name)
    if key_arn:
        found = store.resource_policies(key_arn, backend.account_id, backend.region_name)
        generate = EngineRequest(
            "kms:GenerateDataKey",
            key_arn,
            principal,
            {
                **context,
                "kms:ViaService": f"s3.{backend.region_name}.amazonaws.com",
                "kms:CallerAccount": backend.account_id,
            },
        )
        kms_outcome = engine.evaluate(
            generate,
            engine.Policies(
                identity=documents,
                resource=found.resource,
                resource_required=True,
                resource_kind="key policy",
                permissions_boundary=boundary,
            ),
        )
        if not kms_outcome.allowed:
            return Decision.DENY
    return Decision.ALLOW


def check_s3_action(backend: SESBackend, action: dict[str, Any], source_arn: str) -> None:
    bucket_name = action["BucketName"]
    prefix = action.get("ObjectKeyPrefix") or ""
    key = f"{prefix}{SETUP_NOTIFICATION_KEY}"
    role_arn = action.get("IamRoleArn")
    decision = s3_put_decision(backend, bucket_name, key, source_arn, role_arn)
    if decision is not Decision.ALLOW:
        if role_arn:
            why = (
                f"the bucket or the role {role_arn} does not exist"
                if decision is None
                else f"the role {role_arn} does not let ses.amazonaws.com assume it with "
                f"aws:SourceAccount={backend.account_id} and aws:SourceArn={source_arn}, or "
                f"does not allow s3:PutObject on {bucket_name}/{prefix}* (is the rule created "
                "before the role's policy: no DependsOn?)"
            )
        else:
            why = (
                "the bucket does not exist"
                if decision is None
                else f"its bucket policy does not allow ses.amazonaws.com s3:PutObject on "
                f"{bucket_name}/{prefix}* with aws:SourceAccount={backend.account_id} and "
                f"aws:SourceArn={source_arn} (is the policy missing, or is the rule created "
                "before it: no DependsOn?)"
            )
        raise InvalidS3ConfigurationException(
            f"Could not write to bucket: {bucket_name} (local cloud: {why})"
        )
    s3_backends[backend.account_id]["aws"].put_object(
        bucket_name,
        key,
        b"Amazon SES setup notification: this object was written by the local cloud to check "
        b"that SES may write to this bucket and prefix.\n",
    )


def lambda_invoke_decision(
    backend: SESBackend, function_arn: str, source_arn: str
) -> Decision | None:
    try:
        fn = lambda_backends[backend.account_id][backend.region_name].get_function(function_arn)
    except Exception:
        return None
    request = Request(
        action="lambda:InvokeFunction",
        resource=fn.function_arn,
        principal=SES_PRINCIPAL,
        context=ses_context(backend.account_id, source_arn),
    )
    statements = [dict(s) for s in fn.policy.statements]
    for statement in statements:
        # Lambda policies name the function ARN, sometimes with ":$LATEST" or a qualifier.
        resource = statement.get("Resource")
        if isinstance(resource, str) and resource.startswith(fn.function_arn + ":"):
            statement["Resource"] = [resource, fn.function_arn]
    return evaluate({"Statement": statements}, request)


def check_lambda_action(backend: SESBackend, action: dict[str, Any], source_arn: str) -> None:
    function_arn = action["FunctionArn"]
    decision = lambda_invoke_decision(backend, function_arn, source_arn)
    if decision is None:
        raise InvalidLambdaFunctionException(f"Invalid Lambda function: {function_arn}")
    if decision is not Decision.ALLOW:
        raise InvalidLambdaFunctionException(
            f"Could not invoke Lambda function: {function_arn} (local cloud: the function "
            "policy does not allow ses.amazonaws.com lambda:InvokeFunction for "
            f"aws:SourceAccount={backend.account_id} and aws:SourceArn={source_arn}; is the "
            "permission missing, or is the rule created before it: no DependsOn?)"
        )
    invocation_type = action.get("InvocationType", "Event")
    if invocation_type not in ("Event", "RequestResponse"):
        raise SesValidationError(
            f"InvocationType must be Event or RequestResponse, got {invocation_type}"
        )


def check_topic(backend: SESBackend, topic_arn: str, action_kind: str) -> None:
    region = topic_arn.split(":")[3] if topic_arn.count(":") >= 5 else backend.region_name
    if topic_arn not in sns_backends[backend.account_id][region].topics:
        raise InvalidSnsTopicException(f"Invalid SNS topic: {topic_arn} ({action_kind})")

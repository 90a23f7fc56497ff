"""The IAM engine: the policy language and single-account evaluation, table-driven.

Each case states the documented rule it checks (IAM User Guide page in the engine's comments).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ses_lambda_localcloud.iam.evaluation import Decision, Policies, evaluate, evaluate_policy
from ses_lambda_localcloud.iam.language import Principal, Request, condition_holds

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/HandlerRole"
SESSION = Principal.role_session(ROLE, "handler-fn")
BUCKET_OBJECT = "arn:aws:s3:::mail/parsed/a.json"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def get(context: dict[str, Any] | None = None, principal: Principal = SESSION) -> Request:
    return Request("s3:GetObject", BUCKET_OBJECT, principal, context or {})


def test_role_session_principal_is_shaped_as_lambda_names_it() -> None:
    assert SESSION.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/HandlerRole/handler-fn"
    assert SESSION.account == ACCOUNT


# --- conditions ---------------------------------------------------------------------------

CONDITIONS = [
    # (operator, key, policy value, context, expected)
    ("StringEquals", "k", "a", {"k": "a"}, True),
    ("StringEquals", "k", "a", {"k": "A"}, False),
    ("StringEquals", "k", "a", {}, False),  # missing key: positive operator is false
    ("StringNotEquals", "k", "a", {}, True),  # missing key: negated operator is true
    ("StringNotEquals", "k", ["a", "b"], {"k": "b"}, False),
    ("StringEqualsIgnoreCase", "k", "ABC", {"k": "abc"}, True),
    ("StringNotEqualsIgnoreCase", "k", "ABC", {"k": "abc"}, False),
    ("StringLike", "k", "a*c", {"k": "abbbc"}, True),
    ("StringLike", "k", "a?c", {"k": "abbc"}, False),
    ("StringNotLike", "k", "a*", {"k": "b"}, True),
    ("StringLikeIfExists", "k", "a*", {}, True),
    ("StringEqualsIfExists", "k", "a", {"k": "b"}, False),
    ("K:Case", "x", "x", {}, None),  # unknown set operator: unevaluable
    (
        "ArnLike",
        "aws:SourceArn",
        "arn:aws:ses:*:1:receipt-rule-set/*",
        {"aws:sourcearn": "arn:aws:ses:eu-west-1:1:receipt-rule-set/s"},
        True,
    ),
    (
        "ArnEquals",
        "aws:SourceArn",
        "arn:aws:ses:eu-west-1:1:x",
        {"aws:SourceArn": "not-an-arn"},
        False,
    ),
    (
        "ArnNotLike",
        "aws:SourceArn",
        "arn:aws:ses:*:1:*",
        {"aws:SourceArn": "arn:aws:ses:eu-west-1:2:x"},
        True,
    ),
    ("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": "3"}, True),
    ("NumericGreaterThanEquals", "n", "10", {"n": "10"}, True),
    ("NumericNotEquals", "n", "10", {"n": "10"}, False),
    ("NumericLessThan", "n", "10", {"n": "ten"}, None),
    (
        "DateGreaterThan",
        "aws:CurrentTime",
        "2020-01-01T00:00:00Z",
        {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
        True,
    ),
    ("DateLessThan", "aws:EpochTime", "1000", {"aws:EpochTime": "2000"}, False),
    ("Bool", "aws:SecureTransport", "false", {"aws:SecureTransport": "true"}, False),
    ("Bool", "aws:SecureTransport", False, {"aws:SecureTransport": "false"}, True),
    ("BoolIfExists", "aws:MultiFactorAuthPresent", "false", {}, True),
    ("Bool", "k", "maybe", {"k": "true"}, None),
    ("IpAddress", "aws:SourceIp", "127.0.0.0/8", {"aws:SourceIp": "127.0.0.1"}, True),
    ("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", {"aws:SourceIp": "127.0.0.1"}, True),
    ("IpAddress", "aws:SourceIp", "::1/128", {"aws:SourceIp": "::1"}, True),
    ("Null", "k", "true", {}, True),
    ("Null", "k", "false", {}, False),
    ("Null", "k", "false", {"k": "v"}, True),
    ("ForAnyValue:StringEquals", "tags", ["a", "b"], {"tags": ["c", "b"]}, True),
    ("ForAnyValue:StringEquals", "tags", ["a"], {}, False),  # missing key: false
    ("ForAllValues:StringEquals", "tags", ["a", "b"], {"tags": ["a", "b"]}, True),
    ("ForAllValues:StringEquals", "tags", ["a"], {"tags": ["a", "c"]}, False),
    ("ForAllValues:StringEquals", "tags", ["a"], {}, True),  # empty set: true
    ("ForAnyValue:StringNotEquals", "tags", ["a"], {"tags": ["a", "c"]}, True),
    ("ForAllValues:StringLike", "tags", ["a*"], {"tags": ["ab", "ac"]}, True),
    ("StringEquals", "tags", "a", {"tags": ["a", "b"]}, None),  # single-valued on a set
    ("BinaryEquals", "k", "QQ==", {"k": "QQ=="}, None),  # not evaluated here
    ("StringEquals", "aws:username", "${aws:username}", {"aws:username": "x"}, None),
    ("StringLike", "k", "${aws:username}", {"k": "x"}, None),  # policy variables
]


@pytest.mark.parametrize(("operator", "key", "value", "context", "expected"), CONDITIONS)
def test_condition_operator(
    operator: str, key: str, value: Any, context: dict[str, Any], expected: bool | None
) -> None:
    # None: the engine cannot evaluate it; then an Allow grants nothing and a Deny denies.
    condition = {operator: {key: value}}
    allowing = evaluate_policy(doc(allow(Condition=condition)), get(context), resource_policy=False)
    denying = evaluate_policy(doc(deny(Condition=condition)), get(context), resource_policy=False)
    if expected is None:
        assert allowing.decision is Decision.NEUTRAL and allowing.unevaluable
        assert denying.decision is Decision.DENY and denying.unevaluable
    else:
        assert (allowing.decision is Decision.ALLOW) is expected
        assert (denying.decision is Decision.DENY) is expected


# --- statements ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "resource_policy", "expected"),
    [
        (allow("S3:Get*", "arn:aws:s3:::mail/*"), False, Decision.ALLOW),  # actions ignore case
        (allow("s3:GetObject", "arn:aws:s3:::MAIL/*"), False, Decision.NEUTRAL),  # ARNs do not
        (allow("s3:Put*"), False, Decision.NEUTRAL),
        ({"Effect": "Allow", "NotAction": "s3:Put*", "Resource": "*"}, False, Decision.ALLOW),
        (
            {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::mail/raw/*"},
            False,
            Decision.ALLOW,
        ),
        (
            {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::mail/parsed/*"},
            False,
            Decision.NEUTRAL,
        ),
        (
            {"Effect": "Allow", "Resource": "*"},
            False,
            Decision.NEUTRAL,
        ),  # no Action: grants nothing
        ({"Effect": "Deny", "Resource": "*"}, False, Decision.DENY),  # no Action in a Deny: denies
        ({"Effect": "Allow", "Action": "s3:GetObject"}, False, Decision.NEUTRAL),  # no Resource
        ({"Effect": "Maybe", "Action": "*", "Resource": "*"}, False, Decision.DENY),
        (
            allow(Principal={"AWS": ROLE}),
            False,
            Decision.NEUTRAL,
        ),  # Principal in an identity policy
        # resource-based policies
        (allow(), True, Decision.NEUTRAL),  # no Principal: grants nobody (it used to grant all)
        (deny(), True, Decision.DENY),
        (allow(Principal="*"), True, Decision.ALLOW),
        (allow(Principal={"AWS": "*"}), True, Decision.ALLOW),
        (allow(Principal={"AWS": ROLE}), True, Decision.ALLOW),  # the role stands for its sessions
        (allow(Principal={"AWS": SESSION.arn}), True, Decision.ALLOW),
        (allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/Other"}), True, Decision.NEUTRAL),
        (
            allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
            True,
            Decision.NEUTRAL,
        ),  # delegates
        (allow(Principal={"Service": "ses.amazonaws.com"}), True, Decision.NEUTRAL),
        (allow(Principal={"AWS": "arn:aws:iam::*:role/x"}), True, Decision.NEUTRAL),
        (allow(Principal={"Federated": "cognito-identity.amazonaws.com"}), True, Decision.NEUTRAL),
        (
            {
                "Effect": "Allow",
                "NotPrincipal": {"AWS": "arn:aws:iam::1:root"},
                "Action": "*",
                "Resource": "*",
            },
            True,
            Decision.NEUTRAL,
        ),
        (  # naming the account excludes only its root user: the role's session is denied
            {
                "Effect": "Deny",
                "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "*",
                "Resource": "*",
            },
            True,
            Decision.DENY,
        ),
        (
            {"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "*", "Resource": "*"},
            True,
            Decision.NEUTRAL,
        ),
        (
            {
                "Effect": "Deny",
                "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/Other"},
                "Action": "*",
                "Resource": "*",
            },
            True,
            Decision.DENY,
        ),
    ],
)
def test_statement_elements(
    statement: dict[str, Any], resource_policy: bool, expected: Decision
) -> None:
    result = evaluate_policy(doc(statement), get(), resource_policy=resource_policy)
    assert result.decision is expected


def test_account_principal_delegates_instead_of_allowing() -> None:
    statement = allow(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    result = evaluate_policy(doc(statement), get(), resource_policy=True)
    assert result.decision is Decision.NEUTRAL and result.delegated


def test_a_policy_that_does_not_parse_denies() -> None:
    assert evaluate_policy("{not json", get(), resource_policy=True).decision is Decision.DENY
    assert (
        evaluate_policy(json.dumps(doc(allow())), get(), resource_policy=False).decision
        is Decision.ALLOW
    )


# --- evaluation across policies -----------------------------------------------------------

IDENTITY_GET = doc(allow("s3:GetObject", "arn:aws:s3:::mail/parsed/*"))
KMS_DECRYPT = Request("kms:Decrypt", KEY, SESSION, {"kms:ViaService": "s3.eu-west-1.amazonaws.com"})
DEFAULT_KEY_POLICY = doc(
    allow("kms:*", "*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
)


@pytest.mark.parametrize(
    ("request_", "policies", "decision", "reason"),
    [
        (get(), Policies(identity=[IDENTITY_GET]), Decision.ALLOW, ""),
        (
            get(),
            Policies(identity=[]),
            Decision.DENY,
            "no identity-based policy allows the s3:GetObject action",
        ),
        (
            get(),
            Policies(identity=[IDENTITY_GET], resource=doc(deny(Principal="*"))),
            Decision.DENY,
            "explicit deny in a resource-based policy",
        ),
        (
            get(),
            Policies(identity=[IDENTITY_GET, doc(deny())]),
            Decision.DENY,
            "explicit deny in an identity-based policy",
        ),
        # within one account a resource policy naming the caller suffices
        (
            get(),
            Policies(identity=[], resource=doc(allow(Principal={"AWS": ROLE}))),
            Decision.ALLOW,
            "",
        ),
        # ... but naming only the account delegates to the identity policies
        (
            get(),
            Policies(identity=[], resource=doc(allow(Principal={"AWS": ACCOUNT}))),
            Decision.DENY,
            "no identity-based policy allows the s3:GetObject action",
        ),
        # KMS: the key policy must allow or delegate
        (
            KMS_DECRYPT,
            Policies(
                identity=[doc(allow("kms:Decrypt"))],
                resource=DEFAULT_KEY_POLICY,
                resource_required=True,
                resource_kind="key policy",
            ),
            Decision.ALLOW,
            "",
        ),
        (
            KMS_DECRYPT,
            Policies(
                identity=[],
                resource=DEFAULT_KEY_POLICY,
                resource_required=True,
                resource_kind="key policy",
            ),
            Decision.DENY,
            "no identity-based policy allows the kms:Decrypt action",
        ),
        (
            KMS_DECRYPT,
            Policies(
                identity=[doc(allow("kms:Decrypt"))],
                resource=doc(
                    allow("kms:*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/Admin"})
                ),
                resource_required=True,
                resource_kind="key policy",
            ),
            Decision.DENY,
            "no key policy allows the kms:Decrypt action",
        ),
        (
            KMS_DECRYPT,
            Policies(
                identity=[
                    doc(
                        allow(
                            "kms:Decrypt",
                            Condition={
                                "StringEquals": {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"}
                            },
                        )
                    )
                ],
                resource=DEFAULT_KEY_POLICY,
                resource_required=True,
                resource_kind="key policy",
            ),
            Decision.DENY,
            "no identity-based policy allows the kms:Decrypt action",
        ),
        # boundaries and session policies limit
        (
            get(),
            Policies(identity=[IDENTITY_GET], permissions_boundary=doc(allow("s3:PutObject"))),
            Decision.DENY,
            "no permissions boundary allows the s3:GetObject action",
        ),
        (
            get(),
            Policies(identity=[IDENTITY_GET], permissions_boundary=doc(allow("s3:*"))),
            Decision.ALLOW,
            "",
        ),
        (
            get(),
            Policies(identity=[IDENTITY_GET], session_policies=[doc(allow("sqs:*"))]),
            Decision.DENY,
            "no session policy allows the s3:GetObject action",
        ),
        # service principals have no identity policies: only a resource policy can allow
        (
            get(principal=Principal.service("ses.amazonaws.com")),
            Policies(resource=doc(allow(Principal={"Service": "ses.amazonaws.com"}))),
            Decision.ALLOW,
            "",
        ),
        (
            get(principal=Principal.service("ses.amazonaws.com")),
            Policies(resource=None),
            Decision.DENY,
            "no resource-based policy allows the s3:GetObject action",
        ),
        # trust policy for AssumeRole
        (
            Request("sts:AssumeRole", ROLE, Principal.service("lambda.amazonaws.com")),
            Policies(
                resource=doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ),
                resource_required=True,
                resource_kind="trust policy",
            ),
            Decision.ALLOW,
            "",
        ),
        (
            Request("sts:AssumeRole", ROLE, Principal.service("ses.amazonaws.com")),
            Policies(
                resource=doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ),
                resource_required=True,
                resource_kind="trust policy",
            ),
            Decision.DENY,
            "no trust policy allows the sts:AssumeRole action",
        ),
    ],
)
def test_evaluation(request_: Request, policies: Policies, decision: Decision, reason: str) -> None:
    outcome = evaluate(request_, policies)
    assert (outcome.decision, outcome.reason) == (decision, reason)


def test_an_unevaluable_deny_in_a_bucket_policy_denies_what_identity_allows() -> None:
    bucket_policy = doc(
        deny(Principal="*", Condition={"DateLessThan": {"aws:CurrentTime": "soon"}})
    )
    request = get({"aws:CurrentTime": "2026-12-02T03:00:00Z"})
    outcome = evaluate(request, Policies(identity=[IDENTITY_GET], resource=bucket_policy))
    assert outcome.decision is Decision.DENY
    assert "not a date" in " ".join(outcome.unevaluable)


# --- properties ---------------------------------------------------------------------------

_names = st.text(alphabet="abcXYZ:/-*?", min_size=0, max_size=8)


@given(pattern=_names, value=st.text(alphabet="abcXYZ:/-", max_size=8))
def test_a_deny_that_matches_always_wins(pattern: str, value: str) -> None:
    # Whatever the Allow statements say, a matching Deny decides ("Deny evaluation").
    request = Request(f"s3:{value}", "arn:aws:s3:::b/k", SESSION)
    policies = Policies(identity=[doc(allow("s3:*"), allow(f"s3:{pattern}"), deny("s3:*"))])
    assert evaluate(request, policies).decision is Decision.DENY


@given(
    operator=st.sampled_from(
        [
            "StringEquals",
            "StringLike",
            "NumericLessThan",
            "DateGreaterThan",
            "IpAddress",
            "Bool",
            "ArnLike",
            "Frobnicate",
            "ForAnyValue:StringLike",
            "ForAllValues:StringEquals",
            "Null",
        ]
    ),
    value=st.text(max_size=12),
    actual=st.one_of(st.none(), st.text(max_size=12), st.lists(st.text(max_size=5), max_size=3)),
)
def test_fails_closed_on_anything(operator: str, value: str, actual: Any) -> None:
    # For any condition, an Allow grants only if the condition holds, and a Deny that the engine
    # cannot evaluate denies: never an exception, never an allow from what it could not read.
    context = {} if actual is None else {"k": actual}
    condition = {operator: {"k": value}}
    denying = evaluate(
        get(context), Policies(identity=[doc(allow("*")), doc(deny(Condition=condition))])
    )
    allowing = evaluate(get(context), Policies(identity=[doc(allow(Condition=condition))]))
    try:
        holds = condition_holds(operator, "k", value, context)
    except Exception:
        holds = None
    if holds is None:
        assert denying.decision is Decision.DENY and allowing.decision is Decision.DENY
    else:
        assert (denying.decision is Decision.DENY) is holds
        assert (allowing.decision is Decision.ALLOW) is holds

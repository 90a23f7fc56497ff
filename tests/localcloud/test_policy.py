"""The resource-policy evaluator behind SES's rule checks and S3's bucket policies."""

from __future__ import annotations

import pytest

from ses_lambda_localcloud.policy import Decision, Request, evaluate

RULE_ARN = "arn:aws:ses:us-east-1:123456789012:receipt-rule-set/set:receipt-rule/rule"
SES = {"Service": "ses.amazonaws.com"}
CONTEXT = {"aws:SourceAccount": "123456789012", "aws:SourceArn": RULE_ARN}

SES_PUT = {
    "Effect": "Allow",
    "Principal": {"Service": "ses.amazonaws.com"},
    "Action": "s3:PutObject",
    "Resource": "arn:aws:s3:::bucket/raw/*",
    "Condition": {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": RULE_ARN},
    },
}
DENY_INSECURE = {
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::bucket", "arn:aws:s3:::bucket/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def put(key: str, principal: dict[str, str] = SES, **context: str) -> Request:
    return Request(
        action="s3:PutObject",
        resource=f"arn:aws:s3:::bucket/{key}",
        principal=principal,
        context={**CONTEXT, "aws:SecureTransport": "true", **context},
    )


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (put("raw/abc"), Decision.ALLOW),
        (put("parsed/abc"), Decision.NEUTRAL),  # outside the prefix
        (put("raw/abc", principal={"Service": "sns.amazonaws.com"}), Decision.NEUTRAL),
        (put("raw/abc", **{"aws:SourceAccount": "999999999999"}), Decision.NEUTRAL),
        (put("raw/abc", **{"aws:SourceArn": RULE_ARN + "-other"}), Decision.NEUTRAL),
        (put("raw/abc", **{"aws:SecureTransport": "false"}), Decision.DENY),
    ],
)
def test_ses_put_is_allowed_only_as_the_policy_says(request_: Request, expected: Decision) -> None:
    assert evaluate({"Statement": [SES_PUT, DENY_INSECURE]}, request_) is expected


def test_secure_transport_deny_does_not_block_secure_requests() -> None:
    # The CDK bootstrap bucket's policy: the case moto got wrong.
    request = Request(
        "s3:PutObject", "arn:aws:s3:::bucket/asset.zip", context={"aws:SecureTransport": "true"}
    )
    assert evaluate({"Statement": [DENY_INSECURE]}, request) is Decision.NEUTRAL


def test_lambda_permission_shorthand_principal_and_case_insensitive_keys() -> None:
    statement = {
        "Effect": "Allow",
        "Principal": "ses.amazonaws.com",
        "Action": "lambda:InvokeFunction",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "Condition": {"StringEquals": {"AWS:SourceAccount": "123456789012"}},
    }
    request = Request(
        "lambda:invokefunction",
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        principal=SES,
        context={"aws:SourceAccount": "123456789012"},
    )
    assert evaluate({"Statement": statement}, request) is Decision.ALLOW


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringNotEquals": {"k": "a"}}, {"k": "b"}, True),
        ({"StringNotEquals": {"k": "a"}}, {}, True),
        ({"StringLike": {"k": "a*"}}, {"k": "abc"}, True),
        ({"StringLikeIfExists": {"k": "a*"}}, {}, True),
        ({"StringEquals": {"k": ["x", "y"]}}, {"k": "y"}, True),
        ({"Null": {"k": "true"}}, {}, True),
        ({"Null": {"k": "false"}}, {}, False),
        ({"NumericLessThan": {"k": "3"}}, {"k": "1"}, True),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "c"]}, False),
        ({"ForAnyValue:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "c"]}, True),
        ({"BinaryEquals": {"k": "QQ=="}}, {"k": "QQ=="}, False),  # not evaluated: no allow
    ],
)
def test_condition_operators(condition: dict, context: dict, expected: bool) -> None:
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "*",
        "Resource": "*",
        "Condition": condition,
    }
    decision = evaluate({"Statement": [statement]}, Request("s3:GetObject", "x", context=context))
    assert (decision is Decision.ALLOW) is expected


def test_not_action_and_not_resource() -> None:
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "NotAction": "s3:GetObject",
        "NotResource": "arn:x:public/*",
    }
    policy = {"Statement": [statement]}
    assert evaluate(policy, Request("s3:PutObject", "arn:x:private/a")) is Decision.DENY
    assert evaluate(policy, Request("s3:GetObject", "arn:x:private/a")) is Decision.NEUTRAL
    assert evaluate(policy, Request("s3:PutObject", "arn:x:public/a")) is Decision.NEUTRAL


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        # A Deny whose condition uses an operator the engine evaluates, or cannot evaluate,
        # denies: it never silently drops out.
        (
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
            },
            Decision.DENY,
        ),
        (
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            },
            Decision.DENY,
        ),
        (
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"BinaryEquals": {"k": "QQ=="}},
            },
            Decision.DENY,
        ),
        # NotPrincipal with Allow grants nothing; a statement without Principal grants nobody.
        (
            {
                "Effect": "Allow",
                "NotPrincipal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": "s3:*",
                "Resource": "*",
            },
            Decision.NEUTRAL,
        ),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, Decision.NEUTRAL),
    ],
)
def test_fails_closed(statement: dict, expected: Decision) -> None:
    request = put("raw/abc", **{"s3:TlsVersion": "1.0", "aws:SourceIp": "127.0.0.1", "k": "QQ=="})
    assert evaluate({"Statement": [statement]}, request) is expected

"""The local EventBridge matcher against the documented pattern semantics, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from ses_lambda_localcloud.eventbridge.patterns import matches

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "Email Received",
    "source": "ses-lambda-constructs",
    "account": "123456789012",
    "time": "2026-12-01T10:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "status": "processed",
        "envelope": {
            "source": "alice@example.net",
            "recipients": ["support+billing@mail.example.com", "sales@mail.example.com"],
        },
        "headers": {"subject": "Invoice 42 *urgent*", "inReplyTo": None},
        "text": {"content": "Hello", "truncated": False, "size": 5},
        "html": None,
        "attachments": [
            {"index": 0, "filename": "a.pdf", "contentType": "application/pdf", "size": 10},
            {"index": 1, "filename": "b.csv", "contentType": "text/csv", "size": 2000},
        ],
        "verdicts": {"spam": "PASS", "dmarcPolicy": None},
        "references": [],
        "location": {},
        "sourceIp": "10.0.3.7",
        "truncated": False,
    },
}


def d(**fields: Any) -> dict[str, Any]:
    return {"detail": fields}


CASES: list[tuple[str, dict[str, Any], bool]] = [
    # exact values, AND across fields, OR within one
    ("exact", {"source": ["ses-lambda-constructs"]}, True),
    ("exact other", {"source": ["aws.ec2"]}, False),
    ("or within a field", {"source": ["aws.ec2", "ses-lambda-constructs"]}, True),
    (
        "and across fields",
        {"source": ["ses-lambda-constructs"], "detail-type": ["Email Rejected"]},
        False,
    ),
    ("nested", d(envelope={"source": ["alice@example.net"]}), True),
    ("missing field", d(nothing=["x"]), False),
    ("case-sensitive", {"detail-type": ["email received"]}, False),
    # arrays: a leaf array matches when any element matches
    ("array element", d(envelope={"recipients": ["sales@mail.example.com"]}), True),
    ("array no element", d(envelope={"recipients": ["x@mail.example.com"]}), False),
    ("array suffix", d(envelope={"recipients": [{"suffix": "@mail.example.com"}]}), True),
    # arrays of objects: the sub-pattern matches within one element
    ("object array field", d(attachments={"contentType": ["text/csv"]}), True),
    (
        "object array same element",
        d(attachments={"contentType": ["text/csv"], "size": [2000]}),
        True,
    ),
    (
        "object array different elements",
        d(attachments={"contentType": ["text/csv"], "size": [10]}),
        False,
    ),
    # literal types
    ("number", d(text={"size": [5]}), True),
    ("number as float", d(text={"size": [5.0]}), True),
    ("number vs string", d(text={"size": ["5"]}), False),
    ("false", d(truncated=[False]), True),
    ("false is not 0", d(truncated=[0]), False),
    ("null", d(html=[None]), True),
    ("null is not missing", d(nothing=[None]), False),
    ("empty string", d(headers={"subject": [""]}), False),
    # prefix / suffix / equals-ignore-case
    ("prefix", d(headers={"subject": [{"prefix": "Invoice"}]}), True),
    ("prefix no", d(headers={"subject": [{"prefix": "invoice"}]}), False),
    (
        "prefix ignore case",
        d(headers={"subject": [{"prefix": {"equals-ignore-case": "INVOICE"}}]}),
        True,
    ),
    ("prefix on number", d(text={"size": [{"prefix": "5"}]}), False),
    ("suffix", d(envelope={"source": [{"suffix": "@example.net"}]}), True),
    (
        "suffix ignore case",
        d(envelope={"source": [{"suffix": {"equals-ignore-case": "@EXAMPLE.NET"}}]}),
        True,
    ),
    ("equals-ignore-case", {"detail-type": [{"equals-ignore-case": "EMAIL RECEIVED"}]}, True),
    # wildcard
    (
        "wildcard +label",
        d(envelope={"recipients": [{"wildcard": "support+*@mail.example.com"}]}),
        True,
    ),
    ("wildcard middle", d(headers={"subject": [{"wildcard": "Invoice * *"}]}), True),
    ("wildcard whole", d(headers={"subject": [{"wildcard": "Invoice"}]}), False),
    ("wildcard escaped star", d(headers={"subject": [{"wildcard": "*\\*urgent\\*"}]}), True),
    (
        "wildcard escaped star literal",
        d(headers={"subject": [{"wildcard": "Invoice 42 \\*"}]}),
        False,
    ),
    # anything-but
    ("anything-but value", d(status=[{"anything-but": "rejected"}]), True),
    ("anything-but same", d(status=[{"anything-but": "processed"}]), False),
    ("anything-but list", d(status=[{"anything-but": ["rejected", "processed"]}]), False),
    ("anything-but number", d(text={"size": [{"anything-but": [1, 2]}]}), True),
    ("anything-but missing", d(nothing=[{"anything-but": "x"}]), False),
    ("anything-but prefix", d(envelope={"source": [{"anything-but": {"prefix": "bob"}}]}), True),
    (
        "anything-but prefix hit",
        d(envelope={"source": [{"anything-but": {"prefix": "alice"}}]}),
        False,
    ),
    ("anything-but suffix", d(envelope={"source": [{"anything-but": {"suffix": ".net"}}]}), False),
    (
        "anything-but ignore case",
        d(status=[{"anything-but": {"equals-ignore-case": ["PROCESSED"]}}]),
        False,
    ),
    (
        "anything-but wildcard",
        d(envelope={"source": [{"anything-but": {"wildcard": "*@example.org"}}]}),
        True,
    ),
    # numeric
    ("numeric range", d(text={"size": [{"numeric": [">", 0, "<=", 5]}]}), True),
    ("numeric out of range", d(text={"size": [{"numeric": [">", 5]}]}), False),
    ("numeric equals", d(text={"size": [{"numeric": ["=", 5]}]}), True),
    ("numeric on string", d(status=[{"numeric": [">", 0]}]), False),
    ("numeric on boolean", d(truncated=[{"numeric": ["<", 1]}]), False),
    ("numeric on array", d(attachments={"size": [{"numeric": [">=", 1000]}]}), True),
    # exists (leaves only)
    ("exists true", d(status=[{"exists": True}]), True),
    ("exists false on a present leaf", d(status=[{"exists": False}]), False),
    ("exists false missing", d(nothing=[{"exists": False}]), True),
    ("exists true missing", d(nothing=[{"exists": True}]), False),
    ("exists true on null", d(html=[{"exists": True}]), True),
    ("exists false on an object", d(text=[{"exists": False}]), True),
    ("exists true on an object", d(text=[{"exists": True}]), False),
    ("exists false on an empty array", d(references=[{"exists": False}]), True),
    ("exists false under a missing object", d(nothing={"deeper": [{"exists": False}]}), True),
    # cidr
    ("cidr", d(sourceIp=[{"cidr": "10.0.0.0/16"}]), True),
    ("cidr outside", d(sourceIp=[{"cidr": "10.1.0.0/16"}]), False),
    # $or
    ("$or one holds", {"$or": [{"source": ["aws.ec2"]}, d(status=["processed"])]}, True),
    ("$or none holds", {"$or": [{"source": ["aws.ec2"]}, d(status=["rejected"])]}, False),
    ("$or nested", d(**{"$or": [{"status": ["rejected"]}, {"text": {"size": [5]}}]}), True),
    (
        "$or and a field",
        {"source": ["aws.ec2"], "$or": [d(status=["processed"]), d(html=[None])]},
        False,
    ),
]


@pytest.mark.parametrize(("pattern", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_matcher_follows_the_documented_semantics(pattern: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, EVENT) is expected


def test_the_receivers_own_patterns_match_like_ses_recipient_conditions() -> None:
    # The pattern the construct builds for recipients=["support@mail.example.com"].
    pattern = {
        "source": ["ses-lambda-constructs"],
        "detail-type": ["Email Received"],
        "detail": {
            "envelope": {
                "recipients": [
                    "support@mail.example.com",
                    {"wildcard": "support+*@mail.example.com"},
                ]
            }
        },
    }
    assert matches(pattern, EVENT)
    other = {**EVENT, "detail": {**EVENT["detail"], "envelope": {"recipients": ["x@y.example"]}}}
    assert not matches(pattern, other)

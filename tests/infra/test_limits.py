"""The validation helpers of ``limits.py`` at their boundaries, without synthesizing anything.

Each rule is tested on both sides of its limit (SES Developer Guide, "Service quotas in Amazon
SES"; SES API reference, ReceiptRule and ReceiptRuleSetMetadata; "Deliver to S3 bucket action"),
and every error names the prop and the value.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from ses_lambda_constructs.limits import (
    EXTRA_REGIONS_CONTEXT_KEY,
    MAX_NAME_LENGTH,
    MAX_PREFIX_LENGTH,
    MAX_RECIPIENTS_PER_RULE,
    ValidationError,
    builtin_receiving_regions,
    is_unresolved,
    opt_in_receiving_regions,
    receiving_regions,
    validate_count,
    validate_disjoint_prefixes,
    validate_domain,
    validate_prefix,
    validate_recipient,
    validate_recipients,
    validate_rule_name,
    validate_rule_set_name,
    validate_s3_action_region,
)

TOKEN = cdk.Fn.ref("SomeParameter")  # an unresolved token


def message_of(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(ValidationError) as raised:
        call(*args, **kwargs)  # type: ignore[operator]
    return str(raised.value)


# --- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "A1", "a.b-c_d", "a" * MAX_NAME_LENGTH, "1.2"])
def test_valid_rule_names(name: str) -> None:
    assert validate_rule_name("route name", name) == name


@pytest.mark.parametrize(
    "name", ["", "a" * (MAX_NAME_LENGTH + 1), ".a", "a.", "-a", "a_", "a b", "a/b"]
)
def test_invalid_rule_names(name: str) -> None:
    message = message_of(validate_rule_name, "route name", name)
    assert message == (
        "route name must be 1-64 characters of letters, digits, '_', '-' or '.', starting and "
        f"ending with a letter or digit; got {name!r}"
    )


@pytest.mark.parametrize("name", ["a", "a-b_c", "a" * MAX_NAME_LENGTH])
def test_valid_rule_set_names(name: str) -> None:
    assert validate_rule_set_name("rule_set_name", name) == name


@pytest.mark.parametrize("name", ["", "a.b", "a" * (MAX_NAME_LENGTH + 1), "_a", "a-"])
def test_invalid_rule_set_names(name: str) -> None:
    message = message_of(validate_rule_set_name, "rule_set_name", name)
    assert message.startswith(
        "rule_set_name must be 1-64 characters of letters, digits, '_' or '-'"
    )
    assert message.endswith(f"got {name!r}")


def test_unresolved_names_are_left_to_cloudformation() -> None:
    assert is_unresolved(TOKEN) and not is_unresolved("plain") and not is_unresolved(3)
    for validate in (
        validate_rule_name,
        validate_rule_set_name,
        validate_domain,
        validate_recipient,
    ):
        assert validate("p", TOKEN) == TOKEN
    assert validate_prefix("p", TOKEN, allow_empty=False) == TOKEN
    validate_s3_action_region("p", TOKEN)
    validate_disjoint_prefixes(("a", TOKEN), ("b", "raw/"))
    validate_disjoint_prefixes(("a", "raw/"), ("b", TOKEN))


# --- domains and recipients -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("Mail.Example.COM", "mail.example.com"),
        ("a-b.example", "a-b.example"),
        ("x" * 63 + ".example", "x" * 63 + ".example"),
        (("a" * 49 + ".") * 5 + "abc", ("a" * 49 + ".") * 5 + "abc"),  # 253 characters
    ],
)
def test_valid_domains(domain: str, expected: str) -> None:
    assert validate_domain("domain", domain) == expected


@pytest.mark.parametrize(
    "domain",
    [
        "example",
        "-a.example",
        "a-.example",
        "x" * 64 + ".example",
        ("a" * 49 + ".") * 5 + "abcd",  # 254 characters
        "a..example",
        "a example.com",
    ],
)
def test_invalid_domains(domain: str) -> None:
    assert message_of(validate_domain, "domain", domain) == (
        f"domain must be a domain name such as 'mail.example.com'; got {domain!r}"
    )


@pytest.mark.parametrize(
    "recipient",
    [
        "user@example.com",
        "User.Name+tag@Mail.Example.com",
        "a" * 64 + "@example.com",
        "example.com",
        ".example.com",
        "o'brien@example.com",
    ],
)
def test_valid_recipients(recipient: str) -> None:
    assert validate_recipient("recipients", recipient) == recipient


@pytest.mark.parametrize(
    ("recipient", "expected"),
    [
        ("", "recipients has a malformed recipient ''"),
        ("a b@example.com", "recipients has a malformed recipient 'a b@example.com'"),
        ("a\x00@example.com", "malformed recipient 'a\\x00@example.com'"),
        ("a\x7f@example.com", "malformed recipient"),
        ("a" * 65 + "@example.com", "expected 'user@example.com', 'example.com' or '.example.com'"),
        (".a@example.com", "expected 'user@example.com'"),
        ("a..b@example.com", "expected 'user@example.com'"),
        ("a@example", "expected 'user@example.com'"),
        ("@example.com", "expected 'user@example.com'"),
        ("example", "recipients has a malformed recipient 'example': expected"),
        ("..example.com", "expected"),
        (".example", "expected"),
    ],
)
def test_invalid_recipients(recipient: str, expected: str) -> None:
    assert expected in message_of(validate_recipient, "recipients", recipient)


def test_a_recipient_that_is_no_string_is_refused() -> None:
    assert "malformed recipient 3" in message_of(validate_recipient, "recipients", 3)


def test_recipients_lists() -> None:
    values = ["a@example.com", "example.org"]
    assert validate_recipients("recipients", values) == values
    assert validate_recipients("recipients", ("a@example.com",)) == ["a@example.com"]
    full = [f"u{i}@example.com" for i in range(MAX_RECIPIENTS_PER_RULE)]
    assert validate_recipients("recipients", full) == full
    assert message_of(validate_recipients, "recipients", [*full, "x@example.com"]) == (
        "recipients has 501 recipients; SES allows at most 500 per rule (split them over "
        "several routes)"
    )
    assert message_of(validate_recipients, "recipients", []) == (
        "recipients is empty: a rule without recipients matches every address of every verified "
        "domain in the account; list the addresses or domains to receive"
    )
    assert message_of(validate_recipients, "recipients", "a@example.com") == (
        "recipients must be a list of recipients, got the string 'a@example.com'"
    )
    assert message_of(validate_recipients, "recipients", ["a@example.com", "A@Example.com"]) == (
        "recipients lists 'A@Example.com' more than once"
    )
    assert message_of(validate_recipients, "recipients", ["a@example.com", "bad"]).startswith(
        "recipients has a malformed recipient 'bad'"
    )
    token = cdk.Fn.ref("SomeParameter")
    assert validate_recipients("recipients", ["a@example.com", token]) == ["a@example.com", token]


# --- prefixes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "raw/", "a/b/", "a.b/", "x" * MAX_PREFIX_LENGTH, "é" * 256])
def test_valid_prefixes(prefix: str) -> None:
    assert validate_prefix("raw_prefix", prefix) == prefix


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("/raw/", "must not start with '/'"),
        ("raw\x00/", "must not contain control characters"),
        ("raw\n/", "must not contain control characters"),
        ("a/../b/", "must not contain '..' segments or empty segments ('//')"),
        ("../", "must not contain '..' segments or empty segments ('//')"),
        ("a//b/", "must not contain '..' segments or empty segments ('//')"),
        ("x" * (MAX_PREFIX_LENGTH + 1), "must be at most 512 bytes"),
        ("é" * 257, "must be at most 512 bytes"),  # bytes, not characters
    ],
)
def test_invalid_prefixes(prefix: str, problem: str) -> None:
    assert (
        message_of(validate_prefix, "raw_prefix", prefix) == f"raw_prefix {problem}; got {prefix!r}"
    )


def test_an_empty_prefix_may_be_refused() -> None:
    assert message_of(validate_prefix, "prefix", "", allow_empty=False) == (
        "prefix must not be empty; got ''"
    )
    assert validate_prefix("prefix", "a/", allow_empty=False) == "a/"


@pytest.mark.parametrize(
    ("a", "b"), [("raw/", "raw/"), ("raw/", "raw/parsed/"), ("", "x/"), ("mail/raw", "mail/")]
)
def test_overlapping_prefixes_are_refused(a: str, b: str) -> None:
    for first, second in ((a, b), (b, a)):
        message = message_of(
            validate_disjoint_prefixes, ("raw_prefix", first), ("parsed_prefix", second)
        )
        assert message == (
            f"raw_prefix ({first!r}) and parsed_prefix ({second!r}) overlap: give raw and parsed "
            "objects separate prefixes, such as 'raw/' and 'parsed/'"
        )


def test_disjoint_prefixes_pass() -> None:
    validate_disjoint_prefixes(("raw_prefix", "raw/"), ("parsed_prefix", "parsed/"))
    validate_disjoint_prefixes(("raw_prefix", "raw/"), ("parsed_prefix", "raw2/"))


# --- counts and regions ------------------------------------------------------------------------------------


def test_counts_up_to_the_maximum_pass() -> None:
    validate_count("actions", 10, 10, "actions")
    assert message_of(validate_count, "actions", 11, 10, "actions") == (
        "actions has 11 actions; SES allows at most 10"
    )


def test_the_receiving_regions_and_the_opt_in_ones() -> None:
    regions = builtin_receiving_regions()
    assert {"us-east-1", "eu-west-1"} <= regions
    assert opt_in_receiving_regions() < regions
    assert receiving_regions() == regions
    for region in opt_in_receiving_regions():
        message = message_of(validate_s3_action_region, "raw_message_bucket", region)
        assert message == (
            f"raw_message_bucket is in {region!r}, an opt-in region: SES does not store mail "
            "into S3 buckets in opt-in regions. Store into a bucket in a region that is not "
            "opt-in (pass one as raw_message_bucket, imported with its region), or receive "
            "without storing raw messages (store_raw_messages=False, routes with your own "
            "function)"
        )
    validate_s3_action_region("raw_message_bucket", "us-east-1")


@pytest.mark.parametrize(
    ("extra", "added"),
    [
        (["xx-new-1"], {"xx-new-1"}),
        ("xx-new-1, xx-new-2,", {"xx-new-1", "xx-new-2"}),
        ([], set()),
    ],
)
def test_extra_receiving_regions_come_from_the_context(extra: object, added: set[str]) -> None:
    app = cdk.App(context={EXTRA_REGIONS_CONTEXT_KEY: extra})
    assert receiving_regions(app) == builtin_receiving_regions() | added
    assert receiving_regions(cdk.App()) == builtin_receiving_regions()


@pytest.mark.parametrize("extra", [3, ["ok", 4], {"a": "b"}])
def test_fails_when_the_extra_regions_are_no_list_of_names(extra: object) -> None:
    app = cdk.App(context={EXTRA_REGIONS_CONTEXT_KEY: extra})
    assert message_of(receiving_regions, app) == (
        f"context '{EXTRA_REGIONS_CONTEXT_KEY}' must be a list of region names, got {extra!r}"
    )


def test_an_unresolved_prefix_is_never_compared() -> None:
    # Every prefix starts with the empty one; a token may stand for anything, so it is left alone.
    validate_disjoint_prefixes(("raw_prefix", TOKEN), ("parsed_prefix", ""))
    validate_disjoint_prefixes(("raw_prefix", ""), ("parsed_prefix", TOKEN))

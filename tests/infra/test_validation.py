"""Synth-time validation: each bad input fails with a message naming the prop and the value."""

from __future__ import annotations

import re
import string
from collections.abc import Callable

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as ses_actions
from aws_cdk.assertions import Annotations, Match, Template
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ses_lambda_constructs import (
    EmailReceiver,
    RawMessageStore,
    ReceivingDomain,
    ReferenceHandler,
    Route,
    ValidationError,
)
from ses_lambda_constructs.limits import (
    builtin_receiving_regions,
    opt_in_receiving_regions,
    validate_rule_name,
    validate_rule_set_name,
)
from tests.infra.conftest import make_stack, synth


def own_function(stack: cdk.Stack) -> lambda_.IFunction:
    existing = stack.node.try_find_child("Own")
    if existing is not None:
        return existing  # type: ignore[return-value]
    return lambda_.Function.from_function_attributes(
        stack,
        "Own",
        function_arn="arn:aws:lambda:eu-west-1:111122223333:function:own",
        same_environment=True,
    )


def receiver(stack: cdk.Stack, **kwargs: object) -> EmailReceiver:
    """A receiver whose routes use a user function, so no bundling is needed."""
    return EmailReceiver(stack, "Receiver", rule_set_name="rules", **kwargs)  # type: ignore[arg-type]


def route(stack: cdk.Stack, **kwargs: object) -> Route:
    fields: dict[str, object] = {
        "id": "Inbox",
        "recipients": ["a@example.com"],
        "function": own_function(stack),
    }
    fields.update(kwargs)
    return Route(**fields)  # type: ignore[arg-type]


def fails(build: Callable[[cdk.Stack], object], message: str) -> None:
    stack = make_stack()
    with pytest.raises(ValidationError, match=re.escape(message)):
        build(stack)


@pytest.mark.parametrize(
    "recipient",
    [
        "not an address",
        "a@b",
        "user@@example.com",
        "@example.com",
        "exa mple.com",
        "..example.com",
        "a\n@example.com",
        "",
    ],
)
def test_fails_when_a_recipient_is_malformed(recipient: str) -> None:
    fails(
        lambda s: receiver(s, routes=[route(s, recipients=["ok@example.com", recipient])]),
        f"routes[Inbox].recipients has a malformed recipient {recipient!r}",
    )


def test_a_rule_with_500_recipients_synthesizes() -> None:
    # SES quotas page, email receiving: "Maximum number of recipients per receipt rule | 500".
    stack = make_stack()
    many = [f"user{i}@example.com" for i in range(500)]
    receiver(stack, routes=[route(stack, recipients=many)])
    (rule,) = synth(stack).find_resources("AWS::SES::ReceiptRule").values()
    assert rule["Properties"]["Rule"]["Recipients"] == many


def test_fails_when_a_rule_has_more_than_500_recipients() -> None:
    many = [f"user{i}@example.com" for i in range(501)]
    fails(
        lambda s: receiver(s, routes=[route(s, recipients=many)]),
        "routes[Inbox].recipients has 501 recipients; SES allows at most 500 per rule",
    )


def test_fails_when_recipients_are_empty() -> None:
    fails(
        lambda s: receiver(s, routes=[route(s, recipients=[])]), "routes[Inbox].recipients is empty"
    )


def test_fails_when_recipients_is_a_string() -> None:
    fails(
        lambda s: receiver(s, routes=[route(s, recipients="a@example.com")]),
        "routes[Inbox].recipients must be a list of recipients, got the string 'a@example.com'",
    )


def test_fails_when_a_recipient_repeats() -> None:
    fails(
        lambda s: receiver(s, routes=[route(s, recipients=["a@example.com", "A@example.com"])]),
        "routes[Inbox].recipients lists 'A@example.com' more than once",
    )


def test_fails_when_a_rule_has_more_than_10_actions() -> None:
    fails(
        lambda s: receiver(
            s,
            routes=[
                route(
                    s,
                    store_raw_message=False,
                    extra_actions=[ses_actions.AddHeader(name="X-A", value="1")] * 10,
                )
            ],
        ),
        "routes[Inbox] actions has 11 actions; SES allows at most 10",
    )


def test_fails_when_a_rule_set_gets_more_than_200_rules() -> None:
    def build(stack: cdk.Stack) -> None:
        rx = receiver(stack)
        fn = own_function(stack)
        for i in range(201):
            rx.add_route(
                Route(
                    id=f"R{i}",
                    recipients=[f"u{i}@example.com"],
                    function=fn,
                    store_raw_message=False,
                )
            )

    fails(build, "routes has 201 rules in one rule set; SES allows at most 200")


def test_fails_when_the_verdict_gate_takes_the_200th_rule() -> None:
    # The gate's rule is a rule of the same set: 199 routes fill it, the 200th route overflows.
    # (One recipient for all, so that the gate's union of recipients stays within its quota.)
    def build(stack: cdk.Stack) -> None:
        rx = receiver(stack, verdict_gate=True)
        fn = own_function(stack)
        for i in range(200):
            rx.add_route(Route(id=f"R{i}", recipients=["example.com"], function=fn))

    fails(build, "routes has 201 rules in one rule set; SES allows at most 200")


def test_fails_in_add_route_when_the_verdict_gate_gets_more_than_500_recipients() -> None:
    stack = make_stack()
    rx = receiver(stack, verdict_gate=True)
    fn = own_function(stack)
    rx.add_route(Route(id="A", recipients=[f"a{i}@example.com" for i in range(300)], function=fn))
    # the same addresses in another case are one recipient to SES, not two
    rx.add_route(Route(id="B", recipients=[f"A{i}@example.com" for i in range(300)], function=fn))
    # 500 in all is the quota: accepted
    rx.add_route(Route(id="C", recipients=[f"c{i}@example.com" for i in range(200)], function=fn))
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "verdict_gate recipients (every route's, with routes[D]) has 501 recipients; "
            "SES allows at most 500 per rule"
        ),
    ):
        rx.add_route(Route(id="D", recipients=["d@example.com"], function=fn))


def test_imported_function_warning_names_the_rule_arn() -> None:
    stack = make_stack()
    theirs = lambda_.Function.from_function_arn(
        stack, "Theirs", "arn:aws:lambda:eu-west-1:444455556666:function:theirs"
    )
    receiver(stack, routes=[route(stack, function=theirs, rule_name="inbox")])
    Annotations.from_stack(stack).has_warning(
        "*",
        Match.string_like_regexp(
            "with SourceArn arn:aws:ses:eu-west-1:111122223333:"
            "receipt-rule-set/rules:receipt-rule/inbox before deploying"
        ),
    )


@pytest.mark.parametrize(
    "name", ["-starts-with-dash", "ends.", "has space", "x" * 65, "semi;colon", ""]
)
def test_fails_when_a_rule_name_is_invalid(name: str) -> None:
    fails(
        lambda s: (
            receiver(s, routes=[route(s, rule_name=name)])
            if name
            else receiver(s, routes=[route(s, rule_name=" ")])
        ),
        "routes[Inbox].rule_name must be 1-64 characters",
    )


def test_fails_when_a_rule_set_name_is_invalid() -> None:
    fails(
        lambda s: EmailReceiver(s, "Receiver", rule_set_name="bad/name"),
        "rule_set_name must be 1-64 characters of letters, digits, '_' or '-' (a rule set name "
        "cannot contain '.'), starting and ending with a letter or digit; got 'bad/name'",
    )


def test_fails_when_a_rule_set_name_has_a_period() -> None:
    # ReceiptRuleSetMetadata Name: letters, digits, underscores and dashes only.
    fails(
        lambda s: EmailReceiver(s, "Receiver", rule_set_name="mail.rules"),
        "rule_set_name must be 1-64 characters of letters, digits, '_' or '-' (a rule set name "
        "cannot contain '.'), starting and ending with a letter or digit; got 'mail.rules'",
    )


def test_a_rule_name_with_a_period_synthesizes() -> None:
    # ReceiptRule Name: periods are allowed (unlike in a rule set's name).
    stack = make_stack()
    receiver(stack, routes=[route(stack, rule_name="support.inbox")])
    (rule,) = synth(stack).find_resources("AWS::SES::ReceiptRule").values()
    assert rule["Properties"]["Rule"]["Name"] == "support.inbox"


def test_fails_when_two_routes_share_a_rule_name() -> None:
    fails(
        lambda s: receiver(
            s, routes=[route(s, rule_name="same"), route(s, id="Other", rule_name="same")]
        ),
        "routes[Other].rule_name 'same' is used by another route",
    )


def test_fails_when_two_routes_share_an_id() -> None:
    fails(
        lambda s: receiver(s, routes=[route(s), route(s)]), "routes: the id 'Inbox' is used twice"
    )


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("/raw/", "must not start with '/'"),
        ("raw/../x/", "must not contain '..' segments or empty segments ('//')"),
        ("raw//x/", "must not contain '..' segments or empty segments ('//')"),
        ("raw\x00/", "must not contain control characters"),
        ("r" * 513, "must be at most 512 bytes"),
    ],
)
def test_fails_when_a_prefix_is_malformed(prefix: str, problem: str) -> None:
    fails(
        lambda s: receiver(s, raw_message_prefix=prefix),
        f"raw_message_prefix {problem}; got {prefix!r}",
    )


def test_fails_when_raw_and_parsed_prefixes_overlap() -> None:
    fails(
        lambda s: receiver(
            s,
            raw_message_prefix="mail/",
            parsed_prefix="mail/parsed/",
            routes=[Route(id="Inbox", recipients=["a@example.com"])],
        ),
        "raw_message_prefix ('mail/') and parsed_prefix ('mail/parsed/') overlap",
    )


def test_fails_when_the_domain_is_malformed() -> None:
    fails(
        lambda s: ReceivingDomain(s, "Domain", domain_name="not_a_domain"),
        "domain_name must be a domain name such as 'mail.example.com'; got 'not_a_domain'",
    )


def test_fails_when_the_domain_is_outside_the_zone() -> None:
    def build(stack: cdk.Stack) -> None:
        zone = route53.PublicHostedZone.from_public_hosted_zone_attributes(
            stack, "Zone", hosted_zone_id="Z1", zone_name="example.org"
        )
        ReceivingDomain(stack, "Domain", domain_name="mail.example.com", hosted_zone=zone)

    fails(build, "domain_name 'mail.example.com' is not inside hosted_zone 'example.org'")


def test_fails_when_mail_from_is_not_one_label() -> None:
    fails(
        lambda s: ReceivingDomain(
            s, "Domain", domain_name="example.com", mail_from_subdomain="a.b"
        ),
        "mail_from_subdomain must be a single label such as 'bounce'; got 'a.b'",
    )


def test_fails_when_activating_a_rule_set_passed_in() -> None:
    fails(
        lambda s: EmailReceiver(
            s,
            "Receiver",
            rule_set=ses.ReceiptRuleSet.from_receipt_rule_set_name(s, "Set", "theirs"),
            activate_rule_set=True,
        ),
        "activate_rule_set applies to the rule set the receiver defines",
    )


def test_fails_when_replacing_without_activating() -> None:
    fails(
        lambda s: receiver(s, replace_active_rule_set=True),
        "replace_active_rule_set=True needs activate_rule_set=True",
    )


def test_fails_when_a_rule_set_has_no_fixed_name() -> None:
    fails(
        lambda s: EmailReceiver(s, "Receiver", rule_set=ses.ReceiptRuleSet(s, "Unnamed")),
        "rule_set must have a fixed name",
    )


def test_fails_when_the_reference_handler_gets_no_stored_message() -> None:
    fails(
        lambda s: receiver(
            s, routes=[Route(id="Inbox", recipients=["a@example.com"], store_raw_message=False)]
        ),
        "routes[Inbox].store_raw_message is False, but the reference handler reads the raw message from S3",
    )


def test_fails_when_storing_is_off_but_a_route_stores() -> None:
    fails(
        lambda s: receiver(s, store_raw_messages=False, routes=[route(s)]),
        "routes[Inbox].store_raw_message is True but the receiver stores no raw messages",
    )


@pytest.mark.parametrize("size", [0, 40 * 1024 * 1024 + 1])
def test_fails_when_max_message_size_is_out_of_range(size: int) -> None:
    def build(stack: cdk.Stack) -> None:
        ReferenceHandler(
            stack, "Handler", store=RawMessageStore(stack, "Store"), max_message_size=size
        )

    fails(
        build, f"max_message_size must be between 1 and 41943040 bytes (SES's limit); got {size!r}"
    )


def test_fails_when_the_runtime_is_not_python() -> None:
    def build(stack: cdk.Stack) -> None:
        ReferenceHandler(
            stack,
            "Handler",
            store=RawMessageStore(stack, "Store"),
            runtime=lambda_.Runtime.NODEJS_22_X,
        )

    fails(build, "runtime must be a Python runtime; got 'nodejs22.x'")


def test_fails_when_expiring_an_imported_bucket() -> None:
    stack = make_stack()
    with pytest.raises(ValidationError, match="expiration needs a bucket the stack owns"):
        RawMessageStore(
            stack,
            "Store",
            bucket=s3.Bucket.from_bucket_name(stack, "B", "theirs"),
            expiration=cdk.Duration.days(1),
        )


def test_region_without_receiving_is_an_error_annotation() -> None:
    stack = make_stack(env=cdk.Environment(account="111122223333", region="ap-east-1"))
    receiver(stack, routes=[route(stack)])
    Annotations.from_stack(stack).has_error(
        "/TestStack/Receiver",
        Match.string_like_regexp("region 'ap-east-1' cannot receive email with SES"),
    )


def test_extra_receiving_regions_come_from_context() -> None:
    stack = make_stack(
        env=cdk.Environment(account="111122223333", region="ap-east-1"),
        **{"ses-lambda-constructs:extraReceivingRegions": ["ap-east-1"]},
    )
    receiver(stack, routes=[route(stack)])
    Annotations.from_stack(stack).has_no_error("*", Match.any_value())


def test_unresolved_tokens_are_not_validated() -> None:
    stack = make_stack()
    recipient = cdk.CfnParameter(stack, "Recipient").value_as_string
    rule_name = cdk.CfnParameter(stack, "RuleName").value_as_string
    receiver(stack, routes=[route(stack, recipients=[recipient], rule_name=rule_name)])
    synth(stack).has_resource_properties(
        "AWS::SES::ReceiptRule", {"Rule": Match.object_like({"Recipients": [{"Ref": "Recipient"}]})}
    )


def test_imported_bucket_without_policy_access_warns() -> None:
    stack = make_stack()
    bucket = s3.Bucket.from_bucket_name(stack, "Theirs", "their-bucket")
    receiver(stack, raw_message_bucket=bucket, routes=[route(stack)])
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp("The bucket their-bucket is imported")
    )


#: The email receiving endpoints of the AWS General Reference ("Amazon SES endpoints and quotas").
RECEIVING_REGIONS = {
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1",
    "il-central-1", "me-south-1", "af-south-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
}  # fmt: skip
OPT_IN_RECEIVING_REGIONS = {
    "af-south-1",
    "ap-southeast-3",
    "eu-south-1",
    "il-central-1",
    "me-south-1",
}


def test_the_builtin_regions_are_the_22_receiving_regions() -> None:
    assert builtin_receiving_regions() == RECEIVING_REGIONS
    assert opt_in_receiving_regions() == OPT_IN_RECEIVING_REGIONS


def test_a_stack_in_eu_north_1_synthesizes() -> None:
    stack = make_stack(env=cdk.Environment(account="111122223333", region="eu-north-1"))
    receiver(stack, routes=[route(stack)])
    Annotations.from_stack(stack).has_no_error("*", Match.any_value())
    template = synth(stack)
    assert len(template.find_resources("AWS::SES::ReceiptRule")) == 1


@pytest.mark.parametrize("region", sorted(RECEIVING_REGIONS - OPT_IN_RECEIVING_REGIONS))
def test_every_receiving_region_that_is_not_opt_in_takes_a_storing_route(region: str) -> None:
    stack = make_stack(env=cdk.Environment(account="111122223333", region=region))
    receiver(stack, routes=[route(stack)])
    Annotations.from_stack(stack).has_no_error("*", Match.any_value())


@pytest.mark.parametrize("region", sorted(OPT_IN_RECEIVING_REGIONS))
def test_fails_to_store_into_a_bucket_in_an_opt_in_region(region: str) -> None:
    stack = make_stack(env=cdk.Environment(account="111122223333", region=region))
    with pytest.raises(
        ValidationError,
        match=re.escape(
            f"the bucket SES stores raw messages in is in {region!r}, an opt-in region: SES does "
            "not store mail into S3 buckets in opt-in regions"
        ),
    ):
        receiver(stack, routes=[route(stack)])


def test_an_opt_in_region_receives_into_a_bucket_of_another_region() -> None:
    stack = make_stack(env=cdk.Environment(account="111122223333", region="il-central-1"))
    bucket = s3.Bucket.from_bucket_attributes(
        stack, "Elsewhere", bucket_name="mail-eu-central-1", region="eu-central-1"
    )
    receiver(stack, raw_message_bucket=bucket, routes=[route(stack)])
    Annotations.from_stack(stack).has_no_error("*", Match.any_value())
    (rule,) = Template.from_stack(stack).find_resources("AWS::SES::ReceiptRule").values()
    (store, _) = rule["Properties"]["Rule"]["Actions"]
    assert store["S3Action"]["BucketName"] == "mail-eu-central-1"


def test_an_opt_in_region_receives_without_storing() -> None:
    stack = make_stack(env=cdk.Environment(account="111122223333", region="me-south-1"))
    receiver(stack, store_raw_messages=False, routes=[route(stack, store_raw_message=False)])
    Annotations.from_stack(stack).has_no_error("*", Match.any_value())
    (rule,) = Template.from_stack(stack).find_resources("AWS::SES::ReceiptRule").values()
    assert [list(action) for action in rule["Properties"]["Rule"]["Actions"]] == [["LambdaAction"]]


_NAME_CHARS = st.sampled_from(string.ascii_letters + string.digits + "_-./ ;")


# No deadline or generation-speed check: the suite shares two cores with parallel workers.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(_NAME_CHARS, max_size=70))
def test_rule_and_rule_set_names_follow_their_own_rules(name: str) -> None:
    # ReceiptRule Name: [A-Za-z0-9_.-], ReceiptRuleSetMetadata Name: [A-Za-z0-9_-]; both start
    # and end with a letter or digit and have 1 to 64 characters.
    def allowed(extra: str) -> bool:
        return (
            0 < len(name) <= 64
            and all(c.isascii() and (c.isalnum() or c in extra) for c in name)
            and name[0].isalnum()
            and name[-1].isalnum()
        )

    for check, extra in ((validate_rule_name, "_-."), (validate_rule_set_name, "_-")):
        if allowed(extra):
            assert check("name", name) == name
        else:
            with pytest.raises(ValidationError, match=re.escape(f"got {name!r}")):
                check("name", name)

"""Local EventBridge: PutEvents -> matching rules -> Lambda and SQS targets, dead-letter queues,
and the journal that ``send``/``show`` report from."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ses_lambda_localcloud.eventbridge.delivery import JOURNAL
from ses_lambda_localcloud.server import LocalCloud
from ses_lambda_localcloud.target import Target

from .conftest import grant
from .test_lambda import zipped

ACCOUNT = "123456789012"
CONSUMER = """
def handler(event, context):
    if event["detail"].get("fail"):
        raise RuntimeError("consumer failed")
    return {"got": event["detail"]["messageId"], "type": event["detail-type"], "time": event["time"]}
"""
PATTERN = {
    "source": ["ses-lambda-constructs"],
    "detail-type": ["Email Received"],
    "detail": {
        "envelope": {"recipients": ["support@example.com", {"wildcard": "support+*@example.com"}]}
    },
}


def entry(message_id: str, recipient: str, **detail: Any) -> dict[str, Any]:
    return {
        "Source": "ses-lambda-constructs",
        "DetailType": "Email Received",
        "EventBusName": f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/mail",
        "Detail": json.dumps(
            {"messageId": message_id, "envelope": {"recipients": [recipient]}, **detail}
        ),
    }


def queue(aws: Callable[[str], Any], name: str, *, allow_rule: str | None) -> tuple[str, str]:
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
    if allow_rule:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": allow_rule}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def receive(aws: Callable[[str], Any], url: str) -> list[dict[str, Any]]:
    return list(
        aws("sqs")
        .receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        .get("Messages", [])
    )


@pytest.fixture
def bus(fresh: LocalCloud, aws: Callable[[str], Any]) -> str:
    aws("events").create_event_bus(Name="mail")
    return "mail"


@pytest.fixture
def make_function(bus: str, aws: Callable[[str], Any]) -> Callable[[str], str]:
    """``make_function(name)``: the consumer code as a function; returns its ARN."""
    role = aws("iam").create_role(
        RoleName="consumer",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    # Lambda sends to destinations with the function's role.
    grant(aws, "consumer", "sqs:SendMessage", "sns:Publish", "lambda:InvokeFunction")

    def make(name: str) -> str:
        created = aws("lambda").create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": zipped(CONSUMER)},
            Timeout=5,
        )
        return str(created["FunctionArn"])

    return make


def rule(aws: Callable[[str], Any], name: str, targets: list[dict[str, Any]]) -> str:
    events = aws("events")
    arn = events.put_rule(Name=name, EventBusName="mail", EventPattern=json.dumps(PATTERN))[
        "RuleArn"
    ]
    events.put_targets(Rule=name, EventBusName="mail", Targets=targets)
    return str(arn)


def test_only_matching_events_reach_a_permitted_function_and_queue(
    bus: str, aws: Callable[[str], Any], make_function: Callable[[str], str], target: Target
) -> None:
    # GIVEN a rule on the bus with a function target (allowed for the rule) and a queue target
    function_arn = make_function("consumer")
    rule_arn = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/mail/support"
    aws("lambda").add_permission(
        FunctionName="consumer",
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
        SourceAccount=ACCOUNT,
    )
    inbox_url, inbox_arn = queue(aws, "inbox", allow_rule=rule_arn)
    assert (
        rule(aws, "support", [{"Id": "fn", "Arn": function_arn}, {"Id": "q", "Arn": inbox_arn}])
        == rule_arn
    )

    # WHEN two events are put, one for the subscribed recipient (+label form) and one not
    answer = aws("events").put_events(
        Entries=[entry("m-1", "support+billing@example.com"), entry("m-2", "sales@example.com")]
    )
    assert answer["FailedEntryCount"] == 0

    # THEN only the first reaches the function and the queue, with an ISO time
    (first,) = JOURNAL.wait("m-1", 30)
    assert [m.rule for m in first.matched] == ["support"]
    function_outcome, queue_outcome = first.matched[0].targets
    assert (function_outcome.status, queue_outcome.status) == ("delivered", "delivered")
    (invocation,) = function_outcome.invocations
    assert invocation["ok"] and invocation["result"]["got"] == "m-1"
    assert invocation["result"]["time"].endswith("Z")
    (message,) = receive(aws, inbox_url)
    body = json.loads(message["Body"])
    assert body["detail"]["messageId"] == "m-1" and body["detail-type"] == "Email Received"
    (second,) = JOURNAL.wait("m-2", 5)
    assert second.matched == [] and second.rules_checked == 1
    # and the local endpoint reports it
    reported = target.local("events?message=m-1&wait=5")["events"]
    assert reported[0]["matched"][0]["targets"][0]["status"] == "delivered"


def test_undeliverable_events_go_to_the_targets_dead_letter_queue(
    bus: str, aws: Callable[[str], Any], make_function: Callable[[str], str]
) -> None:
    # GIVEN a function that does not allow EventBridge, a queue without a policy, one DLQ
    rule_arn = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/mail/support"
    function_arn = make_function("closed")
    _, closed_queue_arn = queue(aws, "closed", allow_rule=None)
    dlq_url, dlq_arn = queue(aws, "dead-letters", allow_rule=rule_arn)
    retry = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60}
    rule(
        aws,
        "support",
        [
            {
                "Id": "fn",
                "Arn": function_arn,
                "DeadLetterConfig": {"Arn": dlq_arn},
                "RetryPolicy": retry,
            },
            {"Id": "q", "Arn": closed_queue_arn, "DeadLetterConfig": {"Arn": dlq_arn}},
            {"Id": "lost", "Arn": closed_queue_arn},
        ],
    )

    # WHEN a matching event is put
    aws("events").put_events(Entries=[entry("m-3", "support@example.com")])

    # THEN permission errors skip the retries: both land in the DLQ, with the attributes
    (record,) = JOURNAL.wait("m-3", 30)
    to_function, to_queue, without_dlq = record.matched[0].targets
    assert (to_function.status, to_function.attempts) == ("dead-lettered", 1)
    assert "may not invoke closed" in str(to_function.error)
    assert to_queue.status == "dead-lettered"
    assert without_dlq.status == "lost" and "no dead-letter queue" in str(without_dlq.error)
    messages = receive(aws, dlq_url)
    assert len(messages) == 2
    attributes = {m["MessageAttributes"]["TARGET_ARN"]["StringValue"]: m for m in messages}
    failed = attributes[function_arn]["MessageAttributes"]
    assert failed["RULE_ARN"]["StringValue"] == rule_arn
    assert failed["ERROR_CODE"]["StringValue"] == "NO_PERMISSIONS"
    assert failed["EXHAUSTED_RETRY_CONDITION"]["StringValue"] == "NotRetriable"
    assert json.loads(attributes[function_arn]["Body"])["detail"]["messageId"] == "m-3"


def test_function_errors_follow_lambdas_asynchronous_retries(
    bus: str, aws: Callable[[str], Any], make_function: Callable[[str], str]
) -> None:
    # GIVEN a permitted function that fails, with one Lambda retry and an on-failure queue
    rule_arn = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/mail/support"
    function_arn = make_function("failing")
    aws("lambda").add_permission(
        FunctionName="failing",
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    failures_url, failures_arn = queue(aws, "failures", allow_rule=None)
    aws("lambda").put_function_event_invoke_config(
        FunctionName="failing",
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )
    rule(aws, "support", [{"Id": "fn", "Arn": function_arn}])

    # WHEN an event makes it fail
    aws("events").put_events(Entries=[entry("m-4", "support@example.com", fail=True)])

    # THEN EventBridge delivered it; Lambda tried twice, then sent it to the on-failure queue
    (record,) = JOURNAL.wait("m-4", 30)
    (outcome,) = record.matched[0].targets
    assert outcome.status == "delivered"
    assert [i["ok"] for i in outcome.invocations] == [False, False]
    (message,) = receive(aws, failures_url)
    assert json.loads(message["Body"])["requestPayload"]["detail"]["messageId"] == "m-4"

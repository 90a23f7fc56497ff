"""Helpers of the handler tests: paths, events, fuzzing profiles, a fake Lambda context.

Importing this module puts ``lambda_src`` on ``sys.path`` so that ``handler`` and ``ses_mail``
import exactly as they do in the Lambda asset (top-level modules).
"""

from __future__ import annotations

import copy
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

from ses_lambda_localcloud import tooling

HERE = Path(__file__).resolve().parent
LAMBDA_SRC = HERE.parent.parent / "lambda_src"
EMAILS = HERE / "emails"
EVENTS = HERE / "events"
BUCKET = "ses-mail-test-bucket"
RAW_PREFIX = "raw/"
PARSED_PREFIX = "parsed/"
MESSAGE_ID = "o3vrnil0e2ic28tr"
EVENT_BUS = "mail-events"

if str(LAMBDA_SRC) not in sys.path:
    sys.path.insert(0, str(LAMBDA_SRC))

os.environ.update(tooling.DUMMY_CREDENTIALS, AWS_DEFAULT_REGION="us-east-1")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SesLambdaConstructsTests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "ses-lambda-handler")

# Fuzzing budget: a fast default for every run, a long profile for a deliberate search
# (HANDLER_FUZZ_PROFILE=handler-fuzz-long).
settings.register_profile(
    "handler-fuzz",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "handler-fuzz-long",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FUZZ = settings.get_profile(os.environ.get("HANDLER_FUZZ_PROFILE", "handler-fuzz"))


@dataclass
class FakeLambdaContext:
    """The attributes Powertools reads from the Lambda context object."""

    function_name: str = "ses-reference-handler"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:ses-reference-handler"
    )
    aws_request_id: str = "3f0f2a8e-0000-4000-8000-000000000000"


def email_bytes(name: str) -> bytes:
    return (EMAILS / name).read_bytes()


def documented_event() -> dict[str, Any]:
    """The SES Lambda action event from AWS's documentation (a fresh copy)."""
    event: dict[str, Any] = json.loads((EVENTS / "ses-lambda-event.json").read_text())
    return event


def document_key(message_id: str = MESSAGE_ID, recipients: list[str] | None = None) -> str:
    """Where the handler stores the document of a delivery: by default the documented event's
    (its receipt's recipients decide the delivery key)."""
    from ses_mail import message_document_key

    if recipients is None:
        recipients = documented_event()["Records"][0]["ses"]["receipt"]["recipients"]
    return message_document_key(PARSED_PREFIX, message_id, recipients)


def with_receipt(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of a direct event whose first record's receipt has ``changes`` applied."""
    event = copy.deepcopy(event)
    receipt = event["Records"][0]["ses"]["receipt"]
    for key, value in changes.items():
        if value is None:
            receipt.pop(key, None)
        else:
            receipt[key] = value
    return event


def sns_event(
    direct: dict[str, Any] | None = None,
    *,
    content: str | None = None,
    encoding: str | None = "BASE64",
) -> dict[str, Any]:
    """The SNS-wrapped shape of a direct event, as an SNS action (or an action's topic) sends it."""
    direct = direct or documented_event()
    records = []
    for index, record in enumerate(direct["Records"]):
        ses = copy.deepcopy(record["ses"])
        action: dict[str, Any] = {
            "type": "SNS",
            "topicArn": "arn:aws:sns:us-east-1:123456789012:ses-inbound",
        }
        if encoding is not None:
            action["encoding"] = encoding
        ses["receipt"]["action"] = action
        notification: dict[str, Any] = {"notificationType": "Received", **ses}
        if content is not None:
            notification["content"] = content
        records.append(
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:ses-inbound:1e4c",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": f"95df01b4-ee98-5cb9-9903-4c221d41eb5{index}",
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-inbound",
                    "Subject": "Amazon SES Email Receipt Notification",
                    "Message": json.dumps(notification),
                    "Timestamp": "2024-02-08T15:30:01.000Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/cert.pem",
                    "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {},
                },
            }
        )
    return {"Records": records}


def read_json(s3: Any, key: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    return document


def all_keys(s3: Any) -> list[str]:
    listing = s3.list_objects_v2(Bucket=BUCKET)
    return sorted(item["Key"] for item in listing.get("Contents", []))


@dataclass
class MailBus:
    """A bus with one rule (every event of the handler's source) targeting an SQS queue.

    The events are observed the way a subscriber sees them: put by the handler, matched by the
    rule, delivered by moto's EventBridge to the queue.
    """

    events: Any
    sqs: Any
    validator: Any
    """Every delivered event's detail is validated against email_event.schema.json."""
    queue_url: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)

    def create(self, source: str = "ses-lambda-constructs") -> None:
        self.events.create_event_bus(Name=EVENT_BUS)
        self.queue_url = self.sqs.create_queue(QueueName="mail-events-subscriber")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.events.put_rule(
            Name="every-mail-event",
            EventBusName=EVENT_BUS,
            EventPattern=json.dumps({"source": [source]}),
        )
        self.events.put_targets(
            Rule="every-mail-event",
            EventBusName=EVENT_BUS,
            Targets=[{"Id": "queue", "Arn": arn["Attributes"]["QueueArn"]}],
        )

    def received(self) -> list[dict[str, Any]]:
        """Every event delivered to the queue so far (in arrival order)."""
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = batch.get("Messages", [])
            if not messages:
                return self.seen
            for message in messages:
                event = json.loads(message["Body"])
                self.validator.validate(event["detail"])
                self.seen.append(event)
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

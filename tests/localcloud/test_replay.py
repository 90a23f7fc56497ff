"""Failed asynchronous invocations land in the on-failure queue and replay once fixed."""

from __future__ import annotations

import json

from ses_lambda_constructs.replay import replay
from ses_lambda_localcloud import assembly
from ses_lambda_localcloud.target import Target
from tests.localcloud.conftest import FIXTURES, ROOT, wait_until


def test_failed_event_waits_in_the_queue_and_replays_after_the_fix(
    target: Target, demo_stack: assembly.DeployResult
) -> None:
    # GIVEN the demo stack, deployed
    result = demo_stack
    function = result.outputs["HandlerFunction"]
    bucket = result.outputs["RawMessageBucket"]
    lambda_client, sqs, s3 = (target.client(name) for name in ("lambda", "sqs", "s3"))
    # the handler's on-failure queue (the demo's ticket subscription has a dead-letter queue too)
    (queue_url,) = [u for u in sqs.list_queues()["QueueUrls"] if "ReceiverFailuresQueue" in u]

    # WHEN SES's event arrives but the raw message is not in the bucket: every attempt fails
    event = json.loads((FIXTURES / "ses-lambda-event.json").read_text())
    message_id = event["Records"][0]["ses"]["mail"]["messageId"]
    lambda_client.invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(event))

    def queued() -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    # THEN the failed event is kept, not lost
    wait_until(lambda: queued() == 1, timeout=60)
    assert replay(queue_url, function, sqs=sqs, lambda_client=lambda_client, dry_run=True).replayed

    # AND a replay before the fix fails and keeps the message
    report = replay(queue_url, function, sqs=sqs, lambda_client=lambda_client)
    assert not report.replayed and len(report.failed) == 1

    # AND once the raw message is there, the replay processes it and empties the queue
    raw = ROOT / "tests" / "handler" / "emails" / "plain-7bit.eml"
    s3.put_object(Bucket=bucket, Key=f"raw/{message_id}", Body=raw.read_bytes())
    wait_until(lambda: queued() == 1, timeout=10)
    report = replay(queue_url, function, sqs=sqs, lambda_client=lambda_client)
    assert len(report.replayed) == 1 and not report.failed, report
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"parsed/{message_id}/")
    (key,) = [o["Key"] for o in listed["Contents"] if o["Key"].endswith("/message.json")]
    document = s3.get_object(Bucket=bucket, Key=key)
    assert json.loads(document["Body"].read())["messageId"] == message_id
    assert queued() == 0

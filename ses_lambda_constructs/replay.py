"""Replay failed SES events from an on-failure queue into a function.

Lambda's on-failure destination stores each failed asynchronous invocation as an SQS message whose
``requestPayload`` is the original event. This tool invokes the function again with each payload
(synchronously, so the outcome is known) and deletes the message only when the invocation
succeeded; failures stay in the queue and are listed.

    python -m ses_lambda_constructs.replay QUEUE_URL FUNCTION_NAME [--dry-run] [--limit N]

Needs boto3 (``pip install 'ses-lambda-constructs[ops]'``) and credentials that may receive and
delete messages on the queue and invoke the function. ``AWS_ENDPOINT_URL`` points it at the local
cloud.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReplayReport:
    replayed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _payload(body: str) -> dict[str, Any]:
    record = json.loads(body)
    payload = record.get("requestPayload") if isinstance(record, dict) else None
    if not isinstance(payload, dict):
        raise ValueError(
            "the message has no requestPayload object (not a Lambda destination record)"
        )
    return payload


def replay(
    queue_url: str,
    function_name: str,
    *,
    sqs: Any,
    lambda_client: Any,
    dry_run: bool = False,
    limit: int | None = None,
) -> ReplayReport:
    """Replay up to ``limit`` messages of ``queue_url`` into ``function_name``."""
    report = ReplayReport()
    seen: set[str] = set()
    kept: list[str] = []  # receipt handles of messages that stay in the queue
    while limit is None or len(seen) < limit:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            VisibilityTimeout=60,
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            if limit is not None and len(seen) >= limit:
                break
            seen.add(message["MessageId"])
            try:
                payload = _payload(message["Body"])
            except ValueError as error:
                report.skipped.append((message["MessageId"], str(error)))
                kept.append(message["ReceiptHandle"])
                continue
            if dry_run:
                report.replayed.append(message["MessageId"])
                kept.append(message["ReceiptHandle"])
                continue
            response = lambda_client.invoke(
                FunctionName=function_name,
                InvocationType="RequestResponse",
                Payload=json.dumps(payload).encode(),
            )
            result = response["Payload"].read().decode(errors="replace")
            if response.get("FunctionError"):
                report.failed.append((message["MessageId"], result[:500]))
                kept.append(message["ReceiptHandle"])
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            report.replayed.append(message["MessageId"])
    # What stays in the queue becomes visible again at once, ready for the next run.
    for handle in kept:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ses_lambda_constructs.replay", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("queue_url")
    parser.add_argument("function_name")
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed")
    parser.add_argument("--limit", type=int, default=None, help="replay at most this many")
    args = parser.parse_args(argv)
    try:
        import boto3
    except ModuleNotFoundError:
        print(
            "error: the replay command needs boto3, which the library does not depend on; "
            "install it with: pip install 'ses-lambda-constructs[ops]'",
            file=sys.stderr,
        )
        return 2

    report = replay(
        args.queue_url,
        args.function_name,
        sqs=boto3.client("sqs"),
        lambda_client=boto3.client("lambda"),
        dry_run=args.dry_run,
        limit=args.limit,
    )
    verb = "would replay" if args.dry_run else "replayed"
    print(
        f"{verb} {len(report.replayed)}, failed {len(report.failed)}, skipped {len(report.skipped)}"
    )
    for message_id, reason in report.failed:
        print(f"  failed  {message_id}: {reason}")
    for message_id, reason in report.skipped:
        print(f"  skipped {message_id}: {reason}")
    return 1 if report.failed or report.skipped else 0


if __name__ == "__main__":
    sys.exit(main())

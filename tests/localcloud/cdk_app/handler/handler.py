"""A tiny SES handler for the local cloud's tests (stdlib + boto3, like the reference handler).

Reads the raw message the S3 action stored, writes ``<PARSED_PREFIX><messageId>/message.json``,
and, for RequestResponse invocations, returns the disposition named by the DISPOSITION variable.
"""

import json
import os
from email import policy
from email.parser import BytesParser

import boto3

s3 = boto3.client("s3")


def lambda_handler(event, context):
    record = event["Records"][0]["ses"]
    mail, receipt = record["mail"], record["receipt"]
    bucket = os.environ["RAW_MESSAGE_BUCKET"]
    raw_key = os.environ.get("RAW_MESSAGE_PREFIX", "") + mail["messageId"]
    raw = s3.get_object(Bucket=bucket, Key=raw_key)["Body"].read()
    # TEST_FAIL_HEADER=ignore: a "fixed" function, for the tests that replay a failed one.
    if b"X-Test-Fail: yes" in raw and os.environ.get("TEST_FAIL_HEADER") != "ignore":
        raise RuntimeError("asked to fail by the X-Test-Fail header")
    message = BytesParser(policy=policy.default).parsebytes(raw)
    body = message.get_body(preferencelist=("plain", "html"))
    document = {
        "messageId": mail["messageId"],
        "from": mail["commonHeaders"].get("from"),
        "to": mail["commonHeaders"].get("to"),
        "subject": mail["commonHeaders"].get("subject"),
        "recipients": receipt["recipients"],
        "verdicts": {k: v["status"] for k, v in receipt.items() if k.endswith("Verdict")},
        "text": body.get_content() if body is not None else None,
        "attachments": [part.get_filename() for part in message.iter_attachments()],
        "version": os.environ.get("HANDLER_VERSION", "1"),
    }
    key = f"{os.environ.get('PARSED_PREFIX', 'parsed/')}{mail['messageId']}/message.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode())
    print(f"parsed {mail['messageId']} into s3://{bucket}/{key}")
    disposition = os.environ.get("DISPOSITION")
    return {"disposition": disposition} if disposition else None

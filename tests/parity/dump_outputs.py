"""Dump the reference handler's ``message.json`` for every corpus message and parity seed.

Runs the real handler (``lambda_src/handler.py``) against moto's S3 in this process, under
whichever interpreter runs this script, and writes one JSON file: for each input (the
``tests/handler/emails`` corpus and ``tests/parity/seeds``) its SHA-256 and the exact bytes of
the ``message.json`` the handler stored. ``compare_outputs.py`` compares two such dumps, e.g.
one made by Python 3.11 and one by Python 3.14 (Lambda's ``python3.14`` runtime).

Usage: python tests/parity/dump_outputs.py --out FILE
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = ROOT / "tests" / "handler" / "emails"
SEEDS = HERE / "seeds"
EVENT = ROOT / "tests" / "handler" / "events" / "ses-lambda-event.json"
BUCKET = "parity-bucket"

sys.path.insert(0, str(ROOT / "lambda_src"))


def inputs() -> list[tuple[str, bytes]]:
    """Every input, named ``corpus/<file>`` or ``seeds/<file>``, in a stable order."""
    found = [(f"corpus/{p.name}", p.read_bytes()) for p in sorted(CORPUS.glob("*.eml"))]
    found += [(f"seeds/{p.name}", p.read_bytes()) for p in sorted(SEEDS.glob("*.eml"))]
    if not found:
        raise SystemExit(f"no inputs found in {CORPUS} or {SEEDS}")
    return found


def _environment() -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "RAW_MESSAGE_BUCKET": BUCKET,
        "RAW_MESSAGE_PREFIX": "raw/",
        "PARSED_PREFIX": "parsed/",
        "REJECT_ON_VERDICTS": "spam,virus",
        "MAX_MESSAGE_BYTES": str(40 * 1024 * 1024),
        "POWERTOOLS_METRICS_NAMESPACE": "SesLambdaConstructsParity",
        "POWERTOOLS_SERVICE_NAME": "ses-lambda-handler",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        os.environ[key] = value
    os.environ.pop("AWS_PROFILE", None)


class _Context:
    function_name = "ses-reference-handler"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ses-reference-handler"
    aws_request_id = "3f0f2a8e-0000-4000-8000-000000000000"


def dump() -> dict[str, Any]:
    _environment()
    import boto3
    import handler
    from moto import mock_aws
    from ses_mail import message_document_key

    template = json.loads(EVENT.read_text(encoding="utf-8"))
    results: dict[str, Any] = {}
    with mock_aws():
        handler.s3_client.cache_clear()
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for number, (name, data) in enumerate(inputs()):
            message_id = f"parity{number:04d}"
            s3.put_object(Bucket=BUCKET, Key=f"raw/{message_id}", Body=data)
            event = json.loads(json.dumps(template))
            event["Records"][0]["ses"]["mail"]["messageId"] = message_id
            handler.lambda_handler(event, _Context())
            recipients = event["Records"][0]["ses"]["receipt"]["recipients"]
            key = message_document_key("parsed/", message_id, recipients)
            stored = s3.get_object(Bucket=BUCKET, Key=key)
            document = stored["Body"].read()
            results[name] = {
                "input_sha256": hashlib.sha256(data).hexdigest(),
                "message_json": document.decode("utf-8"),
            }
    handler.s3_client.cache_clear()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    results = dump()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "outputs": results,
    }
    args.out.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(
        f"{len(results)} message.json documents written by Python {payload['python']}: {args.out}"
    )


if __name__ == "__main__":
    main()

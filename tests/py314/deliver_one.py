"""One local-cloud delivery over SMTP, everything in this interpreter (the Python 3.14 stage).

Starts the local cloud in this process (moto, the SMTP receiver, the Lambda runner), deploys the
demo stack synthesized by ``synth_stack.py`` without the CDK CLI (``assembly.deploy_stack``),
sends one message with smtplib over STARTTLS, waits until the rule set has run, and checks the
``message.json`` the reference handler wrote. Exits non-zero with the reason on any failure.

Usage: python tests/py314/deliver_one.py ASSEMBLY_DIR [--python 3.14]
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import sys
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
STACK = "SesLambdaDemo"
RECIPIENT = "support@mail.example.com"
SENDER = "janedoe@example.com"

for key, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}.items():
    os.environ[key] = value
os.environ.pop("AWS_PROFILE", None)


def fail(problem: str) -> None:
    raise SystemExit(f"delivery under Python {sys.version.split()[0]} FAILED: {problem}")


def message() -> bytes:
    mail = EmailMessage()
    mail["From"] = f'"Doe, Jane" <{SENDER}>'
    mail["To"] = RECIPIENT
    mail["Subject"] = "Delivered under Python 3.14"
    mail["Message-ID"] = "<py314-delivery@example.com>"
    mail.set_content("Hello from the Python 3.14 stage.\n")
    mail.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="numbers.csv")
    return mail.as_bytes()


def deliver(assembly_dir: Path, handler_python: str | None) -> dict[str, Any]:
    """Deliver one message; ``handler_python``: the version the handler must have run on."""
    import boto3

    from ses_lambda_localcloud import assembly
    from ses_lambda_localcloud.receiving import tls
    from ses_lambda_localcloud.server import LocalCloud

    with tempfile.TemporaryDirectory(prefix="py314-local-cloud-") as state:
        cloud = LocalCloud(api_port=0, smtp_port=0, state_dir=Path(state))
        cloud.start()
        try:

            def client(service: str) -> Any:
                return boto3.client(
                    service, endpoint_url=cloud.endpoint_url, region_name=cloud.region
                )

            deployed = assembly.deploy_stack(client, assembly_dir, STACK, cloud.region)
            if not deployed.ok:
                fail(f"deploy {deployed.status}: {deployed.failures()}")
            with smtplib.SMTP("127.0.0.1", cloud.smtp_port, timeout=30) as smtp:
                smtp.ehlo("py314.example.com")
                # The demo's rule requires TLS (TlsPolicy Require): plain text would bounce.
                smtp.starttls(context=tls.client_context())
                smtp.ehlo("py314.example.com")
                smtp.mail(SENDER)
                code, reply = smtp.rcpt(RECIPIENT)
                if code != 250:
                    fail(f"RCPT TO refused: {code} {reply!r}")
                code, reply = smtp.data(message())
                if code != 250:
                    fail(f"DATA refused: {code} {reply!r}")
            message_id = reply.decode().split()[-1]
            record = cloud.receiver.wait(message_id, timeout=120)
            if record is None or not record.done.is_set():
                fail(f"message {message_id} was not processed in time")
            if record.status != "done" or not record.tls or any(r.bounced for r in record.rules):
                fail(f"message {message_id}: {json.dumps(record.to_dict(), default=str)}")
            # The reference handler itself ran on Python 3.14 (its declared runtime), no fallback.
            ran = [
                attempt.get("interpreter") or {}
                for rule in record.rules
                for action in rule.actions
                if action.type == "Lambda"
                for attempt in action.detail.get("attempts", [])
            ]
            if not ran:
                fail(f"the handler did not run: {record.to_dict()}")
            if handler_python and any(
                not str(i.get("version", "")).startswith(handler_python) or i.get("fallback")
                for i in ran
            ):
                fail(f"the handler did not run on Python {handler_python}: {ran}")
            bucket = deployed.outputs["RawMessageBucket"]
            s3 = client("s3")
            keys = [
                item["Key"]
                for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
                if message_id in item["Key"] and item["Key"].endswith("/message.json")
            ]
            if len(keys) != 1:
                fail(f"expected one message.json for {message_id}, found {keys}")
            document: dict[str, Any] = json.loads(
                s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
            )
            return document
        finally:
            cloud.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", type=Path)
    parser.add_argument("--python", default="3.14", help="the interpreter version expected")
    parser.add_argument(
        "--any-handler-python",
        action="store_true",
        help="accept the local cloud's fallback interpreter for the handler (the floor stage)",
    )
    args = parser.parse_args()
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running != args.python:
        fail(f"expected Python {args.python}, running {running}")
    if not (args.assembly / f"{STACK}.template.json").is_file():
        fail(f"no synthesized {STACK} in {args.assembly} (run tests/py314/synth_stack.py)")
    sys.path[:0] = [str(ROOT / "localcloud")]
    document = deliver(args.assembly.resolve(), None if args.any_handler_python else "3.14")
    checks = {
        "status": (document["status"], "processed"),
        "subject": (document["headers"]["subject"], "Delivered under Python 3.14"),
        "from": (document["headers"]["from"], [{"name": "Doe, Jane", "address": SENDER}]),
        "text": (document["text"], "Hello from the Python 3.14 stage.\n"),
        "attachments": ([a["filename"] for a in document["attachments"]], ["numbers.csv"]),
        "attachment size": (document["attachments"][0]["size"], 8),
        "raw source": (document["raw"]["source"], "s3"),
    }
    wrong = {name: got for name, (got, want) in checks.items() if got != want}
    if wrong:
        fail(f"message.json differs from what was sent: {wrong}")
    print(
        f"delivered over SMTP with STARTTLS under Python {sys.version.split()[0]}: "
        f"message.json {document['messageId']} processed by the reference handler, "
        f"{len(checks)} checks passed"
    )


if __name__ == "__main__":
    main()

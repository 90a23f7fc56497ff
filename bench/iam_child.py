"""One process of the IAM benchmark: the gate's cost per request, in this process's moto.

Sets up what the hardened demo's handler reads (a role with CDK-style grants, an SSE-KMS object
under a bucket policy, a customer managed key with the default key policy), then times the
gate on a signed GetObject (two evaluations: s3:GetObject and kms:Decrypt through S3), a
PutEvents, an administrator's request (not evaluated) and the engine alone. Prints JSON.
"""

from __future__ import annotations

import io
import json
import sys
import time
from typing import Any

import boto3
from moto import mock_aws

from ses_lambda_localcloud import moto_ext
from ses_lambda_localcloud.iam import gate, identities
from ses_lambda_localcloud.iam.evaluation import Policies, evaluate
from ses_lambda_localcloud.iam.language import Principal, Request

ACCOUNT = "123456789012"
REGION = "us-east-1"
ACCESS_KEY = "ASIABENCHMARK0001"


def environ(
    method: str, path: str, service: str, key: str, body: bytes = b"", **headers: str
) -> dict[str, Any]:
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": (
            f"AWS4-HMAC-SHA256 Credential={key}/20261202/{REGION}/{service}/aws4_request, "
            "SignedHeaders=host, Signature=0"
        ),
        "HTTP_HOST": "localhost:4566",
    }
    env.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    return env


def per_call(function: Any, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        function()
    return (time.perf_counter() - started) / count


def main(count: int) -> dict[str, float]:
    moto_ext.install()
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        kms = boto3.client("kms", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        key_arn = kms.create_key()["KeyMetadata"]["Arn"]
        trust = {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ]
        }
        role = iam.create_role(RoleName="handler", AssumeRolePolicyDocument=json.dumps(trust))[
            "Role"
        ]["Arn"]
        statements = [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/handler:*",
            },
            {
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            },
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::mail/raw/*"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::mail/parsed/*"},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn},
            {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key_arn},
            {
                "Effect": "Allow",
                "Action": "events:PutEvents",
                "Resource": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/mail",
            },
        ]
        iam.put_role_policy(
            RoleName="handler",
            PolicyName="p",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        s3.create_bucket(Bucket="mail")
        s3.put_bucket_policy(
            Bucket="mail",
            Policy=json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Action": "s3:*",
                            "Resource": ["arn:aws:s3:::mail", "arn:aws:s3:::mail/*"],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ]
                }
            ),
        )
        s3.put_object(
            Bucket="mail",
            Key="raw/m",
            Body=b"x",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key_arn,
        )
        identities.register(ACCESS_KEY, role, "handler")
        gate.set_mode("enforce")

        def get_object() -> None:
            assert gate.check(environ("GET", "/mail/raw/m", "s3", ACCESS_KEY)) is None

        events_body = json.dumps(
            {
                "Entries": [
                    {"EventBusName": "mail", "Source": "s", "DetailType": "d", "Detail": "{}"}
                ]
            }
        ).encode()

        def put_events() -> None:
            assert (
                gate.check(
                    environ(
                        "POST",
                        "/",
                        "events",
                        ACCESS_KEY,
                        events_body,
                        **{"x-amz-target": "AWSEvents.PutEvents"},
                    )
                )
                is None
            )

        def admin() -> None:
            assert gate.check(environ("GET", "/mail/raw/m", "s3", "ASIAADMINISTRATOR")) is None

        principal = Principal.role_session(role, "handler")
        document = {"Version": "2012-10-17", "Statement": statements}
        request = Request(
            "s3:GetObject", "arn:aws:s3:::mail/raw/m", principal, {"aws:SecureTransport": "true"}
        )

        def engine() -> None:
            assert evaluate(request, Policies(identity=[document])).allowed

        for warm in (get_object, put_events, admin, engine):
            warm()
        return {
            "get_object_s": per_call(get_object, count),
            "put_events_s": per_call(put_events, count),
            "admin_s": per_call(admin, count),
            "engine_s": per_call(engine, count),
        }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)))

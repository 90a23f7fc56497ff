"""The IAM actions each API call needs, on the resources AWS names, with the context keys the
service sets ("Actions, resources, and condition keys for AWS services", Service Authorization
Reference, one page per service: Amazon S3, Amazon SQS, Amazon SNS, Amazon EventBridge, Amazon
SES / SES v2, AWS Lambda, CloudWatch Logs, CloudWatch, AWS X-Ray, AWS STS, AWS KMS, AWS Secrets
Manager).

A call outside this map is allowed and reported as "not evaluated".

Encryption at rest brings KMS in for the caller: reading an SSE-KMS object needs ``kms:Decrypt``
and writing one ``kms:GenerateDataKey`` on its key (S3 User Guide, "Using server-side encryption
with AWS KMS keys (SSE-KMS)", "Permissions"); a KMS-encrypted queue needs ``kms:GenerateDataKey``
and ``kms:Decrypt`` to send and ``kms:Decrypt`` to receive (SQS Developer Guide, "Key
management", "Configure KMS permissions for producers/consumers"); publishing to an encrypted
topic needs both too (SNS Developer Guide, "Managing Amazon SNS encryption keys and costs");
reading a secret under a customer managed key needs ``kms:Decrypt`` (Secrets Manager User
Guide, "Secret encryption and decryption in AWS Secrets Manager").
Those KMS requests are made by the service for the caller, so ``kms:ViaService`` is
``<service>.<region>.amazonaws.com`` (KMS Developer Guide, "kms:ViaService").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from .language import ContextValue


@dataclass(frozen=True)
class Call:
    """What the local endpoint received, as far as authorization needs it."""

    service: str
    region: str
    account: str
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def json_body(self) -> dict[str, Any]:
        try:
            loaded = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def form(self) -> dict[str, str]:
        fields = dict(self.query)
        if self.method == "POST" and "x-www-form-urlencoded" in self.header("content-type"):
            fields.update(parse_qs(self.body.decode("utf-8", "replace")))
        return {k: v[0] for k, v in fields.items() if v}


@dataclass(frozen=True)
class Check:
    """One authorization the call needs."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Mapped:
    """The call's operation name, the checks it needs, and how its service shapes errors."""

    operation: str
    checks: list[Check]
    #: "s3" (REST-XML), "query" (XML ErrorResponse), "json", "rest-json", "cbor".
    protocol: str
    #: The service's access-denied error code.
    code: str
    status: int = 400
    evaluated: bool = True


# --- per service -----------------------------------------------------------------------


def _s3(call: Call, kms: KmsLookup) -> Mapped:
    path = unquote(call.path).lstrip("/")
    host = call.header("host").split(":")[0]
    bucket, _, key = path.partition("/")
    if host.endswith(".localhost") or host.endswith(".s3.localhost.localstack.cloud"):
        # virtual-hosted style: the bucket is the first label of the host
        bucket, key = host.split(".")[0], path
    query = call.query
    sub = [
        k
        for k in query
        if k
        not in (
            "prefix",
            "delimiter",
            "max-keys",
            "list-type",
            "continuation-token",
            "start-after",
            "encoding-type",
            "x-id",
            "fetch-owner",
            "marker",
            "partNumber",
            "uploadId",
            "uploads",
            "versionId",
        )
    ]
    if not bucket or sub or ("versionId" in query):
        return Mapped(f"{call.method} {call.path}", [], "s3", "AccessDenied", 403, evaluated=False)
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if not key:
        if call.method == "GET":
            context: dict[str, ContextValue] = {}
            if "prefix" in query:
                context["s3:prefix"] = query["prefix"][0]
            if "delimiter" in query:
                context["s3:delimiter"] = query["delimiter"][0]
            if "max-keys" in query:
                context["s3:max-keys"] = query["max-keys"][0]
            return Mapped(
                "ListObjects",
                [Check("s3:ListBucket", bucket_arn, context)],
                "s3",
                "AccessDenied",
                403,
            )
        if call.method == "HEAD":
            return Mapped(
                "HeadBucket", [Check("s3:ListBucket", bucket_arn)], "s3", "AccessDenied", 403
            )
        return Mapped(f"{call.method} bucket", [], "s3", "AccessDenied", 403, evaluated=False)
    object_arn = f"{bucket_arn}/{key}"
    via = {"kms:ViaService": f"s3.{call.region}.amazonaws.com"}
    if call.method in ("GET", "HEAD"):
        checks = [Check("s3:GetObject", object_arn)]
        key_arn = kms.object_key(bucket, key)
        if key_arn:
            checks.append(
                Check(
                    "kms:Decrypt",
                    key_arn,
                    {
                        **via,
                        "kms:EncryptionContext:aws:s3:arn": kms.s3_encryption_context(bucket, key),
                    },
                )
            )
        return Mapped(
            "GetObject" if call.method == "GET" else "HeadObject", checks, "s3", "AccessDenied", 403
        )
    if call.method == "DELETE" and "uploadId" not in query:
        return Mapped(
            "DeleteObject", [Check("s3:DeleteObject", object_arn)], "s3", "AccessDenied", 403
        )
    if call.method == "PUT" and "partNumber" in query:
        return Mapped("UploadPart", [Check("s3:PutObject", object_arn)], "s3", "AccessDenied", 403)
    if call.method == "PUT" or (
        call.method == "POST" and ("uploads" in query or "uploadId" in query)
    ):
        context = {}
        sse = call.header("x-amz-server-side-encryption")
        key_id = call.header("x-amz-server-side-encryption-aws-kms-key-id")
        if sse:
            context["s3:x-amz-server-side-encryption"] = sse
        if key_id:
            context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = key_id
        checks = [Check("s3:PutObject", object_arn, context)]
        source = call.header("x-amz-copy-source")
        if source:
            source = unquote(source.split("?")[0]).lstrip("/")
            checks.append(Check("s3:GetObject", f"arn:aws:s3:::{source}"))
            src_bucket, _, src_key = source.partition("/")
            src_key_arn = kms.object_key(src_bucket, src_key)
            if src_key_arn:
                checks.append(Check("kms:Decrypt", src_key_arn, via))
        key_arn = kms.put_key(bucket, sse, key_id)
        if (key_arn and call.method == "PUT") or (key_arn and "uploads" in query):
            checks.append(
                Check(
                    "kms:GenerateDataKey",
                    key_arn,
                    {
                        **via,
                        "kms:EncryptionContext:aws:s3:arn": kms.s3_encryption_context(bucket, key),
                    },
                )
            )
        operation = "CopyObject" if source else "PutObject"
        return Mapped(operation, checks, "s3", "AccessDenied", 403)
    return Mapped(f"{call.method} object", [], "s3", "AccessDenied", 403, evaluated=False)


def _queue_arn(call: Call, url_or_name: str) -> str:
    name = url_or_name.rstrip("/").rsplit("/", 1)[-1]
    return f"arn:aws:sqs:{call.region}:{call.account}:{name}"


_SQS = {
    "SendMessage": "sqs:SendMessage",
    "SendMessageBatch": "sqs:SendMessage",
    "ReceiveMessage": "sqs:ReceiveMessage",
    "DeleteMessage": "sqs:DeleteMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "GetQueueAttributes": "sqs:GetQueueAttributes",
    "GetQueueUrl": "sqs:GetQueueUrl",
    "PurgeQueue": "sqs:PurgeQueue",
}


def _sqs(call: Call, kms: KmsLookup) -> Mapped:
    target = call.header("x-amz-target")
    if target:
        operation = target.split(".", 1)[-1]
        body: Mapping[str, Any] = call.json_body()
        protocol = "json"
    else:
        body = call.form()
        operation = body.get("Action", "")
        protocol = "query"
    action = _SQS.get(operation)
    where = body.get("QueueUrl") or body.get("QueueName") or ""
    if action is None or not where:
        return Mapped(operation, [], protocol, "AccessDenied", evaluated=False)
    arn = _queue_arn(call, str(where))
    checks = [Check(action, arn)]
    key_arn = kms.queue_key(arn)
    via = {"kms:ViaService": f"sqs.{call.region}.amazonaws.com"}
    if key_arn and action == "sqs:SendMessage":
        checks += [Check("kms:GenerateDataKey", key_arn, via), Check("kms:Decrypt", key_arn, via)]
    elif key_arn and action == "sqs:ReceiveMessage":
        checks.append(Check("kms:Decrypt", key_arn, via))
    return Mapped(operation, checks, protocol, "AccessDenied", 403 if protocol == "query" else 400)


def _sns(call: Call, kms: KmsLookup) -> Mapped:
    form = call.form()
    operation = form.get("Action", "")
    if operation not in ("Publish", "PublishBatch"):
        return Mapped(operation, [], "query", "AuthorizationError", 403, evaluated=False)
    arn = form.get("TopicArn") or form.get("TargetArn") or ""
    if not arn.startswith("arn:aws:sns:"):
        return Mapped(operation, [], "query", "AuthorizationError", 403, evaluated=False)
    checks = [Check("sns:Publish", arn)]
    key_arn = kms.topic_key(arn)
    via = {"kms:ViaService": f"sns.{call.region}.amazonaws.com"}
    if key_arn:
        checks += [Check("kms:GenerateDataKey", key_arn, via), Check("kms:Decrypt", key_arn, via)]
    return Mapped(operation, checks, "query", "AuthorizationError", 403)


def _events(call: Call, kms: KmsLookup) -> Mapped:
    operation = call.header("x-amz-target").split(".", 1)[-1]
    if operation != "PutEvents":
        return Mapped(operation, [], "json", "AccessDeniedException", evaluated=False)
    checks = []
    for entry in call.json_body().get("Entries") or []:
        bus = str(entry.get("EventBusName") or "default")
        arn = (
            bus
            if bus.startswith("arn:")
            else (f"arn:aws:events:{call.region}:{call.account}:event-bus/{bus}")
        )
        context: dict[str, ContextValue] = {}
        if entry.get("Source"):
            context["events:source"] = str(entry["Source"])
        if entry.get("DetailType"):
            context["events:detail-type"] = str(entry["DetailType"])
        checks.append(Check("events:PutEvents", arn, context))
    return Mapped(operation, checks, "json", "AccessDeniedException")


def _ses_identity_arns(call: Call, address: str, kms: KmsLookup) -> list[str]:
    # SES authorizes sending against the identity the From address uses: the address's own
    # identity if verified, else its domain's (SES Developer Guide, "Controlling access to
    # Amazon SES": the resource is the identity ARN).
    addr = address.rsplit("<", 1)[-1].rstrip(">").strip()
    domain = addr.rsplit("@", 1)[-1]
    arns = []
    for identity in (addr, domain):
        if kms.ses_identity_exists(identity):
            arns.append(f"arn:aws:ses:{call.region}:{call.account}:identity/{identity}")
    return arns or [f"arn:aws:ses:{call.region}:{call.account}:identity/{domain}"]


def _ses(call: Call, kms: KmsLookup) -> Mapped:
    form = call.form()
    operation = form.get("Action", "")
    if operation not in ("SendEmail", "SendRawEmail"):
        return Mapped(operation, [], "query", "AccessDenied", 403, evaluated=False)
    source = form.get("Source") or form.get("FromArn") or ""
    recipients = [
        v for k, v in form.items() if k.startswith("Destination") or k.startswith("Destinations")
    ]
    if not source and operation == "SendRawEmail":
        import email

        raw = form.get("RawMessage.Data", "")
        try:
            import base64

            message = email.message_from_bytes(base64.b64decode(raw))
            source = str(message.get("From") or "")
        except Exception:
            source = ""
    context: dict[str, ContextValue] = {"ses:ApiVersion": "1"}
    if source:
        context["ses:FromAddress"] = source.rsplit("<", 1)[-1].rstrip(">").strip()
    if recipients:
        context["ses:Recipients"] = recipients
    checks = [
        Check(f"ses:{operation}", arn, context) for arn in _ses_identity_arns(call, source, kms)[:1]
    ]
    return Mapped(operation, checks, "query", "AccessDenied", 403)


def _sesv2(call: Call, kms: KmsLookup) -> Mapped:
    if not (call.method == "POST" and call.path.rstrip("/") == "/v2/email/outbound-emails"):
        return Mapped(
            f"{call.method} {call.path}",
            [],
            "rest-json",
            "AccessDeniedException",
            403,
            evaluated=False,
        )
    body = call.json_body()
    source = str(body.get("FromEmailAddress") or "")
    context: dict[str, ContextValue] = {"ses:ApiVersion": "2"}
    if source:
        context["ses:FromAddress"] = source.rsplit("<", 1)[-1].rstrip(">").strip()
    destination = body.get("Destination") or {}
    recipients = [
        str(a)
        for k in ("ToAddresses", "CcAddresses", "BccAddresses")
        for a in destination.get(k) or []
    ]
    if recipients:
        context["ses:Recipients"] = recipients
    checks = [
        Check("ses:SendEmail", arn, context) for arn in _ses_identity_arns(call, source, kms)[:1]
    ]
    return Mapped("SendEmail", checks, "rest-json", "AccessDeniedException", 403)


def _lambda(call: Call, kms: KmsLookup) -> Mapped:
    parts = call.path.strip("/").split("/")
    if (
        call.method == "POST"
        and len(parts) == 4
        and parts[1] == "functions"
        and parts[3] == "invocations"
    ):
        name = unquote(parts[2])
        arn = (
            name
            if name.startswith("arn:")
            else (f"arn:aws:lambda:{call.region}:{call.account}:function:{name}")
        )
        qualifier = call.query.get("Qualifier", [""])[0]
        if qualifier and arn.count(":") == 6:
            arn = f"{arn}:{qualifier}"
        return Mapped(
            "Invoke",
            [Check("lambda:InvokeFunction", arn)],
            "rest-json",
            "AccessDeniedException",
            403,
        )
    return Mapped(
        f"{call.method} {call.path}", [], "rest-json", "AccessDeniedException", 403, evaluated=False
    )


def _logs(call: Call, kms: KmsLookup) -> Mapped:
    operation = call.header("x-amz-target").split(".", 1)[-1]
    body = call.json_body()
    group = str(body.get("logGroupName") or "")
    stream = str(body.get("logStreamName") or "")
    base = f"arn:aws:logs:{call.region}:{call.account}:log-group:{group}"
    if operation == "PutLogEvents" and group:
        return Mapped(
            operation,
            [Check("logs:PutLogEvents", f"{base}:log-stream:{stream}")],
            "json",
            "AccessDeniedException",
        )
    if operation == "CreateLogStream" and group:
        return Mapped(
            operation,
            [Check("logs:CreateLogStream", f"{base}:log-stream:{stream}")],
            "json",
            "AccessDeniedException",
        )
    if operation == "CreateLogGroup" and group:
        return Mapped(
            operation, [Check("logs:CreateLogGroup", f"{base}:*")], "json", "AccessDeniedException"
        )
    return Mapped(operation, [], "json", "AccessDeniedException", evaluated=False)


def _cloudwatch(call: Call, kms: KmsLookup) -> Mapped:
    target = call.header("x-amz-target")
    if call.path.endswith("/operation/PutMetricData"):
        operation, protocol = "PutMetricData", "cbor"
        namespace = ""
    elif target:
        operation, protocol = target.split(".", 1)[-1], "json"
        namespace = str(call.json_body().get("Namespace") or "")
    else:
        form = call.form()
        operation, protocol = form.get("Action", ""), "query"
        namespace = form.get("Namespace", "")
    if operation != "PutMetricData":
        return Mapped(operation, [], protocol, "AccessDenied", 403, evaluated=False)
    # PutMetricData has no resource-level permission: the resource is "*" ("Actions, resources,
    # and condition keys for Amazon CloudWatch"); cloudwatch:namespace is its condition key.
    context: dict[str, ContextValue] = {"cloudwatch:namespace": namespace} if namespace else {}
    return Mapped(
        operation,
        [Check("cloudwatch:PutMetricData", "*", context)],
        protocol,
        "AccessDenied",
        403 if protocol == "query" else 400,
    )


def _xray(call: Call, kms: KmsLookup) -> Mapped:
    actions = {
        "/TraceSegments": "xray:PutTraceSegments",
        "/TelemetryRecords": "xray:PutTelemetryRecords",
    }
    action = actions.get(call.path.rstrip("/"))
    if action is None:
        return Mapped(call.path, [], "rest-json", "AccessDeniedException", 403, evaluated=False)
    # X-Ray's write actions have no resource-level permissions ("Actions, resources, and
    # condition keys for AWS X-Ray").
    return Mapped(
        action.split(":")[1], [Check(action, "*")], "rest-json", "AccessDeniedException", 403
    )


def _sts(call: Call, kms: KmsLookup) -> Mapped:
    form = call.form()
    operation = form.get("Action", "")
    if operation == "GetCallerIdentity":
        # "No permissions are required to perform this operation" (STS API reference).
        return Mapped(operation, [], "query", "AccessDenied", 403)
    if operation == "AssumeRole" and form.get("RoleArn"):
        return Mapped(
            operation, [Check("sts:AssumeRole", form["RoleArn"])], "query", "AccessDenied", 403
        )
    return Mapped(operation, [], "query", "AccessDenied", 403, evaluated=False)


#: The Secrets Manager operations a function reading a secret makes ("Actions, resources, and
#: condition keys for AWS Secrets Manager": both on the secret's ARN).
_SECRETS = {
    "GetSecretValue": "secretsmanager:GetSecretValue",
    "DescribeSecret": "secretsmanager:DescribeSecret",
}


def _secretsmanager(call: Call, kms: KmsLookup) -> Mapped:
    operation = call.header("x-amz-target").split(".", 1)[-1]
    body = call.json_body()
    secret_id = str(body.get("SecretId") or "")
    action = _SECRETS.get(operation)
    if action is None or not secret_id:
        return Mapped(operation, [], "json", "AccessDeniedException", evaluated=False)
    # The resource is the secret's full ARN whichever identifier the call names (name, partial
    # or full ARN); a secret that does not exist is named by what was given.
    arn = kms.secret_arn(secret_id) or (
        secret_id
        if secret_id.startswith("arn:")
        else f"arn:aws:secretsmanager:{call.region}:{call.account}:secret:{secret_id}"
    )
    context: dict[str, ContextValue] = {"secretsmanager:SecretId": secret_id}
    for field_name, key in (("VersionId", "VersionId"), ("VersionStage", "VersionStage")):
        if body.get(field_name):
            context[f"secretsmanager:{key}"] = str(body[field_name])
    checks = [Check(action, arn, context)]
    key_arn = kms.secret_key(arn) if action == "secretsmanager:GetSecretValue" else None
    if key_arn:
        # Reading the value of a secret under a customer managed key: Secrets Manager calls
        # kms:Decrypt for the caller, with the secret's ARN as encryption context (Secrets
        # Manager User Guide, "Secret encryption and decryption in AWS Secrets Manager").
        checks.append(
            Check(
                "kms:Decrypt",
                key_arn,
                {
                    "kms:ViaService": f"secretsmanager.{call.region}.amazonaws.com",
                    "kms:EncryptionContext:SecretARN": arn,
                },
            )
        )
    return Mapped(operation, checks, "json", "AccessDeniedException")


_KMS_OPERATIONS = {
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncrypt",
    "DescribeKey",
    "Sign",
    "Verify",
    "GenerateMac",
    "VerifyMac",
}


def _kms(call: Call, kms: KmsLookup) -> Mapped:
    operation = call.header("x-amz-target").split(".", 1)[-1]
    body = call.json_body()
    key_id = str(body.get("KeyId") or "")
    if operation not in _KMS_OPERATIONS or not key_id:
        return Mapped(operation, [], "json", "AccessDeniedException", evaluated=False)
    key_arn = kms.key_arn(key_id)
    if not key_arn:
        return Mapped(operation, [], "json", "AccessDeniedException", evaluated=False)
    context: dict[str, ContextValue] = {"kms:CallerAccount": call.account}
    for name, value in (body.get("EncryptionContext") or {}).items():
        context[f"kms:EncryptionContext:{name}"] = str(value)
    return Mapped(
        operation, [Check(f"kms:{operation}", key_arn, context)], "json", "AccessDeniedException"
    )


_SERVICES = {
    "s3": _s3,
    "sqs": _sqs,
    "sns": _sns,
    "events": _events,
    "ses": _ses,
    "lambda": _lambda,
    "logs": _logs,
    "monitoring": _cloudwatch,
    "xray": _xray,
    "sts": _sts,
    "kms": _kms,
    "secretsmanager": _secretsmanager,
}


def map_call(call: Call, kms: KmsLookup) -> Mapped:
    """The checks a call needs; ``evaluated=False`` for a call outside the map."""
    service = call.service
    if service == "ses" and call.path.startswith("/v2/"):
        return _sesv2(call, kms)
    handler = _SERVICES.get(service)
    if handler is None:
        return Mapped(
            f"{service} {call.method} {call.path}",
            [],
            "json",
            "AccessDeniedException",
            evaluated=False,
        )
    return handler(call, kms)


class KmsLookup:
    """What the map needs to know about stored resources (implemented by :mod:`.store`)."""

    def object_key(self, bucket: str, key: str) -> str | None:
        raise NotImplementedError

    def put_key(self, bucket: str, sse: str, key_id: str) -> str | None:
        raise NotImplementedError

    def s3_encryption_context(self, bucket: str, key: str) -> str:
        raise NotImplementedError

    def queue_key(self, queue_arn: str) -> str | None:
        raise NotImplementedError

    def topic_key(self, topic_arn: str) -> str | None:
        raise NotImplementedError

    def key_arn(self, key_id: str) -> str | None:
        raise NotImplementedError

    def ses_identity_exists(self, identity: str) -> bool:
        raise NotImplementedError

    def secret_arn(self, secret_id: str) -> str | None:
        raise NotImplementedError

    def secret_key(self, secret_arn: str) -> str | None:
        raise NotImplementedError

"""The local endpoint's authorization: each request signed with a Lambda execution
environment's credentials is evaluated before moto answers it.

Modes: ``enforce`` refuses what AWS would refuse, with the service's own error; ``audit``
answers as usual but records every request AWS would deny; ``off`` evaluates nothing. Every
denial (and, in audit mode, every would-be denial) goes into a bounded journal served at
``/_localcloud/iam``, with the calls the map does not cover counted as "not evaluated".
"""

from __future__ import annotations

import io
import threading
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

from . import identities
from .calls import Call, Check, Mapped, map_call
from .evaluation import Decision, Outcome, Policies, evaluate
from .language import ContextValue, Principal, Request

MODES = ("enforce", "audit", "off")
#: Denials kept for ``/_localcloud/iam`` (a local bound: older entries are dropped).
JOURNAL_LIMIT = 1000


@dataclass
class Denial:
    time: str
    mode: str
    function: str
    principal: str
    operation: str
    action: str
    resource: str
    reason: str
    code: str
    message: str
    enforced: bool
    unevaluable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Journal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._denials: deque[Denial] = deque(maxlen=JOURNAL_LIMIT)
        self._not_evaluated: Counter[str] = Counter()
        self.evaluated = 0
        self.total = 0

    def deny(self, denial: Denial) -> None:
        with self._lock:
            self._denials.append(denial)

    def not_evaluated(self, name: str) -> None:
        with self._lock:
            self._not_evaluated[name] += 1

    def count(self, evaluated: bool) -> None:
        with self._lock:
            self.total += 1
            self.evaluated += int(evaluated)

    def denials(self, function: str | None = None) -> list[Denial]:
        with self._lock:
            return [d for d in self._denials if function is None or d.function == function]

    def to_dict(self, mode: str) -> dict[str, Any]:
        with self._lock:
            return {
                "mode": mode,
                "requests": self.total,
                "evaluated": self.evaluated,
                "denials": [d.to_dict() for d in self._denials],
                "notEvaluated": dict(self._not_evaluated),
            }

    def clear(self) -> None:
        with self._lock:
            self._denials.clear()
            self._not_evaluated.clear()
            self.evaluated = self.total = 0


JOURNAL = Journal()
_state = {"mode": "enforce"}


def set_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"iam mode must be one of {', '.join(MODES)}, got {mode!r}")
    _state["mode"] = mode


def mode() -> str:
    return _state["mode"]


def _credential(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """(access key, region, service) from a SigV4 Authorization header or presigned URL."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    scope = ""
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].strip()
    elif "X-Amz-Credential=" in environ.get("QUERY_STRING", ""):
        scope = parse_qs(environ["QUERY_STRING"]).get("X-Amz-Credential", [""])[0]
    parts = scope.split("/")
    if len(parts) < 5:
        return None
    return parts[0], parts[2], parts[3]


def _global_context(
    principal: Principal, environ: dict[str, Any], region: str
) -> dict[str, ContextValue]:
    # Global condition keys the request context always has for a role session ("AWS global
    # condition context keys"): aws:PrincipalArn is the role's ARN for a role session.
    now = datetime.now(UTC)
    return {
        "aws:PrincipalArn": principal.role_arn or principal.arn,
        "aws:PrincipalAccount": principal.account,
        "aws:PrincipalType": "AssumedRole",
        # The local endpoint stands in for AWS's HTTPS endpoints.
        "aws:SecureTransport": "true",
        "aws:SourceIp": str(environ.get("REMOTE_ADDR") or "127.0.0.1"),
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:RequestedRegion": region,
        "aws:ViaAWSService": "false",
    }


def decide(
    principal: Principal, check: Check, base: dict[str, ContextValue], account: str, region: str
) -> Outcome:
    from .store import identity_policies, resource_policies

    documents, boundary = identity_policies(principal)
    found = resource_policies(check.resource, account, region)
    context = dict(base)
    if check.action.startswith("kms:"):
        context["kms:CallerAccount"] = principal.account
        if "kms:ViaService" in check.context:
            context["aws:ViaAWSService"] = "true"
    context.update(check.context)
    policies = Policies(
        identity=documents,
        resource=found.resource,
        resource_required=found.resource_required,
        resource_kind=found.resource_kind,
        permissions_boundary=boundary,
    )
    return evaluate(Request(check.action, check.resource, principal, context), policies)


def denial_message(principal: Principal, check: Check, outcome: Outcome, quoted: bool) -> str:
    # The shape of AWS's authorization errors ("Troubleshoot access denied error messages",
    # IAM User Guide): who, which action, which resource, and why.
    resource = f'"{check.resource}"' if quoted else check.resource
    return (
        f"User: {principal.arn} is not authorized to perform: {check.action} on resource: "
        f"{resource} because {outcome.reason}"
    )


class _S3Request(threading.local):
    """The S3 request this thread is answering, for the bucket-policy check moto makes."""

    evaluated: bool = False
    context: dict[str, ContextValue] | None = None


S3_REQUEST = _S3Request()


def _s3_context(environ: dict[str, Any]) -> dict[str, ContextValue]:
    # The request's own condition keys ("Actions, resources, and condition keys for Amazon S3").
    context: dict[str, ContextValue] = {"aws:SecureTransport": "true"}
    for header in ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id"):
        value = environ.get("HTTP_" + header.upper().replace("-", "_"))
        if value:
            context[f"s3:{header}"] = str(value)
    return context


def check(environ: dict[str, Any]) -> Response | None:
    """None to let the request through; else the AWS-shaped denial to answer it with."""
    S3_REQUEST.evaluated = False
    S3_REQUEST.context = None
    credential = _credential(environ)
    if credential is None:
        return None
    access_key, region, service = credential
    if service == "s3":
        S3_REQUEST.context = _s3_context(environ)
    current = _state["mode"]
    if current == "off":
        return None
    identity = identities.lookup(access_key)
    if identity is None:
        return None  # the deploying administrator
    from .. import runtime
    from .store import MotoLookup

    account = identity.principal.account or runtime.ACCOUNT_ID
    body = b""
    if service != "s3":
        # The body is read here and handed on unchanged (S3's bodies are not needed).
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
        elif environ.get("wsgi.input_terminated"):  # chunked: read to the end
            body = environ["wsgi.input"].read()
            environ["wsgi.input"] = io.BytesIO(body)
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    call = Call(
        service=service,
        region=region,
        account=account,
        method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
        path=str(environ.get("PATH_INFO", "/")),
        query=parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True),
        headers=headers,
        body=body,
    )
    lookup = MotoLookup(account, region)
    try:
        mapped = map_call(call, lookup)
    except Exception as exc:  # a request the map cannot read: deny, as AWS could not allow it
        mapped = Mapped(
            f"{service} {call.method} {call.path}",
            [Check(f"{service}:*", "*")],
            "json",
            "AccessDeniedException",
        )
        reason = f"the local cloud could not read the request ({exc})"
        return _refuse(identity, mapped, mapped.checks[0], Outcome(Decision.DENY, reason), current)
    JOURNAL.count(mapped.evaluated)
    if not mapped.evaluated:
        JOURNAL.not_evaluated(f"{service}:{mapped.operation}")
        return None
    base = _global_context(identity.principal, environ, region)
    # The gate evaluates the bucket policy itself, with the caller and the full context.
    S3_REQUEST.evaluated = service == "s3"
    for needed in mapped.checks:
        outcome = decide(identity.principal, needed, base, account, region)
        if not outcome.allowed:
            refusal = _refuse(identity, mapped, needed, outcome, current)
            if refusal is not None:
                return refusal
    return None


def _refuse(
    identity: identities.Identity, mapped: Mapped, needed: Check, outcome: Outcome, current: str
) -> Response | None:
    message = denial_message(identity.principal, needed, outcome, quoted=mapped.protocol == "s3")
    enforced = current == "enforce"
    JOURNAL.deny(
        Denial(
            time=datetime.now(UTC).isoformat(timespec="milliseconds"),
            mode=current,
            function=identity.function_name,
            principal=identity.principal.arn,
            operation=mapped.operation,
            action=needed.action,
            resource=needed.resource,
            reason=outcome.reason,
            code=mapped.code,
            message=message,
            enforced=enforced,
            unevaluable=list(outcome.unevaluable),
        )
    )
    if not enforced:
        return None
    return error_response(mapped, message)


def error_response(mapped: Mapped, message: str) -> Response:
    request_id = str(uuid.uuid4())
    code, status = mapped.code, mapped.status
    headers = {"x-amzn-RequestId": request_id}
    if mapped.protocol == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        return Response(
            body,
            status,
            headers={**headers, "x-amz-request-id": request_id},
            content_type="application/xml",
        )
    if mapped.protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return Response(body, status, headers=headers, content_type="text/xml")
    # JSON protocols: the code in __type and x-amzn-ErrorType; services that keep their query
    # error codes (SQS, CloudWatch: awsQueryCompatible) also in x-amzn-query-error.
    headers["x-amzn-ErrorType"] = code
    headers["x-amzn-query-error"] = f"{code};Sender"
    document = {"__type": code, "message": message}
    if mapped.protocol == "cbor":
        return Response(
            _cbor_map(document),
            status,
            headers={**headers, "smithy-protocol": "rpc-v2-cbor"},
            content_type="application/cbor",
        )
    import json

    content_type = (
        "application/json" if mapped.protocol == "rest-json" else "application/x-amz-json-1.1"
    )
    return Response(json.dumps(document), status, headers=headers, content_type=content_type)


def _cbor_text(value: str) -> bytes:
    # RFC 8949: major type 3 (text string) with its length.
    data = value.encode("utf-8")
    n = len(data)
    if n < 24:
        head = bytes([0x60 | n])
    elif n < 256:
        head = bytes([0x78, n])
    elif n < 65536:
        head = bytes([0x79]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x7A]) + n.to_bytes(4, "big")
    return head + data


def _cbor_map(document: dict[str, str]) -> bytes:
    # RFC 8949: major type 5 (map) with fewer than 24 pairs.
    out = bytes([0xA0 | len(document)])
    for key, value in document.items():
        out += _cbor_text(key) + _cbor_text(value)
    return out


def lambda_may_send(fn: Any, target: str) -> bool:
    """May Lambda deliver an asynchronous invocation's record to ``target`` (an on-success or
    on-failure destination, or a dead-letter queue)? Lambda sends with the function's
    execution role, which needs ``sqs:SendMessage``, ``sns:Publish`` or
    ``lambda:InvokeFunction`` on it (Lambda Developer Guide, "Capturing records of Lambda
    asynchronous invocations": "Destination permissions"), and the key of an encrypted queue or
    topic. Refusals are journaled; only ``enforce`` stops the delivery."""
    current = _state["mode"]
    role = str(getattr(fn, "role", "") or "")
    if current == "off" or not role.startswith("arn:"):
        return True
    from .store import MotoLookup

    principal = Principal.role_session(role, fn.function_name)
    parts = target.split(":")
    account, region = principal.account, parts[3] or fn.region
    lookup = MotoLookup(account, region)
    service = parts[2]
    checks: list[Check] = []
    if service == "sqs":
        checks.append(Check("sqs:SendMessage", target))
        key = lookup.queue_key(target)
        via = {"kms:ViaService": f"sqs.{region}.amazonaws.com"}
        if key:
            checks += [Check("kms:GenerateDataKey", key, via), Check("kms:Decrypt", key, via)]
    elif service == "sns":
        checks.append(Check("sns:Publish", target))
        key = lookup.topic_key(target)
        via = {"kms:ViaService": f"sns.{region}.amazonaws.com"}
        if key:
            checks += [Check("kms:GenerateDataKey", key, via), Check("kms:Decrypt", key, via)]
    elif service == "lambda":
        checks.append(Check("lambda:InvokeFunction", target))
    base: dict[str, ContextValue] = {
        "aws:PrincipalArn": role,
        "aws:PrincipalAccount": account,
        "aws:SecureTransport": "true",
    }
    mapped = Mapped("destination", checks, "json", "AccessDeniedException")
    identity = identities.Identity(principal, fn.function_name)
    for needed in checks:
        outcome = decide(principal, needed, base, account, region)
        if not outcome.allowed:
            _refuse(identity, mapped, needed, outcome, current)
            return current != "enforce"
    return True

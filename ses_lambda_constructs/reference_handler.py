"""The reference handler function: reads each raw message, parses it, writes ``message.json``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from ._bundled import contract
from .acknowledgments import acknowledge, nag_arn
from .bundling import python_code
from .event_patterns import DEFAULT_EVENT_SOURCE
from .handler_bundle import DEFAULT_RUNTIME, reference_bundle
from .hardening import FunctionHardening
from .lambda_role import logging_only_role
from .limits import (
    MAX_MESSAGE_BYTES,
    ValidationError,
    validate_disjoint_prefixes,
    validate_prefix,
)
from .metrics import FunctionMetrics, metric_names
from .storage import RawMessageStore
from .verdicts import Verdict

_CONTRACT = contract()
#: Default key prefix of the parsed output.
DEFAULT_PARSED_PREFIX: str = _CONTRACT.PARSED_PREFIX


class ReferenceHandler(Construct):
    """The bundled reference handler: reads each raw message, parses it, writes ``message.json``.

    The function reads raw MIME from ``store`` at ``<raw prefix><messageId>`` and writes
    ``<parsed_prefix><messageId>/<delivery key>/message.json`` (one per receipt rule) plus
    attachments to the same bucket. It may read only the raw prefix and write only the parsed
    prefix. Code is bundled locally with pip (Docker
    only if pip cannot run), logs are JSON, and all configuration is in environment variables.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        store: RawMessageStore,
        parsed_prefix: str = DEFAULT_PARSED_PREFIX,
        reject_on_verdicts: Sequence[Verdict] = (Verdict.SPAM, Verdict.VIRUS),
        max_message_size: int = MAX_MESSAGE_BYTES,
        runtime: lambda_.Runtime = DEFAULT_RUNTIME,
        architecture: lambda_.Architecture = lambda_.Architecture.X86_64,
        memory_size: int = 512,
        timeout: Duration = Duration.seconds(60),
        log_retention: logs.RetentionDays | None = None,
        environment: Mapping[str, str] | None = None,
        service_name: str = metric_names().HANDLER_SERVICE,
        metrics_namespace: str = metric_names().NAMESPACE,
        event_bus: events.IEventBus | None = None,
        event_source: str = DEFAULT_EVENT_SOURCE,
        hardening: FunctionHardening | None = None,
    ) -> None:
        """
        :param store: where SES stored the raw messages; parsed output goes to the same bucket.
        :param parsed_prefix: key prefix of the parsed output. Default: ``parsed/``.
        :param reject_on_verdicts: a ``FAIL`` in any of these verdicts rejects the message.
            Default: spam and virus.
        :param max_message_size: bytes above which a message is not parsed. Default: 40 MiB.
        :param runtime: a Python runtime. Default: Python 3.14.
        :param architecture: Default: x86_64.
        :param memory_size: MiB. Default: 512. Measured (BENCHMARKS.md, "2. Handler"): a 40 MB
            message, SES's largest, peaks at 65.8 MiB above the runtime's baseline (the body is
            spooled to /tmp, then parsed in chunks); 512 MiB keeps that under half the memory
            and buys the CPU share (it scales with memory) that parses it in about a second.
        :param timeout: Default: 60 seconds (SES waits at most 30 s for RequestResponse).
        :param log_retention: Default: ``hardening.log_retention`` (three months).
        :param environment: extra variables, e.g. ``POWERTOOLS_LOG_LEVEL``.
        :param service_name: Powertools service name. Default: ``ses-lambda-handler``.
        :param metrics_namespace: CloudWatch namespace of the metrics.
            Default: ``SesLambdaConstructs``.
        :param event_bus: put one event per message on this bus (``EVENT_BUS_NAME``), with
            ``events:PutEvents`` on it only. Default: no events (the receiver always passes one).
        :param event_source: the events' ``source`` (``EVENT_SOURCE``).
            Default: ``ses-lambda-constructs``.
        :param hardening: tracing, reserved concurrency, VPC and log encryption.
            Default: ``FunctionHardening()`` (tracing on).
        """
        super().__init__(scope, id)
        if runtime.family != lambda_.RuntimeFamily.PYTHON:
            raise ValidationError(f"runtime must be a Python runtime; got {runtime.name!r}")
        self.parsed_prefix = validate_prefix("parsed_prefix", parsed_prefix, allow_empty=False)
        validate_disjoint_prefixes(
            ("raw_message_prefix", store.object_key_prefix), ("parsed_prefix", self.parsed_prefix)
        )
        if not 0 < max_message_size <= MAX_MESSAGE_BYTES:
            raise ValidationError(
                f"max_message_size must be between 1 and {MAX_MESSAGE_BYTES} bytes (SES's limit); "
                f"got {max_message_size!r}"
            )
        verdicts = [Verdict(v) if isinstance(v, str) else v for v in reject_on_verdicts]
        self.store = store

        hardening = hardening or FunctionHardening()
        if log_retention is not None:
            hardening = dataclasses.replace(hardening, log_retention=log_retention)
        self.hardening = hardening

        bundle = reference_bundle(runtime, architecture)
        log_group = hardening.log_group(self, "Logs")
        role = logging_only_role(self, "Role", log_group=log_group)
        function = hardening.function(
            self,
            "Function",
            role=role,
            log_group=log_group,
            memory_size=memory_size,
            runtime=runtime,
            architecture=architecture,
            handler="handler.lambda_handler",
            code=python_code(bundle, runtime),
            timeout=timeout,
            description="ses-lambda-constructs reference handler: parses received email",
            environment={
                _CONTRACT.ENV_RAW_MESSAGE_BUCKET: store.bucket.bucket_name,
                _CONTRACT.ENV_RAW_MESSAGE_PREFIX: store.object_key_prefix,
                _CONTRACT.ENV_PARSED_PREFIX: self.parsed_prefix,
                _CONTRACT.ENV_REJECT_ON_VERDICTS: ",".join(v.value for v in verdicts),
                _CONTRACT.ENV_MAX_MESSAGE_BYTES: str(max_message_size),
                "POWERTOOLS_SERVICE_NAME": service_name,
                "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
                **(
                    {
                        _CONTRACT.ENV_EVENT_BUS_NAME: event_bus.event_bus_arn,
                        _CONTRACT.ENV_EVENT_SOURCE: event_source,
                    }
                    if event_bus is not None
                    else {}
                ),
                **(environment or {}),
            },
        )
        self._function = function
        self.function: lambda_.IFunction = function
        self.log_group: logs.ILogGroup = log_group
        self.event_bus = event_bus
        #: The metrics the function emits (``metrics.metric("MessagesProcessed")``).
        self.metrics = FunctionMetrics(
            function=function,
            service=(environment or {}).get("POWERTOOLS_SERVICE_NAME", service_name),
            namespace=(environment or {}).get("POWERTOOLS_METRICS_NAMESPACE", metrics_namespace),
            emitted=metric_names().HANDLER_METRICS,
        )
        if event_bus is not None:
            event_bus.grant_put_events_to(function)
        store.grant_read_raw(function)
        store.grant_put(function, self.parsed_prefix)
        for prefix in (store.object_key_prefix, self.parsed_prefix):
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{nag_arn(store, store.bucket)}>/{prefix}*]",
                "Object keys are SES message ids, known only when mail arrives; the grant "
                "is limited to this one prefix and one action.",
            )

    def add_environment(self, key: str, value: str) -> ReferenceHandler:
        """Set one more environment variable of the function (e.g. ``POWERTOOLS_LOG_LEVEL``)."""
        self._function.add_environment(key, value)
        return self

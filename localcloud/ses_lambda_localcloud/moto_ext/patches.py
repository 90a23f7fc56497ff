"""Corrections to moto 5.2 behaviours that break the CDK CLI or SES receiving.

Each patch is small and says which moto behaviour it corrects. ``apply()`` is idempotent.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import (
    AlreadyExistsException,
    CloudFormationError,
    ValidationError,
)
from moto.cloudformation.models import (
    ChangeSet,
    CloudFormationBackend,
    Stack,
)
from moto.cloudformation.responses import CloudFormationResponse
from moto.cloudformation.utils import generate_changeset_id, validate_create_change_set
from moto.core.responses import ActionResult, EmptyResult
from moto.iam.access_control import PermissionResult
from moto.s3.exceptions import BucketNotEmpty
from moto.s3.models import FakeBucket, s3_backends
from moto.ses.exceptions import AlreadyExists, RuleDoesNotExist, RuleSetDoesNotExist
from moto.ses.models import SESBackend
from moto.ses.responses import EmailResponse

from .. import lambda_runner, policy
from . import cfn_engine, ses_checks
from .cfn_models import LOCAL_MODELS

log = logging.getLogger(__name__)
_applied = False


def _patch(owner: Any, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Replace ``owner.name``; the original stays reachable as ``replacement.original``."""

    def decorator(replacement: Callable[..., Any]) -> Callable[..., Any]:
        original = getattr(owner, name, None)
        replacement.original = original  # type: ignore[attr-defined]
        setattr(owner, name, replacement)
        return replacement

    return decorator


class ChangeSetNotFound(CloudFormationError):
    code = "ChangeSetNotFound"

    def __init__(self, name: str):
        super().__init__(f"ChangeSet [{name}] does not exist")
        self.http_status_code = 404


class InvalidChangeSetStatus(CloudFormationError):
    code = "InvalidChangeSetStatus"


def apply() -> None:
    global _applied
    if _applied:
        return
    _patch_model_registry()
    _patch_stacks()
    _patch_change_sets()
    _patch_s3_policy_conditions()
    _patch_s3_bucket_delete()
    _patch_ses()
    _patch_lambda()
    _applied = True


# --- CloudFormation: resource types --------------------------------------------------------


def _patch_model_registry() -> None:
    # Moto builds its type map from CloudFormationModel.__subclasses__() and silently skips
    # types it has no model for; add this project's models (replacing moto's Lambda
    # Permission, which cannot be deleted, and its Docker-backed custom resources).
    moto_models = parsing.get_model_list.__wrapped__()

    @functools.lru_cache
    def get_model_list() -> list[type[Any]]:
        kept = [m for m in moto_models if m.cloudformation_type() not in LOCAL_MODELS]
        return kept + list(LOCAL_MODELS.values())

    parsing.get_model_list = get_model_list
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()

    @_patch(parsing, "resource_class_from_type")
    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type.startswith("Custom::"):
            return LOCAL_MODELS["AWS::CloudFormation::CustomResource"]
        return resource_class_from_type.original(resource_type)  # type: ignore[attr-defined]


# --- CloudFormation: stacks -------------------------------------------------------------------


def _finish_success(backend: CloudFormationBackend, stack: Stack) -> None:
    stack.output_map = stack._create_output_map()
    for export in stack.exports:
        backend.exports[export.name] = export


def _patch_stacks() -> None:
    # Moto's Stack.stack_resources goes through its lazy resource map, which *creates* every
    # resource not created yet (e.g. DescribeStackResources after a failed create).
    Stack.stack_resources = property(cfn_engine.existing_resources)  # type: ignore[assignment]

    @_patch(CloudFormationBackend, "create_stack")
    def create_stack(
        self: CloudFormationBackend,
        name: str,
        template: str,
        parameters: dict[str, Any],
        **kwargs: Any,
    ) -> Stack:
        # Moto creates resources in template order and raises out of the API call on a
        # failure; run the engine (dependency order, events, rollback) instead.
        cfn_engine.validate_template(Stack.parse_template(template), self.region_name)
        live = [s for s in self.stacks.values() if s.name == name]
        if live:
            raise AlreadyExistsException(f"Stack [{name}] already exists")
        from moto.cloudformation.utils import generate_stack_id

        stack = Stack(  # type: ignore[abstract]
            stack_id=generate_stack_id(name, self.region_name, self.account_id),
            name=name,
            template={},
            parameters=parameters,
            account_id=self.account_id,
            region_name=self.region_name,
            notification_arns=kwargs.get("notification_arns"),
            tags=kwargs.get("tags"),
            role_arn=kwargs.get("role_arn"),
            cross_stack_resources=self.exports,
            enable_termination_protection=kwargs.get("enable_termination_protection"),
            timeout_in_mins=kwargs.get("timeout_in_mins"),
            stack_policy_body=kwargs.get("stack_policy_body"),
        )
        self.stacks[stack.stack_id] = stack
        template_dict = Stack.parse_template(template)
        if cfn_engine.Operation(stack).apply(template_dict, parameters, creating=True):
            stack.template = template
            stack._parse_template()
            _finish_success(self, stack)
        return stack

    @_patch(Stack, "update")
    def update(
        self: Stack,
        template: str,
        role_arn: str | None = None,
        parameters: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        if self.status in ("ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS", "DELETE_FAILED"):
            raise ValidationError(
                message=f"Stack:{self.stack_id} is in {self.status} state and can not be updated."
            )
        template_dict = Stack.parse_template(template)
        cfn_engine.validate_template(template_dict, self.region_name)
        if cfn_engine.Operation(self).apply(template_dict, parameters, creating=False):
            self.template = template
            self._parse_template()
            if parameters:
                self.parameters = parameters
            if tags is not None:
                self.tags = tags
            self.role_arn = role_arn
            from moto.cloudformation.models import cloudformation_backends

            _finish_success(cloudformation_backends[self.account_id][self.region_name], self)

    @_patch(CloudFormationBackend, "delete_stack")
    def delete_stack(self: CloudFormationBackend, name_or_stack_id: str) -> None:
        # Moto deletes in arbitrary order, raises out of the API call when a resource cannot
        # be deleted, and ignores termination protection.
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None
        )
        if stack is None:
            return  # deleting a stack that does not exist succeeds, as on AWS
        if stack.enable_termination_protection:
            raise ValidationError(
                message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection "
                "is enabled"
            )
        if cfn_engine.Operation(stack).delete():
            self.stacks.pop(stack.stack_id, None)
            self.deleted_stacks[stack.stack_id] = stack
            for export in list(self.exports.values()):
                if export.exporting_stack_id == stack.stack_id:
                    self.exports.pop(export.name, None)
            for change_set_id in [
                i for i, c in self.change_sets.items() if c.stack_id == stack.stack_id
            ]:
                del self.change_sets[change_set_id]

    def update_termination_protection(self: CloudFormationResponse) -> ActionResult:
        # Not implemented by moto; the CDK CLI calls it when a stack's setting changes.
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = self._get_bool_param(
            "EnableTerminationProtection", False
        )
        return ActionResult({"StackId": stack.stack_id})

    CloudFormationResponse.update_termination_protection = update_termination_protection  # type: ignore[attr-defined]


# --- CloudFormation: change sets ------------------------------------------------------------


def _find_change_set(
    backend: CloudFormationBackend, name: str, stack_name: str | None
) -> ChangeSet | None:
    if name in backend.change_sets:  # an ARN
        return backend.change_sets[name]
    for change_set in backend.change_sets.values():
        # Change set names are unique per stack only: moto matched the name across all stacks
        # (the CDK CLI uses "cdk-deploy-change-set" for every stack).
        if change_set.change_set_name != name:
            continue
        if stack_name in (None, "", change_set.stack_name, change_set.stack_id):
            return change_set
    return None


def _patch_change_sets() -> None:
    @_patch(CloudFormationBackend, "create_change_set")
    def create_change_set(
        self: CloudFormationBackend,
        stack_name: str,
        change_set_name: str,
        template: str,
        parameters: dict[str, str],
        description: str,
        change_set_type: str,
        notification_arns: list[str] | None = None,
        tags: dict[str, str] | None = None,
        role_arn: str | None = None,
    ) -> tuple[str, str]:
        validate_create_change_set(change_set_name)
        cfn_engine.validate_template(Stack.parse_template(template), self.region_name)
        live = next((s for s in self.stacks.values() if s.name == stack_name), None)
        if change_set_type == "UPDATE":
            if live is None:
                raise ValidationError(stack_name)
            if live.status in ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"):
                raise ValidationError(
                    message=f"Stack:{live.stack_id} is in {live.status} state and can not be "
                    "updated."
                )
            stack = live
        elif live is not None and live.status != "REVIEW_IN_PROGRESS":
            # Moto created a second stack of the same name here.
            raise AlreadyExistsException(f"Stack [{stack_name}] already exists")
        elif live is not None:
            stack = live
        else:
            from moto.cloudformation.utils import generate_stack_id

            stack = Stack(  # type: ignore[abstract]
                stack_id=generate_stack_id(stack_name, self.region_name, self.account_id),
                name=stack_name,
                template={},
                parameters=parameters,
                account_id=self.account_id,
                region_name=self.region_name,
                notification_arns=notification_arns,
                tags=tags,
                role_arn=role_arn,
                cross_stack_resources=self.exports,
            )
            self.stacks[stack.stack_id] = stack
            stack.status = "REVIEW_IN_PROGRESS"
            stack._add_stack_event("REVIEW_IN_PROGRESS", resource_status_reason="User Initiated")
        if _find_change_set(self, change_set_name, stack.stack_id) is not None:
            raise AlreadyExistsException(f"ChangeSet [{change_set_name}] already exists")
        change_set = ChangeSet(
            change_set_type=change_set_type,
            change_set_id=generate_changeset_id(change_set_name, self.region_name, self.account_id),
            change_set_name=change_set_name,
            stack=stack,
            template=template,
            parameters=parameters,
            description=description,
            notification_arns=notification_arns,
            tags=tags,
            role_arn=role_arn,
        )
        if (
            change_set_type == "UPDATE"
            and stack.has_template(template)
            and stack.has_parameters(parameters)
        ):
            change_set.status = "FAILED"
            change_set.execution_status = "UNAVAILABLE"
            change_set.status_reason = (
                "The submitted information didn't contain changes. Submit different "
                "information to create a change set."
            )
        else:
            change_set.status = "CREATE_COMPLETE"
            change_set.execution_status = "AVAILABLE"
        self.change_sets[change_set.change_set_id] = change_set
        return change_set.change_set_id, stack.stack_id

    @_patch(CloudFormationBackend, "describe_change_set")
    def describe_change_set(
        self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None
    ) -> ChangeSet:
        # Moto answered ValidationError; the CLI waits for ChangeSetNotFound (404).
        change_set = _find_change_set(self, change_set_name, stack_name)
        if change_set is None:
            raise ChangeSetNotFound(change_set_name)
        return change_set

    @_patch(CloudFormationBackend, "delete_change_set")
    def delete_change_set(
        self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None
    ) -> None:
        # Moto raised an unhandled KeyError (HTTP 500, HTML body) for an unknown name; the CLI
        # deletes "cdk-deploy-change-set" before every deploy, whether it exists or not.
        change_set = _find_change_set(self, change_set_name, stack_name)
        if change_set is not None:
            self.change_sets.pop(change_set.change_set_id, None)

    @_patch(CloudFormationBackend, "execute_change_set")
    def execute_change_set(
        self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None
    ) -> None:
        # Moto ignored DependsOn on this path, lost the Outputs, never rolled back and kept the
        # executed change set around.
        change_set = _find_change_set(self, change_set_name, stack_name)
        if change_set is None:
            raise ChangeSetNotFound(change_set_name)
        if change_set.execution_status != "AVAILABLE":
            raise InvalidChangeSetStatus(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current "
                f"status of [{change_set.status}]"
            )
        stack = self.stacks[change_set.stack_id]
        creating = change_set.change_set_type == "CREATE"
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        ok = cfn_engine.Operation(stack).apply(
            change_set.template_dict, change_set.parameters, creating=creating
        )
        change_set.execution_status = "EXECUTE_COMPLETE" if ok else "EXECUTE_FAILED"
        if ok:
            stack.template = change_set.template
            stack._parse_template()
            stack.description = stack.template_dict.get("Description")
            stack.parameters = change_set.parameters
            if change_set.tags:
                stack.tags = change_set.tags
            _finish_success(self, stack)
        # CloudFormation removes a stack's change sets once one of them was executed.
        for change_set_id in [
            i for i, c in self.change_sets.items() if c.stack_id == stack.stack_id
        ]:
            del self.change_sets[change_set_id]

    def create_change_set_response(self: CloudFormationResponse) -> ActionResult:
        # Moto crashed on a parameter with UsePreviousValue (the CDK's BootstrapVersion) when
        # creating, and on one whose previous value was a template default when updating.
        stack_name = self._get_param("StackName")
        change_set_type = self._get_param("ChangeSetType", "CREATE")
        backend = self.cloudformation_backend
        live = next((s for s in backend.stacks.values() if s.name == stack_name), None)
        body = self._get_param("TemplateBody")
        template_url = self._get_param("TemplateURL")
        if self._get_bool_param("UsePreviousTemplate", False):
            if live is None:
                raise ValidationError(stack_name)
            body = live.template
        elif template_url:
            body = self._get_stack_from_s3_url(template_url)
        if not body:
            raise ValidationError(message="Either Template URL or Template Body must be specified.")
        parameters: dict[str, Any] = {}
        for parameter in self._get_param("Parameters", []):
            key = parameter["ParameterKey"]
            if parameter.get("UsePreviousValue"):
                if live is not None and key in (live.parameters or {}):
                    parameters[key] = live.parameters[key]
            elif "ParameterValue" in parameter:
                parameters[key] = parameter["ParameterValue"]
        tags = {item["Key"]: item["Value"] for item in self._get_param("Tags", [])}
        change_set_id, stack_id = backend.create_change_set(
            stack_name=stack_name,
            change_set_name=self._get_param("ChangeSetName"),
            template=body,
            parameters=parameters,
            description=self._get_param("Description"),
            notification_arns=self._get_param("NotificationARNs", []),
            tags=tags,
            role_arn=self._get_param("RoleARN"),
            change_set_type=change_set_type,
        )
        return ActionResult({"Id": change_set_id, "StackId": stack_id})

    def describe_change_set_response(self: CloudFormationResponse) -> ActionResult:
        backend: Any = self.cloudformation_backend  # describe_change_set as patched above
        change_set = backend.describe_change_set(
            self._get_param("ChangeSetName"), self._get_param("StackName")
        )
        return ActionResult(change_set)

    def delete_change_set_response(self: CloudFormationResponse) -> EmptyResult:
        backend: Any = self.cloudformation_backend  # delete_change_set as patched above
        backend.delete_change_set(self._get_param("ChangeSetName"), self._get_param("StackName"))
        return EmptyResult()

    def execute_change_set_response(self: CloudFormationResponse) -> EmptyResult:
        self.cloudformation_backend.execute_change_set(
            self._get_param("ChangeSetName"), self._get_param("StackName")
        )
        return EmptyResult()

    CloudFormationResponse.create_change_set = create_change_set_response  # type: ignore[method-assign]
    CloudFormationResponse.describe_change_set = describe_change_set_response  # type: ignore[method-assign]
    CloudFormationResponse.delete_change_set = delete_change_set_response  # type: ignore[method-assign]
    CloudFormationResponse.execute_change_set = execute_change_set_response  # type: ignore[method-assign]


# --- S3 ------------------------------------------------------------------------------------


def _patch_s3_bucket_delete() -> None:
    original = FakeBucket.delete_from_cloudformation_json

    def delete_from_cloudformation_json(
        cls: type[FakeBucket],
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> None:
        # Moto deleted a bucket with objects in it; S3 refuses ("BucketNotEmpty"), so the
        # stack's DELETE fails on AWS unless the bucket is emptied or retained.
        bucket = s3_backends[account_id]["aws"].buckets.get(resource_name)
        if bucket is not None and len(bucket.keys) > 0:
            raise BucketNotEmpty(resource_name)
        original(resource_name, cloudformation_json, account_id, region_name)

    FakeBucket.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)  # type: ignore[method-assign,assignment]


def _patch_s3_policy_conditions() -> None:
    @_patch(FakeBucket, "get_permission")
    def get_permission(self: FakeBucket, action: str, resource: str) -> PermissionResult:
        # Moto evaluated Conditions against an empty request context, so the CDK bootstrap
        # bucket's "Deny unless aws:SecureTransport" denied every asset upload. The local
        # endpoint stands in for AWS's HTTPS endpoint, so requests count as secure transport.
        decision = policy.evaluate(
            self.policy,
            policy.Request(
                action=action, resource=resource, context={"aws:SecureTransport": "true"}
            ),
        )
        return {
            policy.Decision.ALLOW: PermissionResult.PERMITTED,
            policy.Decision.DENY: PermissionResult.DENIED,
            policy.Decision.NEUTRAL: PermissionResult.NEUTRAL,
        }[decision]


# --- SES -----------------------------------------------------------------------------------


def _patch_ses() -> None:
    @_patch(SESBackend, "create_receipt_rule")
    def create_receipt_rule(
        self: SESBackend, rule_set_name: str, rule: dict[str, Any], after: str | None
    ) -> None:
        rule_set = self.receipt_rule_set.get(rule_set_name)
        if rule_set is not None:
            # Moto compared whole rule dicts, so a second rule with the same name got in.
            if any(r["Name"] == rule.get("Name") for r in rule_set.rules):
                raise AlreadyExists(f"Rule already exists: {rule['Name']}")
            ses_checks.check_rule(self, rule_set_name, rule, existing=len(rule_set.rules))
        create_receipt_rule.original(self, rule_set_name, rule, after)  # type: ignore[attr-defined]

    @_patch(SESBackend, "update_receipt_rule")
    def update_receipt_rule(self: SESBackend, rule_set_name: str, rule: dict[str, Any]) -> None:
        rule_set = self.receipt_rule_set.get(rule_set_name)
        if rule_set is not None and any(r["Name"] == rule.get("Name") for r in rule_set.rules):
            ses_checks.check_rule(self, rule_set_name, rule, existing=None)
        update_receipt_rule.original(self, rule_set_name, rule)  # type: ignore[attr-defined]

    def delete_receipt_rule(self: SESBackend, rule_set_name: str, rule_name: str) -> None:
        # Not implemented by moto.
        rule_set = self.receipt_rule_set.get(rule_set_name)
        if rule_set is None:
            raise RuleSetDoesNotExist(f"Rule set does not exist: {rule_set_name}")
        rule_set.rules = [r for r in rule_set.rules if r["Name"] != rule_name]

    def set_receipt_rule_position(
        self: SESBackend, rule_set_name: str, rule_name: str, after: str | None
    ) -> None:
        # Not implemented by moto.
        rule_set = self.receipt_rule_set.get(rule_set_name)
        if rule_set is None:
            raise RuleSetDoesNotExist(f"Rule set does not exist: {rule_set_name}")
        rule = next((r for r in rule_set.rules if r["Name"] == rule_name), None)
        if rule is None:
            raise RuleDoesNotExist(f"Rule does not exist: {rule_name}")
        rules = [r for r in rule_set.rules if r is not rule]
        if not after:
            rules.insert(0, rule)
        else:
            index = next((i for i, r in enumerate(rules) if r["Name"] == after), None)
            if index is None:
                raise RuleDoesNotExist(f"Rule does not exist: {after}")
            rules.insert(index + 1, rule)
        rule_set.rules = rules

    SESBackend.delete_receipt_rule = delete_receipt_rule  # type: ignore[attr-defined]
    SESBackend.set_receipt_rule_position = set_receipt_rule_position  # type: ignore[attr-defined]

    def delete_receipt_rule_response(self: EmailResponse) -> EmptyResult:
        backend: Any = self.backend  # with the methods added above
        backend.delete_receipt_rule(self._get_param("RuleSetName"), self._get_param("RuleName"))
        return EmptyResult()

    def set_receipt_rule_position_response(self: EmailResponse) -> EmptyResult:
        backend: Any = self.backend  # with the methods added above
        backend.set_receipt_rule_position(
            self._get_param("RuleSetName"),
            self._get_param("RuleName"),
            self._get_param("After") or None,
        )
        return EmptyResult()

    EmailResponse.delete_receipt_rule = delete_receipt_rule_response  # type: ignore[attr-defined]
    EmailResponse.set_receipt_rule_position = set_receipt_rule_position_response  # type: ignore[attr-defined]


# --- Lambda --------------------------------------------------------------------------------


def _header(headers: Any, name: str) -> str | None:
    """A request header, whatever its case (moto passes HTTP headers or plain dicts)."""
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _patch_lambda() -> None:
    @_patch(LambdaFunction, "__init__")
    def __init__(
        self: LambdaFunction,
        account_id: str,
        spec: dict[str, Any],
        region: str,
        version: str | int = 1,
    ) -> None:
        __init__.original(self, account_id, spec, region, version)  # type: ignore[attr-defined]
        # Moto drops these; the runner needs them (log group, dead-letter queue).
        self.logging_config = spec.get("LoggingConfig")  # type: ignore[attr-defined]
        self.dead_letter_config = spec.get("DeadLetterConfig")  # type: ignore[attr-defined]

    @_patch(LambdaFunction, "update_configuration")
    def update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> Any:
        for key, attribute in (
            ("LoggingConfig", "logging_config"),
            ("DeadLetterConfig", "dead_letter_config"),
        ):
            if key in config_updates:
                setattr(self, attribute, config_updates[key])
        return update_configuration.original(self, config_updates)  # type: ignore[attr-defined]

    @_patch(LambdaFunction, "invoke")
    def invoke(
        self: LambdaFunction, body: str | bytes, request_headers: Any, response_headers: Any
    ) -> bytes:
        # Moto runs code only in Docker; run it in a subprocess instead (lambda_runner).
        event = json.loads(body) if body else {}
        invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
        if isinstance(request_headers, dict) and not request_headers:
            # Moto's own deliveries (SNS subscriptions, EventBridge targets) pass no headers;
            # those services invoke asynchronously.
            invocation_type = "Event"
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            lambda_runner.invoke_in_background(self, event)
            return b""
        result = lambda_runner.invoke(self, event)
        if not result.ok:
            response_headers["x-amz-function-error"] = "Unhandled"
        if _header(request_headers, "X-Amz-Log-Type") == "Tail":
            tail = "\n".join(result.log_lines).encode("utf-8")[-4096:]
            response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
        return result.payload

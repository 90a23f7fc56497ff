"""CloudFormation change sets (the CDK CLI's deploy path): found per stack, executed by the engine,
and the API answers the CLI waits for."""

from __future__ import annotations

from typing import Any

from .. import cfn_engine
from ..moto_internals import (
    ActionResult,
    AlreadyExistsException,
    ChangeSet,
    CloudFormationBackend,
    CloudFormationError,
    CloudFormationResponse,
    EmptyResult,
    Stack,
    generate_changeset_id,
    generate_stack_id,
    validate_create_change_set,
)
from ..moto_internals import CfnValidationError as ValidationError
from .cloudformation import finish_success
from .patching import patch


class ChangeSetNotFound(CloudFormationError):
    code = "ChangeSetNotFound"

    def __init__(self, name: str):
        super().__init__(f"ChangeSet [{name}] does not exist")
        self.http_status_code = 404


class InvalidChangeSetStatus(CloudFormationError):
    code = "InvalidChangeSetStatus"


def apply() -> None:
    _patch_change_sets()


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
    @patch(CloudFormationBackend, "create_change_set")
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

    @patch(CloudFormationBackend, "describe_change_set")
    def describe_change_set(
        self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None
    ) -> ChangeSet:
        # Moto answered ValidationError; the CLI waits for ChangeSetNotFound (404).
        change_set = _find_change_set(self, change_set_name, stack_name)
        if change_set is None:
            raise ChangeSetNotFound(change_set_name)
        return change_set

    @patch(CloudFormationBackend, "delete_change_set")
    def delete_change_set(
        self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None
    ) -> None:
        # Moto raised an unhandled KeyError (HTTP 500, HTML body) for an unknown name; the CLI
        # deletes "cdk-deploy-change-set" before every deploy, whether it exists or not.
        change_set = _find_change_set(self, change_set_name, stack_name)
        if change_set is not None:
            self.change_sets.pop(change_set.change_set_id, None)

    @patch(CloudFormationBackend, "execute_change_set")
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
            finish_success(self, stack)
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

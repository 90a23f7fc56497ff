"""CloudFormation: this project's resource models in moto's registry, and stacks created,
updated and deleted by the engine (dependency order, events, rollback) instead of moto's."""

from __future__ import annotations

import functools
from typing import Any

from .. import cfn_engine
from ..cfn import LOCAL_MODELS
from ..moto_internals import (
    ActionResult,
    AlreadyExistsException,
    CloudFormationBackend,
    CloudFormationResponse,
    Stack,
    cloudformation_backends,
    generate_stack_id,
)
from ..moto_internals import CfnValidationError as ValidationError
from ..moto_internals import cfn_parsing as parsing
from .patching import patch


def apply() -> None:
    _patch_model_registry()
    _patch_stacks()


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

    @patch(parsing, "resource_class_from_type")
    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type.startswith("Custom::"):
            return LOCAL_MODELS["AWS::CloudFormation::CustomResource"]
        return resource_class_from_type.original(resource_type)  # type: ignore[attr-defined]


def finish_success(backend: CloudFormationBackend, stack: Stack) -> None:
    stack.output_map = stack._create_output_map()
    for export in stack.exports:
        backend.exports[export.name] = export


def _patch_stacks() -> None:
    # Moto's Stack.stack_resources goes through its lazy resource map, which *creates* every
    # resource not created yet (e.g. DescribeStackResources after a failed create).
    Stack.stack_resources = property(cfn_engine.existing_resources)  # type: ignore[assignment]

    @patch(CloudFormationBackend, "create_stack")
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
            finish_success(self, stack)
        return stack

    @patch(Stack, "update")
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
            finish_success(cloudformation_backends[self.account_id][self.region_name], self)

    @patch(CloudFormationBackend, "delete_stack")
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

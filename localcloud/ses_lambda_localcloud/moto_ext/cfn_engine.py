"""Stack operations (create, update, delete) that behave like CloudFormation's.

Moto 5.2 creates resources lazily in template order on the change-set path (ignoring
``DependsOn``), lets a failing resource escape as an HTTP 500 with no rollback, keeps no
per-resource events, and leaves Outputs empty after ExecuteChangeSet. The CDK CLI relies on all
of these. This engine drives moto's resource models itself:

- resources are created in dependency order (``DependsOn`` plus ``Ref``/``Fn::GetAtt``/
  ``Fn::Sub`` references). Among resources that are ready at the same time, SES receipt rules go
  first and policies/permissions last: CloudFormation runs those in parallel, so on AWS a
  missing ``DependsOn`` fails by a race; here it fails every time;
- an update changes only resources whose resolved properties changed, replaces what must be
  replaced, and removes what left the template after everything else succeeded;
- a failure becomes ``CREATE_FAILED``/``UPDATE_FAILED`` with the reason, then a rollback
  (``ROLLBACK_COMPLETE`` / ``UPDATE_ROLLBACK_COMPLETE``); a failed delete is ``DELETE_FAILED``;
- every step is a stack event, so ``cdk deploy`` shows progress and the failing resource.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta
from importlib import resources
from typing import Any

from .cfn import CustomResource
from .moto_internals import CfnValidationError as ValidationError
from .moto_internals import CloudFormationModel, Event, Stack
from .moto_internals import cfn_parsing as parsing

log = logging.getLogger(__name__)

#: Created as early as their dependencies allow (rank 0) or as late (rank 2).
_EARLY_TYPES = {"AWS::SES::ReceiptRule"}
_LATE_TYPES = {
    "AWS::Lambda::Permission",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::TopicPolicy",
}
_PSEUDO_PREFIX = "AWS::"

#: The 22 commercial regions with SES email receiving (AWS General Reference, "Amazon SES
#: endpoints and quotas", email receiving endpoints), used when the construct library (whose
#: ``data/receiving_regions.json`` is the list to keep current) is not installed.
_FALLBACK_RECEIVING_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "il-central-1",
    "me-south-1",
    "af-south-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
)
_RECEIVING_TYPES = ("AWS::SES::ReceiptRuleSet", "AWS::SES::ReceiptRule", "AWS::SES::ReceiptFilter")


def receiving_regions() -> tuple[str, ...]:
    """The construct library's region list (its package data ``data/receiving_regions.json``,
    read without importing the CDK) when the library is installed, else the same list kept here
    (https://docs.aws.amazon.com/general/latest/gr/ses.html, email receiving endpoints)."""
    try:
        data = resources.files("ses_lambda_constructs").joinpath("data/receiving_regions.json")
        return tuple(json.loads(data.read_text(encoding="utf-8"))["regions"])
    except (ImportError, OSError, ValueError, KeyError):
        return _FALLBACK_RECEIVING_REGIONS


# --- template analysis -------------------------------------------------------------------


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                yield target
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                if isinstance(text, str):
                    for token in _sub_tokens(text):
                        yield token.split(".")[0]
                if isinstance(value, list) and len(value) > 1:
                    yield from _references(value[1])
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _sub_tokens(text: str) -> Iterator[str]:
    start = text.find("${")
    while start != -1:
        end = text.find("}", start)
        if end == -1:
            return
        token = text[start + 2 : end]
        if not token.startswith("!"):
            yield token
        start = text.find("${", end)


def dependencies(resources: dict[str, Any]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for logical_id, body in resources.items():
        depends = body.get("DependsOn") or []
        if isinstance(depends, str):
            depends = [depends]
        refs = set(depends) | set(_references(body.get("Properties") or {}))
        graph[logical_id] = {
            r
            for r in refs
            if r in resources and r != logical_id and not r.startswith(_PSEUDO_PREFIX)
        }
    return graph


def _ancestors(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Every resource's transitive dependencies."""
    result: dict[str, set[str]] = {}

    def visit(name: str, trail: frozenset[str]) -> set[str]:
        if name in result:
            return result[name]
        found: set[str] = set()
        for dependency in graph[name]:
            if dependency not in trail:
                found |= {dependency} | visit(dependency, trail | {name})
        result[name] = found
        return found

    for name in graph:
        visit(name, frozenset())
    return result


def creation_order(resources: dict[str, Any]) -> list[str]:
    """A dependency order that creates SES receipt rules as early as possible and policies and
    permissions as late as possible (the ones a waiting rule depends on before the others):
    whatever a rule does not declare it needs is not there yet when the rule is created."""
    graph = dependencies(resources)
    ancestors = _ancestors(graph)
    template_position = {name: i for i, name in enumerate(resources)}
    remaining = {name: set(deps) for name, deps in graph.items()}

    def kind(name: str) -> str:
        return str(resources[name].get("Type", ""))

    order: list[str] = []
    while remaining:
        ready = [name for name, deps in remaining.items() if not deps]
        if not ready:
            raise ValidationError(
                message=f"Circular dependency between resources: [{', '.join(sorted(remaining))}]"
            )
        needed_by_rules: set[str] = set()
        for name in remaining:
            if kind(name) in _EARLY_TYPES:
                needed_by_rules |= ancestors[name]

        def rank(name: str, needed: set[str] = needed_by_rules) -> tuple[int, int]:
            if kind(name) in _EARLY_TYPES:
                group = 0
            elif kind(name) not in _LATE_TYPES:
                group = 1
            else:
                group = 2 if name in needed else 3
            return group, template_position[name]

        chosen = min(ready, key=rank)
        order.append(chosen)
        del remaining[chosen]
        for deps in remaining.values():
            deps.discard(chosen)
    return order


def unsupported_resource_types(template: dict[str, Any], region: str) -> list[str]:
    """Types the local cloud cannot create, and SES receiving types outside receiving regions."""
    model_map = parsing.get_model_map()
    unknown: list[str] = []
    for body in (template.get("Resources") or {}).values():
        kind = body.get("Type", "")
        supported = kind in model_map or kind.startswith("Custom::") or kind in parsing.NULL_MODELS
        if kind in _RECEIVING_TYPES and region not in receiving_regions():
            supported = False
        if not supported and kind not in unknown:
            unknown.append(kind)
    return unknown


def validate_template(template: dict[str, Any], region: str) -> None:
    unknown = unsupported_resource_types(template, region)
    if unknown:
        raise ValidationError(
            message=f"Template format error: Unrecognized resource types: [{', '.join(unknown)}]"
        )


# --- the operation -----------------------------------------------------------------------


class Operation:
    """One create, update or delete of one stack, with its events."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.rm = stack.resource_map
        if not hasattr(stack, "_lc_resolved"):
            stack._lc_resolved = {}  # type: ignore[attr-defined]
        self.resolved: dict[str, Any] = stack._lc_resolved  # type: ignore[attr-defined]

    # events ---------------------------------------------------------------------------

    def event(
        self,
        logical_id: str,
        kind: str,
        status: str,
        reason: str | None = None,
        physical_id: str | None = None,
    ) -> None:
        event = Event(
            stack_id=self.stack.stack_id,
            stack_name=self.stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=physical_id or "",
            resource_type=kind,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
        self._append(event)
        if status.endswith("FAILED"):
            log.warning("%s %s %s: %s", self.stack.name, logical_id, status, reason)
        else:
            log.info("%s %s %s", self.stack.name, logical_id, status)

    def stack_event(self, status: str, reason: str | None = None) -> None:
        self.stack.status = status
        self.stack.status_reason = reason  # type: ignore[attr-defined]
        self.stack._add_stack_event(status, resource_status_reason=reason)
        self._append(self.stack.events.pop())

    def _append(self, event: Event) -> None:
        # Clients order events by their (millisecond) timestamps: keep them strictly apart.
        if self.stack.events:
            earliest = self.stack.events[-1].timestamp + timedelta(milliseconds=1)
            event.timestamp = max(event.timestamp, earliest)
        self.stack.events.append(event)

    # resource primitives --------------------------------------------------------------

    @property
    def account(self) -> str:
        return str(self.rm._account_id)

    @property
    def region(self) -> str:
        return str(self.rm._region_name)

    def _with_context(self, logical_id: str, kind: str) -> None:
        CustomResource.context = {
            "StackId": self.stack.stack_id,
            "LogicalId": logical_id,
            "ResourceType": kind,
        }

    def resolve(self, logical_id: str, body: dict[str, Any]) -> Any:
        return parsing.clean_json(copy.deepcopy(body.get("Properties") or {}), self.rm)

    def create(self, logical_id: str, body: dict[str, Any]) -> Any:
        kind = body["Type"]
        self._with_context(logical_id, kind)
        resolved = self.resolve(logical_id, body)
        resource = parsing.parse_and_create_resource(
            logical_id, copy.deepcopy(body), self.rm, self.account, self.region
        )
        if resource is not None:
            resource.cf_resource_type = kind
            resource.logical_resource_id = logical_id
            self.rm._parsed_resources[logical_id] = resource
        self.resolved[logical_id] = resolved
        return resource

    def update(self, logical_id: str, body: dict[str, Any], original: Any) -> Any:
        kind = body["Type"]
        self._with_context(logical_id, kind)
        resolved = self.resolve(logical_id, body)
        model = parsing.resource_class_from_type(kind)
        if hasattr(model.update_from_cloudformation_json, "__isabstractmethod__"):
            # Moto has no in-place update for this type: replace it.
            self.delete_resource(original, body)
            self.rm._parsed_resources.pop(logical_id, None)
            return self.create(logical_id, body)
        updated = parsing.parse_and_update_resource(
            logical_id, copy.deepcopy(body), self.rm, self.account, self.region
        )
        if updated is None:
            updated = original
        updated.cf_resource_type = kind
        updated.logical_resource_id = logical_id
        self.rm._parsed_resources[logical_id] = updated
        self.resolved[logical_id] = resolved
        return updated

    def delete_resource(self, resource: Any, body: dict[str, Any]) -> None:
        self._with_context(getattr(resource, "logical_resource_id", ""), body.get("Type", ""))
        delete = getattr(resource, "delete", None)
        if callable(delete):
            try:
                delete(self.account, self.region)
                return
            except TypeError:
                pass  # a delete() with another signature: use the class method instead
        model = parsing.resource_class_from_type(body["Type"])
        if model is None or hasattr(model.delete_from_cloudformation_json, "__isabstractmethod__"):
            return
        name = str(getattr(resource, "physical_resource_id", "") or "")
        model.delete_from_cloudformation_json(name, body, self.account, self.region)

    # the operations -------------------------------------------------------------------

    def _load_template(self, template: dict[str, Any], parameters: dict[str, Any] | None) -> None:
        rm = self.rm
        rm._template = template
        rm._resource_json_map = template.get("Resources") or {}
        if parameters is not None:
            rm.input_parameters = parameters
        rm.resolved_parameters = {}
        rm.load_mapping()
        rm.transform_mapping()
        rm.load_parameters()
        rm.load_conditions()

    def _wanted(self, resources: dict[str, Any]) -> dict[str, Any]:
        wanted = {}
        for name, body in resources.items():
            condition = body.get("Condition")
            if condition and not self.rm.lazy_condition_map[condition]:
                continue
            wanted[name] = body
        return wanted

    def apply(
        self, template: dict[str, Any], parameters: dict[str, Any] | None, *, creating: bool
    ) -> bool:
        """Create or update the stack to ``template``; returns True on success."""
        verb = "CREATE" if creating else "UPDATE"
        old_template = copy.deepcopy(self.rm._template) if not creating else {}
        old_parameters = dict(self.rm.input_parameters or {})
        old_resources = {} if creating else dict(self.rm._resource_json_map)
        old_objects = (
            {}
            if creating
            else {
                name: self.rm._parsed_resources[name]
                for name in old_resources
                if self.rm._parsed_resources.get(name) is not None
            }
        )
        old_resolved = dict(self.resolved)
        self.stack_event(f"{verb}_IN_PROGRESS", "User Initiated")
        added: list[str] = []
        changed: list[str] = []
        replaced: list[tuple[Any, dict[str, Any]]] = []
        try:
            self._load_template(template, parameters)
            wanted = self._wanted(template.get("Resources") or {})
            for logical_id in creation_order(wanted):
                body = wanted[logical_id]
                kind = body["Type"]
                original = old_objects.get(logical_id)
                if original is not None and old_resources[logical_id]["Type"] != kind:
                    replaced.append((original, old_resources[logical_id]))
                    original = None
                if original is None:
                    self.event(logical_id, kind, "CREATE_IN_PROGRESS")
                    try:
                        resource = self.create(logical_id, body)
                    except Exception as exc:
                        self.event(logical_id, kind, "CREATE_FAILED", _reason(exc))
                        raise
                    added.append(logical_id)
                    self.event(
                        logical_id, kind, "CREATE_COMPLETE", physical_id=_physical_id(resource)
                    )
                    continue
                if self.resolve(logical_id, body) == old_resolved.get(logical_id) and (
                    body.get("Metadata") == old_resources[logical_id].get("Metadata")
                ):
                    continue
                self.event(
                    logical_id, kind, "UPDATE_IN_PROGRESS", physical_id=_physical_id(original)
                )
                try:
                    resource = self.update(logical_id, body, original)
                except Exception as exc:
                    self.event(logical_id, kind, "UPDATE_FAILED", _reason(exc))
                    raise
                changed.append(logical_id)
                previous = getattr(resource, "_lc_replaces", None)
                if previous is not None:
                    resource._lc_replaces = None
                    replaced.append((previous, old_resources[logical_id]))
                self.event(logical_id, kind, "UPDATE_COMPLETE", physical_id=_physical_id(resource))
        except Exception as exc:
            log.debug("stack operation failed", exc_info=True)
            self._roll_back(
                creating,
                exc,
                added,
                changed,
                old_template,
                old_parameters,
                old_resources,
                old_objects,
            )
            return False

        removed = [name for name in reversed(creation_order(old_resources)) if name not in wanted]
        if not creating:
            self.stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        for previous, body in replaced:
            self._delete_quietly(
                getattr(previous, "logical_resource_id", "?"), previous, body, replaced=True
            )
        for logical_id in removed:
            obj = old_objects.get(logical_id)
            self.rm._parsed_resources.pop(logical_id, None)
            self.resolved.pop(logical_id, None)
            if obj is not None:
                self._delete_quietly(logical_id, obj, old_resources[logical_id])
        self.stack_event(f"{verb}_COMPLETE")
        return True

    def _delete_quietly(
        self, logical_id: str, obj: Any, body: dict[str, Any], *, replaced: bool = False
    ) -> bool:
        """Delete during cleanup or rollback: failures are events, not errors.

        A resource replaced by an update keeps to its ``UpdateReplacePolicy``, any other to its
        ``DeletionPolicy`` (CloudFormation User Guide, "UpdateReplacePolicy attribute" and
        "DeletionPolicy attribute").
        """
        kind = body.get("Type", "")
        policy = body.get("UpdateReplacePolicy" if replaced else "DeletionPolicy")
        if policy in ("Retain", "RetainExceptOnCreate"):
            self.event(logical_id, kind, "DELETE_SKIPPED", physical_id=_physical_id(obj))
            return True
        self.event(logical_id, kind, "DELETE_IN_PROGRESS", physical_id=_physical_id(obj))
        try:
            self.delete_resource(obj, body)
        except Exception as exc:
            self.event(logical_id, kind, "DELETE_FAILED", _reason(exc), _physical_id(obj))
            return False
        self.event(logical_id, kind, "DELETE_COMPLETE", physical_id=_physical_id(obj))
        return True

    def _roll_back(
        self,
        creating: bool,
        error: Exception,
        added: list[str],
        changed: list[str],
        old_template: dict[str, Any],
        old_parameters: dict[str, Any],
        old_resources: dict[str, Any],
        old_objects: dict[str, Any],
    ) -> None:
        failed = _failed_resource(self.stack.events)
        prefix = "" if creating else "UPDATE_"
        self.stack_event(
            f"{prefix}ROLLBACK_IN_PROGRESS",
            f"The following resource(s) failed to {'create' if creating else 'update'}: "
            f"[{failed}]. Rollback requested by user.",
        )
        new_resources = dict(self.rm._resource_json_map)
        for logical_id in reversed(added):
            obj = self.rm._parsed_resources.pop(logical_id, None)
            self.resolved.pop(logical_id, None)
            if obj is not None:
                # Resources created by the failed operation go, whatever their DeletionPolicy.
                self._delete_quietly(logical_id, obj, {"Type": new_resources[logical_id]["Type"]})
        if not creating:
            self._load_template(old_template, old_parameters)
            for logical_id in reversed(changed):
                body = old_resources[logical_id]
                current = self.rm._parsed_resources.get(logical_id)
                try:
                    self.update(logical_id, body, current)
                    self.event(
                        logical_id,
                        body["Type"],
                        "UPDATE_COMPLETE",
                        physical_id=_physical_id(self.rm._parsed_resources[logical_id]),
                    )
                except Exception as exc:
                    self.event(logical_id, body["Type"], "UPDATE_FAILED", _reason(exc))
            for logical_id, obj in old_objects.items():
                self.rm._parsed_resources.setdefault(logical_id, obj)
        final = "ROLLBACK_COMPLETE" if creating else "UPDATE_ROLLBACK_COMPLETE"
        self.stack_event(final, _reason(error))

    def delete(self) -> bool:
        self.stack_event("DELETE_IN_PROGRESS", "User Initiated")
        resources = dict(self.rm._resource_json_map)
        ok = True
        for logical_id in reversed(creation_order(resources)):
            obj = self.rm._parsed_resources.get(logical_id)
            if obj is None or isinstance(obj, (str, dict, list)):
                continue
            if self._delete_quietly(logical_id, obj, resources[logical_id]):
                self.rm._parsed_resources.pop(logical_id, None)
                self.resolved.pop(logical_id, None)
            else:
                ok = False
        if ok:
            self.stack_event("DELETE_COMPLETE")
        else:
            self.stack_event(
                "DELETE_FAILED",
                "The following resource(s) failed to delete: "
                f"[{', '.join(_failed_deletes(self.stack.events))}].",
            )
        return ok


def _physical_id(resource: Any) -> str:
    return str(getattr(resource, "physical_resource_id", "") or "")


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code not in message:
        return f"{message} (Service error code: {code})"
    if isinstance(exc, (KeyError, TypeError, AttributeError, IndexError, ValueError)):
        # Not a service error: most likely a property the local model does not handle.
        return f"local cloud could not handle this resource: {type(exc).__name__}: {exc}"
    return str(message)


def _failed_resource(events: Iterable[Event]) -> str:
    for event in reversed(list(events)):
        if event.resource_status.endswith("_FAILED"):
            return str(event.logical_resource_id)
    return "?"


def _failed_deletes(events: Iterable[Event]) -> list[str]:
    names: list[str] = []
    for event in reversed(list(events)):
        if event.resource_status == "DELETE_IN_PROGRESS" and event.resource_type.startswith(
            "AWS::CloudFormation::Stack"
        ):
            break
        if event.resource_status == "DELETE_FAILED" and event.logical_resource_id not in names:
            names.append(event.logical_resource_id)
    return names


def existing_resources(stack: Stack) -> list[CloudFormationModel]:
    """The stack's created resources, without moto's lazy creation of the rest."""
    rm = stack.resource_map
    return [
        obj
        for name, obj in rm._parsed_resources.items()
        if name in rm._resource_json_map
        and obj is not None
        and not isinstance(obj, (str, dict, list, int, float))
    ]

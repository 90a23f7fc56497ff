"""What every CloudFormation model of the local cloud shares: a physical id, no attributes unless
declared, replacement by default, and the failure a stack event reports."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from ..moto_internals import CloudFormationModel, UnformattedGetAttTemplateException

_Model = TypeVar("_Model")


class ResourceFailed(Exception):
    """A resource could not be created, updated or deleted; the message is the stack event's."""


def properties(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return dict(cloudformation_json.get("Properties") or {})


def replacing(original: Any, new: _Model) -> _Model:
    """Mark ``new`` as replacing ``original``: the engine deletes the original in cleanup,
    after every other resource was created or updated (CloudFormation's order)."""
    new._lc_replaces = original  # type: ignore[attr-defined]
    return new


def generated_name(generated: str) -> str:
    """CloudFormation's generated names, cut to SES's 64 characters and allowed alphabet."""
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in generated)
    return cleaned[-64:].strip("-_.") or "rule"


class LocalModel(CloudFormationModel):
    """Shared plumbing: a physical id, no attributes unless declared, always created."""

    ATTRIBUTES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, physical_id: str, account_id: str, region_name: str, props: dict[str, Any]):
        self._physical_id = physical_id
        self.account_id = account_id
        self.region_name = region_name
        self.props = props

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    #: The resource type the model implements (the CloudFormation resource reference's
    #: ``Type``), and the property that names a resource of it, "" when the type has none.
    RESOURCE_TYPE: ClassVar[str] = CloudFormationModel.cloudformation_type()
    NAME_PROPERTY: ClassVar[str] = ""

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.RESOURCE_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        # Default: replacement. Subclasses that can update in place override this.
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        """Unused: the engine deletes through ``delete`` on the instance."""

    def delete(self, account_id: str, region_name: str) -> None:
        """Nothing to remove by default."""

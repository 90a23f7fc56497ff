"""``AWS::SecretsManager::Secret`` on moto's Secrets Manager backend.

What the model does, as the CloudFormation resource reference page "AWS::SecretsManager::Secret"
documents it:

- the value is ``SecretString`` as given, or a string generated from ``GenerateSecretString``
  (its properties as in the property page "AWS::SecretsManager::Secret GenerateSecretString"
  and the Secrets Manager API reference, "GetRandomPassword": ``PasswordLength`` 1 to 4,096,
  default 32; ``ExcludeCharacters``; ``ExcludeLowercase``/``ExcludeUppercase``/
  ``ExcludeNumbers``/``ExcludePunctuation``; ``IncludeSpace``; ``RequireEachIncludedType``,
  default true; with ``SecretStringTemplate`` the generated string is added to that JSON object
  under ``GenerateStringKey``). Both at once is an error; neither makes a secret with no value;
- ``KmsKeyId`` is the key that encrypts the value (default: the AWS managed key
  ``aws/secretsmanager``); ``Name``, or a generated name (moto's CloudFormation names:
  ``<stack>-<logical id>-<suffix>``);
- ``Ref`` and ``Fn::GetAtt Id`` return the secret's ARN;
- an update changing ``Name`` replaces the secret; any other change updates it in place, and a
  changed ``SecretString`` or ``GenerateSecretString`` writes a new version (the page: "When
  you make a change to this property, a new secret version is created");
- delete removes the secret. ``DeletionPolicy``/``UpdateReplacePolicy`` ``Retain`` keep it (the
  stack engine skips the delete). The page does not say whether CloudFormation deletes with a
  recovery window; the local cloud removes the secret at once, so a stack deployed again can
  reuse the name.
"""

from __future__ import annotations

import json
import string
from typing import Any

from ..moto_internals import kms_backends, random_password, secretsmanager_backends
from .base import LocalModel, ResourceFailed, properties, replacing

#: GetRandomPassword's bounds and default (Secrets Manager API reference, "GetRandomPassword").
MAX_PASSWORD_LENGTH = 4096
DEFAULT_PASSWORD_LENGTH = 32
#: The characters GetRandomPassword draws punctuation from (its ``ExcludePunctuation``
#: lists them: ``! " # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \\ ] ^ _ ` { | } ~``).
PUNCTUATION = string.punctuation
#: Secrets Manager's own key when ``KmsKeyId`` is not given.
AWS_MANAGED_KEY = "alias/aws/secretsmanager"


def _backend(account_id: str, region_name: str) -> Any:
    return secretsmanager_backends[account_id][region_name]


def _flag(spec: dict[str, Any], name: str, default: bool) -> bool:
    value = spec.get(name, default)
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise ResourceFailed(f"GenerateSecretString.{name} must be true or false; got {value!r}")


def generate_value(spec: dict[str, Any]) -> str:
    """The string ``GenerateSecretString`` asks for (raises ``ResourceFailed`` naming the
    property for values the service refuses)."""
    raw_length = spec.get("PasswordLength", DEFAULT_PASSWORD_LENGTH)
    try:
        length = int(raw_length)
    except (TypeError, ValueError):
        length = 0
    if not 1 <= length <= MAX_PASSWORD_LENGTH or isinstance(raw_length, bool):
        raise ResourceFailed(
            f"GenerateSecretString.PasswordLength must be 1 to {MAX_PASSWORD_LENGTH}; "
            f"got {raw_length!r}"
        )
    exclude = str(spec.get("ExcludeCharacters") or "")
    flags = {
        name: _flag(spec, name, default)
        for name, default in (
            ("ExcludeLowercase", False),
            ("ExcludeUppercase", False),
            ("ExcludeNumbers", False),
            ("ExcludePunctuation", False),
            ("IncludeSpace", False),
            ("RequireEachIncludedType", True),
        )
    }
    classes = [
        chars
        for chars, excluded in (
            (string.ascii_lowercase, flags["ExcludeLowercase"]),
            (string.ascii_uppercase, flags["ExcludeUppercase"]),
            (string.digits, flags["ExcludeNumbers"]),
            (PUNCTUATION, flags["ExcludePunctuation"]),
            (" ", not flags["IncludeSpace"]),
        )
        if not excluded
    ]
    usable = [[c for c in chars if c not in exclude] for chars in classes]
    if not any(usable) or (flags["RequireEachIncludedType"] and not all(usable)):
        raise ResourceFailed(
            "GenerateSecretString leaves no character to use for a required type: "
            f"ExcludeCharacters {exclude!r} with {json.dumps(spec, sort_keys=True)}"
        )
    if flags["RequireEachIncludedType"] and length < len(usable):
        raise ResourceFailed(
            f"GenerateSecretString.PasswordLength {length} is too short for the "
            f"{len(usable)} character types RequireEachIncludedType asks for"
        )
    generated = str(
        random_password(
            length,
            exclude,
            flags["ExcludeNumbers"],
            flags["ExcludePunctuation"],
            flags["ExcludeUppercase"],
            flags["ExcludeLowercase"],
            flags["IncludeSpace"],
            flags["RequireEachIncludedType"],
        )
    )
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if template is None and key is None:
        return generated
    if template is None or key is None:
        raise ResourceFailed(
            "GenerateSecretString.SecretStringTemplate and GenerateStringKey go together "
            f"(the generated string is added to the template under the key); got template "
            f"{template!r}, key {key!r}"
        )
    try:
        document = json.loads(str(template))
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ResourceFailed(
            f"GenerateSecretString.SecretStringTemplate must be a JSON object; got {template!r}"
        )
    document[str(key)] = generated
    return json.dumps(document)


def _value(props: dict[str, Any]) -> str | None:
    if "SecretString" in props and "GenerateSecretString" in props:
        raise ResourceFailed(
            "give SecretString or GenerateSecretString, not both (AWS::SecretsManager::Secret)"
        )
    if "SecretString" in props:
        return str(props["SecretString"])
    if "GenerateSecretString" in props:
        spec = props["GenerateSecretString"]
        if not isinstance(spec, dict):
            raise ResourceFailed(f"GenerateSecretString must be an object; got {spec!r}")
        return generate_value(spec)
    return None


def _check_key(key_id: str | None, account_id: str, region_name: str) -> None:
    if not key_id or key_id == AWS_MANAGED_KEY:
        return
    backend = kms_backends[account_id][region_name]
    try:
        found = backend.keys.get(backend.any_id_to_key_id(key_id))
    except Exception:
        found = None
    if found is None:
        raise ResourceFailed(f"KmsKeyId {key_id!r} names no KMS key in {region_name}")


class Secret(LocalModel):
    ATTRIBUTES = ("Id",)
    RESOURCE_TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"

    @property
    def arn(self) -> str:
        return self.physical_resource_id

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Secret:
        props = properties(cloudformation_json)
        name = str(props.get("Name") or resource_name)
        value = _value(props)
        _check_key(props.get("KmsKeyId"), account_id, region_name)
        backend = _backend(account_id, region_name)
        if name in backend.secrets:
            raise ResourceFailed(f"The operation failed because the secret {name} already exists.")
        backend.create_secret(
            name=name,
            secret_string=value,
            secret_binary=None,
            description=props.get("Description"),
            tags=props.get("Tags") or None,
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        arn = str(backend.secrets[name].arn)
        return cls(arn, account_id, region_name, props)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Secret,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Secret:
        props = properties(cloudformation_json)
        old = original_resource.props
        if props.get("Name") != old.get("Name"):
            # Name: "Update requires: Replacement". The new secret first, the old one in cleanup.
            return replacing(
                original_resource,
                cls.create_from_cloudformation_json(
                    new_resource_name, cloudformation_json, account_id, region_name
                ),
            )
        _check_key(props.get("KmsKeyId"), account_id, region_name)
        backend = _backend(account_id, region_name)
        secret = backend.secrets[original_resource.arn]
        value_changed = any(
            props.get(name) != old.get(name) for name in ("SecretString", "GenerateSecretString")
        )
        value = _value(props) if value_changed else None
        if value is not None:
            backend.put_secret_value(
                secret_id=original_resource.arn,
                secret_string=value,
                secret_binary=None,
                client_request_token=None,
                version_stages=["AWSCURRENT"],
            )
        # The metadata last: moto's new version keeps the old metadata.
        secret.description = props.get("Description")
        secret.kms_key_id = props.get("KmsKeyId")
        secret.tags = props.get("Tags") or None
        original_resource.props = props
        return original_resource

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Id":
            return self.arn
        return super().get_cfn_attribute(attribute_name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if self.arn in backend.secrets:
            backend.delete_secret(self.arn, None, True)

"""Conversations: the keys of signed reply addresses, and the permission to send replies.

- :class:`ReplyAddressKeys`: a Secrets Manager secret ``{"current": "<base64>"}`` generated at
  deployment (44 characters from the base64 alphabet: 33 bytes, 264 bits). To rotate, write
  ``{"current": "<new>", "previous": "<old>"}``: new addresses are minted with the new key and
  replies to the old ones still verify (``ses_mail.reply_addresses``). The reference handler
  reads it again within five minutes.
- :func:`grant_send_from`: ``ses:SendEmail`` (SES v2) on the receiving identities
  only, with a ``ses:FromAddress`` condition listing the receiving addresses and their
  ``+label`` forms (the signed reply addresses), so a reply function cannot send as anyone else
  (https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html, "Specifying conditions";
  Service Authorization Reference, "Condition keys for Amazon SES": ``ses:FromAddress``).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from ._bundled import contract
from .acknowledgments import acknowledge
from .forwarding import SEND_ACTIONS, from_address_patterns, identity_for
from .limits import ValidationError

#: The handler's environment variable naming the secret.
REPLY_ADDRESS_SECRET_VARIABLE: str = contract().ENV_REPLY_ADDRESS_SECRET_ARN
#: 44 base64 characters decode to 33 bytes (the keys must have at least 32).
GENERATED_KEY_LENGTH = 44


class ReplyAddressKeys(Construct):
    """The secret holding the keys of the signed reply addresses (see the module docstring)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        secret: secretsmanager.ISecret | None = None,
        encryption_key: kms.IKey | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """
        :param secret: a secret of your own holding ``{"current": "<base64 key of 32 bytes or
            more>", "previous": ...}``. Default: a new secret with a generated key.
        :param encryption_key: customer managed key of a new secret. Default: the AWS managed
            key of Secrets Manager.
        :param removal_policy: of a new secret. Default: ``RETAIN`` (deleting the keys makes
            every reply address ever minted unverifiable).
        """
        super().__init__(scope, id)
        if secret is not None and encryption_key is not None:
            raise ValidationError(
                "give secret or encryption_key, not both: encryption_key is for a new secret"
            )
        if secret is None:
            own = secretsmanager.Secret(
                self,
                "Resource",
                description="Keys of the signed reply addresses (ses-lambda-constructs)",
                encryption_key=encryption_key,
                removal_policy=removal_policy,
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template="{}",
                    generate_string_key="current",
                    password_length=GENERATED_KEY_LENGTH,
                    exclude_punctuation=True,
                    include_space=False,
                ),
            )
            acknowledge(
                own,
                "AwsSolutions-SMG4",
                "Rotation moves the current key to previous and writes a new one; a rotation "
                "function is the user's choice (replies to old addresses verify meanwhile).",
            )
            secret = own
        #: The secret (``SecretString`` JSON with ``current`` and optionally ``previous``).
        self.secret: secretsmanager.ISecret = secret

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """``secretsmanager:GetSecretValue`` (and ``kms:Decrypt``) on this secret only."""
        return self.secret.grant_read(grantee)


def grant_send_from(
    grantee: iam.IGrantable,
    *,
    scope: Construct,
    recipients: Sequence[str],
    domains: Sequence[str],
) -> iam.Grant:
    """Allow sending from ``recipients`` (and their ``+label`` forms) through the identities
    that cover them, nothing else."""
    if not recipients:
        raise ValidationError("grant_send_replies needs at least one route with recipients")
    stack = Stack.of(scope)
    identities = dict.fromkeys(identity_for(recipient, domains) for recipient in recipients)
    arns = [
        stack.format_arn(
            service="ses",
            resource="identity",
            resource_name=name,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        for name in identities
    ]
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=list(SEND_ACTIONS),
        resource_arns=arns,
        conditions={"StringLike": {"ses:FromAddress": from_address_patterns(recipients, None)}},
    )

"""This project's extensions to moto (pinned 5.2.x). Importing this package changes nothing in
moto: ``install()`` applies the extensions, once per process (a second call does nothing).

``LocalCloud.start`` calls ``install()``; so does anything else that runs moto in this process and
needs the local cloud's behaviour (a test with ``mock_aws``, a benchmark). The modules:

- ``moto_internals``: every moto name the local cloud uses, behind one adapter (the version
  check too): the one file to read on a moto upgrade;
- ``cfn``: CloudFormation types moto lacks, one module per service (SES receiving, S3 bucket
  policy, CDK metadata, Lambda permission/event-invoke config, SQS/SNS policies, alarms, custom
  resources). A new model is registered by adding its class to ``cfn.LOCAL_MODELS``;
  ``install()`` hands that registry to moto's template parser (``patches.cloudformation``), so
  the model takes part wherever the extensions are installed, and nowhere else;
- ``cfn_engine``: stack create/update/delete in dependency order, with events and rollback;
- ``ses_checks``: the bucket-policy and function-policy checks SES makes on rule creation;
- ``patches``: corrections of moto behaviours that break the CDK CLI, one module per area, each
  commented; each module's ``apply()`` replaces moto attributes through ``patches.patching``.
"""

from __future__ import annotations

from .moto_internals import SUPPORTED_MOTO


def install() -> None:
    """Apply every extension to moto in this process; idempotent."""
    # Imported here, not at the top: the patch modules pull in the Lambda runner, the receiver's
    # outbox and the EventBridge delivery, which a client command never needs.
    from . import patches

    patches.apply()


def installed() -> bool:
    """Whether ``install()`` has run in this process."""
    from . import patches

    return patches.applied()


__all__ = ["SUPPORTED_MOTO", "install", "installed"]

"""This project's extensions to moto (pinned 5.2.x), applied when this package is imported.

- ``moto_internals``: every moto name the local cloud uses, behind one adapter (the version
  check too): the one file to read on a moto upgrade;
- ``cfn``: CloudFormation types moto lacks, one module per service (SES receiving, S3 bucket
  policy, CDK metadata, Lambda permission/event-invoke config, SQS/SNS policies, alarms, custom
  resources);
- ``cfn_engine``: stack create/update/delete in dependency order, with events and rollback;
- ``ses_checks``: the bucket-policy and function-policy checks SES makes on rule creation;
- ``patches``: corrections of moto behaviours that break the CDK CLI, one module per area, each
  commented.
"""

from __future__ import annotations

from . import moto_internals, patches
from .moto_internals import SUPPORTED_MOTO

patches.apply()

__all__ = ["SUPPORTED_MOTO", "moto_internals", "patches"]

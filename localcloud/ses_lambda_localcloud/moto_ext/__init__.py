"""This project's extensions to moto (pinned 5.2.x), applied when this package is imported.

- ``cfn_models``: CloudFormation types moto lacks (SES receiving, S3 bucket policy, CDK metadata,
  Lambda permission/event-invoke config, SQS/SNS policies, alarms, custom resources);
- ``cfn_engine``: stack create/update/delete in dependency order, with events and rollback;
- ``ses_checks``: the bucket-policy and function-policy checks SES makes on rule creation;
- ``patches``: corrections of moto behaviours that break the CDK CLI, each commented.
"""

from __future__ import annotations

import moto

from . import patches

SUPPORTED_MOTO = "5.2."

if not moto.__version__.startswith(SUPPORTED_MOTO):  # the patches follow moto's internals
    raise ImportError(
        f"the local cloud needs moto {SUPPORTED_MOTO}x (pinned in the 'local' extra); "
        f"found {moto.__version__}"
    )

patches.apply()

__all__ = ["patches"]

"""Snapshot of the demo stack: a regression net, updated on purpose with --snapshot-update."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Template
from syrupy.extensions.json import JSONSnapshotExtension

_ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def neutralise(template: dict[str, Any]) -> dict[str, Any]:
    """Replace asset hashes, which change with every edit of the handler's code."""
    return json.loads(_ASSET_HASH.sub("ASSET_HASH", json.dumps(template)))


@pytest.fixture
def snapshot_json(snapshot: Any) -> Any:
    return snapshot.use_extension(JSONSnapshotExtension)


def test_demo_stack_matches_snapshot(demo_template: Template, snapshot_json: Any) -> None:
    assert neutralise(demo_template.to_json()) == snapshot_json

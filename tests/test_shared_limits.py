"""A documented AWS limit that the library, the reference handler and the local cloud each need
has one value: where it cannot live in one file all three read, these tests hold the copies
together (docs/ses-facts.md states each value and its source)."""

from __future__ import annotations

import json
from importlib import resources

from ses_lambda_constructs import limits
from ses_lambda_localcloud import runtime
from ses_lambda_localcloud.moto_ext import cfn_engine, ses_checks
from ses_lambda_localcloud.moto_ext.patches import ses_sending
from tests.handler import handler_support  # noqa: F401  (puts lambda_src on sys.path)

from ses_mail import event_detail, forwarding, mime  # isort: skip


def regions_file() -> dict[str, list[str]]:
    raw = resources.files("ses_lambda_constructs").joinpath("data/receiving_regions.json")
    data: dict[str, list[str]] = json.loads(raw.read_text(encoding="utf-8"))
    return data


def test_the_local_cloud_reads_the_library_region_list_and_its_fallback_is_the_same() -> None:
    assert set(cfn_engine.receiving_regions()) == set(regions_file()["regions"])
    assert set(cfn_engine._FALLBACK_RECEIVING_REGIONS) == set(regions_file()["regions"])
    assert len(regions_file()["regions"]) == 22
    assert set(regions_file()["optIn"]) <= set(regions_file()["regions"])


def test_recipients_per_rule_is_500_in_the_library_and_the_local_cloud() -> None:
    assert limits.MAX_RECIPIENTS_PER_RULE == ses_checks.MAX_RECIPIENTS_PER_RULE == 500


def test_the_received_message_limit_is_one_number() -> None:
    # "40 MB" of the S3 action, read as 40 MiB (docs/ses-facts.md, "S3 action").
    assert (
        limits.MAX_MESSAGE_BYTES
        == mime.DEFAULT_MAX_MESSAGE_BYTES
        == runtime.MAX_MESSAGE_BYTES
        == 40 * 1024 * 1024
    )


def test_the_sending_limit_is_one_number() -> None:
    # "40 MB per message (after base64 encoding)" of SES v2, read as 40,000,000 bytes
    # (docs/ses-facts.md, "Sending (the forwarder)").
    assert forwarding.MAX_SEND_BASE64_BYTES == ses_sending.MAX_BASE64_BYTES == 40_000_000


def test_the_eventbridge_entry_budget_is_below_1_mb_under_either_reading() -> None:
    assert event_detail.EVENTBRIDGE_ENTRY_LIMIT_BYTES == 1_000_000
    assert event_detail.MAX_ENTRY_BYTES < 1_000_000 < 1024 * 1024

"""Values the constructs, the reference functions and the local cloud must agree on.

Each is written once, in ``lambda_src/ses_mail/contract.py``: the functions import it, the
constructs load the same file from the source they bundle. These tests check that every copy the
code keeps under its historical name reads the contract (no second spelling of a value), that
both sides hold the same value, and that the local cloud, which runs without the library and so
keeps copies of the limits and of the receiving regions, holds them equal (docs/ses-facts.md
states each limit and its source; docs/architecture.md, "Shared constants", how to change one).
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import re
import tomllib
import typing
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ses_lambda_constructs import (
    _bundled,
    conversations,
    event_patterns,
    forwarding,
    limits,
    receiver,
    reference_handler,
    storage,
)
from ses_lambda_localcloud import runtime
from ses_lambda_localcloud.eventbridge import patterns
from ses_lambda_localcloud.moto_ext import cfn_engine, ses_checks
from ses_lambda_localcloud.moto_ext.patches import ses_sending
from tests.handler import handler_support

from ses_mail import RawLocation, UnparseableMessageError, build_document, parse_event  # isort: skip
from ses_mail.mime import parse_message  # isort: skip
from ses_mail import (  # isort: skip
    config as handler_config,
    contract as lambda_contract,
    document,
    event_detail,
    forwarding as lambda_forwarding,
    kinds,
    metric_names,
    mime,
    reader,
)

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_FILE = ROOT / "lambda_src" / "ses_mail" / "contract.py"
METRIC_NAMES_FILE = ROOT / "lambda_src" / "ses_mail" / "metric_names.py"
C = lambda_contract

#: Every constant kept under its own name in a module, and the contract value it must read.
#: (module, attribute, contract attribute)
COPIES: list[tuple[ModuleType, str, str]] = [
    # the constructs
    (event_patterns, "DEFAULT_EVENT_SOURCE", "EVENT_SOURCE"),
    (event_patterns, "MAX_EVENT_SOURCE_LENGTH", "MAX_EVENT_SOURCE_LENGTH"),
    (limits, "MAX_MESSAGE_BYTES", "MAX_MESSAGE_BYTES"),
    (limits, "MAX_RULES_PER_RULE_SET", "MAX_RULES_PER_RULE_SET"),
    (limits, "MAX_ACTIONS_PER_RULE", "MAX_ACTIONS_PER_RULE"),
    (limits, "MAX_RECIPIENTS_PER_RULE", "MAX_RECIPIENTS_PER_RULE"),
    (forwarding, "DEFAULT_FORWARD_PREFIX", "FORWARD_PREFIX"),
    (forwarding, "DEFAULT_MAX_HOPS", "DEFAULT_MAX_HOPS"),
    (conversations, "REPLY_ADDRESS_SECRET_VARIABLE", "ENV_REPLY_ADDRESS_SECRET_ARN"),
    # the functions
    (event_detail, "DEFAULT_EVENT_SOURCE", "EVENT_SOURCE"),
    (event_detail, "MAX_SOURCE_LENGTH", "MAX_EVENT_SOURCE_LENGTH"),
    (event_detail, "DETAIL_TYPES", "DETAIL_TYPE_OF_STATUS"),
    (reader, "DETAIL_TYPE_OF_STATUS", "DETAIL_TYPE_OF_STATUS"),
    (mime, "DEFAULT_MAX_MESSAGE_BYTES", "MAX_MESSAGE_BYTES"),
    (lambda_forwarding, "MAX_SEND_BASE64_BYTES", "MAX_SEND_BASE64_BYTES"),
    (lambda_forwarding, "DEFAULT_MAX_HOPS", "DEFAULT_MAX_HOPS"),
    (lambda_forwarding, "DEFAULT_FORWARD_PREFIX", "FORWARD_PREFIX"),
    (document, "STATUS_PROCESSED", "STATUS_PROCESSED"),
    (document, "STATUS_REJECTED", "STATUS_REJECTED"),
    (document, "STATUS_TOO_LARGE", "STATUS_TOO_LARGE"),
    (document, "STATUS_UNPARSEABLE", "STATUS_UNPARSEABLE"),
    (kinds, "PERSON", "KIND_PERSON"),
    (kinds, "AUTO_REPLY", "KIND_AUTO_REPLY"),
    (kinds, "AUTO_GENERATED", "KIND_AUTO_GENERATED"),
    (kinds, "DELIVERY_STATUS", "KIND_DELIVERY_STATUS"),
    (kinds, "FEEDBACK_REPORT", "KIND_FEEDBACK_REPORT"),
    (kinds, "LIST", "KIND_LIST"),
]

#: String values that must be spelled in one file only (docstrings excepted): the contract, or
#: for the functions' default service names and metric namespace, ``metric_names.py``.
SPELLED_ONCE: dict[str, Path] = {
    **{
        value: CONTRACT_FILE
        for value in (
            C.EVENT_SOURCE,
            *C.DETAIL_TYPE_OF_STATUS.values(),
            C.RAW_PREFIX,
            C.PARSED_PREFIX,
            C.FORWARD_PREFIX,
        )
    },
    **{
        value: METRIC_NAMES_FILE
        for value in (
            metric_names.NAMESPACE,
            metric_names.HANDLER_SERVICE,
            metric_names.FORWARDER_SERVICE,
            metric_names.GATE_SERVICE,
        )
    },
}
#: The same text meaning something else: the bundle cache's folder is named after the library.
UNRELATED = {("ses_lambda_constructs/bundling.py", C.EVENT_SOURCE)}


def _sources() -> Iterator[Path]:
    for folder in (ROOT / "ses_lambda_constructs", ROOT / "lambda_src"):
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield path


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (or bare string statements)."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }


def _is_literal(node: ast.expr) -> bool:
    """True when ``node`` is built of literals only (``40 * 1024``, ``{"a": "b"}``, ...)."""
    return all(
        isinstance(
            child,
            ast.Constant
            | ast.BinOp
            | ast.UnaryOp
            | ast.Tuple
            | ast.List
            | ast.Dict
            | ast.Set
            | ast.operator
            | ast.unaryop
            | ast.Load,
        )
        for child in ast.walk(node)
    )


def _assignment(module: ModuleType, name: str) -> ast.expr:
    tree = ast.parse(Path(inspect.getfile(module)).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return node.value
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
            and node.value is not None
        ):
            return node.value
    raise AssertionError(f"{module.__name__} assigns no {name} at module level")


def test_the_constructs_load_the_contract_file_the_functions_import() -> None:
    loaded = _bundled.contract()
    assert Path(loaded.__file__ or "") == CONTRACT_FILE == Path(lambda_contract.__file__ or "")
    public = {name for name in vars(lambda_contract) if name.isupper()}
    assert public, "the contract defines no constants"
    for name in public:
        assert getattr(loaded, name) == getattr(lambda_contract, name), name


@pytest.mark.parametrize(
    ("module", "name", "shared"), COPIES, ids=[f"{m.__name__}.{n}" for m, n, _ in COPIES]
)
def test_each_named_copy_reads_the_contract(module: ModuleType, name: str, shared: str) -> None:
    value = getattr(module, name)
    expected = getattr(C, shared)
    assert (dict(value) if isinstance(value, Mapping) else value) == (
        dict(expected) if isinstance(expected, Mapping) else expected
    )
    assert not _is_literal(_assignment(module, name)), (
        f"{module.__name__}.{name} spells its value out; read contract.{shared} instead"
    )


def test_no_shared_string_is_spelled_outside_the_contract() -> None:
    found = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and node.value in SPELLED_ONCE
                and SPELLED_ONCE[node.value] != path
                and id(node) not in docstrings
                and (path.relative_to(ROOT).as_posix(), node.value) not in UNRELATED
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not found, "shared values spelled outside their one file:\n" + "\n".join(found)


def test_the_status_enums_and_the_detail_types_are_the_contracts() -> None:
    statuses = typing.get_args(C.Status)
    assert tuple(C.DETAIL_TYPE_OF_STATUS) == statuses
    assert tuple(C.DETAIL_TYPE_OF_STATUS.values()) == typing.get_args(C.DetailType)
    assert typing.get_args(reader.Status) == statuses
    assert typing.get_args(reader.DetailType) == typing.get_args(C.DetailType)
    assert {s.value: s.detail_type for s in event_patterns.MailStatus} == dict(
        C.DETAIL_TYPE_OF_STATUS
    )
    assert tuple(C.DETAIL_TYPE_OF_STATUS.values()) == event_patterns.DETAIL_TYPES
    for status, detail_type in C.DETAIL_TYPE_OF_STATUS.items():
        assert event_detail.detail_type(status) == detail_type
    assert {k.value for k in event_patterns.MailKind} == set(kinds.KINDS)


def test_the_default_prefixes_of_the_constructs_and_the_handler_are_the_contracts() -> None:
    def default(function: Any, parameter: str) -> Any:
        return inspect.signature(function).parameters[parameter].default

    assert default(receiver.EmailReceiver.__init__, "raw_message_prefix") == C.RAW_PREFIX
    assert default(storage.RawMessageStore.__init__, "object_key_prefix") == C.RAW_PREFIX
    assert default(receiver.EmailReceiver.__init__, "parsed_prefix") == C.PARSED_PREFIX
    assert default(reference_handler.ReferenceHandler.__init__, "parsed_prefix") == (
        C.PARSED_PREFIX
    )
    assert handler_config.HandlerConfig().parsed_prefix == C.PARSED_PREFIX
    assert handler_config.HandlerConfig.from_environ({}).parsed_prefix == C.PARSED_PREFIX


class _Recording(Mapping[str, str]):
    """An environment that records which variables are read (``get`` and ``in`` included)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def test_the_functions_read_exactly_the_variables_the_contract_names() -> None:
    handler_env = _Recording({})
    handler_config.HandlerConfig.from_environ(handler_env)
    assert handler_env.read == C.HANDLER_VARIABLES

    forwarder_env = _Recording({C.ENV_FORWARD_DESTINATIONS: '{"*": ["a@example.org"]}'})
    lambda_forwarding.ForwarderConfig.from_environ(forwarder_env)
    assert forwarder_env.read == C.FORWARDER_VARIABLES


# --- the functions' dependency pins -------------------------------------------------------------


def _pins(lines: list[str]) -> dict[str, str]:
    """``name==version`` lines -> {normalised name: version} (anything else is left out)."""
    pins = {}
    for line in lines:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)==([^\s;\\]+).*", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return pins


def test_the_tests_run_the_functions_with_the_versions_they_bundle() -> None:
    # lambda_src/requirements.in is the one place the functions' direct dependencies are pinned:
    # the lock (requirements.txt, what the asset installs) is generated from it, and the test
    # environment (pyproject.toml's dev extra) must install the same versions to test the same
    # code (pyproject.toml is static metadata: it cannot read the file, so it keeps a copy).
    source = (ROOT / "lambda_src" / "requirements.in").read_text(encoding="utf-8").splitlines()
    direct = _pins(source)
    assert direct, "requirements.in pins nothing"
    assert all(line.startswith("#") or not line.strip() or "==" in line for line in source), (
        "every dependency of the functions is pinned exactly"
    )
    locked = _pins((ROOT / "lambda_src" / "requirements.txt").read_text().splitlines())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dev = _pins(project["optional-dependencies"]["dev"])
    for name, version in direct.items():
        assert locked.get(name) == version, f"requirements.txt locks {name} {locked.get(name)}"
        assert dev.get(name) == version, f"pyproject.toml's dev extra pins {name} {dev.get(name)}"


# --- the local cloud's copies ---------------------------------------------------------------


def regions_file() -> dict[str, list[str]]:
    raw = resources.files("ses_lambda_constructs").joinpath("data/receiving_regions.json")
    data: dict[str, list[str]] = json.loads(raw.read_text(encoding="utf-8"))
    return data


def test_the_local_cloud_reads_the_library_region_list_and_its_fallback_is_the_same() -> None:
    assert set(cfn_engine.receiving_regions()) == set(regions_file()["regions"])
    assert set(cfn_engine._FALLBACK_RECEIVING_REGIONS) == set(regions_file()["regions"])
    assert len(regions_file()["regions"]) == 22
    assert set(regions_file()["optIn"]) <= set(regions_file()["regions"])


def test_the_detail_types_the_local_cloud_looks_for_are_the_contracts() -> None:
    # The demo (``make demo``) waits for the handler's "Email Received" event by its detail-type.
    found = set()
    for path in sorted((ROOT / "localcloud" / "ses_lambda_localcloud").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        found |= {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(r"Email( [A-Z][a-z]+)+", node.value)
            and id(node) not in docstrings
        }
    assert found, "the local cloud's demo no longer looks for a detail-type: update this test"
    assert found <= set(C.DETAIL_TYPE_OF_STATUS.values())


def test_the_local_clouds_receiving_quotas_are_the_contracts() -> None:
    assert ses_checks.MAX_RECIPIENTS_PER_RULE == C.MAX_RECIPIENTS_PER_RULE == 500
    assert ses_checks.MAX_ACTIONS_PER_RULE == C.MAX_ACTIONS_PER_RULE == 10
    assert ses_checks.MAX_RULES_PER_SET == C.MAX_RULES_PER_RULE_SET == 200


def test_the_received_message_limit_is_one_number() -> None:
    # "40 MB" of the S3 action, read as 40 MiB (docs/ses-facts.md, "S3 action").
    assert C.MAX_MESSAGE_BYTES == runtime.MAX_MESSAGE_BYTES == 40 * 1024 * 1024


def test_the_sending_limit_is_one_number() -> None:
    # "40 MB per message (after base64 encoding)" of SES v2, read as 40,000,000 bytes
    # (docs/ses-facts.md, "Sending (the forwarder)").
    assert C.MAX_SEND_BASE64_BYTES == ses_sending.MAX_BASE64_BYTES == 40_000_000


def test_the_eventbridge_entry_budget_is_below_1_mb_under_either_reading() -> None:
    assert event_detail.EVENTBRIDGE_ENTRY_LIMIT_BYTES == 1_000_000
    assert event_detail.MAX_ENTRY_BYTES < 1_000_000 < 1024 * 1024


# --- the events, end to end: the handler's entry against the constructs' pattern --------------


@functools.cache
def _document(status: str) -> dict[str, Any]:
    notification = parse_event(handler_support.documented_event())[0]
    raw = RawLocation(source="s3", bucket="mail-bucket", key="raw/o3vrnil0e2ic28tr", size=9)
    if status == C.STATUS_PROCESSED:
        parsed = parse_message(handler_support.email_bytes("multipart-alternative.eml"))
        return build_document(notification, raw=raw, parsed=parsed, attachment_keys=[])
    if status == C.STATUS_REJECTED:
        return build_document(notification, raw=raw, rejected_by=["spam"])
    code = "too_large" if status == C.STATUS_TOO_LARGE else "too_many_parts"
    return build_document(notification, raw=raw, error=UnparseableMessageError(code, "limit"))


@settings(max_examples=150, deadline=None)
@given(
    status=st.sampled_from(typing.get_args(C.Status)),
    other=st.sampled_from(typing.get_args(C.Status)),
    source=st.one_of(st.just(C.EVENT_SOURCE), st.text(min_size=1, max_size=260)),
)
def test_an_event_the_handler_puts_matches_the_pattern_the_constructs_build_for_it(
    status: str, other: str, source: str
) -> None:
    try:
        event_patterns.validate_event_source("event_source", source)
    except limits.ValidationError:
        return  # refused at synth: never reaches the handler
    # What the construct accepts, the handler takes unchanged from EVENT_SOURCE.
    config = handler_config.HandlerConfig.from_environ({C.ENV_EVENT_SOURCE: source})
    assert config.event_source == source
    entry = event_detail.build_entry(
        _document(status),
        event_bus="mail-events",
        source=config.event_source,
        bucket="mail-bucket",
        message_key="parsed/o3vrnil0e2ic28tr/message.json",
    )
    event = {
        "source": entry["Source"],
        "detail-type": entry["DetailType"],
        "detail": json.loads(entry["Detail"]),
    }
    for candidate in (status, other):
        pattern = event_patterns.email_event_pattern(
            event_source=source, statuses=[event_patterns.MailStatus(candidate)]
        )
        assert patterns.matches(pattern, event) is (candidate == status), (candidate, pattern)


@pytest.mark.parametrize("source", [" orders", "orders\n", "orders\r", "\u2028orders"])
def test_an_event_source_the_handler_would_strip_is_refused_at_synth(source: str) -> None:
    with pytest.raises(limits.ValidationError, match=r"event_source .* whitespace"):
        event_patterns.validate_event_source("event_source", source)

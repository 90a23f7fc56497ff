"""Output keys and safe file names; the verdict policy; the handler's configuration."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ses_mail import (
    DEFAULT_MAX_MESSAGE_BYTES,
    ConfigurationError,
    HandlerConfig,
    InvalidEventError,
    VerdictPolicy,
    Verdicts,
    attachment_key,
    delivery_id,
    delivery_key,
    disposition,
    message_document_key,
    raw_message_key,
    safe_filename,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\System32\\evil.dll", "evil.dll"),
        ("/absolute/path/report.pdf", "report.pdf"),
        ("C:\\Users\\x\\Desktop\\a.txt", "a.txt"),
        ("dir/", "dir"),
        ("invoice\u202egpj.exe", "invoice_gpj.exe"),  # right-to-left override
        ("zero\u200bwidth.txt", "zero_width.txt"),
        ("tab\tand\nnewline\x00nul.txt", "tab_and_newline_nul.txt"),
        ("\x1b[31mred.txt", "31mred.txt"),
        (".hidden", "hidden"),
        ("..", "part.bin"),
        ("...", "part.bin"),
        ("", "part.bin"),
        (None, "part.bin"),
        ("   ", "part.bin"),
        ("a..b", "a.b"),
        ("semi;colon?*<>|.txt", "semi_colon_.txt"),
        ("name%2F..%2Fx", "name_2F._2Fx"),
        ("Prüfbericht.pdf", "Prüfbericht.pdf"),
        ("Pru\u0308fbericht.pdf", "Prüfbericht.pdf"),  # NFD from macOS becomes NFC
        ("報告書.txt", "報告書.txt"),
        ("x\udcffy.bin", "x_y.bin"),  # an undecodable byte
    ],
)
def test_safe_filename(name: str | None, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_truncates_to_120_bytes_keeping_the_extension() -> None:
    long_ascii = safe_filename("A" * 300 + ".pdf")
    assert long_ascii.endswith(".pdf") and len(long_ascii.encode()) == 120
    long_cjk = safe_filename("報" * 100 + ".xlsx")
    assert long_cjk.endswith(".xlsx") and len(long_cjk.encode()) <= 120
    long_cjk.encode("utf-8")  # never cut inside a character


def test_keys_depend_only_on_prefix_message_id_recipients_index_and_name() -> None:
    assert raw_message_key("raw/", "abc123") == "raw/abc123"
    key = delivery_key(["a@example.com"])
    assert key == hashlib.sha256(b"a@example.com").hexdigest()[:16]
    assert message_document_key("parsed/", "abc123", ["a@example.com"]) == (
        f"parsed/abc123/{key}/message.json"
    )
    assert attachment_key("parsed/", "abc123", 3, "report.pdf") == (
        "parsed/abc123/attachments/3-report.pdf"
    )


@pytest.mark.parametrize("name", ["../x", "a/b", "", "x\x00"])
def test_fails_when_attachment_key_gets_an_unsafe_name(name: str) -> None:
    with pytest.raises(ValueError, match="safe"):
        attachment_key("parsed/", "abc123", 0, name)


@pytest.mark.parametrize("message_id", ["../x", "a/b", "x\n"])
def test_fails_when_a_key_is_built_from_an_unsafe_message_id(message_id: str) -> None:
    with pytest.raises(InvalidEventError):
        message_document_key("parsed/", message_id, ["a@example.com"])


FAIL, PASS = "FAIL", "PASS"


@pytest.mark.parametrize(
    ("reject_on", "verdicts", "failed"),
    [
        ("spam,virus", Verdicts(spam=FAIL), ("spam",)),
        ("spam,virus", Verdicts(virus=FAIL), ("virus",)),
        ("spam,virus", Verdicts(spam=FAIL, virus=FAIL), ("spam", "virus")),
        ("spam,virus", Verdicts(spf=FAIL, dkim=FAIL, dmarc=FAIL), ()),
        ("spam,virus", Verdicts(spam="GRAY", virus="PROCESSING_FAILED"), ()),
        ("spam,virus", Verdicts(spam="DISABLED", virus="DISABLED"), ()),
        ("spam,virus", Verdicts(), ()),
        ("spf", Verdicts(spf=FAIL), ("spf",)),
        ("dkim", Verdicts(dkim=FAIL), ("dkim",)),
        ("dkim", Verdicts(), ()),  # absent dkimVerdict never rejects
        ("dmarc", Verdicts(dmarc=FAIL, dmarc_policy="reject"), ("dmarc",)),
        (" DMARC , spam ", Verdicts(dmarc=FAIL), ("dmarc",)),
        ("", Verdicts(spam=FAIL, virus=FAIL, spf=FAIL, dkim=FAIL, dmarc=FAIL), ()),
        ("spam,virus,spf,dkim,dmarc", Verdicts(dkim=FAIL, spam=PASS), ("dkim",)),
    ],
)
def test_verdict_policy(reject_on: str, verdicts: Verdicts, failed: tuple[str, ...]) -> None:
    assert VerdictPolicy.from_setting(reject_on).failed(verdicts) == failed


def test_default_policy_rejects_spam_or_virus() -> None:
    assert VerdictPolicy().reject_on == frozenset({"spam", "virus"})


def test_disposition() -> None:
    assert disposition(True) == "STOP_RULE_SET"
    assert disposition(False) == "CONTINUE"


def test_fails_when_reject_on_verdicts_names_an_unknown_verdict() -> None:
    with pytest.raises(ConfigurationError) as raised:
        VerdictPolicy.from_setting("spam,phishing")
    assert raised.value.variable == "REJECT_ON_VERDICTS"
    assert "phishing" in str(raised.value)


def test_configuration_defaults_match_the_architecture_contract() -> None:
    config = HandlerConfig.from_environ({})
    assert config.raw_bucket is None
    assert config.raw_prefix == ""
    assert config.parsed_prefix == "parsed/"
    assert config.verdict_policy == VerdictPolicy(frozenset({"spam", "virus"}))
    assert config.max_message_bytes == DEFAULT_MAX_MESSAGE_BYTES == 41943040


def test_configuration_is_read_from_the_environment() -> None:
    config = HandlerConfig.from_environ(
        {
            "RAW_MESSAGE_BUCKET": "bucket",
            "RAW_MESSAGE_PREFIX": "inbound/raw/",
            "PARSED_PREFIX": "inbound/parsed/",
            "REJECT_ON_VERDICTS": "",
            "MAX_MESSAGE_BYTES": "1000",
        }
    )
    assert (config.raw_bucket, config.raw_prefix, config.parsed_prefix) == (
        "bucket",
        "inbound/raw/",
        "inbound/parsed/",
    )
    assert config.verdict_policy.reject_on == frozenset()
    assert config.max_message_bytes == 1000
    limits = config.parse_limits()
    assert limits.max_bytes == 1000
    assert limits.max_parse_memory == 16 * 1024 * 1024  # the floor


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("MAX_MESSAGE_BYTES", "40MB", "not an integer"),
        ("MAX_MESSAGE_BYTES", "0", "positive"),
        ("MAX_MESSAGE_BYTES", "-5", "positive"),
        ("PARSED_PREFIX", "/parsed/", "must not start with '/'"),
        ("PARSED_PREFIX", "a/../b/", "'..'"),
        ("RAW_MESSAGE_PREFIX", "raw\n/", "control characters"),
        ("REJECT_ON_VERDICTS", "spam,bogus", "bogus"),
    ],
)
def test_fails_when_configuration_is_invalid(variable: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        HandlerConfig.from_environ({variable: value})
    assert raised.value.variable == variable
    assert problem in str(raised.value)


_ADDRESS = st.from_regex(r"[a-z0-9.+]{1,12}@[a-z0-9-]{1,10}\.(com|org|example)", fullmatch=True)


@given(recipients=st.lists(_ADDRESS, min_size=1, max_size=6), data=st.data())
def test_a_delivery_key_ignores_order_case_and_repeats_and_only_that(
    recipients: list[str], data: st.DataObject
) -> None:
    """Two invocations for the same matched recipients share a key (a retry), however SES lists
    them; a different set of recipients (another receipt rule) gets another key."""
    key = delivery_key(recipients)
    shuffled = data.draw(st.permutations(recipients))
    assert delivery_key([r.upper() for r in shuffled] + recipients[:1]) == key
    assert len(key) == 16 and set(key) <= set("0123456789abcdef")
    other = data.draw(_ADDRESS.filter(lambda a: a not in recipients))
    assert delivery_key([*recipients, other]) != key
    assert delivery_id("abc123", recipients) == f"abc123/{key}"

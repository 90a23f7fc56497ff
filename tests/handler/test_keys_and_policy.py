"""Output keys and safe file names; the verdict policy; the handler's configuration."""

from __future__ import annotations

import hashlib

import pytest
from handler_support import FUZZ
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


# --- the 120-byte limit of safe file names, at its boundaries -------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a" * 116 + ".pdf", "a" * 116 + ".pdf"),  # exactly 120 bytes: kept
        ("a" * 117 + ".pdf", "a" * 116 + ".pdf"),  # 121 bytes: the stem gives one byte
        ("a" * 130, "a" * 120),  # no extension: cut at 120
        ("a" * 100 + "." + "e" * 15, "a" * 100 + "." + "e" * 15),  # 116 bytes: kept
        ("a" * 110 + "." + "e" * 15, "a" * 104 + "." + "e" * 15),
        ("a" * 110 + "." + "e" * 16, "a" * 103 + "." + "e" * 16),  # a 16-byte extension is kept
        ("a" * 110 + "." + "e" * 17, "a" * 110 + "." + "e" * 9),  # a 17-byte one is no extension
        ("a" * 115 + "_b" + "c" * 10 + ".pdf", "a" * 115 + ".pdf"),  # no "_" left at the cut
        ("a" * 115 + "_.pdf", "a" * 115 + "_.pdf"),  # 120 bytes: kept as it is
        ("a" * 115 + "X" * 8 + ".pdf", "a" * 115 + "X.pdf"),  # only " ._" go at the cut
        ("a" * 114 + " .b" + "c" * 10 + ".pdf", "a" * 114 + ".pdf"),
        ("é" * 58 + "a" + ".pdf", "é" * 58 + ".pdf"),  # 116-byte budget: no half character
        ("é" * 57 + "ab" + ".pdf", "é" * 57 + "ab.pdf"),
        ("report." + "x" * 200, "report." + "x" * 113),  # the name is all extension
    ],
)
def test_safe_filename_boundaries_of_the_byte_limit(name: str, expected: str) -> None:
    assert safe_filename(name) == expected
    assert len(safe_filename(name).encode("utf-8")) <= 120


@FUZZ
@given(name=st.text(min_size=1, max_size=400))
def test_safe_filename_is_short_safe_and_stable(name: str) -> None:
    safe = safe_filename(name)
    assert 0 < len(safe.encode("utf-8", "surrogatepass")) <= 120
    assert "/" not in safe and "\\" not in safe
    assert not safe.startswith((".", " ", "_")) and not safe.endswith((".", " ", "_"))
    assert safe_filename(safe) == safe  # already safe: unchanged


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a  b", "a b"),  # repeated spaces collapse
        ("a__b", "a_b"),
        ("a\t\tb", "a_b"),  # whitespace other than the space is replaced
        ("a\u00a0b", "a_b"),  # a no-break space too
        ("a+b,c=d@e~f(g).txt", "a+b,c=d@e~f(g).txt"),  # kept punctuation
        ("a--b", "a--b"),  # only "_", " " and "." collapse
        ("a. .b", "a. .b"),
        ("a/ ./b.txt", "b.txt"),
        ("a/ . /", "a"),  # segments of only dots and spaces are no names
        ("a/X", "X"),
        ("aXXb.txt", "aXXb.txt"),
    ],
)
def test_safe_filename_collapses_and_keeps(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_fallback_is_the_caller_s() -> None:
    assert safe_filename("", fallback="x.bin") == "x.bin"
    assert safe_filename("..", fallback="x.bin") == "x.bin"
    assert safe_filename(None, fallback="") == ""


@pytest.mark.parametrize(
    ("content_type", "name"),
    [
        ("text/plain", "part.txt"),
        ("TEXT/HTML", "part.html"),
        ("message/rfc822", "part.eml"),
        ("application/pdf", "part.pdf"),
        ("image/jpeg", "part.jpg"),
        ("application/x-unknown", "part.bin"),
    ],
)
def test_default_filename(content_type: str, name: str) -> None:
    from ses_mail.keys import default_filename

    assert default_filename(content_type) == name


def test_every_key_validates_the_message_id_and_keeps_the_prefix() -> None:
    from ses_mail.keys import output_prefix

    assert output_prefix("parsed/", "abc123") == "parsed/abc123/"
    assert output_prefix("", "abc123") == "abc123/"
    assert attachment_key("p/", "abc123", 0, "a.txt") == "p/abc123/attachments/0-a.txt"
    for build in (
        lambda: raw_message_key("raw/", "../x"),
        lambda: output_prefix("p/", "a/b"),
        lambda: delivery_id("a/b", ["a@example.com"]),
        lambda: attachment_key("p/", "../x", 0, "a.txt"),
    ):
        with pytest.raises(InvalidEventError):
            build()
    with pytest.raises(ValueError, match=r"^attachment index must not be negative$"):
        attachment_key("p/", "abc123", -1, "a.txt")


def test_a_delivery_key_is_over_the_recipients_stripped_sorted_and_joined_by_newlines() -> None:
    expected = hashlib.sha256(b"a@example.com\nb@example.com").hexdigest()[:16]
    assert delivery_key([" B@Example.com", "a@example.com ", "b@example.com"]) == expected


def test_a_verdict_policy_names_its_unknown_verdicts() -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown verdicts \['nope'\]; choose from \['spam', 'virus', 'spf', 'dkim', 'dmarc'\]",
    ):
        VerdictPolicy(frozenset({"spam", "nope"}))
    with pytest.raises(ConfigurationError) as raised:
        VerdictPolicy.from_setting("spam, b, a", "FORWARD_REJECT")
    assert raised.value.variable == "FORWARD_REJECT"
    assert (
        "unknown verdict(s) a, b; use a comma-separated subset of spam,virus,spf,dkim,dmarc"
        in str(raised.value)
    )
    assert VerdictPolicy.from_setting(",, ,").reject_on == frozenset()

"""Reply text: precision and cost of the candidate libraries on ``tests/handler/reply_corpus.py``.

Run ``python bench/reply_text_bench.py`` (with quotequail installed beside the project to compare
it too). For each candidate: how many replies it extracts exactly (white space normalised), how
many signatures it separates, the median time per message, and what the library adds to the Lambda
asset (``pip install --target`` for the Lambda platform, zipped). Prints Markdown.
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests" / "handler"), str(HERE.parent / "lambda_src")]

from reply_corpus import CASES  # noqa: E402

Extract = Callable[[str], tuple[str, str | None]]


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def _ours(text: str) -> tuple[str, str | None]:
    from reply_split import split_reply
    from ses_mail.replies import reply_text

    found = reply_text(text, split=split_reply)
    assert found is not None
    return found.text, found.signature


def _mail_parser_reply(text: str) -> tuple[str, str | None]:
    from mailparser_reply import EmailReplyParser
    from ses_mail.replies import LANGUAGES

    message = EmailReplyParser(languages=list(LANGUAGES)).read(text)
    first = message.replies[0]
    return first.body, first.signatures or None


def _quotequail(text: str) -> tuple[str, str | None]:
    import quotequail

    unwrapped = quotequail.unwrap(text)
    if unwrapped and "text_top" in unwrapped:
        return unwrapped["text_top"], None
    parts = quotequail.quote(text, quote_intro_line=True)
    shown = []
    for expanded, chunk in parts:
        if not expanded:
            break
        shown.append(chunk)
    return "".join(shown), None


# Each candidate's packages: (installed without dependencies, as published; its dependencies,
# as wheels for the Lambda platform).
Packages = tuple[tuple[str, ...], tuple[str, ...]]
MPR: Packages = (("mail-parser-reply==1.36",), ("typing_extensions>=4.1",))
CANDIDATES: dict[str, tuple[Extract, Packages]] = {
    "ses_mail.replies (mail-parser-reply + quote rules)": (_ours, MPR),
    "mail-parser-reply 1.36 alone": (_mail_parser_reply, MPR),
    "quotequail 0.5.4 (unwrap, else quote)": (
        _quotequail,
        (("quotequail==0.5.4",), ("lxml>=6", "typing_extensions>=4.1")),
    ),
}


def _asset_bytes(packages: Packages) -> int | None:
    pure, dependencies = packages
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    with tempfile.TemporaryDirectory() as target:
        for command in (
            [*pip, "--target", target, "--no-deps", *pure],
            [
                *pip, "--target", target, "--platform", "manylinux2014_x86_64",
                "--python-version", "3.14", "--only-binary=:all:", "--implementation", "cp",
                *dependencies,
            ],
        ):  # fmt: skip
            if subprocess.run(command, capture_output=True, check=False).returncode != 0:
                return None
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(target).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(target))
        return len(buffer.getvalue())


def measure(name: str, extract: Extract, requirements: Packages) -> str:
    try:
        extract(CASES[0].text)
    except ImportError as error:
        return f"| {name} | not installed ({error.name}) | | | |"
    replies = signatures = 0
    separates = extract is not _quotequail  # quotequail keeps the signature in the reply
    failed = []
    for case in CASES:
        reply, signature = extract(case.text)
        if _norm(reply) == _norm(case.reply):
            replies += 1
        else:
            failed.append(case.name)
        signatures += _norm(signature) == _norm(case.signature)
    signatures_text = f"{signatures}/{len(CASES)}"
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for case in CASES:
            extract(case.text)
        times.append((time.perf_counter() - start) / len(CASES))
    size = _asset_bytes(requirements)
    return (
        f"| {name} | {replies}/{len(CASES)} | "
        f"{signatures_text if separates else 'not separated'} | "
        f"{statistics.median(times) * 1e3:.2f} ms | "
        f"{'?' if size is None else f'{size / 1024:.0f} KiB'} | {', '.join(failed) or '-'} |"
    )


def main() -> None:
    print(
        "| candidate | replies exact | signatures | time per message (median of 5) | "
        "asset added (zipped) | missed |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, (extract, requirements) in CANDIDATES.items():
        print(measure(name, extract, requirements))
    html = [case for case in CASES if case.html]
    from reply_split import split_reply
    from ses_mail.replies import reply_text

    good = 0
    for case in html:
        found = reply_text(None, case.html, split=split_reply)
        good += found is not None and _norm(found.text) == _norm(case.reply)
    print(f"\nHTML-only bodies (text made from the HTML): {good}/{len(html)} replies exact.")
    big = (
        "Short answer.\n\nOn Tue, Dec 1, 2026 at 10:02 AM A <a@example.com> wrote:\n"
        + ("> " + "quoted history line " * 4 + "\n") * 12_000
    )
    start = time.perf_counter()
    reply_text(big, split=split_reply)
    print(
        f"A {len(big) / 1e6:.1f} MB text body: {(time.perf_counter() - start) * 1e3:.1f} ms "
        "(only the start is read)."
    )


#: The kind each message of ``tests/handler/emails/kinds`` has (what the tests assert).
EXPECTED_KINDS = {
    "arf-abuse.eml": "feedback_report",
    "dsn-delayed.eml": "delivery_status",
    "dsn-permanent.eml": "delivery_status",
    "exchange-oof.eml": "auto_reply",
    "gmail-reply.eml": "person",
    "gmail-vacation.eml": "auto_reply",
    "list-post.eml": "list",
    "notification.eml": "auto_generated",
    "outlook-html-only.eml": "person",
    "person.eml": "person",
    "x-autoreply.eml": "auto_reply",
}


def kinds_table() -> None:
    from ses_mail import classify, parse_message

    folder = HERE.parent / "tests" / "handler" / "emails" / "kinds"
    print("\n| message | expected | classified | rule | time |")
    print("| --- | --- | --- | --- | --- |")
    for name, expected in EXPECTED_KINDS.items():
        parsed = parse_message((folder / name).read_bytes())
        start = time.perf_counter()
        found = classify(parsed.message, envelope_source="sender@example.com")
        took = time.perf_counter() - start
        print(f"| {name} | {expected} | {found.kind} | {found.reason} | {took * 1e6:.0f} µs |")


if __name__ == "__main__":
    main()
    kinds_table()

"""The inbox page's cost to the pipeline: warm latency with and without a browser on the page.

One local cloud (``ses-localcloud start``, which serves the inbox page) with the demo stack
deployed, as in the pipeline benchmark. 10 KB messages are sent one at a time over SMTP, in
blocks that alternate between two conditions, so that the machine's other load falls on both:

- page closed: the page is served, no browser is connected;
- page open: Debian's headless Chromium (through chromedriver, Selenium) has the page open with
  one finished message shown, so every message makes the server push an event and the page
  refetch ``/api/messages`` (updates gathered for half a second).

Latency is the pipeline benchmark's: the SMTP ``250`` reply to the message's record finished
(message.json written).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import messages

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, for tests/
from common import Section, fmt_ms, percentile
from pipeline_bench import TARGET_P50_MS, Cloud, _free_port, send, wait

from tests.browser_support import chromedriver_service, chromium_options

BLOCKS = 6


def _browser(profile: Path) -> Any:
    from selenium import webdriver

    return webdriver.Chrome(options=chromium_options(profile), service=chromedriver_service())


def run(quick: bool, workdir: Path) -> Section:
    section = Section("inbox", "8. Inbox page")
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        section.error = "needs Debian's chromium and chromium-driver (apt-get install)"
        return section
    cloud = Cloud(workdir / "inbox-cloud", _free_port(), _free_port())
    body = messages.message(10_000)
    per_block = 5 if quick else 15
    browser = None
    try:
        cloud.start()
        url = cloud.local("health")["inbox"]
        cloud.deploy()
        for _ in range(3):  # warm the execution environments
            wait(cloud, send(cloud, body))
        browser = _browser(Path(tempfile.mkdtemp(prefix="inbox-bench-chromium-")))
        closed: list[float] = []
        opened: list[float] = []
        for block in range(BLOCKS):
            page_open = block % 2 == 1
            if page_open:
                first = wait(cloud, send(cloud, body))
                browser.get(f"{url}#/message/{first.message_id}")
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    live = browser.execute_script(
                        "return document.getElementById('live').textContent"
                    )
                    if live == "live" and browser.find_elements("id", "timeline"):
                        break
                    time.sleep(0.1)
                else:
                    raise RuntimeError("the inbox page did not come up in the browser")
            else:
                browser.get("about:blank")
                time.sleep(0.5)
            samples = [wait(cloud, send(cloud, body)) for _ in range(per_block)]
            (opened if page_open else closed).extend(d.latency * 1000 for d in samples)
            bad = [d.message_id for d in samples if d.status != "done"]
            if bad:
                raise RuntimeError(f"messages not processed: {bad}")
        rows = browser.execute_script(
            "return document.querySelectorAll('#messages tbody tr').length"
        )
        for label, values in (("page closed", closed), ("page open and updating", opened)):
            p50 = percentile(values, 50)
            section.row(
                f"10 KB message, warm, {label}: SMTP 250 → message.json written, p50 / p95 "
                f"({len(values)} messages)",
                f"{fmt_ms(p50)} / {fmt_ms(percentile(values, 95))}",
                f"p50 ≤ {TARGET_P50_MS} ms",
                p50 <= TARGET_P50_MS,
            )
        section.row(
            "  difference of the medians (open - closed)",
            f"{percentile(opened, 50) - percentile(closed, 50):+.1f} ms",
        )
        section.notes += [
            f"{BLOCKS} alternating blocks of {per_block} messages, page closed first; in the "
            "page-open blocks headless Chromium shows the inbox with one (finished) message "
            "open, so each message pushes a server-sent event and the page refetches the list "
            "(updates gathered for half a second; the list showed "
            f"{rows} messages at the end).",
            "The page is served by its own HTTP server thread in the local cloud's process "
            "(the same interpreter as moto and the receiver), so its requests compete with "
            "the pipeline for that process's interpreter lock; the browser runs in its own "
            "processes on the same two cores.",
        ]
        section.raw = {"closed_ms": closed, "open_ms": opened}
    finally:
        if browser is not None:
            browser.quit()
        cloud.stop()
    return section

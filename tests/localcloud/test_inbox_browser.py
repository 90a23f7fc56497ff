"""The inbox page in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver (``apt-get install chromium chromium-driver``; ``.ci/run`` installs them).
Without them these tests are skipped, and say why.

Set ``INBOX_SCREENSHOTS=docs`` to write the screenshots the README shows into ``docs/``
(otherwise they go to the test's temporary directory)."""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from ses_lambda_localcloud import sender
from ses_lambda_localcloud.target import Target
from tests.browser_support import CHROMEDRIVER, CHROMIUM, chromedriver_service, chromium_options

if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    pytest.skip(
        "browser tests need Debian's chromium and chromium-driver "
        "(apt-get install -y chromium chromium-driver)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RECIPIENT = "support@mail.example.com"
#: Generous: two cores shared with the rest of the suite.
WAIT = 30


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, downloads: Path) -> Iterator[Any]:
    options = chromium_options(
        tmp_path_factory.mktemp("chromium-profile"), extra=["--window-size=1500,1000"]
    )
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(options=options, service=chromedriver_service())
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    yield driver
    driver.quit()


def wait_for(driver: Any, condition: Any, timeout: float = WAIT) -> Any:
    """``condition`` until true; the live list redraws itself, so an element found a moment
    ago may be gone: such a try just counts as not yet."""
    return WebDriverWait(
        driver,
        timeout,
        poll_frequency=0.1,
        ignored_exceptions=(StaleElementReferenceException, NoSuchElementException),
    ).until(condition)


def row_with(driver: Any, subject: str, status: str = "") -> Any:
    """The text of the list's row showing ``subject`` (and ``status``), once there is one."""

    def find(d: Any) -> Any:
        for row in d.find_elements(By.CSS_SELECTOR, "#messages tbody tr"):
            text = row.text
            if subject in text and status in text:
                return text
        return False

    return wait_for(driver, find)


def open_row(driver: Any, subject: str) -> None:
    def click(d: Any) -> bool:
        for row in d.find_elements(By.CSS_SELECTOR, "#messages tbody tr"):
            if subject in row.text:
                row.find_element(By.TAG_NAME, "a").click()
                return True
        return False

    wait_for(driver, click)


def deliver(target: Target, mail: EmailMessage) -> str:
    sent = sender.send(
        target,
        mail.as_bytes(policy=policy.SMTP),
        recipients=[RECIPIENT],
        mail_from="janedoe@example.com",
    )
    assert sent.message_id, sent.rejected
    sender.wait_for(target, sent.message_id, timeout=60)
    return sent.message_id


def screenshot(driver: Any, name: str, tmp_path: Path) -> None:
    folder = ROOT / "docs" if os.environ.get("INBOX_SCREENSHOTS") == "docs" else tmp_path
    assert driver.save_screenshot(str(folder / name))


def test_new_mail_appears_live_opens_with_its_timeline_and_attachment(
    mini: None, target: Target, inbox: Any, browser: Any, downloads: Path, tmp_path: Path
) -> None:
    browser.get(inbox.url)
    wait_for(browser, lambda d: d.find_element(By.ID, "live").text == "live")
    browser.execute_script("window.sameDocument = true")  # gone if the page reloads

    mail = EmailMessage()
    mail["From"] = "Jane Doe <janedoe@example.com>"
    mail["To"] = RECIPIENT
    mail["Subject"] = f"Quarterly report {time.time_ns()}"
    mail.set_content("Hello,\n\nthe report is attached.\n\nJane")
    mail.add_alternative("<p>Hello,</p><p>the <b>report</b> is attached.</p><p>Jane</p>", "html")
    report = b"region,total\nnorth,12\nsouth,30\n"
    mail.add_attachment(report, maintype="text", subtype="csv", filename="report.csv")
    message_id = deliver(target, mail)

    # THEN it appears without a reload, processed
    row_with(browser, mail["Subject"], "processed")
    assert browser.execute_script("return window.sameDocument") is True
    screenshot(browser, "inbox-list.png", tmp_path)

    # WHEN it is opened, THEN the timeline shows the rule, the actions, the invocation and
    # the objects written, and the HTML body is shown
    open_row(browser, mail["Subject"])
    timeline = wait_for(browser, lambda d: d.find_element(By.ID, "timeline"))
    wait_for(browser, lambda d: "invocation" in d.find_element(By.ID, "timeline").text)
    text = timeline.text
    assert "rule" in text and "Lambda action" in text and "S3 action" in text
    assert "object written s3://" in text and f"parsed/{message_id}/message.json" in text
    assert browser.find_element(By.ID, "subject").text == mail["Subject"]
    frame = browser.find_element(By.ID, "html-body")
    assert frame.get_attribute("sandbox") == ""
    browser.switch_to.frame(frame)
    wait_for(browser, lambda d: "report" in d.find_element(By.TAG_NAME, "body").text)
    browser.switch_to.default_content()
    # the handler's logs are behind a click
    browser.find_element(By.CSS_SELECTOR, ".kind-invocation details summary").click()
    assert "parsed" in browser.find_element(By.CSS_SELECTOR, ".kind-invocation pre.logs").text
    screenshot(browser, "inbox-message.png", tmp_path)

    # WHEN the attachment is downloaded, THEN it is the file that was sent
    tab = next(
        b
        for b in browser.find_elements(By.CSS_SELECTOR, ".tabs button")
        if b.text.startswith("Attachments")
    )
    tab.click()
    browser.find_element(By.CSS_SELECTOR, "a.attachment").click()
    saved = downloads / "report.csv"
    wait_for(browser, lambda d: saved.exists() and saved.read_bytes() == report)


def test_send_form_delivers_a_message_that_then_appears(
    mini: None, target: Target, inbox: Any, browser: Any, tmp_path: Path
) -> None:
    browser.get(inbox.url + "#/send")
    wait_for(browser, lambda d: d.find_element(By.ID, "send-form"))
    subject = f"sent from the page {time.time_ns()}"
    browser.find_element(By.ID, "send-to").send_keys(RECIPIENT)
    browser.find_element(By.ID, "send-subject").send_keys(subject)
    browser.find_element(By.ID, "send-body").send_keys("typed in the inbox page")
    attachment = tmp_path / "notes.txt"
    attachment.write_text("attached from the form\n")
    browser.find_element(By.ID, "send-file").send_keys(str(attachment))
    browser.find_element(By.ID, "send-button").click()
    result = wait_for(browser, lambda d: "accepted as" in d.find_element(By.ID, "send-result").text)
    assert result
    message_id = browser.find_element(By.ID, "send-result").text.split("accepted as ")[1].split()[0]
    record = sender.wait_for(target, message_id, timeout=60)
    assert record["tls"] is True and record["subject"] == subject
    row_with(browser, subject)
    browser.find_element(By.ID, "sent-link").click()
    wait_for(browser, lambda d: d.find_element(By.ID, "subject").text == subject)


def test_replay_button_invokes_a_fixed_function_again(
    mini: None, target: Target, inbox: Any, browser: Any, aws: Callable[[str], Any]
) -> None:
    mail = EmailMessage()
    mail["From"] = "janedoe@example.com"
    mail["To"] = RECIPIENT
    mail["Subject"] = f"replay from the page {time.time_ns()}"
    mail["X-Test-Fail"] = "yes"
    mail.set_content("the handler fails on this one until it is fixed")
    message_id = deliver(target, mail)
    record = sender.wait_for(target, message_id, timeout=60)
    arn = next(
        action["detail"]["functionArn"]
        for rule in record["rules"]
        for action in rule["actions"]
        if action["type"] == "Lambda"
    )
    browser.get(inbox.url + "#/message/" + message_id)
    button = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#timeline button.replay"))

    functions = aws("lambda")
    variables = functions.get_function_configuration(FunctionName=arn)["Environment"]["Variables"]
    functions.update_function_configuration(
        FunctionName=arn,
        Environment={"Variables": {**variables, "TEST_FAIL_HEADER": "ignore"}},
    )
    try:
        button.click()
        # THEN the timeline updates without a reload: the replayed invocation succeeded
        wait_for(
            browser,
            lambda d: any(
                "replayed invocation" in step.text and "ok" in step.text
                for step in d.find_elements(By.CSS_SELECTOR, "#timeline .kind-invocation")
            ),
            timeout=60,
        )
    finally:
        functions.update_function_configuration(
            FunctionName=arn, Environment={"Variables": variables}
        )
    assert not browser.find_elements(By.CSS_SELECTOR, "#timeline button.replay")
    assert not browser.find_elements(By.CSS_SELECTOR, ".replay-error")


class Canary(http.server.ThreadingHTTPServer):
    """Records every request that reaches it: any hit is something the page let through."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        canary = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                canary.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()
                # a 1x1 transparent GIF
                self.wfile.write(
                    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01"
                    b"\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
                )

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def canary() -> Iterator[Canary]:
    server = Canary()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_hostile_html_runs_nothing_and_fetches_nothing(
    mini: None, target: Target, inbox: Any, browser: Any, canary: Canary
) -> None:
    base = f"http://127.0.0.1:{canary.server_address[1]}"
    hostile = f"""<html><head>
<link rel="stylesheet" href="{base}/link.css">
<style>@import url("{base}/import.css"); body {{ background: url("{base}/background.png"); }}</style>
<script>fetch("{base}/script"); parent.document.title = "pwned";</script>
<meta http-equiv="refresh" content="0; url={base}/refresh">
</head><body onload="fetch('{base}/onload')">
<p>Dear customer</p>
<img src="does-not-exist" onerror="fetch('{base}/onerror')">
<a id="js-link" href="javascript:fetch('{base}/javascript-link');parent.document.title='pwned'">
click me</a>
<div style="background-image: url('{base}/inline-style.png')">styled</div>
<svg><image href="{base}/svg-image.png"/></svg>
<iframe src="{base}/nested-frame"></iframe>
<object data="{base}/object"></object>
<img id="remote" src="{base}/remote-image.gif" alt="remote">
</body></html>"""
    mail = EmailMessage()
    mail["From"] = "Mallory <mallory@example.com>"
    mail["To"] = RECIPIENT
    subject = f'<img src="{base}/subject" onerror="document.title=1"> hostile {time.time_ns()}'
    mail["Subject"] = subject
    mail["X-Note"] = f'<script>fetch("{base}/header")</script>'
    mail.set_content("text version")
    mail.add_alternative(hostile, subtype="html")
    deliver(target, mail)

    browser.get(inbox.url)
    title = browser.title
    open_row(browser, "hostile")
    frame = wait_for(browser, lambda d: d.find_element(By.ID, "html-body"))
    # the subject shows as text, not as markup
    assert browser.find_element(By.ID, "subject").text == subject
    assert not browser.find_elements(By.CSS_SELECTOR, "#subject img")
    browser.switch_to.frame(frame)
    wait_for(browser, lambda d: "Dear customer" in d.find_element(By.TAG_NAME, "body").text)
    browser.find_element(By.ID, "js-link").click()
    browser.switch_to.default_content()
    headers_tab = next(
        b for b in browser.find_elements(By.CSS_SELECTOR, ".tabs button") if b.text == "Headers"
    )
    headers_tab.click()
    assert "<script>" in browser.find_element(By.CSS_SELECTOR, "table.headers").text
    time.sleep(2)  # time for anything that slipped through to reach the canary

    assert canary.hits == []
    assert browser.title == title
    assert browser.execute_script("return document.querySelectorAll('script').length") == 1

    # The canary works: remote images load once the reader asks, and only images.
    browser.find_element(By.CSS_SELECTOR, ".tabs button").click()  # back to HTML
    wait_for(browser, lambda d: d.find_element(By.ID, "load-remote")).click()
    wait_for(browser, lambda d: "/remote-image.gif" in canary.hits)
    time.sleep(1)
    scripted = {"/script", "/onload", "/onerror", "/javascript-link", "/refresh", "/nested-frame"}
    assert not scripted & set(canary.hits), canary.hits
    assert not {"/link.css", "/import.css", "/object"} & set(canary.hits), canary.hits
    assert browser.title == title

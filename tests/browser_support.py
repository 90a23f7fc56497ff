"""Debian's headless Chromium under Selenium, as the inbox page's browser tests and its benchmark
start it: the system browser and driver (a test tool's own browser download cannot work here),
with the flags that keep it from reaching for the network and from needing a sandbox as root."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def chromium_options(profile: Path, extra: Iterable[str] = ()) -> Any:
    """Selenium options for headless Chromium with a fresh profile folder."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*_FLAGS, *extra, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return options


def chromedriver_service() -> Any:
    from selenium import webdriver

    return webdriver.ChromeService(executable_path=CHROMEDRIVER)

"""A real headless browser for the tests: Debian's Chromium driven by Playwright (no browser download).

`.ci/run` installs the `chromium` package and sets FINOPS_REQUIRE_BROWSER=1, so on CI a missing browser fails the
test instead of skipping it."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Iterator, Optional

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# this machine has no network: Chromium's background services would only fail, many connections at a time
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def chromium_path() -> Optional[str]:
    for candidate in (os.environ.get("FINOPS_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium",
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("FINOPS_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required (FINOPS_REQUIRE_BROWSER=1) but was not found")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    return path


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 1000) -> Iterator["object"]:
    """A Playwright page in headless Debian Chromium."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def artifact(name: str) -> Path:
    """Where a test keeps what a person may want to look at afterwards (screenshots); git-ignored."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name

"""Headless Chromium (Debian's) through Playwright, for tests marked ``browser``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def browser(monkeypatch):
    """Per test, not per session: Playwright's sync API keeps an event loop running in this
    thread while it is open, which would break the suite's asyncio tests that follow."""
    # Django refuses ORM calls from a thread with a running loop unless told this is
    # deliberate; the tests use the ORM between browser steps, never concurrently.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(browser, request) -> Iterator:
    """A fresh page (own cookies and storage); ``page.screenshot_as(name)`` keeps a picture."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    test_name = re.sub(r"[^\w.-]+", "_", request.node.name)

    def screenshot_as(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{test_name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    page.screenshot_as = screenshot_as
    yield page
    context.close()

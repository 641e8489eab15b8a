"""Headless Chromium (Debian's) through Playwright, for tests marked ``browser``."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, clean_environment
from tests.services import free_port

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
    # Every page is sent a Content-Security-Policy; what it blocks, Chromium says on the console.
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert not blocked, f"the Content-Security-Policy blocked something: {blocked}"


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("daphne did not start listening")


@pytest.fixture
def daphne(worker_env, tmp_path: Path):
    """The real ASGI server (HTTP and WebSockets) on the test database; stopped after the test."""
    port = free_port()
    env = clean_environment({**worker_env, "SECRET_KEY": "browser-" + "x" * 50})
    env["SECURE_SSL_REDIRECT"] = "0"
    log = (tmp_path / "daphne.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "appliance.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def signed_in(browser_page, live_server, django_user_model):
    """A browser page signed in as a staff operator, on the dashboard."""
    django_user_model.objects.create_user("operator", password="a-long-pass", is_staff=True)
    return sign_in(browser_page, live_server.url, "operator", "a-long-pass")


def sign_in(page, base_url: str, username: str, password: str):
    """Sign in through the login form, as a person does; the page ends on the dashboard."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit], form button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page

"""End to end: a line said on a real IRC server appears in a reader's browser, live.

ngircd, `manage.py runbot`, daphne and Chromium, all real: the human speaks on IRC,
the bot logs the line, and the channel's today page shows it without reloading; its
permalink opens the day with the line highlighted, and a search finds it.
"""

from __future__ import annotations

import socket
import time

import pytest
from playwright.sync_api import expect

from botadmin.models import Channel, Network
from tests.botadmin.test_runbot import start_runbot
from tests.infobot.conftest import ngircd

pytestmark = [pytest.mark.browser, pytest.mark.integration]


class BlockingHuman:
    """A plain-socket IRC client for a synchronous (Playwright) test."""

    def __init__(self, port: int, nick: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.send(f"NICK {nick}", f"USER {nick} 0 * :human")
        self.expect(" 001 ")

    def send(self, *lines: str) -> None:
        self.sock.sendall(b"".join(line.encode() + b"\r\n" for line in lines))

    def expect(self, needle: str, seconds: float = 15) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            while b"\r\n" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\r\n", 1)
                line = raw.decode("utf-8", "replace")
                if line.startswith("PING "):
                    self.send("PONG " + line[5:])
                if needle in line:
                    return line
            self.buffer += self.sock.recv(4096)
        raise TimeoutError(needle)

    def wait_for_bot(self, channel: str, nick: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.send(f"NAMES {channel}")
            if nick in self.expect(" 353 ").split(":", 2)[-1].replace("@", "").split():
                return
            time.sleep(0.3)
        raise TimeoutError(f"{nick} never joined {channel}")


ircd = ngircd  # one real ngircd per test


@pytest.fixture
def runbot(ircd, worker_env):
    network = Network.objects.create(
        name="local", host="127.0.0.1", port=ircd.port, tls=False, nick="logbot"
    )
    Channel.objects.create(network=network, name="#live")
    process = start_runbot(worker_env)
    yield process
    process.terminate()
    process.wait(timeout=20)


def test_a_line_said_on_irc_appears_on_the_channel_page_without_reloading(
    ircd,
    runbot,
    daphne,
    browser_page,  # noqa: F811
):
    human = BlockingHuman(ircd.port, "dana")
    human.send("JOIN #live")
    human.expect(" 366 ")
    human.wait_for_bot("#live", "logbot")
    page = browser_page
    page.goto(f"{daphne}/logs/local/live/")
    expect(page.locator("#live-state")).to_have_text("live", timeout=30000)  # no eval: CSP
    human.send("PRIVMSG #live :straight from IRC to the browser")
    live = page.wait_for_selector(
        "#log li:has-text('straight from IRC to the browser')", timeout=20000
    )
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    page.screenshot_as("irc-live-tail")
    line_id = live.get_attribute("id")
    human.sock.close()

    # The live line's permalink opens its day with that line highlighted.
    live.query_selector("a.stamp").click()
    page.wait_for_url(f"**/logs/local/live/*/?page=*#{line_id}")
    assert_highlighted(page, line_id, "straight from IRC to the browser")

    # And a search finds it, linking back to the same line.
    page.fill("input[type=search]", '"from IRC to the browser"')
    page.press("input[type=search]", "Enter")
    results = page.locator(".results > .result")
    expect(results).to_have_count(1)
    assert "straight from IRC to the browser" in results.first.inner_text()
    page.screenshot_as("irc-search")
    results.first.locator("a.where").click()
    page.wait_for_url(f"**#{line_id}")
    assert_highlighted(page, line_id, "straight from IRC to the browser")


def assert_highlighted(page, line_id: str, text: str) -> None:
    target = page.locator(":target")
    assert target.get_attribute("id") == line_id
    assert text in target.inner_text()
    background = target.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background not in ("", "rgba(0, 0, 0, 0)", "transparent")

"""The zone editor in real headless Chromium, with `rundns` answering dig from the same data."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.dnsadmin.test_rundns import start_rundns, stop

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# The issue: a saved record is answered by dig "within a second". The worker reconciles
# from the database every second (the whole mechanism on SQLite, no cross-process
# layer), so from the commit the answer takes at most that second plus a zone reload.
# The clock starts at the click, before the commit: the extra half second covers the
# browser's POST and the view's transaction, which come before the save is done, and a
# zone reload slowed by a busy machine.
# Measured on 2 busy cores (20 runs): the commit about 0.1 s after the click, dig's answer
# 0.15-1.2 s after it, depending on where in its second the worker's reconcile was.
RECONCILE_MS = 1000
SAVE_TO_ANSWER = 1.5


@pytest.fixture
def rundns(worker_env):
    # The reconcile interval pinned to its default, whatever the caller's environment says.
    # Loopback may not recurse: asked before the new zone is loaded, rundns answers REFUSED
    # at once, where recursion (no network here) would hold that dig for its whole timeout.
    env = {**worker_env, "RECONCILE_INTERVAL_MS": str(RECONCILE_MS)}
    server = start_rundns(env, "--allow-recursion", "192.0.2.0/24")
    yield server
    if server.process.poll() is None:
        stop(server)


def seconds_until(predicate: Callable[[], bool], started: float, limit: float) -> float | None:
    """Seconds from ``started`` until predicate held, or None if not within ``limit``."""
    while (elapsed := time.monotonic() - started) <= limit:
        if predicate():
            return elapsed
        time.sleep(0.02)
    return None


def kept(path: Path, since: float) -> bool:
    """The screenshot was written by this run, not left over from an earlier one."""
    return path.is_file() and path.stat().st_size > 0 and path.stat().st_mtime >= since


def test_a_zone_and_record_made_in_the_browser_are_answered_by_dig(signed_in, live_server, rundns):
    page, started = signed_in, time.time() - 1  # file times may be rounded down
    page.goto(f"{live_server.url}/dns/zones/")
    page.fill("#id_origin", "browser.test")
    page.fill("#id_primary_ns", "ns1.browser.test.")
    page.fill("#id_contact", "hostmaster@browser.test")
    page.fill("#id_default_ttl", "300")
    page.click("text=Create zone")
    assert page.locator("h1").inner_text() == "browser.test."

    page.select_option("#add-type", "A")
    page.click("button:text('Add')")
    page.fill("#id_owner", "www")
    page.fill("#id_address", "192.0.2.300")
    page.click("button:text('Save now')")
    assert page.locator("#id_address-errors").inner_text() == "Enter a valid IPv4 address."
    shots = [page.screenshot_as("inline-error")]

    page.fill("#id_address", "192.0.2.44")
    clicked = time.monotonic()
    page.click("button:text('Save now')")
    answered = seconds_until(
        lambda: rundns.short("www.browser.test", "A") == "192.0.2.44", clicked, SAVE_TO_ANSWER
    )
    assert answered is not None, f"dig did not see the record {SAVE_TO_ANSWER} s after the save"
    row = page.locator("table.records tr", has_text="192.0.2.44")
    # The name as served: the owner with the zone's origin after it.
    assert row.locator("td.mono").first.inner_text() == "www.browser.test."
    shots.append(page.screenshot_as("zone-page"))
    serial = page.locator("#serial").inner_text()
    assert rundns.short("browser.test", "SOA").split()[2] == serial

    page.click("a:text('History')")
    assert page.locator("section.change").first.inner_text().count("by operator via web") == 1
    shots.append(page.screenshot_as("history"))
    assert all(kept(path, started) for path in shots), shots

"""The zone editor in real headless Chromium, with `rundns` answering dig from the same data."""

from __future__ import annotations

import pytest

from tests.dnsadmin.test_rundns import start_rundns, stop, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def rundns(worker_env):
    server = start_rundns(worker_env)
    yield server
    if server.process.poll() is None:
        stop(server)


@pytest.fixture
def signed_in(browser_page, live_server, django_user_model):
    django_user_model.objects.create_user("operator", password="a-long-pass", is_staff=True)
    page = browser_page
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "a-long-pass")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def test_a_zone_and_record_made_in_the_browser_are_answered_by_dig(signed_in, live_server, rundns):
    page = signed_in
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
    page.screenshot_as("inline-error")

    page.fill("#id_address", "192.0.2.44")
    page.click("button:text('Save now')")
    row = page.locator("table.records tr", has_text="192.0.2.44")
    assert row.locator("td").first.inner_text() == "www"
    page.screenshot_as("zone-page")

    assert wait_for(lambda: rundns.short("www.browser.test", "A") == "192.0.2.44", 3)
    serial = page.locator("#serial").inner_text()
    assert rundns.short("browser.test", "SOA").split()[2] == serial

    page.click("a:text('History')")
    assert page.locator("section.change").first.inner_text().count("by operator via web") == 1
    page.screenshot_as("history")

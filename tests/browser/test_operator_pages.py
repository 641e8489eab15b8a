"""Pages as an operator meets them in Chromium: the form traps, the dashboard's charts, and a
layout that works 390 px wide as well as on a desktop."""

from __future__ import annotations

import pytest
from django.utils import timezone

from botadmin.models import Channel, LogLine, Network, Seen
from dnsadmin.changes import import_zone
from dnsadmin.models import QueryStats, Zone
from dnsadmin.zonefile import parse_zone_text
from tests.dnsadmin.conftest import ZONE

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def example(db) -> Zone:
    return import_zone(parse_zone_text(ZONE))[0]


def add_record(page, base: str, zone: Zone, rdtype: str, fields: dict[str, str]) -> None:
    page.goto(f"{base}/dns/zones/{zone.pk}/records/add/?type={rdtype}")
    for name, value in fields.items():
        page.fill(f"[name={name}]", value)
    page.click("button[value=apply]")


def test_names_txt_quotes_and_ttl_changes_behave_in_the_browser(signed_in, live_server, example):
    page, base = signed_in, live_server.url
    add_record(page, base, example, "CNAME", {"owner": "alias", "target": "example.com"})
    page.wait_for_url(f"{base}/dns/zones/{example.pk}/")
    assert example.records.get(owner="alias").rdata == "example.com."
    add_record(page, base, example, "TXT", {"owner": "@", "text": '"v=spf1 -all"'})
    page.wait_for_url(f"{base}/dns/zones/{example.pk}/")
    assert example.records.get(rdtype="TXT").rdata == '"v=spf1 -all"'
    add_record(page, base, example, "A", {"owner": "www", "address": "192.0.2.81", "ttl": "60"})
    notice = page.locator("#ttl-notice")
    assert "sets all 2 to 60" in notice.inner_text()
    assert set(example.records.filter(owner="www").values_list("ttl", flat=True)) == {None}
    page.click("button[value=apply]")
    page.wait_for_url(f"{base}/dns/zones/{example.pk}/")
    assert set(example.records.filter(owner="www").values_list("ttl", flat=True)) == {60}


def test_the_dashboard_draws_its_charts_from_local_files(signed_in, live_server, example):
    QueryStats.objects.create(minute=timezone.now(), rcode="NOERROR", source="authority", count=60)
    page = signed_in
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/")
    page.wait_for_selector(".chart[data-drawn] canvas")
    assert page.locator(".chart[data-series=rcode]").get_attribute("data-drawn") == "1"
    page.click("[data-range=week]")
    page.wait_for_selector(".chart[data-series=source] canvas")
    assert all(url.startswith(live_server.url) for url in requested)  # no CDN


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_pages_fit_the_screen_and_keep_their_actions(signed_in, live_server, example, viewport):
    page = signed_in
    page.set_viewport_size(viewport)
    for path in ("/", "/dns/zones/", f"/dns/zones/{example.pk}/", "/dns/queries/", "/logs/"):
        page.goto(live_server.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
        assert page.locator("nav[aria-label=Main] a").first.is_visible(), path
    page.goto(f"{live_server.url}/dns/zones/{example.pk}/")
    edit = page.locator("td.actions a", has_text="edit").first
    edit.scroll_into_view_if_needed()
    assert edit.is_visible()
    page.screenshot_as(f"zone-{viewport['width']}")


def test_an_import_says_what_is_wrong_and_merges_records_without_an_soa(
    signed_in, live_server, example
):
    page = signed_in
    page.goto(f"{live_server.url}/dns/zones/{example.pk}/import/")
    page.fill("#id_text", "$ORIGIN example.net.\n$TTL 300\nwww IN A 192.0.2.1\n")
    page.click("button[name=preview]")
    assert "$ORIGIN example.net. is outside the zone example.org." in page.content()
    page.fill("#id_text", "$TTL 300\nextra IN AAAA 192.0.2.1\n")
    page.click("button[name=preview]")
    assert "is not an IPv6 address such as 2001:db8::1" in page.locator(".errorlist").inner_text()
    page.fill("#id_text", "$TTL 300\nextra IN A 192.0.2.9\n")
    page.click("button[name=preview]")
    page.click("button[name=apply]")
    page.wait_for_url(f"{live_server.url}/dns/zones/{example.pk}/")
    assert example.records.filter(owner="extra", rdata="192.0.2.9").exists()


def test_seen_and_the_channel_filter_tell_what_the_reader_may_see(signed_in, live_server):
    network = Network.objects.create(name="libera", host="irc.example.org")
    public = Channel.objects.create(network=network, name="#python")
    secret = Channel.objects.create(network=network, name="#secret", public=False)
    when = timezone.now()
    LogLine.objects.create(channel=public, time=when, nick="alice", kind="message", text="hi all")
    LogLine.objects.create(channel=secret, time=when, nick="alice", kind="message", text="hi ops")
    Seen.objects.create(
        network=network, nick="alice", display_nick="alice", channel="#secret", public=False,
        time=when, text="hi ops",
    )  # fmt: skip
    page = signed_in
    page.goto(f"{live_server.url}/logs/seen/?nick=alice")
    body = page.locator("main").inner_text()
    assert "#python" in body and "hi all" in body and "hi ops" not in body
    page.goto(f"{live_server.url}/logs/search/?q=hi&channel=%23python")
    results = page.locator("ol.results").inner_text()
    assert "hi all" in results and "hi ops" not in results
    assert page.locator("#result-count").inner_text() == "1 line found."

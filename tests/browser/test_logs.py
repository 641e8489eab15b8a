"""The published logs in real headless Chromium: live tail, permalinks, search, toggles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from botadmin.models import Channel, LogLine, Network
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def channel() -> Channel:
    network = Network.objects.create(name="libera", host="irc.example.org")
    return Channel.objects.create(network=network, name="#python")


def add_line(channel: Channel, text: str, when: datetime | None = None, **kw) -> LogLine:
    return LogLine.objects.create(
        channel=channel,
        time=when or datetime.now(UTC),
        nick=kw.pop("nick", "alice"),
        kind=kw.pop("kind", "message"),
        text=text,
    )


def test_a_new_line_appears_on_todays_page_without_reloading(daphne, browser_page, channel):
    add_line(channel, "already there")
    page = browser_page
    page.goto(f"{daphne}/logs/libera/python/")
    page.wait_for_selector("#log li:has-text('already there')")
    expect(page.locator("#live-state")).to_have_text("live", timeout=30000)  # no eval: CSP
    line = add_line(channel, "fresh <b>news</b> https://example.org/x")
    arrived = page.wait_for_selector(f"#l{line.pk}", timeout=15000)
    assert "fresh <b>news</b>" in arrived.inner_text()
    assert arrived.query_selector("a[rel='nofollow noopener']") is not None
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    page.screenshot_as("live-tail")


def test_a_permalink_opens_the_day_with_the_line_highlighted(live_server, browser_page, channel):
    day = datetime(2024, 5, 17, tzinfo=UTC)
    for i in range(30):
        add_line(channel, f"filler {i}", when=day + timedelta(minutes=i))
    target = add_line(channel, "the line to find", when=day + timedelta(hours=2))
    page = browser_page
    page.goto(f"{live_server.url}/logs/line/{target.pk}/")
    assert page.url.endswith(f"/logs/libera/python/2024-05-17/?page=1#l{target.pk}")
    highlighted = page.locator(f"#l{target.pk}")
    colour = highlighted.evaluate("el => getComputedStyle(el).backgroundColor")
    plain = page.locator("#log li").first.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour != plain
    page.screenshot_as("permalink")


def test_search_finds_the_line_and_links_to_it(live_server, browser_page, channel):
    add_line(channel, "asyncio event loop question", when=datetime(2024, 5, 17, 9, tzinfo=UTC))
    add_line(channel, "something else", when=datetime(2024, 5, 17, 10, tzinfo=UTC))
    page = browser_page
    page.goto(f"{live_server.url}/logs/libera/python/2024-05-17/")
    page.fill("input[type=search]", '"event loop"')
    page.press("input[type=search]", "Enter")
    page.wait_for_selector(".results")
    results = page.locator(".results > .result")
    assert results.count() == 1
    assert "asyncio event loop question" in results.first.inner_text()
    page.screenshot_as("search")
    results.first.locator("a.where").click()
    page.wait_for_url("**/2024-05-17/**")
    assert "asyncio event loop question" in page.locator(":target").inner_text()


def test_local_time_and_hidden_joins_are_toggled_and_remembered(live_server, browser, channel):
    when = datetime(2024, 5, 17, 9, 30, 5, tzinfo=UTC)
    add_line(channel, "", nick="bob", kind="join", when=when)
    line = add_line(channel, "hello", when=when + timedelta(seconds=1))
    # A reader in Tokyo (UTC+9, no daylight saving): their time differs by nine hours.
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB")
    page = context.new_page()
    page.goto(f"{live_server.url}/logs/libera/python/2024-05-17/")
    stamp = page.locator(f"#l{line.pk} time")
    expect(stamp).to_have_text("09:30:06")
    assert "18:30:06" in stamp.get_attribute("title")
    assert page.locator("li.presence").is_visible()
    expect(page.locator("[data-zone-label]")).to_have_text("(UTC)")
    page.check("#local-times")
    page.check("#hide-presence")
    expect(stamp).to_have_text("18:30:06")
    expect(page.locator("[data-zone-label]")).to_have_text(
        "(a UTC day; times in your zone, Asia/Tokyo)"
    )
    expect(page.locator("li.presence")).to_be_hidden()
    page.reload()
    assert page.is_checked("#local-times") and page.is_checked("#hide-presence")
    expect(stamp).to_have_text("18:30:06")
    expect(page.locator("li.presence")).to_be_hidden()
    expect(page.locator("li.k-message")).to_be_visible()
    page.uncheck("#local-times")
    expect(stamp).to_have_text("09:30:06")
    context.close()


def test_the_bot_page_shows_a_networks_connection_as_it_changes(
    live_server, browser_page, channel, django_user_model
):
    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from appliance.models import WorkerStatus

    staff = django_user_model.objects.create_user("boss", password="pw", is_staff=True)
    client = Client()
    client.force_login(staff)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page = browser_page
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/bot/")
    status = page.locator("section.network[data-network='libera'] [data-field='nick']")
    assert status.inner_text() == "–"
    state = {"connected": True, "nick": "infobot_7", "last_error": None, "lag": 0.1}
    WorkerStatus.objects.create(
        kind="bot",
        host="box",
        pid=1,
        last_seen=timezone.now(),
        details={"networks": {"libera": {**state, "name": "libera", "channels": []}}},
    )
    expect(status).to_have_text("infobot_7", timeout=15000)
    assert "connected" in page.locator("[data-field='connected']").inner_text()
    page.screenshot_as("bot-status")


def test_log_text_keeps_its_spaces_and_badges_look_as_elsewhere(
    live_server, browser_page, channel, django_user_model
):
    from django.conf import settings
    from django.test import Client

    channel.public = False
    channel.save()
    Network.objects.create(name="oftc", host="irc.oftc.net", enabled=False)
    line = add_line(channel, "a  table:   x    y " * 20, when=datetime(2024, 5, 17, 9, tzinfo=UTC))
    client = Client()
    client.force_login(django_user_model.objects.create_user("boss", is_staff=True))
    page = browser_page
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/logs/libera/python/2024-05-17/")
    text = page.locator(f"#l{line.pk} .text")
    assert text.inner_text() == line.text
    assert text.evaluate("el => el.getClientRects().length") > 1  # still wraps in the column
    look = "el => { const s = getComputedStyle(el); return [s.fontSize, s.padding, s.background]; }"
    on_logs = page.locator(".badge", has_text="private").evaluate(look)
    page.goto(f"{live_server.url}/bot/")
    assert page.locator(".badge", has_text="disabled").evaluate(look) == on_logs


def signed_in_page(page, base_url: str, django_user_model, **flags):
    """Sign a staff reader in through the login form, as a person does."""
    django_user_model.objects.create_user("boss", password="pw", is_staff=True, **flags)
    return sign_in(page, base_url, "boss", "pw")


def test_a_private_tail_stops_and_says_why_when_the_reader_signs_out(
    daphne, browser_page, channel, django_user_model
):
    channel.public = False
    channel.save()
    page = signed_in_page(browser_page, daphne, django_user_model)
    page.goto(f"{daphne}/logs/libera/python/")
    expect(page.locator("#live-state")).to_have_text("live", timeout=30000)  # no eval: CSP
    line = add_line(channel, "for staff")
    page.wait_for_selector(f"#l{line.pk}", timeout=15000)
    other = page.context.new_page()  # the same reader signs out in another tab
    other.goto(f"{daphne}/")
    other.click("text=Log out")
    other.wait_for_url("**/accounts/login/**")
    state = page.locator("#live-state")
    expect(state).to_contain_text("you signed out or no longer have access", timeout=15000)
    page.screenshot_as("tail-access-ended")


def test_a_line_deleted_from_the_log_leaves_the_open_page(daphne, browser_page, channel):
    page = browser_page
    page.goto(f"{daphne}/logs/libera/python/")
    expect(page.locator("#live-state")).to_have_text("live", timeout=30000)  # no eval: CSP
    spam, kept = add_line(channel, "buy cheap watches"), add_line(channel, "a real question")
    page.wait_for_selector(f"#l{kept.pk}", timeout=15000)
    spam.delete()  # as a REDACT from the server, or an erasure request, does
    expect(page.locator(f"#l{spam.pk}")).to_have_count(0, timeout=15000)
    expect(page.locator(f"#l{kept.pk}")).to_have_count(1)


def test_daphne_refuses_a_websocket_from_another_origin(daphne, channel):
    import socket
    from urllib.parse import urlsplit

    port = urlsplit(daphne).port

    def handshake(origin: str) -> str:
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            sock.sendall(
                (
                    f"GET /ws/logs/{channel.pk}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                    f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: {origin}\r\n\r\n"
                ).encode()
            )
            return sock.recv(4096).decode("latin-1").split("\r\n", 1)[0]

    assert " 101 " in handshake(f"http://127.0.0.1:{port}")
    assert " 403 " in handshake(f"http://127.0.0.1:{port + 1}")
    assert " 403 " in handshake(f"https://127.0.0.1:{port}")

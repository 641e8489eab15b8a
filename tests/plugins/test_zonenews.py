"""The zonenews plugin over fake networks and an in-memory change feed."""

from __future__ import annotations

import pytest

from botadmin.infobot import MemoryStorage, PluginSetting, Storage
from botadmin.infobot.zonefeed import MemoryZoneChangeFeed, ZoneChangeFeed, ZoneChangeNews
from botadmin.plugins.zonenews import ZoneNews, summarize
from tests.plugins.fakenets import FakeNetworks

ZONES = {"example.org.": ["A/#ops", "B/#dns"], "other.net": ["A/#other"]}
CHANNELS = {"A": ["#ops", "#other"], "B": ["#dns"]}
# An hour between polls: in these tests only the feed's ring (or a direct poll) acts.
SETTINGS = [PluginSetting("zonenews", config={"zones": ZONES, "interval": 3600})]


def news(serial: int, origin: str = "example.org.") -> ZoneChangeNews:
    return ZoneChangeNews(origin, serial, [(f"www.{origin}", "A", "192.0.2.7")])


@pytest.fixture
def feed() -> MemoryZoneChangeFeed:
    return MemoryZoneChangeFeed()


@pytest.fixture
async def shards(feed):
    """Make bots sharing one feed and one Storage, each on the networks it is given."""
    made: list[FakeNetworks] = []
    storage = MemoryStorage()

    async def make(channels: dict = CHANNELS, settings=SETTINGS) -> FakeNetworks:
        components = {ZoneChangeFeed: feed, Storage: storage}
        nets = FakeNetworks(channels, [ZoneNews], list(settings), components)
        await nets.start(*channels)
        made.append(nets)
        return nets

    yield make
    for nets in made:
        await nets.stop()


def test_a_summary_names_each_record_relative_to_the_zone():
    item = ZoneChangeNews(
        "example.org.", 2026112502, [("www.example.org.", "A", "192.0.2.7")],
        [("old.example.org.", "CNAME", "")],
    )  # fmt: skip
    assert summarize(item, 5) == "example.org serial 2026112502: +www A 192.0.2.7, -old CNAME"
    apex = ZoneChangeNews("example.org", 7, [("example.org.", "MX", "10 mx")] * 3)
    assert summarize(apex, 2) == "example.org serial 7: +@ MX 10 mx, +@ MX 10 mx and 1 more"
    assert summarize(ZoneChangeNews("example.org.", 8, note="Settings: refresh"), 5) == (
        "example.org serial 8: Settings: refresh"
    )


async def test_the_very_first_change_after_setup_is_announced(feed, shards):
    nets = await shards()
    await feed.record(news(1))
    assert nets.links["A"].sent == ["PRIVMSG #ops :example.org serial 1: +www A 192.0.2.7"]
    assert nets.links["B"].sent == ["PRIVMSG #dns :example.org serial 1: +www A 192.0.2.7"]


async def test_changes_made_before_the_plugin_was_first_set_up_are_not_announced(feed, shards):
    for serial in (1, 2):
        await feed.record(news(serial))
    nets = await shards()
    await feed.record(news(3))
    assert nets.texts("A") == ["example.org serial 3: +www A 192.0.2.7"]


async def test_each_change_goes_to_its_zones_channels_once(feed, shards):
    nets = await shards()
    await feed.record(news(1, "other.net."))
    await feed.ring()
    await nets.plugin("zonenews").poll()
    await feed.record(news(2, "elsewhere.example."))
    assert nets.links["A"].sent == ["PRIVMSG #other :other.net serial 1: +www A 192.0.2.7"]
    assert nets.links["B"].sent == []


async def test_a_change_whose_ring_was_lost_is_announced_at_the_next_poll(feed, shards):
    nets = await shards()
    feed.news.append(news(1))  # recorded, but nobody rang
    assert nets.links["A"].sent == []
    await nets.plugin("zonenews").poll()
    assert nets.texts("A") == ["example.org serial 1: +www A 192.0.2.7"]


async def test_a_restart_neither_repeats_nor_skips_a_change(feed, shards):
    first = await shards()
    await feed.record(news(1))
    await first.stop()
    feed.news.append(news(2))  # made while the bot was down
    second = await shards()
    await second.plugin("zonenews").poll()
    assert first.texts("A") == ["example.org serial 1: +www A 192.0.2.7"]
    assert second.texts("A") == ["example.org serial 2: +www A 192.0.2.7"]


async def test_each_shard_announces_on_the_networks_it_holds(feed, shards):
    one = await shards({"A": CHANNELS["A"]})
    two = await shards({"B": CHANNELS["B"]})
    await feed.record(news(1))
    await feed.ring()
    assert one.texts("A") == ["example.org serial 1: +www A 192.0.2.7"]
    assert two.texts("B") == ["example.org serial 1: +www A 192.0.2.7"]


async def test_a_network_configured_later_starts_its_news_then(feed, shards):
    settings = [PluginSetting("zonenews", config={"zones": {}, "interval": 3600})]
    nets = await shards(settings=settings)
    await feed.record(news(1))
    await nets.host.apply(SETTINGS)
    await nets.plugin("zonenews").poll()
    await feed.record(news(2))
    assert nets.texts("B") == ["example.org serial 2: +www A 192.0.2.7"]


async def test_without_a_feed_the_plugin_loads_and_stays_quiet(caplog):
    nets = FakeNetworks(CHANNELS, [ZoneNews], SETTINGS)
    await nets.start("A")
    assert "zonenews" in nets.host.loaded
    assert "no ZoneChangeFeed component" in caplog.text
    await nets.stop()

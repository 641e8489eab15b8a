"""The database-backed stores behave like the engine's in-memory ones."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from botadmin import bridge
from botadmin.infobot.logwriter import LogRecord, LogWriter
from botadmin.infobot.stores import IgnoreEntry, SeenEntry, StaleVersion
from botadmin.models import Channel, Ignore, LogLine, Network, PluginSetting

pytestmark = pytest.mark.django_db(transaction=True)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def network():
    network = Network.objects.create(name="local", host="127.0.0.1", port=6667, tls=False)
    Channel.objects.create(network=network, name="#Python")
    Channel.objects.create(network=network, name="#secret", public=False, logged=True)
    Channel.objects.create(network=network, name="#off", enabled=False)
    return network


async def test_storage_versions_values_and_refuses_stale_writes():
    storage = bridge.DatabaseStorage()
    assert await storage.get("pypi", "watch") is None
    assert await storage.put("pypi", "watch", {"django": "5.2"}) == 1
    assert await storage.put("pypi", "watch", {"django": "6.0"}, version=1) == 2
    with pytest.raises(StaleVersion):
        await storage.put("pypi", "watch", {"django": "stale"}, version=1)
    with pytest.raises(StaleVersion):
        await storage.put("pypi", "watch", {"new": True})  # version 0 means "absent"
    stored = await storage.get("pypi", "watch")
    assert (stored.value, stored.version) == ({"django": "6.0"}, 2)


async def test_seen_keeps_the_latest_line_per_folded_nick(network):
    seen = bridge.DatabaseSeenStore()
    await seen.put(
        [
            SeenEntry("local", "Alice", "#Python", NOW, "hello"),
            SeenEntry("local", "alice", "#secret", NOW + timedelta(1), "psst", public=False),
        ]
    )
    entry = await seen.get("local", "ALICE")
    assert (entry.nick, entry.channel, entry.text, entry.public) == (
        "alice",
        "#secret",
        "psst",
        False,
    )
    assert await seen.get("local", "bob") is None


async def test_ignores_are_added_replaced_listed_and_removed(network):
    ignores = bridge.DatabaseIgnoreStore()
    await ignores.add(IgnoreEntry("*!*@spam.example", "local", None, NOW, "op"))
    await ignores.add(IgnoreEntry("*!*@SPAM.example", "local", None, None, "op2"))
    await ignores.add(IgnoreEntry("$a:troll"))
    entries = await ignores.load()
    assert sorted((e.mask, e.network, e.expires) for e in entries) == [
        ("$a:troll", None, None),
        ("*!*@SPAM.example", "local", None),
    ]
    assert await ignores.remove(IgnoreEntry("*!*@spam.example", "local"))
    assert not await ignores.remove(IgnoreEntry("*!*@spam.example", "local"))
    assert await Ignore.objects.acount() == 1


async def test_log_lines_are_written_in_one_batch_to_their_channel(network, caplog):
    sink = bridge.DatabaseLogSink()
    with caplog.at_level(logging.WARNING):
        await sink.write(
            [
                LogRecord("local", "#python", NOW, "alice", "message", "hi", "alice", "m1"),
                LogRecord("local", "#PYTHON", NOW, "bob", "action", "waves"),
                LogRecord("local", "#unknown", NOW, "eve", "message", "dropped: not configured"),
            ]
        )
    assert await logged_lines() == [("#Python", "alice", "hi"), ("#Python", "bob", "waves")]
    assert "1 log lines dropped: no channel #unknown on local" in caplog.text


async def logged_lines() -> list[tuple[str, str, str]]:
    return [
        (line.channel.name, line.nick, line.text)
        async for line in LogLine.objects.select_related("channel").order_by("id")
    ]


async def test_lines_for_a_channel_deleted_meanwhile_are_dropped_and_logging_goes_on(
    network, caplog
):
    writer = LogWriter(bridge.DatabaseLogSink())
    writer.add(LogRecord("local", "#secret", NOW, "alice", "message", "first"))
    assert await writer.flush()  # the sink now remembers #secret's id
    await Channel.objects.filter(name="#secret").adelete()
    writer.add(LogRecord("local", "#secret", NOW, "alice", "message", "gone with it"))
    writer.add(LogRecord("local", "#python", NOW, "bob", "message", "kept"))
    with caplog.at_level(logging.WARNING):
        assert await writer.flush()
    writer.add(LogRecord("local", "#python", NOW, "bob", "message", "and after"))
    assert await writer.flush()
    assert await logged_lines() == [("#Python", "bob", "kept"), ("#Python", "bob", "and after")]
    assert "no channel #secret on local" in caplog.text


async def test_a_channel_is_looked_up_again_once_added_or_recreated(network):
    sink = bridge.DatabaseLogSink()
    await sink.write([LogRecord("local", "#new", NOW, "alice", "message", "too early")])
    await Channel.objects.acreate(network=network, name="#new")
    await sink.write([LogRecord("local", "#new", NOW, "alice", "message", "now logged")])
    await Channel.objects.filter(name="#new").adelete()
    await Channel.objects.acreate(network=network, name="#new")
    await sink.write([LogRecord("local", "#new", NOW, "alice", "message", "in the new one")])
    assert await logged_lines() == [("#new", "alice", "in the new one")]
    assert await LogLine.objects.acount() == 1  # the first one went with the deleted channel


async def test_a_replayed_line_the_dead_run_had_stored_is_not_stored_twice(network):
    sink = bridge.DatabaseLogSink()
    stored = LogRecord("local", "#python", NOW, "alice", "message", "stored, then killed")
    await sink.write([stored])
    await sink.write(
        [
            replace(stored, replayed=True),
            LogRecord("local", "#python", NOW, "alice", "message", "not yet", replayed=True),
        ]
    )
    assert await logged_lines() == [
        ("#Python", "alice", "stored, then killed"),
        ("#Python", "alice", "not yet"),
    ]


def test_configuration_is_loaded_as_the_engines_dataclasses(network):
    PluginSetting.objects.create(plugin="dig", enabled=False)
    PluginSetting.objects.create(
        plugin="dig", channel=Channel.objects.get(name="#secret"), config={"server": "127.0.0.1:53"}
    )
    [config] = bridge.load_networks()
    assert (config.name, config.port, config.tls) == ("local", 6667, False)
    assert [(c.name, c.public) for c in config.channels] == [("#Python", True), ("#secret", False)]
    settings = sorted(bridge.load_plugin_settings(), key=lambda s: s.specificity)
    assert [(s.plugin, s.enabled, s.network, s.channel) for s in settings] == [
        ("dig", False, None, None),
        ("dig", True, "local", "#secret"),
    ]
    assert bridge.load_networks(["other"]) == []

"""`manage.py runbot` against a real ngircd: logs to the database, follows configuration."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import pytest
from asgiref.sync import sync_to_async

from botadmin.models import Channel, LogLine, Network, Plugin, Seen, StoredValue
from tests.conftest import ROOT, clean_environment
from tests.infobot.conftest import Human, ngircd

pytestmark = pytest.mark.integration


ircd = ngircd  # one real ngircd per test, under the name the bot tests use


@pytest.fixture
def network(ircd, transactional_db):
    network = Network.objects.create(
        name="local", host="127.0.0.1", port=ircd.port, tls=False, nick="applbot"
    )
    Channel.objects.create(network=network, name="#test")
    return network


def start_runbot(env: dict[str, str], *networks: str) -> subprocess.Popen:
    """Start a runbot process; given networks, a shard that serves only those."""
    options = [arg for name in networks for arg in ("--network", name)]
    return subprocess.Popen(
        [sys.executable, "manage.py", "runbot", *options],
        cwd=ROOT,
        env=clean_environment(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture
def runbot(network, worker_env):
    process = start_runbot(worker_env)
    yield process
    kill(process)


async def eventually(check, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await sync_to_async(check)():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {check.__doc__ or check}")


async def joined(human: Human, channel: str) -> None:
    await human.send(f"JOIN {channel}")
    await human.expect(" 366 ")


async def bot_is_in(human: Human, channel: str, nick: str = "applbot", seconds: float = 20) -> None:
    """Ask NAMES until the bot is listed: it may have joined before or after the human."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await human.send(f"NAMES {channel}")
        names = await human.expect(" 353 ")
        if nick in names.split(":", 2)[-1].replace("@", "").split():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{nick} did not join {channel}")


async def test_the_bot_logs_a_channel_to_the_database_and_answers(ircd, runbot):
    human = await Human("alice").connect(ircd.port)
    try:
        await joined(human, "#test")
        await bot_is_in(human, "#test")
        await human.send("PRIVMSG #test :hello from alice", "PRIVMSG #test :!seen alice")
        await human.expect("PRIVMSG #test :", timeout=15)

        def logged() -> bool:
            """alice's line is in the log"""
            return LogLine.objects.filter(nick="alice", text="hello from alice").exists()

        await eventually(logged)
        line = await LogLine.objects.select_related("channel").aget(text="hello from alice")
        assert (line.channel.name, line.kind) == ("#test", "message")
        assert await LogLine.objects.filter(nick="applbot").aexists()  # its own replies too
        assert await Plugin.objects.filter(name="seen", available=True).aexists()
    finally:
        await human.close()
    runbot.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(runbot.wait, 20) == 0
    assert await Seen.objects.filter(nick="alice").aexists()  # flushed on the way out


async def test_a_channel_added_in_the_database_is_joined_without_a_restart(ircd, network, runbot):
    human = await Human("bob").connect(ircd.port)
    try:
        await joined(human, "#later")
        await sync_to_async(Channel.objects.create)(network=network, name="#later")
        await bot_is_in(human, "#later")
        await human.send("PRIVMSG #later :logged now")

        def logged() -> bool:
            """the line in the new channel is logged"""
            return LogLine.objects.filter(channel__name="#later", text="logged now").exists()

        await eventually(logged)
    finally:
        await human.close()


async def test_a_line_asked_for_by_the_web_is_said_once_in_the_channel(ircd, network, runbot):
    from botadmin.models import OutboundMessage

    human = await Human("carol").connect(ircd.port)
    try:
        await joined(human, "#test")
        await bot_is_in(human, "#test")
        message = await OutboundMessage.objects.acreate(
            network=network, channel="#test", text="hello from the web"
        )
        await human.expect(":applbot!", timeout=15)
        assert "PRIVMSG #test :hello from the web" in human.lines[-1]
        await message.arefresh_from_db()
        assert message.sent is not None
        assert not any("hello from the web" in line for line in await human.collect(3))
    finally:
        await human.close()


async def test_lines_not_yet_stored_when_runbot_is_killed_are_stored_once_after_a_restart(
    ircd, network, worker_env, tmp_path
):
    # Batches an hour apart: what is said stays pending, in memory and the journal.
    slow = start_runbot({**worker_env, "BOT_LOG_INTERVAL_MS": "3600000"})
    restarted = None
    said = [f"line {i} before the kill" for i in range(5)]
    human = await Human("dave").connect(ircd.port)
    try:
        await joined(human, "#test")
        await bot_is_in(human, "#test")
        await human.send(*(f"PRIVMSG #test :{text}" for text in said))
        journal = tmp_path / "bot-journal-all.jsonl"

        def journaled() -> bool:
            """every line is in the journal"""
            return journal.exists() and all(text in journal.read_text() for text in said)

        await eventually(journaled)
        assert not await LogLine.objects.filter(text__in=said).aexists()
        slow.send_signal(signal.SIGKILL)
        await asyncio.to_thread(slow.wait, 10)

        restarted = start_runbot(worker_env)

        def stored() -> bool:
            """the lines are in the database"""
            return LogLine.objects.filter(text__in=said).count() >= len(said)

        await eventually(stored, 30)
        restarted.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(restarted.wait, 20) == 0
    finally:
        await human.close()
        kill(slow)
        if restarted is not None:
            kill(restarted)
    texts = [
        line async for line in LogLine.objects.filter(text__in=said).values_list("text", flat=True)
    ]
    assert sorted(texts) == said  # each exactly once
    assert journal.read_text() == ""


async def test_stored_values_survive_a_restart_of_the_bot(ircd, network):
    """Two Bot instances, one after the other, on the database-backed Storage."""
    from botadmin import bridge
    from botadmin.infobot import Bot
    from tests.plugins.test_host import Counter

    human = await Human("erin").connect(ircd.port)
    try:
        await joined(human, "#test")
        for expected in ("1", "2"):
            networks = await sync_to_async(bridge.load_networks)()
            bot = Bot(
                networks, [], storage=bridge.DatabaseStorage(), seen=bridge.DatabaseSeenStore(),
                ignores=bridge.DatabaseIgnoreStore(), log_sink=bridge.DatabaseLogSink(),
                plugins=[Counter],
            )  # fmt: skip
            await bot.start()
            try:
                await bot_is_in(human, "#test")
                await human.send("PRIVMSG #test :!count")
                assert (await human.expect("PRIVMSG #test :", timeout=15)).endswith(f":{expected}")
            finally:
                await bot.stop()
            await human.expect(" QUIT ")
    finally:
        await human.close()
    stored = await StoredValue.objects.aget(plugin="counter", key="n")
    assert (stored.value, stored.version) == (2, 2)

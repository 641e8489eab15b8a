"""`!seen` through the whole path: ngircd, `manage.py runbot` and the database's policy.

Before the policy reached the plugin, the bot quoted a redacted nick's last line, and a
line said in a channel public then and private now; its own reply was then logged, so
the words became public in search and the day's plain text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser

from botadmin import search
from botadmin.models import Channel, LogLine, Network, RedactedNick, Seen
from tests.botadmin.test_runbot import bot_is_in, eventually, joined, kill, start_runbot
from tests.infobot.conftest import Human, ngircd

pytestmark = pytest.mark.integration
ircd = ngircd


@pytest.fixture
def network(ircd, transactional_db) -> Network:
    network = Network.objects.create(
        name="local", host="127.0.0.1", port=ircd.port, tls=False, nick="applbot"
    )
    Channel.objects.create(network=network, name="#pub")
    return network


@pytest.fixture
def runbot_after(worker_env):
    """Start runbot once the test has set the database up; killed after the test."""
    started = []

    def start():
        started.append(start_runbot(worker_env))

    yield start
    for process in started:
        kill(process)


async def ask_seen(ircd, nick: str) -> str:
    bob = await Human("bob").connect(ircd.port)
    try:
        await joined(bob, "#pub")
        await bot_is_in(bob, "#pub")
        await bob.send(f"PRIVMSG #pub :!seen {nick}")
        return await bob.expect("PRIVMSG #pub :", timeout=15)
    finally:
        await bob.close()


def bot_replies() -> list[str]:
    return list(LogLine.objects.filter(nick="applbot").values_list("text", flat=True))


async def test_seen_does_not_quote_a_redacted_nick(ircd, network, runbot_after):
    await RedactedNick.objects.acreate(network=network, nick="redactme", display_nick="redactme")
    runbot_after()
    redactme = await Human("redactme").connect(ircd.port)
    try:
        await joined(redactme, "#pub")
        await bot_is_in(redactme, "#pub")
        await redactme.send("PRIVMSG #pub :my secret words")
        # The line is stored (as it always was: the pages redact it) before anyone asks.
        await eventually(lambda: LogLine.objects.filter(text="my secret words").exists())
    finally:
        await redactme.close()
    reply = await ask_seen(ircd, "redactme")
    assert reply.endswith("PRIVMSG #pub :I have not seen redactme.")
    await eventually(lambda: "I have not seen redactme." in bot_replies())
    assert await sync_to_async(published)("secret") == []


def published(word: str) -> list[str]:
    """Find word wherever a reader could: the bot's own lines, search, the visible log."""
    found = search.search(
        search.parse(word), search.Scope(Channel.objects.values_list("pk", flat=True))
    )
    visible = LogLine.objects.visible_to(AnonymousUser())
    texts = [*bot_replies(), *(line.text for line in [*found.lines, *visible])]
    return [text for text in texts if word in text]


async def test_seen_does_not_quote_a_channel_public_then_and_private_now(
    ircd, network, runbot_after
):
    staff = await Channel.objects.acreate(network=network, name="#was-public", public=False)
    await Seen.objects.acreate(
        network=network, nick="ann", display_nick="ann", channel=staff.name, public=True,
        time=datetime.now(UTC) - timedelta(minutes=5), text="the plan, before we closed",
    )  # fmt: skip
    runbot_after()
    reply = await ask_seen(ircd, "ann")
    assert reply.endswith("PRIVMSG #pub :I have not seen ann.")
    assert "#was-public" not in reply and "plan" not in reply


async def test_the_channel_is_told_it_is_logged_and_a_nick_may_opt_out(ircd, network, runbot_after):
    notice = "This channel is logged at https://logs.example.org/ - start a line with [off]"
    await Channel.objects.filter(name="#pub").aupdate(entry_notice=notice)
    ann, bob = await Human("ann").connect(ircd.port), await Human("bob").connect(ircd.port)
    try:
        await joined(ann, "#pub")
        await joined(bob, "#pub")
        runbot_after()
        assert (await ann.expect("NOTICE #pub", timeout=20)).endswith(f"NOTICE #pub :{notice}")
        await ann.send("PRIVMSG #pub :!optout")
        assert "not logged" in await ann.expect("NOTICE ann :", timeout=15)
        await ann.send("PRIVMSG #pub :nobody keeps this")
        await bob.expect("nobody keeps this")
        await bob.send("PRIVMSG #pub :[off] nor this", "PRIVMSG #pub :but this")
        await eventually(lambda: LogLine.objects.filter(text="but this").exists())
    finally:
        await ann.close()
        await bob.close()
    texts = await sync_to_async(list)(LogLine.objects.values_list("nick", "text"))
    assert ("ann", "nobody keeps this") not in texts and ("bob", "[off] nor this") not in texts
    assert [text for nick, text in texts if nick == "ann"] == ["!optout"]  # said before it
    assert await network.optouts.filter(nick="ann").aexists()

"""The relay plugin in a real bot across real ngircd networks, with humans on each side."""

from __future__ import annotations

import logging

import pytest

from botadmin.infobot import Bot, ChannelConfig, NetworkConfig, PluginSetting, Privacy
from botadmin.plugins.relay import Relay
from tests.infobot.conftest import Human, Ngircd
from tests.infobot.test_ngircd import FAST, Stores, until

pytestmark = pytest.mark.integration
CHANNELS = {"A": "#dev", "B": "#project-dev", "C": "#c-dev"}


@pytest.fixture
def ircds(tmp_path):
    """Three networks, A, B and C, each its own ngircd."""
    servers = {}
    for name in CHANNELS:
        (tmp_path / name).mkdir()
        servers[name] = Ngircd(tmp_path / name)
        servers[name].start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
async def relay_bot(ircds):
    bots: list[Bot] = []

    async def make(
        networks: dict[str, list[str]],
        links: list,
        nick: str = "relaybot",
        private: tuple[str, ...] = (),
        privacy: dict[str, Privacy] | None = None,
        **config,
    ) -> tuple[Bot, Stores]:
        """``private`` lists the channels ("A/#dev") not public; ``privacy`` is per network."""
        stores = Stores()
        configs = [
            NetworkConfig(name, "127.0.0.1", ircds[name].port, False, nick,
                          channels=[ChannelConfig(c, public=f"{name}/{c}" not in private)
                                    for c in channels],
                          privacy=(privacy or {}).get(name, Privacy()))
            for name, channels in networks.items()
        ]  # fmt: skip
        settings = [
            PluginSetting("relay", config={"links": links, "retry_interval": 0.1, **config})
        ]
        bot = Bot(
            configs, settings, storage=stores.storage, seen=stores.seen, ignores=stores.ignores,
            log_sink=stores.sink, plugins=[Relay], timing=FAST,
        )  # fmt: skip
        bots.append(bot)
        await bot.start()
        await until(lambda: all(bot.status()[n].channels for n in networks))
        return bot, stores

    yield make
    for bot in bots:
        await bot.stop()


@pytest.fixture
async def humans_on(ircds):
    made: list[Human] = []

    async def connect(nick: str, network: str, *channels: str) -> Human:
        human = await Human(nick).connect(ircds[network].port)
        made.append(human)
        for channel in channels or (CHANNELS[network],):
            await human.send(f"JOIN {channel}")
            await human.expect(" 366 ")
        return human

    yield connect
    for human in made:
        await human.close()


def relayed(lines: list[str], text: str) -> list[str]:
    return [line for line in lines if " PRIVMSG " in line and text in line]


async def test_lines_cross_both_ways_with_their_origin_and_never_come_back(relay_bot, humans_on):
    bot, stores = await relay_bot(
        {"A": ["#dev"], "B": ["#project-dev"]}, [["A/#dev", "B/#project-dev"]]
    )
    ann, bob = await humans_on("ann", "A"), await humans_on("bob", "B")
    await ann.send("PRIVMSG #dev :hello from A")
    line = await bob.expect("hello from A")
    assert line.startswith(":relaybot!") and line.endswith(
        "PRIVMSG #project-dev :<ann@A> hello from A"
    )
    await bob.send("PRIVMSG #project-dev :\x01ACTION waves back\x01")
    assert (await ann.expect("waves back")).endswith("PRIVMSG #dev :* bob@B waves back")
    assert relayed(await ann.collect(1.0) + ann.lines, "hello from A") == []
    assert relayed(await bob.collect(0.5) + bob.lines, "waves back") == []
    assert relayed(bob.lines, "hello from A") == [line]
    # Logged once on each side: the human's line where it was said, the bot's where it went.
    logged = [
        (r.network, r.channel, r.nick, r.text) for r in stores.sink.records if "hello" in r.text
    ]
    assert logged == [
        ("A", "#dev", "ann", "hello from A"),
        ("B", "#project-dev", "relaybot", "<ann@A> hello from A"),
    ]


async def test_two_relay_bots_do_not_relay_each_other(relay_bot, humans_on):
    links = [["A/#dev", "B/#project-dev"]]
    await relay_bot({"A": ["#dev"], "B": ["#project-dev"]}, links, other_bots=["mirrorbot"])
    mirror = [["B/#project-dev", "A/#mirror"]]
    await relay_bot({"A": ["#mirror"], "B": ["#project-dev"]}, mirror, nick="mirrorbot",
                    other_bots=["relaybot"], ignore_relayed=False)  # fmt: skip
    ann, bob = await humans_on("ann", "A", "#dev", "#mirror"), await humans_on("bob", "B")
    await ann.send("PRIVMSG #dev :only once")
    assert (await bob.expect("only once")).endswith(":<ann@A> only once")
    await bob.send("PRIVMSG #project-dev :to both")
    lines = [await ann.expect("to both"), await ann.expect("to both")]
    assert sorted(line.split(" ", 1)[1] for line in lines) == [
        "PRIVMSG #dev :<bob@B> to both",
        "PRIVMSG #mirror :<bob@B> to both",
    ]
    assert sorted(line.split("!")[0] for line in lines) == [":mirrorbot", ":relaybot"]
    later = await ann.collect(1.0) + await bob.collect(0.5)
    assert relayed(ann.lines + later, "only once") == []  # not mirrored back to A
    assert relayed(later, "to both") == []


async def test_a_network_that_goes_down_mid_relay_gets_its_lines_after_it_is_back(
    ircds, relay_bot, humans_on, caplog
):
    networks = {name: [channel] for name, channel in CHANNELS.items()}
    links = [["A/#dev", "B/#project-dev", "C/#c-dev"]]
    bot, stores = await relay_bot(networks, links)
    ann, cid = await humans_on("ann", "A"), await humans_on("cid", "C")
    await ann.send("PRIVMSG #dev :before")
    await cid.expect("<ann@A> before")
    ircds["B"].stop()
    await until(lambda: not bot.status()["B"].connected)
    with caplog.at_level(logging.WARNING, "botadmin.plugins.relay"):
        await ann.send("PRIVMSG #dev :while B is down")
        assert (await cid.expect("while B is down")).endswith(":<ann@A> while B is down")
        await cid.send("PRIVMSG #c-dev :C goes on")
        assert (await ann.expect("C goes on")).endswith(":<cid@C> C goes on")
    assert "relay: B/#project-dev is not ready; holding lines for it" in caplog.messages
    ircds["B"].start()

    def sent_on_b() -> list[str]:
        mine = [r for r in stores.sink.records if r.network == "B" and r.nick == "relaybot"]
        return [r.text for r in mine if r.kind == "message"]

    await until(lambda: "<cid@C> C goes on" in sent_on_b())
    assert sent_on_b() == ["<ann@A> before", "<ann@A> while B is down", "<cid@C> C goes on"]
    bob = await humans_on("bob", "B")
    await ann.send("PRIVMSG #dev :after the restart")
    assert (await bob.expect("after the restart")).endswith(":<ann@A> after the restart")


async def test_a_private_channel_is_not_relayed_into_a_public_one(relay_bot, humans_on, caplog):
    links = [["A/#dev", "A/#lobby", "B/#project-dev"]]
    networks = {"A": ["#dev", "#lobby"], "B": ["#project-dev"]}
    with caplog.at_level(logging.WARNING, "botadmin.plugins.relay"):
        await relay_bot(networks, links, private=("A/#dev",))
        ann = await humans_on("ann", "A", "#dev", "#lobby")
        bob = await humans_on("bob", "B")
        await ann.send("PRIVMSG #dev :the staff-only plan")
        await ann.send("PRIVMSG #lobby :public news")
        # Relayed in order: the public line arriving proves the private one never went.
        assert (await bob.expect("public news")).endswith(":<ann@A> public news")
        assert relayed(bob.lines, "staff-only") == []
        await bob.send("PRIVMSG #project-dev :reply to all")
        assert (await ann.expect("reply to all")).endswith("PRIVMSG #dev :<bob@B> reply to all")
    refused = [m for m in caplog.messages if m.startswith("relay: refused")]
    assert refused == [
        "relay: refused to carry A/#dev, a private channel, into A/#lobby, which is public or "
        "not configured: its lines would be published there. List the pair in the relay's "
        "private_to_public setting to allow it.",
        "relay: refused to carry A/#dev, a private channel, into B/#project-dev, which is "
        "public or not configured: its lines would be published there. List the pair in the "
        "relay's private_to_public setting to allow it.",
    ]


async def test_an_explicitly_marked_private_link_is_relayed(relay_bot, humans_on):
    links = [["A/#dev", "B/#project-dev"]]
    await relay_bot({"A": ["#dev"], "B": ["#project-dev"]}, links, private=("A/#dev",),
                    private_to_public=links)  # fmt: skip
    ann, bob = await humans_on("ann", "A"), await humans_on("bob", "B")
    await ann.send("PRIVMSG #dev :meant for everyone")
    assert (await bob.expect("meant for everyone")).endswith(":<ann@A> meant for everyone")


async def test_a_redacted_nick_and_off_the_record_lines_are_not_relayed(relay_bot, humans_on):
    privacy = {"A": Privacy(redacted=frozenset({"grace"}))}
    await relay_bot({"A": ["#dev"], "B": ["#project-dev"]}, [["A/#dev", "B/#project-dev"]],
                    privacy=privacy)  # fmt: skip
    grace, ann = await humans_on("Grace", "A"), await humans_on("ann", "A")
    bob = await humans_on("bob", "B")
    await grace.send("PRIVMSG #dev :my home address")
    await ann.send("PRIVMSG #dev :[off] just between us")
    await ann.send("PRIVMSG #dev :on the record")
    assert (await bob.expect("on the record")).endswith(":<ann@A> on the record")
    assert relayed(bob.lines, "address") == relayed(bob.lines, "between us") == []

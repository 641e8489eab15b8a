"""The plugins under the bot's privacy policy: seen, relay and the opt-out commands.

Each leak test here failed before the policy reached the plugins: the seen plugin quoted
redacted nicks and channels made private since, and the relay carried private channels
and redacted nicks into public ones.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from botadmin.infobot import ChannelConfig, PluginSetting, Privacy
from botadmin.plugins.optout import OptOut
from botadmin.plugins.relay import Relay
from botadmin.plugins.seen import Seen
from tests.plugins.fakenets import FakeNetworks


def with_privacy(net, **privacy) -> None:
    net.config = replace(net.config, privacy=Privacy(**privacy))


# -- seen -------------------------------------------------------------------------------


async def test_seen_does_not_quote_a_redacted_nick(network_factory):
    net = await network_factory([Seen])
    await net.say("Grace", "#pub", "my address is 1 Main St")
    with_privacy(net, redacted=frozenset({"grace"}))
    for where in ("#pub", "bot"):
        [reply] = await net.say("bob", where, "!seen grace")
        assert reply.endswith(":I have not seen grace.")


async def test_seen_does_not_quote_a_channel_public_then_and_private_now(network_factory):
    net = await network_factory([Seen])
    await net.say("ann", "#pub", "said in public")
    net.config = replace(
        net.config, channels=[ChannelConfig("#pub", public=False), ChannelConfig("#other")]
    )
    await net.feed(b":bot!u@bot.host JOIN #other")
    [elsewhere] = await net.say("bob", "#other", "!seen ann")
    assert elsewhere == "PRIVMSG #other :I have not seen ann."
    [inside] = await net.say("bob", "#pub", "!seen ann")
    assert "said in public" in inside  # the channel itself may hear its own line


async def test_seen_forgets_nothing_it_should_not_have_heard(network_factory):
    net = await network_factory([Seen])
    await net.say("ann", "#pub", "first")
    await net.say("ann", "#pub", "[off] the private bit")
    [reply] = await net.say("bob", "#pub", "!seen ann")
    assert reply.endswith("saying: first")


async def test_seen_says_nothing_of_a_nick_who_opted_out(network_factory):
    net = await network_factory([Seen, OptOut])
    await net.say("ann", "#pub", "before")
    [notice] = await net.say("ann", "#pub", "!optout")
    assert notice.startswith("NOTICE ann :") and "!optin" in notice
    await net.say("ann", "#pub", "while out")
    assert (await net.say("bob", "#pub", "!seen ann")) == ["PRIVMSG #pub :I have not seen ann."]
    await net.say("ann", "#pub", "!optin")
    await net.say("ann", "#pub", "back")
    assert (await net.say("bob", "#pub", "!seen ann"))[0].endswith("saying: back")
    assert net.optouts.store.opted_out == set()


# -- relay ------------------------------------------------------------------------------

LINK = [["A/#secret", "B/#open"]]


@pytest.fixture
async def relay_nets():
    made: list[FakeNetworks] = []

    async def make(links: list, private: tuple = ("A/#secret",), **config) -> FakeNetworks:
        channels = {"A": ["#secret", "#dev"], "B": ["#open", "#closed"]}
        settings = [PluginSetting("relay", config={"links": links, **config})]
        nets = FakeNetworks(channels, [Relay], settings, private=private)
        await nets.start("A", "B")
        made.append(nets)
        return nets

    yield make
    for nets in made:
        await nets.stop()


async def test_a_private_channel_is_not_relayed_into_a_public_one(relay_nets, caplog):
    nets = await relay_nets(LINK)
    with caplog.at_level(logging.WARNING, "botadmin.plugins.relay"):
        await nets.say("A", "ann", "#secret", "the staff plan")
        await nets.say("A", "ann", "#secret", "more of it")
    assert nets.texts("B") == []
    assert [r.getMessage() for r in caplog.records] == [
        "relay: refused to carry A/#secret, a private channel, into B/#open, which is public "
        "or not configured: its lines would be published there. List the pair in the relay's "
        "private_to_public setting to allow it."
    ]  # once, not per line
    await nets.say("B", "bob", "#open", "public news")
    assert nets.texts("A") == ["<bob@B> public news"]  # the other way is no leak


async def test_an_operator_may_mark_a_private_to_public_link_explicitly(relay_nets):
    nets = await relay_nets(LINK, private_to_public=LINK)
    await nets.say("A", "ann", "#secret", "announce this")
    assert nets.texts("B") == ["<ann@A> announce this"]


async def test_a_private_channel_may_be_relayed_into_another_private_one(relay_nets):
    nets = await relay_nets([["A/#secret", "B/#closed"]], private=("A/#secret", "B/#closed"))
    await nets.say("A", "ann", "#secret", "between staff rooms")
    assert nets.texts("B") == ["<ann@A> between staff rooms"]


async def test_a_redacted_nick_is_not_relayed(relay_nets):
    nets = await relay_nets([["A/#dev", "B/#open"]], membership=True)
    nets.configs["A"] = replace(nets.configs["A"], privacy=Privacy(redacted=frozenset({"grace"})))
    await nets.say("A", "Grace", "#dev", "my address")
    await nets.feed("A", ":ivy!i@host JOIN #dev")
    await nets.feed("A", ":ivy!i@host NICK Grace")
    await nets.say("A", "ann", "#dev", "hello")
    assert nets.texts("B") == ["* ivy@A has joined #dev", "<ann@A> hello"]


async def test_off_the_record_lines_and_opted_out_nicks_are_not_relayed(relay_nets):
    nets = await relay_nets([["A/#dev", "B/#open"]])
    nets.configs["A"] = replace(nets.configs["A"], privacy=Privacy(opted_out=frozenset({"ann"})))
    await nets.say("A", "ann", "#dev", "not me")
    await nets.say("A", "bob", "#dev", "[off] nor this")
    await nets.say("A", "bob", "#dev", "this")
    assert nets.texts("B") == ["<bob@A> this"]
    assert [text for _, _, _, text in nets.links["A"].log] == ["", "", "this"]  # joins, then bob

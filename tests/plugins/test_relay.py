"""The relay plugin over fake networks: links, origins, loops, networks not ready."""

from __future__ import annotations

import logging

import pytest

from botadmin.infobot import PluginSetting
from botadmin.plugins.relay import Relay, text_budget
from tests.plugins.fakenets import FakeNetworks

DEV = [["A/#dev", "B/#project-dev"]]


@pytest.fixture
async def relay_nets():
    made: list[FakeNetworks] = []

    async def make(
        links: list, channels: dict | None = None, up: tuple = ("A", "B"), **config
    ) -> FakeNetworks:
        channels = channels or {"A": ["#dev"], "B": ["#project-dev"]}
        settings = [PluginSetting("relay", config={"links": links, **config})]
        nets = FakeNetworks(channels, [Relay], settings, nick=config.pop("nick", "bot"))
        await nets.start(*up)
        made.append(nets)
        return nets

    yield make
    for nets in made:
        await nets.stop()


async def test_a_message_appears_on_the_other_side_with_its_origin(relay_nets):
    nets = await relay_nets(DEV)
    await nets.say("A", "ann", "#dev", "hello from A")
    await nets.say("B", "bob", "#project-dev", "hello from B")
    assert nets.links["B"].sent == ["PRIVMSG #project-dev :<ann@A> hello from A"]
    assert nets.links["A"].sent == ["PRIVMSG #dev :<bob@B> hello from B"]


async def test_an_action_is_relayed_as_the_origin_doing_it(relay_nets):
    nets = await relay_nets(DEV)
    await nets.act("A", "ann", "#dev", "waves")
    assert nets.texts("B") == ["* ann@A waves"]


async def test_several_links_each_keep_to_their_own_channels(relay_nets):
    channels = {"A": ["#dev", "#ops"], "B": ["#project-dev"], "C": ["#ops-team"]}
    links = [*DEV, ["A/#ops", "C/#ops-team"]]
    nets = await relay_nets(links, channels, up=("A", "B", "C"))
    await nets.say("A", "ann", "#ops", "disk full")
    await nets.say("A", "ann", "#dev", "tests pass")
    await nets.say("C", "cid", "#ops-team", "on it")
    assert nets.links["C"].sent == ["PRIVMSG #ops-team :<ann@A> disk full"]
    assert nets.links["B"].sent == ["PRIVMSG #project-dev :<ann@A> tests pass"]
    assert nets.links["A"].sent == ["PRIVMSG #ops :<cid@C> on it"]


async def test_channel_names_match_whatever_their_case(relay_nets):
    nets = await relay_nets([["A/#Dev", "B/#Project-Dev"]])
    await nets.say("A", "ann", "#DEV", "hi")
    assert nets.links["B"].sent == ["PRIVMSG #Project-Dev :<ann@A> hi"]


async def test_joins_parts_and_nick_changes_are_relayed_only_when_asked(relay_nets):
    quiet = await relay_nets(DEV)
    loud = await relay_nets(DEV, membership=True)
    for nets in (quiet, loud):
        await nets.feed("A", ":ann!a@a.example JOIN #dev")
        await nets.feed("A", ":ann!a@a.example NICK anna")
        await nets.feed("A", ":anna!a@a.example PART #dev :lunch")
    assert quiet.links["B"].sent == []
    assert loud.texts("B") == [
        "* ann@A has joined #dev",
        "* ann@A is now known as anna",
        "* anna@A has left #dev (lunch)",
    ]


async def test_the_bots_own_joins_are_not_news_on_the_other_side(relay_nets):
    nets = await relay_nets(DEV, membership=True, up=("B",))
    await nets.up("A")
    assert nets.links["B"].sent == []


async def test_with_three_networks_each_line_reaches_each_other_side_once(relay_nets):
    channels = {"A": ["#dev"], "B": ["#project-dev"], "C": ["#c-dev"]}
    triangle = [*DEV, ["B/#project-dev", "C/#c-dev"], ["C/#c-dev", "A/#dev"]]
    nets = await relay_nets(triangle, channels, up=("A", "B", "C"))
    await nets.say("A", "ann", "#dev", "one line")
    assert nets.texts("B") == ["<ann@A> one line"]
    assert nets.texts("C") == ["<ann@A> one line"]
    assert nets.texts("A") == []  # the bot's own lines on B and C are not seen as news


async def test_a_line_that_looks_relayed_is_not_relayed_again(relay_nets):
    nets = await relay_nets(DEV)
    await nets.say("A", "ann", "#dev", "<bob@B> quoted")
    await nets.say("A", "ann", "#dev", "bob@B said <hi>")
    assert nets.texts("B") == ["<ann@A> bob@B said <hi>"]
    trusting = await relay_nets(DEV, ignore_relayed=False)
    await trusting.say("A", "ann", "#dev", "<bob@B> quoted")
    assert trusting.texts("B") == ["<ann@A> <bob@B> quoted"]


async def test_two_bots_do_not_relay_each_others_lines(relay_nets):
    channels = {"A": ["#dev"], "B": ["#dev"], "C": ["#dev"]}
    first = await relay_nets([["A/#dev", "B/#dev"]], channels, up=("A", "B"), nick="one")
    second = await relay_nets(
        [["B/#dev", "C/#dev"]], channels, up=("B", "C"), nick="two",
        other_bots=["One"], ignore_relayed=False,
    )  # fmt: skip
    await first.say("A", "ann", "#dev", "hello")
    (relayed,) = first.links["B"].sent
    await second.feed("B", ":one!u@one.host " + relayed)  # the second bot hears the first
    assert second.links["C"].sent == []
    await second.say("B", "bob", "#dev", "hi all")
    assert second.texts("C") == ["<bob@B> hi all"]
    unconfigured = await relay_nets([["B/#dev", "C/#dev"]], channels, up=("B", "C"), nick="three")
    await unconfigured.feed("B", ":one!u@one.host " + relayed)
    assert unconfigured.links["C"].sent == []  # it still looks relayed


async def test_a_network_not_registered_yet_gets_its_lines_once_it_is(relay_nets, caplog):
    nets = await relay_nets(DEV, up=("A",))
    with caplog.at_level(logging.WARNING, "botadmin.plugins.relay"):
        await nets.say("A", "ann", "#dev", "first")
        await nets.say("A", "ann", "#dev", "second")
        await nets.plugin("relay").deliver_held()
    assert nets.links["B"].sent == []
    assert [r.getMessage() for r in caplog.records] == [
        "relay: B/#project-dev is not ready; holding lines for it"
    ]
    await nets.up("B")
    await nets.plugin("relay").deliver_held()
    assert nets.texts("B") == ["<ann@A> first", "<ann@A> second"]
    await nets.say("A", "ann", "#dev", "third")
    assert nets.texts("B")[-1] == "<ann@A> third"


async def test_lines_for_a_network_that_went_down_wait_for_it_to_come_back(relay_nets):
    nets = await relay_nets(DEV)
    nets.down("B")
    await nets.say("A", "ann", "#dev", "while B was away")
    await nets.plugin("relay").deliver_held()
    assert nets.links["B"].sent == []
    await nets.up("B")
    await nets.plugin("relay").deliver_held()
    assert nets.texts("B") == ["<ann@A> while B was away"]


async def test_a_channel_the_bot_cannot_join_holds_back_only_its_own_lines(relay_nets, caplog):
    channels = {"A": ["#dev", "#ops"], "B": ["#project-dev", "#banned"]}
    links = [*DEV, ["A/#ops", "B/#banned"]]
    nets = await relay_nets(links, channels, up=("A",), queue_limit=2)
    await nets.up("B", joined=["#project-dev"])
    with caplog.at_level(logging.WARNING, "botadmin.plugins.relay"):
        for n in range(3):
            await nets.say("A", "ann", "#ops", f"ops {n}")
            await nets.say("A", "ann", "#dev", f"dev {n}")
        await nets.plugin("relay").deliver_held()
    assert nets.texts("B") == ["<ann@A> dev 0", "<ann@A> dev 1", "<ann@A> dev 2"]
    assert "relay: B/#banned still not ready; dropped its oldest held line" in caplog.messages
    await nets.feed("B", ":bot!u@bot.host JOIN #banned")
    await nets.plugin("relay").deliver_held()
    assert nets.texts("B")[3:] == ["<ann@A> ops 1", "<ann@A> ops 2"]


async def test_a_network_configured_nowhere_drops_lines_with_a_log_line(relay_nets, caplog):
    nets = await relay_nets([["A/#dev", "Nowhere/#dev"]], queue_limit=0)
    with caplog.at_level(logging.WARNING, "botadmin.plugins.relay"):
        await nets.say("A", "ann", "#dev", "into the void")
        await nets.plugin("relay").deliver_held()
    assert caplog.messages == ["relay: Nowhere/#dev is not ready; dropped a line"]
    assert nets.links["A"].sent == []


async def test_a_long_message_is_cut_with_the_origin_on_every_piece(relay_nets):
    nets = await relay_nets(DEV)
    words = [f"wörd{i}" for i in range(120)]
    await nets.say("A", "ann", "#dev", " ".join(words))
    lines = nets.links["B"].sent
    assert len(lines) > 1
    assert all(line.startswith("PRIVMSG #project-dev :<ann@A> ") for line in lines)
    budget = text_budget("bot", "#project-dev")
    assert all(len(line.split(" :", 1)[1].encode()) <= budget for line in lines)
    relayed = " ".join(line.removeprefix("PRIVMSG #project-dev :<ann@A> ") for line in lines)
    assert relayed.split() == words


async def test_each_line_is_logged_once_on_each_side(relay_nets):
    nets = await relay_nets(DEV)
    await nets.say("A", "ann", "#dev", "for the record")
    assert nets.links["A"].log[-1:] == [("#dev", "ann", "message", "for the record")]
    assert [e for e in nets.links["A"].log if "record" in e[3]] == nets.links["A"].log[-1:]
    assert [e for e in nets.links["B"].log if "record" in e[3]] == [
        ("#project-dev", "bot", "message", "<ann@A> for the record")
    ]

"""The bot against a real ngircd, with a plain-socket client playing the human."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import dns.message
import dns.rcode
import dns.rrset
import pytest

from botadmin.infobot import (
    Bot,
    ChannelConfig,
    Incoming,
    LogRecord,
    MemoryIgnoreStore,
    MemoryLogSink,
    MemorySeenStore,
    MemoryStorage,
    NetworkConfig,
    Plugin,
    PluginSetting,
    Timing,
    command,
    every,
)
from botadmin.plugins.dig import Dig
from botadmin.plugins.help import Help
from botadmin.plugins.ignore import Ignore
from botadmin.plugins.seen import Seen

pytestmark = pytest.mark.integration

FAST = Timing(
    reconnect_base=0.1, reconnect_cap=0.5, rejoin_delay=0.3, log_interval=0.05,
    flood_commands=3, flood_window=10, flood_penalty=60,
)  # fmt: skip
OPERATORS = PluginSetting("ignore", config={"operators": ["boss!*@*"]})


class Boom(Plugin):
    """Raises on every command."""

    @command("boom")
    async def boom(self, msg: Incoming, args: str) -> None:
        raise RuntimeError("plugin bug")


class Essay(Plugin):
    """Answers at length."""

    @command("essay")
    async def essay(self, msg: Incoming, args: str) -> None:
        await msg.reply(" ".join(f"wörd{i}" for i in range(300)))


class Ticker(Plugin):
    """Says tick in #pub every 0.2 s."""

    @every(0.2)
    async def tick(self) -> None:
        await self.context.say("local", "#pub", "tick")


class Stores:
    def __init__(self) -> None:
        self.storage, self.seen, self.ignores = (
            MemoryStorage(),
            MemorySeenStore(),
            MemoryIgnoreStore(),
        )
        self.sink = MemoryLogSink()
        self.published: list[LogRecord] = []


def network(port: int, channels: list[ChannelConfig] | None = None) -> NetworkConfig:
    channels = channels or [ChannelConfig("#pub"), ChannelConfig("#keyed", key="sesame")]
    return NetworkConfig("local", "127.0.0.1", port, tls=False, nick="infobot", channels=channels)


@pytest.fixture
async def make_bot():
    bots: list[Bot] = []

    async def make(config: NetworkConfig, plugins: list, stores: Stores, settings=()) -> Bot:
        bot = Bot(
            [config], list(settings), storage=stores.storage, seen=stores.seen,
            ignores=stores.ignores, log_sink=stores.sink, publish=stores.published.append,
            plugins=plugins, timing=FAST,
        )  # fmt: skip
        bots.append(bot)
        await bot.start()
        await until(
            lambda: set(bot.status()["local"].channels) >= {c.name for c in config.channels}
        )
        return bot

    yield make
    for bot in bots:
        await bot.stop()


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def logged(stores: Stores, kind: str, text: str = "") -> list[LogRecord]:
    return [r for r in stores.sink.records if r.kind == kind and text in r.text]


async def test_it_joins_logs_both_sides_and_answers_seen(ngircd, humans, make_bot):
    stores = Stores()
    bot = await make_bot(network(ngircd.port), [Seen, Help], stores)
    ann, bob = await humans("ann", ngircd.port), await humans("bob", ngircd.port)
    await bob.send("JOIN #pub")
    await bob.expect("JOIN")
    await ann.send("JOIN #pub", "PRIVMSG #pub :I like turtles")
    await bob.expect("turtles")
    await bob.send("PRIVMSG #pub :!seen ann")
    reply = await bob.expect("PRIVMSG #pub :ann was last seen in #pub")
    assert reply.endswith("saying: I like turtles")
    await until(lambda: logged(stores, "message", "was last seen"))
    assert [r.nick for r in logged(stores, "message")] == ["ann", "bob", "infobot"]
    assert logged(stores, "join")[-1].nick == "ann"
    # Rung once per channel per stored batch: the last line stored was announced.
    assert stores.sink.records[-1] in stores.published
    assert set(stores.published) <= set(stores.sink.records)
    status = bot.status()["local"]
    assert (status.connected, status.nick) == (True, "infobot")
    assert sorted(status.channels) == ["#keyed", "#pub"]


async def test_it_logs_part_quit_nick_topic_mode_and_actions(ngircd, humans, make_bot):
    ann = await humans("ann", ngircd.port)
    await ann.send("JOIN #pub", "JOIN #keyed")
    await ann.expect("#keyed")
    stores = Stores()
    await make_bot(network(ngircd.port), [], stores)
    await ann.send("PRIVMSG #pub :\x01ACTION waves\x01")
    await ann.send("TOPIC #pub :turtles", "MODE #pub +m", "NICK anna", "PART #keyed :bye")
    await ann.send("QUIT :gone")
    await until(lambda: logged(stores, "quit"))
    assert logged(stores, "action", "waves")[0].channel == "#pub"
    assert logged(stores, "topic", "turtles") and logged(stores, "mode", "+m")
    assert {r.channel for r in logged(stores, "nick", "anna")} == {"#pub", "#keyed"}
    assert [r.channel for r in logged(stores, "part")] == ["#keyed"]
    assert [(r.channel, r.nick) for r in logged(stores, "quit")] == [("#pub", "anna")]


async def test_it_logs_a_latin1_line_readably(ngircd, humans, make_bot):
    stores = Stores()
    await make_bot(network(ngircd.port), [], stores)
    ann = await humans("ann", ngircd.port)
    await ann.send("JOIN #pub")
    await ann.send_raw("PRIVMSG #pub :café crème".encode("latin-1"))
    await until(lambda: logged(stores, "message"))
    assert logged(stores, "message")[0].text == "café crème"


async def test_it_answers_dig_through_the_dns_client(ngircd, humans, make_bot, dns_server):
    stores = Stores()
    settings = [PluginSetting("dig", config={"server": dns_server})]
    await make_bot(network(ngircd.port), [Dig], stores, settings)
    ann = await humans("ann", ngircd.port)
    await ann.send("JOIN #pub", "PRIVMSG #pub :!dig example.test MX")
    assert (await ann.expect("PRIVMSG #pub")).endswith(":example.test MX: 10 mail.example.test.")


async def test_an_operator_ignores_a_user_and_the_bot_stops_answering(ngircd, humans, make_bot):
    stores = Stores()
    await make_bot(network(ngircd.port), [Ignore, Help, Seen], stores, [OPERATORS])
    boss, troll = await humans("boss", ngircd.port), await humans("troll", ngircd.port)
    await boss.send("JOIN #pub")
    await troll.send("JOIN #pub")
    await boss.send("PRIVMSG #pub :!ignore add troll 1h")
    await boss.expect("Ignoring troll!*@*")
    await troll.send("PRIVMSG #pub :!help", "PRIVMSG #pub :!help help")
    await boss.send("PRIVMSG #pub :!help help")
    lines = await boss.collect(1.0)
    assert [line for line in lines if "help [COMMAND]" in line] and not [
        line for line in lines if "Commands:" in line
    ]
    assert (await stores.ignores.load())[0].mask == "troll!*@*"
    # Ignored by the plugins (seen heard nothing), but the channel log has every line.
    await boss.send("PRIVMSG #pub :!seen troll")
    assert (await boss.expect("PRIVMSG #pub :")).endswith(":I have not seen troll.")
    await until(lambda: logged(stores, "message", "!help help"))
    assert [r.nick for r in logged(stores, "message", "!help help")] == ["troll", "boss"]


async def test_a_flooding_user_is_warned_once_then_ignored(ngircd, humans, make_bot):
    stores = Stores()
    await make_bot(network(ngircd.port), [Help], stores)
    ann = await humans("ann", ngircd.port)
    await ann.send("JOIN #pub", *["PRIVMSG #pub :!help"] * 6)
    lines = await ann.collect(2.0)
    assert len([line for line in lines if "Commands:" in line]) == 3
    assert len([line for line in lines if "too many commands" in line]) == 1


async def test_it_rejoins_after_a_kick(ngircd, humans, make_bot):
    op = await humans("op", ngircd.port)
    await op.send("JOIN #pub")
    await op.expect("JOIN")
    stores = Stores()
    await make_bot(network(ngircd.port), [], stores)
    await op.expect(":infobot!")
    await op.send("KICK #pub infobot :out")
    assert (await op.expect("JOIN")).startswith(":infobot!")
    await until(lambda: logged(stores, "kick", "infobot out"))


async def test_it_reconnects_rejoins_and_logs_again_after_a_server_restart(
    ngircd, humans, make_bot
):
    stores = Stores()
    bot = await make_bot(network(ngircd.port), [Seen], stores)
    ann = await humans("ann", ngircd.port)
    await ann.send("JOIN #pub", "PRIVMSG #pub :before the crash")
    await until(lambda: logged(stores, "message", "before"))
    ngircd.stop()
    await until(lambda: not bot.status()["local"].connected)
    ngircd.start()
    await until(lambda: set(bot.status()["local"].channels) == {"#pub", "#keyed"})
    ann = await humans("ann", ngircd.port)
    await ann.send("JOIN #pub", "PRIVMSG #pub :after the restart")
    await until(lambda: logged(stores, "message", "after"))
    assert [r.text for r in logged(stores, "message") if r.nick == "ann"][:2] == [
        "before the crash",
        "after the restart",
    ]
    assert bot.status()["local"].last_error is not None


async def test_a_raising_plugin_does_not_stop_the_bot(ngircd, humans, make_bot):
    stores = Stores()
    await make_bot(network(ngircd.port), [Boom, Help], stores)
    ann = await humans("ann", ngircd.port)
    await ann.send("JOIN #pub", "PRIVMSG #pub :!boom", "PRIVMSG #pub :!help")
    assert "Commands: boom, help" in await ann.expect("Commands:")


async def test_a_long_reply_is_split_into_lines_under_512_bytes(ngircd, humans, make_bot):
    stores = Stores()
    await make_bot(network(ngircd.port), [Essay], stores)
    ann = await humans("ann", ngircd.port)
    await ann.send("JOIN #pub", "PRIVMSG #pub :!essay")
    lines = [await ann.expect("PRIVMSG #pub :wörd0 ")]
    while "wörd299" not in lines[-1]:
        lines.append(await ann.expect("PRIVMSG #pub :"))
    assert len(lines) > 1
    assert all(len(line.encode()) + 2 <= 512 for line in lines)
    words = " ".join(line.split(" :", 1)[1] for line in lines).split()
    assert words == [f"wörd{i}" for i in range(300)]


async def test_a_scheduled_job_runs(ngircd, humans, make_bot):
    ann = await humans("ann", ngircd.port)
    await ann.send("JOIN #pub")
    await make_bot(network(ngircd.port), [Ticker], Stores())
    await ann.expect("PRIVMSG #pub :tick")
    await ann.expect("PRIVMSG #pub :tick")


async def test_apply_config_joins_and_parts_and_a_stop_quits(ngircd, humans, make_bot):
    stores = Stores()
    bot = await make_bot(network(ngircd.port), [], stores)
    await bot.apply_config(
        [network(ngircd.port, [ChannelConfig("#pub"), ChannelConfig("#new")])], []
    )
    await until(lambda: sorted(bot.status()["local"].channels) == ["#new", "#pub"])
    ann = await humans("ann", ngircd.port)
    await ann.send("JOIN #pub")
    await bot.say("local", "#pub", "hello from the web")
    await ann.expect("hello from the web")
    await bot.stop()
    assert "QUIT" in await ann.expect("QUIT")
    assert logged(stores, "message", "hello from the web")[0].nick == "infobot"


async def test_a_long_line_from_the_web_arrives_whole_in_several_lines(ngircd, humans, make_bot):
    bot = await make_bot(network(ngircd.port, [ChannelConfig("#pub")]), [], Stores())
    await until(lambda: bot.status()["local"].channels == ["#pub"])
    ann = await humans("ann", ngircd.port)
    await ann.send("JOIN #pub")
    text = " ".join(f"mot{index}é" for index in range(150))  # about 1,000 bytes
    await bot.say("local", "#pub", text)
    pieces = []
    while " ".join(pieces) != text:
        line = await ann.expect("PRIVMSG #pub :")
        pieces.append(line.split("PRIVMSG #pub :", 1)[1])
        assert len(pieces) <= 4
    assert len(pieces) > 1


class TinyDNS(asyncio.DatagramProtocol):
    """Answers example.test MX; REFUSED for anything else."""

    def connection_made(self, transport: asyncio.DatagramTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        if query.question[0].name.to_text() == "example.test.":
            response.answer.append(
                dns.rrset.from_text("example.test.", 60, "IN", "MX", "10 mail.example.test.")
            )
        else:
            response.set_rcode(dns.rcode.REFUSED)
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def dns_server():
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(TinyDNS, local_addr=("127.0.0.1", 0))
    yield f"127.0.0.1:{transport.get_extra_info('sockname')[1]}"
    transport.close()


async def test_it_takes_another_nick_when_its_own_is_taken_and_marks_itself_a_bot(
    ngircd, humans, make_bot
):
    squatter = await humans("infobot", ngircd.port)
    bot = await make_bot(network(ngircd.port), [], Stores())
    assert bot.status()["local"].nick == "infobot_"
    await squatter.send("WHOIS infobot_")
    assert "bot" in (await squatter.expect(" 335 ")).lower()


async def test_apply_config_disconnects_reconnects_and_reconfigures_plugins(
    ngircd, humans, make_bot
):
    stores = Stores()
    bot = await make_bot(network(ngircd.port), [Help], stores)
    ann = await humans("ann", ngircd.port)
    await ann.send("JOIN #pub")
    await bot.apply_config([], [])
    assert bot.status() == {}
    await ann.expect("QUIT")
    await bot.apply_config([network(ngircd.port)], [PluginSetting("help", enabled=False)])
    await ann.expect(":infobot!")
    await ann.send("PRIVMSG #pub :!help")
    assert not [line for line in await ann.collect(0.5) if "Commands:" in line]
    await bot.apply_config([network(ngircd.port)], [])
    await ann.send("PRIVMSG #pub :!help")
    assert "Commands: help" in await ann.expect("Commands:")


async def test_it_does_not_log_a_channel_configured_unlogged(ngircd, humans, make_bot):
    stores = Stores()
    channels = [ChannelConfig("#pub"), ChannelConfig("#quiet", logged=False)]
    await make_bot(network(ngircd.port, channels), [], stores)
    ann = await humans("ann", ngircd.port)
    await ann.send("JOIN #quiet", "PRIVMSG #quiet :off the record", "JOIN #pub")
    await ann.send("PRIVMSG #pub :on the record")
    await until(lambda: logged(stores, "message"))
    assert {r.channel for r in stores.sink.records} == {"#pub"}

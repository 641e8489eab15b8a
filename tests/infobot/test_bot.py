"""The Bot façade against a scripted server that speaks IRCv3 (ngircd does not)."""

import asyncio
from datetime import UTC, datetime

from botadmin.infobot import (
    Bot,
    ChannelConfig,
    MemoryIgnoreStore,
    MemoryLogSink,
    MemorySeenStore,
    MemoryStorage,
    NetworkConfig,
    Timing,
)

from .conftest import FakeServer


class EchoingServer(FakeServer):
    """Offers echo-message and server-time, and echoes the client's messages back."""

    register_on = "CAP END"

    def answer(self, line: str) -> bytes:
        if line == "CAP LS 302":
            return b":srv CAP * LS :echo-message server-time message-tags account-tag\r\n"
        if line.startswith("CAP REQ :"):
            return f":srv CAP * ACK :{line[9:]}\r\n".encode()
        if line.startswith("PRIVMSG #a :"):
            stamp = "@time=2026-05-06T07:08:09.000Z;msgid=own1"
            return f"{stamp} :bot!u@h {line}\r\n".encode()
        return b""


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_it_logs_its_own_echoed_line_once_with_the_servers_time_and_msgid(fake_server):
    tagged = b"@time=2026-01-02T03:04:05.000Z;msgid=x1;account=annacct :ann!a@h PRIVMSG #a :hi\r\n"
    server, port = await fake_server(EchoingServer, greeting=[tagged])
    sink = MemoryLogSink()
    config = NetworkConfig("v3", "127.0.0.1", port, False, "bot", channels=[ChannelConfig("#a")])
    bot = Bot(
        [config], [], storage=MemoryStorage(), seen=MemorySeenStore(),
        ignores=MemoryIgnoreStore(), log_sink=sink, plugins=[], timing=Timing(log_interval=0.02),
    )  # fmt: skip
    await bot.start()
    try:
        await until(lambda: bot.status()["v3"].channels == ["#a"])
        await bot.say("v3", "#a", "hello")
        await until(lambda: any(r.nick == "bot" and r.kind == "message" for r in sink.records))
        await asyncio.sleep(0.1)
    finally:
        await bot.stop()
    messages = [r for r in sink.records if r.kind == "message"]
    assert [(r.nick, r.text, r.msgid) for r in messages] == [
        ("ann", "hi", "x1"),
        ("bot", "hello", "own1"),
    ]
    assert messages[0].time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert messages[0].account == "annacct"
    assert "CAP REQ :account-tag echo-message message-tags server-time" in server.received

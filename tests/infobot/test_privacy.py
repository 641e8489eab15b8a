"""What the bot keeps: off-the-record lines, opt-outs, entry notices and IRCv3 REDACT.

IRC lines in, through the sans-I/O session and the Bot's event handler, and the log
writer's sink (or the lines the bot sends) out: no sockets.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from botadmin.infobot import (
    Bot,
    ChannelConfig,
    MemoryIgnoreStore,
    MemoryLogSink,
    MemoryOptOutStore,
    MemorySeenStore,
    MemoryStorage,
    NetworkConfig,
    Privacy,
    Redaction,
)
from botadmin.infobot.logwriter import LogRecord, LogWriter
from botadmin.infobot.protocol import parse
from botadmin.infobot.session import Session

CHANNELS = [ChannelConfig("#pub"), ChannelConfig("#quiet", logged=False)]


def config(privacy: Privacy | None = None, channels=CHANNELS) -> NetworkConfig:
    return NetworkConfig(
        "net", "127.0.0.1", 6667, False, "bot", channels=channels, privacy=privacy or Privacy()
    )


class LoggingBot:
    """A Bot without connections: lines go through a session into the Bot's event handler."""

    def __init__(self, network: NetworkConfig) -> None:
        self.sink, self.optouts = MemoryLogSink(), MemoryOptOutStore()
        self.bot = Bot(
            [network], [], storage=MemoryStorage(), seen=MemorySeenStore(),
            ignores=MemoryIgnoreStore(), log_sink=self.sink, plugins=[], optouts=self.optouts,
        )  # fmt: skip
        self.session = Session(network)

    async def feed(self, *lines: str) -> None:
        for line in lines:
            for event in self.session.receive(parse(line)):
                self.bot._on_event("net", event)
        await asyncio.gather(*self.bot._tasks)
        assert await self.bot.writer.flush()

    def logged(self) -> list[tuple[str, str, str]]:
        return [(r.channel, r.nick, r.text) for r in self.sink.records]


def said(nick: str, text: str, channel: str = "#pub", tags: str = "") -> str:
    return f"{tags}:{nick}!{nick}@host PRIVMSG {channel} :{text}"


# -- the rules ------------------------------------------------------------------------


def test_a_line_starting_with_the_marker_is_off_the_record():
    privacy = Privacy()
    assert privacy.off_the_record("message", "[off] between us")
    assert privacy.off_the_record("action", "  [off] whispers")
    assert not privacy.off_the_record("message", "I said [off] once")
    assert not privacy.off_the_record("join", "[off]")
    assert not Privacy(off_marker="").off_the_record("message", "[off] no marker configured")
    assert Privacy(off_marker="!nolog").off_the_record("message", "!nolog hush")


def test_an_opted_out_nick_is_not_kept_whatever_its_case_nor_the_change_to_it():
    privacy = Privacy(opted_out=frozenset({"ann{m}"}))  # folded, as the policy stores it
    assert not privacy.keeps("ANN[M]", "message", "hi")
    assert not privacy.keeps("ANN{m}", "join", "")
    assert not privacy.keeps("ann_", "nick", "Ann[m]")
    assert privacy.keeps("bob", "message", "ann[m]: hi")


def test_a_redacted_nick_is_kept_but_never_repeated():
    privacy = Privacy(redacted=frozenset({"grace"}))
    assert privacy.keeps("Grace", "message", "hi")
    assert not privacy.repeatable("Grace", "message", "hi")
    assert not privacy.repeatable("ivy", "nick", "GRACE")
    assert privacy.repeatable("ivy", "message", "grace said so")


# -- the log ----------------------------------------------------------------------------


async def test_off_the_record_lines_are_not_logged():
    bot = LoggingBot(config())
    await bot.feed(said("ann", "[off] my phone number"), said("ann", "on the record"))
    assert bot.logged() == [("#pub", "ann", "on the record")]


async def test_the_marker_is_the_networks():
    bot = LoggingBot(config(Privacy(off_marker="(nolog)")))
    await bot.feed(said("ann", "(nolog) secret"), said("ann", "[off] logged here"))
    assert bot.logged() == [("#pub", "ann", "[off] logged here")]


async def test_an_opted_out_nick_is_not_logged_at_all():
    bot = LoggingBot(config(Privacy(opted_out=frozenset({"ann"}))))
    await bot.feed(
        ":ann!a@host JOIN #pub", said("ann", "hello"), ":ann!a@host NICK ann_away",
        said("bob", "hi ann"), ":ann_away!a@host PART #pub",
    )  # fmt: skip
    assert bot.logged() == [("#pub", "bob", "hi ann"), ("#pub", "ann_away", "")]


async def test_an_optout_said_at_runtime_applies_at_once_and_is_stored():
    bot = LoggingBot(config())
    await bot.feed(said("ann", "before"))
    await bot.bot.optouts.put("net", "ANN", True)
    await bot.feed(said("ann", "after"))
    assert bot.logged() == [("#pub", "ann", "before")]
    assert bot.optouts.opted_out == {("net", "ann")}
    await bot.bot.optouts.put("net", "ann", False)
    await bot.feed(said("ann", "back"))
    assert bot.logged()[-1] == ("#pub", "ann", "back")


async def test_a_runtime_optout_lasts_until_the_configuration_holds_it():
    bot = LoggingBot(config())
    await bot.bot.optouts.put("net", "ann", True)
    await bot.bot.apply_config([config()], [])  # read before the store was written
    await bot.feed(said("ann", "still out"))
    assert bot.logged() == []
    await bot.bot.apply_config([config(Privacy(opted_out=frozenset({"ann"})))], [])
    assert bot.bot.optouts.changes == {}
    await bot.bot.apply_config([config()], [])  # opted back in from the database
    await bot.feed(said("ann", "in again"))
    assert bot.logged() == [("#pub", "ann", "in again")]
    await bot.bot.stop()


# -- IRCv3 draft/message-redaction ------------------------------------------------------------


def registered(session: Session, caps: str) -> list[str]:
    session.start()
    session.take_output()
    session.receive(parse(f"CAP * LS :{caps}"))
    return [out.line for out in session.take_output()]


def test_the_redaction_capability_is_requested_when_offered():
    assert registered(Session(config()), "draft/message-redaction server-time foo") == [
        "CAP REQ :draft/message-redaction server-time"
    ]


def test_a_redact_becomes_an_event_with_the_msgid_of_the_line_redacted():
    session = Session(config())
    [event] = session.receive(parse("@msgid=r1 :op!o@host REDACT #pub abc123 :spam"))
    assert (event.kind, event.channel, event.msgid, event.text) == (
        "redact",
        "#pub",
        "abc123",
        "spam",
    )
    assert session.receive(parse(":op!o@host REDACT somenick abc123")) == []
    assert session.receive(parse(":op!o@host REDACT #pub")) == []


async def test_a_redacted_message_is_removed_from_the_log_even_before_it_was_stored():
    bot = LoggingBot(config())
    await bot.feed(
        said("ann", "keep me", tags="@msgid=m1 "), said("ann", "oops", tags="@msgid=m2 ")
    )
    assert [text for _, _, text in bot.logged()] == ["keep me", "oops"]
    await bot.feed(":ann!a@host REDACT #pub m2")
    assert bot.logged() == [("#pub", "ann", "keep me")]
    # A REDACT arriving while the line still waits in the writer removes it all the same.
    for event in bot.session.receive(parse(said("ann", "typo", tags="@msgid=m3 "))):
        bot.bot._on_event("net", event)
    await bot.feed(":ann!a@host REDACT #PUB m3")
    assert bot.logged() == [("#pub", "ann", "keep me")]


async def test_the_live_tails_are_rung_when_a_redaction_is_applied():
    rung: list[LogRecord] = []
    sink = MemoryLogSink()
    writer = LogWriter(sink, rung.append, interval=3600)
    writer.add(LogRecord("net", "#pub", datetime.now(UTC), "ann", "message", "x", msgid="m1"))
    writer.redact(Redaction("net", "#pub", "m1"))
    assert await writer.flush()
    assert sink.records == []
    assert [(r.channel, r.kind, r.msgid) for r in rung] == [
        ("#pub", "message", "m1"),
        ("#pub", "redact", "m1"),
    ]


class FailingRedactions(MemoryLogSink):
    failures = 1

    async def redact(self, redactions):
        if self.failures:
            self.failures -= 1
            raise OSError("database is locked")
        await super().redact(redactions)


async def test_a_redaction_the_sink_failed_is_retried():
    sink = FailingRedactions()
    writer = LogWriter(sink, interval=3600)
    writer.add(LogRecord("net", "#pub", datetime.now(UTC), "ann", "message", "x", msgid="m1"))
    writer.redact(Redaction("net", "#pub", "m1"))
    assert not await writer.flush()
    assert len(sink.records) == 1
    assert await writer.flush()
    assert sink.records == []


# -- the entry notice -------------------------------------------------------------------------


def test_the_bot_tells_a_channel_it_is_logged_when_it_joins():
    notice = "This channel is logged: https://logs.example.org/ (start a line with [off])"
    channels = [ChannelConfig("#pub", entry_notice=notice), ChannelConfig("#quiet")]
    session = Session(config(channels=channels))
    session.start()
    session.receive(parse(":srv 001 bot :Welcome"))
    session.take_output()
    session.receive(parse(":bot!u@host JOIN #pub"))
    session.receive(parse(":bot!u@host JOIN #quiet"))
    session.receive(parse(":ann!a@host JOIN #pub"))  # not for others' joins
    assert [out.line for out in session.take_output()] == [f"NOTICE #pub :{notice}"]

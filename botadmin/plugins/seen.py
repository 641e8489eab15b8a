"""seen: when and where a nick last spoke, and what it said."""

from __future__ import annotations

from datetime import UTC, datetime

from botadmin.infobot import Incoming, Plugin, SeenEntry, SeenStore, Setting, command, every, on
from botadmin.infobot.protocol import fold

FLUSH_PERIOD = 2.0


def ago(then: datetime, now: datetime) -> str:
    """Word a short human duration like "3h 12m ago"."""
    seconds = max(0, int((now - then).total_seconds()))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2]) + " ago"


class Seen(Plugin):
    """Remembers when each nick last spoke in a channel."""

    settings = (
        Setting(
            "reveal_private",
            bool,
            False,
            "Say that a nick was seen in a private channel (never where or what).",
        ),
    )

    async def setup(self) -> None:
        self.store = self.context.component(SeenStore)
        # Lines are held here and written in batches: no database write per IRC line.
        self.pending: dict[tuple[str, str], SeenEntry] = {}
        # The last public line of each nick not yet stored, for when a private one follows.
        self.pending_public: dict[tuple[str, str], SeenEntry] = {}

    async def teardown(self) -> None:
        await self.flush()

    @on("message", "action")
    async def remember(self, msg: Incoming) -> None:
        if msg.channel is None:
            return
        entry = SeenEntry(
            msg.network, msg.nick, msg.channel, msg.time, msg.text, msg.kind, msg.public
        )
        self.pending[(msg.network, fold(msg.nick))] = entry
        if msg.public:
            self.pending_public[(msg.network, fold(msg.nick))] = entry

    @every(FLUSH_PERIOD)
    async def flush(self) -> None:
        if self.pending and self.store is not None:
            batch, self.pending = list(self.pending.values()), {}
            # Stored public lines are found through the store (and its policy) from now on.
            self.pending_public = {}
            try:
                await self.store.put(batch)
            except Exception:
                for entry in batch:  # keep them, unless something newer came meanwhile
                    self.pending.setdefault((entry.network, fold(entry.nick)), entry)
                raise

    async def last(self, network: str, nick: str) -> SeenEntry | None:
        entry = self.pending.get((network, fold(nick)))
        if entry is None and self.store is not None:
            entry = await self.store.get(network, nick)
        return entry

    @command("seen")
    async def seen(self, msg: Incoming, args: str) -> None:
        """seen NICK: when and where NICK last spoke, and what they said."""
        nick = args.split()[0] if args.split() else ""
        if not nick:
            await msg.reply("Usage: seen NICK")
            return
        entry = await self.last(msg.network, nick)
        if entry is not None and not self.revealable(entry, msg):
            # The last line was private: the asker is told the last one they may hear of.
            entry = await self.last_public(msg.network, nick) or entry
        await msg.reply(self.describe(nick, entry, msg))

    async def last_public(self, network: str, nick: str) -> SeenEntry | None:
        entry = self.pending_public.get((network, fold(nick)))
        if entry is None and self.store is not None:
            entry = await self.store.public(network, nick)
        return entry

    def revealable(self, entry: SeenEntry, msg: Incoming) -> bool:
        """Whether entry's channel and text may be told where msg asked."""
        same_place = msg.channel is not None and fold(msg.channel) == fold(entry.channel)
        return same_place or (entry.public and self.published(msg.network, entry.channel))

    def describe(self, nick: str, entry: SeenEntry | None, msg: Incoming) -> str:
        privacy = self.context.privacy(msg.network)
        if entry is None or not privacy.repeatable(entry.nick, entry.kind, entry.text):
            # Redacted or opted out since: the bot logs its own replies, so a quote
            # here would publish what the log pages hide.
            return f"I have not seen {nick}."
        when = ago(entry.time, datetime.now(UTC))
        if self.revealable(entry, msg):
            said = f"* {entry.nick} {entry.text}" if entry.kind == "action" else entry.text
            return f"{entry.nick} was last seen in {entry.channel} {when}, saying: {said}"
        # A private channel's name and text never leave it.
        if self.config(msg.network, msg.channel)["reveal_private"]:
            return f"{entry.nick} was last seen {when}, somewhere I cannot say."
        return f"I have not seen {nick}."

    def published(self, network: str, channel: str) -> bool:
        """Tell whether channel is public now: one public then and private since stays private."""
        config = self.context.channel(network, channel)
        return config is not None and config.public

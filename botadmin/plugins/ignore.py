"""ignore: operators make the bot ignore people (globally, on a network or in a channel)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from botadmin.infobot import (
    MINUTELY,
    Discriminating,
    IgnoreEntry,
    IgnoreStore,
    Incoming,
    Plugin,
    Setting,
    Source,
    command,
    every,
)
from botadmin.infobot.protocol import fold

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SCOPES = ("global", "network", "channel")
USAGE = "Usage: ignore add MASK [DURATION] [global|network|channel] | ignore remove MASK [scope] | ignore list"


def glob_match(pattern: str, text: str) -> bool:
    """Match an IRC mask glob: only * and ? are special, and case folds per RFC 1459."""
    regex = re.escape(fold(pattern)).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, fold(text), re.DOTALL) is not None


def mask_matches(mask: str, source_mask: str, account: str | None) -> bool:
    if mask.lower().startswith("$a:"):
        return account is not None and fold(account) == fold(mask[3:])
    return glob_match(mask, source_mask)


def normalise_mask(mask: str) -> str:
    """Complete a mask: a bare nick means that nick from anywhere."""
    if mask.startswith("$") or "!" in mask or "@" in mask:
        return mask
    return f"{mask}!*@*"


def parse_duration(text: str) -> timedelta | None:
    match = re.fullmatch(r"(\d+)([smhdw])", text.lower())
    return timedelta(seconds=int(match[1]) * UNITS[match[2]]) if match else None


def in_scope(entry: IgnoreEntry, source: Source) -> bool:
    if entry.network is not None and entry.network != source.network:
        return False
    if entry.channel is None:
        return True
    return source.channel is not None and fold(source.channel) == fold(entry.channel)


class Ignore(Plugin):
    """Ignores people: the bot does not answer their commands."""

    provides = (Discriminating,)
    settings = (
        Setting(
            "operators",
            list,
            [],
            "Who may use ignore: nick!user@host masks (with * and ?) or $a:account.",
        ),
    )

    async def setup(self) -> None:
        self.store = self.context.component(IgnoreStore)
        self.entries: list[IgnoreEntry] = await self.store.load() if self.store else []

    def is_ignored(self, source: Source) -> bool:
        now = datetime.now(UTC)
        return any(
            (e.expires is None or e.expires > now)
            and in_scope(e, source)
            and mask_matches(e.mask, source.mask, source.account)
            for e in self.entries
        )

    def is_operator(self, msg: Incoming) -> bool:
        operators = self.config(msg.network, msg.channel)["operators"] or []
        return any(mask_matches(op, msg.mask, msg.account) for op in operators)

    @every(MINUTELY)
    async def expire(self) -> None:
        now = datetime.now(UTC)
        for entry in [e for e in self.entries if e.expires and e.expires <= now]:
            self.entries.remove(entry)
            if self.store is not None:
                await self.store.remove(entry)

    @command("ignore")
    async def ignore(self, msg: Incoming, args: str) -> None:
        """ignore add MASK [DURATION] [global|network|channel], ignore remove MASK [scope], ignore list: operators only. MASK is nick!user@host (with * and ?) or $a:account; DURATION like 30m, 2h, 7d."""
        if not self.is_operator(msg):
            await msg.reply("Only operators may use ignore.")
            return
        action, *words = args.split() or [""]
        handlers = {"add": self.add, "remove": self.remove, "list": self.list_entries}
        if action.lower() not in handlers:
            await msg.reply(USAGE)
            return
        await msg.reply(await handlers[action.lower()](msg, words))

    def _entry(self, msg: Incoming, mask: str, options: list[str]) -> IgnoreEntry | str:
        scope, expires = "network", None
        for word in options:
            if word.lower() in SCOPES:
                scope = word.lower()
            elif parse_duration(word) is not None:
                expires = datetime.now(UTC) + parse_duration(word)
            else:
                return f"Not a duration or scope: {word}"
        if scope == "channel" and msg.channel is None:
            return "Channel scope needs to be set from the channel."
        return IgnoreEntry(
            mask=normalise_mask(mask),
            network=None if scope == "global" else msg.network,
            channel=msg.channel if scope == "channel" else None,
            expires=expires,
            added_by=msg.mask,
        )

    async def add(self, msg: Incoming, words: list[str]) -> str:
        entry = self._entry(msg, words[0], words[1:]) if words else USAGE
        if isinstance(entry, str):
            return entry
        if self.store is not None:
            await self.store.add(entry)
        self.entries = [e for e in self.entries if not e.same_scope(entry)] + [entry]
        return f"Ignoring {entry.mask} ({describe_scope(entry)})."

    async def remove(self, msg: Incoming, words: list[str]) -> str:
        entry = self._entry(msg, words[0], words[1:]) if words else USAGE
        if isinstance(entry, str):
            return entry
        before = len(self.entries)
        self.entries = [e for e in self.entries if not e.same_scope(entry)]
        if self.store is not None:
            await self.store.remove(entry)
        if len(self.entries) == before:
            return f"{entry.mask} was not ignored ({describe_scope(entry)})."
        return f"No longer ignoring {entry.mask} ({describe_scope(entry)})."

    async def list_entries(self, msg: Incoming, words: list[str]) -> str:
        here = [e for e in self.entries if e.network in (None, msg.network)]
        if not here:
            return "Nobody is ignored."
        return "Ignored: " + "; ".join(f"{e.mask} ({describe_scope(e)})" for e in here)


def describe_scope(entry: IgnoreEntry) -> str:
    where = entry.channel or (f"network {entry.network}" if entry.network else "everywhere")
    until = f", until {entry.expires:%Y-%m-%d %H:%M} UTC" if entry.expires else ""
    return where + until

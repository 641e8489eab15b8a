"""zonenews: tells the channels configured for a zone about each change made to it.

The changes come from a ZoneChangeFeed component (the Django side reads the DNS side's
history; tests use MemoryZoneChangeFeed). The feed's cursor is kept in Storage, written
before the news goes out, so a restart neither repeats nor skips a change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from botadmin.infobot import Plugin, Setting, StaleVersion, Storage

log = logging.getLogger(__name__)
CURSOR = "cursor"

Change = tuple[str, str, str]  # owner, type, rdata (rdata may be empty: the whole RRset)


@dataclass(frozen=True)
class ZoneChangeNews:
    origin: str
    serial: int
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)


class ZoneChangeFeed(Protocol):
    async def changes_after(self, cursor: int) -> tuple[list[ZoneChangeNews], int]:
        """The changes recorded after cursor, oldest first, and the cursor to ask with next."""


class MemoryZoneChangeFeed:
    """The feed as a list: the cursor is how many changes were already handed out."""

    def __init__(self) -> None:
        self.news: list[ZoneChangeNews] = []

    def record(self, news: ZoneChangeNews) -> None:
        self.news.append(news)

    async def changes_after(self, cursor: int) -> tuple[list[ZoneChangeNews], int]:
        return self.news[cursor:], len(self.news)


def absolute(name: str) -> str:
    return name.lower().rstrip(".") + "."


def relative(owner: str, origin: str) -> str:
    """www.example.org. in example.org. is "www", the apex is "@" (as in a zone file)."""
    owner, origin = absolute(owner), absolute(origin)
    if owner == origin:
        return "@"
    return owner[: -len(origin) - 1] if owner.endswith("." + origin) else owner


def summarize(news: ZoneChangeNews, limit: int) -> str:
    items = [f"+{_item(c, news.origin)}" for c in news.added]
    items += [f"-{_item(c, news.origin)}" for c in news.removed]
    shown = ", ".join(items[:limit]) or "no record changes"
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return f"{absolute(news.origin).rstrip('.')} serial {news.serial}: {shown}"


def _item(change: Change, origin: str) -> str:
    owner, rdtype, rdata = change
    return " ".join(part for part in (relative(owner, origin), rdtype, rdata) if part)


class ZoneNews(Plugin):
    """Announces changes to the appliance's zones."""

    settings = (
        Setting("zones", dict, {}, 'Channels per zone, e.g. {"example.org.": ["libera/#ops"]}.'),
        Setting("interval", float, 5.0, "Seconds between two looks at the change feed."),
        Setting("max_items", int, 5, "Record changes shown per announcement."),
    )

    async def setup(self) -> None:
        self.storage = self.context.component(Storage)
        self.feed = self.context.component(ZoneChangeFeed)
        if self.feed is None:
            log.warning("zonenews: no ZoneChangeFeed component; nothing will be announced")
            return
        self.context.scheduler.every(float(self.config(None)["interval"]), self.poll)

    async def poll(self) -> None:
        stored = await self.storage.get(self.name, CURSOR)
        cursor = stored.value if stored else 0
        news, after = await self.feed.changes_after(cursor)
        if after == cursor:
            return
        try:
            await self.storage.put(self.name, CURSOR, after, stored.version if stored else 0)
        except StaleVersion:
            return  # another bot worker took this batch and announces it
        if stored is None:
            # First run ever: start from now, not with the whole history of every zone.
            return
        for item in news:
            await self.announce(item)

    async def announce(self, news: ZoneChangeNews) -> None:
        config = self.config(None)
        zones = {absolute(zone): where for zone, where in dict(config["zones"]).items()}
        text = summarize(news, int(config["max_items"]))
        for endpoint in zones.get(absolute(news.origin), []):
            network, _, channel = endpoint.partition("/")
            try:
                await self.context.say(network, channel, text)
            except Exception:
                log.exception("zonenews: could not tell %s", endpoint)

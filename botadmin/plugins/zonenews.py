"""zonenews: tells the channels configured for a zone about each change made to it.

The changes come from a ZoneChangeFeed component (its interface is the engine's,
botadmin/infobot/zonefeed.py; the bot worker's reads the DNS side's history, in
botadmin/zonefeed.py; tests use MemoryZoneChangeFeed). The feed rings when a
change may have been made (the channel layer's zone.changed), and the plugin also polls
it on a period, since rings can be lost. Each network has its own cursor in Storage, so
a bot sharded by network announces on the networks it holds, and another shard on its
own; the cursor is written before the news goes out, so a restart does not repeat a
change, and it starts at "now" when the plugin is first set up, so no change made after
that is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from botadmin.infobot import Networks, Plugin, Setting, StaleVersion, Storage
from botadmin.infobot.zonefeed import Change, ZoneChangeFeed, ZoneChangeNews
from botadmin.plugins.relay import parse_endpoint

log = logging.getLogger(__name__)
CURSOR = "cursor"


def absolute(name: str) -> str:
    return name.lower().rstrip(".") + "."


def relative(owner: str, origin: str) -> str:
    """Name owner relative to origin as a zone file does: "www", or "@" for the apex."""
    owner, origin = absolute(owner), absolute(origin)
    if owner == origin:
        return "@"
    return owner[: -len(origin) - 1] if owner.endswith("." + origin) else owner


def summarize(news: ZoneChangeNews, limit: int) -> str:
    items = [f"+{_item(c, news.origin)}" for c in news.added]
    items += [f"-{_item(c, news.origin)}" for c in news.removed]
    shown = ", ".join(items[:limit]) or news.note or "no record changes"
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
        Setting("interval", float, 5.0, "Seconds between two looks at the change feed.", 0.5, 3600),
        Setting("max_items", int, 5, "Record changes shown per announcement.", 1, 50),
    )

    async def setup(self) -> None:
        self.storage = self.context.component(Storage)
        self.feed = self.context.component(ZoneChangeFeed)
        self.unsubscribe: Callable[[], None] | None = None
        if self.feed is None:
            log.warning("zonenews: no ZoneChangeFeed component; nothing will be announced")
            return
        self.lock = asyncio.Lock()
        for network in self.configured_networks():
            await self.start_cursor(network)
        self.unsubscribe = self.feed.subscribe(self.poll)
        self.context.scheduler.every(float(self.config(None)["interval"]), self.poll)

    async def teardown(self) -> None:
        if self.unsubscribe is not None:
            self.unsubscribe()

    def endpoints(self) -> dict[str, list[tuple[str, str]]]:
        """Map each zone, by absolute origin, to the channels configured for it."""
        zones = dict(self.config(None)["zones"])
        return {
            absolute(zone): [e for e in map(parse_endpoint, where) if e is not None]
            for zone, where in zones.items()
        }

    def configured_networks(self) -> set[str]:
        return {network for where in self.endpoints().values() for network, _ in where}

    def served_networks(self) -> set[str]:
        """Configured networks this bot has a link to (a shard holds only some)."""
        networks = self.context.component(Networks)
        if networks is None:
            return self.configured_networks()
        return self.configured_networks() & set(networks.status())

    async def start_cursor(self, network: str) -> None:
        """Start this network's news at the latest change, unless it has a cursor already."""
        _, now = await self.feed.changes_after(None)
        with contextlib.suppress(StaleVersion):
            await self.storage.put(self.name, f"{CURSOR}:{network}", now, 0)

    async def poll(self) -> None:
        async with self.lock:  # a ring and the period must not read the same cursor twice
            for network in sorted(self.served_networks()):
                await self.poll_network(network)

    async def poll_network(self, network: str) -> None:
        stored = await self.storage.get(self.name, f"{CURSOR}:{network}")
        if stored is None:
            # Configured since the plugin was set up: its news start now.
            await self.start_cursor(network)
            return
        news, after = await self.feed.changes_after(stored.value)
        if after == stored.value:
            return
        try:
            await self.storage.put(self.name, f"{CURSOR}:{network}", after, stored.version)
        except StaleVersion:
            return  # another bot worker holding this network took the batch and announces it
        for item in news:
            await self.announce(network, item)

    async def announce(self, network: str, news: ZoneChangeNews) -> None:
        text = summarize(news, int(self.config(None)["max_items"]))
        for where, channel in self.endpoints().get(absolute(news.origin), []):
            if where != network:
                continue
            try:
                await self.context.say(network, channel, text)
            except Exception:
                log.exception("zonenews: could not tell %s/%s", network, channel)

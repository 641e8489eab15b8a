"""The zone change feed: what the zonenews plugin reads and the bot worker provides.

The engine holds the interface, so that the plugin (botadmin/plugins/zonenews.py) and
the Django side (botadmin/zonefeed.py reads dnsadmin's history) both depend on it and
not on each other; MemoryZoneChangeFeed serves tests and a bot run without a database.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

Change = tuple[str, str, str]  # owner, type, rdata (rdata may be empty: the whole RRset)
Cursor = Any  # the feed's own, JSON-serialisable; None asks for "now"
Wake = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class ZoneChangeNews:
    origin: str
    serial: int
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    note: str = ""  # shown when no record changed (zone settings, a zone deleted)


class ZoneChangeFeed(Protocol):
    async def changes_after(self, cursor: Cursor) -> tuple[list[ZoneChangeNews], Cursor]:
        """Return the changes recorded after cursor, oldest first, and the next cursor.

        With cursor None: no changes, and the cursor of the latest one (start "now").
        """

    def subscribe(self, wake: Wake) -> Callable[[], None]:
        """Have wake awaited when changes may have been recorded; return the unsubscriber."""


class Doorbell:
    """The subscribe side of a feed: ``ring`` awaits every subscriber, one failing or not."""

    def __init__(self) -> None:
        self._wakes: list[Wake] = []

    def subscribe(self, wake: Wake) -> Callable[[], None]:
        """Have wake awaited on every ring; return the unsubscriber."""
        self._wakes.append(wake)
        return lambda: self._wakes.remove(wake)

    async def ring(self) -> None:
        """Wake every subscriber: changes may have been recorded."""
        for wake in list(self._wakes):
            try:
                await wake()
            except Exception:
                log.exception("zone change feed: a subscriber failed")


class MemoryZoneChangeFeed(Doorbell):
    """The feed as a list: the cursor is how many changes were already handed out."""

    def __init__(self) -> None:
        super().__init__()
        self.news: list[ZoneChangeNews] = []

    async def record(self, news: ZoneChangeNews) -> None:
        """Add news to the feed and ring."""
        self.news.append(news)
        await self.ring()

    async def changes_after(self, cursor: int | None) -> tuple[list[ZoneChangeNews], int]:
        if cursor is None:
            return [], len(self.news)
        return self.news[cursor:], len(self.news)

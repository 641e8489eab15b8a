"""Storage interfaces the bot is given, and in-memory implementations of them.

The Django side (botadmin/bridge.py) implements the same protocols on the database; the
memory versions serve the tests and a bot run without one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .protocol import fold


class StaleVersion(Exception):
    """A put named a version that is no longer the stored one."""


@dataclass(frozen=True)
class Stored:
    value: Any
    version: int


class Storage(Protocol):
    """JSON values by plugin and key, with optimistic concurrency by version number."""

    async def get(self, plugin: str, key: str) -> Stored | None: ...

    async def put(self, plugin: str, key: str, value: Any, version: int = 0) -> int:
        """Store value if the current version is ``version`` (0: absent); return the new one.

        Raises StaleVersion otherwise.
        """


class MemoryStorage:
    def __init__(self) -> None:
        self._data: dict[tuple[str, str], Stored] = {}

    async def get(self, plugin: str, key: str) -> Stored | None:
        stored = self._data.get((plugin, key))
        return Stored(copy.deepcopy(stored.value), stored.version) if stored else None

    async def put(self, plugin: str, key: str, value: Any, version: int = 0) -> int:
        current = self._data.get((plugin, key))
        if (current.version if current else 0) != version:
            raise StaleVersion(f"{plugin}/{key}: version {version} is stale")
        self._data[(plugin, key)] = Stored(copy.deepcopy(value), version + 1)
        return version + 1


@dataclass(frozen=True)
class SeenEntry:
    network: str
    nick: str
    channel: str
    time: datetime
    text: str
    kind: str = "message"
    # Whether channel was public when the line was said; private ones are never revealed.
    public: bool = True


class SeenStore(Protocol):
    async def get(self, network: str, nick: str) -> SeenEntry | None: ...

    async def public(self, network: str, nick: str) -> SeenEntry | None:
        """The nick's last sighting in a channel public then and now (for when the last one
        was private): a private last line must not hide an earlier public one."""

    async def put(self, entries: list[SeenEntry]) -> None: ...


class MemorySeenStore:
    def __init__(self) -> None:
        self._data: dict[tuple[str, str], SeenEntry] = {}
        self._public: dict[tuple[str, str], SeenEntry] = {}

    async def get(self, network: str, nick: str) -> SeenEntry | None:
        return self._data.get((network, fold(nick)))

    async def public(self, network: str, nick: str) -> SeenEntry | None:
        return self._public.get((network, fold(nick)))

    async def put(self, entries: list[SeenEntry]) -> None:
        for entry in entries:
            self._data[(entry.network, fold(entry.nick))] = entry
            if entry.public:
                self._public[(entry.network, fold(entry.nick))] = entry


@dataclass(frozen=True)
class IgnoreEntry:
    """An ignored mask; global when network is None, per channel when channel is set."""

    mask: str
    network: str | None = None
    channel: str | None = None
    expires: datetime | None = None
    added_by: str = ""

    def same_scope(self, other: IgnoreEntry) -> bool:
        return (fold(self.mask), self.network, fold(self.channel or "")) == (
            fold(other.mask),
            other.network,
            fold(other.channel or ""),
        )


class IgnoreStore(Protocol):
    async def load(self) -> list[IgnoreEntry]: ...

    async def add(self, entry: IgnoreEntry) -> None:
        """Add entry, replacing one with the same mask and scope."""

    async def remove(self, entry: IgnoreEntry) -> bool:
        """Remove the entry with entry's mask and scope; False if there was none."""


class MemoryIgnoreStore:
    def __init__(self) -> None:
        self.entries: list[IgnoreEntry] = []

    async def load(self) -> list[IgnoreEntry]:
        return list(self.entries)

    async def add(self, entry: IgnoreEntry) -> None:
        self.entries = [e for e in self.entries if not e.same_scope(entry)] + [entry]

    async def remove(self, entry: IgnoreEntry) -> bool:
        kept = [e for e in self.entries if not e.same_scope(entry)]
        removed, self.entries = len(kept) != len(self.entries), kept
        return removed

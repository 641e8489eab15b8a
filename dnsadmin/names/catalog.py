"""The set of zones being served, swapped atomically, and the rendered-answer cache it owns."""

from __future__ import annotations

import threading

import dns.name

from .zone import Key, Zone, lower_labels

DEFAULT_CACHE_SIZE = 50_000


class ZoneCatalog:
    """Zones by origin; the closest enclosing zone answers a name.

    Readers never lock: every change builds a new dict and rebinds it in one assignment, so a
    query sees either the old or the new set of zones, never half of a change. Writers lock
    against each other only.
    """

    def __init__(self, zones: list[Zone] | None = None, *, cache_size: int = DEFAULT_CACHE_SIZE):
        self._zones: dict[Key, Zone] = {}
        self._lock = threading.Lock()
        self.cache_size = cache_size
        self.generation = 0
        self.udp_cache: dict[bytes, object] = {}
        self.tcp_cache: dict[bytes, object] = {}
        for zone in zones or ():
            self.replace(zone)

    def replace(self, zone: Zone) -> None:
        """Serve zone, replacing any zone with the same origin."""
        with self._lock:
            zones = dict(self._zones)
            zones[lower_labels(zone.origin)] = zone
            self._publish(zones)

    def remove(self, origin: str) -> None:
        key = lower_labels(dns.name.from_text(origin))
        with self._lock:
            zones = dict(self._zones)
            zones.pop(key, None)
            self._publish(zones)

    def _publish(self, zones: dict[Key, Zone]) -> None:
        # Fresh cache dicts: an answer computed from the old zones may still be stored into
        # the old dict by a reader that started before the swap, where nobody will look.
        self.udp_cache = {}
        self.tcp_cache = {}
        self._zones = zones
        self.generation += 1

    def serials(self) -> dict[str, int]:
        return {zone.origin.to_text(): zone.serial for zone in self._zones.values()}

    def zones(self) -> list[Zone]:
        return list(self._zones.values())

    def get(self, origin: dns.name.Name) -> Zone | None:
        """The zone whose origin is exactly origin."""
        return self._zones.get(lower_labels(origin))

    def find(self, qname: dns.name.Name | str) -> Zone | None:
        """The closest enclosing zone of qname, or None when no zone contains it."""
        if isinstance(qname, str):
            qname = dns.name.from_text(qname)
        zones = self._zones
        labels = lower_labels(qname)
        for start in range(len(labels)):
            zone = zones.get(labels[start:])
            if zone is not None:
                return zone
        return None

    def __len__(self) -> int:
        return len(self._zones)

"""The set of zones being served, swapped atomically."""

from __future__ import annotations

import threading

import dns.name

from .zone import Key, Zone, lower_labels


class WireZones(dict):
    """Zones by their origin's wire form in lowercase (ZoneCatalog.by_wire), and the names
    found outside every one of them (authority.closest's parents of the names asked), which
    go with the dict when the zones change."""

    __slots__ = ("outside",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.outside: set[bytes] = set()


class ZoneCatalog:
    """Zones by origin; the closest enclosing zone answers a name.

    Readers never lock: every change builds a new dict and rebinds it in one assignment, so a
    query sees either the old or the new set of zones, never half of a change. Writers lock
    against each other only. generation goes up with every change, for whoever keeps answers
    made from the zones.
    """

    def __init__(self, zones: list[Zone] | None = None) -> None:
        self._zones: dict[Key, Zone] = {}
        # The same zones by their origin's wire form in lowercase, as authority.locate looks
        # a question's name up from its bytes.
        self.by_wire: dict[bytes, Zone] = WireZones()
        self._lock = threading.Lock()
        self.generation = 0
        for zone in zones or ():
            self.replace(zone)

    def replace(self, zone: Zone) -> None:
        """Serve zone, replacing any zone with the same origin."""
        with self._lock:
            zones = dict(self._zones)
            zones[lower_labels(zone.origin)] = zone
            self._publish(zones)

    def remove(self, origin: str) -> None:
        """Stop serving the zone of that origin, if it was served."""
        key = lower_labels(dns.name.from_text(origin))
        with self._lock:
            zones = dict(self._zones)
            zones.pop(key, None)
            self._publish(zones)

    def _publish(self, zones: dict[Key, Zone]) -> None:
        self.by_wire = WireZones((zone.origin.to_wire().lower(), zone) for zone in zones.values())
        self._zones = zones
        self.generation += 1

    def get(self, origin: dns.name.Name) -> Zone | None:
        """Return the zone whose origin is exactly origin."""
        return self._zones.get(lower_labels(origin))

    def find(self, qname: dns.name.Name | str) -> Zone | None:
        """Return the closest enclosing zone of qname, or None when no zone contains it."""
        if isinstance(qname, str):
            qname = dns.name.from_text(qname)
        return self.find_key(lower_labels(qname))

    def find_key(self, labels: Key) -> Zone | None:
        """Return the closest enclosing zone of the name of these case-folded labels."""
        zones = self._zones
        for start in range(len(labels)):
            zone = zones.get(labels[start:])
            if zone is not None:
                return zone
        return None

    def __len__(self) -> int:
        return len(self._zones)

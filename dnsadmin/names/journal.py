"""A served zone's recent differences, for answering IXFR (RFC 1995) with what changed.

Each served zone may carry a ``Journal``: the deltas that led from older serials to its own,
each naming the RRsets one reload rewrote as they were served before and after it. An IXFR
from a client at one of those serials gets the deltas since then condensed into one (an RRset
changed three times is sent once, as it was and as it is); any other client gets the zone.
The journal is built by the worker from the zones it served (``dnsadmin/snapshot.py`` says which
RRsets the history changed), so what it describes is exactly what was served.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import dns.name

from .render import Records
from .zone import SOA, Key, Owned, Zone, lower_labels

# Bounds on what a journal keeps: the oldest deltas go first (their clients get the zone).
MAX_DELTAS = 500
MAX_RECORDS = 20_000

RRsetKey = tuple[Key, int]  # case-folded labels relative to the origin, and the type


@dataclass(frozen=True, slots=True)
class Change:
    """One RRset before and after (None: absent), with its owner as served."""

    owner: dns.name.Name
    before: Records | None
    after: Records | None


@dataclass(frozen=True, slots=True)
class Delta:
    """What one reload changed: from serial_from (whose SOA was soa_from) to serial_to."""

    serial_from: int
    serial_to: int
    soa_from: Records
    changes: dict[RRsetKey, Change]

    @property
    def size(self) -> int:
        return sum(len(c.before or ()) + len(c.after or ()) for c in self.changes.values())


@dataclass(frozen=True, slots=True)
class Difference:
    """The condensed difference between a client's serial and ours, as IXFR sends it."""

    soa_from: Records
    removed: list[Owned]
    added: list[Owned]

    @property
    def size(self) -> int:
        return sum(len(records) for _, records in self.removed + self.added)


@dataclass(frozen=True, slots=True)
class Journal:
    """The deltas leading to serial, oldest first, each starting where the one before ends."""

    serial: int
    deltas: tuple[Delta, ...] = ()

    def extended(self, delta: Delta) -> Journal:
        """Return this journal with delta appended, the oldest deltas dropped past the bounds."""
        if delta.serial_from != self.serial:
            raise ValueError(f"delta from {delta.serial_from} does not follow {self.serial}")
        deltas = [*self.deltas, delta]
        total = sum(d.size for d in deltas)
        while deltas and (len(deltas) > MAX_DELTAS or total > MAX_RECORDS):
            total -= deltas.pop(0).size
        return Journal(delta.serial_to, tuple(deltas))

    def since(self, serial: int) -> Difference | None:
        """Return what changed from serial to ours, or None when the journal does not reach
        back to serial."""
        for start, delta in enumerate(self.deltas):
            if delta.serial_from == serial:
                return condense(self.deltas[start:])
        return None


def condense(deltas: Iterable[Delta]) -> Difference:
    """Fold consecutive deltas into one: each RRset as the first delta found it and as the
    last one left it."""
    deltas = list(deltas)
    first: dict[RRsetKey, Change] = {}
    for delta in deltas:
        for key, change in delta.changes.items():
            was = first.get(key)
            first[key] = change if was is None else Change(change.owner, was.before, change.after)
    removed: list[Owned] = []
    added: list[Owned] = []
    for change in first.values():
        gone, new = _difference(change.before, change.after)
        if gone is not None:
            removed.append((change.owner, gone))
        if new is not None:
            added.append((change.owner, new))
    return Difference(deltas[0].soa_from, removed, added)


def _difference(
    before: Records | None, after: Records | None
) -> tuple[Records | None, Records | None]:
    """Return the records to delete and to add to turn before into after."""
    if before is None or after is None or before.ttl != after.ttl:
        # A new TTL is the RRset deleted and added again: a client would otherwise keep the
        # records it still has at the old TTL.
        return before, after
    old, new = set(before.wires), set(after.wires)
    gone = tuple(w for w in before.wires if w not in new)
    fresh = tuple(w for w in after.wires if w not in old)
    return (
        Records(before.rdtype, before.ttl, gone) if gone else None,
        Records(after.rdtype, after.ttl, fresh) if fresh else None,
    )


def delta_between(previous: Zone, zone: Zone, changed: Iterable[tuple[str, int]]) -> Delta:
    """Return the delta from previous to zone, which differ in the RRsets ``changed`` only
    ((owner relative to the origin or '@', rdtype) pairs, as the history names them)."""
    changes: dict[RRsetKey, Change] = {}
    for owner, rdtype in changed:
        if rdtype == SOA:
            continue  # the SOA is carried by every delta itself
        name = dns.name.from_text(owner, zone.origin) if owner != "@" else zone.origin
        labels = lower_labels(name)[: len(name) - len(zone.origin)]
        before, after = records_at(previous, labels, rdtype), records_at(zone, labels, rdtype)
        if before != after:
            served_as = _owner(zone, labels) or _owner(previous, labels) or name
            changes[(labels, rdtype)] = Change(served_as, before, after)
    return Delta(previous.serial, zone.serial, previous.soa_records, changes)


def records_at(zone: Zone, labels: Key, rdtype: int) -> Records | None:
    node = zone._nodes.get(labels)
    return node.records(rdtype) if node is not None else None


def _owner(zone: Zone, labels: Key) -> dns.name.Name | None:
    node = zone._nodes.get(labels)
    return node.name if node is not None else None

"""A served zone's recent differences, for answering IXFR (RFC 1995) with what changed.

Each served zone may carry a ``Journal``: the deltas that led from older serials to its own,
each naming the RRsets one reload rewrote as they were served before and after it. An IXFR
from a client at one of those serials gets the deltas since then condensed into one (an RRset
changed three times is sent once, as it was and as it is); any other client gets the zone.
The journal is built by the worker from the zones it served (``dnsadmin/snapshot.py`` says which
RRsets the history changed), so what it describes is exactly what was served. A signed zone's
deltas carry its signatures and NSEC/NSEC3 records too (resigned_delta): they are compared at
the names a re-signing can have rewritten; a zone signed whole starts its journal afresh.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

import dns.name

from .render import Records
from .signer import NSEC3, RRSIG, b32hex
from .zone import SOA, Key, Owned, Zone, lower_labels, owner_key

# Bounds on what a journal keeps: the oldest deltas go first (their clients get the zone).
MAX_DELTAS = 500
MAX_RECORDS = 20_000

# Case-folded labels relative to the origin, the type, and for an RRSIG the type it covers
# (the signatures of each type are an RRset of their own, with their own TTL).
RRsetKey = tuple[Key, int, int]


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
    size: int = 0  # the deltas' records, kept so that a journal is extended in constant time

    def extended(self, delta: Delta) -> Journal:
        """Return this journal with delta appended, the oldest deltas dropped past the bounds."""
        if delta.serial_from != self.serial:
            raise ValueError(f"delta from {delta.serial_from} does not follow {self.serial}")
        deltas = [*self.deltas, delta]
        total = self.size + delta.size
        while deltas and (len(deltas) > MAX_DELTAS or total > MAX_RECORDS):
            total -= deltas.pop(0).size
        return Journal(delta.serial_to, tuple(deltas), total)

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
        labels = owner_key(owner, zone.origin)  # as patch_zone reads it (no Name: cheaper)
        before, after = records_at(previous, labels, rdtype), records_at(zone, labels, rdtype)
        if before != after:
            served_as = _owner(zone, labels) or _owner(previous, labels)
            served_as = served_as or dns.name.from_text(owner, zone.origin)
            changes[(labels, rdtype, 0)] = Change(served_as, before, after)
    return Delta(previous.serial, zone.serial, previous.soa_records, changes)


def resigned_delta(previous: Zone, zone: Zone, owners: Iterable[str]) -> Delta:
    """Return the delta from the signed zone previous to zone, previous patched at ``owners``
    (relative names, '@' the apex) and re-signed by signer.resign.

    Re-signing rewrites what is at those names, at the names above them (empty non-terminals
    come and go) and at the apex (the SOA's signature), and the NSEC or NSEC3 record of the
    name before each name that came or went in the chain: every RRset and signature there is
    compared in both versions, and only those, so the cost is that of the change."""
    keys = {()}
    for owner in owners:
        name = dns.name.from_text(owner, zone.origin)
        labels = lower_labels(name)[: len(name) - len(zone.origin)]
        keys.update(labels[i:] for i in range(len(labels)))
    changes: dict[RRsetKey, Change] = {}
    old, new = previous.dnssec, zone.dnssec
    if new.policy.nsec3:
        _compare_nsec3(previous, zone, keys, changes)
    else:
        # A name's NSEC names the next name: it changes when a name after it came or went.
        for chain in (old.chain, new.chain):
            keys.update(_before(chain, tuple(reversed(key)))[::-1] for key in list(keys))
    for key in keys:
        _compare_node(previous, zone, key, changes)
    return Delta(previous.serial, zone.serial, previous.soa_records, changes)


def follow_resign(previous: Zone, zone: Zone, owners: Iterable[str]) -> None:
    """Extend zone's journal, left at previous's serial for this (snapshot.next_journal), with
    what signer.resign changed: called once zone is re-signed at owners."""
    known = getattr(zone, "journal", None)
    if known is not None and known.serial == previous.serial != zone.serial:
        zone.journal = known.extended(resigned_delta(previous, zone, owners))


def _before(ordered: list, item):
    """Return the item before where item is (or would be) in a sorted circular list."""
    return ordered[bisect.bisect_left(ordered, item) - 1]


def _compare_node(previous: Zone, zone: Zone, key: Key, changes: dict[RRsetKey, Change]) -> None:
    """Note the RRsets and signatures at key that differ between the two versions."""
    old, new = previous._nodes.get(key), zone._nodes.get(key)
    if old is None and new is None:
        return
    rdtypes = {*(old.types() if old else ()), *(new.types() if new else ())}
    owner = (new if new is not None else old).name
    for rdtype in rdtypes:
        if rdtype != SOA or key:  # the SOA is carried by every delta itself
            before = old.records(rdtype) if old else None
            after = new.records(rdtype) if new else None
            _note(changes, (key, rdtype, 0), owner, before, after)
        before = previous.dnssec.sigs.get((key, rdtype))
        after = zone.dnssec.sigs.get((key, rdtype))
        _note(changes, (key, RRSIG, rdtype), owner, before, after)


def _compare_nsec3(
    previous: Zone, zone: Zone, keys: set[Key], changes: dict[RRsetKey, Change]
) -> None:
    """Note the NSEC3 records, and their signatures, that differ at the hashes of keys and at
    the hashes before them in either chain."""
    old, new = previous.dnssec, zone.dnssec
    origin_wire = zone.origin.to_wire().lower()
    digests = {new.nsec3_hash(key, origin_wire) for key in keys}
    digests.update(_before(chain, d) for chain in (old.hashes, new.hashes) for d in list(digests))
    for digest in digests:
        key = (b32hex(digest),)
        was, now = old.nsec3_nodes.get(digest), new.nsec3_nodes.get(digest)
        if was is None and now is None:
            continue
        owner = (now if now is not None else was).name
        before = was.records(NSEC3) if was else None
        after = now.records(NSEC3) if now else None
        _note(changes, (key, NSEC3, 0), owner, before, after)
        sigs = old.sigs.get((key, NSEC3)), new.sigs.get((key, NSEC3))
        _note(changes, (key, RRSIG, NSEC3), owner, *sigs)


def _note(
    changes: dict[RRsetKey, Change],
    key: RRsetKey,
    owner: dns.name.Name,
    before: Records | None,
    after: Records | None,
) -> None:
    if before != after:
        changes[key] = Change(owner, before, after)


def records_at(zone: Zone, labels: Key, rdtype: int) -> Records | None:
    node = zone._nodes.get(labels)
    return node.records(rdtype) if node is not None else None


def _owner(zone: Zone, labels: Key) -> dns.name.Name | None:
    node = zone._nodes.get(labels)
    return node.name if node is not None else None

"""In-memory authoritative zones and the RFC 1034 4.3.2 lookup inside one zone.

Records are kept in the wire form they arrive in and copied into responses as they are, so a
zone of 100,000 records builds in well under a second. dnspython rdatasets are decoded on first
use only where the lookup needs a field (a CNAME, DNAME or NS target, the SOA's serial).
"""

from __future__ import annotations

import asyncio
import enum
import functools
import gc
import logging
import struct
import time
import weakref
from collections.abc import Callable, Collection, Generator, Iterable, Iterator
from typing import Any, NamedTuple

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.zone

from .addresses import Network, allowed, networks
from .answer import Kind, Sections
from .render import (
    COMPRESSIBLE,
    RR_FIXED,
    Labels,
    Records,
    compressed,
    labels_at,
    labels_wire,
    srv_written,
)
from .tsig import split_acl

logger = logging.getLogger(__name__)

IN = dns.rdataclass.IN
SOA = dns.rdatatype.SOA
NS = dns.rdatatype.NS
SRV = dns.rdatatype.SRV
CNAME_TYPE = dns.rdatatype.CNAME
DNAME = dns.rdatatype.DNAME
DS = dns.rdatatype.DS
ANY = dns.rdatatype.ANY
OPT = dns.rdatatype.OPT
SOA_NUMBERS = struct.Struct("!IIIII")  # serial, refresh, retry, expire, minimum
ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)
# RFC 1035 3.3.9/3.3.11, RFC 2782: answers of these types carry their targets' addresses.
ADDITIONAL_TARGET = frozenset({dns.rdatatype.MX, NS, dns.rdatatype.SRV})
# Where the name a record points at starts in its rdata (it runs to the end but for SRV/MX's).
TARGET_AT = {CNAME_TYPE: 0, DNAME: 0, NS: 0, dns.rdatatype.MX: 2, dns.rdatatype.SRV: 6}

# Types whose answers hold names to compress or to add data for, or prove something signed:
# Zone.owned leaves them to lookup.
NOT_OWNED = frozenset(
    {*COMPRESSIBLE, *ADDITIONAL_TARGET, DNAME, DS, dns.rdatatype.OPT, dns.rdatatype.RRSIG,
     dns.rdatatype.NSEC, dns.rdatatype.NSEC3}
)  # fmt: skip

# A zone of this many names and more is frozen out of the collector's passes (see settle).
SETTLE_NODES = 10_000
# The answer records of an RRset precomputed when its zone is built (Zone.wired) at most:
# a bigger RRset (a long TXT) is written when asked. With this bound a zone's precomputed
# answers take at most about WIRED_MAX + 440 bytes an RRset, and as much again for each CNAME
# to it or SRV record pointing at it (its answer records; its key, a name of up to 255
# bytes, type and class; about 180 bytes of objects; the target's name and 330 bytes for
# each target noted in Zone.aliased: Zone.wired_bytes).
WIRED_MAX = 512
# Changes a patch leaves beside the precomputed answers it shares (Zone.wired_changes) at
# most, or an eighth of them if more: past that they are merged into a copy.
WIRED_CHANGES = 4096
# What one zone's precomputed answers may take (Zone.wired_bytes): a zone that needs more
# (some 200,000 RRsets and up) precomputes nothing, its first answers written when asked
# as before, until it is built afresh from its rows.
WIRED_BUDGET = 64 << 20
# Bytes of the objects and dict slot around a precomputed answer, by its form (measured with
# sys.getsizeof on bench/mix's zone, the dict's table shared out): one bytes object (most of
# them), or a tuple of the counts, records and target (what the tuple's items share with
# other answers counted for each, as an upper bound).
ENTRY_OBJECTS, TUPLE_OBJECTS = 120, 265
ALIAS_OBJECTS = 330  # bytes of a name noted in Zone.aliased: its key, a set, a key in it
# A zone served before its answers are precomputed (precompute_served) has them made in
# slices of this many seconds of the event loop, which answers the questions in between.
WIRE_SLICE = 0.004

Key = tuple[bytes, ...]
# A precomputed answer (Zone.wired): the header's counts of questions, answers and authority
# records, the records, the folded wire form of the name a CNAME points at when the answer
# goes through one (else b""), and how many of the records are additional data; or, for most
# (no CNAME, no additional data), the counts and the records in one bytes: one object for
# the first answer to fetch from memory, not three (see authority.wired_answer).
Wired = tuple[bytes, bytes, bytes, int] | bytes
Owned = tuple[dns.name.Name, Records]
# A zone's precomputed answers as made afresh: wired, aliased, and the bytes the answers
# take (Zone._wired_bytes).
Table = tuple[dict[bytes, Wired], dict[Key, set[Key]], int]


class Due(NamedTuple):
    """What a zone served without its precomputed answers waits for (Zone.wire_due): those
    of ``base`` (None: the zone itself, built afresh) with what the names ``touched`` since
    (the patches from base to this zone) change in them redone, as a patch redoes them."""

    base: Zone | None
    touched: frozenset[Key]


FRESH = Due(None, frozenset())


class Abandoned(enum.Enum):
    """What _sliced returns when the zone whose answers it makes is needed no longer."""

    ABANDONED = "abandoned"


ABANDONED = Abandoned.ABANDONED
# One making at a time in an event loop (precompute_served): the loop answers after each
# slice, however many zones wait for their answers.
_MAKING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
_MAKING = weakref.WeakKeyDictionary()


def lower_labels(name: dns.name.Name) -> Key:
    """Return the case-folded labels of a name (names compare ASCII-case-insensitively)."""
    return tuple(label.lower() for label in name.labels)


class Node:
    """The RRsets at one owner name; an empty node is an empty non-terminal."""

    __slots__ = ("_labels", "_name", "_raw", "_records", "_decoded")

    def __init__(self, labels: tuple[bytes, ...]) -> None:
        # Absolute labels as written in the zone; the Name is made on first use, as building
        # 100,000 dnspython Names would take most of a large zone's load time.
        self._labels = labels
        self._name: dns.name.Name | None = None
        self._raw: dict[int, tuple[int, list[bytes]]] = {}
        self._records: dict[int, Records] = {}
        self._decoded: dict[int, dns.rdataset.Rdataset] = {}

    @property
    def name(self) -> dns.name.Name:
        if self._name is None:
            self._name = dns.name.Name(self._labels)
        return self._name

    def add_wire(self, rdtype: int, ttl: int, wire: bytes) -> None:
        ttl_now, wires = self._raw.setdefault(rdtype, (ttl, []))
        wires.append(wire)
        if ttl < ttl_now:
            # RFC 2181 5.2: one TTL per RRset; the smallest is the safe choice.
            self._raw[rdtype] = (ttl, wires)

    def types(self) -> list[int]:
        return sorted(self._raw)

    def __bool__(self) -> bool:
        return bool(self._raw)

    def __contains__(self, rdtype: int) -> bool:
        return rdtype in self._raw

    def records(self, rdtype: int) -> Records | None:
        """Return the RRset of rdtype in wire form, as responses are written."""
        records = self._records.get(rdtype)
        if records is None and rdtype in self._raw:
            records = self._records[rdtype] = _records(rdtype, *self._raw[rdtype])
        return records

    def seal(self) -> None:
        """Make the Records of every RRset now rather than on first use: made with the zone,
        they are frozen with it (see ``settle``) instead of being new objects that every
        collector pass over the answers kept would walk again."""
        made = self._records
        for rdtype, (ttl, wires) in self._raw.items():
            if rdtype not in made:
                made[rdtype] = _records(rdtype, ttl, wires)

    def targets(self, rdtype: int) -> list[dns.name.Name]:
        """Return the names the rdatas of rdtype (one of TARGET_AT) point at, read from their
        wire form: a first answer need not decode the RRset with dnspython (170 us)."""
        start = TARGET_AT[rdtype]
        return [dns.name.Name(labels_at(wire, start)[0]) for wire in self.records(rdtype).wires]

    def get(self, rdtype: int) -> dns.rdataset.Rdataset | None:
        """Return the RRset of rdtype decoded, for the names inside it (targets, SOA fields)."""
        rdataset = self._decoded.get(rdtype)
        if rdataset is None and rdtype in self._raw:
            rdataset = self._decode(rdtype)
        return rdataset

    def replace(self, rdataset: dns.rdataset.Rdataset) -> None:
        """Serve rdataset instead of the records of its type given at build time."""
        self._raw[rdataset.rdtype] = (rdataset.ttl, [rdata.to_wire() for rdata in rdataset])
        self._records.pop(rdataset.rdtype, None)
        self._decoded[rdataset.rdtype] = rdataset

    def _decode(self, rdtype: int) -> dns.rdataset.Rdataset:
        records = self.records(rdtype)
        rdataset = dns.rdataset.Rdataset(IN, rdtype)
        for wire in records.wires:
            rdataset.add(dns.rdata.from_wire(IN, rdtype, wire, 0, len(wire)), records.ttl)
        self._decoded[rdtype] = rdataset
        return rdataset


def _records(rdtype: int, ttl: int, wires: list[bytes]) -> Records:
    """Return an RRset's Records from its rdatas as given (dict.fromkeys: an RRset is a set,
    RFC 2181 5, duplicates are dropped; one rdata, the usual case, needs no dict)."""
    return Records(rdtype, ttl, tuple(wires) if len(wires) == 1 else tuple(dict.fromkeys(wires)))


class Zone:
    """One authoritative zone, immutable once built (the catalog swaps whole zones)."""

    def __init__(
        self,
        origin: dns.name.Name,
        nodes: dict[Key, Node],
        transfer_acl: tuple[Network, ...],
        serial: int | None,
        marked: tuple[frozenset[Key], frozenset[Key]] | None = None,
        wired: tuple[dict, dict, dict] | Due | None = None,
    ) -> None:
        """``marked``: the keys of the zone cuts and DNAMEs in nodes, when the caller knows
        them (a patched zone's), instead of looking at every node; ``wired``: the zone's
        precomputed answers, the changes to them and the aliases by target when the caller
        has them (a patched zone's, see patch_zone), or a Due to serve the zone without them
        until precompute_served makes them (None: made now)."""
        self.origin = origin
        self.transfer_acl = transfer_acl
        # signer.Signed once the zone is signed (RRSIGs, the NSEC/NSEC3 chain); see denial.py.
        self.dnssec: Any = None
        self._nodes = nodes
        self.depth = len(origin.labels)  # the origin's labels, the root's included
        self.key = lower_labels(origin)  # the origin's labels, case-folded
        if marked is None:
            marked = (
                frozenset(k for k, n in nodes.items() if k and NS in n._raw),
                frozenset(k for k, n in nodes.items() if DNAME in n._raw),
            )
        self._cuts, self._dnames = marked
        self.soa_records = self._apex_soa(serial)
        wire = self.soa_records.wires[0]
        # The SOA's wire form ends with its five numbers: SERIAL ... MINIMUM.
        self.serial, minimum = SOA_NUMBERS.unpack_from(wire, len(wire) - 20)[::4]
        minimum = min(self.soa_records.ttl, minimum)
        # RFC 2308 3: the negative-caching TTL is min(SOA TTL, SOA MINIMUM).
        self._negative_soa: Owned = (origin, Records(SOA, minimum, self.soa_records.wires))
        # As BIND's zero-no-soa-ttl: a resolver asking for a SOA must not cache the SOA of a
        # name error as if it were the answer.
        self._zero_soa: Owned = (origin, Records(SOA, 0, self.soa_records.wires))
        # The origin's wire form in lowercase, which every name's key in wired ends with.
        self.origin_wire = origin.to_wire().lower()
        # Precomputed as Knot does when a zone loads: the answer records (owners pointing at
        # the question) and the header's counts, by the name's wire form case-folded, the
        # type and the class, of every RRset that is the whole answer to a plain question
        # for it (owned_at), so that a first answer costs a dict lookup and a join
        # (authority.wired_answer). A patch shares them with the zone it patched and says
        # what it changed in wired_changes (None: no answer now), so that a change costs no
        # copy of them all. aliased: the names of the CNAMEs to each name of the zone (keys
        # relative to the origin), whose answers a change at that name changes; shared by
        # the patched zones too, it may name a CNAME since gone (then nothing is redone).
        # Within WIRED_BUDGET (wiring: False past it), counted as they are made and
        # changed (_wired_bytes: the answers'; aliased's are counted when reported). A
        # zone served before they are made (wire_due) answers every question the general way, with the
        # same bytes, until precompute_served installs them.
        if wired is None:
            self._install(_made(self._table()))
        elif isinstance(wired, Due):
            self.wired, self.wired_changes, self.aliased = {}, {}, {}
            self.wire_due = wired
        else:
            self.wired, self.wired_changes, self.aliased = wired

    wiring = True  # whether the zone precomputes its answers (within WIRED_BUDGET)
    _wired_bytes = 0  # what the answers take (wired_bytes adds the names in aliased)
    _wired_count = 0  # how many there are, the changes' included
    _aliased_built = 0  # the names in aliased when the zone was built afresh
    # Due while the zone is served without its precomputed answers (see Due), else None.
    wire_due: Due | None = None

    def _table(self) -> Generator[None, None, Table | None]:
        """Precompute the answers of every name of the zone (see ``wired``), pausing (a
        yield) after each name; return them, or None if they would take more than
        WIRED_BUDGET. The zone is left as it is: it may be served meanwhile."""
        aliased: dict[Key, set[Key]] = {}
        wired: dict[bytes, Wired] = {}
        size = 0
        for key, node in self._nodes.items():
            # Each answer's key is its own name's: no other node's answer is replaced.
            for entry_key, found in self.owned_at(key, node, aliased):
                size += _entry_bytes(entry_key, found)
                wired[entry_key] = found
            if size + ALIAS_OBJECTS * len(aliased) > WIRED_BUDGET:
                return None
            yield
        return wired, aliased, size

    def _install(self, table: Table | None) -> None:
        """Answer from table (``_table``'s; None: precompute nothing), due no longer."""
        if table is None:
            self.unwire()
            return
        self.wired, self.aliased, self._wired_bytes = table
        self.wired_changes = {}
        self._wired_count = len(self.wired)
        self._aliased_built = len(self.aliased)
        # Last: a patch made meanwhile in a thread reads it first (see patch_zone).
        self.wire_due = None

    def unwire(self) -> None:
        """Precompute nothing (past WIRED_BUDGET, or once signed): every first answer is
        written when asked."""
        self.wiring = False
        self.wired, self.wired_changes, self.aliased = {}, {}, {}
        self._wired_bytes = self._wired_count = self._aliased_built = 0
        self.wire_due = None

    def wired_at(self, key: bytes) -> Wired | None:
        """Return the precomputed answer under key (see ``wired``), changes first."""
        changes = self.wired_changes
        return changes[key] if key in changes else self.wired.get(key)

    def owned_at(
        self, key: Key, node: Node, aliased: dict[Key, set[Key]] | None = None
    ) -> Iterator[tuple[bytes, Wired]]:
        """Yield the precomputed answers at the name of key (case-folded labels relative to
        the origin) and node: each RRset asked for by type that is the answer alone (no name
        in it to compress or follow, no additional data; not from behind a zone cut or
        DNAME, nor beside a CNAME), or such an RRset at the name of the zone that a CNAME
        there points at (``_aliased_at``), keyed by the name's folded wire form, the type
        and the class as a question ends. The targets are noted in aliased (the zone's by
        default)."""
        if not node or self.node_at(key) is not node:
            return
        if aliased is None:
            aliased = self.aliased
        name = labels_wire(key) + self.origin_wire
        if CNAME_TYPE in node._raw:
            yield from self._aliased_at(key, node, name, aliased)
            return
        for rdtype, answer, count in self._rrsets_at(node, b"\xc0\x0c"):
            yield name + rdtype.to_bytes(2, "big") + b"\0\1", _counts(count) + answer
        if SRV in node._raw:
            yield from self._srv_at(key, node, name, aliased)

    def _srv_at(
        self, key: Key, node: Node, name: bytes, aliased: dict[Key, set[Key]]
    ) -> Iterator[tuple[bytes, Wired]]:
        """Yield the precomputed answer to the SRV question at the name of key, as
        authority.data_answer writes it: alone when no target has an address here, else
        with the addresses of its one target (render.srv_written); each target in the zone
        noted in aliased, as a change there changes the answer."""
        records = node.records(SRV)
        try:
            additional = self.additional(records)
            targets = {tuple(map(bytes.lower, labels_at(wire, 6)[0])) for wire in records.wires}
        except IndexError:
            return  # damaged rdata: answer() says SERVFAIL
        origin = self.key
        for folded in targets:
            depth = len(folded) - len(origin)
            if depth >= 0 and folded[depth:] == origin:
                aliased.setdefault(folded[:depth], set()).add(key)
        key_wire = name + SRV.to_bytes(2, "big") + b"\0\1"
        if not additional:
            for _, answer, count in self._rrsets_at(node, b"\xc0\x0c", (SRV,)):
                yield key_wire, _counts(count) + answer
            return
        if any(at is not additional[0][0] for at, _ in additional):
            return  # more than one target: MessageWriter's
        parts, extra = srv_written(key + origin, 12 + len(name), records, additional, 1 << 16)
        answer = b"".join(parts)
        if len(answer) <= WIRED_MAX and len(additional[0][0]) > 1:
            yield key_wire, (_counts(len(records)), answer, b"", extra)

    def _rrsets_at(
        self, node: Node, owner: bytes, types: Iterable[int] | None = None
    ) -> Iterator[tuple[int, bytes, int]]:
        """Yield the type, answer records (their owner written as owner) and count of each
        RRset at node that is an answer alone (or of these types), within WIRED_MAX."""
        for rdtype in node._raw if types is None else types:
            if types is None and (rdtype in NOT_OWNED or rdtype >= 128):
                continue
            records = node.records(rdtype)
            fixed = RR_FIXED.pack(rdtype, IN, records.ttl)
            answer = b"".join(
                [owner + fixed + len(rdata).to_bytes(2, "big") + rdata
                 for rdata in records.wires]
            )  # fmt: skip
            if len(answer) <= WIRED_MAX:
                yield rdtype, answer, len(records)

    def _aliased_at(
        self, key: Key, node: Node, name: bytes, aliased: dict[Key, set[Key]]
    ) -> Iterator[tuple[bytes, Wired]]:
        """Yield the precomputed answers at the name of key holding one CNAME to another
        name of the zone: the CNAME record (its target compressed against the question as
        authority._alias_written writes it) and each RRset there that is an answer alone
        (its owners pointing at the target), keyed as owned_at's; with the target's folded
        wire form, as the answer stands only while no closer zone of ours holds it."""
        cname = node.records(CNAME_TYPE)
        if len(cname) != 1:
            return
        try:
            target, used = labels_at(cname.wires[0], 0)
        except IndexError:
            return  # damaged rdata: answer() says SERVFAIL
        folded = tuple(map(bytes.lower, target))
        origin, depth = self.key, len(folded) - len(self.key)
        if used != len(cname.wires[0]) or depth < 1 or folded[depth:] != origin:
            return  # outside the zone (or the zone's origin itself: the apex has the SOA)
        rel = folded[:depth]
        if rel == key:
            return  # a loop at once: the CNAME alone is the answer
        aliased.setdefault(rel, set()).add(key)
        at = self.node_at(rel)
        if at is None or CNAME_TYPE in at._raw:
            return
        end = 12 + len(name)
        written, full = compressed(key + origin, end, target, folded, end + 16)
        alias = b"\xc0\x0c" + RR_FIXED.pack(CNAME_TYPE, IN, cname.ttl)
        alias += len(written).to_bytes(2, "big") + written
        pointer = (0xC000 | full).to_bytes(2, "big")
        target_wire = labels_wire(folded)
        for rdtype, answer, count in self._rrsets_at(at, pointer):
            if len(alias) + len(answer) <= WIRED_MAX:
                key_wire = name + rdtype.to_bytes(2, "big") + b"\0\1"
                yield key_wire, (_counts(1 + count), alias + answer, target_wire, 0)

    def wired_bytes(self) -> int:
        """Return roughly what the precomputed answers take: the keys, the answer records and
        the objects and dict slot around them (ENTRY_OBJECTS, TUPLE_OBJECTS, measured on
        bench/mix's zone), and the names noted in aliased (ALIAS_OBJECTS), shared with the
        zones patched from the same one; at most WIRED_BUDGET when last counted."""
        return self._wired_bytes + ALIAS_OBJECTS * len(self.aliased)

    def wired_count(self) -> int:
        """Return how many answers the zone precomputed (the changes of patches included)."""
        return self._wired_count

    def serve_signed(self, signed) -> None:
        """Serve the zone signed (signer.Signed): its precomputed answers are never read then
        (DO or not, a signed zone's answers are worked out), so they are let go."""
        self.dnssec = signed
        self.unwire()

    def precomputed(self) -> dict[bytes, Wired]:
        """Return the precomputed answers, changes included (see ``wired``)."""
        merged = {**self.wired, **self.wired_changes}
        return {key: found for key, found in merged.items() if found is not None}

    @property
    def soa(self) -> dns.rdataset.Rdataset:
        """The apex SOA decoded (decoded when first asked: a patched zone is served without)."""
        return self._nodes[()].get(SOA)

    def _apex_soa(self, serial: int | None) -> Records:
        """Return the apex SOA record, its serial first set to serial (if given) in its wire
        form, which is what dnspython writes of the record with that serial."""
        apex = self._nodes.get(())
        records = apex.records(SOA) if apex is not None and SOA in apex._raw else None
        if records is None or len(records.wires) != 1:
            raise ValueError(f"zone {self.origin} needs exactly one SOA record at its apex")
        wire = records.wires[0]
        if serial is not None and serial != SOA_NUMBERS.unpack_from(wire, len(wire) - 20)[0]:
            wire = wire[:-20] + struct.pack("!I", serial) + wire[-16:]
            apex._raw[SOA] = (records.ttl, [wire])
            apex._records.pop(SOA, None)
            apex._decoded.pop(SOA, None)
            records = apex.records(SOA)
        return records

    def __len__(self) -> int:
        return len(self._nodes)

    transfer_keys: frozenset[dns.name.Name] = frozenset()  # "key NAME" in the ACL (TSIG)
    expired = False  # a secondary zone past its expiry, or never transferred: SERVFAIL

    def allows_transfer(self, address: str, key: dns.name.Name | None = None) -> bool:
        """Tell whether a client at address (its request signed with key) may transfer."""
        return allowed(address, self.transfer_acl) or key in self.transfer_keys

    def rrsets(self) -> Iterator[Owned]:
        """Yield every RRset of the zone, apex SOA first (the order zone transfers want)."""
        yield self.origin, self.soa_records
        for key, node in self._nodes.items():
            for rdtype in node.types():
                if key or rdtype != SOA:
                    yield node.name, node.records(rdtype)
        if self.dnssec is not None:
            from .signer import signed_rrsets  # the signer imports this module

            yield from signed_rrsets(self)

    def lookup(self, qname: dns.name.Name, qtype: int, *, every_any: bool = False) -> Sections:
        """Look qname, at or below the origin, up as RFC 1034 4.3.2 step 3 does.

        ``every_any``: answer ANY with every RRset (over TCP) instead of one (RFC 8482).
        """
        labels = lower_labels(qname)
        rel = labels[: len(labels) - self.depth]
        depth = len(rel)
        if depth and () in self._dnames:
            return self._dname(qname, (), qtype)
        for k in range(1, depth + 1):
            key = rel[depth - k :]
            if key not in self._nodes:
                return self._missing(qname, qtype, rel[depth - k + 1 :], every_any)
            if key in self._cuts and not (k == depth and qtype == DS):
                return self._referral(key)
            if k < depth and key in self._dnames:
                return self._dname(qname, key, qtype)
        return self._exact(qname, self._nodes[rel], qtype, every_any)

    def decider(self, rel: Key, qtype: int, node: Node | None = None) -> tuple[bytes, Key] | None:
        """Tell what decides the answer to a name, from its case-folded labels relative to the
        origin, as ``lookup`` would find it (a few dict lookups) when that is not the name
        itself: (b"", encloser) for a name error, (b"*", encloser) for a wildcard's answer,
        (b"cut", cut) for a referral from above the name, (b"-", ()) for no data at a name
        that exists. None for data at the name, for DNAME substitutions and meta-types.

        Answers so decided differ from name to name in their question, and in where their
        compression pointers into the question point, only (see memo.Templates). node: the
        name's node as ``node_at`` found it, if it did (then nothing else is looked up).
        """
        if qtype >= 128 or qtype == OPT:
            return None
        if node is not None:
            return _no_data(node, qtype)
        depth = len(rel)
        dnames = self._dnames
        if depth and () in dnames:
            return None
        nodes = self._nodes
        node = nodes.get(rel)
        if node is None and depth == 1:
            # A name right below the apex that does not exist (a random name's usual case).
            return (b"*" if (b"*",) in nodes else b"", ())
        cuts = self._cuts
        for k in range(1, depth + 1):
            key = rel[depth - k :]
            if key not in nodes:
                encloser = rel[depth - k + 1 :]
                return (b"*" if (b"*", *encloser) in nodes else b"", encloser)
            if key in cuts and not (k == depth and qtype == DS):
                return None if k == depth else (b"cut", key)
            if k < depth and key in dnames:
                return None
        return _no_data(node, qtype)

    def name_error_below_origin(self, label: bytes) -> bool:
        """Tell whether the name of this case-folded label right below the origin does not
        exist, as ``decider`` finds it ((b"", ()): no such node, no wildcard at the origin,
        no DNAME there), with three lookups: a random subdomain's case."""
        nodes = self._nodes
        return (label,) not in nodes and (b"*",) not in nodes and () not in self._dnames

    def node_at(self, rel: Key) -> Node | None:
        """Return the node of the name of these case-folded labels relative to the origin when
        ``lookup`` answers from that node: it exists, and is neither a zone cut nor below one
        or below a DNAME."""
        node = self._nodes.get(rel)
        cuts, dnames = self._cuts, self._dnames
        if node is None or not (cuts or dnames):
            return node  # the names above a node are all nodes too (empty non-terminals)
        depth = len(rel)
        if depth and () in dnames:
            return None
        if depth == 1:  # a name right below the apex (the usual case): the loop's one turn
            return None if rel in cuts else node
        for k in range(1, depth + 1):
            key = rel[depth - k :]
            if key in cuts or (k < depth and key in dnames):
                return None
        return node

    def additional(self, records: Records) -> list[tuple[Labels, Records]]:
        """Return the address RRsets ``lookup`` adds to an answer of these records, with their
        owners' labels: those of the names an MX, NS or SRV record points at (deduplicated,
        in order), from this zone, not from below a zone cut (raise IndexError for damaged
        rdata)."""
        start = TARGET_AT.get(records.rdtype) if records.rdtype in ADDITIONAL_TARGET else None
        if start is None:
            return []
        targets: dict[Key, None] = {}
        for wire in records.wires:
            targets.setdefault(tuple(map(bytes.lower, labels_at(wire, start)[0])))
        return [
            (node._labels, found)
            for target in targets
            for node, found in self._address_records(target, authoritative=True)
        ]

    def _exact(self, owner: dns.name.Name, node: Node, qtype: int, every_any: bool) -> Sections:
        if not node:
            return self._nodata()
        if qtype == ANY:
            # RFC 8482: one RRset is a complete answer to ANY; TCP clients get them all.
            types = node.types() if every_any else node.types()[:1]
            return Sections(Kind.ANSWER, [(owner, node.records(t)) for t in types])
        if CNAME_TYPE in node and qtype != CNAME_TYPE:
            target = node.targets(CNAME_TYPE)[0]
            return Sections(Kind.ALIAS, [(owner, node.records(CNAME_TYPE))], target=target)
        records = node.records(qtype)
        if records is None:
            return self._nodata()
        found = Sections(Kind.ANSWER, [(owner, records)])
        if qtype in ADDITIONAL_TARGET:
            targets = dict.fromkeys(node.targets(qtype))
            # Optional: addresses that do not fit are left out without setting TC.
            found.additional.extend(
                (rrset, False) for t in targets for rrset in self._addresses(t, authoritative=True)
            )
        return found

    def _missing(
        self, qname: dns.name.Name, qtype: int, encloser: Key, every_any: bool
    ) -> Sections:
        wildcard = self._nodes.get((b"*", *encloser))
        if wildcard is None:
            soa = self._zero_soa if qtype == SOA else self._negative_soa
            return Sections(Kind.NXDOMAIN, authority=[soa])
        # RFC 4592 3.3.1: the wildcard answers with the query name as owner.
        return self._exact(qname, wildcard, qtype, every_any)

    def _nodata(self) -> Sections:
        return Sections(Kind.NODATA, authority=[self._negative_soa])

    def _referral(self, key: Key) -> Sections:
        cut = self._nodes[key]
        # No DS in the referral: unsigned it proves nothing (with DO, denial.py adds it signed).
        found = Sections(Kind.REFERRAL, authority=[(cut.name, cut.records(NS))])
        for target in cut.targets(NS):
            found.additional.extend(self._glue(target, cut.name))
        return found

    def _glue(self, target: dns.name.Name, cut: dns.name.Name) -> list[tuple[Owned, bool]]:
        # RFC 9471: glue for in-domain name servers is required, sibling glue optional.
        required = target.is_subdomain(cut)
        return [(rrset, required) for rrset in self._addresses(target)]

    def _addresses(self, target: dns.name.Name, *, authoritative: bool = False) -> list[Owned]:
        """Return the A and AAAA RRsets of ``target`` when this zone has them; with
        ``authoritative``, not the glue at or below a zone cut, which only referrals hand out
        (as BIND does)."""
        found = self._address_records(lower_labels(target), authoritative=authoritative)
        return [(node.name, records) for node, records in found]

    def _address_records(self, target: Key, *, authoritative: bool) -> list[tuple[Node, Records]]:
        """Return the A and AAAA RRsets at the name of these case-folded labels, with their
        node, as ``_addresses`` finds them."""
        origin = self.key
        if len(target) < len(origin) or target[len(target) - len(origin) :] != origin:
            return []
        key = target[: len(target) - len(origin)]
        cuts = self._cuts
        if authoritative and cuts and any(key[i:] in cuts for i in range(len(key))):
            return []
        node = self._nodes.get(key)
        if node is None:
            return []
        found = (node.records(rdtype) for rdtype in ADDRESS_TYPES)
        return [(node, records) for records in found if records is not None]

    def _dname(self, qname: dns.name.Name, key: Key, qtype: int) -> Sections:
        node = self._nodes[key]
        dname = node.get(DNAME)
        prefix = qname.labels[: len(qname.labels) - len(node.name.labels)]
        answer: list[Owned] = [(node.name, node.records(DNAME))]
        try:
            target = dns.name.Name(prefix + dname[0].target.labels)
        except dns.name.NameTooLong:
            return Sections(Kind.YXDOMAIN, answer)
        answer.append((qname, Records(CNAME_TYPE, dname.ttl, (target.to_wire(),))))
        if qtype == CNAME_TYPE:
            return Sections(Kind.ANSWER, answer)
        return Sections(Kind.ALIAS, answer, target=target)


def _no_data(node: Node, qtype: int) -> tuple[bytes, Key] | None:
    """Return Zone.decider's verdict for a name that exists: no data, unless the node has
    the type or a CNAME to follow."""
    types = node._raw
    if qtype in types or (CNAME_TYPE in types and qtype != CNAME_TYPE):
        return None
    return b"-", ()


def owner_key(owner: str, origin: dns.name.Name) -> Key:
    """Return the key in a zone's nodes of an owner as rows spell it (relative, '@')."""
    return tuple(label.lower() for label in _owner_labels(owner, origin))


def _owner_labels(owner: str, origin: dns.name.Name) -> tuple[bytes, ...]:
    """Return the labels of owner relative to origin, in their original case."""
    if owner in ("@", ""):
        return ()
    if "\\" in owner or owner.endswith(".") or not owner.isascii():
        name = dns.name.from_text(owner, origin)
        if not name.is_subdomain(origin):
            raise ValueError(f"{name} is not in zone {origin}")
        return name.labels[: len(name.labels) - len(origin.labels)]
    # The common case, without dnspython's escape-aware parser and Name objects (5x faster).
    labels = tuple(owner.encode("ascii").split(b"."))
    # No label is longer than 63 bytes when the name is not (the common case, one test).
    if b"" in labels or (len(owner) > 63 and max(map(len, labels)) > 63):
        raise ValueError(f"bad owner name {owner!r}")
    return labels


def build_zone(
    origin: str,
    records: Iterable[tuple[str, int, int, bytes]],
    *,
    serial: int | None = None,
    transfer_acl: Iterable[str] = (),
    precompute: bool = True,
) -> Zone:
    """Build a zone from (owner relative to origin or '@', TTL, rdtype, rdata wire) rows.

    serial, when given, replaces the serial of the apex SOA record. Rdata is trusted to be
    valid wire form (dnspython's to_wire() of a validated rdata): it is served as given.
    precompute: make the zone's precomputed answers now (else precompute_served does, once
    it is served).
    """
    origin_name = dns.name.from_text(origin)
    nodes: dict[Key, Node] = {(): Node(origin_name.labels)}
    room = 255 - len(origin_name.to_wire())
    owner_now, add = None, None
    for owner, ttl, rdtype, wire in records:
        if owner != owner_now:
            # The rows of an owner come together (as the database orders them): its node is
            # looked up once for them all.
            owner_now, add = owner, _node_of(nodes, owner, origin_name, room).add_wire
        add(rdtype, ttl, wire)
    for node in nodes.values():
        node.seal()
    cidrs, keys = split_acl(transfer_acl)
    zone = Zone(origin_name, nodes, networks(cidrs), serial, wired=None if precompute else FRESH)
    zone.transfer_keys = keys
    if len(nodes) >= SETTLE_NODES:
        settle()
    return zone


def _node_of(nodes: dict[Key, Node], owner: str, origin: dns.name.Name, room: int) -> Node:
    """Return the node of owner (as rows spell it) in the nodes build_zone is making: made,
    with the empty non-terminals above it, when it is new (room: the bytes its name may
    take in front of the origin's)."""
    relative = _owner_labels(owner, origin)
    key = tuple(map(bytes.lower, relative))
    node = nodes.get(key)
    if node is None:
        if sum(map(len, relative)) + len(relative) > room:
            raise ValueError(f"owner name {owner!r} is too long")
        labels = relative + origin.labels
        node = nodes[key] = Node(labels)
        if len(key) > 1:
            _add_empty_non_terminals(nodes, key, labels)
    return node


def settle() -> None:
    """Collect garbage, then move every object alive into the collector's permanent
    generation (gc.freeze): a big zone's hundreds of thousands of objects (740,000 for
    bench/mix's 50,000 hosts) are then no longer walked by every full collection, which the
    answers kept while a zone is first asked trigger over and over.

    Frozen objects are still freed when their last reference goes: a zone holds no reference
    cycles, so a zone replaced is freed whole (tests/names/test_zone.py). Only cycles alive
    now and dropped later would stay: what the collection before the freeze leaves is alive.
    Measured on that zone rebuilt over and over, 40,000 questions answered between rebuilds:
    the frozen set stays at its first size (the zone's objects, 757,000), and the resident
    memory goes from 205 MB after the first build to 239 MB after 20 and 253 MB after 37,
    rising more slowly each time; the same without freezing (245-254 MB after 28): the
    allocator's fragmentation, not zones kept. The collection costs about one full pass of
    the collector, which the new zone's objects would soon have triggered anyway.
    """
    gc.collect()
    gc.freeze()


def patch_zone(
    previous: Zone,
    changed: Iterable[tuple[str, int]],
    records: Iterable[tuple[str, int, int, bytes]],
    *,
    serial: int,
) -> Zone:
    """Return a new zone: previous with the RRsets ``changed`` ((owner, rdtype) pairs, as
    build_zone's rows spell owners) replaced by ``records`` (their rows now, in the order
    build_zone would read them) and the given serial, the same zone build_zone makes from all
    the rows. previous is left as it is (it is still being served)."""
    origin = previous.origin
    nodes = dict(previous._nodes)
    touched: dict[Key, Node] = {}
    room = 255 - len(origin.to_wire())

    def writable(owner: str) -> tuple[Key, Node]:
        relative = _owner_labels(owner, origin)
        key = tuple(label.lower() for label in relative)
        node = touched.get(key)
        if node is None:
            old = nodes.get(key)
            if old is None:
                if sum(len(label) + 1 for label in relative) > room:
                    raise ValueError(f"owner name {owner!r} is too long")
                node = Node(relative + origin.labels)
            else:
                node = _copy_node(old)
            nodes[key] = touched[key] = node
        return key, node

    _, apex = writable("@")  # the zone's constructor writes the new serial into it
    for owner, rdtype in changed:
        _, node = writable(owner)
        node._raw.pop(rdtype, None)
        node._records.pop(rdtype, None)
        node._decoded.pop(rdtype, None)
    for owner, ttl, rdtype, wire in records:
        writable(owner)[1].add_wire(rdtype, ttl, wire)
    emptied = [key for key, node in touched.items() if key and not node]
    for key, node in touched.items():
        node.seal()
        if node:
            _add_empty_non_terminals(nodes, key, node._labels)
    if emptied:
        _prune_empty(nodes, emptied)
    # Only the touched nodes can have gained or lost a zone cut or a DNAME (a node added as an
    # empty non-terminal has neither; a node pruned was touched or empty).
    cuts = {k for k in previous._cuts if k not in touched and k in nodes}
    dnames = {k for k in previous._dnames if k not in touched and k in nodes}
    cuts.update(k for k, n in touched.items() if k and NS in n and k in nodes)
    dnames.update(k for k, n in touched.items() if DNAME in n and k in nodes)
    marked = (frozenset(cuts), frozenset(dnames))
    # Read before its precomputed answers: the event loop may install them in previous
    # meanwhile (precompute_served), which sets them before it clears the Due.
    due = previous.wire_due
    wiring = previous.wiring
    # None: built afresh (a zone cut or DNAME changed, or aliased grew stale).
    wired: tuple[dict, dict, dict] | Due | None = None
    if due is not None:
        # Served without them too; they come from previous's base, once made, with what the
        # patches since then touched redone (or afresh if those are many, or if a cut or
        # DNAME changed since the base: its answers would not do, see _catch_up).
        redo, base = due.touched.union(touched), due.base or previous
        fresh = len(redo) > WIRED_CHANGES or marked != _marks(base)
        wired = FRESH if fresh else Due(base, redo)
    elif not wiring:
        wired = ({}, {}, {})  # nor does the zone precompute now (see WIRED_BUDGET)
    elif marked == _marks(previous) and not _drifted(previous):
        wired = (previous.wired, dict(previous.wired_changes), previous.aliased)
    zone = Zone(origin, nodes, previous.transfer_acl, serial, marked, wired)
    zone.transfer_keys = previous.transfer_keys
    if due is None and not wiring:
        zone.unwire()
    elif isinstance(wired, tuple):
        _rewire(zone, previous, touched)
    return zone


def _made(steps: Generator[None, None, Table | None]) -> Table | None:
    """Return what the steps of Zone._table make, run through at once."""
    try:
        while True:
            next(steps)
    except StopIteration as done:
        return done.value


async def precompute_served(served: Callable[[], Zone | None], *, freeze: bool = False) -> None:
    """Make the precomputed answers of the zone ``served`` returns (None once removed),
    served without them (``Zone.wire_due``), in slices of the event loop (WIRE_SLICE), and
    install them; a zone patched from one whose answers are made takes them with its
    patches' changes redone (``_catch_up``). Until the zone served waits for none.

    The zone answers meanwhile as any zone without them does, byte for byte the same. Every
    step runs in the event loop, which answers from the zones: a zone never changes under
    a question. One making at a time in the loop (_MAKING): a task started for a zone
    replaced meanwhile finds the zone served then made or caught up, and ends. Only the
    zone served and the one it waits for are read: a zone replaced is not kept.

    freeze: the process keeps what it loaded frozen (the DNS worker does, see settle), and
    the answers made join it (gc.freeze), as those made with a zone at start did."""
    loop = asyncio.get_running_loop()
    async with _MAKING.setdefault(loop, asyncio.Lock()):
        while (base := _waited_for(served)) is not None:
            try:
                table = await _sliced(base, served)
            except Exception:
                # The zones waiting for base answer the general way (_catch_up), and so do
                # the zones patched from them: no making is started again.
                logger.exception("zone %s: its answers could not be precomputed", base.origin)
                base.unwire()
                continue
            if table is ABANDONED:
                return
            base._install(table)
            del table  # base holds it, and only as long as base is needed
            if freeze:
                # No collection first (settle's): a full one pauses the loop, which answers;
                # the cost, cycles already garbage and not yet collected are kept. (Nor
                # gc.get_freeze_count: it walks every object frozen.)
                gc.freeze()


def _waited_for(served: Callable[[], Zone | None]) -> Zone | None:
    """Return the zone whose answers the zone served waits for (itself or its base), once
    caught up with those made already (``_catch_up``); None when it waits for none."""
    while (zone := served()) is not None and (due := zone.wire_due) is not None:
        base = due.base or zone
        if base.wire_due is not None:
            return base
        _catch_up(zone, base, due.touched)
    return None


async def _sliced(base: Zone, served: Callable[[], Zone | None]) -> Table | None | Abandoned:
    """Return base._table()'s answers, made a slice at a time; ABANDONED when, before a
    slice, the zone served waits for base's no longer (replaced by one that does not)."""
    steps = base._table()
    while True:
        deadline = time.perf_counter() + WIRE_SLICE
        try:
            while True:
                for _ in range(32):
                    next(steps)
                if time.perf_counter() >= deadline:
                    break
        except StopIteration as done:
            return done.value
        await asyncio.sleep(0)
        if _waited_for(served) is not base:
            steps.close()
            return ABANDONED


def _catch_up(zone: Zone, base: Zone, touched: frozenset[Key]) -> None:
    """Give zone, patched at touched from base (whose answers are made), base's precomputed
    answers with those the patches may have changed redone (``_rewire``), as patch_zone
    would have; when a zone cut or DNAME changed on the way, or base's aliased grew stale,
    the zone is due its own answers, made afresh."""
    if not base.wiring:
        zone.unwire()
    elif _marks(zone) != _marks(base) or _drifted(base):
        zone.wire_due = FRESH
    else:
        zone.wired, zone.wired_changes = base.wired, dict(base.wired_changes)
        zone.aliased = base.aliased
        _rewire(zone, base, touched)
        # Last, as _install does: a patch made meanwhile in a thread reads wire_due first,
        # then the answers (patch_zone), so it never sees it cleared without them.
        zone.wire_due = None


def _drifted(zone: Zone) -> bool:
    """Tell whether the zone's aliased, shared by the zones patched from one built afresh,
    has grown to name more than twice as many targets as then (it keeps the CNAMEs and SRVs
    since gone): a zone built afresh bounds it again."""
    return len(zone.aliased) > 2 * zone._aliased_built + WIRED_CHANGES


def _rewire(zone: Zone, previous: Zone, touched: Collection[Key]) -> None:
    """Redo the precomputed answers a patch may have changed, the cuts and DNAMEs being the
    same: those of the touched names and of the CNAMEs and SRVs pointing at them; count what
    they take now, and merge the changes into a copy when they are many."""
    redone = set(touched)
    for key in touched:
        redone.update(previous.aliased.get(key, ()))
    changed: dict[bytes, Wired | None] = {}
    for key in redone:
        old = previous._nodes.get(key)
        if old is not None:
            changed.update((gone, None) for gone, _ in previous.owned_at(key, old))
    for key in redone:
        node = zone._nodes.get(key)
        if node is not None:
            changed.update(zone.owned_at(key, node))
    size, count = previous._wired_bytes, previous._wired_count
    for key, found in changed.items():
        before = previous.wired_at(key)
        size += _entry_bytes(key, found) - _entry_bytes(key, before)
        count += (found is not None) - (before is not None)
    zone.wired_changes.update(changed)
    zone._wired_bytes = size
    zone._wired_count = count
    zone._aliased_built = previous._aliased_built
    if zone.wired_bytes() > WIRED_BUDGET:
        zone.unwire()
    elif len(zone.wired_changes) > max(WIRED_CHANGES, len(zone.wired) // 8):
        zone.wired, zone.wired_changes = zone.precomputed(), {}


def _entry_bytes(key: bytes, found: Wired | None) -> int:
    """Return what a precomputed answer under key takes (see Zone.wired_bytes)."""
    if found is None:
        return 0
    if type(found) is bytes:
        return len(key) + len(found) + ENTRY_OBJECTS
    return len(key) + len(found[1]) + len(found[2]) + TUPLE_OBJECTS


def wired_records(found: Wired) -> bytes:
    """Return the answer records of a precomputed answer (see Wired)."""
    return found[6:] if type(found) is bytes else found[1]


@functools.cache
def _counts(answers: int) -> bytes:
    """Return a header's counts of questions, answers and authority records of an answer of
    that many records (one bytes object for every answer of that size)."""
    return b"\0\1" + answers.to_bytes(2, "big") + b"\0\0"


def _marks(zone: Zone) -> tuple[frozenset[Key], frozenset[Key]]:
    return zone._cuts, zone._dnames


def _copy_node(old: Node) -> Node:
    node = Node(old._labels)
    node._name = old._name
    node._raw = {rdtype: (ttl, list(wires)) for rdtype, (ttl, wires) in old._raw.items()}
    node._records = dict(old._records)
    node._decoded = dict(old._decoded)
    return node


def _prune_empty(nodes: dict[Key, Node], emptied: list[Key]) -> None:
    """Drop the emptied nodes, and the empty non-terminals above them, that no longer have a
    node with records below them (build_zone makes a node for a name with records and for
    every name between it and the apex, nothing else)."""
    candidates = set()
    for key in emptied:
        for cut in range(len(key)):
            # A node made and emptied by this patch has no empty non-terminals above it.
            node = nodes.get(key[cut:])
            if node is not None and not node:
                candidates.add(key[cut:])
    alive = set()
    for key, node in nodes.items():
        if node:
            alive.update(key[cut:] for cut in range(1, len(key)) if key[cut:] in candidates)
    for key in candidates - alive:
        del nodes[key]


def _add_empty_non_terminals(nodes: dict[Key, Node], key: Key, labels: tuple[bytes, ...]) -> None:
    for cut in range(1, len(key)):
        if key[cut:] in nodes:
            return
        nodes[key[cut:]] = Node(labels[cut:])


def zone_from_text(text: str, origin: str, **kw) -> Zone:
    """Build a zone from master-file text (tests, the standalone runner, the benchmark)."""
    parsed = dns.zone.from_text(text, origin, relativize=False, check_origin=True)
    return build_zone(origin, _records_of(parsed), **kw)


def _records_of(parsed: dns.zone.Zone) -> Iterator[tuple[str, int, int, bytes]]:
    for name, node in parsed.nodes.items():
        owner = name.relativize(parsed.origin).to_text()
        for rdataset in node.rdatasets:
            for rdata in rdataset:
                yield owner, rdataset.ttl, rdataset.rdtype, rdata.to_wire()

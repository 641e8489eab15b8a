"""The resolver cache: RRsets learnt from other servers, positive and negative (RFC 2308).

Only data from upstream servers, the hosts file or a reload of a snapshot enters it; our own
zones are answered by the authority and never cached here. Two budgets (entries and bytes)
bound it, one for data and a separate one for negative answers and failures, so a flood of
random names cannot push useful data out.

The rendered answers the chain sends again (memo.py) are kept here too, as they take a share
of the byte budgets and depend on the cache's data: new data or a negative answer at a name
retires the answers made of it at once.

Trust (RFC 2181 5.4.1, in two ranks): referral NS sets and glue help find servers but are
never an answer; they do not replace answer data, and answer data replaces them.
"""

from __future__ import annotations

import functools
import operator
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import dns.exception
import dns.ipv6
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset

from . import wire
from .answer import MAX_CHAIN, Kind, Sections
from .memo import AnswerMemo, Budget
from .upstream import rrset_of
from .zone import Key

IN = dns.rdataclass.IN
CNAME = dns.rdatatype.CNAME
NS = dns.rdatatype.NS
SOA = dns.rdatatype.SOA
ANY = dns.rdatatype.ANY
NX_KEY = -1  # the type under which an NXDOMAIN is kept: no real type, as it covers them all
NOT_CACHED = frozenset(  # types answered by a zone's own servers only, never from a cache
    {dns.rdatatype.AXFR, dns.rdatatype.IXFR, dns.rdatatype.OPT, dns.rdatatype.TSIG,
     dns.rdatatype.TKEY, dns.rdatatype.MAILA, dns.rdatatype.MAILB}
)  # fmt: skip
ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)

MAX_TTL = 86400  # as BIND's max-cache-ttl would be set for an appliance: one day
MAX_NEGATIVE_TTL = 3600  # RFC 2308 5 suggests one to three hours; BIND uses 3 h, we keep 1 h
FAILURE_TTL = 5  # RFC 9520 3.2: cache resolution failures for at least 1 s
MAX_FAILURE_TTL = 300  # ... and at most 5 minutes; each failure in a row doubles the hold
MAX_STRIKES = 16
GLUE, ANSWER = 1, 2  # RFC 2181 5.4.1 ranks: referral NS sets and glue, then answer data
MEMO_SHARE = 3  # rendered answers may take a third of each byte budget
KEPT_FOLDS = 4096


def by_identity(function: Callable, limit: int) -> Callable:
    """Return function, its results kept for the objects it was last called with, by their
    identity (each entry holds its object, so the id stays its own); emptied whole when full,
    because a dict lookup costs a fraction of the work it saves and a bounded memory matters
    more. A closure, not an object with __call__: a call costs a third less, and a cache miss
    makes a dozen."""
    kept: dict[int, tuple[object, object]] = {}

    def call(thing):
        found = kept.get(id(thing))
        if found is not None and found[0] is thing:
            return found[1]
        if len(kept) >= limit:
            kept.clear()
        result = function(thing)
        kept[id(thing)] = (thing, result)
        return result

    return call


def _fold(name: dns.name.Name) -> Key:
    """Return lower_labels(name), faster: map runs bytes.lower without a generator's frame."""
    return tuple(map(bytes.lower, name.labels))


# The case-folded labels of the names a resolution looks up again and again (the question's,
# its zone's, the zone's servers').
folded = by_identity(_fold, KEPT_FOLDS)


@dataclass(slots=True)
class Entry:
    """One cached RRset, or a negative answer with the SOA that bounds its life."""

    name: dns.name.Name
    rdtype: int
    kind: Kind  # ANSWER (data), NXDOMAIN, NODATA or SERVFAIL
    # The data, or the SOA of a negative answer; None for data kept as wires until read.
    rdataset: dns.rdataset.Rdataset | None
    soa_owner: dns.name.Name | None
    expires: float
    source: str
    size: int
    rank: int = ANSWER
    names: tuple[Key, ...] = ()  # the owner's labels case-folded, where budgets index it
    wires: tuple[bytes, ...] = ()  # addresses kept in wire form (store_wired), if so


class CacheRecord(NamedTuple):
    """An entry as plain values, to write behind to a table and load back at start.

    negative is "" for data, else the kind's name ("NXDOMAIN" or "NODATA"). rdata holds one
    rdata per line in presentation format; for a negative entry it holds one line
    "<SOA owner> <SOA rdata>". An NXDOMAIN covers every type and has rdtype "ANY".

    A named tuple, not a frozen dataclass: one is made per cache miss for the write-behind,
    and a tuple is made in a fraction of the time.
    """

    name: str
    rdtype: str
    ttl: int
    negative: str
    source: str
    rdata: str


class Cache:
    def __init__(
        self,
        *,
        max_entries: int = 100_000,
        max_bytes: int = 64 << 20,
        max_negative_entries: int = 20_000,
        # Signed zones' negative answers carry NSEC/NSEC3 proofs, three or four times the
        # bytes of a plain one: room for as many of them as before.
        max_negative_bytes: int = 24 << 20,
        max_ttl: int = MAX_TTL,
        max_negative_ttl: int = MAX_NEGATIVE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        memo, negative_memo = max_bytes // MEMO_SHARE, max_negative_bytes // MEMO_SHARE
        self.positive: Budget[Entry] = Budget(max_entries, max_bytes - memo)
        self.negative: Budget[Entry] = Budget(
            max_negative_entries, max_negative_bytes - negative_memo
        )
        # Rendered answers, charged to the budget of their kind: a flood of questions for
        # random names must not push the memo of the useful answers out either.
        self.answers = AnswerMemo(max_entries, memo, max_negative_entries, negative_memo)
        self.max_ttl = max_ttl
        self.max_negative_ttl = max_negative_ttl
        self.clock = clock
        self._strikes: dict[tuple[Key, int], tuple[int, float]] = {}  # failures in a row
        self._changed: set[tuple[Key, int]] = set()  # stored since take_changes() last ran

    def __len__(self) -> int:
        return len(self.positive.entries) + len(self.negative.entries)

    @property
    def bytes(self) -> int:
        """Return what everything held costs, rendered answers included."""
        return self.positive.bytes + self.negative.bytes + self.answers.bytes

    # storing

    def store_rrset(
        self, rrset: dns.rrset.RRset, *, source: str = "recursive", rank: int = ANSWER
    ) -> None:
        """Keep an RRset for min(its TTL, max_ttl) seconds; TTL 0 means use once, never keep.

        rank GLUE is for referral NS sets and glue: kept to find servers, never answered, and
        never in place of answer data (RFC 2181 5.4.1).
        """
        ttl = min(rrset.ttl, self.max_ttl)
        if ttl <= 0 or rrset.rdclass != IN:
            return
        now = self.clock()
        labels = folded(rrset.name)
        key = (labels, rrset.rdtype)
        held = self.positive.get(key, now)
        if held is not None and held.rank > rank:
            return
        entry = Entry(
            rrset.name, rrset.rdtype, Kind.ANSWER, _plain(rrset), None,
            now + ttl, source, _size(rrset.name, rrset), rank, (labels,),
        )  # fmt: skip
        if rank >= ANSWER:
            self._replaced(labels, key)
        self.positive.put(key, entry)

    def store_wired(
        self, name: dns.name.Name, rdtype: int, ttl: int, wires: tuple[bytes, ...], *,
        source: str = "recursive", labels: Key = (),
    ) -> None:  # fmt: skip
        """Keep addresses (A or AAAA records in wire form, each once) as store_rrset keeps
        their RRset as an answer: made into dnspython objects when the cache's data is read
        (a later question), not for every cache miss (a record read by dnspython costs
        microseconds). labels: name's case-folded, if known."""
        ttl = min(ttl, self.max_ttl)
        if ttl <= 0:
            return
        labels = labels or folded(name)
        key = (labels, rdtype)
        # As _size (_wire_size(name), inline: the labels folded are as long).
        size = sum(map(len, labels)) + len(labels) + sum(map(len, wires)) + 10 * len(wires) + 200
        entry = Entry(
            name, rdtype, Kind.ANSWER, None, None, self.clock() + ttl, source, size, ANSWER,
            (labels,), wires,
        )  # fmt: skip
        self._replaced(labels, key)
        if labels in self.positive.by_name:
            self.positive.put(key, entry)
        else:
            self.positive.add(key, entry)  # a name new to the cache (a miss): no look for one

    def _replaced(self, labels: Key, key: tuple[Key, int]) -> None:
        """Drop what answer data at key replaces: the negative answers there, the rendered
        answers made of the name; note it for the write-behind."""
        if labels in self.negative.by_name:
            self.negative.pop(key)
            self.negative.pop((labels, NX_KEY))
        self._retire_answers(labels)
        self._changed.add(key)

    def store_negative(
        self, name: dns.name.Name, rdtype: int, soa: dns.rrset.RRset, *, nxdomain: bool,
        source: str = "recursive", labels: Key = (),
    ) -> None:  # fmt: skip
        """Keep a negative answer: an NXDOMAIN (per name) or NODATA (per name and type) lives
        min(SOA TTL, SOA MINIMUM); without an SOA it is not cached at all (RFC 2308 5).
        labels: name's case-folded, if known."""
        ttl = min(soa.ttl, next(iter(soa.items)).minimum, self.max_negative_ttl)
        if ttl <= 0 or (rdtype == ANY and not nxdomain):
            return  # an empty ANY answer says nothing about any one type
        kind, key_type = (Kind.NXDOMAIN, NX_KEY) if nxdomain else (Kind.NODATA, rdtype)
        rdataset, size = _soa_kept(soa)
        labels = labels or folded(name)
        entry = Entry(
            name, rdtype, kind, rdataset, soa.name, self.clock() + ttl, source,
            sum(map(len, labels)) + len(labels) + size + _wire_size(soa.name), ANSWER, (labels,),
        )  # fmt: skip
        # RFC 2308: the negative answer is newer than whatever the cache held there; an
        # NXDOMAIN says the name has nothing at all, a NODATA speaks of one type.
        key = (labels, key_type)
        self._retire_answers(labels)
        if nxdomain:
            # Looked for first (a new name has none).
            if labels in self.positive.by_name:
                self.positive.forget(labels)
            if labels in self.negative.by_name:
                self.negative.forget(labels)
            self.negative.add(key, entry)  # nothing is left at the name: no look for it
        else:
            self.positive.pop((labels, rdtype))
            self.negative.put(key, entry)
        self._changed.add(key)

    def store_failure(self, name: dns.name.Name, rdtype: int, ttl: int = FAILURE_TTL) -> None:
        """Remember that a question could not be resolved (RFC 9520), briefly at first, then
        twice as long for each failure in a row, up to MAX_FAILURE_TTL."""
        now = self.clock()
        key = (folded(name), rdtype)
        strikes, last_until = self._strikes.pop(key, (0, now))
        if now > last_until + MAX_FAILURE_TTL:
            strikes = 0  # the last failure is long past: start again from the shortest hold
        strikes = min(strikes + 1, MAX_STRIKES)
        hold = min(ttl * 2 ** (strikes - 1), MAX_FAILURE_TTL)
        if len(self._strikes) >= max(self.negative.max_entries, 1):
            del self._strikes[next(iter(self._strikes))]
        self._strikes[key] = (strikes, now + hold)
        entry = Entry(
            name, rdtype, Kind.SERVFAIL, None, None, now + hold, "recursive", 64, ANSWER, key[:1]
        )  # fmt: skip
        self.negative.put(key, entry)

    def resolved(self, name: dns.name.Name, rdtype: int) -> None:
        """Note the question was answered: its next failure is held the shortest time again."""
        if self._strikes:
            self._strikes.pop((folded(name), rdtype), None)

    def _retire_answers(self, labels: Key) -> None:
        answers = self.answers
        # Looked at first: a name newly cached (every cache miss) has no answers to retire.
        if labels in answers.positive.by_name or labels in answers.negative.by_name:
            answers.forget(labels)

    # reading

    def _get(self, labels: Key, rdtype: int, now: float) -> Entry | None:
        return (
            self._answer((labels, rdtype), now)
            or self.negative.get((labels, rdtype), now)
            or self.negative.get((labels, NX_KEY), now)
        )

    def _answer(self, key: tuple[Key, int], now: float) -> Entry | None:
        entry = self.positive.get(key, now)
        return entry if entry is not None and entry.rank >= ANSWER else None

    def rrset(self, name: dns.name.Name, rdtype: int) -> dns.rrset.RRset | None:
        """Return the cached data for name/rdtype, with its remaining TTL, glue included: for
        finding servers and making referrals, not for answers."""
        entry = self.positive.get((folded(name), rdtype), self.clock())
        if entry is None:
            return None
        return _with_ttl(name, _data(entry), self._left(entry))

    def addresses(self, name: dns.name.Name, rdtypes: Iterable[int] = ADDRESS_TYPES) -> list[str]:
        """Return the cached addresses of name, glue included."""
        labels, now = folded(name), self.clock()
        found = (self.positive.get((labels, rdtype), now) for rdtype in rdtypes)
        return [rdata.address for entry in found if entry is not None for rdata in _data(entry)]

    def find(self, qname: dns.name.Name, qtype: int) -> Sections | None:
        """Follow qname through cached CNAMEs; return None when the cache knows nothing of it.

        An ALIAS is a CNAME chain whose target the cache knows nothing about.
        """
        found: Sections | None = None  # made at the first entry: a miss builds nothing
        labels = folded(qname)
        if labels not in self.positive.by_name and labels not in self.negative.by_name:
            return None  # nothing at the name (every entry is indexed by its owner)
        name = qname
        now = self.clock()
        for _ in range(MAX_CHAIN):
            entry = self._get(labels, qtype, now)
            if entry is None and qtype != CNAME:
                entry = self._answer((labels, CNAME), now)
            if entry is None:
                if found is None or not found.answer:
                    return None
                found.names.append(labels)
                found.kind, found.target = Kind.ALIAS, name
                return found
            if found is None:
                found = Sections()
            found.names.append(labels)
            self._add(found, entry)
            if entry.rdtype != CNAME or qtype == CNAME:
                return found
            name = next(iter(entry.rdataset.items)).target
            labels = folded(name)
        return None  # a chain this long is better resolved afresh than trusted

    def _add(self, found: Sections, entry: Entry) -> None:
        found.kind = entry.kind
        if entry.kind is Kind.SERVFAIL:
            return
        rrset = _with_ttl(entry.soa_owner or entry.name, _data(entry), self._left(entry))
        found.expires[(folded(rrset.name), rrset.rdtype)] = entry.expires
        if entry.kind is Kind.ANSWER:
            found.answer.append(rrset)
        else:
            found.authority.append(rrset)

    def delegation(self, name: dns.name.Name) -> dns.rrset.RRset | None:
        """Return the NS RRset of the closest enclosing zone cut the cache knows, if any."""
        cut = self.cut(name)
        return None if cut is None else _with_ttl(cut[0], cut[1].rdataset, self._left(cut[1]))

    def cut(self, name: dns.name.Name) -> tuple[dns.name.Name, Entry] | None:
        """Return the owner of the closest enclosing zone cut the cache knows (spelt as in
        name) and its NS entry, None if none: delegation without an RRset made (recursion
        only reads the name servers)."""
        labels = folded(name)
        now = self.clock()
        cached = self.positive.by_name  # every entry's owner: most names asked have none
        for start in range(len(labels)):  # the name, then each of its parents up to the root
            if labels[start:] not in cached:
                continue
            entry = self.positive.get((labels[start:], NS), now)
            if entry is not None:
                owner = name
                if start:
                    # The cut's own name where it is spelt as in name (no Name to make).
                    owner = entry.name
                    if owner.labels != name.labels[start:]:
                        owner = dns.name.Name(name.labels[start:])
                return owner, entry
        return None

    def _left(self, entry: Entry) -> int:
        return max(0, int(entry.expires - self.clock()))

    # answering

    def respond(self, query: wire.Query, *, tcp: bool) -> tuple[bytes, Sections] | None:
        """Return the response to a well-formed query from the cache alone, with the sections
        it was made of; None when the cache cannot answer (nothing known, or a CNAME chain
        whose end it does not know)."""
        if query.qclass != IN or query.qtype in NOT_CACHED:
            return None
        found = self.find(query.qname, query.qtype)
        if found is None or found.kind is Kind.ALIAS:
            return None
        return wire.write_rrsets(query, found, tcp), found

    # administration

    def flush(self) -> None:
        """Forget everything, rendered answers included."""
        for budget in (self.positive, self.negative, self.answers):
            budget.clear()
        self._strikes.clear()
        self._changed.clear()

    def delete(self, name: dns.name.Name | str) -> int:
        """Forget every entry owned by name and the answers made of them; return how many
        entries there were."""
        if isinstance(name, str):
            name = dns.name.from_text(name)
        labels = folded(name)
        self._retire_answers(labels)
        return self.positive.forget(labels) + self.negative.forget(labels)

    def entries(self) -> Iterator[CacheRecord]:
        """Yield a snapshot of the unexpired entries; failures are transient and glue is only
        a means to find servers, so both are left out."""
        now = self.clock()
        for budget in (self.positive, self.negative):
            for entry in list(budget.entries.values()):
                if _kept(entry, now):
                    yield _record(entry, int(entry.expires - now))

    @property
    def changes_waiting(self) -> int:
        """Return how many stored entries take_changes() has not handed out yet."""
        return len(self._changed)

    def take_changes(self, limit: int | None = None) -> list[CacheRecord]:
        """Return the entries stored since the last call, as entries() gives them: what a
        write-behind has to write, instead of the whole cache every time. At most ``limit``
        of them; the rest wait for the next call, so that a burst of new entries (a cold
        cache filling) is turned into records a slice at a time, not in one long pause."""
        now = self.clock()
        if limit is None or len(self._changed) <= limit:
            changed, self._changed = self._changed, set()
        else:
            changed = {self._changed.pop() for _ in range(limit)}
        positive, negative = self.positive.entries, self.negative.entries
        records = []
        for key in changed:
            entry = positive.get(key) or negative.get(key)
            # _kept, inline: this runs for every entry a cache miss adds.
            if (
                entry is not None and entry.expires > now and entry.kind is not Kind.SERVFAIL
                and entry.rank >= ANSWER
            ):  # fmt: skip
                records.append(_record(entry, int(entry.expires - now)))
        return records

    def load(self, records: Iterable[CacheRecord]) -> None:
        """Take back entries from a snapshot; a malformed one is skipped, not fatal."""
        for record in records:
            try:
                self._load(record)
            except (ValueError, TypeError, IndexError, dns.exception.DNSException):
                continue
        self._changed.clear()  # they came from the database: nothing to write back

    def _load(self, record: CacheRecord) -> None:
        name = dns.name.from_text(record.name)
        rdtype = dns.rdatatype.from_text(record.rdtype)
        if record.negative in (Kind.NXDOMAIN.value, Kind.NODATA.value):
            owner, text = record.rdata.split(None, 1)
            soa = dns.rrset.from_text(owner, record.ttl, IN, SOA, text)
            nxdomain = record.negative == Kind.NXDOMAIN.value
            self.store_negative(name, rdtype, soa, nxdomain=nxdomain, source=record.source)
        elif not record.negative:
            lines = record.rdata.splitlines()
            rrset = dns.rrset.from_text_list(name, record.ttl, IN, rdtype, lines)
            self.store_rrset(rrset, source=record.source)


def _data(entry: Entry) -> dns.rdataset.Rdataset:
    """Return the entry's rdataset, made from the wire forms it was kept as (store_wired)
    the first time it is read."""
    rdataset = entry.rdataset
    if rdataset is None:
        rdataset = entry.rdataset = _plain(rrset_of(entry.name, entry.rdtype, 0, entry.wires))
    return rdataset


def _soa_data(soa: dns.rdata.Rdata) -> tuple[dns.rdataset.Rdataset, int]:
    """Return an SOA record as negative entries keep it (nothing changes it once kept), and
    what it adds to their size (_size, but the owner's)."""
    rdataset = dns.rdataset.Rdataset(IN, SOA)
    rdataset.add(soa)
    return rdataset, _size(dns.name.root, rdataset) - _wire_size(dns.name.root)


# The negative answers of one zone share its SOA record (upstream.Reply): one rdataset for
# all their entries, made once.
_soa_data_kept = by_identity(_soa_data, KEPT_FOLDS)


def _soa_kept(soa: dns.rrset.RRset) -> tuple[dns.rdataset.Rdataset, int]:
    """Return what _soa_data returns for the record of an SOA RRset (of one, as all are)."""
    if len(soa.items) != 1:
        rdataset = _plain(soa)
        return rdataset, _size(dns.name.root, rdataset) - _wire_size(dns.name.root)
    return _soa_data_kept(next(iter(soa.items)))


def _plain(rdataset: dns.rdataset.Rdataset) -> dns.rdataset.Rdataset:
    """Return the rdatas as a plain rdataset of their own, sharing the rdata objects.

    The set's dict is copied as a dict, which keeps the hashes it holds: adding the rdatas
    one by one would hash each again, which dnspython does by rendering it (a third of the
    cost of a cache miss went there).
    """
    plain = dns.rdataset.Rdataset(rdataset.rdclass, rdataset.rdtype, rdataset.covers)
    plain.items.update(rdataset.items)
    plain.ttl = rdataset.ttl
    return plain


def _with_ttl(name: dns.name.Name, rdataset: dns.rdataset.Rdataset, ttl: int) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(name, rdataset.rdclass, rdataset.rdtype, rdataset.covers)
    rrset.items.update(rdataset.items)  # without rehashing, as in _plain
    rrset.ttl = ttl
    return rrset


def _size(name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> int:
    """Return roughly what the entry costs: its wire form plus an overhead for the objects."""
    items = rdataset.items
    return _wire_size(name) + sum(map(_rdata_size, items)) + 10 * len(items) + 200


def _rdata_size(rdata: dns.rdata.Rdata) -> int:
    """Return the size of rdata's wire form, without dnspython rendering the common types
    (which makes a Name object per label of every name in them)."""
    if rdata.rdtype in FIXED_SIZES:
        return FIXED_SIZES[rdata.rdtype]
    if rdata.rdtype == SOA:
        return _wire_size(rdata.mname) + _wire_size(rdata.rname) + 20
    return len(wire.rdata_wire(rdata))


def _wire_size(name: dns.name.Name) -> int:
    labels = name.labels
    return sum(map(len, labels)) + len(labels)


FIXED_SIZES = {dns.rdatatype.A: 4, dns.rdatatype.AAAA: 16}


def _kept(entry: Entry | None, now: float) -> bool:
    return (
        entry is not None and entry.expires > now and entry.kind is not Kind.SERVFAIL
        and entry.rank >= ANSWER
    )  # fmt: skip


def _record(entry: Entry, ttl: int) -> CacheRecord:
    # The kind told by identity: a dict by the kind would have enum hash it in Python (and
    # its value is a property), for every entry written behind.
    kind = entry.kind
    if kind is Kind.ANSWER:
        if entry.wires:  # dnspython's text of the addresses, without reading them into rdatas
            rdata = "\n".join(map(ADDRESS_TEXT[entry.rdtype], entry.wires))
        else:
            rdata = "\n".join(map(_rdata_text, entry.rdataset.items))
        rdtype, negative = _type_text(entry.rdtype), ""
    else:
        soa = next(iter(entry.rdataset.items))
        rdata = f"{_owner_text(entry.soa_owner)} {_rdata_text(soa)}"
        if kind is Kind.NXDOMAIN:
            rdtype, negative = "ANY", NXDOMAIN_TEXT
        else:
            rdtype, negative = _type_text(entry.rdtype), NODATA_TEXT
    return CacheRecord(_text(entry.name), rdtype, ttl, negative, entry.source, rdata)


NXDOMAIN_TEXT, NODATA_TEXT = Kind.NXDOMAIN.value, Kind.NODATA.value
# dnspython's text of addresses: an IPv4 address's as the socket module writes it (in C).
ADDRESS_TEXT = {dns.rdatatype.A: socket.inet_ntoa, dns.rdatatype.AAAA: dns.ipv6.inet_ntoa}


def _text(name: dns.name.Name) -> str:
    """Return name.to_text(), written here for plain labels (letters, digits, hyphens,
    underscores): several times faster than dnspython, which escapes the others."""
    labels = name.labels[:-1]
    if labels and not name.labels[-1]:  # absolute (name.is_absolute(), without its call)
        joined = b".".join(labels)
        if wire._plain_text(joined, len(labels)):  # one pass in C, no expression per label
            return joined.decode() + "."
    return name.to_text()


# The presentation form of records written behind: replies share one object for the same
# record (upstream.Reply), as a zone's SOA in every negative answer from it.
KEPT_TEXTS = 8192
_rdata_text = by_identity(operator.methodcaller("to_text"), KEPT_TEXTS)
# ... and the names of those SOAs (upstream.Reply keeps the Name of each owner it reads).
_owner_text = by_identity(_text, KEPT_TEXTS)


_type_text = functools.lru_cache(maxsize=256)(dns.rdatatype.to_text)

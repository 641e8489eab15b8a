"""The resolver cache: RRsets learnt from other servers, positive and negative (RFC 2308).

Only data from upstream servers, the hosts file or a reload of a snapshot enters it; our own
zones are answered by the authority and never cached here. Two budgets (entries and bytes)
bound it, one for data and a separate one for negative answers and failures, so a flood of
random names cannot push useful data out.

Answers are rendered once per question and kept as bytes with the offsets of their TTLs; a
repeated question costs a dict lookup and a few four-byte patches that count the TTLs down.
Those rendered answers take a share of the byte budgets too, and are indexed by the names
they were made of, so new data or a negative answer at a name retires them at once.

Trust (RFC 2181 5.4.1, in two ranks): referral NS sets and glue help find servers but are
never an answer; they do not replace answer data, and answer data replaces them.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset

from . import wire
from .render import Records
from .zone import Key, lower_labels

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

POSITIVE, NXDOMAIN, NODATA, SERVFAIL = "", "NXDOMAIN", "NODATA", "SERVFAIL"

MAX_TTL = 86400  # as BIND's max-cache-ttl would be set for an appliance: one day
MAX_NEGATIVE_TTL = 3600  # RFC 2308 5 suggests one to three hours; BIND uses 3 h, we keep 1 h
FAILURE_TTL = 5  # RFC 9520 3.2: cache resolution failures for at least 1 s
MAX_FAILURE_TTL = 300  # ... and at most 5 minutes; each failure in a row doubles the hold
MAX_STRIKES = 16
GLUE, ANSWER = 1, 2  # RFC 2181 5.4.1 ranks: referral NS sets and glue, then answer data
MEMO_SHARE = 3  # rendered answers may take a third of each byte budget
MAX_CHAIN = 16
TTL = struct.Struct("!I")
RR_FIXED = struct.Struct("!HHIH")


@dataclass(slots=True)
class Entry:
    """One cached RRset, or a negative answer with the SOA that bounds its life."""

    name: dns.name.Name
    rdtype: int
    negative: str
    rdataset: dns.rdataset.Rdataset | None  # the data, or the SOA of a negative answer
    soa_owner: dns.name.Name | None
    expires: float
    source: str
    size: int
    rank: int = ANSWER

    @property
    def names(self) -> tuple[Key, ...]:
        return (lower_labels(self.name),)


@dataclass(frozen=True, slots=True)
class CacheRecord:
    """An entry as plain values, to write behind to a table and load back at start.

    rdata holds one rdata per line in presentation format; for a negative entry it holds one
    line "<SOA owner> <SOA rdata>". An NXDOMAIN covers every type and has rdtype "ANY".
    """

    name: str
    rdtype: str
    ttl: int
    negative: str
    source: str
    rdata: str


@dataclass(slots=True)
class Found:
    """What the cache knows about a question: a whole answer, or a CNAME chain to continue."""

    rcode: int = wire.NOERROR
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    pending: dns.name.Name | None = None  # a CNAME target the cache knows nothing about
    expires: dict[tuple[Key, int], float] = field(default_factory=dict)
    names: list[Key] = field(default_factory=list)  # every name the answer was made of


@dataclass(slots=True)
class Rendered:
    body: bytes  # the response without its ID
    ttls: tuple[tuple[int, float], ...]  # (offset in body, expiry) of every TTL to count down
    expires: float
    names: tuple[Key, ...] = ()
    size: int = 0
    # The body with its TTLs counted down, for the second it was counted in: a popular
    # answer is rewritten once a second, not once a query.
    second: int = -1
    counted: bytes = b""


class Sized(Protocol):
    size: int
    expires: float

    @property
    def names(self) -> tuple[Key, ...]: ...


V = TypeVar("V", bound=Sized)


class Budget(Generic[V]):
    """Values in insertion order, bounded in number and in bytes (the oldest go first), and
    indexed by the names they depend on, so forgetting one name needs no scan."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.entries: dict[Hashable, V] = {}
        self.by_name: dict[Key, set[Hashable]] = {}
        self.bytes = 0

    def put(self, key: Hashable, value: V) -> None:
        self.pop(key)
        while self.entries and (
            len(self.entries) >= self.max_entries or self.bytes + value.size > self.max_bytes
        ):
            self.pop(next(iter(self.entries)))
        if value.size <= self.max_bytes and self.max_entries > 0:
            self.entries[key] = value
            self.bytes += value.size
            for labels in value.names:
                self.by_name.setdefault(labels, set()).add(key)

    def get(self, key: Hashable, now: float) -> V | None:
        value = self.entries.get(key)
        if value is not None and value.expires <= now:
            self.pop(key)
            return None
        return value

    def pop(self, key: Hashable) -> None:
        value = self.entries.pop(key, None)
        if value is None:
            return
        self.bytes -= value.size
        for labels in value.names:
            keys = self.by_name.get(labels)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.by_name[labels]

    def forget(self, labels: Key) -> int:
        """Drop every value that depends on the name; how many there were."""
        keys = list(self.by_name.get(labels, ()))
        for key in keys:
            self.pop(key)
        return len(keys)

    def clear(self) -> None:
        self.entries.clear()
        self.by_name.clear()
        self.bytes = 0


class Cache:
    def __init__(
        self,
        *,
        max_entries: int = 100_000,
        max_bytes: int = 64 << 20,
        max_negative_entries: int = 20_000,
        max_negative_bytes: int = 8 << 20,
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
        self.answers: Budget[Rendered] = Budget(max_entries, memo)
        self.negative_answers: Budget[Rendered] = Budget(max_negative_entries, negative_memo)
        self.max_ttl = max_ttl
        self.max_negative_ttl = max_negative_ttl
        self.clock = clock
        self._strikes: dict[tuple[Key, int], tuple[int, float]] = {}  # failures in a row
        self._changed: set[tuple[Key, int]] = set()  # stored since take_changes() last ran
        # Goes up whenever a rendered answer may have become wrong (data replaced, a delete,
        # a flush): whoever keeps copies of rendered answers drops them then.
        self.generation = 0

    def __len__(self) -> int:
        return len(self.positive.entries) + len(self.negative.entries)

    @property
    def bytes(self) -> int:
        """What everything held costs, rendered answers included."""
        budgets = (self.positive, self.negative, self.answers, self.negative_answers)
        return sum(budget.bytes for budget in budgets)

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
        labels = lower_labels(rrset.name)
        key = (labels, rrset.rdtype)
        held = self.positive.get(key, now)
        if held is not None and held.rank > rank:
            return
        entry = Entry(
            rrset.name, rrset.rdtype, POSITIVE, _plain(rrset), None,
            now + ttl, source, _size(rrset.name, rrset), rank,
        )  # fmt: skip
        if rank >= ANSWER:
            self.negative.pop(key)
            self.negative.pop((labels, NX_KEY))
            self._retire_answers(labels)
            self._changed.add(key)
        self.positive.put(key, entry)

    def store_negative(
        self, name: dns.name.Name, rdtype: int, soa: dns.rrset.RRset, *, nxdomain: bool,
        source: str = "recursive",
    ) -> None:  # fmt: skip
        """RFC 2308 5: an NXDOMAIN (per name) or NODATA (per name and type) lives as long as
        min(SOA TTL, SOA MINIMUM); without an SOA it is not cached at all (RFC 2308 5)."""
        ttl = min(soa.ttl, soa[0].minimum, self.max_negative_ttl)
        if ttl <= 0 or (rdtype == ANY and not nxdomain):
            return  # an empty ANY answer says nothing about any one type
        kind, key_type = (NXDOMAIN, NX_KEY) if nxdomain else (NODATA, rdtype)
        rdataset = _plain(soa)
        entry = Entry(
            name, rdtype, kind, rdataset, soa.name, self.clock() + ttl, source,
            _size(name, rdataset) + len(soa.name.to_wire()),
        )  # fmt: skip
        labels = lower_labels(name)
        # RFC 2308: the negative answer is newer than whatever the cache held there; an
        # NXDOMAIN says the name has nothing at all, a NODATA speaks of one type.
        if nxdomain:
            self.positive.forget(labels)
            self.negative.forget(labels)
        else:
            self.positive.pop((labels, rdtype))
        self._retire_answers(labels)
        self.negative.put((labels, key_type), entry)
        self._changed.add((labels, key_type))

    def store_failure(self, name: dns.name.Name, rdtype: int, ttl: int = FAILURE_TTL) -> None:
        """RFC 9520: remember that a question could not be resolved, briefly at first, then
        twice as long for each failure in a row, up to MAX_FAILURE_TTL."""
        now = self.clock()
        key = (lower_labels(name), rdtype)
        strikes, last_until = self._strikes.pop(key, (0, now))
        if now > last_until + MAX_FAILURE_TTL:
            strikes = 0  # the last failure is long past: start again from the shortest hold
        strikes = min(strikes + 1, MAX_STRIKES)
        hold = min(ttl * 2 ** (strikes - 1), MAX_FAILURE_TTL)
        if len(self._strikes) >= max(self.negative.max_entries, 1):
            del self._strikes[next(iter(self._strikes))]
        self._strikes[key] = (strikes, now + hold)
        entry = Entry(name, rdtype, SERVFAIL, None, None, now + hold, "recursive", 64)
        self.negative.put(key, entry)

    def resolved(self, name: dns.name.Name, rdtype: int) -> None:
        """The question was answered: its next failure is held for the shortest time again."""
        if self._strikes:
            self._strikes.pop((lower_labels(name), rdtype), None)

    def _retire_answers(self, labels: Key) -> None:
        if self.answers.forget(labels) + self.negative_answers.forget(labels):
            self.generation += 1  # copies of those answers kept elsewhere are stale now

    # reading

    def get(self, name: dns.name.Name, rdtype: int) -> Entry | None:
        """The unexpired entry answering name/rdtype: data, NODATA, NXDOMAIN or a failure."""
        return self._get(lower_labels(name), rdtype, self.clock())

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
        """The cached data for name/rdtype, with its remaining TTL, glue included: for
        finding servers and making referrals, not for answers."""
        entry = self.positive.get((lower_labels(name), rdtype), self.clock())
        if entry is None:
            return None
        return _with_ttl(name, entry.rdataset, self._left(entry))

    def addresses(self, name: dns.name.Name, rdtypes: Iterable[int] = ADDRESS_TYPES) -> list[str]:
        found = (self.rrset(name, rdtype) for rdtype in rdtypes)
        return [rdata.address for rrset in found if rrset is not None for rdata in rrset]

    def find(self, qname: dns.name.Name, qtype: int) -> Found | None:
        """Follow qname through cached CNAMEs; None when the cache knows nothing of qname."""
        found = Found()
        name = qname
        now = self.clock()
        for _ in range(MAX_CHAIN):
            labels = lower_labels(name)
            found.names.append(labels)
            entry = self._get(labels, qtype, now)
            if entry is None and qtype != CNAME:
                entry = self._answer((labels, CNAME), now)
            if entry is None:
                found.pending = name
                return found if found.answer else None
            self._add(found, entry)
            if entry.rdtype != CNAME or qtype == CNAME:
                return found
            name = entry.rdataset[0].target
        return None  # a chain this long is better resolved afresh than trusted

    def _add(self, found: Found, entry: Entry) -> None:
        left = self._left(entry)
        if entry.negative == SERVFAIL:
            found.rcode = wire.SERVFAIL
            return
        rrset = _with_ttl(entry.soa_owner or entry.name, entry.rdataset, left)
        found.expires[(lower_labels(rrset.name), rrset.rdtype)] = entry.expires
        if entry.negative:
            found.rcode = wire.NXDOMAIN if entry.negative == NXDOMAIN else wire.NOERROR
            found.authority.append(rrset)
        else:
            found.answer.append(rrset)

    def delegation(self, name: dns.name.Name) -> dns.rrset.RRset | None:
        """The NS RRset of the closest enclosing zone cut the cache knows, if any."""
        while True:
            rrset = self.rrset(name, NS)
            if rrset is not None or name == dns.name.root:
                return rrset
            name = name.parent()

    def _left(self, entry: Entry) -> int:
        return max(0, int(entry.expires - self.clock()))

    # answering

    def answer(self, query: bytes, *, tcp: bool = False) -> bytes | None:
        """The response to query from the cache alone, or None when the cache cannot answer."""
        found = self.answer_until(query, tcp=tcp)
        return None if found is None else found[0]

    def answer_until(self, query: bytes, *, tcp: bool = False) -> tuple[bytes, float] | None:
        """Like answer(), with the clock time until which the same bytes stay right (the end
        of this second, when TTLs count down again, or the expiry, if sooner); 0 for never."""
        key = (tcp, query[2:])
        rendered = self.answers.entries.get(key) or self.negative_answers.entries.get(key)
        now = self.clock()
        if rendered is not None:
            if rendered.expires > now:
                until = min(rendered.expires, int(now) + 1)
                return query[:2] + _count_down(rendered, now), until
            self.answers.pop(key)
            self.negative_answers.pop(key)
        parsed = wire.parse_query(query)
        if parsed is None or parsed.rcode or parsed.qclass != IN or parsed.qtype in NOT_CACHED:
            return None
        found = self.find(parsed.qname, parsed.qtype)
        if found is None or found.pending is not None:
            return None
        response = render(parsed, found, tcp=tcp)
        self._remember(key, response, found)
        if found.rcode == wire.SERVFAIL or not found.expires:
            return response, 0.0
        return response, min(min(found.expires.values()), int(now) + 1)

    def _remember(self, key: tuple[bool, bytes], response: bytes, found: Found) -> None:
        if found.rcode == wire.SERVFAIL:
            return  # a cached failure: cheap to rebuild, and it must not outlive its entry
        body = response[2:]
        ttls = tuple(_ttl_offsets(response, found.expires))
        # Roughly what it costs: the body, the key's copy of the query, and the objects.
        size = len(body) + len(key[1]) + 24 * len(ttls) + 200
        expires = min(found.expires.values())
        rendered = Rendered(body, ttls, expires, tuple(dict.fromkeys(found.names)), size)
        positive = found.rcode == wire.NOERROR and found.answer and not found.authority
        (self.answers if positive else self.negative_answers).put(key, rendered)

    # administration

    def flush(self) -> None:
        for budget in (self.positive, self.negative, self.answers, self.negative_answers):
            budget.clear()
        self.generation += 1
        self._strikes.clear()
        self._changed.clear()

    def delete(self, name: dns.name.Name | str) -> int:
        """Forget every entry owned by name, and the answers made of them; how many entries."""
        if isinstance(name, str):
            name = dns.name.from_text(name)
        labels = lower_labels(name)
        self._retire_answers(labels)
        return self.positive.forget(labels) + self.negative.forget(labels)

    def entries(self) -> Iterator[CacheRecord]:
        """A snapshot of the unexpired entries; failures are transient and glue is only a
        means to find servers, so both are left out."""
        now = self.clock()
        for budget in (self.positive, self.negative):
            for entry in list(budget.entries.values()):
                if _kept(entry, now):
                    yield _record(entry, int(entry.expires - now))

    @property
    def changes_waiting(self) -> int:
        return len(self._changed)

    def take_changes(self, limit: int | None = None) -> list[CacheRecord]:
        """The entries stored since the last call, as entries() gives them: what a
        write-behind has to write, instead of the whole cache every time. At most ``limit``
        of them; the rest wait for the next call, so that a burst of new entries (a cold
        cache filling) is turned into records a slice at a time, not in one long pause."""
        now = self.clock()
        if limit is None or len(self._changed) <= limit:
            changed, self._changed = self._changed, set()
        else:
            changed = {self._changed.pop() for _ in range(limit)}
        found = (
            self.positive.entries.get(key) or self.negative.entries.get(key) for key in changed
        )
        return [_record(entry, int(entry.expires - now)) for entry in found if _kept(entry, now)]

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
        if record.negative in (NXDOMAIN, NODATA):
            owner, text = record.rdata.split(None, 1)
            soa = dns.rrset.from_text(owner, record.ttl, IN, SOA, text)
            nxdomain = record.negative == NXDOMAIN
            self.store_negative(name, rdtype, soa, nxdomain=nxdomain, source=record.source)
        elif not record.negative:
            lines = record.rdata.splitlines()
            rrset = dns.rrset.from_text_list(name, record.ttl, IN, rdtype, lines)
            self.store_rrset(rrset, source=record.source)


def render(parsed: wire.Query, found: Found, *, tcp: bool) -> bytes:
    """The response to parsed made of what the cache (or a resolution) found."""
    limit = wire.TCP_LIMIT if tcp else parsed.udp_limit()
    answer = [owned(rrset) for rrset in found.answer]
    authority = [owned(rrset) for rrset in found.authority]
    return wire.render(parsed, wire.Sections(found.rcode, False, answer, authority), limit)


def owned(rrset: dns.rrset.RRset) -> tuple[dns.name.Name, Records]:
    """An RRset as the renderer takes it: owner, and rdatas in uncompressed wire form."""
    return rrset.name, Records(rrset.rdtype, rrset.ttl, tuple(r.to_wire() for r in rrset))


def _count_down(rendered: Rendered, now: float) -> bytes:
    second = int(now)
    if rendered.second == second:
        return rendered.counted
    body = bytearray(rendered.body)
    for offset, expires in rendered.ttls:
        TTL.pack_into(body, offset, max(0, int(expires - now)))
    rendered.second, rendered.counted = second, bytes(body)
    return rendered.counted


def _ttl_offsets(response: bytes, expires: dict[tuple[Key, int], float]) -> Iterator[tuple]:
    """(offset in the body after the ID, expiry) for each record whose TTL counts down."""
    _, _, qdcount, ancount, nscount, _ = wire.HEADER.unpack_from(response)
    position = 12
    for _ in range(qdcount):
        position += dns.name.from_wire(response, position)[1] + 4
    for _ in range(ancount + nscount):
        owner, used = dns.name.from_wire(response, position)
        position += used
        rdtype, _, _, rdlength = RR_FIXED.unpack_from(response, position)
        expiry = expires.get((lower_labels(owner), rdtype))
        if expiry is not None:
            yield position + 4 - 2, expiry
        position += 10 + rdlength


def _plain(rdataset: dns.rdataset.Rdataset) -> dns.rdataset.Rdataset:
    plain = dns.rdataset.Rdataset(rdataset.rdclass, rdataset.rdtype)
    plain.update(rdataset)
    return plain


def _with_ttl(name: dns.name.Name, rdataset: dns.rdataset.Rdataset, ttl: int) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(name, rdataset.rdclass, rdataset.rdtype)
    rrset.update(rdataset)
    rrset.ttl = ttl
    return rrset


def _size(name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> int:
    """Roughly the bytes the entry costs: its wire form plus a fixed overhead for the objects."""
    data = sum(len(rdata.to_wire()) for rdata in rdataset)
    return len(name.to_wire()) + data + 10 * len(rdataset) + 200


def _kept(entry: Entry | None, now: float) -> bool:
    return (
        entry is not None and entry.expires > now and entry.negative != SERVFAIL
        and entry.rank >= ANSWER
    )  # fmt: skip


def _record(entry: Entry, ttl: int) -> CacheRecord:
    if entry.negative:
        rdata = f"{entry.soa_owner} {entry.rdataset[0].to_text()}"
    else:
        rdata = "\n".join(rdata.to_text() for rdata in entry.rdataset)
    rdtype = "ANY" if entry.negative == NXDOMAIN else dns.rdatatype.to_text(entry.rdtype)
    return CacheRecord(entry.name.to_text(), rdtype, ttl, entry.negative, entry.source, rdata)

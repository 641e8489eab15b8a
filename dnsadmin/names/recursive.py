"""Iterative resolution from the root hints (RFC 1034 5.3.3), with the usual guards.

Only what the asked server may speak for is believed: answers and negative proofs owned inside
the zone it serves, referrals to zones below it, and glue inside it (bailiwick, RFC 2181 5.4.1
and RFC 5452). Loops and amplification are bounded: CNAME restarts, upstream sends per
resolution, glueless name server lookups per referral (NXNSAttack), referral depth and an
overall deadline, after which the client gets SERVFAIL and the failure is cached briefly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

from .answer import MAX_CHAIN, Kind, Sections
from .cache import GLUE, Cache, folded
from .upstream import (
    MALFORMED,
    UNREACHABLE_ERRORS,
    Coalescer,
    Overloaded,
    PastDeadline,
    Plain,
    Question,
    Response,
    Servers,
    Sockets,
    Unreachable,
    exchange,
    rrset_of,
    socket_budget,
)
from .zone import Key, lower_labels

log = logging.getLogger(__name__)

ROOT_HINTS = Path(__file__).with_name("root.hints")
MAX_RESTARTS = 11  # CNAME restarts, as BIND's max-restarts
MAX_SENDS = 32  # upstream queries for one client question, glueless lookups included
MAX_REFERRALS = 16  # zone cuts followed down for one name
MAX_GLUELESS = 3  # NS names without glue resolved per referral (NXNSAttack, CVE-2020-8616)
MAX_DEPTH = 2  # glueless lookups nested inside glueless lookups
DEADLINE = 4.0
QUERY_TIMEOUT = 1.0

IN = dns.rdataclass.IN
A, AAAA, NS, SOA = dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.NS, dns.rdatatype.SOA
CNAME, DS, ANY = dns.rdatatype.CNAME, dns.rdatatype.DS, dns.rdatatype.ANY
AA_FLAG = int(dns.flags.AA)  # a plain int: int & IntFlag runs enum's Python code

Hints = Mapping[dns.name.Name, Sequence[str]]
NameServers = list[tuple[dns.name.Name, list[str]]]


class Exhausted(Exception):
    """A resolution spent its budget of upstream queries."""


class Unresolvable(Exception):
    """One name cannot be resolved: a CNAME loop, too many restarts or referrals."""


# What ends a resolution with SERVFAIL (cached briefly) rather than an error.
FAILURES = (PastDeadline, TimeoutError, Exhausted, Unresolvable, Unreachable)


class Found:
    """A plain reply (upstream.Plain) classified: the addresses at the name asked (ANSWER),
    kept as their wire forms, or a negative answer (NXDOMAIN, NODATA) with its SOA. What a
    resolution asked wired hands on in place of Sections, to be cached (Cache.store_wired)
    and written (wire.write_answer) without dnspython objects; sections() for any other use.
    """

    __slots__ = ("kind", "name", "rdtype", "ttl", "wires", "soa", "labels")

    def __init__(
        self, kind: Kind, name: dns.name.Name, rdtype: int, ttl: int, wires, soa, labels: Key
    ) -> None:
        self.kind, self.name, self.rdtype, self.ttl = kind, name, rdtype, ttl
        self.wires = wires  # the addresses in wire form (ANSWER)
        self.soa = soa  # the SOA RRset of a negative answer, its TTL the negative's
        self.labels = labels  # the name's, case-folded: cached by them (Cache.store_wired)

    def sections(self) -> Sections:
        """Return the same answer as classify makes it from the reply read by Reply.parse."""
        if self.kind is Kind.ANSWER:
            return Sections(Kind.ANSWER, [rrset_of(self.name, self.rdtype, self.ttl, self.wires)])
        return Sections(self.kind, [], [self.soa])


def remember(step: Sections, cache: Cache, qname: dns.name.Name, qtype: int, source: str):
    """Cache what a classified response (classify) proved about qname/qtype; the answers
    keep the capped TTL the cache gives them.

    A referral's NS set and glue are cached at the lower rank (RFC 2181 5.4.1): they lead to
    the child's servers, whose own answer for those names alone is an answer.
    """
    if type(step) is Found:
        if step.kind is Kind.ANSWER:
            step.ttl = min(step.ttl, cache.max_ttl)
            cache.store_wired(
                step.name, step.rdtype, step.ttl, step.wires, source=source, labels=step.labels
            )
        else:
            nxdomain = step.kind is Kind.NXDOMAIN
            cache.store_negative(
                qname, qtype, step.soa, nxdomain=nxdomain, source=source, labels=step.labels
            )
        return
    if step.kind is Kind.REFERRAL:
        for rrset in step.authority + [glue for glue, _ in step.additional]:
            cache.store_rrset(rrset, source=source, rank=GLUE)
        return
    for rrset in step.answer:
        rrset.ttl = min(rrset.ttl, cache.max_ttl)
        cache.store_rrset(rrset, source=source)
    if step.authority and step.kind in (Kind.NXDOMAIN, Kind.NODATA):
        # The negative speaks of the end of the CNAME chain the answer holds (RFC 2308 2.1).
        name = step.answer[-1][0].target if step.answer else qname
        nxdomain = step.kind is Kind.NXDOMAIN
        cache.store_negative(name, qtype, step.authority[0], nxdomain=nxdomain, source=source)


@dataclass(slots=True)
class Budget:
    sends: int = 0
    deadline: float | None = None  # the event loop's time the resolution must end by

    def spend(self) -> None:
        if self.sends >= MAX_SENDS:
            raise Exhausted(f"{MAX_SENDS} upstream queries")
        self.sends += 1


def read_hints(path: Path | str = ROOT_HINTS) -> dict[dns.name.Name, list[str]]:
    """Return the root name servers and their addresses from a named.root style file.

    A ValueError (or OSError) tells the operator what is wrong with the file.
    """
    try:
        text = Path(path).read_text()
        hints = dns.zone.from_text(text, dns.name.root, relativize=False, check_origin=False)
    except dns.exception.DNSException as error:
        raise ValueError(f"{path}: {error}") from error
    servers: dict[dns.name.Name, list[str]] = {}
    for rdata in hints.get_rdataset(dns.name.root, NS) or ():
        node = hints.get_node(rdata.target)
        rdatasets = node.rdatasets if node is not None else ()
        servers[rdata.target] = [
            r.address for rds in rdatasets if rds.rdtype in (A, AAAA) for r in rds
        ]
    if not servers:
        raise ValueError(f"{path}: no root NS records")
    return servers


class Upstream:
    """What asks other servers: one resolution per distinct question in flight, each within
    the deadline, counting the queries sent; subclasses say how one question is resolved.

    Resolutions share the UDP sockets of one pool, and wait for a descriptor to retry over
    TCP when those the file limit leaves (socket_budget) are all in use.
    """

    source = ""

    def __init__(
        self, cache: Cache, *, deadline: float, query_timeout: float, max_inflight: int,
        clock: Callable[[], float],
    ) -> None:  # fmt: skip
        self.cache = cache
        self.deadline = deadline
        self.query_timeout = query_timeout
        self.servers = Servers(clock)
        self.sent = 0  # upstream queries, for the statistics
        self.sockets = Sockets(socket_budget())
        self._coalescer: Coalescer[Sections] = Coalescer(max_inflight)

    async def resolve(self, qname: dns.name.Name, qtype: int, wired: bytes = b"") -> Sections:
        """Return the answer to qname/qtype; SERVFAIL (cached briefly) when it cannot be had.

        wired: qname's wire form, as the client spelt it, when the caller takes a Found too
        (a plain reply to the question, when it was the one to ask: another asker of the same
        question at once gets it as Sections)."""
        key = (folded(qname), qtype)
        coalescer = self._coalescer
        if not coalescer.claim(key):
            try:
                found = await coalescer.run(key, self._within_deadline, qname, qtype, wired)
            except Overloaded:
                return Sections(Kind.SERVFAIL)  # shed load; not cached, unlike a failure
            return found if wired or type(found) is not Found else found.sections()
        # The first asker (most often the only one): no run(), and _within_deadline's work
        # done here, a coroutine less for every cache miss.
        try:
            deadline = asyncio.get_running_loop().time() + self.deadline
            try:
                found = await self._resolve(qname, qtype, deadline, wired)
            except FAILURES as error:
                found = self._failed(qname, qtype, error)
            else:
                self.cache.resolved(qname, qtype)
        except BaseException as error:
            coalescer.settle(key, error=error)
            raise
        coalescer.settle(key, found)
        return found if wired or type(found) is not Found else found.sections()

    async def close(self) -> None:
        """Take no more questions and close the sockets (the askers cancel their own)."""
        await self._coalescer.close()
        self.sockets.close()

    async def _within_deadline(self, qname: dns.name.Name, qtype: int, wired: bytes) -> Sections:
        """Return the answer within the deadline, or SERVFAIL, cached briefly (RFC 9520).

        The deadline is handed down to each wait for a server (upstream.exchange), the only
        waits of a resolution, rather than kept by a timer of its own for every question.
        """
        deadline = asyncio.get_running_loop().time() + self.deadline
        try:
            found = await self._resolve(qname, qtype, deadline, wired)
        except FAILURES as error:
            return self._failed(qname, qtype, error)
        self.cache.resolved(qname, qtype)
        return found

    def _failed(self, qname: dns.name.Name, qtype: int, error: Exception) -> Sections:
        """Return SERVFAIL for a question that could not be resolved, cached briefly."""
        log.info("SERVFAIL for %s/%s: %r", qname, dns.rdatatype.to_text(qtype), error)
        self.cache.store_failure(qname, qtype)
        return Sections(Kind.SERVFAIL)

    def _resolve(
        self, qname: dns.name.Name, qtype: int, deadline: float, wired: bytes
    ) -> Awaitable[Sections]:
        """Return the resolution of qname/qtype (a coroutine, awaited by resolve: a plain
        function returning it adds no coroutine to every cache miss); wired, the
        question itself asked wired (Question.wired: wired is qname's wire form), its plain
        reply handed on as Found."""
        raise NotImplementedError


class Recursive(Upstream):
    """Resolves names from the root down, caching what it learns."""

    source = "recursive"

    def __init__(
        self,
        cache: Cache,
        hints: Hints | None = None,
        *,
        port: int = 53,
        deadline: float = DEADLINE,
        query_timeout: float = QUERY_TIMEOUT,
        ipv6: bool = True,
        max_inflight: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            cache, deadline=deadline, query_timeout=query_timeout, max_inflight=max_inflight,
            clock=clock,
        )  # fmt: skip
        self.hints = {name: list(addrs) for name, addrs in (hints or read_hints()).items()}
        self.port = port
        self.ipv6 = ipv6

    def _resolve(
        self, qname: dns.name.Name, qtype: int, deadline: float, wired: bytes
    ) -> Awaitable[Sections]:
        return self.follow(qname, qtype, Budget(deadline=deadline), 0, wired)

    def follow(
        self, qname: dns.name.Name, qtype: int, budget: Budget, depth: int, wired: bytes = b""
    ) -> Awaitable[Sections]:
        """Resolve qname, restarting at each CNAME target the answers leave open (qname
        alone asked wired, if told: wired is its wire form). A name the cache knows nothing
        of is iterated at once, its iteration following the chain its answer leaves open:
        no follow_chain coroutine for most cache misses."""
        step = self.cache.find(qname, qtype)
        if step is None:
            return self._iterate(qname, qtype, budget, depth, wired, chain=True)
        return self._chain(qname, qtype, budget, depth, wired, step)

    def _chain(
        self, qname: dns.name.Name, qtype: int, budget: Budget, depth: int, wired: bytes,
        step: Sections,
    ) -> Awaitable[Sections]:  # fmt: skip
        """Return follow_chain from qname's own step (from the cache, or iterated)."""
        return follow_chain(
            self.cache, qname, qtype,
            lambda name: self._iterate(name, qtype, budget, depth, wired if name is qname else b""),
            step,
        )  # fmt: skip

    async def _iterate(
        self, name: dns.name.Name, qtype: int, budget: Budget, depth: int, wired: bytes,
        chain: bool = False,
    ) -> Sections:  # fmt: skip
        """Walk down the zone cuts from the closest known one to the servers of name; with
        chain, on along the CNAME chain the answer leaves open (follow)."""
        zone, nameservers = self._closest(name, qtype)
        for _ in range(MAX_REFERRALS):
            step = await self._ask(zone, nameservers, name, qtype, budget, depth, wired)
            remember(step, self.cache, name, qtype, self.source)
            if step.kind is not Kind.REFERRAL:
                if chain and step.kind is Kind.ALIAS:
                    return await self._chain(name, qtype, budget, depth, wired, step)
                return step
            zone, nameservers = step.authority[0].name, self._referred(step)
        raise Unresolvable(f"more than {MAX_REFERRALS} referrals")

    def _closest(self, name: dns.name.Name, qtype: int) -> tuple[dns.name.Name, NameServers]:
        # DS lives in the parent zone (RFC 4035 3.1.4.1): start above the cut.
        start = name.parent() if qtype == DS and name != dns.name.root else name
        cut = self.cache.cut(start)
        if cut is None:
            return dns.name.root, [(ns, self._usable(addrs)) for ns, addrs in self.hints.items()]
        owner, entry = cut
        return owner, [(rdata.target, self._known(rdata.target)) for rdata in entry.rdataset]

    def _referred(self, step: Sections) -> NameServers:
        glue: dict[Key, list[str]] = {}
        for rrset, _ in step.additional:
            glue.setdefault(folded(rrset.name), []).extend(rdata.address for rdata in rrset)
        return [
            (
                rdata.target,
                self._usable(glue.get(folded(rdata.target), ())) or self._known(rdata.target),
            )
            for rdata in step.authority[0]
        ]

    def _known(self, target: dns.name.Name) -> list[str]:
        return self._usable(self.cache.addresses(target) or self.hints.get(target, ()))

    def _usable(self, addresses: Iterable[str]) -> list[str]:
        return [address for address in addresses if self.ipv6 or ":" not in address]

    async def _ask(
        self, zone: dns.name.Name, nameservers: NameServers, name: dns.name.Name, qtype: int,
        budget: Budget, depth: int, wired: bytes,
    ) -> Sections:  # fmt: skip
        """Return the first usable reply from the servers of zone, fastest first, classified:
        the addresses known, then those of a few glueless names resolved, each address once.

        Plain loops rather than an async generator: one left unfinished is closed by a task
        the event loop starts (through its self-pipe), which cost every cache miss one. The
        exchange is awaited here, not in a coroutine of its own: each more cost every cache
        miss a microsecond.
        """
        addresses = self.servers.order(a for _, addrs in nameservers for a in addrs)
        glueless = None  # the names without addresses to resolve, once the others failed
        tried: set[str] = set()

        def spend() -> None:
            budget.spend()
            self.sent += 1

        question = None  # made for the first address asked
        loop = asyncio.get_running_loop()
        while True:
            for address in addresses:
                if address in tried:
                    continue
                tried.add(address)
                question = question or Question.of(name, qtype, recursion=False, wired=wired)
                started = loop.time()
                try:
                    response = await exchange(
                        question, address, self.port, self.query_timeout, spend, self.sockets,
                        budget.deadline,
                    )  # fmt: skip
                except UNREACHABLE_ERRORS:
                    self.servers.timed_out(address)
                    continue
                self.servers.answered(address, loop.time() - started)
                step = classify(response, zone, name, qtype)
                if step is not None:
                    return step
            if glueless is None:
                glueless = [ns for ns, addrs in nameservers if not addrs][:MAX_GLUELESS]
                if depth >= MAX_DEPTH:
                    glueless = []
            if not glueless:
                raise Unreachable(f"no server of {zone} answered {name}")
            found = await self._addresses(glueless.pop(0), budget, depth + 1)
            addresses = self.servers.order(found)

    async def _addresses(self, ns: dns.name.Name, budget: Budget, depth: int) -> list[str]:
        for rdtype in (A, AAAA) if self.ipv6 else (A,):
            try:
                found = await self.follow(ns, rdtype, budget, depth)
            except (Unreachable, Unresolvable):
                continue  # this name server is out of reach; the budget is not spent yet
            addresses = [
                r.address for rrset in found.answer if rrset.rdtype == rdtype for r in rrset
            ]
            if addresses:
                return addresses
        return []


async def follow_chain(
    cache: Cache, qname: dns.name.Name, qtype: int,
    ask: Callable[[dns.name.Name], Awaitable[Sections]], step: Sections | None = None,
) -> Sections:  # fmt: skip
    """Return the answer to qname, restarting at each CNAME target the answers leave open,
    from the cache or else from ask(target); at most MAX_RESTARTS restarts, and no loops.
    step: qname's own, if had already (from the cache, or asked)."""
    found: Sections | None = None  # made at the first restart: most answers need none
    name = qname
    seen: set = set()  # the names restarted from: filled at the first restart only
    for _ in range(MAX_RESTARTS + 1):
        if step is None:
            step = cache.find(name, qtype) or await ask(name)
        if found is None:
            if step.kind is not Kind.ALIAS:
                return step
            found = Sections()
        found.kind = step.kind
        found.answer += step.answer
        found.authority = step.authority
        if step.kind is not Kind.ALIAS:
            return found
        seen.add(lower_labels(name))
        name = step.target
        if lower_labels(name) in seen:
            raise Unresolvable(f"CNAME loop at {name}")
        step = None
    raise Unresolvable(f"more than {MAX_RESTARTS} CNAME restarts")


def classify(
    response: Response, zone: dns.name.Name, qname: dns.name.Name, qtype: int
) -> Sections | None:
    """Sort a response from a server of zone, keeping only what that server may speak for;
    None when it is lame (nothing usable: ask the zone's next server).

    An ALIAS is a CNAME chain whose end, its target, another server must resolve; a negative
    answer has the SOA proving it (if any) in its authority; a referral has the cut's NS set
    in its authority and the glue in its additional section. Names are compared by their
    case-folded labels (dnspython's comparisons cost microseconds each). A Plain reply gives
    a Found, unless its shape is not enough (a name out of bailiwick): then it is read whole.
    """
    if type(response) is Plain:
        found = _found(response, folded(zone), qname, qtype)
        if found is not None:
            return found
        try:
            response = response.reply()
        except MALFORMED:
            return None  # a record it does not use is malformed: as no reply
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return None
    inside = folded(zone)
    answer, name, complete = _chain(response, inside, qname, qtype)
    if complete:
        return Sections(Kind.ANSWER, answer)
    end = folded(name)
    if answer and not _under(end, inside):
        return Sections(Kind.ALIAS, answer, target=name)  # the target's own servers must say
    soa = _soa(response, inside, end)
    proof = [soa] if soa is not None else []
    if rcode == dns.rcode.NXDOMAIN:
        # Only the zone's own servers may say a name does not exist: without AA or their
        # SOA, an NXDOMAIN is a lame server's, and the next server is asked.
        if soa is None and not response.flags & AA_FLAG:
            return None
        return Sections(Kind.NXDOMAIN, answer, proof)
    cut = None if answer else _cut(response, inside, end)
    if cut is not None:
        glue = [(rrset, False) for rrset in _glue(response, inside, cut)]
        return Sections(Kind.REFERRAL, authority=[cut], additional=glue)
    if soa is not None or response.flags & AA_FLAG:
        return Sections(Kind.NODATA, answer, proof)
    if answer:
        return Sections(Kind.ALIAS, answer, target=name)
    return None


def _found(plain: Plain, zone: Key, qname: dns.name.Name, qtype: int) -> Found | None:
    """Return what classify makes of a plain reply from a server of zone (its labels), as
    a Found; None when the shape is not enough to tell."""
    labels = folded(qname)
    # _under, inline (every cache miss asks one, a negative answer three).
    if zone and labels[-len(zone) :] != zone:
        return None
    if plain.wires:
        return Found(Kind.ANSWER, qname, qtype, plain.ttl, plain.wires, None, labels)
    apex = tuple(map(bytes.lower, plain.soa[0]))
    if zone and apex[-len(zone) :] != zone or apex and labels[-len(apex) :] != apex:
        return None
    soa = plain.soa_rrset()
    kind = Kind.NXDOMAIN if plain.rcode() == dns.rcode.NXDOMAIN else Kind.NODATA
    return Found(kind, qname, qtype, soa.ttl, (), soa, labels)


def _under(labels: Key, zone: Key) -> bool:
    """Tell whether a name (its case-folded labels) is zone or below it."""
    # A name shorter than zone is itself what the slice gives, which differs from zone.
    return labels[-len(zone) :] == zone or not zone


def _chain(
    response: Response, zone: Key, qname: dns.name.Name, qtype: int
) -> tuple[list[dns.rrset.RRset], dns.name.Name, bool]:
    """Return the answer's CNAME chain from qname in bailiwick, its end, and whether it
    reached data."""
    chain: list[dns.rrset.RRset] = []
    name = qname
    section = [(folded(rrset.name), rrset) for rrset in response.answer if rrset.rdclass == IN]
    for _ in range(MAX_CHAIN):
        labels = folded(name)
        if not _under(labels, zone):
            break
        final = _owned(section, labels, qtype)
        if final:
            return chain + final, name, True
        cname = _owned(section, labels, CNAME) if qtype != CNAME else []
        if not cname:
            break
        chain.append(cname[0])
        name = cname[0][0].target
    return chain, name, False


def _owned(section: list[tuple[Key, dns.rrset.RRset]], labels: Key, rdtype: int) -> list:
    return [
        rrset
        for owner, rrset in section
        if owner == labels and (rrset.rdtype == rdtype or (rdtype == ANY and rrset.rdtype != CNAME))
    ]


def _soa(response: Response, zone: Key, name: Key):
    """Return the SOA proving a negative answer: a zone's apex above name, in the zone.

    Its TTL is set in the reply's own RRset (a reply is classified once)."""
    for rrset in response.authority:
        if rrset.rdtype == SOA and rrset.rdclass == IN:
            apex = folded(rrset.name)
            if _under(apex, zone) and _under(name, apex):
                # RFC 2308 3: a negative answer lives min(SOA TTL, MINIMUM), and says so.
                rrset.ttl = min(rrset.ttl, next(iter(rrset.items)).minimum)
                return rrset
    return None


def _cut(response: Response, zone: Key, qname: Key):
    """Return a referral's NS RRset: strictly below zone, above qname (none upwards)."""
    if response.flags & AA_FLAG:
        return None
    for rrset in response.authority:
        if rrset.rdtype == NS and rrset.rdclass == IN:
            owner = folded(rrset.name)
            if owner != zone and _under(owner, zone) and _under(qname, owner):
                return rrset
    return None


def _glue(response: Response, zone: Key, cut: dns.rrset.RRset) -> list:
    """Return the addresses of the cut's name servers in the additional section, in zone."""
    targets = {folded(rdata.target) for rdata in cut}
    return [
        rrset
        for rrset in response.additional
        if rrset.rdtype in (A, AAAA)
        and rrset.rdclass == IN
        and (owner := folded(rrset.name)) in targets
        and _under(owner, zone)
    ]

"""The resolver chain: authority, hosts file, cache, then recursion or forwarding.

As Twisted Names chained its resolvers, each query goes down the links in a configurable order
and the first that knows answers; the answer carries the name of the link that produced it, for
the query log and the statistics.

Only clients in the allow-list (loopback by default) get anything but our own zones: the others
get REFUSED with RA clear, as from BIND with allow-recursion and allow-query-cache at their
defaults. Allowed clients see RA set on every response. A query with RD clear from an allowed
client is answered from the hosts file and the cache only; on a miss it gets a referral to the
closest zone cut in the cache, like BIND, or REFUSED when the cache knows no cut at all (we do
not prime the root, so BIND's referral to the root has no counterpart).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.rdataclass
import dns.rdatatype

from . import authority, chaos, wire
from .addresses import allowed, networks
from .answer import Kind, Sections
from .authority import NOT_MINE, NotMine
from .cache import ADDRESS_TYPES, NOT_CACHED, Cache
from .cache import folded as folded_name
from .catalog import ZoneCatalog
from .forwarder import Forwarder
from .hosts import Hosts
from .memo import (
    RECURSIVE,
    TCP,
    UDP,
    UDP_RECURSIVE,
    AnswerMemo,
    Templates,
    flavour,
    folded,
    keyed,
    question_end,
)
from .recursive import ROOT_HINTS, Found, Recursive, read_hints
from .tsig import TSIG_MARK

log = logging.getLogger(__name__)

Result = bytes | None | NotMine | Awaitable[bytes | None]

DEFAULT_ORDER = ("authority", "hosts", "cache", "recursive")
DEFAULT_ALLOW = ("127.0.0.0/8", "::1/128")
RA = 0x80  # in the fourth header byte
RD = 0x0100
MAX_CLIENTS_REMEMBERED = 4096
# Answers from our unsigned zones worked out in full on the hot path (at_once) a second at
# most, about a tenth of a core: first answers to CNAMEs, SRV and MX records and the like.
# The rest waits in the server's backlog, with whatever else needs the full path.
WORKED_OUT_PER_SECOND = 4000
MAX_SEEN = 65536  # questions for names that may not exist, remembered to keep the second
# A miss at_once found outside our zones is told as one int, where its question's name ends
# (below OUTSIDE_SPAN) plus OUTSIDE_SPAN times the zones' generation then: no object a miss.
OUTSIDE_SPAN = 1 << 16
OUTSIDE = NOT_MINE  # _quick's answer for a name under no zone of ours
# The types asked wired on a miss, in wire form: A and AAAA, whose answers are read plain
# (upstream.Plain), and the common ones whose negative answers are: TXT, MX, SRV, PTR, SVCB,
# HTTPS (not NS, CNAME, DS, ANY, whose answers the resolvers treat apart).
WIRED_TYPES = frozenset(
    qtype.to_bytes(2, "big") for qtype in (1, 28, 16, 15, 33, 12, 64, 65)
)  # fmt: skip


@dataclass(frozen=True)
class ChainConfig:
    """The links behind the listeners, as rundns and the settings expose them.

    recursion: off leaves only the authority; allow_recursion: CIDRs of the clients that may
    use anything but the authority; forwarders: "ADDR[:PORT]" resolvers to forward to instead
    of iterating from root_hints; hosts_file: an /etc/hosts style file; order: the links,
    "forwarder" being another name for "recursive"; port: the port of the servers iterated
    over (53 except in tests); query_timeout: seconds per upstream query when iterating;
    deadline: seconds per question; max_inflight: distinct questions resolved at once, beyond
    which SERVFAIL sheds the load; memo_entries, memo_bytes: the budget of the answers from our
    zones kept to send again (a quarter of each again for negative answers), beside the
    cache's. Memory: a kept answer takes about 650 bytes (measured on bench/mix's zone, where
    118,000 answers take 75 MB, and 5 MB more for the dicts by kind of answer that find them
    in every budget) while memo_bytes counts about half of that, so the defaults bound it near
    140 MB + 30 MB; answers kept by what decides them (memo.Templates) stay under 20,000
    entries of each of their two kinds and the questions seen once (a wildcard's, a
    referral, a signed zone's name errors) under MAX_SEEN, whatever
    is asked; a name error from an unsigned zone is never kept by name. Beside these, each
    unsigned zone precomputes the answers that are one RRset at a name when it is built
    (zone.Zone.wired: at most one an RRset, or a CNAME and a type at its target, each
    within zone.WIRED_MAX; SRV answers with their target's addresses; about 34 MB for
    bench/mix's 123,000 such answers; at most zone.WIRED_BUDGET a zone, past which a zone
    precomputes nothing), which answer questions in any case, kept then by the question
    case-folded as their bodies alone (memo.Bodies: about 260 bytes each on bench/mix's zone,
    counted as 300), as are the answers of templates (no data at a name at once, a
    wildcard's and a referral asked twice), in budgets of their own as large as the others
    (memo_entries and memo_bytes, a quarter of each for those without data), which bound them
    near 80 MB more.
    ``memory()`` reports both.
    """

    recursion: bool = True
    allow_recursion: Sequence[str] = DEFAULT_ALLOW
    forwarders: Sequence[str] = ()
    hosts_file: Path | str | None = None
    root_hints: Path | str = ROOT_HINTS
    order: Sequence[str] = DEFAULT_ORDER
    port: int = 53
    deadline: float = 4.0
    query_timeout: float = 1.0
    max_inflight: int = 1000
    memo_entries: int = 200_000
    memo_bytes: int = 64 << 20
    version: str | None = "rundns"  # the answer to version.bind CH TXT; None refuses it


AUTHORITATIVE = ChainConfig(recursion=False)  # our zones alone, as the standalone runner serves


class ResolverChain:
    """The resolver chain production runs: our zones, then for allowed clients the hosts
    file, the cache and recursion (or forwarding), in the configured order."""

    def __init__(
        self,
        catalog: ZoneCatalog,
        config: ChainConfig | None = None,
        *,
        cache: Cache | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        config = config or ChainConfig()
        order = ["recursive" if link == "forwarder" else link for link in config.order]
        unknown = set(order) - set(DEFAULT_ORDER)
        if unknown:
            raise ValueError(f"unknown resolvers in the order: {', '.join(sorted(unknown))}")
        self.catalog = catalog
        self.recursion = config.recursion
        self.allowed = networks(config.allow_recursion)
        self.cache = cache if cache is not None else Cache(clock=clock)
        self.hosts = Hosts(config.hosts_file, clock=clock) if config.hosts_file else None
        self.upstream = self._upstream(config, clock) if config.recursion else None
        self.order = [link for link in order if self._present(link)]
        # Every link but recursion passes a plain miss down (see _plain_miss).
        self._wired = self.order == ["authority", "cache", "recursive"]
        self._authority_first = self.order[0] == "authority"
        self.version = config.version
        self._clients: dict[str, bool] = {}
        self._zones_seen = catalog.generation
        # Answers from our zones (and refusals), until the zones change: the whole of a large
        # zone's questions fits, so that asking every name in turn is not a stream of misses.
        negative = config.memo_entries // 4, config.memo_bytes // 4
        self.answers = AnswerMemo(config.memo_entries, config.memo_bytes, *negative)
        self.templates = Templates()
        self._seen: set[tuple[int, bytes]] = set()  # see _again
        self._worked_out = [0, 0]  # the second (of the clock), answers worked out at once in it

    def _upstream(self, config: ChainConfig, clock: Callable[[], float]) -> Recursive | Forwarder:
        timing = {"deadline": config.deadline, "max_inflight": config.max_inflight}
        if config.forwarders:
            return Forwarder(self.cache, config.forwarders, clock=clock, **timing)
        hints = read_hints(config.root_hints)
        return Recursive(
            self.cache, hints, port=config.port, query_timeout=config.query_timeout,
            clock=clock, **timing,
        )  # fmt: skip

    def _present(self, link: str) -> bool:
        if link == "authority":
            return True
        if link == "hosts":
            return self.hosts is not None
        return self.recursion

    async def close(self) -> None:
        """Cancel the resolutions still in flight."""
        if self.upstream is not None:
            await self.upstream.close()

    def allows_recursion(self, client: str) -> bool:
        """Tell whether client may use more than our zones (remembered per address)."""
        permitted = self._clients.get(client)
        if permitted is None:
            permitted = self.recursion and allowed(client, self.allowed)
            if len(self._clients) >= MAX_CLIENTS_REMEMBERED:
                self._clients.clear()
            self._clients[client] = permitted
        return permitted

    def resolve(
        self, query: bytes, *, tcp: bool, client: str, outside: int | None = None
    ) -> tuple[Result, str]:
        """Return the response to query from client, and the name of the link that made it;
        outside: what at_once told of the query (a miss outside our zones), if anything."""
        allowed = self.allows_recursion(client)
        kind = flavour(tcp=tcp, recursive=allowed)
        end = None if outside is None else self._outside_now(outside)
        if end is None:
            kept = self._kept(kind, query)
            if type(kept) is tuple:
                return kept
            if kept is not None:
                end = self._outside_now(kept)  # found outside our zones just now
        if allowed and self._wired and not tcp:
            pending = self._plain_miss(query, end)
            if pending is not None:
                return pending, self.upstream.source
        if self.version is not None and chaos.asks_version(query):
            answer = chaos.version_answer(query, self.version)
            if answer is not None:
                return self._keep(kind, query, answer, "authority")
        parsed = wire.parse_query(query)  # once, for every link
        for link in self.order:
            if link == "authority":
                result = authority.answer_parsed(parsed, self.catalog, tcp=tcp)
                if result is NOT_MINE:
                    continue
                return self._keep(kind, query, _flagged(result, allowed), "authority")
            if not allowed:
                continue
            result = self._resolve(link, kind, query, parsed, tcp)
            if result is not NOT_MINE:
                return _flagged(result, allowed), self._source(link, parsed)
        refusal = authority.refused(query, tcp=tcp)
        if allowed:
            return refusal, "authority"  # the cache may know more later
        return self._keep(kind, query, refusal, "authority")  # until the zones change

    # answers kept to send again (memo.py)

    def at_once(self, query: bytes, client: str) -> tuple[bytes, str] | int | None:
        """Return the UDP answer worked out before for the same question from the same kind of
        client, while it stays right: no parsing, no rendering, one dict lookup (the hot path).
        An int for a miss outside our zones (see OUTSIDE_SPAN), to hand to resolve(): it does
        not look again."""
        allowed = self._clients.get(client)
        if allowed is None or self.catalog.generation != self._zones_seen:
            return None  # resolve() drops what the zone change made wrong
        # _kept without its generation check (just made): this runs for every datagram.
        kind = UDP_RECURSIVE if allowed else UDP
        kept = self.answers.get(kind, query, self.cache.clock)
        return kept if type(kept) is tuple else self._missed(kind, query, kept)

    def _kept(self, kind: int, query: bytes) -> tuple[bytes, str] | int | None:
        if self.catalog.generation != self._zones_seen:
            # Any kept answer may be wrong now, a name the cache answered having become ours.
            self.cache.answers.clear()
            self.answers.clear()
            self.templates.clear()
            self._seen.clear()
            self._zones_seen = self.catalog.generation
            return None
        kept = self.answers.get(kind, query, self.cache.clock)
        return kept if type(kept) is tuple else self._missed(kind, query, kept)

    def _missed(self, kind: int, query: bytes, name: bytes) -> tuple[bytes, str] | int | None:
        """Return _quick's answer to query, or for a client that may recurse the one the
        cache keeps for a name outside our zones, else where the name ends with the zones'
        generation (at_once's int) (name: what AnswerMemo.get gave, the name of its plain
        question case-folded as far as the query's first zero byte, unchecked; b"" for a
        query without)."""
        recursive = kind & RECURSIVE
        if not name:
            kept = self.cache.answers.get(kind, query, self.cache.clock) if recursive else 0
            return kept if type(kept) is tuple else None
        end = 12 + len(name)
        if not recursive or self._authority_first:
            # The cache never answers for a name in our zones (the authority does first):
            # its kept answers are looked at for the names outside them only.
            quick = self._quick(kind, query, end, name)
            if quick is not OUTSIDE or not recursive:
                return None if quick is OUTSIDE else quick
        # The cache's answers are kept by the same key (its answers to a question in the
        # client's own case only, rare, come from resolve()).
        kept = self.cache.answers.get_folded(kind, query, end, name, self.cache.clock)
        if kept is None and self._authority_first:
            # (its labels after the first read before, most often: no walk over them)
            plain = query[4:6] == b"\0\1" and wire.known_name(query, 12, end)
            if not plain and question_end(query) != end:
                return None  # not the question's name: the general path reads the query
            # The zones' generation as looked at before the lookup (at_once, _kept): a zone
            # published meanwhile makes the int stale, not right for the new zones.
            return end + self._zones_seen * OUTSIDE_SPAN
        return kept

    def _quick(
        self, kind: int, query: bytes, end: int, name: bytes
    ) -> tuple[bytes, str] | None | NotMine:
        """Return the answer from an unsigned zone of ours to query's plain question (ending
        at end, name: its name case-folded) without one kept for the question: precomputed
        by the zone (an RRset at the name, Zone.wired), kept for what decides it (a name
        error for a random name: a few dict lookups), written straight from the zone's
        records (the first time a name or an alias of it is asked), or over UDP worked out
        in full within WORKED_OUT_PER_SECOND (a CNAME chain, additional data), so that a
        zone whose names are asked in turn is not left to the server's backlog. OUTSIDE for
        a name under no zone of ours.

        name is not checked (see AnswerMemo.get): the lookups by a name (of a zone's
        precomputed answers, and of the name errors kept below a zone's origin) match only
        the name of a question; it is checked before its labels are read, and the question
        looked at again by the name its labels make when it is not that (a zero byte in a
        label)."""
        zones = self.catalog.by_wire
        zone, position = authority.closest(name, zones)
        if zone is None:
            return OUTSIDE if position == 0 else self._quick_read(kind, query)
        if position == name[0] + 1 and not (query[2] & 0xF8 or TSIG_MARK in query[end:]):
            # A name right below the origin, for which a name error is kept (a random
            # subdomain's): the zone tells whether this one is one too, and nothing else
            # is looked up (first: looked up after the precomputed answers, each name of
            # a random subdomain's flood, never kept, cost 0.5 to 1 µs more).
            response = self.templates.below_origin(kind, query, end, name, zone)
            if response is not None:
                return response, "authority"
        if not kind & TCP:
            # Zone.wired_at inline (the type and class: the keys say class IN).
            key = name + query[end : end + 4]
            changes = zone.wired_changes
            found = changes[key] if key in changes else zone.wired.get(key)
            # Plain standard queries only (wired_answer checks their form first); RA set for
            # a client that may recurse.
            response = found and authority.wired_answer(
                query, end, found, zone, (kind & RECURSIVE) >> 1, zones
            )
            if response is not None:
                # Kept by the question case-folded: one lookup when it comes back (in
                # lowercase, its own bytes), in any case (the precomputed answer's way
                # costs twice the kept answer's).
                self.answers.put_body(kind, query, end, name, response)
                return response, "authority"
        if question_end(query) != end:
            return self._quick_read(kind, query)
        if query[2] & 0xF8 or TSIG_MARK in query[end:]:
            # Not a standard query: a NOTIFY, an UPDATE, a signed query (answered and signed
            # by the server's SignedHandler).
            return None
        if position != name[0] + 1:  # (else below_origin has looked)
            # A name that does not exist (a random subdomain): neither located nor kept by
            # name, as it may never come back and would push out the answers that do.
            response = self.templates.below_name(kind, query, end, name, zones)
            if response is not None:
                return response, "authority"
        located = authority.located_in(query, end, name, zone, position)
        if located is None:
            return None
        decided = authority.decided_by(located)
        if decided:
            response = self.templates.get(kind, query, end, decided)
            if response is not None:
                # Kept by question (one lookup when it comes back): no data at a name that
                # exists at once, as a zone's precomputed answer is (the names are the
                # zone's); a wildcard's answer or a referral once it comes back, and never a
                # name error: a flood of random names would push out the answers that repeat.
                how = decided[0][1]
                if how == b"-" or how and self._again(kind, keyed(query, end, name)):
                    self.answers.put_body(kind, query, end, name, response)
                return response, "authority"
        if kind & TCP:
            return None
        response = None
        if not decided:
            response = authority.owned_answer(query, end, located) or authority.data_answer(
                query, end, located, self.catalog
            )
        if response is not None:
            response = _flagged(response, bool(kind & RECURSIVE))
            self.answers.put(kind, query, response, "authority", end=end)
            return response, "authority"
        if not self._may_work_out():
            return None
        result = authority.answer(query, self.catalog)
        if type(result) is not bytes:
            return None
        return self._keep(kind, query, _flagged(result, bool(kind & RECURSIVE)), "authority")

    def _quick_read(self, kind: int, query: bytes) -> tuple[bytes, str] | None | NotMine:
        """Return _quick's answer to query by its question's name as its labels read
        (``question_end``), when the bytes up to its first zero byte were not that name: a
        zero byte in a label, which a flood of random names may carry as well as any. None
        for a query that is not one plain question (the general path reads it)."""
        end = question_end(query)
        return self._quick(kind, query, end, query[12:end].lower()) if end else None

    def _may_work_out(self) -> bool:
        """Tell whether another answer may be worked out in full at once this second."""
        second = int(self.cache.clock())
        if second != self._worked_out[0]:
            self._worked_out = [second, 0]
        self._worked_out[1] += 1
        return self._worked_out[1] <= WORKED_OUT_PER_SECOND

    def _keep(self, kind: int, query: bytes, result: Result, source: str) -> tuple[Result, str]:
        """Keep an answer from our zones (or a refusal) until the zones change: an answer
        to a name a zone does not hold as a template for every such name (not one per name,
        so that a flood of random names pushes nothing out), any other by question, a name
        error (of a signed zone: its proof is the name's) once asked twice."""
        if type(result) is bytes and result[3] & 0xF != wire.SERVFAIL:
            end = question_end(query)
            located = end and authority.locate(query, end, self.catalog)
            decided = located and authority.decided_by(located)
            if decided and self.templates.put(kind, query, end, decided, result):
                return result, source
            nxdomain = result[3] & 0xF == wire.NXDOMAIN
            if not nxdomain or not end or self._again(kind, folded(query, end)):
                self.answers.put(kind, query, result, source)
        return result, source

    def _again(self, kind: int, question: bytes) -> bool:
        """Tell whether the question (the query without its ID, its name case-folded) was
        asked before, remembering it: answers for names that any name could have asked about
        are kept by question at the second sight only, so that a flood of unique names does
        not push the kept answers out."""
        key = (kind, question)
        if key in self._seen:
            return True
        if len(self._seen) >= MAX_SEEN:
            self._seen.clear()
        self._seen.add(key)
        return False

    def memory(self) -> dict[str, int]:
        """Return what the kept answers hold (for the worker's status): bounded by
        ChainConfig.memo_entries and memo_bytes, and each kind of template by the templates'
        max_entries; and the answers our zones precomputed when they were built (Zone.wired:
        one an RRset at most, or a CNAME and a type at its target, each within
        zone.WIRED_MAX, and all of a zone's within zone.WIRED_BUDGET)."""
        zones = list(self.catalog.by_wire.values())
        return {
            "answers": len(self.answers),
            "answer_bytes": self.answers.bytes,
            "templates": len(self.templates.entries),
            "templates_below": len(self.templates.below),
            "precomputed": sum(zone.wired_count() for zone in zones),
            "precomputed_bytes": sum(zone.wired_bytes() for zone in zones),
        }

    def _outside_now(self, outside: int) -> int | None:
        """Return where the question's name ends in a query at_once found nothing kept for
        and outside our zones (outside: what it told), while the zones stay as they were
        (what the kept answers would have for it since, the links answer alike); None when
        the zones changed."""
        generation, end = divmod(outside, OUTSIDE_SPAN)
        return end if generation == self.catalog.generation else None

    def _plain_miss(self, query: bytes, end: int | None) -> Awaitable[bytes] | None:
        """Return the resolution of a plain UDP question (wire.plain_query: one of
        WIRED_TYPES, RD set, no DNSSEC OK) at a name outside our zones the cache knows
        nothing of, which every link but recursion passes down: the query not parsed, the
        name asked wired upstream (Question.wired), its answer cached and written from wire
        forms when the reply is plain (upstream.Plain). None for any other query. end: where
        the question's name ends if the query is known to be outside our zones (_outside_now).
        """
        if end is None:
            end = question_end(query)
            if end and authority.zone_of(query[12:end].lower(), self.catalog.by_wire) is not None:
                return None
        if end < 14 or query[end : end + 2] not in WIRED_TYPES or not query[2] & 1:
            return None
        parsed = wire.plain_query(query, end)
        if parsed is None:
            return None
        qname = parsed.qname = wire.question_name(query, end)
        if qname is None:
            return None  # a name too long: the links' FORMERR
        labels = folded_name(qname)
        cache = self.cache
        if labels in cache.positive.by_name or labels in cache.negative.by_name:
            return None
        return self._recurse(parsed, False, query, end)

    def _source(self, link: str, parsed: wire.Query | None) -> str:
        if link != "recursive":
            return link
        if parsed is not None and not parsed.flags & RD:
            return "cache"  # a referral made of cached NS records
        return self.upstream.source

    def _resolve(
        self, link: str, kind: int, query: bytes, parsed: wire.Query | None, tcp: bool
    ) -> Result:
        if parsed is None:
            return None
        if parsed.rcode:
            return wire.write_error(parsed, parsed.rcode, tcp)
        if parsed.qclass != dns.rdataclass.IN or parsed.qtype in NOT_CACHED:
            return NOT_MINE
        if link == "cache":
            return self._from_cache(kind, query, parsed, tcp)
        if link == "hosts":
            found = self.hosts.find(parsed.qname, parsed.qtype)
            return NOT_MINE if found is None else wire.write_rrsets(parsed, found, tcp)
        if not parsed.flags & RD:
            return self._referral(parsed, tcp)
        return self._recurse(parsed, tcp)

    def _from_cache(self, kind: int, query: bytes, parsed: wire.Query, tcp: bool) -> Result:
        made = self.cache.respond(parsed, tcp=tcp)
        if made is None:
            return NOT_MINE
        response, found = _with_ra(made[0]), made[1]
        if found.kind is not Kind.SERVFAIL and found.expires:
            # A cached failure is cheap to make again, and must not outlive its entry.
            self.cache.answers.put(
                kind, query, response, "cache", expires=min(found.expires.values()),
                expiries=found.expires, names=found.names,
            )  # fmt: skip
        return response

    def _referral(self, parsed: wire.Query, tcp: bool) -> bytes | NotMine:
        cut = self.cache.delegation(parsed.qname)
        if cut is None:
            return NOT_MINE
        glue = [
            (wire.owned(rrset), False)
            for rdata in cut
            for rrset in (self.cache.rrset(rdata.target, t) for t in ADDRESS_TYPES)
            if rrset is not None
        ]
        sections = Sections(Kind.REFERRAL, authority=[wire.owned(cut)], additional=glue)
        return wire.write_response(parsed, sections, tcp)

    async def _recurse(
        self, parsed: wire.Query, tcp: bool, query: bytes = b"", end: int = 0
    ) -> bytes:
        """Return the response to parsed from recursion; given the query and where its
        question ends (_plain_miss), asked wired, and its plain answer (addresses, or a
        negative answer's SOA) written straight."""
        try:
            wired = query[12:end]  # the name's wire form (none, end 0, for the general path)
            found = await self.upstream.resolve(parsed.qname, parsed.qtype, wired)
        except Exception:
            # A resolver bug costs this answer (and is logged), never the server.
            log.exception("resolution of %s/%s failed", parsed.qname, parsed.qtype)
            found = Sections(Kind.SERVFAIL)
        if type(found) is Found:
            if found.kind is Kind.ANSWER:
                response = wire.write_answer(parsed, found, RA)  # (its type, TTL and wires)
            else:
                rcode = wire.NXDOMAIN if found.kind is Kind.NXDOMAIN else wire.NOERROR
                response = wire.write_negative(parsed, rcode, found.soa, tcp, RA)
            if response is not None:
                return response
            found = found.sections()
        return _with_ra(wire.write_rrsets(parsed, found, tcp))


def _flagged(result: Result, allowed: bool) -> Result:
    if not allowed or type(result) is not bytes:
        return result  # responses being resolved set RA themselves once rendered
    return _with_ra(result)


def _with_ra(response: bytes) -> bytes:
    return response[:3] + bytes([response[3] | RA]) + response[4:]

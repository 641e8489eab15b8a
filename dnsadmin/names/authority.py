"""Authoritative answers: query bytes in, response bytes out (RFC 1034 4.3.2 and updates).

answer() is a pure function of the query and the catalog's zones. Rendered responses are
memoized in the catalog (which drops them whenever a zone changes), keyed by the query without
its ID, so a repeated question costs a dict lookup and a concatenation.
"""

from __future__ import annotations

import logging

import dns.name
import dns.rdataclass
import dns.rdatatype

from . import wire
from .catalog import ZoneCatalog
from .wire import Query, Sections
from .zone import Kind, Lookup, Zone, lower_labels

log = logging.getLogger(__name__)

MAX_CHAIN = 16  # CNAME/DNAME links followed for one query, as BIND's restart limit
TRANSFER_TYPES = frozenset({dns.rdatatype.AXFR, dns.rdatatype.IXFR})
FORMERR_TYPES = frozenset({dns.rdatatype.OPT})
NOTIMP_TYPES = frozenset(
    {dns.rdatatype.MAILA, dns.rdatatype.MAILB, dns.rdatatype.TSIG, dns.rdatatype.TKEY}
)


class NotMine:
    """The answer of the authority for names outside every zone: ask the next resolver."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_MINE"


NOT_MINE = NotMine()


def answer(query: bytes, catalog: ZoneCatalog, *, tcp: bool = False) -> bytes | None:
    """The response to query, or None when none must be sent (a response, a runt packet)."""
    result = answer_or_pass(query, catalog, tcp=tcp)
    if result is NOT_MINE:
        return refused(query, tcp=tcp)
    return result


def answer_or_pass(
    query: bytes, catalog: ZoneCatalog, *, tcp: bool = False
) -> bytes | None | NotMine:
    """Like answer(), but NOT_MINE for names outside the catalog, for a resolver chain."""
    cache = catalog.tcp_cache if tcp else catalog.udp_cache
    key = query[2:]
    hit = cache.get(key)
    if hit is not None:
        return hit if hit is NOT_MINE else query[:2] + hit
    parsed = wire.parse_query(query)
    if parsed is None:
        return None
    limit = wire.TCP_LIMIT if tcp else parsed.udp_limit()
    if parsed.rcode:
        return wire.error(parsed, parsed.rcode, limit)
    try:
        sections = respond(parsed, catalog, tcp=tcp)
        result = sections if sections is NOT_MINE else wire.render(parsed, sections, limit)
    except Exception:
        log.exception("SERVFAIL for %s/%s", parsed.qname, parsed.qtype)
        return wire.error(parsed, wire.SERVFAIL, limit)
    _remember(cache, catalog.cache_size, key, result if result is NOT_MINE else result[2:])
    return result


def _remember(cache: dict[bytes, object], size: int, key: bytes, value: object) -> None:
    if len(cache) >= size:
        # Oldest first: dicts keep insertion order, so this is FIFO eviction in O(1).
        del cache[next(iter(cache))]
    cache[key] = value


def refused(query: bytes, *, tcp: bool = False) -> bytes | None:
    """REFUSED (RFC 1035 4.1.1) for a query nobody in the chain will answer."""
    return failure(query, wire.REFUSED, tcp=tcp)


def failure(query: bytes, rcode: int, *, tcp: bool = False) -> bytes | None:
    """An answer with rcode and the question, or the error the query itself deserves."""
    parsed = wire.parse_query(query)
    if parsed is None:
        return None
    limit = wire.TCP_LIMIT if tcp else parsed.udp_limit()
    return wire.error(parsed, parsed.rcode or rcode, limit)


def respond(query: Query, catalog: ZoneCatalog, *, tcp: bool) -> Sections | NotMine:
    """The sections answering a well-formed query."""
    qtype = query.qtype
    if qtype in FORMERR_TYPES or (qtype == dns.rdatatype.AXFR and not tcp):
        # RFC 5936 4.2: AXFR is not defined over UDP.
        return Sections(rcode=wire.FORMERR)
    if qtype in NOTIMP_TYPES:
        return Sections(rcode=wire.NOTIMP)
    zone = _zone_for(query, catalog)
    if zone is None:
        return NOT_MINE
    if qtype in TRANSFER_TYPES and tcp:
        # Transfers need the client's address; the server sends them (see transfer.py).
        return Sections(rcode=wire.REFUSED)
    if qtype in TRANSFER_TYPES:
        return _ixfr_over_udp(query, zone)
    return resolve(query.qname, qtype, zone, catalog, every_any=tcp)


def _ixfr_over_udp(query: Query, zone: Zone) -> Sections:
    if query.qname != zone.origin:
        return Sections(rcode=wire.NOTAUTH)
    # RFC 1995 2: no transfer fits in a datagram, so the client gets our SOA alone and comes
    # back over TCP. The SOA is public anyway, so the transfer ACL is left to the TCP side, and
    # AA stays clear as BIND leaves it.
    return Sections(answer=[(zone.origin, zone.soa_records)])


def _zone_for(query: Query, catalog: ZoneCatalog) -> Zone | None:
    if query.qclass != dns.rdataclass.IN:
        return None
    zone = catalog.find(query.qname)
    if zone is not None and query.qtype == dns.rdatatype.DS and zone.origin == query.qname:
        # RFC 4035 3.1.4.1: DS lives on the parent side of the cut; ask the parent if we have it.
        parent = catalog.find(query.qname.parent()) if query.qname != dns.name.root else None
        return parent or zone
    return zone


def resolve(
    qname: dns.name.Name, qtype: int, zone: Zone, catalog: ZoneCatalog, *, every_any: bool = False
) -> Sections:
    """Follow CNAMEs and DNAMEs through the catalog's zones (RFC 1034 4.3.2 step 3.a)."""
    answer: list = []
    seen = {lower_labels(qname)}
    lookup = zone.lookup(qname, qtype, every_any=every_any)
    aa = lookup.kind is not Kind.REFERRAL
    for _ in range(MAX_CHAIN):
        answer.extend(lookup.answer)
        if lookup.kind is not Kind.ALIAS:
            return _finish(lookup, answer, aa)
        target = lookup.target
        zone = catalog.find(target)
        if zone is None or lower_labels(target) in seen:
            break  # the chain leaves our data, or loops: the client takes it from here
        seen.add(lower_labels(target))
        lookup = zone.lookup(target, qtype, every_any=every_any)
    return Sections(wire.NOERROR, aa, answer)


RCODES = {Kind.NXDOMAIN: wire.NXDOMAIN, Kind.YXDOMAIN: wire.YXDOMAIN}


def _finish(lookup: Lookup, answer: list, aa: bool) -> Sections:
    # RFC 6604: the rcode describes the last name of the chain.
    rcode = RCODES.get(lookup.kind, wire.NOERROR)
    return Sections(rcode, aa, answer, lookup.authority, lookup.additional)

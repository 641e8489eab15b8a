"""Authoritative answers: query bytes in, response bytes out (RFC 1034 4.3.2 and updates).

answer() is a pure function of the query and the catalog's zones; the chain keeps what it
returns to send again (memo.py) until a zone changes.
"""

from __future__ import annotations

import logging

import dns.name
import dns.rdataclass
import dns.rdatatype

from . import denial, wire
from .answer import MAX_CHAIN, Kind, Sections
from .catalog import ZoneCatalog
from .wire import Query
from .zone import Zone, lower_labels

log = logging.getLogger(__name__)

TRANSFER_TYPES = frozenset({dns.rdatatype.AXFR, dns.rdatatype.IXFR})
FORMERR_TYPES = frozenset({dns.rdatatype.OPT})
NOTIMP_TYPES = frozenset(
    {dns.rdatatype.MAILA, dns.rdatatype.MAILB, dns.rdatatype.TSIG, dns.rdatatype.TKEY}
)


class NotMine:
    """Stand for the authority's answer for names outside every zone: ask the next link."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_MINE"


NOT_MINE = NotMine()


def answer(query: bytes, catalog: ZoneCatalog, *, tcp: bool = False) -> bytes | None | NotMine:
    """Return the response to query from our zones, NOT_MINE for names outside them, or None
    when nothing must be sent (a response, a runt packet)."""
    parsed = wire.parse_query(query)
    if parsed is None:
        return None
    if parsed.rcode:
        return wire.write_error(parsed, parsed.rcode, tcp)
    try:
        sections = respond(parsed, catalog, tcp=tcp)
        return sections if sections is NOT_MINE else wire.write_response(parsed, sections, tcp)
    except Exception:
        log.exception("SERVFAIL for %s/%s", parsed.qname, parsed.qtype)
        return wire.write_error(parsed, wire.SERVFAIL, tcp)


def refused(query: bytes, *, tcp: bool = False) -> bytes | None:
    """Return REFUSED (RFC 1035 4.1.1) for a query nobody in the chain will answer."""
    return failure(query, wire.REFUSED, tcp=tcp)


def failure(query: bytes, rcode: int, *, tcp: bool = False) -> bytes | None:
    """Return an answer with rcode and the question, or the error the query itself earned."""
    parsed = wire.parse_query(query)
    if parsed is None:
        return None
    return wire.write_error(parsed, parsed.rcode or rcode, tcp)


def respond(query: Query, catalog: ZoneCatalog, *, tcp: bool) -> Sections | NotMine:
    """Return the sections answering a well-formed query."""
    qtype = query.qtype
    if qtype in FORMERR_TYPES or (qtype == dns.rdatatype.AXFR and not tcp):
        # RFC 5936 4.2: AXFR is not defined over UDP.
        return Sections(error=wire.FORMERR)
    if qtype in NOTIMP_TYPES:
        return Sections(error=wire.NOTIMP)
    zone = _zone_for(query, catalog)
    if zone is None:
        return NOT_MINE
    if qtype in TRANSFER_TYPES and tcp:
        # Transfers need the client's address; the server sends them (see transfer.py).
        return Sections(error=wire.REFUSED)
    if qtype in TRANSFER_TYPES:
        return _ixfr_over_udp(query, zone)
    dnssec = query.edns >= 0 and bool(query.ednsflags & wire.DO)
    return resolve(query.qname, qtype, zone, catalog, every_any=tcp, dnssec=dnssec)


def _ixfr_over_udp(query: Query, zone: Zone) -> Sections:
    if query.qname != zone.origin:
        return Sections(error=wire.NOTAUTH)
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
    qname: dns.name.Name, qtype: int, zone: Zone, catalog: ZoneCatalog, *,
    every_any: bool = False, dnssec: bool = False,
) -> Sections:  # fmt: skip
    """Follow CNAMEs and DNAMEs through the catalog's zones (RFC 1034 4.3.2 step 3.a).

    dnssec (the query's DO bit): add the RRSIGs and denial proofs of signed zones.
    """
    answer: list = []
    proofs: list = []  # of wildcards met along the chain (RFC 4035 3.1.3.3)
    seen = {lower_labels(qname)}
    found = _lookup(zone, qname, qtype, every_any, dnssec)
    aa = found.kind is not Kind.REFERRAL
    for _ in range(MAX_CHAIN):
        answer.extend(found.answer)
        if found.kind is not Kind.ALIAS:
            # RFC 6604: the rcode (the kind) describes the last name of the chain.
            found.answer, found.aa = answer, aa
            found.authority = proofs + found.authority if proofs else found.authority
            return found
        proofs.extend(found.authority)
        target = found.target
        zone = catalog.find(target)
        if zone is None or lower_labels(target) in seen:
            break  # the chain leaves our data, or loops: the client takes it from here
        seen.add(lower_labels(target))
        found = _lookup(zone, target, qtype, every_any, dnssec)
    return Sections(Kind.ALIAS, answer, proofs, aa=aa)


def _lookup(
    zone: Zone, qname: dns.name.Name, qtype: int, every_any: bool, dnssec: bool
) -> Sections:
    found = zone.lookup(qname, qtype, every_any=every_any)
    return denial.secure(zone, qname, qtype, found) if dnssec else found

"""Outgoing zone transfers over TCP (RFC 5936 AXFR; IXFR answered with the full zone, RFC 1995 4)."""

from __future__ import annotations

from collections.abc import Iterator

import dns.exception
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype

from . import wire
from .catalog import ZoneCatalog
from .render import MessageWriter, Records
from .wire import Owned, Query
from .zone import Zone

TRANSFER_TYPES = frozenset({dns.rdatatype.AXFR, dns.rdatatype.IXFR})
SPLIT_ABOVE = 32_768  # rdata bytes: owner names and headers must fit in 65,535 too


def transfer(
    query: bytes, catalog: ZoneCatalog, client_ip: str, key: dns.name.Name | None = None
) -> Iterator[bytes]:
    """Yield the messages answering an AXFR or IXFR query received over TCP from client_ip
    (signed with the TSIG key named key, its TSIG already checked and cut off)."""
    parsed = wire.parse_query(query)
    if parsed is None:
        return
    if parsed.rcode:
        yield wire.write_error(parsed, parsed.rcode, True)
        return
    zone = catalog.get(parsed.qname) if parsed.qclass == dns.rdataclass.IN else None
    if zone is None:
        # RFC 5936 2.2.1: we are not authoritative for a zone of that name.
        yield wire.write_error(parsed, wire.NOTAUTH, True)
    elif not zone.allows_transfer(client_ip, key):
        yield wire.write_error(parsed, wire.REFUSED, True)
    elif parsed.qtype == dns.rdatatype.IXFR and _is_current(query, zone.serial):
        # RFC 1995 2: a client as new as we are gets our SOA alone.
        yield _soa_alone(parsed, zone)
    else:
        yield from zone_messages(parsed, zone)


def _is_current(query: bytes, serial: int) -> bool:
    """Tell whether the serial an IXFR query carries (its authority SOA) is as new as ours."""
    try:
        message = dns.message.from_wire(query)
    except dns.exception.DNSException:
        return False
    for rrset in message.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            # RFC 1982 serial arithmetic: ours is newer when it is less than 2**31 ahead.
            return not 0 < (serial - rrset[0].serial) % 2**32 < 2**31
    return False


def zone_messages(query: Query, zone: Zone) -> Iterator[bytes]:
    """Yield the zone in as few messages as fit, SOA first and last (RFC 5936 2.2)."""
    rrsets = [*zone.rrsets(), (zone.origin, zone.soa_records)]
    writer = _message(query, first=True)
    for owner, records in _splittable(rrsets):
        if writer.add(wire.ANSWER, owner, records):
            continue
        yield _finish(query, writer)
        writer = _message(query, first=False)
        if not writer.add(wire.ANSWER, owner, records):
            raise ValueError(f"{owner} {records.rdtype} does not fit in one message")
    yield _finish(query, writer)


def _splittable(rrsets: list[Owned]) -> Iterator[Owned]:
    # RRsets too large for one message go out record by record (RFC 5936 2.2 allows it).
    for owner, records in rrsets:
        if sum(map(len, records.wires)) > SPLIT_ABOVE:
            for rdata in records.wires:
                yield owner, Records(records.rdtype, records.ttl, (rdata,))
        else:
            yield owner, records


def _message(query: Query, *, first: bool) -> MessageWriter:
    writer = MessageWriter(query.question, query.qname if first else None, query.limit(True))
    if query.edns >= 0:
        writer.reserve(wire.OPT_SIZE)
    return writer


def _soa_alone(query: Query, zone: Zone) -> bytes:
    writer = _message(query, first=True)
    writer.add(wire.ANSWER, zone.origin, zone.soa_records)
    return _finish(query, writer)


def _finish(query: Query, writer: MessageWriter) -> bytes:
    if query.edns >= 0:
        writer.add_opt(wire.OUR_PAYLOAD, query.ednsflags & wire.DO)
    return writer.finish(query.id, wire.QR | wire.AA | (query.flags & wire.ECHOED_FLAGS))

"""Outgoing zone transfers over TCP: AXFR (RFC 5936) and IXFR (RFC 1995).

IXFR is answered with the condensed difference from the client's serial when the zone's
journal (journal.py) reaches back to it, and with the full zone otherwise (RFC 1995 4). A
signed zone's journal carries its signatures and NSEC/NSEC3 records with the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.exception
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype

from . import wire
from .catalog import ZoneCatalog
from .journal import Difference
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
    elif zone.expired:
        # As BIND: a secondary zone past its expiry, or never loaded, is not handed on.
        yield wire.write_error(parsed, wire.SERVFAIL, True)
    elif parsed.qtype != dns.rdatatype.IXFR:
        yield from zone_messages(parsed, zone)
    else:
        yield from ixfr_messages(parsed, zone, client_serial(query))


def ixfr_messages(query: Query, zone: Zone, serial: int | None) -> Iterator[bytes]:
    """Yield the answer to an IXFR from a client at serial (None: it did not say)."""
    if serial is not None and not 0 < (zone.serial - serial) % 2**32 < 2**31:
        # RFC 1995 2: a client as new as we are gets our SOA alone. RFC 1982 serial
        # arithmetic: ours is newer when it is less than 2**31 ahead.
        yield _soa_alone(query, zone)
        return
    difference = _difference(zone, serial) if serial is not None else None
    if difference is None:
        yield from zone_messages(query, zone)
        return
    # RFC 1995 4: our SOA, then the client's SOA, what to delete, our SOA, what to add; our
    # SOA again closes the answer.
    ours = (zone.origin, zone.soa_records)
    rrsets = [ours, (zone.origin, difference.soa_from), *difference.removed, ours]
    yield from _messages(query, [*rrsets, *difference.added, ours])


def client_serial(query: bytes) -> int | None:
    """Return the serial an IXFR query carries (its authority SOA), or None."""
    try:
        message = dns.message.from_wire(query)
    except dns.exception.DNSException:
        return None
    for rrset in message.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return rrset[0].serial
    return None


def _difference(zone: Zone, serial: int) -> Difference | None:
    """Return the difference from serial to the zone when the zone's journal has it and it
    is smaller than the zone; None when the full zone is the answer."""
    journal = getattr(zone, "journal", None)
    if journal is None or journal.serial != zone.serial:
        return None
    difference = journal.since(serial)
    if difference is None or difference.size >= _record_count(zone):
        return None
    return difference


def _record_count(zone: Zone) -> int:
    """Return how many records the zone serves, counted once per zone."""
    count = getattr(zone, "record_count", None)
    if count is None:
        count = zone.record_count = sum(len(records) for _, records in zone.rrsets())
    return count


def zone_messages(query: Query, zone: Zone) -> Iterator[bytes]:
    """Yield the zone in as few messages as fit, SOA first and last (RFC 5936 2.2)."""
    yield from _messages(query, [*zone.rrsets(), (zone.origin, zone.soa_records)])


def _messages(query: Query, rrsets: list[Owned]) -> Iterator[bytes]:
    """Yield rrsets in order, in as few messages as fit."""
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

"""Authoritative answers: query bytes in, response bytes out (RFC 1034 4.3.2 and updates).

answer() is a pure function of the query and the catalog's zones; the chain keeps what it
returns to send again (memo.py) until a zone changes.
"""

from __future__ import annotations

import functools
import logging
from typing import NamedTuple

import dns.name
import dns.rdataclass
import dns.rdatatype

from . import denial, wire
from .answer import MAX_CHAIN, Kind, Sections
from .catalog import ZoneCatalog
from .render import (
    COMPRESSIBLE,
    Labels,
    MessageWriter,
    Owner,
    Records,
    compressed,
    labels_at,
    srv_written,
)
from .wire import Query
from .zone import ADDITIONAL_TARGET, DS, NOT_OWNED, Key, Node, Wired, Zone, lower_labels
from .zone import CNAME_TYPE as CNAME

log = logging.getLogger(__name__)

TRANSFER_TYPES = frozenset({dns.rdatatype.AXFR, dns.rdatatype.IXFR})
FORMERR_TYPES = frozenset({dns.rdatatype.OPT})
# Types data_answer leaves to answer(): DS is the parent's, OPT is no type to ask for.
NOT_DATA = frozenset({dns.rdatatype.DS, dns.rdatatype.OPT})
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
    return answer_parsed(wire.parse_query(query), catalog, tcp=tcp)


def answer_parsed(
    parsed: Query | None, catalog: ZoneCatalog, *, tcp: bool = False
) -> bytes | None | NotMine:
    """Return what ``answer`` returns for the query wire.parse_query made of it (None: one
    that must get no response), for a caller that parsed it already."""
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


class Located(NamedTuple):
    """A plain question to one of our unsigned zones, read from its bytes (see ``locate``)."""

    zone: Zone
    labels: tuple[bytes, ...]  # the question's name, case-folded, the root's label last
    rel: tuple[bytes, ...]  # its labels below the zone's origin
    qtype: int
    node: Node | None  # the name's node when lookup answers from it (Zone.node_at)


# Located from a tuple of its fields, without the Python frame of a NamedTuple's __new__
# (about 0.25 µs of the 1.5 that locating a question costs).
_located = functools.partial(tuple.__new__, Located)


def locate(query: bytes, end: int, catalog: ZoneCatalog) -> Located | None:
    """Return the unsigned zone of ours that answers the plain question ending at end, with
    the question's labels; None for a question in another class, outside our zones, to a
    signed zone (its denial proofs differ from name to name) or to an expired one.

    Read from the bytes, with no dnspython object: what a question for a random name costs
    before its answer is found.
    """
    name = query[12:end].lower()
    zone, position = closest(name, catalog.by_wire)
    return None if zone is None else located_in(query, end, name, zone, position)


def located_in(query: bytes, end: int, name: bytes, zone: Zone, position: int) -> Located | None:
    """Return ``locate``'s answer for a question whose zone the caller has found (name: its
    name case-folded, position: where the zone's origin starts in it, ``closest``'s)."""
    if query[end + 2 : end + 4] != b"\0\1":
        return None  # class IN only
    if zone.dnssec is not None or zone.expired:
        return None
    # One label below the zone's origin is the usual case: no loop over the labels then.
    rel = (name[1:position],) if position == name[0] + 1 else _labels(name, position)
    qtype = int.from_bytes(query[end : end + 2], "big")
    return _located((zone, rel + zone.key, rel, qtype, zone.node_at(rel)))


def zone_of(name: bytes, zones: dict[bytes, Zone]) -> Zone | None:
    """Return the closest enclosing zone of a name in wire form, case-folded, from the
    catalog's zones by wire name (the longest ending of the name that is a zone's origin);
    None when no zone of ours holds it."""
    return closest(name, zones)[0]


def closest(name: bytes, zones: dict[bytes, Zone]) -> tuple[Zone | None, int]:
    """Return zone_of's zone and where its origin starts in name (None, 0 for none): past
    the first label (name[0] + 1) for a name right below the origin, which then is no zone's
    origin itself. Bytes that are not a name (AnswerMemo.get's, unchecked) find a zone past
    labels the caller checks, or none: (None, -1) when a length runs past their end.

    The name itself and the name past its first label are looked up first, the usual case
    of a name in our zones; then a name whose labels after the first are those of a name
    found outside every zone before (zones' outside, a catalog's: catalog.WireZones) is
    outside them too, without a lookup of the rest (the names missed at once share a few
    parents: a zone's random subdomains, its hosts)."""
    zone = zones.get(name)
    if zone is not None:
        return zone, 0
    try:
        position = name[0] + 1
        if position == 1:
            return None, 0  # the root, no zone's origin
        parent = name[position:]
        zone = zones.get(parent)
        if zone is not None:
            return zone, position
        outside = getattr(zones, "outside", None)
        if outside is not None and parent in outside:
            return None, 0
        while True:  # (from the parent, looked up already)
            length = name[position]
            if not length:
                _remember(outside, parent)
                return None, 0
            position += length + 1
            zone = zones.get(name[position:])
            if zone is not None:
                break
    except IndexError:
        return None, -1  # not a name
    return zone, position


KEPT_OUTSIDE = 4096  # names remembered outside every zone of a catalog (then forgotten)


def _remember(outside: set[bytes] | None, parent: bytes) -> None:
    """Remember that no zone holds the name parent (a walk from it ended at the root), in
    the zones' own set (none for zones in a plain dict)."""
    if outside is None:
        return
    if len(outside) >= KEPT_OUTSIDE:
        outside.clear()
    outside.add(parent)


def wired_answer(
    query: bytes, end: int, found: Wired, zone: Zone, recursive: int, zones: dict[bytes, Zone]
) -> bytes | None:
    """Return the answer to a plain UDP question (ending at end) in zone (``zone_of``'s
    among zones, the catalog's by wire name) for an RRset the zone precomputed when it was
    built (found: ``Zone.wired_at`` the question's name case-folded, type and class), as
    ``owned_answer`` or, through a CNAME, ``_alias_written`` writes it (RA set if recursive,
    1 or 0); None for a question not of that form.

    A dict lookup found the answer records, another finds the header and OPT record a query
    of this form gets: no node, no Records and nothing else of the zone's is read, which
    costs more than the Python (memory a question for a name not asked for a while has to
    fetch).
    """
    if zone.dnssec is not None or zone.expired:
        return None
    form = query[2:12] + query[end + 4 :]
    plain = _forms.get(form)
    if plain is None:
        plain = _plain_form(query, end, form)
        if plain is None:
            return None
    limit, flags, arcount, opt = plain
    question = query[12 : end + 4]
    if type(found) is bytes:  # the counts and the records (see zone.Wired)
        if end - 2 + len(found) > limit:  # (end + 4 + the records' length)
            return None
        return b"".join((query[:2], flags[recursive], found[:6], arcount, question, found[6:], opt))
    counts, records, target, additional = found
    if target and zone_of(target, zones) is not zone:
        return None  # the CNAME's target is in another zone of ours (a closer one)
    if end + 4 + len(records) > limit:
        return None  # write_response decides what to leave out
    if additional:
        arcount = (additional + arcount[1]).to_bytes(2, "big")
    return b"".join((query[:2], flags[recursive], counts, arcount, question, records, opt))


# What the queries of one form (their header but for the ID, and what follows the question)
# get in a plain answer: room for the answers, the flags (without RA, with it), and the
# arcount with the OPT record; at most MAX_FORMS kinds (few clients differ in more than DO).
MAX_FORMS = 256
_forms: dict[bytes, tuple[int, tuple[bytes, bytes], bytes, bytes]] = {}


def _plain_form(query: bytes, end: int, form: bytes) -> tuple | None:
    """Work out and remember what the queries of query's form get (see _forms); None for a
    query that is not plain (``wire._plain_edns``)."""
    plain = wire._plain_edns(query, end)
    if plain is None:
        return None
    limit, opt = plain
    flags = wire.QR | wire.AA | (int.from_bytes(query[2:4], "big") & wire.ECHOED_FLAGS)
    variants = (flags.to_bytes(2, "big"), (flags | 0x80).to_bytes(2, "big"))  # RA
    # The additional count: one OPT record or none (the question's, answers' and
    # authority's counts come with the answer records).
    kept = limit, variants, b"\0\1" if opt else b"\0\0", opt
    if len(_forms) >= MAX_FORMS:
        _forms.clear()
    _forms[form] = kept
    return kept


def decided_by(located: Located) -> tuple[tuple, int] | None:
    """Return what decides the answer to the question when that is not its name
    (``Zone.decider``: a name error, a wildcard, a referral from above, no data), and how many
    bytes of the name vary between names answered so (see memo.Templates); None for any
    other question."""
    zone, _, rel, qtype, node = located
    found = zone.decider(rel, qtype, node) if rel or qtype != DS else None
    if found is None:
        return None
    cut = len(rel) - len(found[1])  # the labels that vary, each a length byte and its text
    # The zone itself stands for its origin: hashed by identity, and the templates are
    # dropped when any zone is replaced.
    return (zone, *found), cut + len(b"".join(rel[:cut]))


def owned_answer(query: bytes, end: int, located: Located) -> bytes | None:
    """Return the answer to query when it is one RRset at the question's name that
    ``wire.write_owned`` writes (an address, a text; no name to compress, no additional data),
    as ``answer`` would write it; None for any other question.

    The first answer to such a question costs a few dict lookups and one join, without
    dnspython: a zone whose names are each asked once in a while is answered at that cost.
    """
    node, qtype = located.node, located.qtype
    if node is None or qtype in NOT_OWNED or qtype >= 128 or CNAME in node:
        return None
    records = node.records(qtype)
    return None if records is None else wire.write_owned(query, end, records)


def data_answer(query: bytes, end: int, located: Located, catalog: ZoneCatalog) -> bytes | None:
    """Return the answer to query when it is the RRset asked at the question's name (with the
    addresses of the names an MX, NS or SRV record points at), or a CNAME there to a name
    outside our zones or to such an RRset in the same zone, as ``answer`` would write it;
    None for any other question (``decided_by``'s, a CNAME chain, DS, ANY, a big answer).

    The first answer to such a question costs a few dict lookups and MessageWriter, without
    dnspython (answer() costs several times that); a CNAME to an RRset of the zone, SRV
    records with one target and one MX record with addresses are spelled out without
    MessageWriter, as it would write them.
    """
    zone, node, qtype = located.zone, located.node, located.qtype
    if node is None or qtype in NOT_DATA or qtype >= 128:
        return None
    try:
        if CNAME in node and qtype != CNAME:
            return _alias(query, end, located, node.records(CNAME), catalog)
        records = node.records(qtype)
        if records is None:
            return None  # no data: decided_by's
        additional = zone.additional(records)
        one_target = additional and all(at is additional[0][0] for at, _ in additional)
        if qtype == dns.rdatatype.SRV and one_target:
            return _srv_written(query, end, located.labels, records, additional)
        if qtype == dns.rdatatype.MX and one_target and len(records) == 1:
            return _mx_written(query, end, located.labels, records, additional)
        question = labels_at(query, 12)[0]
        return _write(query, end, question, [(question, records)], additional)
    except IndexError:
        return None  # damaged rdata: answer() says SERVFAIL, and logs it


def _alias(
    query: bytes, end: int, located: Located, cname: Records, catalog: ZoneCatalog
) -> bytes | None:
    """Return the answer to a question for a name holding a CNAME (see data_answer)."""
    if len(cname) != 1:
        return None
    target, used = labels_at(cname.wires[0], 0)
    if used != len(cname.wires[0]):
        return None
    zone = located.zone
    folded = tuple(map(bytes.lower, target))
    target_zone = catalog.find_key(folded)
    if target_zone is None or folded == located.labels:
        # The chain leaves our zones, or loops at once: the CNAME is the answer.
        question = labels_at(query, 12)[0]
        return _write(query, end, question, [(question, cname)], [])
    if target_zone is not zone:
        return None  # the chain goes on in another zone
    node = zone.node_at(folded[: len(folded) - len(zone.origin.labels)])
    if node is None or CNAME in node:
        return None
    records = node.records(located.qtype)
    if records is None:
        return None
    if records.rdtype not in ADDITIONAL_TARGET and records.rdtype not in COMPRESSIBLE:
        # Copied as they are: no name inside to compress (a PTR's or SOA's is, below).
        return _alias_written(query, end, located.labels, cname, target, folded, records)
    question = labels_at(query, 12)[0]
    answer = [(question, cname), (target, records)]
    return _write(query, end, question, answer, zone.additional(records))


def _alias_written(
    query: bytes, end: int, asked: Key, cname: Records, target: Labels, folded: Key,
    records: Records,
) -> bytes | None:  # fmt: skip
    """Return what ``_write`` writes for the CNAME at the question's name (asked, case-folded)
    and the RRset at its target (folded: case-folded) with no additional data, spelled out
    without MessageWriter (a first such answer costs a third less): the target compressed
    against the question as MessageWriter compresses it, the RRset's owners pointing at the
    target."""
    plain = wire._plain_edns(query, end)
    if plain is None or len(target) < 2:
        return None  # not plain, or an alias to the root (its owners are not compressed)
    limit, opt = plain
    # The CNAME's rdata: after the question, its owner and fixed fields.
    name, at = compressed(asked, end, target, folded, end + 16)
    pointer = (0xC000 | at).to_bytes(2, "big")
    fixed = wire.RR_TYPE_TTL.pack(records.rdtype, wire.IN, records.ttl)
    rrset = b"".join(
        pointer + fixed + len(rdata).to_bytes(2, "big") + rdata for rdata in records.wires
    )
    alias = b"\xc0\x0c" + wire.RR_TYPE_TTL.pack(CNAME, wire.IN, cname.ttl)
    alias += len(name).to_bytes(2, "big") + name
    if end + 4 + len(alias) + len(rrset) > limit:
        return None  # write_response decides what to leave out
    return _finish(query, end, 1 + len(records), [alias, rrset], 0, opt)


def _srv_written(
    query: bytes, end: int, asked: Key, records: Records,
    additional: list[tuple[Labels, Records]],
) -> bytes | None:  # fmt: skip
    """Return what ``_write`` writes for SRV records at the question's name (asked,
    case-folded) whose one target has these address RRsets, spelled out without
    MessageWriter: SRV names are not compressed (RFC 2782), so the answer's owners alone
    point at the question, and the addresses' owners at the target, written once."""
    plain = wire._plain_edns(query, end)
    if plain is None or len(additional[0][0]) < 2:
        return None
    limit, opt = plain
    written = srv_written(asked, end, records, additional, limit)
    if written is None:
        return None  # write_response decides what to leave out
    parts, count = written
    return _finish(query, end, len(records), parts, count, opt)


def _mx_written(
    query: bytes, end: int, asked: Key, records: Records,
    additional: list[tuple[Labels, Records]],
) -> bytes | None:  # fmt: skip
    """Return what ``_write`` writes for one MX record at the question's name (asked,
    case-folded) whose exchange has these address RRsets, spelled out without MessageWriter:
    the exchange compressed against the question, the addresses' owners all pointing at it."""
    plain = wire._plain_edns(query, end)
    rdata = records.wires[0]
    exchange, used = labels_at(rdata, 2)
    if plain is None or len(exchange) < 2 or used != len(rdata):
        return None  # not plain, an exchange at the root, or bytes after the name
    limit, opt = plain
    # The exchange follows the answer's owner (a pointer), type, class, TTL, rdata length
    # and preference.
    folded = tuple(map(bytes.lower, exchange))
    name, full = compressed(asked, end, exchange, folded, end + 18)
    rdata = rdata[:2] + name
    fixed = wire.RR_TYPE_TTL.pack(records.rdtype, wire.IN, records.ttl)
    answer = b"\xc0\x0c" + fixed + len(rdata).to_bytes(2, "big") + rdata
    size = end + 4 + len(answer)
    if size > limit:
        return None  # write_response decides what to leave out
    pointer = (0xC000 | full).to_bytes(2, "big")
    parts, count = [answer], 0
    for _, found in additional:
        fixed = wire.RR_TYPE_TTL.pack(found.rdtype, wire.IN, found.ttl)
        rrset = b"".join(
            pointer + fixed + len(address).to_bytes(2, "big") + address for address in found.wires
        )
        if size + len(rrset) > limit:
            continue  # optional: left out if too big
        parts.append(rrset)
        size += len(rrset)
        count += len(found)
    return _finish(query, end, 1, parts, count, opt)


def _finish(
    query: bytes, end: int, answers: int, parts: list[bytes], additional: int, opt: bytes
) -> bytes:
    """Return the NOERROR response to a plain query made of the records in parts."""
    flags = wire.QR | wire.AA | (int.from_bytes(query[2:4], "big") & wire.ECHOED_FLAGS)
    header = wire.HEADER.pack(
        int.from_bytes(query[:2], "big"), flags, 1, answers, 0, additional + (1 if opt else 0)
    )
    return b"".join((header, query[12 : end + 4], *parts, opt))


def _write(
    query: bytes, end: int, question: Labels, answer: list[tuple[Labels, Records]],
    additional: list[tuple[Labels, Records]],
) -> bytes | None:  # fmt: skip
    """Return the NOERROR response to a plain UDP query (see ``wire.write_owned``) with these
    answer and additional RRsets, byte for byte as ``wire.write_response`` writes it; None for
    any other query, or when the answer does not fit."""
    plain = wire._plain_edns(query, end)
    if plain is None:
        return None
    limit, opt = plain
    writer = MessageWriter(query[12 : end + 4], Owner(question), limit)
    for owner, records in answer:
        if not writer.add(wire.ANSWER, Owner(owner), records):
            return None  # write_response decides what to leave out
    for owner, records in additional:
        writer.add(wire.ADDITIONAL, Owner(owner), records)  # optional: left out if too big
    if opt:
        writer.buffer += opt
        writer.counts[3] += 1
    flags = wire.QR | wire.AA | (int.from_bytes(query[2:4], "big") & wire.ECHOED_FLAGS)
    return writer.finish(int.from_bytes(query[:2], "big"), flags)


def _labels(name: bytes, stop: int) -> tuple[bytes, ...]:
    """Return the labels of a plain name in wire form before the label at stop."""
    labels: list[bytes] = []
    append = labels.append
    position = 0
    while position < stop:
        start = position + 1
        position = start + name[position]
        append(name[start:position])
    return tuple(labels)


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
    if zone.expired:
        return Sections(error=wire.SERVFAIL)  # as BIND answers for an expired secondary zone
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

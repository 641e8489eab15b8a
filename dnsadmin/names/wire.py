"""Query parsing (strict where RFC 1035 and RFC 6891 ask for FORMERR), response sizing and
writing: the one place that reads a question and the one that turns sections into bytes.

dnspython's full message parser is not used for queries: it is several times slower than
reading a header and a question, and it would not tell FORMERR from NOTIMP the way a server
must.
"""

from __future__ import annotations

import functools
import re
import struct
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import dns.exception
import dns.name
import dns.rdata
import dns.rdatatype
import dns.rrset

from .answer import Sections
from .render import MessageWriter, Records, labels_at, write_name

HEADER = struct.Struct("!HHHHHH")
RR_HEADER = struct.Struct("!HHIH")
QUESTION = struct.Struct("!HH")
RR_TYPE_TTL = struct.Struct("!HHI")
PLAIN_OPT = struct.Struct("!BHHIH")  # owner (the root), type, payload size, TTL, rdata length
PLAIN_TAIL = struct.Struct("!HHBHHIH")  # a question's type and class, then PLAIN_OPT
ID_FLAGS = struct.Struct("!HH")
IN = 1
OPT = 41  # a plain int, not an attribute of dns.rdatatype looked up for every miss

QR = 0x8000
AA = 0x0400
TC = 0x0200
ECHOED_FLAGS = 0x7910  # opcode, RD and CD are copied from the query (RFC 1035, RFC 6840 5.9)
DO = 0x8000
VERSION_DO = 0xFF0000 | DO  # an OPT record's EDNS version and DNSSEC OK, in its TTL

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, YXDOMAIN = 0, 1, 2, 3, 4, 5, 6
NOTAUTH = 9
BADVERS = 16

OUR_PAYLOAD = 1232  # the DNS Flag Day 2020 size, which avoids IP fragmentation
MIN_PAYLOAD = 512
TCP_LIMIT = 65535
OPT_SIZE = 11  # root owner, type, class, TTL, empty rdata

ANSWER, AUTHORITY, ADDITIONAL = 1, 2, 3

Owned = tuple[dns.name.Name, Records]


@dataclass(slots=True)
class Query:
    """A parsed query; rcode is non-zero when it must be answered with that error."""

    id: int
    flags: int
    qname: dns.name.Name | None = None
    qtype: int = 0
    qclass: int = 0
    edns: int = -1  # EDNS version, -1 when the query has no OPT record
    ednsflags: int = 0
    payload: int = MIN_PAYLOAD
    rcode: int = NOERROR
    question: bytes = b""  # as received, to echo the name's exact case (0x20)

    def limit(self, tcp: bool) -> int:
        """Return the size the response may take: a TCP message's, or the UDP payload size.

        RFC 6891 6.2.5: UDP sizes under 512 mean 512; we never send more than we advertise.
        """
        if tcp:
            return TCP_LIMIT
        if self.edns < 0:
            return MIN_PAYLOAD
        return min(max(self.payload, MIN_PAYLOAD), OUR_PAYLOAD)


def parse_query(wire: bytes) -> Query | None:
    """Return the query in wire, or None when nothing must be sent back (RFC 1035 4.1.1)."""
    if len(wire) < 12:
        return None
    qid, flags, qdcount, ancount, nscount, arcount = HEADER.unpack_from(wire)
    if flags & QR:
        return None
    query = Query(qid, flags)
    try:
        position = _read_question(wire, query) if qdcount else 12
    except (dns.exception.DNSException, struct.error, ValueError, IndexError):
        query.rcode = FORMERR
        return query
    if qdcount != 1:
        query.qname = None  # only a single question can be echoed unambiguously
    if (flags >> 11) & 0xF:
        query.rcode = NOTIMP
    elif qdcount != 1:
        query.rcode = FORMERR
    else:
        query.rcode = _read_records(wire, position, ancount + nscount, arcount, query)
    return query


def _read_question(wire: bytes, query: Query) -> int:
    qname, position = read_name(wire, 12)
    query.qtype, query.qclass = QUESTION.unpack_from(wire, position)
    query.qname = qname
    if position - 12 == sum(len(label) + 1 for label in qname.labels):
        query.question = wire[12 : position + 4]
    else:
        # A compression pointer in the question: echo it written out in full.
        query.question = qname.to_wire() + wire[position : position + 4]
    return position + 4


KEPT_PARENTS = 4096
_parents: dict[bytes, tuple[bytes, ...]] = {}  # the labels of names by their wire form


def question_name(query: bytes, end: int) -> dns.name.Name | None:
    """Return the Name of the plain name of query's question (ending at end, as question_end
    tells: labels of 63 bytes at most, no pointer), None past 255 bytes; without dnspython
    checking the labels again (2 µs of every cache miss): what Name.__init__ sets.

    The labels after the first are those of its parent, kept by its wire form: the names
    missed at once share a few parents (a zone's random subdomains, its hosts), and reading
    every label of each cost a cache miss 3 µs. end must be question_end's: known_name takes
    every parent kept for a plain name."""
    if end - 12 > 255:
        return None
    size = query[12]
    if not size:
        labels: tuple[bytes, ...] = (b"",)  # the root
    else:
        after = 13 + size
        parent = _parents.get(query[after:end])
        if parent is None:
            if len(_parents) >= KEPT_PARENTS:
                _parents.clear()
            parent = _parents[query[after:end]] = labels_at(query, after)[0]
        labels = (query[13:after],) + parent
    name = _new_name()
    _set(name, "labels", labels)  # past the immutable Name's guard, as __init__
    return name


_new_name = functools.partial(object.__new__, dns.name.Name)  # (no Python frame: every miss)
_set = object.__setattr__


def known_name(data: bytes, start: int, end: int) -> bool:
    """Tell whether the bytes of data from start to end are a plain name (labels of 63 bytes
    at most, the root's last, as memo.question_end reads them) from its first label alone:
    a length byte of 63 at most, then a name question_name has read (one of its parents, all
    plain names: it is given the end question_end found). False when it cannot be told so
    (a parent not kept, or in another case: then walk the labels)."""
    first = data[start]
    return first < 64 and data[start + 1 + first : end] in _parents


def read_name(wire: bytes, position: int) -> tuple[dns.name.Name, int]:
    """Return the name at position and the position after it.

    Raise DNSException or IndexError if it is malformed. Plain labels are read here, twice as
    fast as dnspython's parser; names with compression pointers by _decompress.
    """
    labels, end = _plain_labels(wire, position)
    if labels is None:
        return _decompress(wire, position)
    labels.append(b"")
    return dns.name.Name(labels), end


def _plain_labels(wire: bytes, position: int) -> tuple[list[bytes] | None, int]:
    """Return the labels of the name at position (the root's empty label left out) and the
    position after it; None for the labels when the name has a compression pointer."""
    labels = []
    while True:
        length = wire[position]
        if length == 0:
            return labels, position + 1
        if length > 63:
            if length >= 0xC0:
                return None, position
            raise dns.name.BadLabelType
        labels.append(wire[position + 1 : position + 1 + length])
        position += length + 1


def _decompress(wire: bytes, position: int) -> tuple[dns.name.Name, int]:
    """Return the name at position, which has compression pointers, and the position after it."""
    labels, end = read_labels(wire, position)
    return dns.name.Name(labels), end


def read_labels(wire: bytes, position: int) -> tuple[tuple[bytes, ...], int]:
    """Return the labels of the name at position (the root's empty label last) and the
    position after it.

    Every pointer must point before the last one followed (so the chain cannot loop), but
    their number is not limited: BIND answers a query whose name takes 200 hops, where
    dnspython's reader gives up after 16. A label running past the end of the message
    raises IndexError (reading the byte after it), a name longer than 255 bytes
    NameTooLong as soon as its labels pass them (a message of 64 KB holds 32K labels).
    """
    labels: list[bytes] = []
    end = 0
    lowest = position
    size = 1  # the name's wire length so far, the root's byte included
    while length := wire[position]:
        if length < 0x40:
            size += length + 1
            if size > 255:
                raise dns.name.NameTooLong
            labels.append(wire[position + 1 : position + 1 + length])
            position += length + 1
        elif length >= 0xC0:
            target = (length & 0x3F) << 8 | wire[position + 1]
            end = end or position + 2
            if target >= lowest:
                raise dns.name.BadPointer
            lowest = position = target
        else:
            raise dns.name.BadLabelType
    labels.append(b"")
    return tuple(labels), end or position + 1


def question_type(query: bytes) -> int:
    """Return the type asked in query, without building its name; 0 when it is unclear.

    Lets the TCP listener route zone transfers without parsing every query twice.
    """
    try:
        labels, end = _plain_labels(query, 12)
    except (IndexError, dns.exception.DNSException):
        return 0
    if labels is None or end + 2 > len(query):
        return 0  # a pointer in the question: not plain, let the full parser judge
    return int.from_bytes(query[end : end + 2], "big")


PLAIN_LABEL = re.compile(rb"[A-Za-z0-9_-]+")
PLAIN_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def question_text(query: bytes) -> tuple[str, int]:
    """Return the name and type asked in query as text, for logging; ("", 0) if unreadable.

    Plain names (letters, digits, hyphens, underscores) are written out here, five times
    faster than through dnspython, which the rest (escapes, compression) still goes to.
    """
    try:
        labels, end = _plain_labels(query, 12)
        joined = None if labels is None else b".".join(labels)
        if joined is not None and _plain_text(joined, len(labels)):
            name = joined.decode() + "." if labels else "."
        else:
            qname, end = read_name(query, 12)
            name = qname.to_text()
    except (IndexError, dns.exception.DNSException):
        return "", 0
    if end + 2 > len(query):
        return "", 0
    return name, int.from_bytes(query[end : end + 2], "big")


def _plain_text(joined: bytes, labels: int) -> bool:
    """Tell whether the labels joined by dots are all plain (PLAIN_LABEL): what is left with
    the letters, digits, "_" and "-" taken out is the dots joining them alone (one pass in C,
    not a regular expression per label)."""
    return len(joined.translate(None, PLAIN_BYTES)) == max(labels - 1, 0)


def _read_records(wire: bytes, position: int, others: int, arcount: int, query: Query) -> int:
    """Walk the remaining records; return the rcode the query deserves (0 if well formed)."""
    try:
        for _ in range(others):
            position, rdtype, _ = _skip_record(wire, position)
            if rdtype == dns.rdatatype.OPT:
                return FORMERR
        for _ in range(arcount):
            start = position
            position, rdtype, owner_is_root = _skip_record(wire, position)
            if rdtype == dns.rdatatype.OPT:
                if query.edns >= 0 or not owner_is_root:
                    return FORMERR  # RFC 6891 6.1.1: one OPT, owned by the root
                _read_opt(wire, start, position, query)
    except (dns.exception.DNSException, struct.error, ValueError, IndexError):
        return FORMERR
    # Bytes after the last record are ignored, as BIND ignores them.
    return BADVERS if query.edns > 0 else NOERROR


def _skip_record(wire: bytes, position: int) -> tuple[int, int, bool]:
    # The owner's labels, not a Name: most queries carry an OPT record, and a Name made and
    # compared with the root's (dnspython) cost a tenth of a cache miss.
    owner, position = read_labels(wire, position)
    rdtype, _, _, rdlength = RR_HEADER.unpack_from(wire, position)
    end = position + 10 + rdlength
    if end > len(wire):
        raise ValueError("record data runs past the end of the message")
    return end, rdtype, owner == ROOT_LABELS


ROOT_LABELS = (b"",)


def _read_opt(wire: bytes, start: int, end: int, query: Query) -> None:
    position = read_labels(wire, start)[1]  # the root, maybe written as a pointer (as BIND takes)
    _, payload, ttl, _ = RR_HEADER.unpack_from(wire, position)
    query.payload = payload
    query.edns = (ttl >> 16) & 0xFF
    query.ednsflags = ttl & 0xFFFF
    position += 10
    while position < end:
        # Options are checked for framing only: unknown options are ignored, never echoed.
        _, length = QUESTION.unpack_from(wire, position)
        position += 4 + length
    if position != end:
        raise ValueError("EDNS option runs past its OPT record")


def write_response(query: Query, sections: Sections, tcp: bool) -> bytes:
    """Return the response to query, truncated to its limit per RFC 2181 9 and RFC 9471.

    The sections hold ``(owner, Records)`` pairs, as zones keep them (see ``owned``).
    """
    writer = MessageWriter(query.question, query.qname, query.limit(tcp))
    if query.edns >= 0:
        writer.reserve(OPT_SIZE)
    truncated = _add_sections(writer, sections)
    rcode = sections.rcode
    if query.edns >= 0:
        writer.add_opt(OUR_PAYLOAD, ((rcode >> 4) << 24) | (query.ednsflags & DO))
    flags = QR | (query.flags & ECHOED_FLAGS) | (rcode & 0xF)
    if sections.aa:
        flags |= AA
    if truncated:
        flags |= TC
    return writer.finish(query.id, flags)


def _add_sections(writer: MessageWriter, sections: Sections) -> bool:
    """Add whole RRsets while they fit; return True when something required was left out."""
    for section, rrsets in ((ANSWER, sections.answer), (AUTHORITY, sections.authority)):
        for owner, records in rrsets:
            if not writer.add(section, owner, records):
                return True
    truncated = False
    for (owner, records), required in sections.additional:
        if not writer.add(ADDITIONAL, owner, records):
            truncated = truncated or required
    return truncated


def write_owned(query: bytes, end: int, records: Records, flags: int = AA) -> bytes | None:
    """Return the answer to a plain UDP query (a question of one plain name ending at end, at
    most an OPT record without options) made of one RRset at the question's name with no name
    in its rdata, byte for byte as write_response writes it (the owners point at the
    question), with flags (AA, ours; RA, 0x80, the cache's); None for any other query, or
    when the RRset does not fit."""
    plain = _plain_edns(query, end)
    if plain is None:
        return None
    limit, opt = plain
    answer = _owned_records(records)
    if end + 4 + len(answer) > limit:
        return None  # write_response decides what to leave out
    flags |= QR | (int.from_bytes(query[2:4], "big") & ECHOED_FLAGS)
    header = HEADER.pack(
        int.from_bytes(query[:2], "big"), flags, 1, len(records.wires), 0, 1 if opt else 0
    )
    return b"".join((header, query[12 : end + 4], answer, opt))


class WireRRset(Protocol):
    """An RRset's type, TTL and rdatas in wire form, owner aside: Records, or what a
    resolution found (recursive.Found), written as they are."""

    rdtype: int
    ttl: int
    wires: tuple[bytes, ...]


def write_answer(query: Query, records: WireRRset, flags: int) -> bytes | None:
    """Return what write_owned returns for a plain UDP query that plain_query read, without
    reading the query again."""
    answer = _owned_records(records)
    edns = query.edns >= 0
    limit = min(max(query.payload, MIN_PAYLOAD), OUR_PAYLOAD) - OPT_SIZE if edns else MIN_PAYLOAD
    if 12 + len(query.question) + len(answer) > limit:
        return None  # write_response decides what to leave out
    opt = PLAIN_OPT.pack(0, OPT, OUR_PAYLOAD, query.ednsflags & DO, 0) if edns else b""
    flags |= QR | (query.flags & ECHOED_FLAGS)
    header = HEADER.pack(query.id, flags, 1, len(records.wires), 0, int(edns))
    return b"".join((header, query.question, answer, opt))


def _owned_records(records: WireRRset) -> bytes:
    """Return the records of an RRset at the question's name, their owners pointing at it."""
    fixed = RR_TYPE_TTL.pack(records.rdtype, IN, records.ttl)
    wires = records.wires
    if len(wires) == 1:  # most RRsets: no generator to run
        return b"\xc0\x0c" + fixed + len(wires[0]).to_bytes(2, "big") + wires[0]
    return b"".join(b"\xc0\x0c" + fixed + len(rdata).to_bytes(2, "big") + rdata for rdata in wires)


class _Owner(NamedTuple):
    """A name as MessageWriter reads owners: its labels, the root's empty label last."""

    labels: tuple[bytes, ...]


def write_alias(
    query: bytes, end: int, cname: Records, target: tuple[bytes, ...], records: Records
) -> bytes | None:
    """Return the answer to a plain UDP query (as write_owned takes them) made of the CNAME at
    the question's name and the RRset at its target, byte for byte as write_response writes
    it; None for any other query, or when they do not fit."""
    plain = _plain_edns(query, end)
    if plain is None:
        return None
    limit, opt = plain
    qname = _Owner(labels_at(query, 12)[0])
    writer = MessageWriter(query[12 : end + 4], qname, limit)
    if not (writer.add(ANSWER, qname, cname) and writer.add(ANSWER, _Owner(target), records)):
        return None  # write_response decides what to leave out
    writer.buffer += opt
    writer.counts[3] = 1 if opt else 0
    flags = QR | AA | (int.from_bytes(query[2:4], "big") & ECHOED_FLAGS)
    return writer.finish(int.from_bytes(query[:2], "big"), flags)


def plain_query(query: bytes, end: int) -> Query | None:
    """Return what parse_query makes of a plain query (as _plain_edns takes them) without
    DNSSEC OK, whose question (one plain name ending at end) is of class IN, but its qname,
    left to the caller; None for any other."""
    if query[2] & 0xF8:
        return None  # a response, an opcode
    extra = len(query) - end
    if extra == 4 + OPT_SIZE and query[4:12] == b"\0\1\0\0\0\0\0\1":
        # The question's type and class and the OPT record, in one read.
        qtype, qclass, owner, rdtype, payload, ttl, rdlength = PLAIN_TAIL.unpack_from(query, end)
        if qclass != IN or owner or rdtype != OPT or rdlength or ttl & VERSION_DO:
            return None  # options, a version we do not speak (BADVERS), DNSSEC OK
        edns = 0
    elif extra == 4 and query[4:12] == b"\0\1\0\0\0\0\0\0":
        qtype, qclass = QUESTION.unpack_from(query, end)
        if qclass != IN:
            return None
        edns, ttl, payload = -1, 0, MIN_PAYLOAD
    else:
        return None  # another class (or none: the query cut short), other records
    qid, flags = ID_FLAGS.unpack_from(query)
    question = query[12 : end + 4]
    return Query(qid, flags, None, qtype, IN, edns, ttl & 0xFFFF, payload, NOERROR, question)


def _plain_edns(query: bytes, end: int) -> tuple[int, bytes] | None:
    """Return the room for the answers to a plain query and the OPT record to end the response
    with (none without EDNS); None for a query that is not plain: a response, an opcode
    other than QUERY, other records, EDNS options or a version we do not speak (BADVERS)."""
    if int.from_bytes(query[2:4], "big") & 0xF800:
        return None
    extra = len(query) - end - 4
    if extra == 0 and query[4:12] == b"\0\1\0\0\0\0\0\0":
        return MIN_PAYLOAD, b""
    if extra != OPT_SIZE or query[4:12] != b"\0\1\0\0\0\0\0\1" or query[end + 4]:
        return None
    _, rdtype, payload, ttl, rdlength = PLAIN_OPT.unpack_from(query, end + 4)
    if rdtype != dns.rdatatype.OPT or rdlength or (ttl >> 16) & 0xFF:
        return None
    limit = min(max(payload, MIN_PAYLOAD), OUR_PAYLOAD) - OPT_SIZE
    return limit, PLAIN_OPT.pack(0, dns.rdatatype.OPT, OUR_PAYLOAD, ttl & DO, 0)


def write_error(query: Query, rcode: int, tcp: bool) -> bytes:
    """Return a response carrying only the question (when there is one) and an rcode."""
    return write_response(query, Sections(error=rcode), tcp)


# The uncompressed wire forms of records read from upstream replies (upstream.Reply), by
# the identity of their rdata objects (each entry holds its rdata, so the id stays its own):
# an answer made of them copies those bytes instead of dnspython rendering every record again,
# which made a Name object per label of every name in them (a tenth of a cache miss).
KEPT_WIRES = 16384
_wires: dict[int, tuple[object, bytes]] = {}


def keep_wire(rdata: object, data: bytes) -> None:
    """Remember data as the uncompressed wire form of rdata (rdata.to_wire() exactly)."""
    if len(_wires) >= KEPT_WIRES:
        _wires.clear()
    _wires[id(rdata)] = (rdata, data)


def rdata_wire(rdata: dns.rdata.Rdata) -> bytes:
    """Return the uncompressed wire form of rdata: the bytes kept for it, else rendered."""
    kept = _wires.get(id(rdata))
    if kept is not None and kept[0] is rdata:
        return kept[1]
    return rdata.to_wire()


def owned(rrset: dns.rrset.RRset) -> Owned:
    """Return an RRset as the writer takes it: owner, and rdatas in uncompressed wire form."""
    return rrset.name, Records(rrset.rdtype, rrset.ttl, tuple(map(rdata_wire, rrset)))


def write_rrsets(query: Query, sections: Sections, tcp: bool) -> bytes:
    """Return the response to query made of sections holding dnspython RRsets (the cache's,
    the hosts file's, recursion's); their additional section is not sent."""
    data = _write_data(query, sections, tcp) or _write_negative(query, sections, tcp)
    if data is not None:
        return data
    answer = [owned(rrset) for rrset in sections.answer]
    authority = [owned(rrset) for rrset in sections.authority]
    written = Sections(sections.kind, answer, authority, error=sections.error)
    return write_response(query, written, tcp)


NAMELESS = frozenset({dns.rdatatype.A, dns.rdatatype.TXT, dns.rdatatype.AAAA})


def _write_negative(query: Query, sections: Sections, tcp: bool) -> bytes | None:
    """Return the negative answer made of one SOA record in the authority section and
    nothing else (an NXDOMAIN or NODATA from the cache or upstream), byte for byte as
    write_response writes it, without a MessageWriter (the record as _soa_record writes
    it); None for any other response, or when it does not fit."""
    if sections.answer or len(sections.authority) != 1 or query.qname is None:
        return None
    rrset = sections.authority[0]
    if rrset.rdtype != dns.rdatatype.SOA or len(rrset) != 1 or sections.error:
        return None
    return write_negative(query, sections.rcode, rrset, tcp)


def write_negative(
    query: Query, rcode: int, rrset: dns.rrset.RRset, tcp: bool, flags: int = 0
) -> bytes | None:
    """Return the negative answer to query (its qname set) with rcode (NXDOMAIN, or NOERROR
    for NODATA) made of rrset, one SOA record, as _write_negative writes it, with flags
    (RA, 0x80, for the cache's) besides; None when it does not fit."""
    head, tail = _soa_record(query.qname.labels, rrset)
    edns = query.edns >= 0
    size = 16 + len(query.question) + len(head) + len(tail) + (OPT_SIZE if edns else 0)
    if size > query.limit(tcp):
        return None  # write_response decides what to leave out
    opt = b""
    if edns:
        ttl = ((rcode >> 4) << 24) | (query.ednsflags & DO)
        opt = PLAIN_OPT.pack(0, OPT, OUR_PAYLOAD, ttl, 0)
    flags |= QR | (query.flags & ECHOED_FLAGS) | (rcode & 0xF)
    header = HEADER.pack(query.id, flags, 1, 0, 1, int(edns))
    record_ttl = rrset.ttl.to_bytes(4, "big")
    return b"".join((header, query.question, head, record_ttl, tail, opt))


KEPT_SOA_RECORDS = 4096
_soa_records: dict[tuple, tuple[object, bytes, bytes]] = {}
# The same records by what decides them for the questions whose first label is not compared
# with one of the record's names (_question_free): the record, its owner, the question's
# labels but the first, and the first's length; with the labels (case-folded) a first label
# must not be, so that no name of the record ends in the whole question's name.
_soa_quick: dict[tuple, tuple[object, bytes, bytes, frozenset[bytes]]] = {}


def _soa_record(labels: tuple[bytes, ...], rrset: dns.rrset.RRset) -> tuple[bytes, bytes]:
    """Return the SOA record of a negative answer to a question of the name of labels, as
    write_response writes it after the question, but its TTL: its owner, type and class,
    then its rdata's length and rdata; its names compressed as MessageWriter compresses them
    (against the question's suffixes, then those written before).

    Made once for each record (by identity: replies share it, upstream.Reply) and each way
    a question's name shares endings with the record's three names, which with the name's
    length decide every pointer: the questions of one zone's negative answers, unique as
    they may be, share a few. Found first by the question's name but its first label and
    that label's length (_soa_quick), without comparing endings, for most of them.
    """
    soa = next(iter(rrset))
    owner = rrset.name.labels
    quick = (id(soa), owner, labels[1:], len(labels[0]))
    kept = _soa_quick.get(quick)
    if kept is not None and kept[0] is soa and labels[0].lower() not in kept[3]:
        return kept[1], kept[2]
    folded = tuple(map(bytes.lower, labels))
    mname, rname, numbers = _soa_names(soa)
    owned = tuple(map(bytes.lower, owner))
    size = sum(map(len, labels)) + len(labels)  # the name's wire length
    key = (
        id(soa), owner, size, _common(owned, folded), _common(mname[1], folded),
        _common(rname[1], folded),
    )  # fmt: skip
    kept = _soa_records.get(key)
    if kept is not None and kept[0] is soa:
        head, tail = kept[1], kept[2]
    else:
        head, tail = _write_soa_record(labels, folded, size, owner, owned, mname, rname, numbers)
        if len(_soa_records) >= KEPT_SOA_RECORDS:
            _soa_records.clear()
        _soa_records[key] = (soa, head, tail)
    firsts = _question_free(folded, (owned, mname[1], rname[1]))
    if firsts is not None:
        if len(_soa_quick) >= KEPT_SOA_RECORDS:
            _soa_quick.clear()
        _soa_quick[quick] = (soa, head, tail, firsts)
    return head, tail


def _question_free(folded: tuple[bytes, ...], names: tuple) -> frozenset[bytes] | None:
    """Return the labels a question's first label must not be for the names (case-folded)
    to share with it the endings they share with the question of folded's labels, whatever
    its first label: the label each name that ends in all of the question's labels but the
    first has before them; None when one ends in the whole question (its first label
    decides)."""
    size = len(folded)
    firsts = set()
    for name in names:
        if len(name) >= size and name[len(name) + 1 - size :] == folded[1:]:
            if name[-size] == folded[0]:
                return None
            firsts.add(name[-size])
    return frozenset(firsts)


def _write_soa_record(
    labels: tuple[bytes, ...], folded: tuple[bytes, ...], size: int, owner: tuple[bytes, ...],
    owned: tuple[bytes, ...], mname: Split, rname: Split, numbers: bytes,
) -> tuple[bytes, bytes]:  # fmt: skip
    """Return what _soa_record returns, written (folded: labels case-folded, size: their
    wire length; owned: owner case-folded)."""
    suffixes: dict[tuple[bytes, ...], int] = {}
    offset = 12
    for i in range(len(labels) - 1):
        suffixes.setdefault(folded[i:], offset)
        offset += len(labels[i]) + 1
    start = 16 + size  # after the header and the question: only their length matters here
    buffer = bytearray(start)
    write_name(buffer, suffixes, owner, owned)
    buffer += QUESTION.pack(dns.rdatatype.SOA, IN)
    ttl = len(buffer)
    buffer += bytes(4)  # the TTL's place, for the offsets after it
    middle = len(buffer)
    buffer += b"\0\0"
    write_name(buffer, suffixes, *mname)
    write_name(buffer, suffixes, *rname)
    buffer += numbers
    buffer[middle : middle + 2] = (len(buffer) - middle - 2).to_bytes(2, "big")
    return bytes(buffer[start:ttl]), bytes(buffer[middle:])


def _common(name: tuple[bytes, ...], other: tuple[bytes, ...]) -> int:
    """Return how many labels two names (case-folded) end with alike, the root's included."""
    # Most often name is a zone's apex (or its server's name) and other a name in it: one
    # comparison tells whether other ends in name, or in all of name but its first label.
    size = len(name)
    if other[-size:] == name:
        return size
    if size > 1 and other[1 - size :] == name[1:]:
        return size - 1
    count = 0
    for mine, theirs in zip(reversed(name), reversed(other), strict=False):
        if mine != theirs:
            break
        count += 1
    return count


Split = tuple[tuple[bytes, ...], tuple[bytes, ...]]  # a name's labels, and them case-folded
KEPT_SOAS = 1024
_soas: dict[int, tuple[object, tuple[Split, Split, bytes]]] = {}


def _soa_names(soa: dns.rdata.Rdata) -> tuple[Split, Split, bytes]:
    """Return the SOA's two names (labels, folded) and the five numbers after them in wire
    form, by the identity of the rdata: the replies of one zone share one (upstream.Reply)."""
    kept = _soas.get(id(soa))
    if kept is not None and kept[0] is soa:
        return kept[1]
    data = rdata_wire(soa)
    mname, position = labels_at(data, 0)
    rname, position = labels_at(data, position)
    split = (
        (mname, tuple(map(bytes.lower, mname))),
        (rname, tuple(map(bytes.lower, rname))),
        data[position:],
    )
    if len(_soas) >= KEPT_SOAS:
        _soas.clear()
    _soas[id(soa)] = (soa, split)
    return split


def _write_data(query: Query, sections: Sections, tcp: bool) -> bytes | None:
    """Return the response made of one RRset at the question's name with no name in its
    rdata (an address, a text) and nothing else, byte for byte as write_response writes it
    (the owners point at the question), without a MessageWriter; None for any other, or
    when it does not fit."""
    if sections.authority or sections.rcode or len(sections.answer) != 1:
        return None
    rrset = sections.answer[0]
    name = rrset.name
    if rrset.rdtype not in NAMELESS or len(name) < 2:
        return None  # the root is written out, not pointed at
    if name is not query.qname and name != query.qname:
        return None  # (most often the question's own Name: no dnspython comparison)
    fixed = RR_TYPE_TTL.pack(rrset.rdtype, IN, rrset.ttl)
    records = b"".join(
        b"\xc0\x0c" + fixed + len(rdata).to_bytes(2, "big") + rdata
        for rdata in map(rdata_wire, rrset)
    )
    edns = query.edns >= 0
    if 12 + len(query.question) + len(records) + (OPT_SIZE if edns else 0) > query.limit(tcp):
        return None  # write_response decides what to leave out
    opt = (
        PLAIN_OPT.pack(0, dns.rdatatype.OPT, OUR_PAYLOAD, query.ednsflags & DO, 0) if edns else b""
    )
    header = HEADER.pack(query.id, QR | (query.flags & ECHOED_FLAGS), 1, len(rrset), 0, int(edns))
    return b"".join((header, query.question, records, opt))

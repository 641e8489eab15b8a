"""Writing DNS messages straight from stored rdata wire forms.

dnspython's Renderer re-encodes every rdata and hashes Name objects for compression, which made
an uncached answer cost over 100 microseconds. This writer copies the wire forms the zone keeps
and compresses names (RFC 1035 4.1.4) with a dict of case-folded label suffixes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import dns.name
import dns.rdatatype

HEADER = struct.Struct("!HHHHHH")
RR_HEADER = struct.Struct("!HHIH")
RR_FIXED = struct.Struct("!HHI")  # an RR header without its rdata length
POINTER_REACH = 0x4000  # a compression pointer has 14 bits of offset
IN = 1

# RFC 3597 4: only names inside RFC 1035 types may be compressed. Layout: (bytes before the
# first name, number of names); whatever follows the names is copied as is.
COMPRESSIBLE = {
    dns.rdatatype.NS: (0, 1),
    dns.rdatatype.CNAME: (0, 1),
    dns.rdatatype.PTR: (0, 1),
    dns.rdatatype.MX: (2, 1),
    dns.rdatatype.SOA: (0, 2),
}


@dataclass(frozen=True, slots=True)
class Records:
    """An RRset's type, TTL and rdatas in uncompressed wire form, owner aside."""

    rdtype: int
    ttl: int
    wires: tuple[bytes, ...]

    def __len__(self) -> int:
        return len(self.wires)


Labels = tuple[bytes, ...]
LENGTHS = tuple(bytes((length,)) for length in range(64))  # a label's length byte, by length


def labels_wire(labels: Iterable[bytes]) -> bytes:
    """Return labels as a name's wire form, uncompressed (ending in the root's zero byte
    only when labels do: the caller may add an origin's or a pointer)."""
    return b"".join([LENGTHS[len(label)] + label for label in labels])


class Owner(NamedTuple):
    """A name as MessageWriter reads it, made from labels alone (no dnspython Name to build):
    its labels, the root's empty label last."""

    labels: Labels


def labels_at(wire: bytes, position: int) -> tuple[Labels, int]:
    """Return the labels of the uncompressed name at position, and the position after it."""
    labels = []
    while True:
        length = wire[position]
        labels.append(wire[position + 1 : position + 1 + length])
        position += length + 1
        if length == 0:
            return tuple(labels), position


class MessageWriter:
    """One message being written: whole RRsets are added while they fit in limit."""

    def __init__(self, question: bytes, qname: dns.name.Name | None, limit: int) -> None:
        self.buffer = bytearray(12)
        self.limit = limit
        self.counts = [0, 0, 0, 0]
        self._suffixes: dict[Labels, int] = {}
        self._added: list[Labels] = []
        if qname is not None:
            self.buffer += question
            self.counts[0] = 1
            self._remember(qname.labels, 12)

    def _remember(self, labels: Labels, offset: int) -> None:
        folded = tuple(map(bytes.lower, labels))
        for i in range(len(labels) - 1):
            self._suffixes.setdefault(folded[i:], offset)
            offset += len(labels[i]) + 1

    def reserve(self, size: int) -> None:
        self.limit -= size

    def add(self, section: int, owner: dns.name.Name | Owner, records: Records) -> bool:
        """Add the RRset to section if it fits; False, and nothing added, if it does not."""
        buffer = self.buffer
        mark = len(buffer)
        self._added = []
        labels = owner.labels
        folded = tuple(map(bytes.lower, labels))
        fixed = RR_FIXED.pack(records.rdtype, IN, records.ttl)
        layout = COMPRESSIBLE.get(records.rdtype)
        pointer = b""
        for wire in records.wires:
            if pointer:
                # The owner written (or found) for the first record: every other points there.
                buffer += pointer
            else:
                self._name(labels, folded)
                offset = self._suffixes.get(folded)
                if offset is not None:
                    pointer = (0xC000 | offset).to_bytes(2, "big")
            buffer += fixed
            if layout is None:
                buffer += len(wire).to_bytes(2, "big")
                buffer += wire
            else:
                start = len(buffer)
                buffer += b"\0\0"
                self._rdata(layout, wire)
                buffer[start : start + 2] = (len(buffer) - start - 2).to_bytes(2, "big")
        if len(buffer) > self.limit:
            del buffer[mark:]
            for suffix in self._added:
                del self._suffixes[suffix]
            return False
        self.counts[section] += len(records.wires)
        return True

    def add_opt(self, payload: int, ttl: int) -> None:
        """Add the OPT record (RFC 6891 6.1.2), in the space set aside with reserve()."""
        self.buffer += b"\x00" + RR_HEADER.pack(dns.rdatatype.OPT, payload, ttl, 0)
        self.counts[3] += 1

    def finish(self, qid: int, flags: int) -> bytes:
        HEADER.pack_into(self.buffer, 0, qid, flags, *self.counts)
        return bytes(self.buffer)

    def _rdata(self, layout: tuple[int, int], wire: bytes) -> None:
        """Write rdata of a type in COMPRESSIBLE (its layout), its names compressed."""
        position, names = layout
        self.buffer += wire[:position]
        for _ in range(names):
            labels, position = labels_at(wire, position)
            self._name(labels, tuple(map(bytes.lower, labels)))
        self.buffer += wire[position:]

    def _name(self, labels: Labels, folded: Labels) -> None:
        """Write the name of these labels (folded: in lowercase), compressed."""
        write_name(self.buffer, self._suffixes, labels, folded, self._added)


def write_name(
    buffer: bytearray, suffixes: dict, labels: Labels, folded: Labels, added: list | None = None
) -> None:
    """Write the name of these labels (folded: in lowercase) into buffer, compressed against
    the suffixes written before (by folded labels: their offsets), noting its own there (and
    in added, if given) while a pointer can reach them."""
    for i in range(len(labels) - 1):
        offset = suffixes.get(folded[i:])
        if offset is not None:
            buffer += (0xC000 | offset).to_bytes(2, "big")
            return
        if len(buffer) < POINTER_REACH:
            suffixes[folded[i:]] = len(buffer)
            if added is not None:
                added.append(folded[i:])
        buffer.append(len(labels[i]))
        buffer += labels[i]
    buffer.append(0)


def pointers(message: bytes) -> Iterator[tuple[int, bool, int]]:
    """Yield where each compression pointer in the records of message points (RFC 1035 4.1.4),
    in the names this writer compresses, whether it is the owner of an answer record, and
    where the last label written before it starts (0 for a name that is a pointer alone): for
    whoever reuses a part of the message."""
    _, _, qdcount, ancount, nscount, arcount = HEADER.unpack_from(message)
    position = 12
    for _ in range(qdcount):
        position = yield from _name_pointers(message, position, False)
        position += 4
    for number in range(ancount + nscount + arcount):
        position = yield from _name_pointers(message, position, number < ancount)
        rdtype, _, _, rdlength = RR_HEADER.unpack_from(message, position)
        position += 10
        layout = COMPRESSIBLE.get(rdtype)
        if layout is not None:
            inside = position + layout[0]
            for _ in range(layout[1]):
                inside = yield from _name_pointers(message, inside, False)
        position += rdlength


def _name_pointers(message: bytes, position: int, owner: bool) -> Iterator[tuple[int, bool, int]]:
    """Yield the pointer ending the name at position, if any; return the position after it."""
    last = 0
    while True:
        length = message[position]
        if length >= 0xC0:
            yield (length & 0x3F) << 8 | message[position + 1], owner, last
            return position + 2
        if length == 0:
            return position + 1
        last = position
        position += length + 1


def compressed(
    asked: Labels, end: int, target: Labels, folded: Labels, offset: int
) -> tuple[bytes, int]:
    """Return the name of target written at offset, compressed as MessageWriter compresses it
    when the question (asked, case-folded, ending at end) holds the only names before it,
    and the offset where the whole name is then found."""
    # The labels the target ends with as the question does, the root's included (at least
    # that one): tuple comparisons in C, the longest ending first (the usual answer is one
    # label short of it, a name beside the question's).
    common = min(len(asked), len(folded))
    while asked[len(asked) - common :] != folded[len(folded) - common :]:
        common -= 1
    written = len(target) - common  # the target's labels before the part the question has
    name = labels_wire(target[:written])
    if common < 2:  # only the root's label in common, which is never compressed
        return name + b"\0", offset
    # Where that ending starts in the question: its labels joined by dots are as long as
    # their wire form less one byte.
    suffix = end - len(b".".join(asked[len(asked) - common :])) - 1
    return name + (0xC000 | suffix).to_bytes(2, "big"), offset if written else suffix


def srv_written(
    asked: Labels, end: int, records: Records, additional: list[tuple[Labels, Records]], limit: int
) -> tuple[list[bytes], int] | None:
    """Return the records MessageWriter writes for SRV records at the question's name (asked,
    case-folded, ending at end) whose one target has these address RRsets, within limit
    bytes, and how many additional records are among them; None when the answer does not
    fit. SRV names are not compressed (RFC 2782), so the answer's owners alone point at the
    question, and the addresses' owners at the target, written once."""
    target = additional[0][0]
    fixed = RR_FIXED.pack(records.rdtype, IN, records.ttl)
    answer = b"".join(
        b"\xc0\x0c" + fixed + len(rdata).to_bytes(2, "big") + rdata for rdata in records.wires
    )
    size = end + 4 + len(answer)
    if size > limit:
        return None
    folded = tuple(map(bytes.lower, target))
    parts, count, at = [answer], 0, None  # at: where the target is, once written
    for _, found in additional:
        if at is None:
            name, full = compressed(asked, end, target, folded, size)
        else:
            name, full = (0xC000 | at).to_bytes(2, "big"), at
        pointer = (0xC000 | full).to_bytes(2, "big")  # for the owners after the first
        fixed = RR_FIXED.pack(found.rdtype, IN, found.ttl)
        owners = [name] + [pointer] * (len(found) - 1)
        rrset = b"".join(
            owner + fixed + len(rdata).to_bytes(2, "big") + rdata
            for owner, rdata in zip(owners, found.wires, strict=True)
        )
        if size + len(rrset) > limit:
            continue  # optional: left out if too big, the target written again by the next
        parts.append(rrset)
        size += len(rrset)
        count += len(found)
        at = full
    return parts, count

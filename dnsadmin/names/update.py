"""Dynamic updates (RFC 2136): read an UPDATE, check its prerequisites and its signer's rights,
and work out the RRsets it leaves, all without I/O.

The records an update touches are given by a ZoneData (the caller reads them under the zone's
lock, so prerequisites and the write are one atomic step); evaluate() returns the rcode and, on
success, every RRset whose content changed. The special cases are BIND 9's: the SOA is replaced
only by a greater serial and never deleted, the apex NS RRset is never deleted nor emptied,
a CNAME is not added beside other data nor other data beside a CNAME (RFC 2136 3.4.2.2), a
record added twice is there once, and an add sets the TTL of its whole RRset.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.wire

from . import wire

ANY, NONE, IN = dns.rdataclass.ANY, dns.rdataclass.NONE, dns.rdataclass.IN
SOA, NS, CNAME, MX = dns.rdatatype.SOA, dns.rdatatype.NS, dns.rdatatype.CNAME, dns.rdatatype.MX
ADDRESS_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)
# What an empty type list in a rule does not grant (BIND's update-policy).
PROTECTED_TYPES = frozenset(
    dns.rdatatype.from_text(t)
    for t in ["SOA", "NS", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "CDS", "CDNSKEY"]
)
# Types whose records sit beside a CNAME (RFC 2136 3.4.2.2, RFC 4035 2.5).
BESIDE_CNAME = frozenset({CNAME, dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.KEY})
NOT_ADDABLE = frozenset({dns.rdatatype.ANY, dns.rdatatype.AXFR, dns.rdatatype.IXFR}) | frozenset(
    {dns.rdatatype.MAILA, dns.rdatatype.MAILB, dns.rdatatype.OPT, dns.rdatatype.TSIG}
)
NOT_DELETABLE = NOT_ADDABLE - {dns.rdatatype.ANY}
RULE_TYPES = ("name", "subdomain", "wildcard", "zonesub", "self")
OPCODE_UPDATE = 5


class UpdateError(Exception):
    """The update is answered with rcode and changes nothing."""

    def __init__(self, rcode: int, reason: str) -> None:
        super().__init__(reason)
        self.rcode = rcode


@dataclass(frozen=True)
class RR:
    """One record of an UPDATE as it came: rdata is None when RDLENGTH was 0."""

    name: dns.name.Name
    rdtype: int
    rdclass: int
    ttl: int
    rdata: dns.rdata.Rdata | None


@dataclass
class Update:
    """The zone, prerequisite and update sections of an UPDATE (RFC 2136 2)."""

    zone: dns.name.Name
    prerequisites: list[RR]
    updates: list[RR]

    @property
    def names(self) -> set[dns.name.Name]:
        """The names whose data the update reads: its owners, the apex, the targets of the MX
        and NS records it adds (the caller adds those of the MX and NS records already there,
        see targets())."""
        targets = {
            hashed(_target(rr.rdata)) for rr in self.updates if rr.rdtype in (MX, NS) and rr.rdata
        }
        return {rr.name for rr in (*self.prerequisites, *self.updates)} | targets | {self.zone}


def parse(message_wire: bytes) -> Update:
    """Read an UPDATE (its TSIG already checked and cut off); raise UpdateError(FORMERR)."""
    try:
        return _parse(message_wire)
    except (dns.exception.DNSException, struct.error, ValueError, IndexError) as error:
        raise UpdateError(dns.rcode.FORMERR, f"malformed update: {error!r}") from None


def _parse(message_wire: bytes) -> Update:
    _, _, zocount, prcount, upcount, _ = wire.HEADER.unpack_from(message_wire)
    if zocount != 1:
        raise UpdateError(dns.rcode.FORMERR, "the zone section must hold one zone")
    zone, position = read_name(message_wire, 12)
    ztype, zclass = struct.unpack_from("!HH", message_wire, position)
    if ztype != SOA:
        raise UpdateError(dns.rcode.FORMERR, "the zone section's type must be SOA")
    position += 4
    records = []
    for _ in range(prcount + upcount):
        record, position = _record(message_wire, position, zclass)
        records.append(record)
    if zclass != IN:
        raise UpdateError(dns.rcode.NOTAUTH, "we serve class IN only")
    return Update(zone, records[:prcount], records[prcount:])


class HashedName(dns.name.Name):
    """A name that works out its hash once: dnspython's goes over every byte of the name at
    each lookup, and an update looks its names up some fifty times (its RRsets by name,
    rows by owner). Equal to, and hashed as, the dnspython name of the same labels."""

    __slots__ = ("_hash",)

    def __init__(self, labels) -> None:
        super().__init__(labels)
        object.__setattr__(self, "_hash", dns.name.Name.__hash__(self))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        if other is self:
            return True
        if type(other) is HashedName and other._hash != self._hash:
            return False
        return super().__eq__(other)

    def __ne__(self, other) -> bool:
        return not self.__eq__(other)

    def is_subdomain(self, other: dns.name.Name) -> bool:
        return _is_subdomain(self, other)


@functools.lru_cache(maxsize=4096)
def _is_subdomain(name: HashedName, other: dns.name.Name) -> bool:
    """dnspython's answer, kept: an update asks it of the same few names again and again."""
    return dns.name.Name.is_subdomain(name, other)


# Names as read from their labels, kept: an update names the names the last one did.
names_of = functools.lru_cache(maxsize=1024)(HashedName)


def hashed(name: dns.name.Name) -> dns.name.Name:
    """Return the name as a HashedName (kept, as names_of keeps them)."""
    return name if type(name) is HashedName else names_of(name.labels)


def read_name(message_wire: bytes, position: int) -> tuple[dns.name.Name, int]:
    """Return the name at position (kept, as names_of keeps them) and the position after it."""
    labels, position = wire.read_labels(message_wire, position)
    return names_of(labels), position


# Types whose records hold no names, so that their data reads the same wherever it sits.
NAMELESS = frozenset(
    dns.rdatatype.from_text(t) for t in ("A", "AAAA", "TXT", "CAA", "DHCID", "SSHFP", "TLSA")
)


KEPT_RDATA_SIZE = 512  # bytes: longer records are decoded each time, not kept


@functools.lru_cache(maxsize=256)  # at most 256 x 512 bytes, whoever sends updates
def rdata_of(rdclass: int, rdtype: int, data: bytes) -> dns.rdata.Rdata:
    """Decode a record's uncompressed data, kept: the record one update adds, the next one
    deletes, and the caller reads back from its rows (the same object, compared at once)."""
    return dns.rdata.from_wire(rdclass, rdtype, data, 0, len(data))


def _record(message_wire: bytes, position: int, zclass: int) -> tuple[RR, int]:
    name, position = read_name(message_wire, position)
    rdtype, rdclass, ttl, rdlength = wire.RR_HEADER.unpack_from(message_wire, position)
    position += 10
    end = position + rdlength
    if end > len(message_wire):
        raise UpdateError(dns.rcode.FORMERR, "a record runs past the end of the message")
    rdata = None
    if rdlength and rdtype in NAMELESS and rdlength <= KEPT_RDATA_SIZE:
        rdata = rdata_of(zclass, rdtype, message_wire[position:end])
    elif rdlength:
        parser = dns.wire.Parser(message_wire, position)
        with parser.restrict_to(rdlength):
            rdata = dns.rdata.from_wire_parser(zclass, rdtype, parser)
    return RR(name, rdtype, rdclass, ttl, rdata), end


# the update policy ------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One grant or deny of an update policy: identity (a key name), rule type, name, types."""

    grant: bool
    identity: dns.name.Name
    rule_type: str
    name: dns.name.Name | None = None
    types: frozenset[int] = frozenset()

    def matches(self, signer: dns.name.Name, zone: dns.name.Name, name, rdtype: int) -> bool:
        if signer != self.identity or not self._name_matches(signer, zone, name):
            return False
        if not self.types:
            return rdtype not in PROTECTED_TYPES
        return rdtype in self.types or dns.rdatatype.ANY in self.types

    def _name_matches(self, signer, zone, name: dns.name.Name) -> bool:
        kind = self.rule_type
        if kind == "name":
            return name == self.name
        if kind == "subdomain":
            return name.is_subdomain(self.name)
        if kind == "wildcard":
            return name != self.name.parent() and name.is_subdomain(self.name.parent())
        if kind == "zonesub":
            return name.is_subdomain(zone)
        return name == signer  # self


def permitted(rules: Iterable[Rule], signer, zone, name, rdtype: int) -> bool:
    """The first rule matching decides (BIND's update-policy); none matching refuses."""
    if signer is None:
        return False
    for rule in rules:
        if rule.matches(signer, zone, name, rdtype):
            return rule.grant
    return False


# the zone's data --------------------------------------------------------------------

Rdataset = tuple[int, list[dns.rdata.Rdata]]  # TTL, records


@dataclass
class ZoneData:
    """The RRsets at the names an update touches, by name and type (the apex SOA included)."""

    origin: dns.name.Name
    rrsets: dict[dns.name.Name, dict[int, Rdataset]] = field(default_factory=dict)

    def add(self, name: dns.name.Name, rdtype: int, ttl: int, rdata: dns.rdata.Rdata) -> None:
        _, records = self.rrsets.setdefault(name, {}).setdefault(rdtype, (ttl, []))
        if rdata not in records:
            records.append(rdata)

    def at(self, name: dns.name.Name) -> dict[int, Rdataset]:
        """Return the RRsets at name by type (a dict that changes them)."""
        return self.rrsets.setdefault(name, {})


def evaluate(
    update: Update, data: ZoneData, rules: Iterable[Rule], signer: dns.name.Name | None
) -> dict[tuple[dns.name.Name, int], Rdataset]:
    """Check the update against the data and the rules; return the RRsets it changes (an empty
    record list: the RRset goes). Raise UpdateError with the rcode otherwise.

    As BIND 9 since 9.16, each update record is scanned and checked against the policy before
    any prerequisite is looked at, so that a key cannot probe what it may not change.
    """
    rules = list(rules)
    for rr in update.updates:
        prescan(update.zone, rr)
        if not all(
            permitted(rules, signer, update.zone, rr.name, rdtype)
            for rdtype in _types_touched(rr, data)
        ):
            raise UpdateError(dns.rcode.REFUSED, f"{rr.name}/{_text(rr.rdtype)} not granted")
    check_prerequisites(update, data)
    return apply(update, data)


def _types_touched(rr: RR, data: ZoneData) -> Iterable[int]:
    """A name's deletion is checked against every type it holds (BIND's ssu_checkall)."""
    if rr.rdtype == dns.rdatatype.ANY and rr.rdclass == ANY:
        return list(data.at(rr.name))
    return [rr.rdtype]


def _text(rdtype: int) -> str:
    return dns.rdatatype.to_text(rdtype)


def check_prerequisites(update: Update, data: ZoneData) -> None:
    """RFC 2136 3.2: the first prerequisite that fails names the rcode."""
    wanted: dict[tuple[dns.name.Name, int], set] = {}
    for rr in update.prerequisites:
        if rr.ttl != 0:
            raise UpdateError(dns.rcode.FORMERR, "prerequisite TTL not zero")
        if not rr.name.is_subdomain(update.zone):
            raise UpdateError(dns.rcode.NOTZONE, f"prerequisite {rr.name} outside the zone")
        present = data.at(rr.name)
        if rr.rdclass in (ANY, NONE):
            if rr.rdata is not None:
                raise UpdateError(dns.rcode.FORMERR, "prerequisite with data and class ANY/NONE")
            exists = bool(present) if rr.rdtype == dns.rdatatype.ANY else rr.rdtype in present
            if rr.rdclass == ANY and not exists:
                code = dns.rcode.NXDOMAIN if rr.rdtype == dns.rdatatype.ANY else dns.rcode.NXRRSET
                raise UpdateError(code, f"prerequisite {rr.name}/{_text(rr.rdtype)} missing")
            if rr.rdclass == NONE and exists:
                code = dns.rcode.YXDOMAIN if rr.rdtype == dns.rdatatype.ANY else dns.rcode.YXRRSET
                raise UpdateError(code, f"prerequisite {rr.name}/{_text(rr.rdtype)} present")
        elif rr.rdclass == IN and rr.rdata is not None and rr.rdtype not in NOT_ADDABLE:
            wanted.setdefault((rr.name, rr.rdtype), set()).add(rr.rdata)
        else:
            raise UpdateError(dns.rcode.FORMERR, "malformed prerequisite")
    for (name, rdtype), records in wanted.items():
        _, have = data.at(name).get(rdtype, (0, []))
        if set(have) != records:
            raise UpdateError(dns.rcode.NXRRSET, f"prerequisite {name}/{_text(rdtype)} differs")


def prescan(zone: dns.name.Name, rr: RR) -> None:
    """RFC 2136 3.4.1: every update record must be well formed before any is applied."""
    if not rr.name.is_subdomain(zone):
        raise UpdateError(dns.rcode.NOTZONE, f"{rr.name} is outside the zone")
    if rr.rdclass == IN:
        ok = rr.rdtype not in NOT_ADDABLE and rr.rdata is not None
    elif rr.rdclass == ANY:
        ok = rr.ttl == 0 and rr.rdata is None and rr.rdtype not in NOT_DELETABLE
    elif rr.rdclass == NONE:
        ok = rr.ttl == 0 and rr.rdtype not in NOT_ADDABLE and rr.rdata is not None
    else:
        ok = False
    if not ok:
        raise UpdateError(dns.rcode.FORMERR, f"malformed update record {rr.name}")


def apply(update: Update, data: ZoneData) -> dict[tuple[dns.name.Name, int], Rdataset]:
    """RFC 2136 3.4.2: apply the update records in order; return the RRsets that changed."""
    touched = {rr.name for rr in update.updates}  # the only names whose RRsets change
    before = {
        (name, rdtype): (ttl, list(records))
        for name in touched
        for rdtype, (ttl, records) in data.at(name).items()
    }
    for rr in update.updates:
        if rr.rdclass == IN:
            _add(data, rr)
        elif rr.rdtype == dns.rdatatype.ANY:
            _delete_name(data, rr.name)
        elif rr.rdclass == ANY:
            if not (rr.name == data.origin and rr.rdtype in (SOA, NS)):
                data.at(rr.name).pop(rr.rdtype, None)
        else:
            _delete_record(data, rr)
    changed = _changed(before, data, touched)
    check_integrity(data, before, changed)
    return changed


def check_integrity(data: ZoneData, before, changed) -> None:
    """BIND's check-integrity, REFUSED when it fails: an MX added must point at an address in
    the zone, not at an alias (RFC 2181 10.3) nor a missing name; and after any change, every
    apex NS target inside the zone must still have an address (the "post update name server
    sanity check")."""
    for (name, rdtype), (ttl, records) in changed.items():
        if rdtype != MX:
            continue
        # A new TTL re-adds the whole RRset, as BIND's diff does.
        old_ttl, old = before.get((name, rdtype), (ttl, []))
        for rdata in (r for r in records if r not in old or old_ttl != ttl):
            if not _has_address(data, rdata.exchange):
                raise UpdateError(dns.rcode.REFUSED, f"{name}/MX {rdata.exchange} has no address")
    if changed:
        for rdata in data.at(data.origin).get(NS, (0, []))[1]:
            if not _has_address(data, rdata.target):
                raise UpdateError(dns.rcode.REFUSED, f"name server {rdata.target} has no address")


def _has_address(data: ZoneData, target: dns.name.Name) -> bool:
    """Tell whether target, when in the zone, has an address (and no CNAME)."""
    target = hashed(target)
    if not target.is_subdomain(data.origin):
        return True
    present = data.at(target)
    return CNAME not in present and any(t in present for t in ADDRESS_TYPES)


def targets(data: ZoneData) -> set[dns.name.Name]:
    """The names check_integrity() looks at beyond the update's own: the exchanges of the MX
    records at the names read and the apex name servers."""
    found = {hashed(r.target) for r in data.at(data.origin).get(NS, (0, []))[1]}
    for types in list(data.rrsets.values()):
        found.update(hashed(r.exchange) for r in types.get(MX, (0, []))[1])
    return {name for name in found if name.is_subdomain(data.origin)}


def _target(rdata: dns.rdata.Rdata) -> dns.name.Name:
    return rdata.exchange if rdata.rdtype == MX else rdata.target


def _add(data: ZoneData, rr: RR) -> None:
    present = data.at(rr.name)
    if rr.rdtype == SOA:
        if rr.name == data.origin and _newer(rr.rdata.serial, present[SOA][1][0].serial):
            present[SOA] = (rr.ttl, [rr.rdata])
        return
    others = set(present) - BESIDE_CNAME
    if rr.rdtype == CNAME and others or rr.rdtype not in BESIDE_CNAME and CNAME in present:
        return  # RFC 2136 3.4.2.2: ignored
    if rr.rdtype == CNAME:
        present[CNAME] = (rr.ttl, [rr.rdata])
        return
    _, records = present.get(rr.rdtype, (rr.ttl, []))
    if rr.rdata not in records:
        records = [*records, rr.rdata]
    present[rr.rdtype] = (rr.ttl, records)


def _newer(serial: int, current: int) -> bool:
    return serial != current and (serial - current) % 2**32 < 2**31


def _delete_name(data: ZoneData, name: dns.name.Name) -> None:
    present = data.at(name)
    for rdtype in list(present):
        if name != data.origin or rdtype not in (SOA, NS):
            del present[rdtype]


def _delete_record(data: ZoneData, rr: RR) -> None:
    present = data.at(rr.name)
    if rr.rdtype == SOA or rr.rdtype not in present:
        return
    ttl, records = present[rr.rdtype]
    kept = [r for r in records if r != rr.rdata]
    if not kept and rr.name == data.origin and rr.rdtype == NS:
        return  # the last NS at the apex stays
    if kept:
        present[rr.rdtype] = (ttl, kept)
    else:
        del present[rr.rdtype]


def _changed(
    before: Mapping[tuple[dns.name.Name, int], Rdataset], data: ZoneData, touched: set
) -> dict[tuple[dns.name.Name, int], Rdataset]:
    after = {
        (name, rdtype): rdataset for name in touched for rdtype, rdataset in data.at(name).items()
    }
    changed = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old is None or new is None or old[0] != new[0] or not _same(old[1], new[1]):
            changed[key] = new if new is not None else (0, [])
    return changed


def _same(old: list[dns.rdata.Rdata], new: list[dns.rdata.Rdata]) -> bool:
    """Tell whether two RRsets' records are the same; the RRsets an update does not touch
    hold the very same objects, told apart without comparing their wire forms."""
    if len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True)):
        return True
    return set(old) == set(new)

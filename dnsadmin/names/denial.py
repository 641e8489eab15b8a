"""Answers to queries with the DO bit (RFC 4035 3.1): RRSIGs beside every authoritative RRset
and the NSEC (RFC 4035 3.1.3) or NSEC3 (RFC 5155 7.2) records proving what does not exist.

``secure`` takes what ``Zone.lookup`` found for one name and adds the DNSSEC records to it; it
works out again the facts the proofs need (the closest encloser, whether a wildcard answered),
from the zone's nodes, so the lookup itself stays as it is for answers without DO.
"""

from __future__ import annotations

import bisect

import dns.name

from .answer import Kind, Sections
from .render import Records
from .signer import DS, NSEC, NSEC3, RRSIG, Signed, b32hex
from .zone import DNAME, Key, Owned, Zone, lower_labels

FROM_NODE = (Kind.ANSWER, Kind.ALIAS, Kind.NODATA)


def secure(zone: Zone, qname: dns.name.Name, qtype: int, found: Sections) -> Sections:
    """Return found with the RRSIGs and the denial of existence records of a signed zone."""
    signed: Signed | None = zone.dnssec
    if signed is None or found.error:
        return found
    proof = _Proof(zone, signed, qname)
    dname = bool(found.answer) and found.answer[0][1].rdtype == DNAME
    # A DNAME answered (its CNAME is synthesised), or the name or a wildcard did.
    wildcard = not dname and not proof.exists and found.kind in FROM_NODE
    if qtype == RRSIG and not dname and found.kind in FROM_NODE:
        # As BIND: the signatures at the name, whatever they cover, no CNAME followed.
        found = proof.signatures(qname, wildcard)
    found.answer = proof.with_sigs(found.answer, wildcard)
    authority = proof.with_sigs(found.authority, False)
    if found.kind is Kind.REFERRAL:
        authority.extend(proof.delegation(found.authority[0][0]))
    elif found.kind is Kind.NXDOMAIN:
        authority.extend(proof.name_error())
    elif found.kind is Kind.NODATA:
        authority.extend(proof.wildcard_nodata() if wildcard else proof.nodata())
    elif wildcard:
        authority.extend(proof.expansion())
    found.authority = authority
    return found


class _Proof:
    """The denial records for one name of a signed zone."""

    def __init__(self, zone: Zone, signed: Signed, qname: dns.name.Name) -> None:
        self.zone, self.signed = zone, signed
        labels = lower_labels(qname)
        self.key: Key = labels[: len(labels) - len(zone.origin.labels)]
        nodes = zone._nodes
        self.exists = self.key in nodes
        start = next(i for i in range(len(self.key) + 1) if self.key[i:] in nodes)
        self.encloser: Key = self.key[start:]
        self.next_closer: Key = self.key[max(start - 1, 0) :]
        self.origin_wire = zone.origin.to_wire().lower()

    def with_sigs(self, rrsets: list[Owned], wildcard: bool) -> list[Owned]:
        """Return rrsets with the RRSIG of each after it."""
        out: list[Owned] = []
        depth = len(self.zone.origin.labels)
        for owner, records in rrsets:
            out.append((owner, records))
            key = lower_labels(owner)[: len(owner.labels) - depth]
            if wildcard and key == self.key:
                key = (b"*", *self.encloser)
            sig = self.signed.sigs.get((key, records.rdtype))
            if sig is not None:
                out.append((owner, _with_ttl(sig, records.ttl)))
        return out

    def signatures(self, qname: dns.name.Name, wildcard: bool) -> Sections:
        key = (b"*", *self.encloser) if wildcard else self.key
        node = self.zone._nodes[key]
        sigs = [s for s in (self.signed.sigs.get((key, t)) for t in node.types()) if s]
        if not sigs:
            return Sections(Kind.NODATA, authority=[self.zone._negative_soa])
        ttl = min(sig.ttl for sig in sigs)
        wires = tuple(wire for sig in sigs for wire in sig.wires)
        return Sections(Kind.ANSWER, [(qname, Records(RRSIG, ttl, wires))])

    def _one(self, rrset: Owned) -> list[Owned]:
        return self.with_sigs([rrset], False)

    # NSEC (RFC 4035 3.1.3) and NSEC3 (RFC 5155 7.2) proofs

    def name_error(self) -> list[Owned]:
        wildcard = (b"*", *self.encloser)
        if self.signed.hashes:
            return self._nsec3(
                self._matching(self.encloser), self._covering(self.next_closer),
                self._covering(wildcard),
            )  # fmt: skip
        return self._nsec(self._nsec_covering(self.key), self._nsec_covering(wildcard))

    def nodata(self) -> list[Owned]:
        if self.signed.hashes:
            return self._nsec3(self._matching(self.key))
        return self._nsec(self._nsec_covering(self.key))

    def wildcard_nodata(self) -> list[Owned]:
        wildcard = (b"*", *self.encloser)
        if self.signed.hashes:
            return self._nsec3(
                self._matching(self.encloser), self._covering(self.next_closer),
                self._matching(wildcard),
            )  # fmt: skip
        return self._nsec(self._nsec_covering(self.key), wildcard)

    def expansion(self) -> list[Owned]:
        """The proof that the exact name asked does not exist, beside a wildcard answer."""
        if self.signed.hashes:
            return self._nsec3(self._covering(self.next_closer))
        return self._nsec(self._nsec_covering(self.key))

    def delegation(self, cut: dns.name.Name) -> list[Owned]:
        """The signed DS of a secure delegation, or the proof that the cut has none."""
        depth = len(self.zone.origin.labels)
        key = lower_labels(cut)[: len(cut.labels) - depth]
        node = self.zone._nodes[key]
        ds = node.records(DS)
        if ds is not None:
            return self._one((node.name, ds))
        if self.signed.hashes:
            return self._nsec3(self._matching(key))
        return self._nsec(key)

    def _nsec_covering(self, key: Key) -> Key:
        chain = self.signed.chain
        index = bisect.bisect_right(chain, tuple(reversed(key))) - 1
        return tuple(reversed(chain[index]))

    def _nsec(self, *keys: Key) -> list[Owned]:
        out: list[Owned] = []
        for key in dict.fromkeys(keys):
            node = self.zone._nodes[key]
            out.extend(self._one((node.name, node.records(NSEC))))
        return out

    def _matching(self, key: Key) -> bytes:
        return self.signed.nsec3_hash(key, self.origin_wire)

    def _covering(self, key: Key) -> bytes:
        hashes = self.signed.hashes
        digest = self.signed.nsec3_hash(key, self.origin_wire)
        return hashes[bisect.bisect_left(hashes, digest) - 1]

    def _nsec3(self, *digests: bytes) -> list[Owned]:
        out: list[Owned] = []
        for digest in dict.fromkeys(digests):
            node = self.signed.nsec3_nodes.get(digest)
            if node is None:
                continue  # cannot happen in a consistent chain; a validator will say so
            records = node.records(NSEC3)
            sig = self.signed.sigs[((b32hex(digest),), NSEC3)]
            out += [(node.name, records), (node.name, sig)]
        return out


def _with_ttl(sig: Records, ttl: int) -> Records:
    # RFC 4035 3.1.3: an RRSIG goes out with the TTL its RRset goes out with.
    return sig if sig.ttl == ttl else Records(RRSIG, ttl, sig.wires)

"""Zone signing (RFC 4033-4035, RFC 5155, RFC 9276): DNSKEY, RRSIG, NSEC or NSEC3 in memory.

The operator's records stay the source; a built :class:`~.zone.Zone` is signed in place before
it is served, as BIND's inline-signing and Knot's automatic signing keep a signed copy of an
unsigned zone. Signatures are made straight from the wire forms the zone holds (the signed
data of RFC 4034 3.1.8.1), several times faster than going through dnspython RRsets, and a
signature is reused whenever its RRset, key and validity window are the ones it was made for.
A change to a signed zone is signed on its own (patch_signed, then resign): the RRsets at the
names it touched and the SOA are signed again and the NSEC/NSEC3 chain is mended around them,
without going over the rest of the zone.
"""

from __future__ import annotations

import base64
import bisect
import functools
import hashlib
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.dnskeybase
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .render import Records, labels_wire
from .zone import NS, SETTLE_NODES, Key, Node, Zone, patch_zone, settle

IN = dns.rdataclass.IN
DNSKEY = dns.rdatatype.DNSKEY
RRSIG = dns.rdatatype.RRSIG
NSEC = dns.rdatatype.NSEC
NSEC3 = dns.rdatatype.NSEC3
NSEC3PARAM = dns.rdatatype.NSEC3PARAM
CDS = dns.rdatatype.CDS
CDNSKEY = dns.rdatatype.CDNSKEY
DS = dns.rdatatype.DS
ECDSAP256SHA256 = 13
ED25519 = 15
ALGORITHMS = {"ecdsap256sha256": ECDSAP256SHA256, "ed25519": ED25519}
RRSIG_FIXED = struct.Struct("!HBBIIIH")
RR_FIXED = struct.Struct("!HHI")
# RFC 4034 6.2 as RFC 6840 5.1 leaves it: the types whose rdata names are lower-cased to sign.
CANONICAL_NAMES = frozenset(
    dns.rdatatype.from_text(t)
    for t in [
        "NS",
        "MD",
        "MF",
        "CNAME",
        "SOA",
        "MB",
        "MG",
        "MR",
        "PTR",
        "MINFO",
        "MX",
        "RP",
        "AFSDB",
        "RT",
        "PX",
        "NAPTR",
        "KX",
        "SRV",
        "DNAME",
    ]
)
B32HEX = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghijklmnopqrstuv")

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
# RFC 6979 deterministic ECDSA: every worker signing the same RRset makes the same signature,
# so the versions of a zone they serve, and the IXFR journals they keep, agree.
ECDSA_SHA256 = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
# RFC 8078 4: "CDS 0 0 0 00" and "CDNSKEY 0 3 0 AA==" ask the parent to remove the DS.
DELETE_CDS = bytes([0, 0, 0, 0, 0])
DELETE_CDNSKEY = bytes([0, 0, 3, 0, 0])


@dataclass(frozen=True)
class ZoneKey:
    """A key of the zone as the signer uses it (the Django side decides the states)."""

    dnskey: dns.rdata.Rdata
    private: PrivateKey | None = None
    ksk: bool = False  # signs the apex key sets (DNSKEY, CDS, CDNSKEY)
    zsk: bool = False  # signs everything else
    signing: bool = True  # makes signatures now; False: published only (pre-publication)
    cds: bool = False  # offered to the parent as CDS/CDNSKEY (RFC 7344)

    @functools.cached_property
    def tag(self) -> int:
        return dns.dnssec.key_id(self.dnskey)

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.private, ed25519.Ed25519PrivateKey):
            return self.private.sign(data)
        r, s = decode_dss_signature(self.private.sign(data, ECDSA_SHA256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@dataclass(frozen=True)
class Policy:
    """How the zone is signed: denial of existence and the signatures' validity window.

    inception and expiration are seconds since the epoch, fixed by the caller per signing
    period so that every worker signing the same zone agrees on them; jitter spreads the
    expirations over that many seconds before expiration (RFC 6781 4.4.2.2).
    """

    inception: int
    expiration: int
    nsec3: bool = True
    iterations: int = 0  # RFC 9276 3.1: no extra iterations
    salt: bytes = b""  # RFC 9276 3.1: no salt
    jitter: int = 0
    dnskey_ttl: int = 3600
    withdraw: bool = False  # going insecure: ask the parent to delete the DS (RFC 8078 4)


@dataclass
class Signed:
    """What signing adds to a zone that lookups need: the RRSIGs by (owner key, type
    covered), the NSEC chain's order or the NSEC3 chain, and the negative TTL."""

    policy: Policy
    sigs: dict[tuple[Key, int], Records]
    negative_ttl: int
    keys: tuple[ZoneKey, ...] = ()  # what it was signed with: a change re-signs with the same
    chain: list[tuple[bytes, ...]] = field(default_factory=list)  # NSEC: reversed keys, sorted
    hashes: list[bytes] = field(default_factory=list)  # NSEC3: owner digests, sorted
    nsec3_nodes: dict[bytes, Node] = field(default_factory=dict)
    cache: dict[tuple, bytes] = field(default_factory=dict)

    def nsec3_hash(self, key: Key, origin_wire: bytes) -> bytes:
        return nsec3_digest(
            labels_wire(key) + origin_wire, self.policy.salt, self.policy.iterations
        )


def nsec3_digest(wire: bytes, salt: bytes, iterations: int) -> bytes:
    """Return the RFC 5155 5 hash of a lower-cased name in wire form."""
    digest = hashlib.sha1(wire + salt).digest()
    for _ in range(iterations):
        digest = hashlib.sha1(digest + salt).digest()
    return digest


def b32hex(digest: bytes) -> bytes:
    return base64.b32encode(digest).translate(B32HEX).rstrip(b"=")


def bitmap(types: Iterable[int]) -> bytes:
    """Return the type bit maps field of NSEC and NSEC3 (RFC 4034 4.1.2)."""
    windows: dict[int, bytearray] = {}
    for rdtype in sorted(set(types)):
        window = windows.setdefault(rdtype >> 8, bytearray(32))
        window[(rdtype & 0xFF) >> 3] |= 0x80 >> (rdtype & 7)
    out = bytearray()
    for number, bits in sorted(windows.items()):
        used = len(bits.rstrip(b"\0"))
        out += bytes((number, used)) + bits[:used]
    return bytes(out)


def sign_zone(
    zone: Zone, keys: list[ZoneKey], policy: Policy, previous: Signed | None = None
) -> Signed:
    """Sign zone in place and return what was added (also kept as ``zone.dnssec``).

    previous: the same zone signed before; its signatures are reused where they still fit.
    """
    nodes = zone._nodes
    negative_ttl = zone._negative_soa[1].ttl
    signed = Signed(policy, {}, negative_ttl, tuple(keys))
    apex = nodes[()]
    _add_apex_keys(apex, keys, policy)
    authoritative = _authoritative_keys(zone)
    if policy.nsec3:
        _add_nsec3_chain(zone, signed, authoritative)
    else:
        _add_nsec_chain(zone, signed, authoritative)
    signer = _Signer(zone, keys, policy, previous.cache if previous else {}, signed.cache)
    for key in authoritative:
        _sign_node(signed, signer, key, nodes[key])
    for digest, node in signed.nsec3_nodes.items():
        owner_key = (b32hex(digest),)
        signed.sigs[(owner_key, NSEC3)] = signer.sign(owner_key, node.records(NSEC3))
    zone.serve_signed(signed)
    if len(nodes) >= SETTLE_NODES:
        settle()  # the signatures and proofs too, made after build_zone froze the zone
    return signed


def _sign_node(signed: Signed, signer: _Signer, key: Key, node: Node) -> None:
    """Sign the RRsets of an authoritative node."""
    at_cut = key and NS in node
    for rdtype in node.types():
        if at_cut and rdtype not in (DS, NSEC):
            continue  # RFC 4035 2.2: delegation NS and glue are not signed
        signed.sigs[(key, rdtype)] = signer.sign(key, node.records(rdtype))


def _add_apex_keys(apex: Node, keys: list[ZoneKey], policy: Policy) -> None:
    for key in keys:
        apex.add_wire(DNSKEY, policy.dnskey_ttl, key.dnskey.to_wire())
        if key.cds:
            ds = dns.dnssec.make_ds(apex.name, key.dnskey, "SHA256")
            apex.add_wire(CDS, policy.dnskey_ttl, ds.to_wire())
            apex.add_wire(CDNSKEY, policy.dnskey_ttl, key.dnskey.to_wire())
    if policy.withdraw:
        apex.add_wire(CDS, policy.dnskey_ttl, DELETE_CDS)
        apex.add_wire(CDNSKEY, policy.dnskey_ttl, DELETE_CDNSKEY)
    if policy.nsec3:
        apex.add_wire(NSEC3PARAM, 0, _nsec3_head(policy))  # RFC 5155 4: TTL 0, as BIND publishes it


def _authoritative_keys(zone: Zone) -> list[Key]:
    """Return the keys of the nodes the zone is authoritative for, cuts included, glue and
    whatever else lies below a cut left out."""
    cuts = zone._cuts
    return [key for key in zone._nodes if not any(key[i:] in cuts for i in range(1, len(key)))]


def _add_nsec_chain(zone: Zone, signed: Signed, authoritative: list[Key]) -> None:
    nodes = zone._nodes
    order = sorted(tuple(reversed(k)) for k in authoritative if nodes[k])
    origin_wire = zone.origin.to_wire().lower()
    for i, reversed_key in enumerate(order):
        key = tuple(reversed(reversed_key))
        following = tuple(reversed(order[(i + 1) % len(order)]))
        node = nodes[key]
        types = [*node.types(), NSEC, RRSIG]
        node.add_wire(
            NSEC, signed.negative_ttl, labels_wire(following) + origin_wire + bitmap(types)
        )
    signed.chain = order


def _add_nsec3_chain(zone: Zone, signed: Signed, authoritative: list[Key]) -> None:
    nodes = zone._nodes
    policy = signed.policy
    origin_wire = zone.origin.to_wire().lower()
    owners: dict[bytes, list[int]] = {}
    for key in authoritative:
        owners[signed.nsec3_hash(key, origin_wire)] = _nsec3_types(key, nodes[key])
    hashes = sorted(owners)
    head = _nsec3_head(policy)
    for i, digest in enumerate(hashes):
        following = hashes[(i + 1) % len(hashes)]
        node = Node((b32hex(digest), *zone.origin.labels))
        node.add_wire(
            NSEC3, signed.negative_ttl, head + b"\x14" + following + bitmap(owners[digest])
        )
        signed.nsec3_nodes[digest] = node
    signed.hashes = hashes


def _nsec3_types(key: Key, node: Node) -> list[int]:
    """Return the types the NSEC3 record of a node lists."""
    types = node.types()
    if not key:
        return [*types, RRSIG]
    if NS in node:
        return [*types, RRSIG] if DS in node else types  # RFC 5155 7.1: cut NS unsigned
    return [*types, RRSIG] if types else types


def _nsec3_head(policy: Policy) -> bytes:
    """Return the NSEC3 rdata up to the next owner's hash: algorithm, flags, iterations, salt."""
    return struct.pack("!BBHB", 1, 0, policy.iterations, len(policy.salt)) + policy.salt


# What signing adds at the zone's nodes: a change to one of these needs a full signing.
SIGNER_TYPES = frozenset({DNSKEY, RRSIG, NSEC, NSEC3, NSEC3PARAM, CDS, CDNSKEY})


class Unpatchable(ValueError):
    """A change resign() cannot sign on its own: sign the zone built afresh instead."""


def patch_signed(
    previous: Zone,
    changed: Iterable[tuple[str, int]],
    records: Iterable[tuple[str, int, int, bytes]],
    *,
    serial: int,
) -> Zone:
    """Return zone.patch_zone's patch of the signed zone previous, for resign() to sign: the
    signer's NSEC records at the names changed go with the RRsets changed, so that a name
    emptied is an empty node as patch_zone expects. Raise Unpatchable when the change needs a
    full signing (a signer's record edited, a delegation made or removed)."""
    changed = list(changed)
    if any(rdtype in SIGNER_TYPES for _, rdtype in changed):
        raise Unpatchable("a record of a type the signer makes was edited")
    owners = dict.fromkeys(owner for owner, _ in changed)
    patched = patch_zone(previous, [*changed, *((o, NSEC) for o in owners)], records, serial=serial)
    if patched._cuts != previous._cuts:
        raise Unpatchable("a delegation came or went: what is signed below it changes")
    return patched


def resign(zone: Zone, previous: Zone, owners: Iterable[str]) -> Signed:
    """Sign ``zone``, the signed ``previous`` patched at ``owners`` (relative names as
    build_zone reads them) by patch_signed(), with
    previous's keys and policy: re-sign the RRsets at those names and at the SOA, and mend
    the NSEC or NSEC3 chain around them, as a full signing of the same data would leave it.

    previous is still being served: a node zone shares with it is copied before it changes
    (copy-on-write), and previous's signatures, chain and nodes are left as they are. Raise
    Unpatchable when a zone cut moved, a signer's record was edited, or the negative TTL
    changed: only a full signing of the zone built afresh will do then.
    """
    old: Signed = previous.dnssec
    if zone._cuts != previous._cuts or zone._negative_soa[1].ttl != old.negative_ttl:
        raise Unpatchable("a zone cut or the negative TTL changed")
    depth = len(zone.origin.labels)
    changed = set()
    for owner in owners:
        name = dns.name.from_text(owner, zone.origin)
        changed.add(tuple(label.lower() for label in name.labels[: len(name.labels) - depth]))
    for key in changed - {()}:
        node = zone._nodes.get(key)
        if node is not None and SIGNER_TYPES.intersection(node.types()):
            raise Unpatchable("a record of a type the signer makes was edited")
    # The names changed, the names above them (empty non-terminals come and go), the apex.
    touched = {()} | {key[i:] for key in changed for i in range(len(key))}
    signed = Signed(old.policy, dict(old.sigs), old.negative_ttl, old.keys, cache=old.cache)
    signed.chain, signed.hashes, signed.nsec3_nodes = old.chain, old.hashes, old.nsec3_nodes
    signer = _Signer(zone, list(old.keys), old.policy, old.cache, old.cache)
    dropped: list[tuple[Key, Records]] = []
    for key in touched:
        before = previous._nodes.get(key)
        for rdtype in before.types() if before is not None else ():
            if signed.sigs.pop((key, rdtype), None) is not None:
                dropped.append((key, before.records(rdtype)))
    cuts = zone._cuts
    inside = [k for k in touched if not any(k[i:] in cuts for i in range(1, len(k)))]
    if old.policy.nsec3:
        _mend_nsec3(zone, previous, signed, signer, inside, dropped)
    else:
        _mend_nsec(zone, previous, signed, signer, inside, dropped)
    for key in inside:
        node = zone._nodes.get(key)
        if node is not None:
            _sign_node(signed, signer, key, node)
    # Forget the signatures no longer served, so the cache stays the size of the zone.
    for key, records in dropped:
        for _, cache_key in signer.cache_keys(key, records):
            if cache_key not in signer.used:
                old.cache.pop(cache_key, None)
    zone.serve_signed(signed)
    return signed


def _mend_nsec(
    zone: Zone, previous: Zone, signed: Signed, signer: _Signer, inside: list[Key],
    dropped: list[tuple[Key, Records]],
) -> None:  # fmt: skip
    """Put the names that gained or lost data into the NSEC chain or out of it, and give the
    names changed and the ones before each name that came or went their NSEC anew."""
    nodes, before = zone._nodes, previous._nodes
    chain = list(signed.chain)
    came_or_went = []
    mended = set()
    for key in inside:
        node = nodes.get(key)
        was = key in before and bool(before[key])  # a name in the chain has its NSEC
        now = node is not None and any(rdtype != NSEC for rdtype in node.types())
        position = tuple(reversed(key))
        if was and not now:
            del chain[bisect.bisect_left(chain, position)]
        elif now and not was:
            bisect.insort(chain, position)
        if was != now:
            came_or_went.append(position)
        if now:
            mended.add(key)
    for position in came_or_went:
        previous_name = tuple(reversed(chain[bisect.bisect_left(chain, position) - 1]))
        if previous_name not in mended:
            mended.add(previous_name)
            dropped.append((previous_name, before[previous_name].records(NSEC)))
    origin_wire = zone.origin.to_wire().lower()
    for key in mended:
        node = nodes[key]
        following = chain[(bisect.bisect_left(chain, tuple(reversed(key))) + 1) % len(chain)]
        types = [rdtype for rdtype in node.types() if rdtype != NSEC]
        nsec = labels_wire(tuple(reversed(following))) + origin_wire + bitmap([*types, NSEC, RRSIG])
        node = nodes[key] = _copy_with(node, NSEC, signed.negative_ttl, nsec)
        signed.sigs[(key, NSEC)] = signer.sign(key, node.records(NSEC))
    signed.chain = chain


def _mend_nsec3(
    zone: Zone, previous: Zone, signed: Signed, signer: _Signer, inside: list[Key],
    dropped: list[tuple[Key, Records]],
) -> None:  # fmt: skip
    """Put the hashes of the names that came or went into the NSEC3 chain or out of it, and
    make anew the NSEC3 records of the names changed and of the hashes before each hash that
    came or went (their type bit maps kept)."""
    nodes, before = zone._nodes, previous._nodes
    origin_wire = zone.origin.to_wire().lower()
    hashes, nsec3_nodes = list(signed.hashes), dict(signed.nsec3_nodes)
    made: dict[bytes, bytes | None] = {}  # digest: its type bit map, None to keep it
    came_or_went = []
    for key in inside:
        digest = signed.nsec3_hash(key, origin_wire)
        was, now = key in before, key in nodes
        if was and not now:
            del hashes[bisect.bisect_left(hashes, digest)]
        elif now and not was:
            bisect.insort(hashes, digest)
        if was != now:
            came_or_went.append(digest)
        if now:
            made[digest] = bitmap(_nsec3_types(key, nodes[key]))
        elif was:
            gone = nsec3_nodes.pop(digest)
            signed.sigs.pop(((b32hex(digest),), NSEC3), None)
            dropped.append(((b32hex(digest),), gone.records(NSEC3)))
    for digest in came_or_went:
        made.setdefault(hashes[bisect.bisect_left(hashes, digest) - 1], None)
    head = _nsec3_head(signed.policy)
    for digest, types in made.items():
        following = hashes[(bisect.bisect_left(hashes, digest) + 1) % len(hashes)]
        owner_key = (b32hex(digest),)
        old = nsec3_nodes.get(digest)
        if old is not None:
            if signed.sigs.pop((owner_key, NSEC3), None) is not None:
                dropped.append((owner_key, old.records(NSEC3)))
            if types is None:
                types = old.records(NSEC3).wires[0][len(head) + 21 :]
        node = Node((owner_key[0], *zone.origin.labels))
        node.add_wire(NSEC3, signed.negative_ttl, head + b"\x14" + following + types)
        nsec3_nodes[digest] = node
        signed.sigs[(owner_key, NSEC3)] = signer.sign(owner_key, node.records(NSEC3))
    signed.hashes, signed.nsec3_nodes = hashes, nsec3_nodes


def _copy_with(node: Node, rdtype: int, ttl: int, wire: bytes) -> Node:
    """Return a copy of node with its RRset of rdtype replaced by one record (the node itself
    may be shared with the zone being served, which must not change)."""
    copy = Node(node.name.labels)
    for kept in node.types():
        if kept != rdtype:
            records = node.records(kept)
            for record in records.wires:
                copy.add_wire(kept, records.ttl, record)
    copy.add_wire(rdtype, ttl, wire)
    return copy


class _Signer:
    """Makes RRSIG rdatas, reusing those of the previous signing that still fit."""

    def __init__(
        self, zone: Zone, keys: list[ZoneKey], policy: Policy, old: dict, new: dict
    ) -> None:
        self.origin_wire = zone.origin.to_wire().lower()
        self.origin_labels = len(zone.origin.labels) - 1
        self.policy = policy
        self.ksks = [k for k in keys if k.ksk and k.signing and k.private is not None]
        self.zsks = [k for k in keys if k.zsk and k.signing and k.private is not None]
        self.old, self.new = old, new
        self.used: set[tuple] = set()  # the cache keys of the signatures made or reused

    def sign(self, key: Key, records: Records) -> Records:
        owner_wire = labels_wire(key) + self.origin_wire
        labels = self.origin_labels + len(key) - (1 if key[:1] == (b"*",) else 0)
        wires = []
        for zone_key, cache_key in self.cache_keys(key, records):
            expiration = cache_key[-1]
            rdata = self.old.get(cache_key) or self._rrsig(
                owner_wire, labels, records, zone_key, expiration
            )
            self.new[cache_key] = rdata
            self.used.add(cache_key)
            wires.append(rdata)
        return Records(RRSIG, records.ttl, tuple(wires))

    def cache_keys(self, key: Key, records: Records) -> list[tuple[ZoneKey, tuple]]:
        """Return the keys signing records at key, each with the cache key of its RRSIG."""
        owner_wire = labels_wire(key) + self.origin_wire
        keys = self.ksks if records.rdtype in (DNSKEY, CDS, CDNSKEY) else self.zsks
        expiration = self.policy.expiration
        if self.policy.jitter:
            expiration -= (
                zlib.crc32(owner_wire + bytes((records.rdtype & 0xFF,))) % self.policy.jitter
            )
        inception = self.policy.inception
        return [(k, (owner_wire, records, k.tag, inception, expiration)) for k in keys]

    def _rrsig(
        self, owner_wire: bytes, labels: int, records: Records, key: ZoneKey, expiration: int
    ) -> bytes:
        rdtype, ttl = records.rdtype, records.ttl
        head = (
            RRSIG_FIXED.pack(
                rdtype,
                key.dnskey.algorithm,
                labels,
                ttl,
                expiration,
                self.policy.inception,
                key.tag,
            )
            + self.origin_wire
        )
        prefix = owner_wire + RR_FIXED.pack(rdtype, IN, ttl)
        data = [head]
        for rdata in sorted(canonical_rdata(rdtype, wire) for wire in records.wires):
            data.append(prefix + len(rdata).to_bytes(2, "big") + rdata)
        return head + key.sign(b"".join(data))


def canonical_rdata(rdtype: int, wire: bytes) -> bytes:
    """Return rdata in the canonical form signatures cover (RFC 4034 6.2)."""
    if rdtype not in CANONICAL_NAMES:
        return wire
    return dns.rdata.from_wire(IN, rdtype, wire, 0, len(wire)).to_digestable()


def signed_rrsets(zone: Zone) -> Iterator[tuple[dns.name.Name, Records]]:
    """Yield what signing added that is not at a node of the zone: RRSIGs and NSEC3s."""
    signed: Signed | None = zone.dnssec
    if signed is None:
        return
    nsec3_names = {(b32hex(d),): node.name for d, node in signed.nsec3_nodes.items()}
    for node in signed.nsec3_nodes.values():
        yield node.name, node.records(NSEC3)
    for (key, _), records in signed.sigs.items():
        node = zone._nodes.get(key)
        yield (node.name if node is not None else nsec3_names[key]), records


def new_private_key(algorithm: int) -> PrivateKey:
    """Return a new private key for algorithm (13 or 15)."""
    if algorithm == ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == ECDSAP256SHA256:
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unsupported DNSSEC algorithm {algorithm}")


def make_dnskey(private: PrivateKey, algorithm: int, *, ksk: bool) -> dns.rdata.Rdata:
    """Return the DNSKEY rdata of a key (flags 257 for a key signing key, RFC 4034 2.1.1)."""
    flags = dns.rdtypes.dnskeybase.Flag.ZONE | (dns.rdtypes.dnskeybase.Flag.SEP if ksk else 0)
    return dns.dnssec.make_dnskey(private.public_key(), algorithm, flags)


def bind_private_text(private: PrivateKey, algorithm: int) -> str:
    """Return the key in BIND's K*.private format (dnssec-signzone, backups)."""
    if isinstance(private, ed25519.Ed25519PrivateKey):
        raw = private.private_bytes_raw()
        name = "ED25519"
    else:
        raw = private.private_numbers().private_value.to_bytes(32, "big")
        name = "ECDSAP256SHA256"
    secret = base64.b64encode(raw).decode()
    return f"Private-key-format: v1.3\nAlgorithm: {algorithm} ({name})\nPrivateKey: {secret}\n"

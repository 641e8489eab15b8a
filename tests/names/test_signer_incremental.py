"""A change to a signed zone re-signed on its own (signer.patch_signed + signer.resign) leaves
what a full signing of the same data leaves: the same RRsets, the same NSEC or NSEC3 chain,
the same signature headers (the signature bytes are left out of the comparison, so it holds
however the key signs), every one of them valid; and the zone being served meanwhile does not
change."""

from __future__ import annotations

import random

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from dnsadmin.names import signer
from dnsadmin.names.zone import Zone, build_zone
from tests.names.validators import KeySet, policy

ORIGIN = "inc.test."
KEYS = KeySet.new()
A, TXT, MX, NS, DS = (dns.rdatatype.from_text(t) for t in ("A", "TXT", "MX", "NS", "DS"))
IN = dns.rdataclass.IN


def wire(rdtype: int, text: str) -> bytes:
    return dns.rdata.from_text(IN, rdtype, text, dns.name.from_text(ORIGIN), False).to_wire()


def first_rows() -> dict[tuple[str, int], list[tuple[int, bytes]]]:
    """A zone with a delegation (signed DS, glue), a wildcard and empty non-terminals."""
    text = {
        ("@", dns.rdatatype.SOA): [
            (3600, wire(dns.rdatatype.SOA, "ns1 host 1 7200 900 86400 300"))
        ],
        ("@", NS): [(300, wire(NS, "ns1"))],
        ("@", MX): [(300, wire(MX, "10 mail"))],
        ("ns1", A): [(300, wire(A, "192.0.2.1"))],
        ("mail", A): [(300, wire(A, "192.0.2.25"))],
        ("sub", NS): [(300, wire(NS, "ns.sub"))],
        ("sub", DS): [(300, wire(DS, "12345 13 2 " + "ab" * 32))],
        ("ns.sub", A): [(300, wire(A, "192.0.2.53"))],
        ("*.wild", A): [(300, wire(A, "192.0.2.99"))],
        ("a.b.c", TXT): [(300, wire(TXT, '"deep"'))],
    }
    return dict(text)


NAMES = ["www", "mail", "x.y.z", "a.b.c", "b.c", "w.b.c", "*.wild", "host.wild", "ns.sub", "zz"]


def change(rng: random.Random, rows: dict) -> list[tuple[str, int]]:
    """Change one or two RRsets at random (add, replace or remove); return their keys."""
    keys = []
    for owner in rng.sample(NAMES, rng.choice([1, 2])):
        rdtype = rng.choice([A, TXT])
        if (owner, rdtype) in rows and rng.random() < 0.5:
            del rows[(owner, rdtype)]
        else:
            ttl = rng.choice([300, 600])
            values = rng.sample(range(1, 50), rng.choice([1, 2]))
            text = (lambda v: f"192.0.2.{v}") if rdtype == A else (lambda v: f'"v{v}"')
            rows[(owner, rdtype)] = [(ttl, wire(rdtype, text(v))) for v in values]
        keys.append((owner, rdtype))
    return keys


def build(rows: dict, serial: int) -> Zone:
    flat = [(owner, ttl, rdtype, w) for (owner, rdtype), rrs in rows.items() for ttl, w in rrs]
    return build_zone(ORIGIN, flat, serial=serial)


def contents(zone: Zone) -> list[tuple]:
    """Every RRset served, signatures cut to what a full signing fixes (all but the
    signature field itself, so the comparison holds however the key signs)."""
    found = []
    for name, records in zone.rrsets():
        wires = records.wires
        if records.rdtype == dns.rdatatype.RRSIG:
            wires = tuple(sorted(w[:18] for w in wires))  # covered .. key tag
        found.append((name.to_text().lower(), records.rdtype, records.ttl, tuple(sorted(wires))))
    return sorted(found)


def assert_valid(zone: Zone) -> None:
    """Check every signature with dnspython against the zone's DNSKEY set."""
    origin = zone.origin
    dnskey = zone._nodes[()].get(dns.rdatatype.DNSKEY)
    keys = {origin: dnskey}
    rrsets = {}
    for name, records in zone.rrsets():
        rrset = dns.rrset.RRset(name, IN, records.rdtype)
        for w in records.wires:
            rrset.add(dns.rdata.from_wire(IN, records.rdtype, w, 0, len(w)), records.ttl)
        rrsets.setdefault(name, []).append(rrset)
    sigs = {(n, r.covers): r for n, sets in rrsets.items() for r in sets if r.rdtype == 46}
    for name, sets in rrsets.items():
        for rrset in sets:
            if rrset.rdtype != dns.rdatatype.RRSIG and (name, rrset.rdtype) in sigs:
                dns.dnssec.validate(rrset, sigs[(name, rrset.rdtype)], keys, origin)


@pytest.mark.parametrize("nsec3", [True, False], ids=["nsec3", "nsec"])
def test_random_changes_re_signed_on_their_own_match_a_full_signing(nsec3):
    rng = random.Random(13 if nsec3 else 14)
    window = policy(nsec3=nsec3)
    rows = first_rows()
    served = build(rows, 1)
    signer.sign_zone(served, KEYS.keys, window)
    for serial in range(2, 42):
        keys = change(rng, rows)
        records = [(o, ttl, t, w) for (o, t) in keys for ttl, w in rows.get((o, t), [])]
        before = contents(served)
        patched = signer.patch_signed(served, keys, records, serial=serial)
        signer.resign(patched, served, {owner for owner, _ in keys})
        # The zone served meanwhile is what it was (copy-on-write of what the patch touched).
        assert contents(served) == before
        full = build(rows, serial)
        signer.sign_zone(full, KEYS.keys, window)
        assert contents(patched) == contents(full), f"after change {serial}: {keys}"
        assert patched.dnssec.chain == full.dnssec.chain
        assert patched.dnssec.hashes == full.dnssec.hashes
        served = patched
    assert_valid(served)
    # The signature cache holds what is served, not every signature ever made.
    assert len(served.dnssec.cache) == sum(len(s.wires) for s in served.dnssec.sigs.values())


def test_a_delegation_made_or_a_signer_record_edited_needs_a_full_signing():
    rows = first_rows()
    served = build(rows, 1)
    signer.sign_zone(served, KEYS.keys, policy())
    cut = [("zz", 300, NS, wire(NS, "ns.elsewhere.test."))]
    with pytest.raises(signer.Unpatchable):
        signer.patch_signed(served, [("zz", NS)], cut, serial=2)
    key = [("@", 300, dns.rdatatype.DNSKEY, KEYS.keys[0].dnskey.to_wire())]
    with pytest.raises(signer.Unpatchable):
        signer.patch_signed(served, [("@", dns.rdatatype.DNSKEY)], key, serial=2)

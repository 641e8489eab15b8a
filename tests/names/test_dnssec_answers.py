"""Signed zones, bytes in and bytes out: what DO changes, what it does not, and the signer."""

from __future__ import annotations

import time

import dns.dnssec
import dns.message
import dns.name
import dns.rdatatype
import dns.rrset

from dnsadmin.names import signer
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.zone import zone_from_text
from tests.names.validators import ORIGIN, SIGNED_TEST, KeySet, policy, signed_zone
from tests.names.zones import authoritative

KEYS = KeySet.new()
QUESTIONS = [("www", "A"), ("nx", "A"), ("www", "MX"), ("x.wild", "A"), ("one", "A"), ("c", "A")]


def query(label: str, rdtype: str, **kw) -> bytes:
    name = f"{label}.{ORIGIN}" if label else ORIGIN
    return dns.message.make_query(name, rdtype, **kw).to_wire()


def test_without_do_a_signed_zone_answers_byte_for_byte_as_unsigned():
    chain = authoritative(ZoneCatalog([signed_zone(SIGNED_TEST, ORIGIN, KEYS)]))
    plain = authoritative(ZoneCatalog([zone_from_text(SIGNED_TEST, ORIGIN)]))
    for label, rdtype in QUESTIONS:
        for kw in ({}, {"use_edns": 0}):
            wire = query(label, rdtype, **kw)
            signed_answer = chain.resolve(wire, tcp=False, client="192.0.2.1")[0]
            assert signed_answer == plain.resolve(wire, tcp=False, client="192.0.2.1")[0]


def test_the_memo_keeps_do_and_plain_answers_apart():
    chain = authoritative(ZoneCatalog([signed_zone(SIGNED_TEST, ORIGIN, KEYS)]))
    plain, do = query("www", "A", use_edns=0), query("www", "A", want_dnssec=True)
    for wire in (plain, do, plain, do):  # the second round comes from the memo
        for fast in (False, True):
            got = chain.at_once(wire, "127.0.0.1") if fast else None
            response = got[0] if got else chain.resolve(wire, tcp=False, client="127.0.0.1")[0]
            types = {r.rdtype for r in dns.message.from_wire(response).answer}
            assert (dns.rdatatype.RRSIG in types) == (wire is do)


def test_signatures_validate_and_are_reused_when_nothing_changed():
    now = time.time()  # one signing period: the same validity window
    first = signed_zone(SIGNED_TEST, ORIGIN, KEYS, now=now)
    again = signed_zone(SIGNED_TEST, ORIGIN, KEYS, previous=first, now=now)
    assert again.dnssec.sigs == first.dnssec.sigs  # ECDSA would differ if made again
    edited = signed_zone(
        SIGNED_TEST, ORIGIN, KEYS, extra="www2 IN A 192.0.2.2\n", previous=first, now=now
    )
    www = ((b"www",), dns.rdatatype.A)
    assert edited.dnssec.sigs[www] == first.dnssec.sigs[www]
    origin = dns.name.from_text(ORIGIN)
    keys = dns.rrset.from_rdata_list(origin, 3600, [k.dnskey for k in KEYS.keys])
    node = edited._nodes[(b"www2",)]
    a = dns.rrset.from_rdata_list(node.name, 300, list(node.get(dns.rdatatype.A)))
    sig = edited.dnssec.sigs[((b"www2",), dns.rdatatype.A)]
    rrsig = dns.rrset.from_text_list(
        node.name, 300, "IN", "RRSIG",
        [dns.rdata.from_wire("IN", "RRSIG", w, 0, len(w)).to_text() for w in sig.wires],
    )  # fmt: skip
    dns.dnssec.validate(a, rrsig, {origin: keys})


def test_expirations_are_jittered_and_inceptions_in_the_past():
    zone = signed_zone(SIGNED_TEST, ORIGIN, KEYS)
    window = policy()
    rrsigs = [
        dns.rdata.from_wire("IN", "RRSIG", w, 0, len(w))
        for sig in zone.dnssec.sigs.values()
        for w in sig.wires
    ]
    assert all(r.inception < time.time() for r in rrsigs)
    expirations = {r.expiration for r in rrsigs}
    assert len(expirations) > 5 and max(expirations) <= window.expiration


def test_the_nsec3_chain_closes_and_has_rfc_9276_parameters():
    zone = signed_zone(SIGNED_TEST, ORIGIN, KEYS)
    hashes = zone.dnssec.hashes
    following = []
    for digest in hashes:
        (rdata,) = zone.dnssec.nsec3_nodes[digest].get(dns.rdatatype.NSEC3)
        assert (rdata.iterations, rdata.salt, rdata.flags) == (0, b"", 0)
        following.append(rdata.next)
    assert following == hashes[1:] + hashes[:1]
    (param,) = zone._nodes[()].get(dns.rdatatype.NSEC3PARAM)
    assert (param.iterations, param.salt) == (0, b"")


def test_bitmap_encodes_windows_as_rfc_4034_shows():
    # RFC 4034 4.3's example: A MX RRSIG NSEC TYPE1234.
    wire = signer.bitmap([1, 15, 46, 47, 1234])
    assert wire.hex() == "000640010000000304" + "1b" + "00" * 26 + "20"

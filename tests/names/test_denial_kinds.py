"""Denial of existence for every kind of name a signed zone does not have (RFC 4035 3.1.3,
RFC 5155 7.2), judged with dnspython's own NSEC3 hashing and signature checks, not ours: each
proof record is signed by the zone's key and matches or covers the names the RFCs ask for. Each
question is asked three times (worked out, then kept, then in another case)."""

from __future__ import annotations

import base64

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from dnsadmin.names.catalog import ZoneCatalog
from tests.names.validators import ORIGIN, SIGNED_TEST, KeySet, signed_zone
from tests.names.zones import authoritative

KEYS = KeySet.new()
APEX = dns.name.from_text(ORIGIN)
NSEC3, NSEC, RRSIG = dns.rdatatype.NSEC3, dns.rdatatype.NSEC, dns.rdatatype.RRSIG


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text, APEX) if text else APEX


@pytest.fixture(scope="module", params=["nsec3", "nsec"])
def chain(request):
    zone = signed_zone(SIGNED_TEST, ORIGIN, KEYS, nsec3=request.param == "nsec3")
    return authoritative(ZoneCatalog([zone]))


def asked(chain, qname: str, rdtype: str) -> list[dns.message.Message]:
    """Ask three times: worked out, kept, and kept again for the name in another case."""
    answers = []
    for text in (qname, qname, qname.upper()):
        query = dns.message.make_query(name(text), rdtype, want_dnssec=True, payload=1232)
        wire = query.to_wire()
        kept = chain.at_once(wire, "192.0.2.1")
        response = kept[0] if kept else chain.resolve(wire, tcp=False, client="192.0.2.1")[0]
        answers.append(dns.message.from_wire(response))
    assert len({str(a.authority).lower() for a in answers}) == 1  # the same proof each time
    return answers


def checked(response: dns.message.Message) -> list[dns.rrset.RRset]:
    """Return the denial records of the authority section, after checking every signed RRset
    of the answer and authority sections against its RRSIG and the zone's keys."""
    keys = {APEX: dns.rrset.from_rdata_list(APEX, 3600, [k.dnskey for k in KEYS.keys])}
    sections = response.answer + response.authority
    sigs = {(r.name, r.covers): r for r in sections if r.rdtype == RRSIG}
    referral = not response.flags & dns.flags.AA
    for rrset in sections:
        # A delegation's NS records are the child's: the parent does not sign them.
        if rrset.rdtype != RRSIG and not (referral and rrset.rdtype == dns.rdatatype.NS):
            dns.dnssec.validate(rrset, sigs[(rrset.name, rrset.rdtype)], keys)
    return [r for r in response.authority if r.rdtype in (NSEC, NSEC3)]


def digest(owner: dns.name.Name) -> str:
    return dns.dnssec.nsec3_hash(owner, "", 0, 1)


def nsec3_matches(records, owner: str) -> dns.rdata.Rdata:
    (found,) = [r[0] for r in records if r.name.labels[0].decode().upper() == digest(name(owner))]
    return found


def nsec3_covers(records, owner: str) -> None:
    target = digest(name(owner))
    for rrset in records:
        start = rrset.name.labels[0].decode().upper()
        end = base64.b32hexencode(rrset[0].next).decode()
        if (start < target < end) or (end <= start and (target > start or target < end)):
            return
    raise AssertionError(f"no NSEC3 covers {owner}")


def nsec_covers(records, owner: str) -> None:
    target = name(owner)
    for rrset in records:
        start, end = rrset.name, rrset[0].next
        if (start < target < end) or (end <= start and (target > start or target < end)):
            return
    raise AssertionError(f"no NSEC covers {owner}")


def nsec_at(records, owner: str) -> dns.rdata.Rdata:
    (found,) = [r[0] for r in records if r.name == name(owner)]
    return found


def types(rdata) -> set[int]:
    return {t for window, bits in rdata.windows for t in _bits(window, bits)}


def _bits(window: int, bitmap: bytes):
    for i, byte in enumerate(bitmap):
        for bit in range(8):
            if byte & (0x80 >> bit):
                yield window * 256 + i * 8 + bit


def is_nsec3(records) -> bool:
    return all(r.rdtype == NSEC3 for r in records)


def test_a_name_that_does_not_exist(chain):
    for response in asked(chain, "nx", "A"):
        assert response.rcode() == dns.rcode.NXDOMAIN
        records = checked(response)
        if is_nsec3(records):
            nsec3_matches(records, "")  # the closest encloser: the apex
            nsec3_covers(records, "nx")  # the next closer name
            nsec3_covers(records, "*")  # no wildcard at the closest encloser
        else:
            nsec_covers(records, "nx")
            nsec_covers(records, "*")


def test_a_name_below_an_empty_non_terminal(chain):
    for response in asked(chain, "x.b.c", "A"):
        assert response.rcode() == dns.rcode.NXDOMAIN
        records = checked(response)
        if is_nsec3(records):
            nsec3_matches(records, "b.c")
            nsec3_covers(records, "x.b.c")
            nsec3_covers(records, "*.b.c")
        else:
            nsec_covers(records, "x.b.c")
            nsec_covers(records, "*.b.c")


def test_no_data_at_a_name(chain):
    for response in asked(chain, "www", "MX"):
        assert (response.rcode(), response.answer) == (dns.rcode.NOERROR, [])
        records = checked(response)
        found = nsec3_matches(records, "www") if is_nsec3(records) else nsec_at(records, "www")
        assert dns.rdatatype.A in types(found)
        assert not {dns.rdatatype.MX, dns.rdatatype.CNAME} & types(found)


def test_no_data_at_an_empty_non_terminal(chain):
    for response in asked(chain, "b.c", "A"):
        assert (response.rcode(), response.answer) == (dns.rcode.NOERROR, [])
        records = checked(response)
        if is_nsec3(records):
            assert types(nsec3_matches(records, "b.c")) == set()
        else:
            nsec_covers(records, "b.c")


def test_a_wildcard_answer_proves_the_name_itself_does_not_exist(chain):
    for response in asked(chain, "x.wild", "A"):
        (answer,) = [r for r in response.answer if r.rdtype == dns.rdatatype.A]
        (sig,) = [r for r in response.answer if r.rdtype == RRSIG]
        assert sig[0].labels == len(name("*.wild").labels) - 2  # signed as the wildcard
        records = checked(response)
        if is_nsec3(records):
            nsec3_covers(records, "x.wild")
        else:
            nsec_covers(records, "x.wild")


def test_a_wildcard_without_the_type_asked(chain):
    for response in asked(chain, "x.wild", "MX"):
        assert (response.rcode(), response.answer) == (dns.rcode.NOERROR, [])
        records = checked(response)
        if is_nsec3(records):
            nsec3_matches(records, "wild")
            nsec3_covers(records, "x.wild")
            assert dns.rdatatype.MX not in types(nsec3_matches(records, "*.wild"))
        else:
            nsec_covers(records, "x.wild")
            assert dns.rdatatype.MX not in types(nsec_at(records, "*.wild"))


def test_a_delegation_without_ds(chain):
    for response in asked(chain, "host.insecure", "A"):
        assert not response.flags & dns.flags.AA
        records = checked(response)
        found = (
            nsec3_matches(records, "insecure")
            if is_nsec3(records)
            else nsec_at(records, "insecure")
        )
        assert dns.rdatatype.NS in types(found) and dns.rdatatype.DS not in types(found)


def test_proofs_for_unique_names_are_not_kept_until_a_name_comes_back(chain):
    def ask(text: str) -> None:
        query = dns.message.make_query(name(text), "A", want_dnssec=True, payload=1232)
        chain.resolve(query.to_wire(), tcp=False, client="192.0.2.1")

    before = chain.memory()["answers"]
    for i in range(300):
        ask(f"flood{i}")  # a random-subdomain flood: each name's proof is its own
    assert chain.memory()["answers"] == before
    ask("flood7")
    assert chain.memory()["answers"] == before + 1

"""Every record type dnspython knows is accepted, stored canonically, exported and served.

The types come from dnspython itself (its RdataType, less its meta and query
types), so a dnspython release with a new type fails here until the table below
has a sample for it.
"""

from __future__ import annotations

import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from dnsadmin import rules
from dnsadmin.changes import RecordData, RRsetEdit, add_record, apply_changes, fingerprint
from dnsadmin.models import Zone
from dnsadmin.names.authority import answer
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.snapshot import load_zone
from tests.dnsadmin.test_zonefile import dump, load

ORIGIN = dns.name.from_text("example.org.")

# Key and signature material in base64; the rdata classes check the encoding, not the crypto.
KEY = (
    "AwEAAaetidLzsKWUt4swWR8yu0wPHPiUi8LUsAD0QPWU+wzt89epO6tH zkMBVDkC7qphQO2hTY4hHn9npWFRw5BYubE="
)
SIG = (
    "MxFcby9k/yvedMfQgKzhH5er0Mu/vILz45IkskceFGgiWCn/GxHhai6V"
    "AuHAoNUz4YoU1tVfSCSqQYn6//11U6Nld80jEeC8aTrO+KKmCaY="
)
DIGEST = "ab" * 32

# One valid presentation-format sample per type, in dnspython's syntax (several from
# dnspython's tests/example zone). Names are absolute or relative to example.org.
SAMPLES = {
    "A": "192.0.2.1",
    "NS": "ns2.example.net.",
    "CNAME": "www.example.net.",
    "WKS": "192.0.2.1 6 ( 21 23 25 )",
    "PTR": "host.example.net.",
    "HINFO": '"Generic PC clone" "NetBSD-1.4"',
    "MX": "10 mail",
    "TXT": '"v=spf1 -all" "two strings"',
    "RP": "hostmaster txt",
    "AFSDB": "1 afs",
    "X25": '"311061700956"',
    "ISDN": '"150862028003217" "004"',
    "RT": "10 relay",
    "NSAP": "0x47.000580005a0000000001e133ffffff000161.00",
    "NSAP-PTR": "nsap",
    "SIG": f"NXT 1 3 3600 20200101000000 20030101000000 2143 example.org. {SIG}",
    "KEY": f"512 255 1 {KEY}",
    "PX": "10 map822 mapx400",
    "GPOS": '"-22.6882" "116.8652" "250.0"',
    "AAAA": "2001:DB8::1",
    "LOC": "60 9 0.000 N 24 39 0.000 E 10.00m 20m 2000m 20m",
    "SRV": "10 60 5060 sip",
    "NAPTR": '100 10 "S" "SIP+D2U" "" _sip._udp',
    "KX": "10 kdc",
    "CERT": f"PKIX 65535 RSASHA256 {SIG}",
    "DNAME": "example.net.",
    "APL": "1:192.168.32.0/21 !1:192.168.38.0/28 2:2001:db8::/32",
    "DS": f"12345 13 2 {DIGEST}",
    "SSHFP": "4 2 " + "cd" * 32,
    "IPSECKEY": f"10 1 2 192.0.2.38 {KEY}",
    "RRSIG": f"A 13 3 3600 20300101000000 20200101000000 12345 example.org. {SIG}",
    "NSEC": "next A MX RRSIG NSEC TYPE1234",
    "DNSKEY": f"257 3 13 {KEY}",
    "DHCID": "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=",
    "NSEC3": "1 1 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG",
    "NSEC3PARAM": "1 0 12 aabbccdd",
    "TLSA": f"3 1 1 {DIGEST}",
    "SMIMEA": "3 0 1 " + "ef" * 32,
    "HIP": f"2 200100107b1a74df365639cc39f1d578 {KEY.replace(' ', '')} rvs",
    "NINFO": '"node information"',
    "CDS": f"12345 13 2 {DIGEST}",
    "CDNSKEY": f"257 3 13 {KEY}",
    "OPENPGPKEY": KEY,
    "CSYNC": "2026010100 3 A NS AAAA",
    "ZONEMD": "2026010100 1 1 " + "ab" * 48,
    "SVCB": '1 svc alpn="h2,h3" port=8443',
    "HTTPS": "1 . alpn=h2 ipv4hint=192.0.2.1",
    "DSYNC": "CDS NOTIFY 5359 notify",
    "HHIT": KEY,
    "BRID": KEY,
    "SPF": '"v=spf1 mx -all"',
    "NID": "10 0014:4fff:ff20:ee64",
    "L32": "10 10.1.2.0",
    "L64": "10 2001:0db8:1140:1000",
    "LP": "10 l64-subnet",
    "EUI48": "00-00-5e-00-53-2a",
    "EUI64": "00-00-5e-ef-10-00-00-2a",
    "URI": '10 1 "https://www.example.org/"',
    "CAA": '0 issue "letsencrypt.org"',
    "AVC": '"app-name:WOLFGANG|app-class:OAM|business=yes"',
    "AMTRELAY": "10 0 3 amtrelays",
    "RESINFO": "qnamemin exterr=15,16,17",
    "WALLET": '"BTC" "bc1qexample"',
    "DLV": f"12345 13 2 {DIGEST}",
}

# For the types dnspython names but has no rdata class for (MD, NULL, A6, TA...): RFC 3597
# generic data is their only syntax, in zone files as in dnspython.
GENERIC_SAMPLE = r"\# 4 0a000001"


def known_types() -> list[dns.rdatatype.RdataType]:
    """Every type dnspython names that can be data in a zone (not a query or meta type).

    The SOA is left out: it lives on the Zone row (see test_zonefile for its round trip).
    """
    return [
        rdtype
        for rdtype in dns.rdatatype.RdataType
        if not dns.rdatatype.is_metatype(rdtype) and rdtype not in rules.ZONE_OWNED_TYPES
    ]


def implemented(rdtype: int) -> bool:
    return dns.rdata.get_rdata_class(dns.rdataclass.IN, rdtype) is not dns.rdata.GenericRdata


TYPES = [dns.rdatatype.to_text(rdtype) for rdtype in known_types()]


def sample(rdtype: str) -> str:
    code = dns.rdatatype.from_text(rdtype)
    return SAMPLES[rdtype] if implemented(code) else GENERIC_SAMPLE


def expected(rdtype: str) -> dns.rdata.Rdata:
    """The sample as dnspython parses it for class IN, relative names taken from the origin."""
    code = dns.rdatatype.from_text(rdtype)
    return dns.rdata.from_text(
        dns.rdataclass.IN, code, sample(rdtype), origin=ORIGIN, relativize=False
    )


def owner_for(rdtype: str) -> str:
    """Each type at its own name, so no rule (CNAME alone, delegations) links two of them."""
    return rdtype.lower()


def stored(zone: Zone, **lookup: str) -> list[tuple[str, str, int, str, bytes]]:
    rows = zone.records.filter(**lookup).select_related("zone").order_by("owner", "rdtype", "rdata")
    return [(r.owner, r.rdtype, r.effective_ttl, r.rdata, bytes(r.wire)) for r in rows]


def canonical_row(zone: Zone, rdtype: str) -> list[tuple[str, str, int, str, bytes]]:
    """What a sample saved with no TTL must be stored as: dnspython's text and wire forms."""
    rdata = expected(rdtype)
    return [(owner_for(rdtype), rdtype, zone.default_ttl, rdata.to_text(), rdata.to_wire())]


def served(rdtype: str) -> set[str]:
    """The rdata the engine, built from the database, returns for the type at its owner.

    An NS RRset below the apex is a delegation, answered by a referral: it is served in
    the authority section, without AA.
    """
    catalog = ZoneCatalog([load_zone(ORIGIN.to_text())])
    qname = dns.name.from_text(owner_for(rdtype), ORIGIN)
    query = dns.message.make_query(qname, rdtype)
    response = dns.message.from_wire(answer(query.to_wire(), catalog, tcp=True))
    return {
        rdata.to_text()
        for rrset in response.answer + response.authority
        if rrset.name == qname and rrset.rdtype == dns.rdatatype.from_text(rdtype)
        for rdata in rrset
    }


def test_the_samples_cover_exactly_the_types_dnspython_implements():
    wanted = {rdtype for rdtype in TYPES if implemented(dns.rdatatype.from_text(rdtype))}
    assert set(SAMPLES) == wanted
    assert {"A", "MX", "HTTPS", "TLSA", "DNAME"} <= wanted  # the selection is not empty


@pytest.mark.django_db
@pytest.mark.parametrize("rdtype", TYPES)
def test_a_record_added_as_typed_is_stored_canonically(zone, rdtype):
    owner = owner_for(rdtype)
    add_record(zone, owner.upper(), rdtype.lower(), sample(rdtype))
    assert stored(zone, owner=owner, rdtype=rdtype) == canonical_row(zone, rdtype)


@pytest.mark.django_db
@pytest.mark.parametrize("rdtype", TYPES)
def test_the_type_is_saved_by_the_change_service_survives_dump_and_load_and_is_served(zone, rdtype):
    edit = RRsetEdit(owner_for(rdtype), rdtype, (RecordData(sample(rdtype)),), fingerprint(()))
    apply_changes(zone, [edit])
    assert stored(zone, owner=edit.owner, rdtype=rdtype) == canonical_row(zone, rdtype)
    everything = stored(zone)
    load(dump(ORIGIN.to_text()), "--replace")
    assert stored(Zone.objects.get()) == everything
    assert served(rdtype) == {expected(rdtype).to_text()}

"""Building zones from database-shaped records, and their catalog."""

from __future__ import annotations

import gc
import weakref

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from dnsadmin.names import zone as zone_module
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.zone import build_zone, zone_from_text
from tests.names.zones import EXAMPLE_COM, EXAMPLE_NET

SOA_TEXT = "ns1.example.com. hostmaster.example.com. 5 7200 900 1209600 300"


def record(owner: str, rdtype: str, text: str, ttl: int = 300) -> tuple[str, int, int, bytes]:
    kind = dns.rdatatype.from_text(rdtype)
    rdata = dns.rdata.from_text(dns.rdataclass.IN, kind, text)
    return owner, ttl, kind, rdata.to_wire()


def small_zone(**kw):
    records = [
        record("@", "SOA", SOA_TEXT, 3600),
        record("@", "NS", "ns1.example.com."),
        record("ns1", "A", "192.0.2.1"),
        record("a.b.c", "TXT", '"deep"'),
        record("Mixed.Case", "A", "192.0.2.2"),
    ]
    return build_zone("example.com.", records, **kw)


def test_it_builds_a_zone_from_wire_records():
    zone = small_zone()
    assert zone.origin == dns.name.from_text("example.com.")
    assert zone.serial == 5
    names = {name.to_text() for name, _ in zone.rrsets()}
    assert names == {
        "example.com.",
        "ns1.example.com.",
        "a.b.c.example.com.",
        "Mixed.Case.example.com.",
    }


def test_the_serial_argument_overrides_the_soa_serial():
    zone = small_zone(serial=2024123101)
    assert zone.serial == 2024123101
    assert zone.soa[0].serial == 2024123101
    (owner, records), *_ = zone.rrsets()
    soa = dns.rdata.from_wire(
        dns.rdataclass.IN, records.rdtype, records.wires[0], 0, len(records.wires[0])
    )
    assert soa.serial == 2024123101


def test_a_zone_needs_a_soa_at_its_apex():
    with pytest.raises(ValueError, match="SOA"):
        build_zone("example.com.", [record("www", "A", "192.0.2.1")])


def test_records_outside_the_origin_are_rejected():
    with pytest.raises(ValueError, match="not in zone"):
        build_zone(
            "example.com.",
            [record("@", "SOA", SOA_TEXT), record("www.example.org.", "A", "192.0.2.1")],
        )


def test_owner_names_with_escapes_are_read_as_master_file_text():
    zone = build_zone(
        "example.com.", [record("@", "SOA", SOA_TEXT), record(r"a\.b", "A", "192.0.2.1")]
    )
    owners = {name for name, _ in zone.rrsets()}
    assert dns.name.Name((b"a.b", b"example", b"com", b"")) in owners


def test_transfer_acl_matches_addresses_in_its_networks():
    zone = small_zone(transfer_acl=["127.0.0.1/32", "2001:db8::/32"])
    assert zone.allows_transfer("127.0.0.1")
    assert zone.allows_transfer("2001:db8::7")
    assert not zone.allows_transfer("127.0.0.2")
    assert not zone.allows_transfer("not an address")


def test_transfers_are_denied_by_default():
    assert not small_zone().allows_transfer("127.0.0.1")


def test_zone_from_text_keeps_every_record():
    zone = zone_from_text(EXAMPLE_NET, "example.net.")
    assert sorted((n.to_text(), r.rdtype) for n, r in zone.rrsets()) == [
        ("example.net.", dns.rdatatype.NS),
        ("example.net.", dns.rdatatype.SOA),
        ("host.example.net.", dns.rdatatype.A),
    ]


def test_the_catalog_finds_the_closest_enclosing_zone():
    parent = zone_from_text(EXAMPLE_COM, "example.com.")
    child = build_zone("sub.example.com.", [record("@", "SOA", SOA_TEXT)])
    catalog = ZoneCatalog([parent, child])
    assert catalog.find("www.example.com.") is parent
    assert catalog.find("WWW.SUB.example.com.") is child
    assert catalog.find("sub.example.com.") is child
    assert catalog.find("example.org.") is None
    assert catalog.find("com.") is None


def test_the_catalog_replaces_and_removes_zones():
    catalog = ZoneCatalog([small_zone()])
    origin = dns.name.from_text("example.com.")
    assert catalog.get(origin).serial == 5
    generation = catalog.generation
    catalog.replace(small_zone(serial=6))
    assert (catalog.get(origin).serial, len(catalog)) == (6, 1)
    catalog.remove("example.com.")
    assert catalog.get(origin) is None
    assert catalog.find("www.example.com.") is None
    assert catalog.generation == generation + 2


@pytest.fixture
def settling(monkeypatch):
    """Make a zone of three names big enough to be frozen (zone.settle); unfreeze at the end,
    so that the rest of the session's objects are collected as usual."""
    monkeypatch.setattr(zone_module, "SETTLE_NODES", 3)
    yield
    gc.unfreeze()


def test_a_big_zone_is_frozen_out_of_the_collector_and_freed_whole_when_replaced(settling):
    gc.unfreeze()
    catalog = ZoneCatalog([small_zone()])
    frozen = gc.get_freeze_count()
    assert frozen > 0  # the zone, and whatever else was alive
    first = weakref.ref(catalog.get(dns.name.from_text("example.com.")))
    for _ in range(3):
        catalog.replace(small_zone())
    # Frozen objects are never collected: the zone replaced must go by reference counting
    # alone, which a reference cycle inside it would prevent (memory growing at each reload).
    assert first() is None
    assert gc.get_freeze_count() <= frozen + 100  # the zones replaced left the frozen set


def test_a_small_zone_is_left_to_the_collector():
    before = gc.get_freeze_count()
    small_zone()
    assert gc.get_freeze_count() == before

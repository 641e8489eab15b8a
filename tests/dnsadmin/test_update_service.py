"""The Django side of an UPDATE: the zone's rows read under its lock, one change set written."""

from __future__ import annotations

import dns.name
import dns.rcode
import dns.rdatatype
import dns.update
import pytest
from asgiref.sync import async_to_sync

from dnsadmin import dnssec, snapshot, updates
from dnsadmin.changes import current_rrset
from dnsadmin.models import TsigKey, Zone, ZoneChange
from dnsadmin.names import update

pytestmark = pytest.mark.django_db
ACME = dns.name.from_text("acme.")


@pytest.fixture
def acme(zone) -> TsigKey:
    key, _ = updates.add_key("acme")
    updates.add_rule(zone, key, "zonesub", types=["ANY"])
    return key


def send(build, zone_name: str = "example.org") -> int:
    message = dns.update.UpdateMessage(zone_name)
    build(message)
    return updates.apply_update(update.parse(message.to_wire()), ACME)


def test_a_zone_without_rules_refuses_and_a_stranger_zone_is_notauth(zone):
    assert send(lambda m: m.add("x", 60, "A", "192.0.2.1")) == dns.rcode.REFUSED
    assert send(lambda m: m.add("x", 60, "A", "192.0.2.1"), "example.net") == dns.rcode.NOTAUTH


def test_an_update_is_one_change_set_attributed_to_the_key(zone, acme):
    serial = zone.serial

    def build(m):
        m.add("mail", 300, "A", "192.0.2.25")
        m.add("@", 300, "MX", "10 mail")
        m.delete("www", "A")

    assert send(build) == dns.rcode.NOERROR
    change = ZoneChange.objects.get(source="update")
    assert (change.serial_before, change.via) == (serial, "key acme")
    assert {(r.owner, r.rdtype, r.action) for r in change.rrsets.all()} == {
        ("mail", "A", "added"), ("@", "MX", "added"), ("www", "A", "removed"),
    }  # fmt: skip
    assert current_rrset(zone, "mail", "A")[0].ttl == 300


def test_a_greater_soa_serial_moves_the_zone_forward_and_its_fields_change(zone, acme):
    ahead = zone.serial + 1000
    soa = f"ns1 admin {ahead} 7200 900 1209600 60"
    assert send(lambda m: m.add("@", 300, "SOA", soa)) == dns.rcode.NOERROR
    zone.refresh_from_db()
    assert zone.serial > ahead and zone.contact == "admin.example.org." and zone.minimum == 60


def test_data_the_zone_rules_forbid_is_refused_and_nothing_changes(zone, acme):
    serial = zone.serial

    def build(m):
        m.add("sub", 300, "NS", "ns1.example.net.")
        m.add("host.sub", 300, "TXT", '"below a delegation"')

    assert send(build) == dns.rcode.REFUSED
    assert Zone.objects.get().serial == serial


def served_contents(zone) -> list[tuple]:
    """A served zone's RRsets, signatures cut to their headers (so the comparison holds however the key signs)."""
    found = []
    for name, records in zone.rrsets():
        wires = records.wires
        if records.rdtype == dns.rdatatype.RRSIG:
            wires = tuple(w[:18] for w in wires)
        found.append((name.to_text().lower(), records.rdtype, records.ttl, tuple(sorted(wires))))
    return sorted(found)


def serve(origin: str, previous=None):
    """Return the zone as a worker serves it: refreshed from the database, then signed."""
    zone = snapshot.refresh_zone(origin, previous)
    return async_to_sync(dnssec.signed_for_serving)(zone, previous)


UPDATES = [
    lambda m: m.add("a.b.new", 300, "A", "192.0.2.1"),
    lambda m: (m.add("txt", 300, "TXT", '"one"'), m.add("www", 300, "TXT", '"two"')),
    lambda m: m.replace("www", 600, "A", "192.0.2.81"),
    lambda m: m.delete("a.b.new"),
    lambda m: m.delete("txt", "TXT"),
]


@pytest.mark.parametrize("signing", [None, "nsec3", "nsec"])
def test_an_update_patches_the_zone_served_into_the_zone_built_from_its_rows(zone, acme, signing):
    """What a worker serves after an update it applied (patched from the change, re-signed
    where it changed, no database read) is what a full build and signing of the rows give."""
    if signing:
        dnssec.enable(zone, nsec3=signing == "nsec3")
    served = serve(zone.origin)
    for build in UPDATES:
        message = dns.update.UpdateMessage("example.org")
        build(message)
        rcode, applied = updates.update_zone(update.parse(message.to_wire()), ACME)
        assert rcode == dns.rcode.NOERROR and applied is not None
        patched = snapshot.patched_by(served, applied)
        patched = async_to_sync(dnssec.signed_for_serving)(patched, served)
        full = serve(zone.origin)
        assert patched.serial == full.serial == Zone.objects.get().serial
        assert served_contents(patched) == served_contents(full)
        # Another worker, which serves the zone from before, patches it from the history.
        assert served_contents(serve(zone.origin, served)) == served_contents(full)
        served = patched
    assert snapshot.patched_by(served, applied) is None  # not the zone it started from


def test_a_key_is_read_once_a_second_and_one_removed_stops_working(
    acme, monkeypatch, django_assert_num_queries
):
    keys = updates.StoredKeys()
    assert keys.get(ACME) is not None
    with django_assert_num_queries(0):  # a burst of updates reads the key once
        assert keys.get(ACME) is not None
    acme.delete()
    monkeypatch.setattr(updates, "KEY_KEPT_FOR", 0.0)  # the second has passed
    assert keys.get(ACME) is None

"""The Django side of an UPDATE: the zone's rows read under its lock, one change set written."""

from __future__ import annotations

import dns.name
import dns.rcode
import dns.update
import pytest

from dnsadmin import updates
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

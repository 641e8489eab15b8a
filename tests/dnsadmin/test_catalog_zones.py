"""Catalog zones (RFC 9432): the one the appliance publishes lists its zones as they come and
go; one it follows from a primary makes its members secondary zones."""

from __future__ import annotations

import dns.rdata
import dns.rdatatype
import pytest
from django.core.management.base import CommandError

from dnsadmin import catalogzones
from dnsadmin.changes import (
    TRANSFER,
    RecordData,
    RRsetEdit,
    add_record,
    apply_changes,
    change_settings,
    create_zone,
    delete_zone,
)
from dnsadmin.models import SecondaryZone, Zone
from dnsadmin.names.zone import IN
from dnsadmin.snapshot import load_zone
from tests.dnsadmin.test_update_nsupdate import manage

pytestmark = pytest.mark.django_db
CATALOG = "catalog.invalid."


@pytest.fixture
def catalog_on(settings):
    settings.DNS_CATALOG_ZONE = "Catalog.Invalid"
    settings.DNS_CATALOG_TRANSFER = ["192.0.2.2", "key secondaries"]
    settings.DNS_CATALOG_NOTIFY = ["192.0.2.2:5353"]


def new_zone(origin: str) -> Zone:
    return create_zone(Zone(origin=origin, primary_ns=f"ns1.{origin}", contact=f"dns.{origin}"))


def listed() -> dict[str, str]:
    """The catalog's records as served: owner → rdata, apex SOA and NS aside."""
    served = load_zone(CATALOG)
    return {
        f"{owner.relativize(served.origin)} {dns.rdatatype.to_text(records.rdtype)}": (
            dns.rdata.from_wire(IN, records.rdtype, wire, 0, len(wire)).to_text()
        )
        for owner, records in served.rrsets()
        if owner != served.origin
        for wire in records.wires
    }


def test_member_ids_are_the_sha1_of_the_name_as_in_binds_example():
    assert catalogzones.member_id("domain.example.") == "5960775ba382e7a4e09263fc06e7c00569b6a05c"
    assert catalogzones.member_id("Domain.Example") == catalogzones.member_id("domain.example.")


def test_without_the_setting_there_is_no_catalog(zone):
    assert catalogzones.sync() is None
    assert list(Zone.objects.values_list("origin", flat=True)) == ["example.org."]


def test_the_catalog_lists_each_primary_zone_once(zone, catalog_on):
    catalogzones.sync()
    member = catalogzones.member_id("example.org.")
    assert listed() == {"version TXT": '"2"', f"{member}.zones PTR": "example.org."}
    catalog = Zone.objects.get(origin=CATALOG)
    assert catalog.transfer_acl == "192.0.2.2 key secondaries"
    assert catalog.notify_targets == "192.0.2.2:5353"
    assert catalog.changes.get().source == "catalog"
    assert catalogzones.sync() is None  # current already: no change, no serial bump


def test_members_come_and_go_with_the_zones_and_the_serial_moves(zone, catalog_on):
    catalogzones.sync()
    serial = Zone.objects.get(origin=CATALOG).serial
    other = new_zone("example.net.")
    change = catalogzones.sync()
    assert change.summary == "Catalog: listed example.net."
    assert Zone.objects.get(origin=CATALOG).serial > serial
    assert f"{catalogzones.member_id('example.net.')}.zones PTR" in listed()

    change_settings(zone, {"enabled": False})
    assert catalogzones.sync().summary == "Catalog: dropped example.org."
    delete_zone(other)
    catalogzones.sync()
    assert listed() == {"version TXT": '"2"'}
    change_settings(zone, {"enabled": True})
    catalogzones.sync()
    assert f"{catalogzones.member_id('example.org.')}.zones PTR" in listed()


def test_a_zone_of_that_name_made_by_someone_else_is_left_alone(zone, settings, caplog):
    settings.DNS_CATALOG_ZONE = "example.org."
    new_zone("example.net.")
    assert catalogzones.sync() is None
    assert zone.records.filter(owner="www").exists()
    assert "not create as its catalog" in caplog.text


@pytest.mark.parametrize(
    ("name", "setting", "value"),
    [("bad..name", "DNS_CATALOG_NOTIFY", []), (CATALOG, "DNS_CATALOG_NOTIFY", ["nowhere:x"])],
)
def test_wrong_settings_are_logged_and_change_nothing(zone, settings, caplog, name, setting, value):
    settings.DNS_CATALOG_ZONE = name
    setattr(settings, setting, value)
    assert catalogzones.sync() is None
    assert "is not published" in caplog.text
    assert list(Zone.objects.values_list("origin", flat=True)) == ["example.org."]


def test_secondary_zones_are_not_listed(zone, catalog_on):
    copied = new_zone("copied.example.")
    SecondaryZone.objects.create(zone=copied, primaries="192.0.2.9")
    catalogzones.sync()
    assert "example.org." in listed().values() and "copied.example." not in listed().values()


def test_a_member_added_by_hand_is_dropped_and_the_settings_restored(zone, catalog_on):
    catalogzones.sync()
    catalog = Zone.objects.get(origin=CATALOG)
    add_record(catalog, "stray.zones", "PTR", "stray.example.")
    change_settings(catalog, {"transfer_acl": ""})
    catalogzones.sync()
    catalog.refresh_from_db()
    assert "stray.example." not in listed().values()
    assert catalog.transfer_acl == "192.0.2.2 key secondaries"


# following a catalog from a primary ------------------------------------------------------

FOLLOWED = "catalog.example."


def transferred(catalog: Zone, *members: str, version: str = '"2"') -> None:
    """Write the catalog's data as a transfer from its primary would (through the writer)."""
    wanted = {("version", "TXT"): (RecordData(version),), ("@", "NS"): (RecordData("invalid."),)}
    wanted |= {(f"{catalogzones.member_id(m)}.zones", "PTR"): (RecordData(m),) for m in members}
    current = catalogzones.listed(catalog)
    edits = [RRsetEdit(*key, records) for key, records in wanted.items()]
    edits += [RRsetEdit(*key, ()) for key in current.keys() - wanted.keys()]
    apply_changes(
        catalog, edits, source=TRANSFER, settings={"serial": catalog.serial + 1}, summary="AXFR"
    )


def followed_members() -> dict[str, tuple[str, str, str | None]]:
    rows = SecondaryZone.objects.exclude(zone__origin=FOLLOWED).select_related("zone", "tsig_key")
    return {
        s.zone.origin: (s.catalog, s.primaries, s.tsig_key.name if s.tsig_key else None)
        for s in rows
    }


def test_a_followed_catalog_adds_and_removes_its_members_as_secondary_zones(db):
    manage("tsig", "add", "xfr")
    catalog = catalogzones.add_catalog("Catalog.Example", ["192.0.2.53:5353"], "xfr")
    assert catalogzones.consume([FOLLOWED], True) is False  # nothing transferred yet
    transferred(catalog, "one.example.", "two.example.")
    assert catalogzones.consume([FOLLOWED], False) is True
    source = (FOLLOWED, "192.0.2.53:5353", "xfr.")
    assert followed_members() == {"one.example.": source, "two.example.": source}
    assert catalogzones.consume([FOLLOWED], False) is False  # in line already

    transferred(catalog, "one.example.")
    catalogzones.consume([FOLLOWED], False)
    assert followed_members() == {"one.example.": source}
    assert not Zone.objects.filter(origin="two.example.").exists()


def test_a_catalog_of_another_version_or_listing_our_own_zone_is_not_followed(zone):
    catalog = catalogzones.add_catalog(FOLLOWED, ["192.0.2.53"])
    transferred(catalog, "one.example.", version='"1"')
    assert catalogzones.consume([FOLLOWED], False) is False and followed_members() == {}
    transferred(catalog, "one.example.", "example.org.")
    catalogzones.consume([FOLLOWED], False)
    assert set(followed_members()) == {"one.example."}  # example.org. stays ours
    assert not SecondaryZone.objects.filter(zone=zone).exists()


def test_the_members_go_with_the_catalog(db):
    catalog = catalogzones.add_catalog(FOLLOWED, ["192.0.2.53"])
    transferred(catalog, "one.example.")
    catalogzones.consume([FOLLOWED], False)
    delete_zone(catalog)
    assert catalogzones.consume([], True) is True
    assert not Zone.objects.exists()


def test_the_command_follows_a_catalog(db):
    out = manage("zone", "add-catalog", FOLLOWED, "--primary", "192.0.2.53:5353")
    assert out == f"{FOLLOWED}: catalog followed from 192.0.2.53:5353; its members follow it\n"
    assert SecondaryZone.objects.get().catalog == FOLLOWED
    assert catalogzones.followed().keys() == {FOLLOWED}
    with pytest.raises(CommandError, match="exists already"):
        manage("zone", "add-catalog", FOLLOWED, "--primary", "192.0.2.53")

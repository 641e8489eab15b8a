"""Zone and record rules, enforced by the change service on every write."""

from __future__ import annotations

import datetime

import dns.rdatatype
import pytest
from django.core.exceptions import ValidationError

from dnsadmin.changes import (
    ChangeError,
    RecordData,
    RecordRef,
    RRsetEdit,
    add_record,
    apply_changes,
    create_zone,
    plan_record_change,
)
from dnsadmin.models import Record, Zone, ZoneDataError, next_serial, serial_gt

pytestmark = pytest.mark.django_db


@pytest.fixture
def zone():
    """A zone with nothing but its apex NS, created as the zone page creates one."""
    zone = Zone(
        origin="example.org.",
        primary_ns="ns1.example.org.",
        contact="hostmaster.example.org.",
        serial=2026010100,
    )
    return create_zone(zone)


def add(zone: Zone, owner: str, rdtype: str, rdata: str, ttl: int | None = None) -> Record:
    """Add a record through the change service and return its row."""
    rrset = add_record(zone, owner, rdtype, rdata, ttl).rrsets.get()
    (new,) = {r["rdata"] for r in rrset.after} - {r["rdata"] for r in rrset.before}
    return zone.records.get(owner=rrset.owner, rdtype=rrset.rdtype, rdata=new)


def test_serials_follow_the_date_scheme():
    today = datetime.date(2026, 11, 25)
    assert next_serial(2026010100, today) == 2026112500
    assert next_serial(2026112500, today) == 2026112501
    assert next_serial(2026112599, today) == 2026112600  # 100 changes in a day still go up


def test_serials_never_go_backwards_by_rfc1982_arithmetic():
    today = datetime.date(2026, 11, 25)
    assert next_serial(3000000000, today) == 3000000001  # ahead of the date scheme: count on
    # 2**32-1 is *behind* 2026112500 modulo 2**32, so the date scheme resumes.
    assert next_serial(2**32 - 1, today) == 2026112500
    assert serial_gt(0, 2**32 - 1)
    assert not serial_gt(2**31 + 5, 5)  # exactly half-way round is undefined, not greater
    assert not serial_gt(5, 5)
    assert serial_gt(2026112500, 2026010100)


def test_a_record_is_stored_canonically_with_its_wire_form(zone):
    record = add(zone, "WWW", "a", "192.0.2.1")
    assert (record.owner, record.rdtype, record.rdata) == ("www", "A", "192.0.2.1")
    assert bytes(record.wire) == bytes([192, 0, 2, 1])


def test_relative_names_in_rdata_are_made_absolute(zone):
    record = add(zone, "@", "MX", "10 mail")
    assert record.rdata == "10 mail.example.org."


def test_an_absolute_owner_inside_the_zone_is_made_relative(zone):
    assert add(zone, "ftp.example.org.", "A", "192.0.2.2").owner == "ftp"


def test_an_owner_outside_the_zone_is_refused(zone):
    with pytest.raises(ChangeError) as error:
        add(zone, "www.example.com.", "A", "192.0.2.1")
    assert error.value.field == "owner" and "outside the zone" in str(error.value)


def test_invalid_rdata_is_refused_with_the_reason(zone):
    with pytest.raises(ChangeError) as error:
        add(zone, "www", "A", "192.0.2.300")
    assert error.value.field == "rdata" and "Invalid A data" in str(error.value)
    assert not zone.records.filter(owner="www").exists()


def test_a_type_dnspython_has_no_name_for_is_accepted_in_rfc3597_form(zone):
    # Every type dnspython names is tried in test_rdtypes; this one is a bare number.
    record = add(zone, "x", "TYPE65280", r"\# 2 abcd")
    assert (record.rdtype, record.rdata, bytes(record.wire)) == (
        "TYPE65280",
        r"\# 2 abcd",
        b"\xab\xcd",
    )


def test_query_types_and_the_soa_are_not_records(zone):
    for rdtype in ("ANY", "AXFR", "OPT", "SOA"):
        with pytest.raises(ChangeError) as error:
            add(zone, "@", rdtype, "x")
        assert error.value.field == "rdtype"


def test_a_cname_must_be_alone_at_its_name(zone):
    add(zone, "www", "CNAME", "web.example.net.")
    with pytest.raises(ChangeError, match="must be alone"):
        add(zone, "www", "A", "192.0.2.1")
    add(zone, "mail", "A", "192.0.2.9")
    with pytest.raises(ChangeError, match="must be alone"):
        add(zone, "mail", "CNAME", "elsewhere.example.net.")


def test_a_cname_at_the_apex_is_refused_even_with_no_other_record_there(zone):
    # Only the NS and the SOA (kept on the Zone row) are at the apex.
    assert list(zone.records.filter(owner="@").values_list("rdtype", flat=True)) == ["NS"]
    with pytest.raises(ChangeError) as error:
        add(zone, "@", "CNAME", "www.example.net.")
    assert error.value.field == "owner" and "zone apex" in str(error.value)
    with pytest.raises(ChangeError, match="zone apex"):
        add(zone, "example.org.", "CNAME", "www.example.net.")
    assert not zone.records.exclude(rdtype="NS").exists()
    add(zone, "@", "DNAME", "example.net.")  # RFC 6672: a DNAME may sit at the apex


def test_an_rrset_has_one_ttl(zone):
    two_ttls = (RecordData("192.0.2.1", 300), RecordData("192.0.2.2", 600))
    with pytest.raises(ChangeError) as error:
        apply_changes(zone, [RRsetEdit("www", "A", two_ttls)])
    assert error.value.field == "ttl"
    add(zone, "www", "A", "192.0.2.1", ttl=300)
    add(zone, "www", "A", "192.0.2.2", ttl=300)


def test_only_glue_may_sit_below_a_delegation(zone):
    add(zone, "sub", "NS", "ns.sub.example.org.")
    add(zone, "ns.sub", "A", "192.0.2.53")
    add(zone, "sub", "DS", "12345 13 2 " + "ab" * 32)
    with pytest.raises(ChangeError, match="delegation"):
        add(zone, "www.sub", "TXT", '"hidden"')
    with pytest.raises(ChangeError, match="delegation"):
        add(zone, "sub", "MX", "10 mail.example.org.")


def test_a_delegation_over_existing_data_is_refused(zone):
    add(zone, "www.dept", "TXT", '"data"')
    with pytest.raises(ChangeError, match="delegation"):
        add(zone, "dept", "NS", "ns.example.net.")


def test_duplicate_records_are_refused(zone):
    add(zone, "www", "A", "192.0.2.1")
    with pytest.raises(ChangeError, match="already exists"):
        add(zone, "www", "A", "192.0.2.1")


def test_every_committed_change_bumps_the_serial(zone):
    before = zone.serial
    record = add(zone, "www", "A", "192.0.2.1")
    zone.refresh_from_db()
    after_add = zone.serial
    batch = plan_record_change(zone, {}, old=RecordRef(record.owner, record.rdtype, record.rdata))
    apply_changes(zone, batch.values())
    zone.refresh_from_db()
    assert serial_gt(after_add, before) and serial_gt(zone.serial, after_add)


def test_a_record_cannot_be_saved_or_deleted_behind_the_change_service(zone):
    record = add(zone, "www", "A", "192.0.2.1")
    serial = Zone.objects.get().serial
    record.rdata = "192.0.2.2"
    with pytest.raises(ZoneDataError, match="dnsadmin.changes"):
        record.save()
    with pytest.raises(ZoneDataError):
        Record(zone=zone, owner="x", rdtype="A", rdata="192.0.2.3").save()
    with pytest.raises(ZoneDataError):
        record.delete()
    assert list(zone.records.filter(owner="www").values_list("rdata", flat=True)) == ["192.0.2.1"]
    assert Zone.objects.get().serial == serial


def test_the_soa_is_built_from_the_zone_settings(zone):
    soa = zone.soa_rdata()
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.serial == zone.serial
    assert soa.mname.to_text() == "ns1.example.org."


def test_zone_names_are_canonicalised_and_checked():
    zone = Zone(origin="Example.COM", primary_ns="ns1", contact="hostmaster")
    zone.full_clean()
    assert (zone.origin, zone.primary_ns, zone.contact) == (
        "example.com.",
        "ns1.example.com.",
        "hostmaster.example.com.",
    )
    with pytest.raises(ValidationError):
        Zone(origin="bad..name", primary_ns="ns1", contact="h").full_clean()
    with pytest.raises(ValidationError):
        Zone(origin="x.org", primary_ns="ns1", contact="h", transfer_acl="10.0.0.300").full_clean()

"""The change service: fingerprints, atomic batches, zone rules, one serial bump, history."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from dnsadmin.changes import (
    ChangeError,
    ConflictError,
    RecordData,
    RecordRef,
    RRsetEdit,
    apply_changes,
    current_rrset,
    delete_zone,
    fingerprint,
    import_zone,
    plan_record_change,
    revert_change,
    zone_rows,
)
from dnsadmin.models import Zone
from dnsadmin.zonefile import parse_zone_text
from tests.dnsadmin.conftest import edits

ZONE = """\
$ORIGIN example.org.
$TTL 3600
@     IN SOA ns1 hostmaster 2026010100 7200 900 1209600 300
      IN NS  ns1
      IN MX  10 mail
ns1   IN A   192.0.2.53
www   IN A   192.0.2.80
www   IN A   192.0.2.81
mail  IN A   192.0.2.25
a.dev IN A   192.0.2.1
b.dev IN TXT "b"
"""

pytestmark = pytest.mark.django_db


@pytest.fixture
def zone() -> Zone:
    return import_zone(parse_zone_text(ZONE))[0]


def rrset(zone: Zone, owner: str, rdtype: str) -> set[str]:
    return {r.rdata for r in current_rrset(zone, owner, rdtype)}


def test_an_applied_batch_bumps_the_serial_once_and_records_who_did_what(zone, django_user_model):
    user = django_user_model.objects.create_user("ann", is_staff=True)
    serial = zone.serial
    www = current_rrset(zone, "www", "A")
    edits = [
        RRsetEdit("www", "A", (RecordData("192.0.2.82"),), fingerprint(www)),
        RRsetEdit("ftp", "CNAME", (RecordData("www"),), fingerprint(())),
    ]
    change = apply_changes(zone, edits, user)
    zone.refresh_from_db()
    assert change.serial_before == serial and change.serial_after == zone.serial != serial
    assert change.username == "ann" and change.user == user
    assert rrset(zone, "www", "A") == {"192.0.2.82"}
    assert rrset(zone, "ftp", "CNAME") == {"www.example.org."}
    by_key = {(r.owner, r.rdtype): r for r in change.rrsets.all()}
    assert {r["rdata"] for r in by_key[("www", "A")].before} == {"192.0.2.80", "192.0.2.81"}
    assert by_key[("ftp", "CNAME")].action == "added"


def test_a_stale_fingerprint_is_a_conflict_and_nothing_is_written(zone):
    seen = fingerprint(current_rrset(zone, "www", "A"))
    first = RRsetEdit("www", "A", (RecordData("192.0.2.1"),), seen)
    second = RRsetEdit("www", "A", (RecordData("192.0.2.2"),), seen)
    apply_changes(zone, [first])
    serial = Zone.objects.get().serial
    with pytest.raises(ConflictError) as raised:
        apply_changes(zone, [second])
    assert [c.rdtype for c in raised.value.conflicts] == ["A"]
    assert [r.rdata for r in raised.value.conflicts[0].current] == ["192.0.2.1"]
    assert rrset(zone, "www", "A") == {"192.0.2.1"}
    assert Zone.objects.get().serial == serial


def test_a_batch_breaking_a_rule_writes_none_of_its_edits(zone):
    batch = [
        RRsetEdit("new", "A", (RecordData("192.0.2.9"),)),
        RRsetEdit("www", "CNAME", (RecordData("mail"),)),  # next to www's A
    ]
    serial = zone.serial
    with pytest.raises(ChangeError, match="CNAME"):
        apply_changes(zone, batch)
    assert rrset(zone, "new", "A") == set()
    assert Zone.objects.get().serial == serial
    assert not edits().exists()


def test_bad_rdata_names_the_rrset_and_the_field(zone):
    with pytest.raises(ChangeError) as raised:
        apply_changes(zone, [RRsetEdit("x", "A", (RecordData("not-an-address"),))])
    assert raised.value.field == "rdata" and raised.value.key == ("x", "A")


def test_an_rrset_has_one_ttl(zone):
    records = (RecordData("192.0.2.1", 60), RecordData("192.0.2.2", 120))
    with pytest.raises(ChangeError) as raised:
        apply_changes(zone, [RRsetEdit("x", "A", records)])
    assert raised.value.field == "ttl"


def test_nothing_below_a_delegation_but_glue(zone):
    edits = [
        RRsetEdit("sub", "NS", (RecordData("ns.sub"),)),
        RRsetEdit("x.sub", "TXT", (RecordData('"hidden"'),)),
    ]
    with pytest.raises(ChangeError, match="delegation"):
        apply_changes(zone, edits)


def test_the_apex_ns_cannot_be_deleted(zone):
    with pytest.raises(ChangeError, match="NS records at its apex"):
        apply_changes(zone, [RRsetEdit("@", "NS", ())])


def test_an_edit_that_changes_nothing_does_not_bump_the_serial(zone):
    mail = current_rrset(zone, "mail", "A")
    assert apply_changes(zone, [RRsetEdit("mail", "A", mail, fingerprint(mail))]) is None
    assert not edits().exists()


def test_names_and_rdata_are_stored_canonically(zone):
    apply_changes(zone, [RRsetEdit("Big.Example.Org.", "mx", (RecordData("5   mail"),))])
    assert rrset(zone, "big", "MX") == {"5 mail.example.org."}


def test_adding_without_a_ttl_keeps_the_rrsets_ttl(zone):
    apply_changes(zone, [RRsetEdit("x", "A", (RecordData("192.0.2.1", 60),))])
    batch = plan_record_change(zone, {}, new=("x", "A", RecordData("192.0.2.2")))
    apply_changes(zone, batch.values())
    assert {r.ttl for r in current_rrset(zone, "x", "A")} == {60}


def test_a_new_ttl_on_one_record_applies_to_its_whole_rrset(zone):
    old = RecordRef("www", "A", "192.0.2.80")
    batch = plan_record_change(zone, {}, old=old, new=("www", "A", RecordData("192.0.2.80", 300)))
    apply_changes(zone, batch.values())
    assert {r.ttl for r in current_rrset(zone, "www", "A")} == {300}


def test_planning_from_a_stale_view_is_a_conflict(zone):
    seen = fingerprint(current_rrset(zone, "www", "A"))
    apply_changes(zone, [RRsetEdit("www", "A", (RecordData("192.0.2.1"),))])
    with pytest.raises(ConflictError):
        plan_record_change(zone, {}, old=RecordRef("www", "A", "192.0.2.80"), shown=seen)


def test_unchanged_records_keep_their_rows(zone):
    kept = zone.records.get(owner="www", rdata="192.0.2.80").pk
    batch = plan_record_change(zone, {}, new=("www", "A", RecordData("192.0.2.99")))
    apply_changes(zone, batch.values())
    assert zone.records.get(owner="www", rdata="192.0.2.80").pk == kept


def test_revert_puts_the_rrsets_back_and_records_itself(zone, django_user_model):
    user = django_user_model.objects.create_user("bob", is_staff=True)
    www = current_rrset(zone, "www", "A")
    change = apply_changes(zone, [RRsetEdit("www", "A", (), fingerprint(www))], user)
    revert = revert_change(change, user)
    assert rrset(zone, "www", "A") == {"192.0.2.80", "192.0.2.81"}
    assert revert.reverts == change and revert.source == "revert"
    assert revert.serial_before == change.serial_after


def test_revert_is_refused_when_the_rrset_changed_since(zone):
    www = current_rrset(zone, "www", "A")
    change = apply_changes(zone, [RRsetEdit("www", "A", (RecordData("192.0.2.1"),))])
    apply_changes(zone, [RRsetEdit("www", "A", (RecordData("192.0.2.2"),))])
    with pytest.raises(ConflictError):
        revert_change(change, None)
    assert rrset(zone, "www", "A") == {"192.0.2.2"} != {r.rdata for r in www}


def test_deleting_a_zone_leaves_an_attributed_entry_with_every_rrset_it_had(
    zone, django_user_model
):
    ann = django_user_model.objects.create_user("ann", is_staff=True)
    earlier = apply_changes(zone, [RRsetEdit("ftp", "A", (RecordData("192.0.2.21"),))], ann)
    zone.refresh_from_db()
    had = {(r.owner, r.rdtype, r.rdata) for r in zone.records.all()}
    deleted = delete_zone(zone, ann)
    assert not Zone.objects.exists()
    assert (deleted.zone, deleted.origin, deleted.zone_deleted) == (None, "example.org.", True)
    assert (deleted.user, deleted.username, deleted.source) == (ann, "ann", "web")
    assert deleted.serial_before == deleted.serial_after == zone.serial
    rrsets = list(deleted.rrsets.all())
    assert {(r.owner, r.rdtype, d["rdata"]) for r in rrsets for d in r.before} == had
    assert {r.action for r in rrsets} == {"removed"}
    assert (rrsets[0].owner, rrsets[0].rdtype) == ("@", "NS")  # zone-file order
    earlier.refresh_from_db()  # the zone's earlier history survives it, still named
    assert (earlier.zone, earlier.origin, earlier.username) == (None, "example.org.", "ann")


def test_a_deleted_zones_changes_cannot_be_reverted(zone):
    change = apply_changes(zone, [RRsetEdit("ftp", "A", (RecordData("192.0.2.21"),))])
    delete_zone(zone, None)
    change.refresh_from_db()
    with pytest.raises(ChangeError, match="example.org. was deleted"):
        revert_change(change, None)
    assert not Zone.objects.exists()


def test_rows_are_in_zone_file_order(zone):
    keys = [(row.record.owner, row.record.rdtype) for row in zone_rows(zone)]
    assert keys[:2] == [("@", "NS"), ("@", "MX")]
    assert keys[2:] == [
        ("a.dev", "A"),
        ("b.dev", "TXT"),
        ("mail", "A"),
        ("ns1", "A"),
        ("www", "A"),
        ("www", "A"),
    ]


@pytest.mark.parametrize(
    ("name", "rdtype", "expected"),
    [
        ("*.dev", "", {"a.dev", "b.dev"}),
        ("www*", "", {"www"}),
        ("", "txt", {"b.dev"}),
        ("example.org.", "", {"@"}),
        ("mail.example.org", "", {"mail"}),
        ("*.dev", "A", {"a.dev"}),
    ],
)
def test_rows_filter_by_name_pattern_and_type(zone, name, rdtype, expected):
    assert {row.record.owner for row in zone_rows(zone, name, rdtype)} == expected


def test_rows_carry_their_rrsets_fingerprint(zone):
    rows = [row for row in zone_rows(zone) if row.record.owner == "www"]
    assert {row.fingerprint for row in rows} == {fingerprint(current_rrset(zone, "www", "A"))}


@pytest.mark.django_db(transaction=True)
def test_two_writers_racing_from_the_same_view_never_both_win():
    zone, _ = import_zone(parse_zone_text(ZONE))
    seen = fingerprint(current_rrset(zone, "www", "A"))
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def write(address: str) -> None:
        try:
            start.wait()
            edit = RRsetEdit("www", "A", (RecordData(address),), seen)
            apply_changes(Zone.objects.get(), [edit])
            outcomes.append(address)
        except ConflictError:
            outcomes.append("conflict")
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=write, args=(a,)) for a in ("192.0.2.1", "192.0.2.2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winner = [o for o in outcomes if o != "conflict"]
    assert sorted(outcomes).count("conflict") == 1 and len(winner) == 1
    assert rrset(zone, "www", "A") == set(winner)
    assert edits().count() == 1

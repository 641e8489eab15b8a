"""History pages per zone and per RRset, and reverting a change from its entry."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.forms.models import model_to_dict

from dnsadmin.changes import RecordData, RRsetEdit, apply_changes, current_rrset, fingerprint
from dnsadmin.models import Zone, ZoneChange
from tests.dnsadmin.conftest import edits

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_changes(zone, django_user_model) -> tuple[ZoneChange, ZoneChange]:
    ann = django_user_model.objects.create_user("ann", is_staff=True)
    first = apply_changes(zone, [RRsetEdit("www", "A", (RecordData("192.0.2.81"),))], ann)
    second = apply_changes(zone, [RRsetEdit("mail", "A", (RecordData("192.0.2.25"),))], ann)
    return first, second


def test_the_zone_history_lists_every_change_with_author_and_serials(
    user_client, zone, two_changes
):
    first, second = two_changes
    page = user_client.get(f"/dns/zones/{zone.pk}/history/").content.decode()
    assert page.count("by ann via web") == 2
    assert f"{first.serial_before} → {first.serial_after}" in page
    assert page.index("mail A") < page.index("www A")  # newest first
    assert "192.0.2.80" in page and "192.0.2.81" in page


def test_each_entry_says_whether_it_added_changed_or_removed_its_rrsets(
    user_client, zone, two_changes
):
    apply_changes(zone, [RRsetEdit("mail", "A", ())])
    page = user_client.get(f"/dns/zones/{zone.pk}/history/").content.decode()
    assert "Changed www A" in page and "Added mail A" in page and "Removed mail A" in page
    assert [r.action for r in edits().get(summary="Removed mail A").rrsets.all()] == ["removed"]


def test_a_created_zone_has_no_serial_before_its_first_entry(staff_client):
    staff_client.post(
        "/dns/zones/new/",
        {"origin": "new.example", "primary_ns": "ns1", "contact": "h", "default_ttl": "300"},
    )
    zone = Zone.objects.get()
    page = staff_client.get(f"/dns/zones/{zone.pk}/history/").content.decode()
    assert f"Created, serial {zone.serial}" in page and "→" not in page
    detail = staff_client.get(f"/dns/changes/{zone.changes.get().pk}/").content.decode()
    assert f"new.example.: created, serial {zone.serial}" in detail


def test_the_rrset_history_shows_only_that_rrset(user_client, zone, two_changes):
    page = user_client.get(f"/dns/zones/{zone.pk}/history/?owner=www&type=A").content.decode()
    assert "192.0.2.81" in page and "192.0.2.25" not in page


def test_the_zone_page_links_each_record_to_its_history(user_client, zone):
    page = user_client.get(f"/dns/zones/{zone.pk}/").content.decode()
    assert f"/dns/zones/{zone.pk}/history/?owner=www&amp;type=A" in page


def test_staff_revert_a_change_from_its_entry(staff_client, zone, two_changes):
    first, _ = two_changes
    page = staff_client.get(f"/dns/changes/{first.pk}/").content.decode()
    assert "Revert this change" in page
    response = staff_client.post(f"/dns/changes/{first.pk}/revert/")
    assert response.status_code == 302
    assert [r.rdata for r in current_rrset(zone, "www", "A")] == ["192.0.2.80"]
    revert = edits().first()
    assert revert.reverts == first and revert.username == "staff"
    assert "reverted" in staff_client.get(f"/dns/changes/{revert.pk}/").content.decode()


def test_reverting_after_a_later_change_to_the_rrset_is_refused(staff_client, zone, two_changes):
    first, _ = two_changes
    www = current_rrset(zone, "www", "A")
    apply_changes(zone, [RRsetEdit("www", "A", (RecordData("192.0.2.99"),), fingerprint(www))])
    response = staff_client.post(f"/dns/changes/{first.pk}/revert/")
    assert response.status_code == 409
    assert "changed www A meanwhile" in response.content.decode()
    assert [r.rdata for r in current_rrset(zone, "www", "A")] == ["192.0.2.99"]


def test_non_staff_cannot_revert_and_see_no_revert_button(user_client, zone, two_changes):
    first, _ = two_changes
    assert "Revert this change" not in user_client.get(f"/dns/changes/{first.pk}/").content.decode()
    assert user_client.post(f"/dns/changes/{first.pk}/revert/").status_code == 403
    assert [r.rdata for r in current_rrset(zone, "www", "A")] == ["192.0.2.81"]


def test_admin_record_edits_go_through_the_change_service(staff_client, zone, django_user_model):
    django_user_model.objects.filter(username="staff").update(is_superuser=True)
    record = zone.records.get(owner="www")
    response = staff_client.post(
        f"/admin/dnsadmin/record/{record.pk}/change/",
        {
            "zone": zone.pk,
            "owner": "www",
            "rdtype": "A",
            "ttl": "",
            "rdata": "192.0.2.5",
            "enabled": "on",
            "comment": "",
        },
    )
    assert response.status_code == 302
    change = edits().get()
    assert (change.source, change.username) == ("admin", "staff")
    assert change.rrsets.get().after[0]["rdata"] == "192.0.2.5"
    staff_client.post(f"/admin/dnsadmin/record/{record.pk}/delete/", {"post": "yes"})
    assert not zone.records.filter(owner="www").exists()
    assert edits().count() == 2


def test_admin_zone_setting_edits_bump_the_serial_and_are_recorded(staff_client, zone):
    staff_client.user.is_superuser = True
    staff_client.user.save()
    serial = zone.serial
    fields = model_to_dict(zone, exclude=["id", "serial", "created", "updated"])
    data = {k: ("on" if v is True else v) for k, v in fields.items() if v is not False}
    data.update(refresh=3600, transfer_acl="\n".join(zone.transfer_acl))
    data["notify_targets"] = "\n".join(zone.notify_targets)
    response = staff_client.post(f"/admin/dnsadmin/zone/{zone.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    zone.refresh_from_db()
    assert zone.refresh == 3600 and zone.serial > serial
    change = edits().get()
    assert (change.source, change.username, change.serial_after) == (
        "admin",
        "staff",
        zone.serial,
    )


def test_the_admin_deletes_a_zone_through_the_change_service(staff_client, zone):
    staff_client.user.is_superuser = True
    staff_client.user.save()
    response = staff_client.post(f"/admin/dnsadmin/zone/{zone.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Zone.objects.exists()
    deleted = edits().get()
    assert (deleted.origin, deleted.zone_deleted) == ("example.org.", True)
    assert (deleted.source, deleted.username) == ("admin", "staff")


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_entries_their_zones_origin(zone):
    apply_changes(zone, [RRsetEdit("www", "A", (RecordData("192.0.2.81"),))])
    ZoneChange.objects.update(origin="")  # as written before the field existed
    executor = MigrationExecutor(connection)
    executor.migrate([("dnsadmin", "0006_notify_targets")])
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # all the way back, for later tests
    assert set(ZoneChange.objects.values_list("origin", flat=True)) == {"example.org."}

"""Pending changes on a zone's page: kept per user and zone across logout, one item at a time
taken out, the rest applied together."""

from __future__ import annotations

import pytest
from django.test import Client

from dnsadmin.changes import current_rrset
from dnsadmin.models import PendingBatch, Zone
from tests.dnsadmin.conftest import edits

pytestmark = pytest.mark.django_db


def url(zone: Zone, suffix: str = "") -> str:
    return f"/dns/zones/{zone.pk}/{suffix}"


def queue(client: Client, zone: Zone, owner: str, address: str) -> None:
    form = {"owner": owner, "ttl": "", "comment": "", "enabled": "on", "action": "queue"}
    response = client.post(url(zone, "records/add/?type=A"), {**form, "address": address})
    assert response.status_code == 302


def pending_rows(client: Client, zone: Zone) -> list[str]:
    """Return the owners and types the zone page lists as pending, in order."""
    page = client.get(url(zone)).content.decode()
    if "Pending changes" not in page:
        return []
    section = page.split("Pending changes", 1)[1].split("</section>", 1)[0]
    return [row.split("</td>", 1)[0] for row in section.split('<tr><td class="mono">')[1:]]


def addresses(zone: Zone, owner: str) -> set[str]:
    return {r.rdata for r in current_rrset(zone, owner, "A")}


def test_pending_changes_outlast_a_logout(staff_client, zone):
    queue(staff_client, zone, "a", "192.0.2.1")
    queue(staff_client, zone, "b", "192.0.2.2")
    staff_client.post("/accounts/logout/")
    assert staff_client.get(url(zone)).status_code == 302  # signed out indeed
    staff_client.force_login(staff_client.user)
    assert pending_rows(staff_client, zone) == ["a A", "b A"]
    staff_client.post(url(zone, "pending/apply/"))
    assert addresses(zone, "a") == {"192.0.2.1"} and addresses(zone, "b") == {"192.0.2.2"}
    assert edits().get().rrsets.count() == 2
    assert pending_rows(staff_client, zone) == [] and not PendingBatch.objects.exists()


def test_one_pending_item_can_be_dropped(staff_client, zone):
    queue(staff_client, zone, "a", "192.0.2.1")
    queue(staff_client, zone, "b", "192.0.2.2")
    response = staff_client.post(url(zone, "pending/drop/"), {"owner": "a", "rdtype": "A"})
    assert response.status_code == 302
    assert pending_rows(staff_client, zone) == ["b A"]
    staff_client.post(url(zone, "pending/apply/"))
    assert addresses(zone, "a") == set() and addresses(zone, "b") == {"192.0.2.2"}


def test_dropping_what_is_not_pending_changes_nothing(staff_client, zone):
    queue(staff_client, zone, "a", "192.0.2.1")
    staff_client.post(url(zone, "pending/drop/"), {"owner": "nope", "rdtype": "A"})
    assert pending_rows(staff_client, zone) == ["a A"]


def test_each_user_has_their_own_pending_changes(staff_client, zone, django_user_model):
    queue(staff_client, zone, "a", "192.0.2.1")
    other = Client()
    other.force_login(django_user_model.objects.create_user("other", is_staff=True))
    assert pending_rows(other, zone) == []
    queue(other, zone, "c", "192.0.2.3")
    other.post(url(zone, "pending/discard/"))
    assert pending_rows(other, zone) == [] and pending_rows(staff_client, zone) == ["a A"]

"""Per-zone permissions: decided in `dnsadmin.access` only, and what it decides, end to end."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.urls import URLResolver, get_resolver
from django.utils import timezone

from dnsadmin import access
from dnsadmin.models import ApiToken, CacheEntry, QueryLogEntry, Zone, ZonePermission
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_api import call

ROOT = Path(__file__).resolve().parents[2]
VIEW_MODULES = [*sorted((ROOT / "dnsadmin/views").glob("*.py")), ROOT / "dnsadmin/api.py"]
VIEW_MODULES.append(ROOT / "dnsadmin/operations.py")

# What a view must not do: decide for itself who may see or change a zone.
FORBIDDEN = {
    r"(?<!access)\.is_staff\b": "ask access.is_staff",
    r"\b(staff_required|login_required|user_passes_test|permission_required)\b": "use access",
    r"\bZone\.objects\.(?!viewable_by|editable_by)": "use Zone.objects.viewable_by/editable_by",
    r"get_object_or_404\(\s*Zone(Change)?\b": "use access.zone_for / change_for",
    r"\bZonePermission\b": "grants are read by access only",
}


@pytest.mark.parametrize("module", VIEW_MODULES, ids=lambda p: p.name)
def test_no_dns_view_decides_access_itself(module):
    text = module.read_text()
    for pattern, advice in FORBIDDEN.items():
        found = re.search(pattern, text)
        assert found is None, f"{module.name}: {found and found.group(0)!r}: {advice}"


def test_no_dns_template_decides_access_itself():
    for template in (ROOT / "templates/dnsadmin").rglob("*.html"):
        assert "is_staff" not in template.read_text(), template.name


def test_every_dns_url_wears_an_access_rule():
    (dns,) = [
        entry
        for entry in get_resolver().url_patterns
        if isinstance(entry, URLResolver) and entry.namespace == "dnsadmin"
    ]
    for pattern in dns.url_patterns:
        assert getattr(pattern.callback, "access_rule", None), pattern.name


@pytest.fixture
def zones(db):
    from dnsadmin.changes import import_zone
    from dnsadmin.zonefile import parse_zone_text

    a = import_zone(parse_zone_text(ZONE))[0]
    b = import_zone(parse_zone_text(ZONE.replace("example.org.", "example.net.")))[0]
    return a, b


def test_grants_to_a_user_or_group_on_one_zone_or_every_zone(zones, django_user_model):
    a, b = zones
    user = django_user_model.objects.create_user("u")
    assert not Zone.objects.viewable_by(user).exists()
    group = Group.objects.create(name="ops")
    user.groups.add(group)
    ZonePermission.objects.create(group=group, zone=a, level="edit")
    assert list(Zone.objects.editable_by(user)) == [a] and access.can_view(user, a)
    assert not access.can_view(user, b)
    ZonePermission.objects.create(user=user, zone=None, level="view")
    assert set(Zone.objects.viewable_by(user)) == {a, b} and not access.can_edit(user, b)


def test_a_user_sees_only_their_zones_and_may_change_only_the_editable(
    client, zones, django_user_model
):
    a, b = zones
    user = django_user_model.objects.create_user("u")
    ZonePermission.objects.create(user=user, zone=a, level="view")
    client.force_login(user)
    listed = client.get("/dns/zones/").content.decode()
    assert "example.org." in listed and "example.net." not in listed
    assert "Add a record" not in client.get(f"/dns/zones/{a.pk}/").content.decode()
    found = client.get("/dns/search/?q=192.0.2.80").content.decode()
    assert "example.org." in found and "example.net." not in found
    ZonePermission.objects.filter(user=user).update(level="edit")
    assert "Add a record" in client.get(f"/dns/zones/{a.pk}/").content.decode()
    form = {"owner": "n", "address": "192.0.2.9", "ttl": "", "enabled": "on", "action": "apply"}
    added = client.post(f"/dns/zones/{a.pk}/records/add/?type=A", form)
    assert added.status_code == 302 and a.records.filter(owner="n").exists()


def test_non_staff_see_queries_and_cache_entries_only_in_their_zones(
    client, zones, django_user_model
):
    a, _ = zones
    now = timezone.now()
    for name in ("www.example.org.", "www.example.net.", "elsewhere.test."):
        QueryLogEntry.objects.create(
            time=now, client="192.0.2.1", name=name, rdtype="A", rcode="NOERROR",
            source="authority", latency_ms=1,
        )  # fmt: skip
        CacheEntry.objects.create(
            name=name, rdtype="A", rdata="192.0.2.1", expires=now + datetime.timedelta(hours=1)
        )
    user = django_user_model.objects.create_user("u")
    ZonePermission.objects.create(user=user, zone=a, level="view")
    client.force_login(user)
    for page in ("/dns/queries/", "/dns/cache/", "/"):
        shown = client.get(page).content.decode()
        assert "www.example.org." in shown, page
        assert "www.example.net." not in shown and "elsewhere.test." not in shown, page


def test_a_token_is_held_to_its_scope_zones_and_expiry(client, zones, django_user_model):
    a, b = zones
    user = django_user_model.objects.create_user("u")
    ZonePermission.objects.create(user=user, zone=None, level="edit")
    record = {"owner": "t", "type": "TXT", "rdata": '"x"'}
    _, reader = ApiToken.issue(user, "r", scope="read")
    assert call(client, "get", "/dns/api/zones/example.org/records/", reader).status_code == 200
    assert (
        call(client, "post", "/dns/api/zones/example.org/records/", reader, record).status_code
        == 403
    )
    _, only_a = ApiToken.issue(user, "a", zones=[a])
    listed = call(client, "get", "/dns/api/zones/", only_a).json()["zones"]
    assert [z["origin"] for z in listed] == ["example.org."]
    assert call(client, "get", "/dns/api/zones/example.net/records/", only_a).status_code == 404
    assert (
        call(client, "post", "/dns/api/zones/example.org/records/", only_a, record).status_code
        == 201
    )
    past = timezone.now() - datetime.timedelta(seconds=1)
    _, old = ApiToken.issue(user, "old", expires=past)
    assert call(client, "get", "/dns/api/zones/", old).status_code == 401


def test_staff_grant_and_revoke_on_the_zone_settings_page(staff_client, zones, django_user_model):
    a, _ = zones
    user = django_user_model.objects.create_user("someone")
    staff_client.post(f"/dns/zones/{a.pk}/permissions/", {"who": "someone", "level": "edit"})
    assert access.can_edit(user, a)
    page = staff_client.get(f"/dns/zones/{a.pk}/settings/").content.decode()
    assert "someone" in page
    grant = ZonePermission.objects.get()
    staff_client.post(f"/dns/zones/{a.pk}/permissions/{grant.pk}/delete/")
    assert not access.can_view(user, a)


def test_an_editor_may_not_grant(client, zones, django_user_model):
    a, _ = zones
    user = django_user_model.objects.create_user("u")
    ZonePermission.objects.create(user=user, zone=a, level="edit")
    client.force_login(user)
    response = client.post(f"/dns/zones/{a.pk}/permissions/", {"who": "u", "level": "edit"})
    assert response.status_code == 403 and ZonePermission.objects.count() == 1
    assert "permissions" not in client.get(f"/dns/zones/{a.pk}/settings/").content.decode()

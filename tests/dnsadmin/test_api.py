"""The token-authenticated JSON API: auth, permissions, validation, conflicts, history."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from dnsadmin.changes import RecordData, RRsetEdit, apply_changes, current_rrset
from dnsadmin.models import ApiToken, Zone, ZonePermission
from tests.dnsadmin.conftest import ZONE, edits

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_key(django_user_model) -> str:
    user = django_user_model.objects.create_user("robot", is_staff=True)
    return ApiToken.issue(user, "ci")[1]


@pytest.fixture
def viewer_key(django_user_model) -> str:
    """A write token of a user who may view every zone but edit none."""
    user = django_user_model.objects.create_user("reader")
    ZonePermission.objects.create(user=user, level=ZonePermission.VIEW)
    return ApiToken.issue(user, "dashboards")[1]


def call(client, method: str, path: str, key: str | None, payload=None):
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"} if key else {}
    data = json.dumps(payload) if payload is not None else ""
    return getattr(client, method)(path, data=data, content_type="application/json", **headers)


def test_the_api_needs_a_token(client, zone):
    response = client.get("/dns/api/zones/")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Token")


def test_a_bad_token_is_401(client, zone):
    assert call(client, "get", "/dns/api/zones/", "wrong").status_code == 401


def test_a_session_does_not_authenticate_the_api(staff_client, zone):
    assert staff_client.get("/dns/api/zones/").status_code == 401


def test_only_the_keys_hash_is_stored(staff_key):
    token = ApiToken.objects.get()
    assert staff_key not in (token.key_hash, token.prefix) and token.key_hash == ApiToken.hash_key(
        staff_key
    )


def test_any_token_may_read(client, zone, viewer_key):
    zones = call(client, "get", "/dns/api/zones/", viewer_key).json()["zones"]
    assert zones[0]["origin"] == "example.org." and zones[0]["records"] == 3
    rrsets = call(client, "get", "/dns/api/zones/example.org/records/", viewer_key).json()["rrsets"]
    www = next(r for r in rrsets if r["owner"] == "www")
    assert www["type"] == "A" and www["records"][0]["rdata"] == "192.0.2.80" and www["fingerprint"]
    export = call(client, "get", "/dns/api/zones/example.org./export/", viewer_key)
    assert (
        export["Content-Type"].startswith("text/plain") and "192.0.2.80" in export.content.decode()
    )


def test_a_non_staff_token_may_not_write(client, zone, viewer_key):
    payload = {"owner": "x", "type": "A", "rdata": "192.0.2.1"}
    response = call(client, "post", "/dns/api/zones/example.org/records/", viewer_key, payload)
    assert response.status_code == 403 and not zone.records.filter(owner="x").exists()
    assert call(client, "delete", "/dns/api/zones/example.org/", viewer_key).status_code == 403


def test_creating_a_zone_makes_its_apex_ns(client, staff_key):
    payload = {
        "origin": "api.example",
        "primary_ns": "ns.api.example.",
        "contact": "hostmaster",
        "default_ttl": 300,
    }
    response = call(client, "post", "/dns/api/zones/", staff_key, payload)
    assert response.status_code == 201 and response.json()["origin"] == "api.example."
    zone = Zone.objects.get(origin="api.example.")
    assert [r.rdata for r in current_rrset(zone, "@", "NS")] == ["ns.api.example."]
    assert zone.changes.get().source == "api"


def test_validation_errors_come_back_as_json_by_field(client, zone, staff_key):
    history = list(edits().all())  # the zone's creation
    bad = {"owner": "x", "type": "A", "rdata": "192.0.2.999"}
    response = call(client, "post", "/dns/api/zones/example.org/records/", staff_key, bad)
    assert response.status_code == 400 and "Invalid A data" in response.json()["errors"]["rdata"][0]
    missing = call(
        client, "post", "/dns/api/zones/example.org/records/", staff_key, {"type": "A", "ttl": "x"}
    )
    assert set(missing.json()["errors"]) == {"owner", "rdata", "ttl"}
    zone_error = call(client, "post", "/dns/api/zones/", staff_key, {"origin": "a..b"})
    assert "origin" in zone_error.json()["errors"] and "primary_ns" in zone_error.json()["errors"]
    garbage = client.post(
        "/dns/api/zones/",
        data="{",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {staff_key}",
    )
    assert garbage.status_code == 400 and "body" in garbage.json()["errors"]
    assert list(edits().all()) == history


def test_records_are_created_updated_and_deleted_with_history(client, zone, staff_key):
    base = "/dns/api/zones/example.org/records/"
    created = call(
        client, "post", base, staff_key, {"owner": "api", "type": "A", "rdata": "192.0.2.7"}
    )
    assert created.status_code == 201
    record = zone.records.get(owner="api")
    updated = call(
        client, "patch", f"{base}{record.pk}/", staff_key, {"rdata": "192.0.2.8", "ttl": 60}
    )
    assert updated.status_code == 200
    assert [(r.rdata, r.ttl) for r in current_rrset(zone, "api", "A")] == [("192.0.2.8", 60)]
    assert call(client, "delete", f"{base}{record.pk}/", staff_key).status_code == 200
    assert not zone.records.filter(owner="api").exists()
    changes = edits().all()
    assert changes.count() == 3 and {c.username for c in changes} == {"robot"}
    assert call(client, "get", f"{base}{record.pk}/", staff_key).status_code == 404


def test_patching_rrsets_with_a_stale_fingerprint_is_a_409_with_current_data(
    client, zone, staff_key
):
    base = "/dns/api/zones/example.org/records/"
    rrsets = call(client, "get", base, staff_key).json()["rrsets"]
    seen = next(r for r in rrsets if r["owner"] == "www")["fingerprint"]
    edit = {"owner": "www", "type": "A", "fingerprint": seen, "records": [{"rdata": "192.0.2.1"}]}
    assert call(client, "patch", base, staff_key, {"rrsets": [edit]}).status_code == 200
    again = {**edit, "records": [{"rdata": "192.0.2.2"}]}
    response = call(client, "patch", base, staff_key, {"rrsets": [again]})
    assert response.status_code == 409
    assert response.json()["conflicts"][0]["current"][0]["rdata"] == "192.0.2.1"
    assert [r.rdata for r in current_rrset(zone, "www", "A")] == ["192.0.2.1"]


def test_patch_deletes_an_rrset_given_no_records(client, zone, staff_key):
    response = call(
        client,
        "patch",
        "/dns/api/zones/example.org/records/",
        staff_key,
        {"rrsets": [{"owner": "www", "type": "A", "records": []}]},
    )
    assert response.status_code == 200 and not zone.records.filter(owner="www").exists()


def test_import_through_the_api_with_a_dry_run_first(client, zone, staff_key):
    text = ZONE.replace("192.0.2.80", "192.0.2.81") + "new IN A 192.0.2.9\n"
    path = "/dns/api/zones/example.org/import/"
    dry = call(
        client, "post", path, staff_key, {"text": text, "mode": "replace", "dry_run": True}
    ).json()
    assert (dry["applied"], dry["add"], dry["change"]) == (False, ["new A"], ["www A"])
    assert not zone.records.filter(owner="new").exists()
    done = call(client, "post", path, staff_key, {"text": text, "mode": "replace"}).json()
    assert done["applied"] and zone.records.filter(owner="new").exists()
    assert edits().get().source == "import"
    broken = call(client, "post", path, staff_key, {"text": text + "bad IN A nope\n"})
    assert broken.status_code == 400 and "text:8:" in broken.json()["errors"]["text"][0]


def test_zone_settings_can_be_patched_and_zones_deleted(client, zone, staff_key):
    response = call(client, "patch", "/dns/api/zones/example.org/", staff_key, {"refresh": 1234})
    assert response.status_code == 200 and response.json()["refresh"] == 1234
    assert (
        call(
            client, "patch", "/dns/api/zones/example.org/", staff_key, {"transfer_acl": "x"}
        ).status_code
        == 400
    )
    assert call(client, "delete", "/dns/api/zones/example.org/", staff_key).status_code == 204
    assert not Zone.objects.exists()
    assert call(client, "get", "/dns/api/zones/example.org/", staff_key).status_code == 404


def test_deleting_a_zone_through_the_api_is_in_the_history_as_the_web_has_it(
    client, zone, staff_key
):
    call(client, "delete", "/dns/api/zones/example.org/", staff_key)
    deleted = edits().get()
    assert (deleted.origin, deleted.zone_deleted, deleted.source) == ("example.org.", True, "api")
    assert (deleted.user.username, deleted.username) == ("robot", "robot")
    assert {(r.owner, r.rdtype) for r in deleted.rrsets.all()} == {
        ("@", "NS"),
        ("ns1", "A"),
        ("www", "A"),
    }


@pytest.fixture
def two_www(zone) -> Zone:
    """www with two A records: an RRset whose other record someone else may change."""
    apply_changes(
        zone, [RRsetEdit("www", "A", (RecordData("192.0.2.80"), RecordData("192.0.2.81")))]
    )
    return zone


def record_url(zone: Zone, rdata: str) -> str:
    pk = zone.records.get(owner="www", rdata=rdata).pk
    return f"/dns/api/zones/example.org/records/{pk}/"


def listed_fingerprint(client, key: str, owner: str) -> str:
    rrsets = call(client, "get", "/dns/api/zones/example.org/records/", key).json()["rrsets"]
    return next(r for r in rrsets if r["owner"] == owner)["fingerprint"]


def test_a_single_record_shows_its_rrsets_fingerprint_as_the_list_does(client, two_www, staff_key):
    shown = call(client, "get", record_url(two_www, "192.0.2.80"), staff_key).json()
    assert shown["fingerprint"] == listed_fingerprint(client, staff_key, "www")


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_record_write_with_a_stale_fingerprint_is_a_409_and_keeps_the_other_edit(
    client, two_www, staff_key, method
):
    seen = listed_fingerprint(client, staff_key, "www")
    www = current_rrset(two_www, "www", "A")
    apply_changes(two_www, [RRsetEdit("www", "A", tuple(replace(r, ttl=60) for r in www))])
    edit = {"rdata": "192.0.2.90", "ttl": 300, "fingerprint": seen}
    target = record_url(two_www, "192.0.2.80")
    response = call(client, method, target, staff_key, edit)
    assert response.status_code == 409
    current = response.json()["conflicts"][0]["current"]
    assert {(r["rdata"], r["ttl"]) for r in current} == {("192.0.2.80", 60), ("192.0.2.81", 60)}
    assert {r.ttl for r in current_rrset(two_www, "www", "A")} == {60}
    fresh = {**edit, "fingerprint": listed_fingerprint(client, staff_key, "www")}
    assert call(client, method, target, staff_key, fresh).status_code == 200
    assert {(r.rdata, r.ttl) for r in current_rrset(two_www, "www", "A")} == {
        ("192.0.2.81", 300),
        ("192.0.2.90", 300),
    }


def test_a_record_delete_with_a_stale_fingerprint_is_a_409(client, two_www, staff_key):
    seen = listed_fingerprint(client, staff_key, "www")
    target = record_url(two_www, "192.0.2.80")
    apply_changes(two_www, [RRsetEdit("www", "A", (RecordData("192.0.2.80"),))])
    in_body = call(client, "delete", target, staff_key, {"fingerprint": seen})
    in_query = call(client, "delete", f"{target}?fingerprint={seen}", staff_key)
    assert (in_body.status_code, in_query.status_code) == (409, 409)
    assert [r.rdata for r in current_rrset(two_www, "www", "A")] == ["192.0.2.80"]
    fresh = listed_fingerprint(client, staff_key, "www")
    assert call(client, "delete", f"{target}?fingerprint={fresh}", staff_key).status_code == 200
    assert not two_www.records.filter(owner="www").exists()


def test_a_record_write_without_a_fingerprint_is_not_checked_and_a_bad_one_is_a_400(
    client, two_www, staff_key
):
    target = record_url(two_www, "192.0.2.80")
    bad = call(client, "patch", target, staff_key, {"rdata": "192.0.2.7", "fingerprint": 5})
    assert bad.status_code == 400 and "fingerprint" in bad.json()["errors"]
    assert call(client, "patch", target, staff_key, {"rdata": "192.0.2.7"}).status_code == 200
    assert {r.rdata for r in current_rrset(two_www, "www", "A")} == {"192.0.2.7", "192.0.2.81"}


def test_staff_create_and_revoke_tokens_on_their_page(staff_client):
    page = staff_client.post("/dns/tokens/", {"name": "certbot", "scope": "write"})
    assert "no-store" in page["Cache-Control"]
    page = page.content.decode()
    token = ApiToken.objects.get(name="certbot")
    assert token.prefix in page and 'id="new-token"' in page
    staff_client.post(f"/dns/tokens/{token.pk}/delete/")
    assert not ApiToken.objects.exists()


def test_a_user_makes_tokens_only_for_the_zones_they_may_view(client, zone, django_user_model):
    other = Zone.objects.create(origin="other.example.", primary_ns="ns.", contact="h.")
    user = django_user_model.objects.create_user("someone")
    ZonePermission.objects.create(user=user, zone=zone, level=ZonePermission.EDIT)
    client.force_login(user)
    assert "other.example." not in client.get("/dns/tokens/").content.decode()
    refused = client.post("/dns/tokens/", {"name": "x", "scope": "read", "zones": [other.pk]})
    assert refused.status_code == 200 and not ApiToken.objects.exists()
    client.post("/dns/tokens/", {"name": "x", "scope": "read", "zones": [zone.pk]})
    assert list(ApiToken.objects.get(user=user).zones.all()) == [zone]


def test_the_admin_creates_a_token_and_shows_its_key_once(staff_client, django_user_model):
    django_user_model.objects.filter(username="staff").update(is_superuser=True)
    user = django_user_model.objects.get(username="staff")
    response = staff_client.post(
        "/admin/dnsadmin/apitoken/add/",
        {"user": user.pk, "name": "deploy", "scope": "write", "all_zones": "on"},
        follow=True,
    )
    token = ApiToken.objects.get(name="deploy")
    shown = [str(m) for m in response.context["messages"]]
    key = shown[0].rsplit(" ", 1)[1]
    assert ApiToken.authenticate(key) == token and token.key_hash not in response.content.decode()

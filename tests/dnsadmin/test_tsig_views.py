"""TSIG keys and update policies on the staff pages and the JSON API: the secret shown once."""

from __future__ import annotations

import html

import pytest

from appliance.vault import unseal
from dnsadmin import updates
from dnsadmin.models import TsigKey, UpdateRule
from tests.dnsadmin.test_api import call, staff_key, viewer_key

pytestmark = pytest.mark.django_db
__all__ = ["staff_key", "viewer_key"]  # fixtures


def test_a_key_made_on_the_page_is_shown_once_and_sealed_at_rest(staff_client):
    response = staff_client.post("/dns/tsig/", {"name": "acme", "algorithm": "hmac-sha384"})
    page = html.unescape(response.content.decode())
    assert 'key "acme" {' in page and "algorithm hmac-sha384;" in page
    key = TsigKey.objects.get()
    secret = page.split('secret "')[1].split('"')[0]
    assert secret not in key.sealed_secret and len(unseal(key.sealed_secret)) == 48
    again = staff_client.get("/dns/tsig/").content.decode()
    assert secret not in again and 'href="/dns/tsig/" aria-current="page"' in again


def test_a_duplicate_or_bad_key_name_is_explained(staff_client):
    updates.add_key("acme")
    assert "exists already" in staff_client.post("/dns/tsig/", {"name": "acme"}).content.decode()
    response = staff_client.post("/dns/tsig/", {"name": "a..b", "algorithm": "hmac-sha256"})
    assert response.status_code == 400


def test_the_zone_page_shows_and_changes_the_update_policy(staff_client, zone):
    updates.add_key("acme")
    page = staff_client.get(f"/dns/zones/{zone.pk}/").content.decode()
    assert "No rules: updates to this zone are refused." in page
    form = {"grant": "grant", "key": "acme", "rule_type": "name", "name": "_acme-challenge",
            "types": "TXT"}  # fmt: skip
    staff_client.post(f"/dns/zones/{zone.pk}/update-policy/", form)
    page = staff_client.get(f"/dns/zones/{zone.pk}/").content.decode()
    assert "grant acme. name _acme-challenge.example.org. TXT" in page
    bad = {**form, "rule_type": "wildcard", "name": "nostar"}
    staff_client.post(f"/dns/zones/{zone.pk}/update-policy/", bad)
    assert UpdateRule.objects.count() == 1
    rule = UpdateRule.objects.get()
    staff_client.post(f"/dns/zones/{zone.pk}/update-policy/{rule.pk}/delete/")
    assert not UpdateRule.objects.exists()


def test_non_staff_cannot_see_keys(client, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw")
    client.force_login(user)
    assert client.get("/dns/tsig/").status_code == 403


def test_the_api_makes_lists_grants_and_removes_keys(client, zone, staff_key, viewer_key):
    made = call(client, "post", "/dns/api/tsig/", staff_key, {"name": "acme"})
    assert made.status_code == 201
    assert made.json()["bind"].startswith('key "acme" {') and made.json()["secret"]
    assert (
        call(client, "get", "/dns/api/tsig/", viewer_key).status_code == 403
    )  # staff's, as the page
    listing = call(client, "get", "/dns/api/tsig/", staff_key).json()
    assert listing["keys"][0]["name"] == "acme." and "secret" not in str(listing)
    rule = {"key": "acme", "rule_type": "zonesub", "types": ["TXT"]}
    assert call(client, "post", "/dns/api/zones/example.org/update-policy/", viewer_key,
                rule).status_code == 403  # fmt: skip
    made = call(client, "post", "/dns/api/zones/example.org/update-policy/", staff_key, rule)
    assert made.status_code == 201 and made.json()["types"] == ["TXT"]
    rules = call(client, "get", "/dns/api/zones/example.org/update-policy/", staff_key).json()
    assert [r["rule_type"] for r in rules["rules"]] == ["zonesub"]
    assert call(client, "delete", "/dns/api/tsig/acme/", staff_key).status_code == 204
    assert not UpdateRule.objects.exists()

"""The DNSSEC panel on the zone page and the JSON API: same actions, no private key shown."""

from __future__ import annotations

from django.urls import reverse

from dnsadmin.models import SigningKey, ZoneSigning
from tests.dnsadmin.test_api import call, staff_key, viewer_key  # noqa: F401 (fixtures)


def panel(client, zone) -> str:
    return client.get(reverse("dnsadmin:zone-detail", args=[zone.pk])).content.decode()


def post(client, zone, **data):
    return client.post(reverse("dnsadmin:dnssec-action", args=[zone.pk]), data, follow=True)


def test_the_panel_signs_the_zone_and_shows_ds_and_dnskey_but_no_private_key(staff_client, zone):
    assert "This zone is not signed" in panel(staff_client, zone)
    post(staff_client, zone, action="enable", algorithm="ed25519", denial="nsec")
    page = panel(staff_client, zone)
    signing = ZoneSigning.objects.get(zone=zone)
    assert signing.algorithm == 15 and not signing.nsec3
    ksk = SigningKey.objects.get(role="ksk")
    assert f"example.org. IN DS {ksk.tag} 15 2 " in page
    assert ksk.dnskey in page
    assert "waiting for the parent" in page.lower()
    for key in SigningKey.objects.all():
        assert key.private_sealed not in page


def test_risky_steps_need_the_warning_read(staff_client, zone):
    post(staff_client, zone, action="enable")
    response = post(staff_client, zone, action="disable")
    assert "read the warning" in response.content.decode()
    assert ZoneSigning.objects.get().state == "signed"
    post(staff_client, zone, action="disable", understood="1")
    assert ZoneSigning.objects.get().state == "unsigning"


def test_viewers_may_not_act(user_client, zone):
    assert post(user_client, zone, action="enable").status_code == 403
    assert not ZoneSigning.objects.exists()


def test_the_api_reads_and_acts_on_dnssec(client, zone, staff_key, viewer_key):  # noqa: F811
    path = "/dns/api/zones/example.org./dnssec/"
    assert call(client, "get", path, viewer_key).json() == {
        "origin": "example.org.",
        "signed": False,
    }
    assert call(client, "post", path, viewer_key, {"action": "enable"}).status_code == 403
    done = call(client, "post", path, staff_key, {"action": "enable"}).json()
    assert done["signed"] and done["algorithm"] == "ecdsap256sha256"
    assert len(done["ds"]) == 1 and {k["role"] for k in done["keys"]} == {"ksk", "zsk"}
    assert "private" not in str(done).lower()
    refused = call(client, "post", path, staff_key, {"action": "enable"})
    assert refused.status_code == 400 and "signed already" in str(refused.json())
    rolled = call(client, "post", path, staff_key, {"action": "rollover-zsk"}).json()
    assert len([k for k in rolled["keys"] if k["role"] == "zsk"]) == 2

"""Secondary zones in the web: created by staff, shown read-only with their status panel and
a "refresh now" button, exported like any zone."""

from __future__ import annotations

import dns.name
import dns.rdata
import pytest
from django.utils import timezone

from dnsadmin import secondary
from dnsadmin.models import Record, SecondaryZone, Zone
from dnsadmin.names import xfrin
from dnsadmin.names.xfrin import Primary
from tests.names.fake_primary import zone_lines

ORIGIN = "sec.test."


@pytest.fixture
def transferred(db) -> Zone:
    """sec.test. as a transfer from 192.0.2.1 left it: serial 10, www A 192.0.2.80."""
    zone = secondary.add_secondary(ORIGIN, ["192.0.2.1"])
    lines = zone_lines(ORIGIN, 10, ("www.sec.test.", 300, "A", "192.0.2.80"))
    records = [
        (dns.name.from_text(name), ttl, dns.rdata.from_text("IN", rdtype, text))
        for name, ttl, rdtype, text in lines
    ]
    result = xfrin.read_transfer(zone.name, records, None)
    secondary.apply_transfer(zone.name, result, Primary("192.0.2.1"))
    secondary.succeeded(ORIGIN, result.kind, Primary("192.0.2.1"), timezone.now())
    zone.refresh_from_db()
    return zone


def test_staff_create_a_secondary_zone_from_the_form(staff_client):
    response = staff_client.post(
        "/dns/zones/new-secondary/", {"origin": "sec.test", "primaries": "192.0.2.1 192.0.2.2:5353"}
    )
    zone = Zone.objects.get(origin=ORIGIN)
    assert response.status_code == 302 and response.url == f"/dns/zones/{zone.pk}/"
    assert zone.secondary.primaries == "192.0.2.1 192.0.2.2:5353"


def test_a_bad_primary_is_refused_with_the_reason_and_nothing_is_created(staff_client):
    response = staff_client.post(
        "/dns/zones/new-secondary/", {"origin": "sec.test", "primaries": "ns1.example"}
    )
    assert response.status_code == 400
    assert "is not an IP address" in response.content.decode()
    assert not Zone.objects.filter(origin=ORIGIN).exists()


def test_the_zone_page_shows_the_status_and_the_records_read_only(staff_client, transferred):
    page = staff_client.get(f"/dns/zones/{transferred.pk}/").content.decode()
    assert 'id="secondary"' in page and "192.0.2.1" in page and "(AXFR)" in page
    assert ">serving<" in page and "192.0.2.80" in page
    assert "records/add" not in page and "/edit/" not in page  # no edit forms
    assert f"/dns/zones/{transferred.pk}/refresh/" in page
    export = staff_client.get(f"/dns/zones/{transferred.pk}/export/")
    assert export.status_code == 200
    assert "www" in b"".join(export.streaming_content).decode()


def test_a_viewer_sees_the_status_without_the_refresh_button(user_client, transferred):
    page = user_client.get(f"/dns/zones/{transferred.pk}/").content.decode()
    assert 'id="secondary"' in page and "/refresh/" not in page


def test_refresh_now_asks_for_a_check(staff_client, transferred):
    SecondaryZone.objects.update(next_refresh="2100-01-01T00:00:00Z")
    response = staff_client.post(f"/dns/zones/{transferred.pk}/refresh/")
    assert response.status_code == 302
    assert SecondaryZone.objects.get().next_refresh.year < 2100


def test_an_edit_posted_anyway_changes_nothing_and_says_why(staff_client, transferred):
    before = list(Record.objects.values_list("owner", "rdata"))
    response = staff_client.post(
        f"/dns/zones/{transferred.pk}/records/add/?type=A",
        {"owner": "new", "address": "192.0.2.7", "ttl": "", "comment": "", "enabled": "on"},
        follow=True,
    )
    assert "is a secondary zone" in response.content.decode()
    assert list(Record.objects.values_list("owner", "rdata")) == before


def test_the_api_shows_a_secondarys_status(staff_client, transferred):
    from dnsadmin.models import ApiToken

    key = ApiToken.issue(staff_client.user, "monitor", scope="read")[1]
    headers = {"HTTP_AUTHORIZATION": f"Token {key}"}
    data = staff_client.get(f"/dns/api/zones/{ORIGIN}/", **headers).json()
    assert data["serial"] == 10 and data["secondary"]["primaries"] == ["192.0.2.1"]
    assert (
        data["secondary"]["state"] == "serving"
        and data["secondary"]["last_transfer_kind"] == "AXFR"
    )


def test_the_settings_page_keeps_the_soa_of_a_secondary_and_dnssec_refuses_it(
    staff_client, transferred
):
    from dnsadmin import dnssec
    from dnsadmin.forms import ZoneSettingsForm

    form = ZoneSettingsForm(instance=transferred)
    fields = {name: form.initial.get(name) or "" for name in form.fields}
    response = staff_client.post(f"/dns/zones/{transferred.pk}/settings/", fields | {"refresh": 60})
    assert response.status_code == 400 and "is a secondary zone" in response.content.decode()
    transferred.refresh_from_db()
    assert (transferred.refresh, transferred.serial) == (3600, 10)
    with pytest.raises(dnssec.DnssecError, match="sign it on its primary"):
        dnssec.enable(transferred)

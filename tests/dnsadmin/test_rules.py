"""A CNAME at the zone apex is refused on every path that writes zone data.

The apex always has the SOA, which lives on the Zone row rather than among the
records, so each test makes sure nothing but that SOA stands in the CNAME's way
(the apex NS is removed in the same change where a path allows it), and that the
refusal says why. A zone file always has its SOA and NS, which dnspython's reader
already holds against a CNAME at their name; the importers must say where.
"""

from __future__ import annotations

import dns.name
import dns.rdatatype
import pytest
from django.core.management import CommandError

from dnsadmin import rules
from dnsadmin.changes import ChangeError, RecordData, RRsetEdit, apply_changes, current_rrset
from dnsadmin.models import Zone
from tests.dnsadmin.conftest import ZONE, edits
from tests.dnsadmin.test_api import call, staff_key  # noqa: F401 (staff_key is a fixture)
from tests.dnsadmin.test_zone_views import field_errors, record_post, url
from tests.dnsadmin.test_zonefile import load

APEX_CNAME = "@ IN CNAME www.example.net.\n"
REFUSAL = "zone apex"


def assert_untouched(zone: Zone) -> None:
    assert not zone.records.filter(rdtype="CNAME").exists()
    assert [r.rdata for r in current_rrset(zone, "@", "NS")] == ["ns1.example.org."]
    assert not edits().exists()


def test_the_rules_count_the_soa_at_the_apex():
    origin = dns.name.from_text("example.org.")
    with pytest.raises(rules.RecordError, match=REFUSAL) as error:
        rules.check_zone_data(origin, {rules.RecordKey(origin, dns.rdatatype.CNAME)})
    assert error.value.field == "owner"
    below = dns.name.from_text("www.example.org.")
    rules.check_zone_data(origin, {rules.RecordKey(below, dns.rdatatype.CNAME)})


@pytest.mark.django_db
def test_the_change_service_refuses_it_even_when_the_apex_ns_goes_in_the_same_change(zone):
    edits = [
        RRsetEdit("@", "NS", ()),
        RRsetEdit("@", "CNAME", (RecordData("www.example.net."),)),
    ]
    with pytest.raises(ChangeError, match=REFUSAL) as error:
        apply_changes(zone, edits)
    assert error.value.field == "owner"
    assert_untouched(zone)


@pytest.mark.django_db
def test_the_admin_refuses_it(staff_client, zone):
    staff_client.user.is_superuser = True
    staff_client.user.save()
    post = {"zone": zone.pk, "owner": "@", "rdtype": "CNAME", "ttl": "", "rdata": "www"}
    response = staff_client.post("/admin/dnsadmin/record/add/", {**post, "comment": ""})
    assert response.status_code == 200 and REFUSAL in response.content.decode()
    assert_untouched(zone)


@pytest.mark.django_db
def test_the_editor_refuses_it_next_to_the_name(staff_client, zone):
    response = staff_client.post(
        url(zone, "records/add/?type=CNAME"), record_post(owner="@", target="www")
    )
    assert response.status_code == 400
    assert REFUSAL in field_errors(response.content.decode(), "owner")
    assert_untouched(zone)


@pytest.mark.django_db
def test_the_api_refuses_it_for_a_record_and_for_an_rrset_batch(client, zone, staff_key):  # noqa: F811
    base = "/dns/api/zones/example.org/records/"
    record = {"owner": "@", "type": "CNAME", "rdata": "www"}
    response = call(client, "post", base, staff_key, record)
    assert response.status_code == 400 and REFUSAL in response.json()["errors"]["owner"][0]
    batch = [
        {"owner": "@", "type": "NS", "records": []},
        {"owner": "@", "type": "CNAME", "records": [{"rdata": "www"}]},
    ]
    response = call(client, "patch", base, staff_key, {"rrsets": batch})
    assert response.status_code == 400 and REFUSAL in response.json()["errors"]["owner"][0]
    assert_untouched(zone)


@pytest.mark.django_db
def test_loadzone_refuses_it_and_names_the_line():
    with pytest.raises(CommandError, match=rf"<stdin>:7: .*{REFUSAL}.*\(@ IN CNAME"):
        load(ZONE + APEX_CNAME)
    assert not Zone.objects.exists()


@pytest.mark.django_db
def test_an_import_in_the_web_refuses_it(staff_client, zone):
    response = staff_client.post(
        url(zone, "import/"), {"text": ZONE + APEX_CNAME, "mode": "merge", "apply": "1"}
    )
    assert response.status_code == 400 and REFUSAL in response.content.decode()
    assert_untouched(zone)

"""Importing BIND text (preview, then an atomic apply) and exporting the zone."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dnsadmin.changes import RecordData, RRsetEdit, apply_changes, current_rrset, import_zone
from dnsadmin.models import Record, Zone
from dnsadmin.zonefile import parse_zone_text
from tests.dnsadmin.conftest import edits

ZONE = """\
$ORIGIN example.org.
$TTL 3600
@    IN SOA ns1 hostmaster 2026010100 7200 900 1209600 300
     IN NS  ns1
ns1  IN A   192.0.2.53
www  IN A   192.0.2.80
old  IN TXT "going"
"""

# www changes, new is added, old is absent (removed only when replacing), ns1 stays.
FILE = """\
$ORIGIN example.org.
$TTL 3600
@    IN SOA ns1 hostmaster 2026020100 7200 900 1209600 300
     IN NS  ns1
ns1  IN A   192.0.2.53
www  IN A   192.0.2.81
new  IN AAAA 2001:db8::1
"""

pytestmark = pytest.mark.django_db


@pytest.fixture
def zone() -> Zone:
    return import_zone(parse_zone_text(ZONE))[0]


def import_url(zone: Zone) -> str:
    return f"/dns/zones/{zone.pk}/import/"


def preview_rows(html: str) -> set[tuple[str, str]]:
    rows = re.findall(
        r'<tr class="(add|change|remove)">\s*<td>\w+</td>\s*<td class="mono">([^<]+)</td>', html
    )
    return {(action, rrset) for action, rrset in rows}


def owners(zone: Zone) -> set[str]:
    return set(zone.records.values_list("owner", flat=True))


def test_a_merge_preview_shows_adds_and_changes_and_writes_nothing(staff_client, zone):
    response = staff_client.post(import_url(zone), {"text": FILE, "mode": "merge"})
    assert preview_rows(response.content.decode()) == {("add", "new AAAA"), ("change", "www A")}
    assert owners(zone) == {"@", "ns1", "www", "old"} and not edits().exists()


def test_a_replace_preview_also_shows_removals(staff_client, zone):
    response = staff_client.post(import_url(zone), {"text": FILE, "mode": "replace"})
    assert preview_rows(response.content.decode()) == {
        ("add", "new AAAA"),
        ("change", "www A"),
        ("remove", "old TXT"),
    }


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("merge", {"@", "ns1", "www", "new", "old"}), ("replace", {"@", "ns1", "www", "new"})],
)
def test_applying_the_preview_writes_it_in_one_change(staff_client, zone, mode, expected):
    preview = staff_client.post(import_url(zone), {"text": FILE, "mode": mode}).content.decode()
    token = re.search(r'name="expected" value="(\w+)"', preview).group(1)
    serial = zone.serial
    response = staff_client.post(
        import_url(zone), {"text": FILE, "mode": mode, "expected": token, "apply": "1"}
    )
    assert response.status_code == 302
    zone.refresh_from_db()
    assert owners(zone) == expected
    assert [r.rdata for r in current_rrset(zone, "www", "A")] == ["192.0.2.81"]
    change = edits().get()
    assert change.source == "import" and change.serial_before == serial != zone.serial


def test_an_uploaded_file_is_imported_like_pasted_text(staff_client, zone):
    upload = SimpleUploadedFile("example.org.zone", FILE.encode(), content_type="text/plain")
    response = staff_client.post(import_url(zone), {"file": upload, "mode": "merge"})
    assert ("add", "new AAAA") in preview_rows(response.content.decode())


def test_a_broken_file_names_its_line_and_changes_nothing(staff_client, zone):
    broken = FILE.replace("2001:db8::1", "not-an-address")
    before = list(Record.objects.values_list("owner", "rdtype", "rdata"))
    response = staff_client.post(
        import_url(zone), {"text": broken, "mode": "replace", "apply": "1"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "pasted text:7:" in html and "not-an-address" in html
    assert list(Record.objects.values_list("owner", "rdtype", "rdata")) == before
    assert not edits().exists()


def test_a_file_for_another_zone_is_refused(staff_client, zone):
    other = FILE.replace("example.org.", "example.net.")
    response = staff_client.post(import_url(zone), {"text": other, "mode": "merge"})
    assert response.status_code == 400 and owners(zone) == {"@", "ns1", "www", "old"}


def test_an_import_previewed_before_someone_elses_change_is_refused(staff_client, zone):
    preview = staff_client.post(
        import_url(zone), {"text": FILE, "mode": "replace"}
    ).content.decode()
    token = re.search(r'name="expected" value="(\w+)"', preview).group(1)
    apply_changes(zone, [RRsetEdit("late", "A", (RecordData("192.0.2.9"),))])
    response = staff_client.post(
        import_url(zone), {"text": FILE, "mode": "replace", "expected": token, "apply": "1"}
    )
    assert response.status_code == 409
    assert "late" in owners(zone) and "old" in owners(zone)


def test_the_export_is_a_bind_file_attachment_that_imports_back(user_client, zone):
    Record.objects.filter(owner="old").update(enabled=False)
    response = user_client.get(f"/dns/zones/{zone.pk}/export/")
    assert response["Content-Type"].startswith("text/plain")
    assert response["Content-Disposition"] == 'attachment; filename="example.org.zone"'
    assert response.streaming  # a big zone starts downloading at once
    text = response.getvalue().decode()
    assert "$ORIGIN example.org." in text and "192.0.2.80" in text and "going" not in text
    parsed = parse_zone_text(text)
    assert {(r.owner, r.rdtype) for r in parsed.records} == {
        ("@", "NS"),
        ("ns1", "A"),
        ("www", "A"),
    }


def test_reimporting_the_export_changes_nothing(staff_client, zone):
    text = staff_client.get(f"/dns/zones/{zone.pk}/export/").getvalue().decode()
    response = staff_client.post(import_url(zone), {"text": text, "mode": "merge"})
    assert "nothing to import" in response.content.decode()


def test_records_without_an_soa_merge_into_the_zone(staff_client, zone):
    records = "$TTL 600\nextra IN A 192.0.2.44\n"
    response = staff_client.post(import_url(zone), {"text": records, "mode": "merge"})
    assert response.status_code == 200 and ("add", "extra A") in preview_rows(
        response.content.decode()
    )
    staff_client.post(import_url(zone), {"text": records, "mode": "merge", "apply": "1"})
    assert "extra" in owners(zone) and "www" in owners(zone)


def test_a_replace_without_apex_ns_says_so(staff_client, zone):
    records = "$TTL 600\nextra IN A 192.0.2.44\n"
    response = staff_client.post(import_url(zone), {"text": records, "mode": "replace"})
    assert response.status_code == 400 and "without name servers" in response.content.decode()


def test_a_file_for_another_zone_says_which_zone_it_is_for(staff_client, zone):
    other = FILE.replace("example.org.", "example.net.")
    html = staff_client.post(import_url(zone), {"text": other, "mode": "merge"}).content.decode()
    assert "pasted text:1: $ORIGIN example.net. is outside the zone example.org." in html
    assert "no SOA" not in html


def test_bad_rdata_says_what_is_wrong_with_it(staff_client, zone):
    broken = FILE.replace("2001:db8::1", "192.0.2.1")
    html = staff_client.post(import_url(zone), {"text": broken, "mode": "merge"}).content.decode()
    assert "pasted text:7: the AAAA data &#x27;192.0.2.1&#x27; is not an IPv6 address" in html
    assert "malformed" not in html


def test_records_without_a_ttl_take_the_zones_default(staff_client, zone):
    records = "extra IN A 192.0.2.44\n"
    staff_client.post(import_url(zone), {"text": records, "mode": "merge", "apply": "1"})
    (record,) = current_rrset(zone, "extra", "A")
    assert record.ttl is None  # the zone's default TTL, stored as such

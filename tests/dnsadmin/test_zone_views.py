"""The zone list, zone page and record forms: validation, conflicts, batches, permissions."""

from __future__ import annotations

import re

import dns.rdata
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from dnsadmin import secondary
from dnsadmin.changes import RecordData, RRsetEdit, apply_changes, current_rrset, fingerprint
from dnsadmin.models import Record, SecondaryZone, Zone
from tests.dnsadmin.conftest import ZONE, edits

pytestmark = pytest.mark.django_db


def url(zone: Zone, suffix: str = "") -> str:
    return f"/dns/zones/{zone.pk}/{suffix}"


def record_post(**fields) -> dict:
    return {"owner": "@", "ttl": "", "comment": "", "enabled": "on", "action": "apply", **fields}


def rdatas(zone: Zone, owner: str, rdtype: str) -> set[str]:
    return {r.rdata for r in current_rrset(zone, owner, rdtype)}


def field_errors(html: str, field: str) -> str:
    match = re.search(rf'id="id_{field}-errors">(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


def test_pages_need_login(client, zone):
    for page in ("/dns/zones/", url(zone), url(zone, "history/"), url(zone, "export/")):
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_non_staff_may_look_but_not_change(user_client, zone):
    page = user_client.get(url(zone)).content.decode()
    assert "www" in page and "192.0.2.80" in page
    assert "Add a record" not in page and "/edit/" not in page and "/toggle/" not in page
    record = zone.records.get(owner="www")
    for path in (
        "/dns/zones/new/",
        url(zone, "records/add/?type=A"),
        url(zone, f"records/{record.pk}/edit/"),
        url(zone, f"records/{record.pk}/delete/"),
        url(zone, f"records/{record.pk}/toggle/"),
        url(zone, "settings/"),
        url(zone, "delete/"),
        url(zone, "import/"),
        url(zone, "pending/apply/"),
    ):
        assert user_client.post(path, record_post(address="192.0.2.1")).status_code == 403, path
    assert rdatas(zone, "www", "A") == {"192.0.2.80"} and Zone.objects.count() == 1


def test_the_zone_list_shows_serial_record_count_and_state(user_client, zone):
    page = user_client.get("/dns/zones/").content.decode()
    row = page[page.index("example.org.") :]
    assert str(zone.serial) in row and "<td>3</td>" in row and "yes" in row
    assert "New zone" not in page


def kind_in(page: str, origin: str) -> str:
    """The zone list's Kind cell of a zone, as text."""
    cell = re.search(
        rf'{re.escape(origin)}</a></td>\s*<td class="zone-kind">(.*?)</td>', page, re.S
    )
    return " ".join(re.sub("<[^>]+>", "", cell.group(1)).split())


def test_the_zone_list_says_primary_or_secondary_and_how_a_secondary_is(
    user_client, zone, django_assert_max_num_queries
):
    now = timezone.now()
    states = {
        "fresh.test.": {"expired": False, "last_transfer": now},
        "failing.test.": {"expired": False, "last_transfer": now, "last_error": "timed out"},
        "expired.test.": {"expired": True, "last_transfer": now, "last_error": "refused"},
        "new.test.": {},  # never transferred
    }
    for origin, fields in states.items():
        secondary.add_secondary(origin, ["192.0.2.1"])
        SecondaryZone.objects.filter(zone__origin=origin).update(**fields)
    with django_assert_max_num_queries(8):  # the states are read with the zones
        page = user_client.get("/dns/zones/").content.decode()
    kinds = {origin: kind_in(page, origin) for origin in [zone.origin, *states]}
    assert kinds == {
        "example.org.": "primary",
        "fresh.test.": "secondary: fresh",
        "failing.test.": "secondary: serving, refresh failed",
        "expired.test.": "secondary: expired",
        "new.test.": "secondary: not loaded yet",
    }
    assert 'title="timed out"' in page


def test_staff_create_a_zone_with_its_soa_and_apex_ns(staff_client):
    response = staff_client.post(
        "/dns/zones/new/",
        {
            "origin": "New.Example",
            "primary_ns": "ns1.new.example.",
            "contact": "host.master@new.example",
            "default_ttl": "300",
        },
    )
    zone = Zone.objects.get(origin="new.example.")
    assert response.status_code == 302 and response["Location"] == url(zone)
    assert zone.soa_rdata().to_text().startswith("ns1.new.example. host\\.master.new.example.")
    assert rdatas(zone, "@", "NS") == {"ns1.new.example."}
    assert zone.changes.get().username == "staff"


def test_a_bad_origin_is_shown_next_to_its_field_and_creates_nothing(staff_client):
    response = staff_client.post(
        "/dns/zones/new/",
        {"origin": "bad..name", "primary_ns": "ns1", "contact": "x", "default_ttl": "300"},
    )
    assert response.status_code == 400
    assert "Not a valid domain name" in field_errors(response.content.decode(), "origin")
    assert not Zone.objects.exists()


def test_adding_an_a_record_bumps_the_serial_and_is_attributed(staff_client, zone):
    serial = zone.serial
    response = staff_client.post(
        url(zone, "records/add/?type=A"), record_post(owner="api", address="192.0.2.7")
    )
    assert response.status_code == 302
    zone.refresh_from_db()
    assert rdatas(zone, "api", "A") == {"192.0.2.7"} and zone.serial != serial
    change = edits().get()
    assert (change.username, change.serial_before, change.serial_after) == (
        "staff",
        serial,
        zone.serial,
    )
    assert str(zone.serial) in staff_client.get(url(zone)).content.decode()


@pytest.mark.parametrize(
    ("rdtype", "fields", "field", "message"),
    [
        ("A", {"address": "192.0.2.300"}, "address", "valid IPv4"),
        ("A", {"address": "2001:db8::1"}, "address", "valid IPv4"),
        ("AAAA", {"address": "192.0.2.1"}, "address", "valid IPv6"),
        ("MX", {"preference": "70000", "exchange": "mail"}, "preference", "less than or equal"),
        ("CNAME", {"target": "a..b"}, "target", "Not a valid domain name"),
        (
            "SRV",
            {"owner": "sip", "priority": "1", "weight": "1", "port": "5060", "target": "x"},
            "owner",
            "_service",
        ),
        ("A", {"owner": "www.example.com.", "address": "192.0.2.1"}, "owner", "outside the zone"),
        ("A", {"ttl": "-5", "address": "192.0.2.1"}, "ttl", "greater than or equal"),
        ("other", {"type": "SSHFP", "rdata": "1 1 zz"}, "rdata", "Invalid SSHFP data"),
        ("other", {"type": "NOPE", "rdata": "x"}, "type", "Unknown record type"),
        ("other", {"type": "SOA", "rdata": "x"}, "type", "edited with the zone"),
    ],
)
def test_bad_values_are_shown_next_to_their_field_and_save_nothing(
    staff_client, zone, rdtype, fields, field, message
):
    count = Record.objects.count()
    response = staff_client.post(url(zone, f"records/add/?type={rdtype}"), record_post(**fields))
    assert response.status_code == 400
    assert message in field_errors(response.content.decode(), field)
    assert Record.objects.count() == count and not edits().exists()


def test_a_cname_next_to_other_data_is_refused_inline(staff_client, zone):
    response = staff_client.post(
        url(zone, "records/add/?type=CNAME"), record_post(owner="www", target="ns1")
    )
    assert response.status_code == 400
    assert "must be alone" in field_errors(response.content.decode(), "target")
    assert rdatas(zone, "www", "CNAME") == set()


@pytest.mark.parametrize(
    ("rdtype", "fields", "owner", "stored"),
    [
        ("AAAA", {"address": "2001:DB8::1"}, "@", "2001:db8::1"),
        ("MX", {"preference": "10", "exchange": "mail"}, "@", "10 mail.example.org."),
        (
            "SRV",
            {"owner": "_sip._tcp", "priority": "1", "weight": "5", "port": "5060", "target": "sip"},
            "_sip._tcp",
            "1 5 5060 sip.example.org.",
        ),
        (
            "CAA",
            {"flags": "0", "tag": "issue", "value": "letsencrypt.org"},
            "@",
            '0 issue "letsencrypt.org"',
        ),
        ("PTR", {"target": "host.example.net."}, "@", "host.example.net."),
        (
            "other",
            {"type": "sshfp", "rdata": "1 1 " + "0123456789abcdef" * 2 + "01234567"},
            "@",
            "1 1 " + "0123456789abcdef" * 2 + "01234567",
        ),
    ],
)
def test_each_typed_form_stores_canonical_rdata(staff_client, zone, rdtype, fields, owner, stored):
    response = staff_client.post(url(zone, f"records/add/?type={rdtype}"), record_post(**fields))
    assert response.status_code == 302
    saved = zone.records.exclude(rdtype__in=["NS", "A"]).get()
    assert (saved.owner, saved.rdata) == (owner, stored)


def test_long_txt_is_split_into_255_byte_strings_and_quotes_survive(staff_client, zone):
    text = 'say "hi" ' + "x" * 300
    staff_client.post(url(zone, "records/add/?type=TXT"), record_post(owner="t", text=text))
    record = zone.records.get(owner="t")
    strings = dns.rdata.from_text("IN", "TXT", record.rdata).strings
    assert [len(s) for s in strings] == [255, len(text) - 255]
    assert b"".join(strings).decode() == text
    edit = staff_client.get(url(zone, f"records/{record.pk}/edit/")).content.decode()
    assert "say &quot;hi&quot; xxx" in edit


def test_hostile_txt_is_escaped_everywhere(staff_client, zone):
    staff_client.post(
        url(zone, "records/add/?type=TXT"),
        record_post(owner="x", text="<script>alert(1)</script>", comment="<b>c</b>"),
    )
    for page in (url(zone), url(zone, "history/"), f"/dns/changes/{edits().get().pk}/"):
        html = staff_client.get(page).content.decode()
        assert "<script>alert" not in html and "<b>c</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_editing_a_record_replaces_it(staff_client, zone):
    record = zone.records.get(owner="www")
    form = staff_client.get(url(zone, f"records/{record.pk}/edit/")).content.decode()
    shown = re.search(r'name="fingerprint" value="(\w+)"', form).group(1)
    response = staff_client.post(
        url(zone, f"records/{record.pk}/edit/"),
        record_post(owner="www", address="192.0.2.81", ttl="60", fingerprint=shown),
    )
    assert response.status_code == 302
    assert [(r.rdata, r.ttl) for r in current_rrset(zone, "www", "A")] == [("192.0.2.81", 60)]


def test_the_second_of_two_edits_from_the_same_view_gets_a_conflict(staff_client, zone):
    record = zone.records.get(owner="www")
    shown = fingerprint(current_rrset(zone, "www", "A"))
    edit = url(zone, f"records/{record.pk}/edit/")
    first = staff_client.post(
        edit, record_post(owner="www", address="192.0.2.1", fingerprint=shown)
    )
    assert first.status_code == 302
    second = staff_client.post(
        edit, record_post(owner="www", address="192.0.2.2", fingerprint=shown)
    )
    html = second.content.decode()
    assert second.status_code == 409
    assert "changed www A meanwhile" in html and "192.0.2.1" in html
    assert rdatas(zone, "www", "A") == {"192.0.2.1"}
    assert edits().count() == 1


def test_a_stale_delete_or_toggle_is_a_conflict(staff_client, zone):
    record = zone.records.get(owner="www")
    stale = fingerprint(current_rrset(zone, "www", "A"))
    Record.objects.filter(pk=record.pk).update(comment="changed elsewhere")
    for action in ("delete", "toggle"):
        response = staff_client.post(
            url(zone, f"records/{record.pk}/{action}/"), {"fingerprint": stale, "action": "apply"}
        )
        assert response.status_code == 409 and "changed elsewhere" in response.content.decode()
    assert zone.records.get(pk=record.pk).enabled


def test_delete_asks_first_then_deletes(staff_client, zone):
    record = zone.records.get(owner="www")
    page = staff_client.get(url(zone, f"records/{record.pk}/delete/")).content.decode()
    shown = re.search(r'name="fingerprint" value="(\w+)"', page).group(1)
    assert "Delete a record" in page and zone.records.filter(pk=record.pk).exists()
    staff_client.post(
        url(zone, f"records/{record.pk}/delete/"), {"fingerprint": shown, "action": "apply"}
    )
    assert not zone.records.filter(owner="www").exists()


def test_a_record_can_be_disabled_and_enabled(staff_client, zone):
    record = zone.records.get(owner="www")
    for expected in (False, True):
        shown = fingerprint(current_rrset(zone, "www", "A"))
        staff_client.post(url(zone, f"records/{record.pk}/toggle/"), {"fingerprint": shown})
        assert zone.records.get(owner="www").enabled is expected


def test_pending_changes_are_applied_together_with_one_serial_bump(staff_client, zone):
    serial = zone.serial
    queue = record_post(action="queue")
    staff_client.post(
        url(zone, "records/add/?type=A"), {**queue, "owner": "a", "address": "192.0.2.1"}
    )
    staff_client.post(
        url(zone, "records/add/?type=A"), {**queue, "owner": "a", "address": "192.0.2.2"}
    )
    staff_client.post(
        url(zone, "records/add/?type=MX"), {**queue, "preference": "5", "exchange": "a"}
    )
    assert (
        rdatas(zone, "a", "A") == set()
        and "Pending changes" in staff_client.get(url(zone)).content.decode()
    )
    staff_client.post(url(zone, "pending/apply/"))
    zone.refresh_from_db()
    assert rdatas(zone, "a", "A") == {"192.0.2.1", "192.0.2.2"}
    assert rdatas(zone, "@", "MX") == {"5 a.example.org."}
    change = edits().get()
    assert change.serial_before == serial and change.rrsets.count() == 2
    assert "Pending changes" not in staff_client.get(url(zone)).content.decode()


def test_a_pending_batch_that_went_stale_is_refused_whole(staff_client, zone):
    record = zone.records.get(owner="www")
    shown = fingerprint(current_rrset(zone, "www", "A"))
    queue = record_post(action="queue")
    staff_client.post(
        url(zone, "records/add/?type=A"), {**queue, "owner": "new", "address": "192.0.2.1"}
    )
    staff_client.post(
        url(zone, f"records/{record.pk}/delete/"), {"fingerprint": shown, "action": "queue"}
    )
    Record.objects.filter(pk=record.pk).update(ttl=5)  # someone else's edit
    response = staff_client.post(url(zone, "pending/apply/"))
    assert response.status_code == 409
    assert rdatas(zone, "new", "A") == set() and zone.records.filter(owner="www").exists()
    staff_client.post(url(zone, "pending/discard/"))
    assert "Apply all together" not in staff_client.get(url(zone)).content.decode()


def settings_post(**fields) -> dict:
    return {
        "enabled": "on",
        "primary_ns": "ns1.example.org.",
        "contact": "hostmaster.example.org.",
        "refresh": "100",
        "retry": "50",
        "expire": "100000",
        "minimum": "60",
        "default_ttl": "600",
        "transfer_acl": "192.0.2.0/24",
        "notify_targets": "",
        **fields,
    }


def test_settings_change_the_soa_and_bump_the_serial(staff_client, zone):
    serial = zone.serial
    data = settings_post()
    assert staff_client.post(url(zone, "settings/"), data).status_code == 302
    zone.refresh_from_db()
    assert (zone.refresh, zone.default_ttl, zone.transfer_acl) == (100, 600, "192.0.2.0/24")
    assert zone.serial != serial and edits().get().source == "settings"
    bad = staff_client.post(url(zone, "settings/"), {**data, "transfer_acl": "not-an-ip"})
    assert "is not an IP address" in field_errors(bad.content.decode(), "transfer_acl")


def test_a_settings_change_is_summarised_by_label_with_old_and_new_values(staff_client, zone):
    data = settings_post(
        primary_ns=zone.primary_ns,
        contact=zone.contact,
        expire=str(zone.expire),
        minimum=str(zone.minimum),
        default_ttl=str(zone.default_ttl),
        refresh="7300",
        transfer_acl="192.0.2.0/24\n198.51.100.0/24",
        notify_targets="192.0.2.2\n" + "198.51.100.250:5353 " * 10,
        retry=str(zone.retry),
    )
    staff_client.post(url(zone, "settings/"), data)
    summary = edits().get().summary
    assert summary.startswith(
        "Settings: refresh 7200 → 7300; transfer ACL (empty) → 192.0.2.0/24 198.51.100.0/24; "
        "notify targets (empty) → 192.0.2.2 198.51.100.250:5353"
    )
    assert summary.endswith("…") and len(summary) < 255
    assert summary in staff_client.get(url(zone, "history/")).content.decode()


def test_creation_and_settings_describe_and_take_the_contact_alike(staff_client, zone):
    def contact_help(path: str) -> str:
        return staff_client.get(path).context["form"].fields["contact"].help_text

    assert contact_help("/dns/zones/new/") == contact_help(url(zone, "settings/"))
    assert "hostmaster@example.org" in contact_help(url(zone, "settings/"))
    staff_client.post(url(zone, "settings/"), settings_post(contact="dns.admin@example.org"))
    zone.refresh_from_db()
    assert zone.contact == "dns\\.admin.example.org."


def test_deleting_a_zone_asks_first(staff_client, zone):
    assert "Delete the zone" in staff_client.get(url(zone, "delete/")).content.decode()
    assert Zone.objects.exists()
    staff_client.post(url(zone, "delete/"))
    assert not Zone.objects.exists()


def test_a_deleted_zone_is_listed_with_who_deleted_it_and_what_it_held(staff_client, zone):
    staff_client.post(url(zone, "records/add/?type=A"), record_post(owner="n", address="192.0.2.9"))
    staff_client.post(url(zone, "delete/"))
    deleted = edits().get(zone_deleted=True)
    listing = staff_client.get("/dns/zones/").content.decode()
    section = listing[listing.index("Deleted zones") :]
    assert f'/dns/changes/{deleted.pk}/">example.org.</a>' in section
    assert "staff via web" in section
    page = staff_client.get(f"/dns/changes/{deleted.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "zone deleted at serial" in html
    assert "192.0.2.80" in html and "192.0.2.9" in html and "Revert this change" not in html
    earlier = edits().get(zone_deleted=False)
    assert f"/dns/changes/{earlier.pk}/" in html  # the rest of its history, still reachable


def test_a_deleted_zones_entries_show_but_do_not_revert(staff_client, zone):
    staff_client.post(url(zone, "records/add/?type=A"), record_post(owner="n", address="192.0.2.9"))
    change = edits().get()
    staff_client.post(url(zone, "delete/"))
    page = staff_client.get(f"/dns/changes/{change.pk}/")
    assert page.status_code == 200 and "n A" in page.content.decode()
    assert "Revert this change" not in page.content.decode()
    response = staff_client.post(f"/dns/changes/{change.pk}/revert/", follow=True)
    assert "was deleted" in response.content.decode() and not Zone.objects.exists()


def import_text(replace_all: bool) -> dict:
    text = ZONE.replace("192.0.2.80", "192.0.2.81")
    return {"text": text, "mode": "replace" if replace_all else "merge", "apply": "1"}


def queue_then_apply(client, zone: Zone):
    queued = record_post(action="queue", owner="q", address="192.0.2.3")
    client.post(url(zone, "records/add/?type=A"), queued)
    return client.post(url(zone, "pending/apply/"))


def with_fingerprint(action: str, fields: dict | None = None):
    """A POST to the www record's edit/delete/toggle view, from a fresh look at it."""

    def post(client, zone: Zone):
        record = zone.records.get(owner="www")
        shown = fingerprint(current_rrset(zone, "www", "A"))
        data = {"fingerprint": shown, "action": "apply", **(fields or {})}
        return client.post(url(zone, f"records/{record.pk}/{action}/"), data)

    return post


def revert_anns_change(client, zone: Zone):
    ann = get_user_model().objects.create_user("ann")
    change = apply_changes(zone, [RRsetEdit("www", "A", (RecordData("192.0.2.5"),))], ann)
    return client.post(f"/dns/changes/{change.pk}/revert/")


NEW_ZONE = {"origin": "new.example", "primary_ns": "ns1.new.example.", "contact": "h"}
CHANGE_VIEWS = {
    "record add": lambda c, z: c.post(
        url(z, "records/add/?type=A"), record_post(owner="n", address="192.0.2.9")
    ),
    "record edit": with_fingerprint("edit", record_post(owner="www", address="192.0.2.7")),
    "record delete": with_fingerprint("delete"),
    "record toggle": with_fingerprint("toggle"),
    "batch apply": queue_then_apply,
    "import merge": lambda c, z: c.post(url(z, "import/"), import_text(replace_all=False)),
    "import replace": lambda c, z: c.post(url(z, "import/"), import_text(replace_all=True)),
    "revert": revert_anns_change,
    "settings": lambda c, z: c.post(url(z, "settings/"), settings_post()),
    "zone create": lambda c, z: c.post("/dns/zones/new/", {**NEW_ZONE, "default_ttl": "300"}),
    "zone delete": lambda c, z: c.post(url(z, "delete/")),
}


@pytest.mark.parametrize("view", CHANGE_VIEWS)
def test_every_change_view_attributes_its_change_to_the_user(staff_client, zone, view):
    response = CHANGE_VIEWS[view](staff_client, zone)
    assert response.status_code == 302, response.content.decode()[:2000]
    change = edits().get(username="staff")
    assert change.user == staff_client.user
    assert edits().first() == change  # it is the newest entry: this view's


def test_the_dashboard_counts_zones_and_records(user_client, zone):
    page = user_client.get("/").content.decode()
    assert "DNS zones" in page and "1 zone</a>, 3 records" in page

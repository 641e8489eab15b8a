"""The zone page on big zones: database-side filter, zone-file order, page size and jump,
the SOA in the list, and several records deleted in one change."""

from __future__ import annotations

import pytest

from dnsadmin.changes import RecordData, RRsetEdit, apply_changes, zone_rows
from dnsadmin.listing import record_page
from dnsadmin.models import Zone, record_sort_key
from tests.dnsadmin.conftest import edits
from tests.dnsadmin.test_zone_views import url

pytestmark = pytest.mark.django_db


def add(zone: Zone, *records: tuple[str, str, str]) -> None:
    apply_changes(zone, [RRsetEdit(o, t, (RecordData(d),)) for o, t, d in records])


def owners(page) -> list[tuple[str, str]]:
    return [(row.record.owner, row.record.rdtype) for row in page.rows]


def test_pages_follow_zone_file_order_as_the_whole_list_does(zone):
    add(zone, *[(f"h{i}.b.a", "A", f"10.0.0.{i}") for i in range(1, 8)])
    add(zone, ("z", "TXT", '"last"'), ("a", "AAAA", "2001:db8::1"), ("@", "MX", "10 mail"))
    whole = [(row.record.owner, row.record.rdtype) for row in zone_rows(zone)]
    paged = [
        key for number in (1, 2, 3) for key in owners(record_page(zone, number=str(number), size=5))
    ]
    assert paged == whole


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.5", {"h5"}),  # data
        ("h1", {"h1"}),  # a piece of a name
        ("h*", {"h1", "h5"}),  # a glob on names
        ("h5.example.org.", {"h5"}),  # a full name
    ],
)
def test_the_filter_finds_names_and_data(zone, text, expected):
    add(zone, ("h1", "A", "10.0.0.1"), ("h5", "A", "10.0.0.5"))
    assert {row.record.owner for row in record_page(zone, text).rows} == expected


def test_the_page_offers_sizes_a_jump_and_the_soa(user_client, zone):
    add(zone, *[(f"n{i}", "A", f"10.0.1.{i}") for i in range(60)])
    page = user_client.get(url(zone) + "?size=50&page=2")
    html = page.content.decode()
    assert len(page.context["rows"]) == 13 and page.context["page"].number == 2
    assert 'name="page" type="number"' in html and "page 2 of 2 (63 records)" in html
    assert 'id="soa"' not in html
    first = user_client.get(url(zone)).content.decode()
    assert 'id="soa"' in first and "ns1.example.org. hostmaster.example.org." in first


def test_several_records_are_deleted_in_one_change(staff_client, zone):
    add(zone, ("a", "A", "10.0.0.1"), ("b", "A", "10.0.0.2"), ("c", "A", "10.0.0.3"))
    rows = {row.record.owner: row for row in record_page(zone).rows}
    post = {"record": [rows["a"].record.pk, rows["b"].record.pk]}
    post |= {f"fingerprint-{rows[o].record.pk}": rows[o].fingerprint for o in ("a", "b")}
    before = edits().count()
    response = staff_client.post(url(zone, "records/delete/"), post)
    assert response.status_code == 302
    assert set(zone.records.values_list("owner", flat=True)) == {"@", "ns1", "www", "c"}
    assert edits().count() == before + 1


def test_a_stale_selection_deletes_nothing(staff_client, zone):
    add(zone, ("a", "A", "10.0.0.1"))
    row = next(r for r in record_page(zone).rows if r.record.owner == "a")
    apply_changes(zone, [RRsetEdit("a", "A", (RecordData("10.0.0.1", 60),))])
    post = {"record": [row.record.pk], f"fingerprint-{row.record.pk}": row.fingerprint}
    response = staff_client.post(url(zone, "records/delete/"), post)
    assert response.status_code == 409 and zone.records.filter(owner="a").exists()


@pytest.mark.parametrize(
    ("q", "expected"),
    [("192.0.2.80", {"www"}), ("ns1", {"ns1", "@"}), ("www.example.org", {"www"})],
)
def test_one_search_finds_records_in_every_zone(user_client, zone, q, expected):
    page = user_client.get("/dns/search/", {"q": q})
    assert {record.owner for record in page.context["records"]} == expected


def test_the_search_escapes_what_was_typed(user_client, zone):
    html = user_client.get("/dns/search/", {"q": "<b>x</b>"}).content.decode()
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_the_stored_sort_key_orders_as_dns_canonical_order(zone):
    # RFC 4034 §6.1's example, lower-cased, below the zone; then types by number.
    names = ["z.a", "yljkjljk.a", "*.z", "\\001.z", "zabc.a", "a", "z", "@", "\\200.z", "ab"]
    keys = sorted(names, key=lambda owner: record_sort_key(owner, "A"))
    assert keys == ["@", "a", "yljkjljk.a", "z.a", "zabc.a", "ab", "z", "\\001.z", "*.z", "\\200.z"]
    assert (
        record_sort_key("www", "A") < record_sort_key("www", "MX") < record_sort_key("www", "TXT")
    )
    assert record_sort_key("WWW", "A") == record_sort_key("www", "A")


def test_every_row_written_carries_its_sort_key(zone):
    add(zone, ("b.a", "TXT", '"x"'), ("A.b", "AAAA", "2001:db8::1"))
    rows = zone.records.values_list("owner", "rdtype", "sort_key")
    assert all(bytes(key) == record_sort_key(owner, rdtype) for owner, rdtype, key in rows)


def test_a_page_is_one_ordered_query_not_the_whole_zone(zone, django_assert_max_num_queries):
    add(zone, *[(f"n{i}", "A", f"10.0.1.{i}") for i in range(40)])
    with django_assert_max_num_queries(4):  # count, the page's ids, its records, its RRsets
        rows = record_page(zone, number="2", size=10).rows
    assert len(rows) == 10

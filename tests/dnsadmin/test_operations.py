"""The query log page and the dashboard's query statistics."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from dnsadmin.models import QueryLogEntry, QueryStats

pytestmark = pytest.mark.django_db


def log(
    name: str,
    client: str = "127.0.0.1",
    rcode: str = "NOERROR",
    source: str = "authority",
    minutes_ago: int = 0,
) -> None:
    QueryLogEntry.objects.create(
        time=timezone.now() - datetime.timedelta(minutes=minutes_ago),
        client=client,
        name=name,
        rdtype="A",
        rcode=rcode,
        source=source,
        latency_ms=0.2,
    )


def test_the_query_log_needs_login(client):
    assert client.get("/dns/queries/").status_code == 302


def test_the_query_log_filters_by_client_name_rcode_and_source(staff_client):
    log("www.example.org.")
    log("mail.example.org.", client="192.0.2.9", rcode="NXDOMAIN")
    log("www.example.net.", source="recursive")
    page = staff_client.get("/dns/queries/", {"client": "192.0.2.9"}).content.decode()
    assert "mail.example.org." in page and "www.example.org." not in page
    page = staff_client.get("/dns/queries/", {"name": ".example.org"}).content.decode()
    assert "mail.example.org." in page and "www.example.net." not in page
    page = staff_client.get("/dns/queries/", {"rcode": "NXDOMAIN"}).content.decode()
    assert "mail.example.org." in page and "www.example.org." not in page
    page = staff_client.get("/dns/queries/", {"source": "recursive"}).content.decode()
    assert "www.example.net." in page and "example.org." not in page


def test_the_query_log_filters_by_time_range(staff_client):
    log("old.example.org.", minutes_ago=120)
    log("new.example.org.")
    since = (timezone.now() - datetime.timedelta(minutes=60)).strftime("%Y-%m-%dT%H:%M")
    page = staff_client.get("/dns/queries/", {"since": since}).content.decode()
    assert "new.example.org." in page and "old.example.org." not in page


def test_the_query_log_pages_and_keeps_the_filter(staff_client):
    for number in range(150):
        log(f"host{number}.example.org.")
    first = staff_client.get("/dns/queries/", {"name": ".example.org"}).content.decode()
    assert "Page 1 of 2" in first and "name=.example.org&amp;page=2" in first
    second = staff_client.get("/dns/queries/", {"name": ".example.org", "page": 2}).content.decode()
    assert "host0.example.org." in second


def test_a_bad_filter_shows_its_error_and_no_entries(staff_client):
    log("www.example.org.")
    page = staff_client.get("/dns/queries/", {"client": "not-an-ip"}).content.decode()
    assert "errorlist" in page and "www.example.org." not in page


def test_hostile_names_are_escaped(staff_client):
    log("<script>alert(1)</script>.example.")
    page = staff_client.get("/dns/queries/").content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_the_dashboard_shows_queries_per_second_by_rcode_and_source(staff_client):
    minute = timezone.now().replace(second=0, microsecond=0)
    QueryStats.objects.create(minute=minute, rcode="NOERROR", source="authority", count=3600)
    QueryStats.objects.create(minute=minute, rcode="NXDOMAIN", source="cache", count=360)
    QueryStats.objects.create(
        minute=minute - datetime.timedelta(hours=3),
        rcode="NOERROR",
        source="authority",
        count=86400,
    )
    page = staff_client.get("/").content.decode()
    assert "DNS queries" in page
    assert "1.10" in page  # (3600 + 360) / 3600 in the last hour
    assert "NXDOMAIN 360" in page and "cache 360" in page
    assert "90360" in page  # the last day includes the older bucket


@pytest.mark.parametrize(
    ("field", "value", "shown", "hidden"),
    [
        ("client", "10.1.0.0/16", ["a.test."], ["b.test.", "c.test."]),
        ("client", "10.1.2.0/23", ["a.test."], ["b.test.", "c.test."]),
        ("client", "2001:db8::/32", ["c.test."], ["a.test.", "b.test."]),
        ("name", "*.test", ["a.test.", "b.test.", "c.test."], []),
        ("name", "a*", ["a.test."], ["b.test."]),
        ("name", "test", ["a.test.", "b.test."], []),
    ],
)
def test_the_query_log_filters_by_network_and_name_pattern(
    staff_client, field, value, shown, hidden
):
    log("a.test.", client="10.1.2.3")
    log("b.test.", client="10.11.2.3")
    log("c.test.", client="2001:db8::5")
    page = staff_client.get("/dns/queries/", {field: value}).content.decode()
    assert all(name in page for name in shown) and not any(name in page for name in hidden)

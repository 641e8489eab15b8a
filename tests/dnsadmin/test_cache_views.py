"""The cache browser: search, delete a name, flush everything; the workers are told."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from dnsadmin.models import CacheCommand, CacheEntry

pytestmark = pytest.mark.django_db


def cached(name: str, rdtype: str = "A", seconds: int = 300, **fields) -> CacheEntry:
    return CacheEntry.objects.create(
        name=name,
        rdtype=rdtype,
        rdata=fields.pop("rdata", "192.0.2.1"),
        expires=timezone.now() + datetime.timedelta(seconds=seconds),
        **fields,
    )


@pytest.fixture
def rings(monkeypatch):
    sent = []
    monkeypatch.setattr("dnsadmin.cachesync.ring", lambda *args, **kw: sent.append((args, kw)))
    return sent


def test_the_cache_browser_needs_login(client):
    assert client.get("/dns/cache/").status_code == 302


def test_it_lists_unexpired_entries_with_ttl_left_and_source(staff_client):
    cached("www.example.net.", seconds=120, source="recursive")
    cached("gone.example.net.", seconds=-5)
    cached("nx.example.net.", rdtype="ANY", negative="NXDOMAIN", rdata="")
    page = staff_client.get("/dns/cache/").content.decode()
    assert "www.example.net." in page and "recursive" in page
    assert "gone.example.net." not in page
    assert "NXDOMAIN" in page


def test_it_searches_by_name_and_suffix(staff_client):
    cached("www.example.net.")
    cached("www.example.com.")
    page = staff_client.get("/dns/cache/", {"name": ".example.net"}).content.decode()
    assert "www.example.net." in page and "www.example.com." not in page
    page = staff_client.get("/dns/cache/", {"name": "www.example.com"}).content.decode()
    assert "www.example.com." in page and "www.example.net." not in page


def test_staff_delete_a_name_on_every_worker(staff_client, rings):
    cached("www.example.net.")
    cached("www.example.net.", rdtype="AAAA", rdata="2001:db8::1")
    cached("other.example.net.")
    response = staff_client.post("/dns/cache/delete/", {"name": "WWW.example.net"})
    assert response.status_code == 302
    assert list(CacheEntry.objects.values_list("name", flat=True)) == ["other.example.net."]
    command = CacheCommand.objects.get()
    assert (command.action, command.name, command.requested_by) == (
        "delete",
        "WWW.example.net.",
        staff_client.user,
    )
    assert rings == [(("dns.control", "cache.delete"), {"name": "WWW.example.net."})]


def test_a_bad_name_is_refused_and_nothing_happens(staff_client, rings):
    staff_client.post("/dns/cache/delete/", {"name": "bad..name"})
    assert not CacheCommand.objects.exists() and rings == []


def test_flushing_asks_for_confirmation_then_tells_every_worker(staff_client, rings):
    cached("www.example.net.")
    page = staff_client.get("/dns/cache/flush/")
    assert b"Flush the DNS cache?" in page.content and CacheEntry.objects.exists()
    staff_client.post("/dns/cache/flush/")
    assert not CacheEntry.objects.exists()
    assert CacheCommand.objects.get().action == "flush"
    assert rings == [(("dns.control", "cache.flush"), {})]


def test_only_staff_change_the_cache(user_client):
    cached("www.example.net.")
    assert user_client.post("/dns/cache/flush/").status_code == 403
    user_client.post("/dns/cache/delete/", {"name": "www.example.net"})
    assert CacheEntry.objects.exists() and not CacheCommand.objects.exists()


def test_a_name_finds_itself_and_what_is_under_it(staff_client):
    cached("example.net.")
    cached("www.example.net.")
    cached("www.example.com.")
    cached("notexample.net.")
    page = staff_client.get("/dns/cache/", {"name": "example.net"}).content.decode()
    assert "www.example.net." in page and ">example.net." in page
    assert "www.example.com." not in page and "notexample.net." not in page

"""The cache between the workers' memory and the database: write-behind, restart, commands."""

from __future__ import annotations

import datetime

import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import pytest
from django.utils import timezone

from dnsadmin import cachesync
from dnsadmin.models import CacheCommand, CacheEntry
from dnsadmin.names import wire
from dnsadmin.names.cache import Cache, CacheRecord
from tests.names.hierarchy import Clock

pytestmark = pytest.mark.django_db

SOA = "example.test. ns.example.test. hostmaster.example.test. 1 1800 900 604800 60"


def record(name: str, rdata: str = "192.0.2.1", ttl: int = 300, **fields) -> CacheRecord:
    values = {"rdtype": "A", "negative": "", "source": "recursive"} | fields
    return CacheRecord(name, values["rdtype"], ttl, values["negative"], values["source"], rdata)


def rows() -> list[tuple[str, str, str, str]]:
    return list(
        CacheEntry.objects.order_by("name").values_list("name", "rdtype", "rdata", "worker")
    )


def test_it_writes_a_workers_entries_and_loads_them_back():
    written = [
        record("www.example.test.", "192.0.2.1\n192.0.2.2", ttl=300),
        record("gone.example.test.", SOA, ttl=60, rdtype="ANY", negative="NXDOMAIN"),
    ]
    assert cachesync.write_snapshot(written, "host:1") == 2
    loaded = {r.name: r for r in cachesync.load_snapshot()}
    assert loaded.keys() == {"www.example.test.", "gone.example.test."}
    www, gone = loaded["www.example.test."], loaded["gone.example.test."]
    assert (www.rdata, www.negative, www.source) == ("192.0.2.1\n192.0.2.2", "", "recursive")
    assert 298 <= www.ttl <= 300 and 58 <= gone.ttl <= 60
    assert (gone.rdtype, gone.negative, gone.rdata) == ("ANY", "NXDOMAIN", SOA)


def test_a_later_snapshot_updates_the_rows_in_place():
    cachesync.write_snapshot([record("www.example.test.", "192.0.2.1")], "host:1")
    cachesync.write_snapshot([record("www.example.test.", "192.0.2.9")], "host:2")
    assert rows() == [("www.example.test.", "A", "192.0.2.9", "host:2")]


def test_expired_rows_are_dropped_and_never_loaded():
    CacheEntry.objects.create(
        name="old.example.test.", rdtype="A", rdata="192.0.2.1",
        expires=timezone.now() - datetime.timedelta(seconds=1),
    )  # fmt: skip
    assert cachesync.load_snapshot() == []
    cachesync.write_snapshot([], "host:1")
    assert not CacheEntry.objects.exists()


def test_a_flush_recorded_after_the_snapshot_was_taken_keeps_it_out():
    applied = cachesync.last_command_id()
    snapshot = [record("www.example.test.")]
    cachesync.flush()
    assert cachesync.write_snapshot(snapshot, "host:1", applied) == 0
    assert not CacheEntry.objects.exists()


def test_a_delete_recorded_after_the_snapshot_was_taken_keeps_that_name_out():
    applied = cachesync.last_command_id()
    snapshot = [record("www.example.test."), record("mail.example.test.")]
    cachesync.delete("WWW.example.test")
    cachesync.write_snapshot(snapshot, "host:1", applied)
    assert [row[0] for row in rows()] == ["mail.example.test."]


def test_commands_the_worker_had_applied_do_not_filter_its_snapshot():
    cachesync.flush()
    applied = cachesync.last_command_id()
    cachesync.write_snapshot([record("www.example.test.")], "host:1", applied)
    assert [row[0] for row in rows()] == ["www.example.test."]


def test_flush_and_delete_are_recorded_for_every_worker_and_clear_the_rows():
    cachesync.write_snapshot([record("www.example.test."), record("mail.example.test.")], "w")
    before = cachesync.last_command_id()
    assert cachesync.delete("www.example.test") == 1
    assert [row[0] for row in rows()] == ["mail.example.test."]
    cachesync.flush()
    assert not CacheEntry.objects.exists()
    commands = cachesync.commands_after(before)
    assert [(action, name) for _, action, name in commands] == [
        (CacheCommand.DELETE, "www.example.test."),
        (CacheCommand.FLUSH, ""),
    ]
    assert cachesync.commands_after(commands[-1][0]) == []


def test_a_cache_written_behind_answers_again_once_loaded_into_a_new_one():
    clock = Clock()
    cache = Cache(clock=clock)
    cache.store_rrset(dns.rrset.from_text("www.example.test.", 300, "IN", "A", "192.0.2.1"))
    cachesync.write_snapshot(list(cache.entries()), "host:1")
    restarted = Cache(clock=clock)
    restarted.load(cachesync.load_snapshot())
    query = dns.message.make_query("www.example.test.", "A")
    response, _ = restarted.respond(wire.parse_query(query.to_wire()), tcp=False)
    response = dns.message.from_wire(response)
    assert [r.address for r in response.answer[0]] == ["192.0.2.1"]
    assert restarted.find(dns.name.from_text("www.example.test."), dns.rdatatype.A) is not None

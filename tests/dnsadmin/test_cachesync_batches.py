"""The write-behind of a burst of new cache entries (a cold cache filling): many rows to a
statement, in the order of the table's unique index, one row per name and type."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dnsadmin import cachesync
from dnsadmin.models import CacheEntry
from dnsadmin.names.cache import CacheRecord

pytestmark = pytest.mark.django_db

SOA = "example.test. ns.example.test. hostmaster.example.test. 1 1800 900 604800 60"


def records(count: int) -> list[CacheRecord]:
    """Return count entries, data and name errors, in descending order of name."""
    made = []
    for number in reversed(range(count)):
        if number % 2:
            made.append(CacheRecord(f"h{number:04}.example.test.", "A", 300, "", "recursive",
                                    "192.0.2.1"))  # fmt: skip
        else:
            made.append(CacheRecord(f"h{number:04}.example.test.", "ANY", 60, "NXDOMAIN",
                                    "forwarder", SOA))  # fmt: skip
    return made


def test_a_burst_is_written_whole_many_rows_to_a_statement():
    count = 2 * cachesync.ROWS_PER_STATEMENT + 7
    with CaptureQueriesContext(connection) as queries:
        assert cachesync.write_snapshot(records(count), "host:1") == count
    inserts = [query["sql"] for query in queries if "INSERT" in query["sql"]]
    assert len(inserts) == 2  # the full statements in one run, then the rest
    assert CacheEntry.objects.count() == count
    loaded = {(r.name, r.rdtype): r for r in cachesync.load_snapshot()}
    assert loaded["h0001.example.test.", "A"].rdata == "192.0.2.1"
    assert loaded["h0000.example.test.", "ANY"][3:] == ("NXDOMAIN", "forwarder", SOA)
    assert len(loaded) == count


def test_rows_go_in_in_the_order_of_name_and_type():
    cachesync.write_snapshot(records(30), "host:1")
    names = list(CacheEntry.objects.order_by("id").values_list("name", flat=True))
    assert names == sorted(names)


def test_the_same_name_and_type_twice_in_one_snapshot_keeps_the_last():
    first = CacheRecord("www.example.test.", "A", 300, "", "recursive", "192.0.2.1")
    again = first._replace(rdata="192.0.2.2")
    assert cachesync.write_snapshot([first, again], "host:1") == 1
    assert list(CacheEntry.objects.values_list("rdata", flat=True)) == ["192.0.2.2"]


def test_a_later_burst_replaces_the_rows_it_shares_with_an_earlier_one():
    cachesync.write_snapshot(records(150), "host:1")
    later = [
        r._replace(source="recursive", rdata="192.0.2.9") for r in records(150) if r.rdtype == "A"
    ]
    cachesync.write_snapshot(later, "host:2")
    assert CacheEntry.objects.count() == 150
    replaced = CacheEntry.objects.filter(worker="host:2")
    assert replaced.count() == 75 and {row.rdata for row in replaced} == {"192.0.2.9"}

"""The query log and statistics: counted on the packet path, written behind in batches."""

from __future__ import annotations

import datetime
import logging
import logging.config
from collections import Counter

import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from django.conf import settings
from django.utils import timezone

from dnsadmin import querylog
from dnsadmin.models import QueryLogEntry, QueryStats
from dnsadmin.querylog import QueryEvent

pytestmark = pytest.mark.django_db


def event(
    name: str = "www.example.org.", rcode: int = dns.rcode.NOERROR, source: str = "authority"
) -> QueryEvent:
    query = dns.message.make_query(name, dns.rdatatype.A).to_wire()
    return QueryEvent("127.0.0.1", query, rcode, source, 0.000125, "udp")


def test_the_answers_counted_since_the_last_drain_go_to_the_current_minute():
    recorder = querylog.QueryRecorder()
    answered = Counter({("authority", dns.rcode.NOERROR): 5, ("cache", dns.rcode.NXDOMAIN): 1})
    first = recorder.drain(answered)
    assert sorted(first.stats.values()) == [1, 5]
    answered[("authority", dns.rcode.NOERROR)] += 2
    (key,) = recorder.drain(answered).stats
    assert key[1:] == (dns.rcode.NOERROR, "authority") and key[0] % 60 == 0
    assert recorder.drain(answered).stats == {}


def test_a_drained_batch_is_written_as_log_entries_and_minute_buckets():
    recorder = querylog.QueryRecorder()
    answered = Counter({("authority", dns.rcode.NOERROR): 2, ("authority", dns.rcode.NXDOMAIN): 1})
    recorder(*event())
    recorder(*event())
    recorder(*event("nope.example.org.", dns.rcode.NXDOMAIN))
    querylog.write(recorder.drain(answered))
    recorder(*event())
    answered[("authority", dns.rcode.NOERROR)] += 1
    querylog.write(recorder.drain(answered))
    assert QueryLogEntry.objects.count() == 4
    entry = QueryLogEntry.objects.filter(rcode="NXDOMAIN").get()
    assert (entry.name, entry.rdtype, entry.source, entry.latency_ms) == (
        "nope.example.org.",
        "A",
        "authority",
        0.125,
    )
    counts = {(s.rcode, s.source): s.count for s in QueryStats.objects.all()}
    assert counts[("NOERROR", "authority")] == 3 and counts[("NXDOMAIN", "authority")] == 1


def test_old_entries_are_pruned():
    old = timezone.now() - datetime.timedelta(days=10)
    QueryLogEntry.objects.create(
        time=old,
        client="127.0.0.1",
        name="a.",
        rdtype="A",
        rcode="NOERROR",
        source="authority",
        latency_ms=1,
    )
    QueryLogEntry.objects.create(
        time=timezone.now(),
        client="127.0.0.1",
        name="b.",
        rdtype="A",
        rcode="NOERROR",
        source="authority",
        latency_ms=1,
    )
    QueryStats.objects.create(minute=old, rcode="NOERROR", source="authority", count=1)
    querylog.prune(log_days=7)
    assert list(QueryLogEntry.objects.values_list("name", flat=True)) == ["b."]
    assert not QueryStats.objects.exists()


def formerr_query_with_long_name() -> bytes:
    """Return a query whose name is five 63-byte labels: 320 octets, beyond DNS's 255."""
    labels = b"".join(bytes([63]) + b"a" * 63 for _ in range(5))
    return b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\x00\x00\x01\x00\x01"


def binary_name_query() -> bytes:
    """Return a legal query whose name, four labels of bytes >= 0x80, escapes to 1,004
    characters."""
    label = bytes([62]) + bytes(range(0x80, 0x80 + 62))
    name = label * 4 + b"\x00"
    return b"\x12\x35\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name + b"\x00\x01\x00\x01"


def test_a_name_too_long_for_the_column_is_cut_and_costs_the_batch_nothing():
    recorder = querylog.QueryRecorder()
    for number in range(300):
        recorder(*event(f"q{number}.example.org."))
    for query in (formerr_query_with_long_name(), binary_name_query()):
        recorder("127.0.0.1", query, dns.rcode.FORMERR, "authority", 0.001, "udp")
    for number in range(300):
        recorder(*event(f"r{number}.example.org."))
    querylog.write(recorder.drain(Counter({("authority", dns.rcode.NOERROR): 602})))
    assert QueryLogEntry.objects.count() == 602
    long = QueryLogEntry.objects.filter(rdtype="A", name__endswith=querylog.CUT)
    assert long.count() == 2
    assert all(len(name) == 255 for name in long.values_list("name", flat=True))
    assert QueryStats.objects.get().count == 602


def test_a_row_the_database_refuses_costs_that_row_alone(caplog):
    recorder = querylog.QueryRecorder()
    for number in range(20):
        recorder(*event(f"q{number}.example.org."))
    recorder(None, event().query, dns.rcode.NOERROR, "authority", 0.001, "udp")  # no client
    querylog.write(recorder.drain(Counter({("authority", dns.rcode.NOERROR): 21})))
    assert QueryLogEntry.objects.count() == 20
    assert QueryStats.objects.get().count == 21
    assert "1 of 21 entries refused" in caplog.text


def test_the_log_keeps_its_newest_entries_up_to_the_limit():
    recorder = querylog.QueryRecorder()
    for number in range(30):
        recorder(*event(f"q{number}.example.org."))
    querylog.write(recorder.drain(Counter()))
    querylog.prune(log_days=7, max_entries=10)
    names = set(QueryLogEntry.objects.values_list("name", flat=True))
    assert names == {f"q{number}.example.org." for number in range(20, 30)}
    querylog.prune(log_days=7, max_entries=10)
    assert QueryLogEntry.objects.count() == 10


def test_the_console_log_lets_few_lines_of_a_flood_through(capsys):
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logging.config.dictConfig(settings.LOGGING)
    try:
        logger = logging.getLogger("dnsadmin.names.recursive")
        for number in range(500):
            logger.warning("SERVFAIL for n%d.example.", number)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = [line for line in capsys.readouterr().err.splitlines() if "SERVFAIL for" in line]
    assert 1 <= len(lines) <= 10

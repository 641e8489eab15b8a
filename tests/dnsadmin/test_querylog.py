"""The query log and statistics: counted on the packet path, written behind in batches."""

from __future__ import annotations

import datetime
from collections import Counter

import dns.message
import dns.rcode
import dns.rdatatype
import pytest
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

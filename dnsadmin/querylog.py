"""The query log and statistics, collected on the packet path and written behind.

The server calls the recorder once per answered query: it only counts and
appends to a bounded buffer. The worker drains the buffer about once a second
and writes it in one transaction from a thread, so no packet waits for the
database. Statistics count every query; the log keeps at most
``max_per_second`` entries a second, so a flood cannot flood the database too.
"""

from __future__ import annotations

import datetime
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

import dns.rcode
import dns.rdatatype
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from dnsadmin.models import QueryLogEntry, QueryStats
from dnsadmin.names.server import question

StatsKey = tuple[int, int, str]  # (minute as epoch seconds, rcode, source)


class QueryEvent(NamedTuple):
    """One answered query kept for the log; the question is parsed only when it is written."""

    client: str
    query: bytes
    rcode: int
    source: str
    latency: float
    transport: str


@dataclass
class Drained:
    entries: list[tuple[float, QueryEvent]] = field(default_factory=list)
    stats: Counter[StatsKey] = field(default_factory=Counter)
    dropped: int = 0


class QueryRecorder:
    def __init__(self, max_per_second: int = 1000) -> None:
        self.max_per_second = max_per_second
        self._pending = Drained()
        self._second = 0
        self._in_second = 0

    def __call__(
        self, client: str, query: bytes, rcode: int, source: str, latency: float, transport: str
    ) -> None:
        now = time.time()
        second = int(now)
        self._pending.stats[(second - second % 60, rcode, source)] += 1
        if second != self._second:
            self._second, self._in_second = second, 0
        if self._in_second < self.max_per_second:
            self._in_second += 1
            event = QueryEvent(client, query, rcode, source, latency, transport)
            self._pending.entries.append((now, event))
        else:
            self._pending.dropped += 1

    def drain(self) -> Drained:
        drained, self._pending = self._pending, Drained()
        return drained


def write(drained: Drained) -> None:
    """Store one drained batch (runs in a thread, off the event loop)."""
    with transaction.atomic():
        QueryLogEntry.objects.bulk_create(
            (log_entry(when, event) for when, event in drained.entries), batch_size=1000
        )
        for (minute, rcode, source), count in drained.stats.items():
            add_to_bucket(minute, dns.rcode.to_text(rcode), source, count)


def log_entry(when: float, event: QueryEvent) -> QueryLogEntry:
    qname, qtype = question(event.query)
    return QueryLogEntry(
        time=datetime.datetime.fromtimestamp(when, datetime.UTC),
        client=event.client, name=qname or ".", rdtype=dns.rdatatype.to_text(qtype),
        rcode=dns.rcode.to_text(event.rcode), source=event.source,
        latency_ms=round(event.latency * 1000, 3), transport=event.transport,
    )  # fmt: skip


def add_to_bucket(minute: int, rcode: str, source: str, count: int) -> None:
    start = datetime.datetime.fromtimestamp(minute, datetime.UTC)
    bucket = QueryStats.objects.filter(minute=start, rcode=rcode, source=source)
    if bucket.update(count=F("count") + count):
        return
    try:
        with transaction.atomic():
            QueryStats.objects.create(minute=start, rcode=rcode, source=source, count=count)
    except IntegrityError:
        # Another worker created the bucket between our update and create.
        bucket.update(count=F("count") + count)


def prune(log_days: int, stats_days: int = 8) -> None:
    """Keep the log and the statistics bounded by age."""
    now = timezone.now()
    QueryLogEntry.objects.filter(time__lt=now - datetime.timedelta(days=log_days)).delete()
    QueryStats.objects.filter(minute__lt=now - datetime.timedelta(days=stats_days)).delete()

"""The query log and statistics, collected on the packet path and written behind.

The server calls the recorder once per answered query: it only counts and
appends to a bounded buffer. The worker drains the buffer about once a second
and writes it in one transaction from a thread, so no packet waits for the
database. Statistics count every query; the log keeps at most
``max_per_second`` entries a second, so a flood cannot flood the database too.
"""

from __future__ import annotations

import datetime
import functools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

import dns.rcode
import dns.rdatatype
from django.db import IntegrityError, connection, transaction
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
        if drained.entries:
            insert_entries([entry_row(when, event) for when, event in drained.entries])
        for (minute, rcode, source), count in drained.stats.items():
            add_to_bucket(minute, rcode_text(rcode), source, count)


ENTRY_FIELDS = ("time", "client", "name", "rdtype", "rcode", "source", "latency_ms", "transport")


def insert_entries(rows: list[tuple]) -> None:
    """One INSERT run over many rows. The writer thread shares the GIL with the packet loop,
    so every millisecond it spends is taken from answering: bulk_create costs about ten times
    this (a model instance and its SQL compiled per row), a thousand times a second."""
    meta = QueryLogEntry._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in ENTRY_FIELDS)
    values = ", ".join(["%s"] * len(ENTRY_FIELDS))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values})", rows
        )


type_text = functools.cache(dns.rdatatype.to_text)
rcode_text = functools.cache(dns.rcode.to_text)


def entry_row(when: float, event: QueryEvent) -> tuple:
    """A query log row, in ENTRY_FIELDS order, as the database takes it."""
    qname, qtype = question(event.query)
    moment = datetime.datetime.fromtimestamp(when, datetime.UTC)
    return (
        connection.ops.adapt_datetimefield_value(moment), event.client, qname or ".",
        type_text(qtype), rcode_text(event.rcode), event.source,
        round(event.latency * 1000, 3), event.transport,
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

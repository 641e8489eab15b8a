"""The query log and statistics, collected on the packet path and written behind.

The server counts every answer and hands the recorder at most QUERY_LOG_MAX_PER_SECOND
of them a second, so a flood cannot flood the database too; the recorder only appends.
The worker drains it twice a second with the server's counts and writes both in one
transaction from a thread, so no packet waits for the database.
"""

from __future__ import annotations

import datetime
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import dns.rcode
import dns.rdatatype
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from dnsadmin.changes import insert_rows_sql
from dnsadmin.models import QueryLogEntry, QueryStats
from dnsadmin.names.wire import question_text

logger = logging.getLogger(__name__)

StatsKey = tuple[int, int, str]  # (minute as epoch seconds, rcode, source)
MAX_NAME = 255  # the name column's length, in characters on every database
CUT = "..."  # ends a name cut to fit: a malformed query's, or binary labels escaped


class QueryEvent(NamedTuple):
    """What the server tells of one answered query (the recorder's arguments, in order); the
    question is parsed only when it is written."""

    client: str
    query: bytes
    rcode: int
    source: str
    latency: float
    transport: str


# An entry as kept on the packet path: the time it was told, then the QueryEvent's fields,
# one flat tuple (no object built, nothing formatted until the writer thread reads it).
Entry = tuple[float, str, bytes, int, str, float, str]


@dataclass
class Drained:
    entries: list[Entry] = field(default_factory=list)
    stats: Counter[StatsKey] = field(default_factory=Counter)


class QueryRecorder:
    """What the server reports, collected for write(): the log entries it hands over (at most
    its log_per_second a second), and the answers counted since the last drain, which are
    added to the current minute."""

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._counted: Counter[tuple[str, int]] = Counter()

    def __call__(
        self, client: str, query: bytes, rcode: int, source: str, latency: float, transport: str
    ) -> None:
        self._entries.append((time.time(), client, query, rcode, source, latency, transport))

    def drain(self, answered: Counter[tuple[str, int]]) -> Drained:
        """Return the entries so far, and the server's running totals (source, rcode) since
        the last drain, counted in the minute now."""
        second = int(time.time())
        minute = second - second % 60
        stats = Counter({
            (minute, rcode, source): count - self._counted[source, rcode]
            for (source, rcode), count in answered.items()
            if count > self._counted[source, rcode]
        })  # fmt: skip
        self._counted = Counter(answered)
        entries, self._entries = self._entries, []
        return Drained(entries, stats)


def write(drained: Drained) -> None:
    """Store one drained batch (runs in a thread, off the event loop)."""
    with transaction.atomic():
        if drained.entries:
            # The adapter looked up once a batch: connection.ops goes through a proxy.
            adapt = connection.ops.adapt_datetimefield_value
            store_entries([entry_row(entry, adapt) for entry in drained.entries])
        for (minute, rcode, source), count in drained.stats.items():
            add_to_bucket(minute, rcode_text(rcode), source, count)


ENTRY_FIELDS = ("time", "client", "name", "rdtype", "rcode", "source", "latency_ms", "transport")


def store_entries(rows: list[tuple]) -> None:
    """Insert the rows in one run; if the database refuses the run, insert them one by one,
    so that a row it refuses costs that row alone (and the batch's counts nothing)."""
    try:
        with transaction.atomic():
            insert_entries(rows)
        return
    except DatabaseError:
        pass
    refused = 0
    for row in rows:
        try:
            with transaction.atomic():
                insert_entries([row])
        except DatabaseError as error:
            refused += 1
            problem = error
    if refused:
        logger.warning("query log: %d of %d entries refused: %s", refused, len(rows), problem)


def insert_entries(rows: list[tuple]) -> None:
    """Insert the rows with one INSERT run. The writer thread shares the GIL with the packet loop,
    so every millisecond it spends is taken from answering: bulk_create costs about ten times
    this (a model instance and its SQL compiled per row), a thousand times a second."""
    statement = insert_rows_sql(QueryLogEntry, ENTRY_FIELDS, 1, connection.vendor)
    with connection.cursor() as cursor:
        cursor.executemany(statement, rows)


type_text = functools.cache(dns.rdatatype.to_text)
rcode_text = functools.cache(dns.rcode.to_text)


def entry_row(entry: Entry, adapt: Callable[[datetime.datetime], object]) -> tuple:
    """Return a query log row, in ENTRY_FIELDS order, as the database takes it (its time
    through adapt, the connection's adapt_datetimefield_value)."""
    when, client, query, rcode, source, latency, transport = entry
    qname, qtype = question_text(query)
    if len(qname) > MAX_NAME:
        qname = qname[: MAX_NAME - len(CUT)] + CUT
    moment = datetime.datetime.fromtimestamp(when, datetime.UTC)
    return (
        adapt(moment), client, qname or ".",
        type_text(qtype), rcode_text(rcode), source, round(latency * 1000, 3), transport,
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


def prune(log_days: int, stats_days: int = 8, max_entries: int | None = None) -> None:
    """Keep the log bounded by age and by its number of entries (the newest are kept), and
    the statistics by age."""
    now = timezone.now()
    QueryLogEntry.objects.filter(time__lt=now - datetime.timedelta(days=log_days)).delete()
    if max_entries is not None:
        newest_first = QueryLogEntry.objects.order_by("-id").values_list("id", flat=True)
        beyond = list(newest_first[max_entries : max_entries + 1])
        if beyond:
            QueryLogEntry.objects.filter(id__lte=beyond[0]).delete()
    QueryStats.objects.filter(minute__lt=now - datetime.timedelta(days=stats_days)).delete()

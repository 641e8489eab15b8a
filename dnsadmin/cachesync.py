"""The DNS cache between the workers' memory and the database.

Workers write their cache behind to CacheEntry (so the web can browse it and a
restart keeps it) and apply the flushes and deletes the web records as
CacheCommand rows. Only this module and the worker know both sides.

A snapshot is taken in memory, then written a moment later: a flush or delete recorded in
between must win, or the write would bring back what it removed. So the writers of
CacheEntry take turns (a table lock on PostgreSQL; SQLite's IMMEDIATE transactions already
do), and a snapshot leaves out what the commands recorded since it was taken removed.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from appliance.control import DNS_GROUP, ring
from dnsadmin.changes import insert_rows_sql
from dnsadmin.models import CacheCommand, CacheEntry
from dnsadmin.names.cache import CacheRecord

WRITE_BATCH = 1000
# Rows one statement writes (sorted as the unique index is, they write faster than one
# statement a row, which cost a third more a row), within the 999 parameters of SQLite's
# oldest limit (8 a row).
ROWS_PER_STATEMENT = 100


def write_snapshot(records: Iterable[CacheRecord], worker: str, applied: int | None = None) -> int:
    """Upsert this worker's unexpired entries and drop expired rows; how many were written.

    applied: the last command the worker had applied to its cache when it took the snapshot;
    what later flushes and deletes removed is not written.
    """
    now = timezone.now()
    with transaction.atomic():
        _take_turn()
        if applied is not None:
            records = _not_removed_since(records, applied)
        rows = _rows(records, worker, now)
        if rows:
            _write_rows(rows)
        CacheEntry.objects.filter(expires__lte=now).delete()
    return len(rows)


def _write_rows(rows: list[tuple]) -> None:
    """Upsert the rows ROWS_PER_STATEMENT to a statement, the rest in one more.

    executemany() even for the last statement: in DEBUG, execute() has every parameter
    quoted for the log of queries, which costs more than the write.
    """
    whole = len(rows) - len(rows) % ROWS_PER_STATEMENT
    with connection.cursor() as cursor:
        if whole:
            statements = [
                _flat(rows[at : at + ROWS_PER_STATEMENT])
                for at in range(0, whole, ROWS_PER_STATEMENT)
            ]
            cursor.executemany(_upsert(connection.vendor, ROWS_PER_STATEMENT), statements)
        if whole < len(rows):
            rest = rows[whole:]
            cursor.executemany(_upsert(connection.vendor, len(rest)), [_flat(rest)])


def _flat(rows: list[tuple]) -> list:
    """Return the rows' values in one list: the parameters of one statement."""
    return [value for row in rows for value in row]


def _rows(records: Iterable[CacheRecord], worker: str, now: datetime.datetime) -> list[tuple]:
    """Return the records as parameters of _upsert, their times as the database takes them.

    Written as plain rows rather than CacheEntry objects: making a model instance per entry
    and having bulk_create read its fields back cost most of a cache miss's write-behind.
    One row per name and type, the last given: one statement may not write a row twice.
    In the order of the unique index (code points: SQLite's BINARY collation, PostgreSQL's
    under a C collation; any other orders them a little differently, which costs speed,
    not correctness): inserted in turn, they touch its pages one after the other rather
    than at random (about a third of the write).
    """
    adapt = connection.ops.adapt_datetimefield_value
    updated = adapt(now)
    expiries: dict[int, object] = {}  # the entries of one write share a few TTLs
    rows = {}
    for r in records:
        expires = expiries.get(r.ttl)
        if expires is None:
            expires = expiries[r.ttl] = adapt(now + datetime.timedelta(seconds=r.ttl))
        row = (r.name, r.rdtype, r.negative, r.rdata, expires, r.source, worker, updated)
        rows[r.name, r.rdtype] = row
    return sorted(rows.values())


@functools.lru_cache(maxsize=8)
def _upsert(vendor: str, count: int) -> str:
    """Return the statement that writes count entries over the rows of their names and
    types, as bulk_create(update_conflicts=True) writes them (SQLite and PostgreSQL alike):
    the plain INSERT of changes.insert_rows_sql with count rows of values, replacing the
    rows of the same name and type."""
    quote, meta = connection.ops.quote_name, CacheEntry._meta
    quoted = [quote(meta.get_field(field).column) for field in UPSERT_FIELDS]
    unique = ", ".join(quoted[:2])
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in quoted[2:])
    insert = insert_rows_sql(CacheEntry, UPSERT_FIELDS, count, vendor)
    return f"{insert} ON CONFLICT ({unique}) DO UPDATE SET {updates}"


# name and rdtype (the unique pair) first, then the fields a newer write replaces.
UPSERT_FIELDS = ("name", "rdtype", "negative", "rdata", "expires", "source", "worker", "updated")


def _not_removed_since(records: Iterable[CacheRecord], applied: int) -> list[CacheRecord]:
    deleted: set[str] = set()
    for _, action, name in commands_after(applied):
        if action == CacheCommand.FLUSH:
            return []
        deleted.add(name.lower())
    return [record for record in records if record.name.lower() not in deleted]


def _take_turn() -> None:
    """Wait for the other writers of CacheEntry, until the end of this transaction."""
    if connection.vendor == "postgresql":
        # SHARE ROW EXCLUSIVE conflicts with itself, not with the web's readers.
        table = connection.ops.quote_name(CacheEntry._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")


def load_snapshot() -> list[CacheRecord]:
    """Return what the workers cached before, still unexpired, for a starting worker."""
    now = timezone.now()
    rows = CacheEntry.objects.filter(expires__gt=now)
    return [
        CacheRecord(row.name, row.rdtype, int((row.expires - now).total_seconds()), row.negative,
                    row.source, row.rdata)
        for row in rows.iterator(chunk_size=WRITE_BATCH)
    ]  # fmt: skip


def last_command_id() -> int:
    return last_command().first() or 0


def last_command() -> QuerySet:
    """Return the id of the last cache command recorded (none if none was)."""
    return CacheCommand.objects.order_by("-id").values_list("id", flat=True)[:1]


def commands_after(command_id: int) -> list[tuple[int, str, str]]:
    rows = CacheCommand.objects.filter(id__gt=command_id).order_by("id")
    return list(rows.values_list("id", "action", "name"))


def flush(user=None) -> None:
    """Empty every worker's cache (the web's "flush everything")."""
    with transaction.atomic():
        _take_turn()
        CacheCommand.objects.create(action=CacheCommand.FLUSH, requested_by=user)
        CacheEntry.objects.all().delete()
    ring(DNS_GROUP, "cache.flush")


def delete(name: str, user=None) -> int:
    """Forget one name (every type) in every worker's cache; how many rows it had."""
    absolute = name if name.endswith(".") else name + "."
    with transaction.atomic():
        _take_turn()
        CacheCommand.objects.create(action=CacheCommand.DELETE, name=absolute, requested_by=user)
        deleted, _ = CacheEntry.objects.filter(name__iexact=absolute).delete()
    ring(DNS_GROUP, "cache.delete", name=absolute)
    return deleted

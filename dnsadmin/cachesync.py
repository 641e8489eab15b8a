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
from django.utils import timezone

from appliance.control import DNS_GROUP, ring
from dnsadmin.changes import insert_rows_sql
from dnsadmin.models import CacheCommand, CacheEntry
from dnsadmin.names.cache import CacheRecord

WRITE_BATCH = 1000


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
            with connection.cursor() as cursor:
                cursor.executemany(_upsert(connection.vendor), rows)
        CacheEntry.objects.filter(expires__lte=now).delete()
    return len(rows)


def _rows(records: Iterable[CacheRecord], worker: str, now: datetime.datetime) -> list[tuple]:
    """Return the records as parameters of _upsert, their times as the database takes them.

    Written as plain rows rather than CacheEntry objects: making a model instance per entry
    and having bulk_create read its fields back cost most of a cache miss's write-behind.
    """
    adapt = connection.ops.adapt_datetimefield_value
    updated = adapt(now)
    expiries: dict[int, object] = {}  # the entries of one write share a few TTLs
    rows = []
    for r in records:
        expires = expiries.get(r.ttl)
        if expires is None:
            expires = expiries[r.ttl] = adapt(now + datetime.timedelta(seconds=r.ttl))
        rows.append((r.name, r.rdtype, r.negative, r.rdata, expires, r.source, worker, updated))
    return rows


@functools.lru_cache(maxsize=4)
def _upsert(vendor: str) -> str:
    """Return the statement that writes one entry over the row of its name and type, as
    bulk_create(update_conflicts=True) writes it (SQLite and PostgreSQL alike): the plain
    INSERT of changes.insert_rows_sql, replacing the row of the same name and type."""
    quote, meta = connection.ops.quote_name, CacheEntry._meta
    quoted = [quote(meta.get_field(field).column) for field in UPSERT_FIELDS]
    unique = ", ".join(quoted[:2])
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in quoted[2:])
    insert = insert_rows_sql(CacheEntry, UPSERT_FIELDS, vendor)
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
    return CacheCommand.objects.order_by("-id").values_list("id", flat=True).first() or 0


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

"""The DNS cache between the workers' memory and the database.

Workers write their cache behind to CacheEntry (so the web can browse it and a
restart keeps it) and apply the flushes and deletes the web records as
CacheCommand rows. Only this module and the worker know both sides.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from appliance.control import DNS_GROUP, ring
from dnsadmin.models import CacheCommand, CacheEntry
from dnsadmin.names.cache import CacheRecord

WRITE_BATCH = 1000


def write_snapshot(records: Iterable[CacheRecord], worker: str) -> int:
    """Upsert this worker's unexpired entries and drop expired rows; how many were written."""
    now = timezone.now()
    rows = [
        CacheEntry(name=r.name, rdtype=r.rdtype, negative=r.negative, rdata=r.rdata,
                   expires=now + datetime.timedelta(seconds=r.ttl), source=r.source,
                   worker=worker)
        for r in records
    ]  # fmt: skip
    with transaction.atomic():
        CacheEntry.objects.bulk_create(
            rows, batch_size=WRITE_BATCH, update_conflicts=True, unique_fields=["name", "rdtype"],
            update_fields=["negative", "rdata", "expires", "source", "worker", "updated"],
        )  # fmt: skip
        CacheEntry.objects.filter(expires__lte=now).delete()
    return len(rows)


def load_snapshot() -> list[CacheRecord]:
    """What the workers cached before, still unexpired, for a starting worker."""
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
        CacheCommand.objects.create(action=CacheCommand.FLUSH, requested_by=user)
        CacheEntry.objects.all().delete()
    ring(DNS_GROUP, "cache.flush")


def delete(name: str, user=None) -> int:
    """Forget one name (every type) in every worker's cache; how many rows it had."""
    absolute = name if name.endswith(".") else name + "."
    with transaction.atomic():
        CacheCommand.objects.create(action=CacheCommand.DELETE, name=absolute, requested_by=user)
        deleted, _ = CacheEntry.objects.filter(name__iexact=absolute).delete()
    ring(DNS_GROUP, "cache.delete", name=absolute)
    return deleted

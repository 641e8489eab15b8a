"""The zone page's record list, fast on big zones: filtered in the database, one page read.

Zone-file order (DNS canonical order, RFC 4034 §6.1) is not an order SQL can sort by, so
the list sorts the filtered rows' keys (id, owner, type, data) in Python with a cheap key,
keeps that order per zone serial and filter (every change moves the serial, through the
one writer), and reads only the page's records and the RRsets they belong to.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet

from dnsadmin import rules
from dnsadmin.changes import RecordData, RecordRow, fingerprint, owner_pattern
from dnsadmin.models import Record, Zone

PAGE_SIZES = (50, 100, 250, 500, 1000)
DEFAULT_PAGE_SIZE = 250
ORDERS_KEPT = 16  # sorted listings kept, across zones and filters

_orders: OrderedDict[tuple, list[int]] = OrderedDict()
_lock = threading.Lock()


def filtered(zone: Zone, text: str, rdtype: str) -> QuerySet[Record]:
    """Records matching the filter: a name glob (*.dev, www*), or else a piece of a name or
    of the data (10.0.0.5), and a type."""
    records = zone.records.all()
    if rdtype.strip():
        records = records.filter(rdtype=rdtype.strip().upper())
    text = text.strip()
    if any(char in text for char in "*?"):
        records = records.filter(owner__regex=rules.glob_regex(owner_pattern(zone, text)))
    elif text:
        piece = owner_pattern(zone, text)
        records = records.filter(
            Q(owner__icontains=piece) | Q(owner=piece) | Q(rdata__icontains=text)
        )
    return records


def sorted_ids(zone: Zone, text: str, rdtype: str) -> list[int]:
    # A zone deleted and made again may get the same id and serial: its creation tells them apart.
    version = (zone.pk, zone.created, zone.serial, zone.updated)
    key = (*version, text.strip().lower(), rdtype.strip().upper())
    with _lock:
        if key in _orders:
            _orders.move_to_end(key)
            return _orders[key]
    rows = filtered(zone, text, rdtype).order_by().values_list("id", "owner", "rdtype", "rdata")
    numbers: dict[str, int] = {}
    owners: dict[str, tuple[str, ...]] = {}

    def order(row: tuple[int, str, str, str]) -> tuple:
        pk, owner, rdtype, rdata = row
        if owner not in owners:
            owners[owner] = rules.owner_order(owner)
        if rdtype not in numbers:
            numbers[rdtype] = rules.type_order(rdtype)
        return owners[owner], numbers[rdtype], rdata

    ids = [row[0] for row in sorted(rows.iterator(chunk_size=5000), key=order)]
    with _lock:
        _orders[key] = ids
        while len(_orders) > ORDERS_KEPT:
            _orders.popitem(last=False)
    return ids


@dataclass(frozen=True)
class Listing:
    page: Page
    rows: list[RecordRow]
    size: int


def page_size(value: str | None) -> int:
    try:
        size = int(value or DEFAULT_PAGE_SIZE)
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def record_page(
    zone: Zone, text: str = "", rdtype: str = "", number: str | None = None, size: int = 250
) -> Listing:
    """One page of the zone's records in zone-file order, each with its RRset's fingerprint."""
    page = Paginator(sorted_ids(zone, text, rdtype), size).get_page(number)
    records = Record.objects.in_bulk(list(page.object_list))
    shown = [records[pk] for pk in page.object_list if pk in records]
    rrsets: dict[tuple[str, str], list[RecordData]] = defaultdict(list)
    keys = {(r.owner, r.rdtype) for r in shown}
    for record in zone.records.filter(owner__in={owner for owner, _ in keys}):
        if (record.owner, record.rdtype) in keys:
            rrsets[(record.owner, record.rdtype)].append(RecordData.from_record(record))
    prints = {key: fingerprint(value) for key, value in rrsets.items()}
    rows = [RecordRow(r, prints[(r.owner, r.rdtype)]) for r in shown]
    return Listing(page, rows, size)

"""The zone page's record list, fast on big zones: filtered in the database, one page read.

Zone-file order (owners in DNS canonical order, RFC 4034 §6.1, then types; the records of
an RRset in the order they were added) is the order of each record's stored sort key
(``Record.sort_key``, written by the change service) and id, which the index on zone and
sort key holds: the database finds a page's ids in the index alone, whatever the page, then
reads those records and the RRsets they belong to.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet

from dnsadmin import rules
from dnsadmin.changes import RecordData, RecordRow, fingerprint, owner_pattern
from dnsadmin.models import Record, Zone

PAGE_SIZES = (50, 100, 250, 500, 1000)
DEFAULT_PAGE_SIZE = 250


def filtered(zone: Zone, text: str, rdtype: str) -> QuerySet[Record]:
    """Records matching the filter: a name glob (*.dev, www*), or else a piece of a name or
    of the data (10.0.0.5), and a type."""
    records = zone.records.all()
    if rdtype.strip():
        records = records.filter(rdtype=rdtype.strip().upper())
    text = text.strip()
    if any(char in text for char in "*?"):
        records = records.filter(glob(owner_pattern(zone, text)))
    elif text:
        piece = owner_pattern(zone, text)
        records = records.filter(
            Q(owner__icontains=piece) | Q(owner=piece) | Q(rdata__icontains=text)
        )
    return records


def glob(pattern: str) -> Q:
    """Match owners against a glob; the common www* and *.dev as LIKE (no regular expression
    run on every row, which SQLite does in Python)."""
    stars = pattern.count("*")
    if "?" not in pattern and stars == 1 and pattern.endswith("*"):
        return Q(owner__startswith=pattern[:-1])
    if "?" not in pattern and stars == 1 and pattern.startswith("*"):
        return Q(owner__endswith=pattern[1:])
    return Q(owner__regex=rules.glob_regex(pattern))


def ordered_ids(zone: Zone, text: str, rdtype: str) -> QuerySet:
    """The filtered records' ids in zone-file order: the index on zone and sort key (which
    holds the id) gives them without reading the rows."""
    return filtered(zone, text, rdtype).order_by("sort_key", "id").values_list("id", flat=True)


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
    page = Paginator(ordered_ids(zone, text, rdtype), size).get_page(number)
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

"""The zone news feed on the database: dnsadmin's change history, read by cursor.

The cursor is ``{"change": id, "serials": {origin: serial}}``. History rows (written by
dnsadmin.changes for the editor, the API, imports, reverts and the admin) carry the
record changes. A serial that moved without a history row to show for it (a
``Record.save()`` in a shell, ``manage.py loadzone``) is announced too, without record
details: the zone served is not the one announced last, and the channel should know.
"""

from __future__ import annotations

import datetime

import dns.name
from channels.db import database_sync_to_async
from django.db.models import Max
from django.utils import timezone

from botadmin.infobot.zonefeed import Change, Doorbell, ZoneChangeNews
from dnsadmin.models import Zone, ZoneChange

# PostgreSQL hands out ids before commit, so a transaction still committing can leave a
# gap below rows already visible (the doorbell makes reading in that moment likely). The
# history row is the last write of its transaction, so such a gap fills within moments;
# one that never does (a rolled-back id, changes deleted with their zone before they were
# read) costs the news after it this delay, once.
GAP_GRACE = datetime.timedelta(seconds=5)
BATCH = 100
UNRECORDED = "changed outside the history (no record details)"
DELETED = "zone deleted"


class DatabaseZoneChangeFeed(Doorbell):
    """The ZoneChangeFeed component of the bot worker; ``ring`` on zone.changed."""

    async def changes_after(self, cursor: dict | None) -> tuple[list[ZoneChangeNews], dict]:
        return await database_sync_to_async(read_changes)(cursor)


def read_changes(
    cursor: dict | None, now: datetime.datetime | None = None
) -> tuple[list[ZoneChangeNews], dict]:
    # History before serials: a change committed in between then shows in the serials
    # with its history row already there, so it is not taken for one made without.
    if cursor is None:
        latest = ZoneChange.objects.aggregate(latest=Max("pk"))["latest"] or 0
        return [], {"change": latest, "serials": current_serials()}
    rows = settled_changes(cursor["change"], now or timezone.now())
    serials = current_serials()
    news = [history_news(row) for row in rows]
    news += unrecorded_news(cursor, serials)
    return news, {"change": rows[-1].pk if rows else cursor["change"], "serials": serials}


def current_serials() -> dict[str, int]:
    return dict(Zone.objects.values_list("origin", "serial"))


def settled_changes(after: int, now: datetime.datetime) -> list[ZoneChange]:
    """History rows after id ``after``, oldest first, stopping at a recent gap."""
    rows = ZoneChange.objects.filter(pk__gt=after).prefetch_related("rrsets").order_by("pk")[:BATCH]
    taken: list[ZoneChange] = []
    for row in rows:
        previous = taken[-1].pk if taken else after
        if row.pk != previous + 1 and row.created > now - GAP_GRACE:
            break
        taken.append(row)
    return taken


def history_news(row: ZoneChange) -> ZoneChangeNews:
    if row.zone_deleted:
        return ZoneChangeNews(row.origin, row.serial_after, note=DELETED)
    origin = dns.name.from_text(row.origin)
    added: list[Change] = []
    removed: list[Change] = []
    for rrset in row.rrsets.all():
        owner = dns.name.from_text(rrset.owner, origin).to_text()
        before, after = served(rrset.before), served(rrset.after)
        if before and not after:
            removed.append((owner, rrset.rdtype, ""))  # the whole RRset went
            continue
        added += [(owner, rrset.rdtype, rdata) for rdata in sorted(after - before)]
        removed += [(owner, rrset.rdtype, rdata) for rdata in sorted(before - after)]
    return ZoneChangeNews(row.origin, row.serial_after, added, removed, note=row.summary)


def served(records: list[dict]) -> set[str]:
    """Return the rdata of the records served: a disabled record counts as absent."""
    return {r["rdata"] for r in records if r.get("enabled", True)}


def unrecorded_news(cursor: dict, now: dict[str, int]) -> list[ZoneChangeNews]:
    """Report zones whose serial moved, or that went, with no history row to show for it."""
    before: dict[str, int] = cursor["serials"]
    unread = ZoneChange.objects.filter(pk__gt=cursor["change"])
    news = [
        ZoneChangeNews(origin, serial, note=UNRECORDED)
        for origin, serial in sorted(now.items())
        if before.get(origin) != serial
        and not ZoneChange.objects.filter(origin=origin, serial_after=serial).exists()
    ]
    news += [
        ZoneChangeNews(origin, before[origin], note=DELETED)
        for origin in sorted(before.keys() - now.keys())
        if not unread.filter(origin=origin, zone_deleted=True).exists()
    ]
    return news

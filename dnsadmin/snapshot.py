"""Builds the DNS engine's in-memory zones from database rows (the only bridge between them)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import dns.rdatatype
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from dnsadmin import dnssec
from dnsadmin.models import RRsetChange, SecondaryZone, Zone, ZoneChange, ZoneSigning
from dnsadmin.names import signer
from dnsadmin.names.journal import Journal, delta_between
from dnsadmin.names.notify import Target, parse_targets
from dnsadmin.names.zone import Zone as ServedZone
from dnsadmin.names.zone import build_zone, patch_zone
from dnsadmin.zonefile import collector_paused

logger = logging.getLogger(__name__)

# (serial, last change) per origin: what a worker compares to know what to reload.
Versions = dict[str, tuple[int, float]]
# Past this many RRsets changed since the zone served (history rows read), the worker builds
# the zone again from its rows.
PATCH_ROWS = 64


def enabled_zones() -> QuerySet[Zone]:
    return Zone.objects.filter(enabled=True)


def zone_versions() -> Versions:
    """Return the version of every enabled zone (one cheap query, run by every worker about
    once a second)."""
    return {origin: (serial, updated.timestamp()) for origin, serial, updated in version_rows()}


def version_rows() -> QuerySet:
    """Return what zone_versions reads: origin, serial and last update of every enabled zone
    (in the order of their origins: the DNS worker compares them as they come)."""
    return enabled_zones().order_by("origin").values_list("origin", "serial", "updated")


def load_zone(origin: str) -> ServedZone | None:
    zone = enabled_zones().filter(origin=origin).first()
    return served_zone(zone) if zone is not None else None


def refresh_zone(origin: str, previous: ServedZone | None) -> ServedZone | None:
    """Return the zone's current data: ``previous`` patched with the RRsets the changes since
    its serial rewrote (their history rows name them), or, when anything else may have
    changed (settings, a change not found, signing turned on or off), the zone built again
    from its rows. A signed zone is patched too: dnssec.signed_for_serving re-signs only what
    the patch touched."""
    signing = ZoneSigning.objects.filter(zone=OuterRef("pk"))
    expired = SecondaryZone.objects.filter(zone=OuterRef("pk"), expired=True)
    found = (
        enabled_zones()
        .filter(origin=origin)
        .annotate(signed=Exists(signing), expired=Exists(expired))
    )
    zone = found.first()
    if zone is None:
        return None
    plan = dnssec.signing_plan(origin) if zone.signed else None
    if previous is None or not dnssec.signs_as(previous, plan):
        return built(zone, plan)
    if zone.expired or previous.expired:
        # A secondary zone that expires or comes back: built from its rows, marked as it is.
        return built(zone, plan)
    if getattr(previous, "source_settings", None) != source_settings(zone):
        return built(zone, plan)
    changed = changed_rrsets(zone, previous.serial)
    if changed is None:
        return built(zone, plan)
    if not changed and previous.serial == zone.serial:
        return previous  # nothing to serve anew
    rdtypes = {rdtype: dns.rdatatype.from_text(rdtype) for _, rdtype in changed}
    if dns.rdatatype.SOA in rdtypes.values():
        return built(zone, plan)
    query = Q(pk__in=[])
    for owner, rdtype in changed:
        query |= Q(owner=owner, rdtype=rdtype)
    rows = zone.records.filter(query, enabled=True).values_list("owner", "ttl", "rdtype", "wire")
    default_ttl = zone.default_ttl
    records = [
        (owner, default_ttl if ttl is None else ttl, rdtypes[rdtype], bytes(wire))
        for owner, ttl, rdtype, wire in rows
    ]
    keys = [(owner, rdtypes[rdtype]) for owner, rdtype in changed]
    try:
        patched = patch_served(previous, keys, records, zone.serial)
    except signer.Unpatchable:
        return built(zone, plan)
    except Exception:
        # A zone served wrong would stay wrong: build it from its rows (which says what is
        # wrong with them, if anything), and say the patch failed.
        logger.exception("zone %s could not be patched; building it again", origin)
        return built(zone, plan)
    patched.notify_targets = targets_of(zone)
    patched.signing_plan = plan
    return patched


def built(zone: Zone, plan: dnssec.Plan | None) -> ServedZone:
    """Return the zone built from its rows, with the plan it is to be signed by (None: not
    signed) for dnssec.signed_for_serving."""
    served = served_zone(zone)
    served.signing_plan = plan
    served.changed_owners = None
    return served


def patch_served(
    previous: ServedZone, keys: list[tuple[str, int]], records: list, serial: int
) -> ServedZone:
    """Return previous with the RRsets ``keys`` replaced by ``records`` (names.zone.patch_zone,
    or signer.patch_signed for a signed zone, which raises signer.Unpatchable when only a full
    signing will do), noting which owners changed for the signer (``changed_owners``)."""
    owners = {owner for owner, _ in keys}
    if previous.dnssec is not None:
        patched = signer.patch_signed(previous, keys, records, serial=serial)
    else:
        patched = patch_zone(previous, keys, records, serial=serial)
    patched.source_settings = previous.source_settings
    patched.expired = getattr(previous, "expired", False)
    patched.signing_plan = getattr(previous, "signing_plan", None)
    patched.changed_owners = owners
    return patched


def patched_by(previous: ServedZone | None, applied) -> ServedZone | None:
    """Return the zone a worker serves patched with what an update it applied wrote
    (updates.Applied), without reading it back; None when ``previous`` is not the zone the
    update started from (the worker then reloads it from the database as for any change)."""
    if previous is None or previous.serial != applied.serial_before:
        return None
    zone = patch_served(previous, applied.rrsets, applied.records, applied.version[0])
    zone.notify_targets = getattr(previous, "notify_targets", None)
    known = getattr(previous, "journal", None)
    if known is None or known.serial != previous.serial:
        zone.journal = Journal(zone.serial)
    elif previous.dnssec is not None:
        zone.journal = known  # extended once re-signed (journal.follow_resign)
    else:
        zone.journal = known.extended(delta_between(previous, zone, applied.rrsets))
    return zone


def changed_rrsets(zone: Zone, serial: int) -> set[tuple[str, str]] | None:
    """Return the RRsets the zone's changes since ``serial`` wrote, or None when the history
    does not lead from that serial to the zone's within a few changes (one query)."""
    if zone.serial == serial:
        return set()
    latest = (
        ZoneChange.objects.filter(zone=zone)
        .order_by("-id")
        .values_list("id", "serial_before", "serial_after", "rrsets__owner", "rrsets__rdtype")
    )[:PATCH_ROWS]
    rows = list(latest)
    changed, expected, current = set(), zone.serial, None
    for change_id, before, after, owner, rdtype in rows:
        if change_id != current:
            if current is not None and expected == serial:
                return changed  # the changes since serial are all read
            if after != expected:
                return None
            current, expected = change_id, before
        if owner is not None:
            changed.add((owner, rdtype))
    # The last change read reaches serial, unless its RRsets may go on past the rows read.
    return changed if expected == serial and len(rows) < PATCH_ROWS else None


def targets_of(zone: Zone) -> list[Target] | None:
    """The zone's NOTIFY targets; None if they do not read (the worker asks again and logs)."""
    try:
        return parse_targets(zone.notify_targets)
    except ValueError:
        return None


def source_settings(zone: Zone) -> tuple:
    """What a served zone takes from the zone's settings besides its records and serial."""
    soa = zone.soa_rdata().replace(serial=0)
    return (zone.default_ttl, zone.transfer_acl, soa.to_wire())


def notify_targets(origin: str) -> list[Target]:
    """Return where NOTIFY goes when the zone's serial changes (validated on save)."""
    zone = enabled_zones().filter(origin=origin).only("notify_targets").first()
    return parse_targets(zone.notify_targets) if zone else []


def served_zone(zone: Zone) -> ServedZone:
    rdtypes: dict[str, int] = {}
    default_ttl = zone.default_ttl
    soa = ("@", default_ttl, dns.rdatatype.SOA, zone.soa_rdata().to_wire())

    def records():
        yield soa
        for owner, ttl, rdtype, wire in enabled_rows(zone):
            code = rdtypes.get(rdtype)
            if code is None:
                code = rdtypes[rdtype] = dns.rdatatype.from_text(rdtype)
            # bytes from SQLite as they are; PostgreSQL's memoryview copied.
            yield (
                owner,
                default_ttl if ttl is None else ttl,
                code,
                wire if type(wire) is bytes else bytes(wire),
            )

    # Closed however the build ends: a build that fails while the rows are read would leave
    # their statement open until the collector frees the exception's frames, holding a read
    # snapshot of the database (on SQLite, no checkpoint of its write-ahead log meanwhile).
    with collector_paused(), contextlib.closing(records()) as rows:
        # Served before its answers are precomputed: the worker makes them in the
        # background (names.zone.precompute_served), a signed zone never.
        served = build_zone(
            zone.origin,
            rows,
            serial=zone.serial,
            transfer_acl=zone.transfer_acl.split(),
            precompute=False,
        )
    served.source_settings = source_settings(zone)
    # Where NOTIFY goes, read with the rest (the worker sends it after every change).
    served.notify_targets = targets_of(zone)
    served.expired = getattr(zone, "expired", False)  # annotated by refresh_zone
    return served


def enabled_rows(zone: Zone) -> Iterator[tuple[str, int | None, str, bytes]]:
    """Yield the zone's enabled records (owner, TTL, type, wire): the ORM's query, in the
    same order, its rows read from a plain cursor, which costs half the ORM's reading of
    them (a tenth of a second for 100,000 records)."""
    rows = zone.records.filter(enabled=True).values_list("owner", "ttl", "rdtype", "wire")
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(5000):
            yield from batch


# IXFR out: each served zone carries the journal of its recent differences (names/journal.py).
# Changes looked back through to learn what changed since the zone served before (a worker
# sees most one at a time); past them the journal starts again, and clients older than that
# get the whole zone once.
JOURNAL_CHANGES = (4, 500)
# Reads of a zone whose changes go on (edits in a row, each ringing the workers), a pause
# between them growing so that a burst of a second or so ends meanwhile.
READ_ATTEMPTS = 8
READ_PAUSE = 0.01  # seconds, doubled after each read that a change overtook


def refresh_served(origin: str, previous: ServedZone | None) -> ServedZone | None:
    """Return refresh_zone's zone with previous's journal extended by what changed since.

    A journal describes versions exactly, so the zone must hold its serial's records, no
    newer: it is read again if a change was committed meanwhile (its serial moved). A zone
    that cannot be read between changes is served without a journal (its clients get the
    whole zone), and the next one's starts afresh. Runs in a database thread, never in the
    event loop, so its pauses hold up no answer."""
    for attempt in range(READ_ATTEMPTS):
        if attempt:
            time.sleep(READ_PAUSE * 2 ** (attempt - 1))
        zone = refresh_zone(origin, previous)
        if zone is None:
            return None
        if serial_of(origin) == zone.serial:
            zone.journal = next_journal(origin, previous, zone)
            return zone
    zone.journal = None
    return zone


def serial_of(origin: str) -> int | None:
    return Zone.objects.filter(origin=origin).values_list("serial", flat=True).first()


def next_journal(origin: str, previous: ServedZone | None, zone: ServedZone) -> Journal:
    """Return the journal leading to zone: previous's and the delta from it, or a journal that
    starts at zone's serial when the history does not say what changed in between."""
    known = getattr(previous, "journal", None)
    if known is None or known.serial != previous.serial:
        return Journal(zone.serial)
    signed = getattr(zone, "signing_plan", None) is not None
    if previous.serial == zone.serial and signed == (previous.dnssec is not None):
        return known  # the same records, signed (or not) the same way
    if signed and previous.dnssec is not None and getattr(zone, "changed_owners", None) is not None:
        # Patched, to be re-signed where it changed: the re-signing extends the journal with
        # the signatures and NSEC/NSEC3 records too (dnssec.signed_for_serving).
        return known
    # A zone signed whole (keys or signing period changed, signing turned on or off) changes
    # everywhere; a new default TTL changes records the history does not name.
    if signed or previous.dnssec is not None:
        return Journal(zone.serial)
    if previous.source_settings[0] != zone.source_settings[0]:
        return Journal(zone.serial)
    changed = rrsets_changed_between(origin, previous.serial, zone.serial)
    if changed is None:
        return Journal(zone.serial)
    keys = [(owner, dns.rdatatype.from_text(rdtype)) for owner, rdtype in changed]
    return known.extended(delta_between(previous, zone, keys))


def rrsets_changed_between(origin: str, serial: int, to: int) -> set[tuple[str, str]] | None:
    """Return the RRsets the zone's changes from ``serial`` to ``to`` wrote, or None when its
    history does not lead from one to the other within JOURNAL_CHANGES changes."""
    history = ZoneChange.objects.filter(zone__origin=origin).order_by("-id")
    for looked in JOURNAL_CHANGES:
        found = history.values_list("id", "serial_before", "serial_after")[:looked]
        ids = chain_of_changes(list(found), serial, to)
        if ids is not None:
            rows = RRsetChange.objects.filter(change_id__in=ids).values_list("owner", "rdtype")
            return set(rows)
    return None


def chain_of_changes(rows: list[tuple[int, int, int]], serial: int, to: int) -> list[int] | None:
    """Return the ids of the changes, newest first, that lead from serial to ``to`` (changes
    made after the zone was read at ``to`` are passed over); None if rows do not."""
    ids, expected = [], None
    for change_id, before, after in rows:
        if expected is None and after != to:
            continue
        if expected is not None and after != expected:
            return None
        ids.append(change_id)
        if before == serial:
            return ids
        expected = before
    return None

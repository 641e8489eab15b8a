"""Builds the DNS engine's in-memory zones from database rows (the only bridge between them)."""

from __future__ import annotations

import logging

import dns.rdatatype
from django.db.models import Exists, OuterRef, Q, QuerySet

from dnsadmin.models import Zone, ZoneChange, ZoneSigning
from dnsadmin.names.notify import Target, parse_targets
from dnsadmin.names.zone import Zone as ServedZone
from dnsadmin.names.zone import build_zone, patch_zone

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
    rows = enabled_zones().values_list("origin", "serial", "updated")
    return {origin: (serial, updated.timestamp()) for origin, serial, updated in rows}


def load_zone(origin: str) -> ServedZone | None:
    zone = enabled_zones().filter(origin=origin).first()
    return served_zone(zone) if zone is not None else None


def refresh_zone(origin: str, previous: ServedZone | None) -> ServedZone | None:
    """Return the zone's current data: ``previous`` patched with the RRsets the changes since
    its serial rewrote (their history rows name them), or, when anything else may have
    changed (settings, a change not found, a signed zone), the zone built again from its rows."""
    signing = ZoneSigning.objects.filter(zone=OuterRef("pk"))
    found = enabled_zones().filter(origin=origin).annotate(signed=Exists(signing))
    zone = found.first()
    if zone is None:
        return None
    if previous is None or previous.dnssec is not None or zone.signed:
        # A zone to sign is built afresh: the signer writes into its nodes, which a patched
        # zone shares with the one being served.
        return served_zone(zone)
    if getattr(previous, "source_settings", None) != source_settings(zone):
        return served_zone(zone)
    changed = changed_rrsets(zone, previous.serial)
    if changed is None:
        return served_zone(zone)
    rdtypes = {rdtype: dns.rdatatype.from_text(rdtype) for _, rdtype in changed}
    if dns.rdatatype.SOA in rdtypes.values():
        return served_zone(zone)
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
        patched = patch_zone(previous, keys, records, serial=zone.serial)
    except Exception:
        # A zone served wrong would stay wrong: build it from its rows (which says what is
        # wrong with them, if anything), and say the patch failed.
        logger.exception("zone %s could not be patched; building it again", origin)
        return served_zone(zone)
    patched.source_settings = previous.source_settings
    patched.notify_targets = targets_of(zone)
    return patched


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
    rows = zone.records.filter(enabled=True).values_list("owner", "ttl", "rdtype", "wire")
    rdtypes: dict[str, int] = {}
    default_ttl = zone.default_ttl
    soa = ("@", default_ttl, dns.rdatatype.SOA, zone.soa_rdata().to_wire())

    def records():
        yield soa
        for owner, ttl, rdtype, wire in rows.iterator(chunk_size=5000):
            code = rdtypes.get(rdtype) or rdtypes.setdefault(
                rdtype, dns.rdatatype.from_text(rdtype)
            )
            yield owner, default_ttl if ttl is None else ttl, code, bytes(wire)

    served = build_zone(
        zone.origin, records(), serial=zone.serial, transfer_acl=zone.transfer_acl.split()
    )
    served.source_settings = source_settings(zone)
    # Where NOTIFY goes, read with the rest (the worker sends it after every change).
    served.notify_targets = targets_of(zone)
    return served

"""Builds the DNS engine's in-memory zones from database rows (the only bridge between them)."""

from __future__ import annotations

import dns.rdatatype
from django.db.models import QuerySet

from dnsadmin.models import Zone
from dnsadmin.names.notify import Target, parse_targets
from dnsadmin.names.zone import Zone as ServedZone
from dnsadmin.names.zone import build_zone

# (serial, last change) per origin: what a worker compares to know what to reload.
Versions = dict[str, tuple[int, float]]


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

    return build_zone(
        zone.origin, records(), serial=zone.serial, transfer_acl=zone.transfer_acl.split()
    )

"""Catalog zones (RFC 9432): the appliance's primary zones listed in a zone of their own.

The catalog is an ordinary zone in the database, named by ``DNS_CATALOG_ZONE`` and kept in
line with the zones by ``sync`` (which the DNS worker runs whenever the set of zones it serves
changes): a version 2 ``version`` TXT, and one ``<id>.zones`` PTR per enabled primary zone.
Being a zone like the others, it is written through the change service (history, serial),
transferred by AXFR or IXFR to ``DNS_CATALOG_TRANSFER`` and announced by NOTIFY to
``DNS_CATALOG_NOTIFY``, so a BIND or Knot secondary following it serves a new zone, and drops a
deleted one, without being touched.

The other way round, ``add_catalog`` follows a catalog zone from a primary: the catalog is a
secondary zone (``secondary.py``), and after each change to it ``consume`` adds its new members
as secondary zones of the same primaries and removes the ones it no longer lists.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import dns.exception
import dns.name
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from dnsadmin import secondary
from dnsadmin.changes import (
    ChangeError,
    ConflictError,
    RecordData,
    RRsetEdit,
    apply_changes,
    create_zone,
    fingerprint,
)
from dnsadmin.models import SecondaryZone, Zone, ZoneChange

logger = logging.getLogger(__name__)

SOURCE = "catalog"
VERSION = ("version", "TXT")
APEX_NS = ("@", "NS")
# RFC 9432 4.1: the catalog is not meant to be resolved; its apex NS names nothing.
NOWHERE = "invalid."

Key = tuple[str, str]


@dataclass(frozen=True)
class Catalog:
    """The catalog zone as configured: its origin, transfer ACL and NOTIFY targets."""

    origin: str
    transfer_acl: str
    notify_targets: str


def configured() -> Catalog | None:
    """Return the catalog the settings ask for, or None when catalogs are off."""
    if not settings.DNS_CATALOG_ZONE:
        return None
    origin = dns.name.from_text(settings.DNS_CATALOG_ZONE).to_text().lower()
    return Catalog(
        origin, " ".join(settings.DNS_CATALOG_TRANSFER), " ".join(settings.DNS_CATALOG_NOTIFY)
    )


def member_id(origin: str) -> str:
    """Return a member zone's unique id: the SHA-1 of its name in wire form, as in BIND's
    examples; stable for as long as the zone keeps its name."""
    name = dns.name.from_text(origin).canonicalize()
    return hashlib.sha1(name.to_wire(), usedforsecurity=False).hexdigest()


def members(catalog: str) -> list[str]:
    """Return the zones the catalog lists: the enabled primary zones, itself aside."""
    zones = Zone.objects.filter(enabled=True, secondary__isnull=True).exclude(origin=catalog)
    return list(zones.values_list("origin", flat=True))


def wanted_rrsets(origins: list[str]) -> dict[Key, tuple[RecordData, ...]]:
    """Return the catalog's RRsets listing origins (RFC 9432 4.2 and 4.3), apex NS aside."""
    wanted = {VERSION: (RecordData('"2"'),)}
    for origin in origins:
        wanted[(f"{member_id(origin)}.zones", "PTR")] = (RecordData(origin),)
    return wanted


def sync() -> ZoneChange | Zone | None:
    """Bring the catalog zone in line with the zones and the settings: create it, list new
    members, drop the ones gone. Return the change made (the zone when it was created), None
    when it was current already, catalogs are off or their settings are wrong (logged: they
    do not change until a restart, so trying again would only log it again)."""
    try:
        catalog = configured()
        return publish(catalog) if catalog is not None else None
    except (dns.exception.DNSException, ChangeError) as error:
        logger.error("the catalog zone %s is not published: %s", settings.DNS_CATALOG_ZONE, error)
        return None


def publish(catalog: Catalog) -> ZoneChange | Zone | None:
    """sync's work, for the catalog configured."""
    zone = Zone.objects.filter(origin=catalog.origin).first()
    wanted = wanted_rrsets(members(catalog.origin))
    if zone is None:
        return create(catalog, wanted)
    if not zone.changes.filter(source=SOURCE).exists():
        # Rewriting a zone of records someone keeps would destroy them: a typo must not.
        logger.error(
            "DNS_CATALOG_ZONE names %s, a zone the appliance did not create as its catalog: "
            "no catalog is published",
            zone.origin,
        )
        return None
    current = listed(zone)
    edits = [
        RRsetEdit(*key, records, fingerprint(current.get(key, ())))
        for key, records in wanted.items()
        if set(records) != set(current.get(key, ()))
    ]
    edits += [RRsetEdit(*key, (), fingerprint(current[key])) for key in current.keys() - wanted]
    config = {
        "enabled": True,
        "transfer_acl": catalog.transfer_acl,
        "notify_targets": catalog.notify_targets,
    }
    if not edits and all(getattr(zone, name) == value for name, value in config.items()):
        return None
    try:
        return apply_changes(
            zone, edits, source=SOURCE, via="catalog zone", summary=summary(edits, current),
            settings=config,
        )  # fmt: skip
    except ConflictError:
        return None  # another worker has just brought it in line


def create(catalog: Catalog, wanted: dict[Key, tuple[RecordData, ...]]) -> Zone | None:
    """Create the catalog zone with its first members."""
    zone = Zone(
        origin=catalog.origin,
        primary_ns=NOWHERE,
        contact=NOWHERE,
        transfer_acl=catalog.transfer_acl,
        notify_targets=catalog.notify_targets,
    )
    edits = [RRsetEdit(*APEX_NS, (RecordData(NOWHERE),), fingerprint(()))]
    edits += [RRsetEdit(*key, records, fingerprint(())) for key, records in wanted.items()]
    try:
        with transaction.atomic():
            return create_zone(zone, source=SOURCE, via="catalog zone", edits=edits)
    except (ChangeError, IntegrityError):
        if Zone.objects.filter(origin=catalog.origin).exists():
            return None  # another worker created it meanwhile
        raise


def listed(zone: Zone) -> dict[Key, tuple[RecordData, ...]]:
    """Return the catalog's RRsets as stored, apex NS aside."""
    rrsets: dict[Key, list[RecordData]] = defaultdict(list)
    for record in zone.records.order_by("rdata"):
        key = (record.owner, record.rdtype)
        if key != APEX_NS:
            rrsets[key].append(RecordData.from_record(record))
    return {key: tuple(records) for key, records in rrsets.items()}


def summary(edits: list[RRsetEdit], current: dict[Key, tuple[RecordData, ...]]) -> str:
    """Say which zones a change adds to and drops from the catalog."""
    added = [e.records[0].rdata for e in edits if e.rdtype == "PTR" and e.records]
    dropped = [current[e.key][0].rdata for e in edits if e.rdtype == "PTR" and not e.records]
    parts = [f"listed {', '.join(added)}"] if added else []
    parts += [f"dropped {', '.join(dropped)}"] if dropped else []
    return "Catalog: " + ("; ".join(parts) or "settings")


# consumer: catalog zones followed from a primary -----------------------------------------------


def add_catalog(origin: str, primaries: list[str], tsig_key: str | None = None) -> Zone:
    """Follow the catalog zone ``origin`` from ``primaries``: a secondary zone (one that lists
    itself as its catalog), whose members become secondary zones of the same primaries, with
    the same TSIG key, as they come and go. Raise ValueError saying what is wrong."""
    name = secondary.origin_text(origin)
    return secondary.add_secondary(name, primaries, tsig_key, catalog=name)


def followed() -> dict[str, SecondaryZone]:
    """Return the catalog zones followed, by origin."""
    rows = SecondaryZone.objects.select_related("zone", "tsig_key")
    return {row.zone.origin: row for row in rows.filter(catalog=F("zone__origin"))}


def consume(changed: Iterable[str], listed: bool) -> bool:
    """Bring the members of the followed catalogs among ``changed`` origins in line with what
    they list; with ``listed`` (the set of zones changed), drop the members of catalogs no
    longer followed. Tell whether a zone was added or removed."""
    catalogs = followed()
    done = False
    for origin in catalogs.keys() & set(changed):
        done |= follow(catalogs[origin])
    if listed:
        members = SecondaryZone.objects.filter(catalog__isnull=False).exclude(catalog="")
        orphans = members.exclude(catalog__in=list(catalogs))
        for origin in orphans.values_list("zone__origin", flat=True):
            done |= drop(origin, "its catalog is no longer followed")
    return done


def follow(catalog: SecondaryZone) -> bool:
    """Add the members the catalog lists and remove those it no longer lists."""
    origin = catalog.zone.origin
    listed = listed_members(catalog.zone)
    if listed is None:
        return False  # not transferred yet, or a catalog version we do not read
    ours = SecondaryZone.objects.filter(catalog=origin).exclude(zone__origin=origin)
    current = set(ours.values_list("zone__origin", flat=True))
    done = False
    key = catalog.tsig_key.name if catalog.tsig_key else None
    for member in sorted(listed - current):
        existing = Zone.objects.filter(origin=member).first()
        if existing is not None:
            # RFC 9432 5.4: a zone that is already ours is not taken over by a catalog (unless
            # another worker has just added it for this one).
            if not SecondaryZone.objects.filter(zone=existing, catalog=origin).exists():
                logger.warning("catalog %s lists %s, a zone already here: skipped", origin, member)
            continue
        try:
            secondary.add_secondary(member, catalog.primaries.split(), key, catalog=origin)
        except (ValueError, IntegrityError) as error:
            logger.warning("catalog %s: member %s not added: %s", origin, member, error)
            continue
        logger.info("catalog %s: member %s added", origin, member)
        done = True
    for member in sorted(current - listed):
        done |= drop(member, f"catalog {origin} no longer lists it")
    return done


def drop(origin: str, why: str) -> bool:
    try:
        secondary.remove_secondary(origin, via="catalog zone")
    except ValueError:
        return False  # another worker removed it meanwhile
    logger.info("zone %s removed: %s", origin, why)
    return True


def listed_members(zone: Zone) -> set[str] | None:
    """Return the member zones a catalog lists (RFC 9432 4.3: PTRs at <unique-id>.zones), or
    None when it does not say it is version 2 (4.2: a consumer reads only versions it knows)."""
    rows = zone.records.filter(enabled=True).values_list("owner", "rdtype", "rdata")
    members, versions = set(), set()
    for owner, rdtype, rdata in rows:
        if (owner, rdtype) == VERSION:
            versions.add(rdata)
        elif rdtype == "PTR" and owner.endswith(".zones") and owner.count(".") == 1:
            members.add(dns.name.from_text(rdata).to_text().lower())
    return members if versions == {'"2"'} else None

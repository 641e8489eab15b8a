"""The change service: the one way zone data is written (pages, API, import, admin).

A change is a list of whole-RRset replacements, each carrying the fingerprint
of the RRset its author started from. Under the zone's row lock the service
compares fingerprints (optimistic concurrency: nobody silently overwrites a
concurrent edit), checks the zone's rules on the result, writes, bumps the
serial once and records the history, all in one transaction.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace

import dns.name
import dns.rdatatype
from django.db import transaction
from django.utils import timezone

from dnsadmin import rules
from dnsadmin.models import (
    ZONE_CREATED,
    Record,
    RRsetChange,
    Zone,
    ZoneChange,
    rrset_action,
)


@dataclass(frozen=True)
class RecordData:
    """One record of an RRset, as the editor and the history see it."""

    rdata: str
    ttl: int | None = None  # None: the zone's default TTL
    enabled: bool = True
    comment: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RecordData:
        return cls(
            data["rdata"], data.get("ttl"), data.get("enabled", True), data.get("comment", "")
        )

    @classmethod
    def from_record(cls, record: Record) -> RecordData:
        return cls(record.rdata, record.ttl, record.enabled, record.comment)


@dataclass(frozen=True)
class RRsetEdit:
    """The new content of one RRset (empty: delete it) and the fingerprint it was based on.

    ``expected`` None skips the check; only callers that computed the RRset from
    the current data themselves (a merge of new records, the admin) pass None.
    """

    owner: str
    rdtype: str
    records: tuple[RecordData, ...]
    expected: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.owner, self.rdtype)


class ChangeError(ValueError):
    """The change breaks a rule; ``field`` names the input (owner, rdtype, ttl, rdata)."""

    def __init__(self, message: str, field: str = "rdata", key: tuple[str, str] | None = None):
        super().__init__(message)
        self.field, self.key = field, key


@dataclass
class Conflict:
    owner: str
    rdtype: str
    current: tuple[RecordData, ...]


@dataclass
class ConflictError(Exception):
    """Someone changed these RRsets since the author saw them; nothing was written."""

    conflicts: list[Conflict] = field(default_factory=list)
    whole_zone: bool = False

    def __str__(self) -> str:
        if self.whole_zone:
            return "The zone changed since you looked at it; review it again."
        names = ", ".join(f"{c.owner} {c.rdtype}" for c in self.conflicts)
        return f"Someone else changed {names} meanwhile; nothing was saved. Current data is shown."


def fingerprint(records: Iterable[RecordData]) -> str:
    """A short hash of an RRset's content, independent of record order."""
    lines = sorted(f"{r.ttl}\t{int(r.enabled)}\t{r.rdata}\t{r.comment}" for r in records)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:20]


def zone_fingerprint(zone: Zone) -> str:
    """A hash of all of a zone's records, for changes planned from the whole zone (imports)."""
    rows = zone.records.values_list("owner", "rdtype", "ttl", "enabled", "rdata", "comment")
    lines = sorted("\t".join(map(str, row)) for row in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:20]


def current_rrset(zone: Zone, owner: str, rdtype: str) -> tuple[RecordData, ...]:
    rows = zone.records.filter(owner=owner, rdtype=rdtype).order_by("rdata")
    return tuple(RecordData.from_record(r) for r in rows)


def canonical_key(zone: Zone, owner: str, rdtype: str) -> tuple[str, str]:
    """The stored spelling of an owner and type: relative lowercase owner, type mnemonic."""
    origin = zone.name
    try:
        name = rules.parse_owner(owner, origin)
        return rules.relative_owner(name, origin), dns.rdatatype.to_text(rules.parse_rdtype(rdtype))
    except rules.RecordError as error:
        raise ChangeError(str(error), error.field) from None


def apply_changes(
    zone: Zone,
    edits: Iterable[RRsetEdit],
    user=None,
    *,
    source: str = "web",
    summary: str = "",
    expected_zone: str | None = None,
    reverts: ZoneChange | None = None,
) -> ZoneChange | None:
    """Apply RRset edits atomically; returns the history entry, or None if nothing changed.

    Raises ChangeError (a rule is broken) or ConflictError (stale fingerprint).
    """
    with transaction.atomic():
        locked = Zone.objects.select_for_update().get(pk=zone.pk)
        edits = [normalise(locked, edit) for edit in edits]
        check_unique_keys(edits)
        if expected_zone is not None and zone_fingerprint(locked) != expected_zone:
            raise ConflictError(whole_zone=True)
        before = {edit.key: current_rrset(locked, *edit.key) for edit in edits}
        check_fingerprints(edits, before)
        edits = [edit for edit in edits if set(edit.records) != set(before[edit.key])]
        if not edits:
            return None
        check_zone_rules(locked, edits)
        write_rrsets(locked, edits)
        change = record_history(locked, edits, before, user, source, summary, reverts)
    zone.refresh_from_db()
    return change


def normalise(zone: Zone, edit: RRsetEdit) -> RRsetEdit:
    """Canonical owner, type and rdata, so comparisons and fingerprints are stable."""
    owner, rdtype = canonical_key(zone, edit.owner, edit.rdtype)
    records = []
    for record in edit.records:
        try:
            rdata = rules.parse_rdata(dns.rdatatype.from_text(rdtype), record.rdata, zone.name)
        except rules.RecordError as error:
            raise ChangeError(str(error), error.field, (owner, rdtype)) from None
        records.append(replace(record, rdata=rdata.to_text()))
    if len({r.rdata for r in records}) != len(records):
        raise ChangeError(f"{owner} {rdtype}: the same record twice.", "rdata", (owner, rdtype))
    return replace(edit, owner=owner, rdtype=rdtype, records=tuple(records))


def check_unique_keys(edits: list[RRsetEdit]) -> None:
    seen: set[tuple[str, str]] = set()
    for edit in edits:
        if edit.key in seen:
            raise ChangeError(f"{edit.owner} {edit.rdtype} is changed twice in one batch.")
        seen.add(edit.key)


def check_fingerprints(
    edits: list[RRsetEdit], before: dict[tuple[str, str], tuple[RecordData, ...]]
) -> None:
    conflicts = [
        Conflict(edit.owner, edit.rdtype, before[edit.key])
        for edit in edits
        if edit.expected is not None and fingerprint(before[edit.key]) != edit.expected
    ]
    if conflicts:
        raise ConflictError(conflicts)


def check_zone_rules(zone: Zone, edits: list[RRsetEdit]) -> None:
    """The whole resulting zone obeys the rules: CNAME alone, delegations, one TTL, apex NS."""
    origin = zone.name
    keys = zone.rrset_keys()
    for edit in edits:
        key = rules.RecordKey(rules.parse_owner(edit.owner, origin), rdtype_of(edit))
        keys.discard(key)
        if edit.records:
            keys.add(key)
            ttls = {zone.default_ttl if r.ttl is None else r.ttl for r in edit.records}
            try:
                rules.check_one_ttl({key: ttls})
            except rules.RecordError as error:
                raise ChangeError(str(error), "ttl", edit.key) from None
    try:
        rules.check_zone_data(origin, keys)
    except rules.RecordError as error:
        raise ChangeError(str(error), error.field) from None
    if rules.RecordKey(origin, dns.rdatatype.NS) not in keys:
        # RFC 1034 §4.2.1: a zone is served with the NS RRset at its apex.
        raise ChangeError("The zone needs NS records at its apex (@).", "rdtype", ("@", "NS"))


def rdtype_of(edit: RRsetEdit) -> int:
    return dns.rdatatype.from_text(edit.rdtype)


def write_rrsets(zone: Zone, edits: list[RRsetEdit]) -> None:
    """Write the new RRsets, keeping the rows of unchanged records (their ids stay valid)."""
    created: list[Record] = []
    for edit in edits:
        created += write_rrset(zone, edit)
    Record.objects.bulk_create(created, batch_size=2000)


def write_rrset(zone: Zone, edit: RRsetEdit) -> list[Record]:
    """Update this RRset's rows in place; return the rows still to create.

    A replaced record reuses the row of one that went, so editing a record keeps
    its id (links to it stay valid) and unchanged records are not touched.
    """
    rows = {row.rdata: row for row in zone.records.filter(owner=edit.owner, rdtype=edit.rdtype)}
    wanted = {record.rdata: record for record in edit.records}
    spare = [row for rdata, row in rows.items() if rdata not in wanted]
    created = []
    for rdata, record in wanted.items():
        row = rows.get(rdata) or (spare.pop() if spare else None)
        if row is None:
            created.append(Record(zone=zone, owner=edit.owner, rdtype=edit.rdtype))
            row = created[-1]
        elif RecordData.from_record(row) == record:
            continue
        row.rdata, row.ttl, row.enabled, row.comment = (
            rdata,
            record.ttl,
            record.enabled,
            record.comment,
        )
        row.wire = rules.parse_rdata(rdtype_of(edit), rdata, zone.name).to_wire()
        if row.pk is not None:
            row.updated = timezone.now()
            Record.objects.filter(pk=row.pk).update(
                rdata=row.rdata,
                wire=row.wire,
                ttl=row.ttl,
                enabled=row.enabled,
                comment=row.comment,
                updated=row.updated,
            )
    zone.records.filter(pk__in=[row.pk for row in spare]).delete()
    return created


def record_history(
    zone: Zone,
    edits: list[RRsetEdit],
    before: dict[tuple[str, str], tuple[RecordData, ...]],
    user,
    source: str,
    summary: str,
    reverts: ZoneChange | None,
) -> ZoneChange:
    serial_before = zone.serial
    zone.bump_serial()
    change = ZoneChange.objects.create(
        zone=zone,
        **author(user),
        source=source,
        summary=(summary or describe(edits, before))[:255],
        serial_before=serial_before,
        serial_after=zone.serial,
        reverts=reverts,
    )
    RRsetChange.objects.bulk_create(
        RRsetChange(
            change=change,
            owner=edit.owner,
            rdtype=edit.rdtype,
            before=as_dicts(before[edit.key]),
            after=as_dicts(edit.records),
        )
        for edit in edits
    )
    return change


def author(user) -> dict:
    """ZoneChange's user and username; none for an anonymous or absent user (a script)."""
    known = getattr(user, "pk", None) is not None
    return {"user": user if known else None, "username": user.get_username() if known else ""}


def describe(edits: list[RRsetEdit], before: dict[tuple[str, str], tuple[RecordData, ...]]) -> str:
    """E.g. "Added mail A, changed www A": each RRset with what became of it, as the history says."""
    names = [
        f"{rrset_action(before[edit.key], edit.records)} {edit.owner} {edit.rdtype}"
        for edit in edits[:5]
    ]
    more = f" and {len(edits) - 5} more" if len(edits) > 5 else ""
    text = ", ".join(names) + more
    return text[:1].upper() + text[1:]


def record_settings_change(zone: Zone, user, summary: str) -> ZoneChange:
    """Bump the serial after the zone's own settings (the SOA) changed, and note who did it."""
    serial_before = zone.serial
    zone.bump_serial()
    return ZoneChange.objects.create(
        zone=zone,
        **author(user),
        source="settings",
        summary=summary[:255],
        serial_before=serial_before,
        serial_after=zone.serial,
    )


def revert_change(change: ZoneChange, user) -> ZoneChange | None:
    """Put every RRset of ``change`` back as it was, if none has changed since."""
    if change.zone is None:
        raise ChangeError(f"The zone {change.origin} was deleted: its history stays, read-only.")
    edits = [
        RRsetEdit(
            rrset.owner,
            rrset.rdtype,
            tuple(RecordData.from_dict(r) for r in rrset.before),
            expected=fingerprint(RecordData.from_dict(r) for r in rrset.after),
        )
        for rrset in change.rrsets.all()
    ]
    summary = f"Revert of the change to serial {change.serial_after}"
    return apply_changes(change.zone, edits, user, source="revert", summary=summary, reverts=change)


def create_zone(zone: Zone, user, *, source: str = "web") -> Zone:
    """Save a new zone with its apex NS pointing at the primary name server."""
    with transaction.atomic():
        zone.save()
        ns = RRsetEdit("@", "NS", (RecordData(zone.primary_ns),), expected=fingerprint(()))
        apply_changes(zone, [ns], user, source=source, summary=ZONE_CREATED)
    return zone


def delete_zone(zone: Zone, user, *, source: str = "web") -> ZoneChange:
    """Delete a zone, leaving a history entry with every RRset it had (all removed).

    The entry and the zone's earlier ones outlive it (their zone becomes NULL, the
    origin stays), so who deleted what, and what it held, can still be read.
    """
    with transaction.atomic():
        locked = Zone.objects.select_for_update().get(pk=zone.pk)
        rrsets: dict[tuple[str, str], list[RecordData]] = defaultdict(list)
        for record in locked.records.order_by("rdata"):
            rrsets[(record.owner, record.rdtype)].append(RecordData.from_record(record))
        soa = locked.soa_rdata().to_text()
        change = ZoneChange.objects.create(
            zone=locked,
            origin=locked.origin,
            zone_deleted=True,
            **author(user),
            source=source,
            summary=f"Zone deleted (SOA {soa})"[:255],
            serial_before=locked.serial,
            serial_after=locked.serial,
        )
        keys = sorted(rrsets, key=lambda key: sort_key(locked.name, *key))
        RRsetChange.objects.bulk_create(
            RRsetChange(change=change, owner=key[0], rdtype=key[1], before=as_dicts(rrsets[key]))
            for key in keys
        )
        locked.delete()
    change.refresh_from_db()
    return change


def as_dicts(records: Iterable[RecordData]) -> list[dict]:
    return [r.as_dict() for r in records]


# Edits planned but not yet applied, by RRset key: a "pending changes" batch.
Batch = dict[tuple[str, str], RRsetEdit]


@dataclass(frozen=True)
class RecordRef:
    """An existing record, named by its RRset and canonical rdata."""

    owner: str
    rdtype: str
    rdata: str


def plan_record_change(
    zone: Zone,
    batch: Batch,
    *,
    old: RecordRef | None = None,
    new: tuple[str, str, RecordData] | None = None,
    shown: str | None = None,
) -> Batch:
    """``batch`` with one record removed (``old``), added (``new``) or replaced (both).

    ``shown`` is the fingerprint of old's RRset as its author saw it; an RRset not
    yet in the batch starts from the current data with its current fingerprint,
    so the service still refuses it if it changes before the batch is applied.
    """
    result = dict(batch)
    if old is not None:
        key = canonical_key(zone, old.owner, old.rdtype)
        edit = base_edit(zone, result, key, shown)
        if not has_record(edit.records, old.rdata):
            raise ConflictError([Conflict(*key, current_rrset(zone, *key))])
        kept = tuple(r for r in edit.records if r.rdata != old.rdata)
        result[key] = replace(edit, records=kept)
    if new is not None:
        owner, rdtype, record = new
        key = canonical_key(zone, owner, rdtype)
        rdata = canonical_rdata(zone, key, record.rdata)
        edit = base_edit(zone, result, key, None)
        if has_record(edit.records, rdata):
            raise ChangeError("This record already exists.", "rdata", key)
        ttl = ttl_for_rrset(edit.records, record.ttl, keep=old is None and record.ttl is None)
        records = tuple(replace(r, ttl=ttl) for r in edit.records)
        result[key] = replace(edit, records=(*records, replace(record, rdata=rdata, ttl=ttl)))
    return result


def base_edit(zone: Zone, batch: Batch, key: tuple[str, str], shown: str | None) -> RRsetEdit:
    if key in batch:
        return batch[key]
    records = current_rrset(zone, *key)
    current = fingerprint(records)
    if shown is not None and shown != current:
        raise ConflictError([Conflict(*key, records)])
    return RRsetEdit(*key, records, expected=current)


def canonical_rdata(zone: Zone, key: tuple[str, str], text: str) -> str:
    try:
        return rules.parse_rdata(dns.rdatatype.from_text(key[1]), text, zone.name).to_text()
    except rules.RecordError as error:
        raise ChangeError(str(error), error.field, key) from None


def batch_to_json(batch: Batch) -> list[dict]:
    """A batch in a form the session (JSON) can keep."""
    return [
        {
            "owner": edit.owner,
            "rdtype": edit.rdtype,
            "expected": edit.expected,
            "records": [r.as_dict() for r in edit.records],
        }
        for edit in batch.values()
    ]


def batch_from_json(data: list[dict]) -> Batch:
    edits = (
        RRsetEdit(
            item["owner"],
            item["rdtype"],
            tuple(RecordData.from_dict(r) for r in item["records"]),
            item["expected"],
        )
        for item in data
    )
    return {edit.key: edit for edit in edits}


def has_record(records: Iterable[RecordData], rdata: str) -> bool:
    return any(r.rdata == rdata for r in records)


def ttl_for_rrset(records: Iterable[RecordData], wanted: int | None, keep: bool) -> int | None:
    """The TTL a whole RRset takes when one record is added or edited (RFC 2181 §5.2).

    ``keep``: the author left the TTL empty while adding to an existing RRset,
    which means "as the others", not "reset them all to the zone's default".
    """
    existing = [r.ttl for r in records]
    if keep and existing:
        return existing[0]
    return wanted


@dataclass(frozen=True)
class PlannedRRset:
    """One RRset an import would touch, for the preview."""

    owner: str
    rdtype: str
    before: tuple[RecordData, ...]
    after: tuple[RecordData, ...]

    @property
    def action(self) -> str:
        if not self.before:
            return "add"
        return "remove" if not self.after else "change"


@dataclass
class ImportPlan:
    rrsets: list[PlannedRRset]
    expected_zone: str  # the import applies only to the zone as previewed

    def of(self, action: str) -> list[PlannedRRset]:
        return [p for p in self.rrsets if p.action == action]

    @property
    def summary(self) -> str:
        counts = (f"{len(self.of(a))} {a}" for a in ("add", "change", "remove"))
        return ", ".join(counts)

    def edits(self) -> list[RRsetEdit]:
        return [RRsetEdit(p.owner, p.rdtype, p.after) for p in self.rrsets]


def plan_import(zone: Zone, parsed, *, replace_all: bool) -> ImportPlan:
    """What importing ``parsed`` (a zonefile.ParsedZone) would add, change and remove.

    Merge touches only the RRsets in the file; replace also removes every other
    one. The file's SOA is not imported: the zone's settings keep the SOA.
    """
    if parsed.origin != zone.name:
        raise ChangeError(f"The file is for {parsed.origin}, not for {zone.origin}.", "text")
    incoming: dict[tuple[str, str], list[RecordData]] = {}
    for r in parsed.records:
        ttl = None if r.ttl == zone.default_ttl else r.ttl
        incoming.setdefault((r.owner, r.rdtype), []).append(RecordData(r.rdata, ttl))
    current: dict[tuple[str, str], list[RecordData]] = {}
    for record in zone.records.order_by("rdata"):
        current.setdefault((record.owner, record.rdtype), []).append(RecordData.from_record(record))
    planned = [
        PlannedRRset(*key, tuple(current.get(key, ())), tuple(after))
        for key, after in incoming.items()
        if not same_data(zone, current.get(key, []), after)
    ]
    if replace_all:
        planned += [PlannedRRset(*k, tuple(v), ()) for k, v in current.items() if k not in incoming]
    planned.sort(key=lambda p: sort_key(zone.name, p.owner, p.rdtype))
    return ImportPlan(planned, zone_fingerprint(zone))


def same_data(zone: Zone, before: Iterable[RecordData], after: Iterable[RecordData]) -> bool:
    """Equal as served: a file holds only enabled records, with TTLs spelled out."""

    def served(records: Iterable[RecordData]) -> set[tuple[int, str]]:
        return {
            (zone.default_ttl if r.ttl is None else r.ttl, r.rdata) for r in records if r.enabled
        }

    return served(before) == served(after)


def sort_key(origin: dns.name.Name, owner: str, rdtype: str) -> tuple[dns.name.Name, int]:
    """Zone-file order: DNS canonical name order (RFC 4034 §6.1), so the apex first, then type."""
    return dns.name.from_text(owner, origin=origin), dns.rdatatype.from_text(rdtype)


@dataclass(frozen=True)
class RecordRow:
    """A record as the zone page lists it, with the fingerprint of its RRset."""

    record: Record
    fingerprint: str


def zone_rows(zone: Zone, name: str = "", rdtype: str = "") -> list[RecordRow]:
    """The zone's records in zone-file order, filtered by a name pattern and a type."""
    records = list(zone.records.all())
    rrsets: dict[tuple[str, str], list[RecordData]] = defaultdict(list)
    for record in records:
        rrsets[(record.owner, record.rdtype)].append(RecordData.from_record(record))
    prints = {key: fingerprint(value) for key, value in rrsets.items()}
    pattern = owner_pattern(zone, name)
    wanted_type = rdtype.strip().upper()
    selected = [
        r
        for r in records
        if (not pattern or fnmatch.fnmatchcase(r.owner, pattern))
        and (not wanted_type or r.rdtype == wanted_type)
    ]
    selected.sort(key=lambda r: (*sort_key(zone.name, r.owner, r.rdtype), r.rdata))
    return [RecordRow(r, prints[(r.owner, r.rdtype)]) for r in selected]


def owner_pattern(zone: Zone, text: str) -> str:
    """A name filter as a glob on stored (relative) owners; absolute names are relativised."""
    pattern = text.strip().lower()
    if pattern in (zone.origin, zone.origin.rstrip(".")):
        return "@"
    suffix = "." + zone.origin
    if pattern.endswith(suffix):
        return pattern.removesuffix(suffix)
    return pattern.removesuffix(suffix.rstrip("."))

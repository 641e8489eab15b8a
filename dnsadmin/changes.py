"""The change service: the one writer of zone data.

Every change to a zone's records or SOA settings, whoever makes it (the pages,
the API, the admin, ``loadzone``, and later dynamic updates, transfers and
signing), comes here. A change is a list of whole-RRset replacements, each
carrying the fingerprint of the RRset its author started from, and optionally
new zone settings. Under the zone's row lock the service compares fingerprints
(optimistic concurrency: nobody silently overwrites a concurrent edit), checks
the zone's rules on the result, writes, bumps the serial once, records the
history with who or what made the change, and rings ``zone.changed`` after
commit, all in one transaction. Nothing else writes ``Record`` rows
(``tests/dnsadmin/test_one_writer.py`` checks it).
"""

from __future__ import annotations

import datetime
import fnmatch
import functools
import hashlib
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from json.encoder import encode_basestring_ascii as quote_json

import dns.name
import dns.rdatatype
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from dnsadmin import rules
from dnsadmin.models import (
    ZONE_CREATED,
    Record,
    RRsetChange,
    SecondaryZone,
    Zone,
    ZoneChange,
    next_serial,
    record_sort_key,
    rrset_action,
    serial_gt,
)
from dnsadmin.zonefile import ParsedZone, collector_paused, keys_obey_rules


@dataclass(frozen=True)
class RecordData:
    """One record of an RRset, as the editor and the history see it."""

    rdata: str
    ttl: int | None = None  # None: the zone's default TTL
    enabled: bool = True
    comment: str = ""

    def as_dict(self) -> dict:
        # dataclasses.asdict copies deeply: seconds for the 100,000 records of an import.
        return {
            "rdata": self.rdata,
            "ttl": self.ttl,
            "enabled": self.enabled,
            "comment": self.comment,
        }

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
    """Hash an RRset's content, independent of record order, into a short text."""
    lines = sorted(f"{r.ttl}\t{int(r.enabled)}\t{r.rdata}\t{r.comment}" for r in records)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:20]


def zone_fingerprint(zone: Zone) -> str:
    """Hash all of a zone's records, for changes planned from the whole zone (imports)."""
    rows = zone.records.values_list("owner", "rdtype", "ttl", "enabled", "rdata", "comment")
    lines = sorted("\t".join(map(str, row)) for row in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:20]


def current_rrset(zone: Zone, owner: str, rdtype: str) -> tuple[RecordData, ...]:
    rows = zone.records.filter(owner=owner, rdtype=rdtype).order_by("rdata")
    return tuple(RecordData.from_record(r) for r in rows)


def canonical_key(zone: Zone, owner: str, rdtype: str) -> tuple[str, str]:
    """Return the stored spelling of an owner and type: relative lowercase owner, mnemonic."""
    try:
        return stored_key(owner, rdtype, zone.name)
    except rules.RecordError as error:
        raise ChangeError(str(error), error.field) from None


@functools.lru_cache(maxsize=4096)  # an owner and type are spelt the same way again and again
def stored_key(owner: str, rdtype: str, origin: dns.name.Name) -> tuple[str, str]:
    name = rules.parse_owner(owner, origin)
    return rules.relative_owner(name, origin), dns.rdatatype.to_text(rules.parse_rdtype(rdtype))


@dataclass(frozen=True)
class Author:
    """Who or what makes a change, as the history names it.

    ``user`` is the person (None for a script or a server), ``source`` the way
    in (web, api, import, admin, revert, settings, loadzone), and ``via`` what
    acted for them: an API token, a zone file, a TSIG key, a primary server.
    """

    user: object = None
    source: str = "web"
    via: str = ""

    def fields(self) -> dict:
        known = getattr(self.user, "pk", None) is not None
        return {
            "user": self.user if known else None,
            "username": self.user.get_username() if known else "",
            "source": self.source,
            "via": self.via[:255],
        }


# The zone settings a change may carry; "serial" only ever moves the serial forward.
SETTINGS = (
    "enabled",
    "primary_ns",
    "contact",
    "refresh",
    "retry",
    "expire",
    "minimum",
    "default_ttl",
    "transfer_acl",
    "notify_targets",
)


@dataclass(frozen=True)
class SettingChange:
    name: str
    before: object
    after: object

    def __str__(self) -> str:
        label = Zone._meta.get_field(self.name).verbose_name
        return f"{label} {summary_value(self.before)} → {summary_value(self.after)}"


def summary_value(value: object, limit: int = 40) -> str:
    """Show a setting on one short line: ACLs and target lists are multi-line text."""
    text = " ".join(str(value if value is not None else "").split()) or "(empty)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Records' wire forms by owner, type and canonical rdata.
Wires = dict[tuple[str, str, str], bytes]


def apply_changes(
    zone: Zone,
    edits: Iterable[RRsetEdit],
    user=None,
    *,
    source: str = "web",
    via: str = "",
    summary: str = "",
    expected_zone: str | None = None,
    reverts: ZoneChange | None = None,
    settings: Mapping[str, object] | None = None,
    parsed: Wires | None = None,
    locked: Locked | None = None,
    ring: bool = True,
) -> ZoneChange | None:
    """Apply RRset edits and zone settings atomically; return the history entry, or None.

    None means nothing changed. Raise ChangeError (a rule is broken) or
    ConflictError (a stale fingerprint); either way nothing is written.
    ``parsed`` holds the wire form of records dnspython has just parsed in
    canonical form (a zone file's, an update's), which need not be parsed again.
    ``locked``: the caller holds the zone's row lock in its open transaction (zone was read
    with select_for_update in it) and read there what Locked says (an RFC 2136 update's):
    that is not read again. ``ring`` False: the workers are not rung (the caller, a worker,
    serves the change itself, and its channel layer reaches no other process).
    """
    by = Author(user, source, via)
    # With ``locked``, the caller's transaction is the one to roll back should a rule be
    # broken (Django rolls it back as the error leaves this block): no savepoint is needed.
    with transaction.atomic(savepoint=locked is None):
        # With ``locked`` the caller's zone is the row read under the lock.
        locked_zone = zone if locked else Zone.objects.select_for_update().get(pk=zone.pk)
        changed = apply_locked(
            locked_zone, edits, by, summary, expected_zone, reverts, settings, parsed, locked,
            ring=ring,
        )  # fmt: skip
    if changed is not None and locked_zone is not zone:
        # What refresh_from_db would read: the locked row as written.
        for field in Zone._meta.concrete_fields:
            setattr(zone, field.attname, getattr(locked_zone, field.attname))
    return changed


@dataclass(slots=True)
class StoredRecord:
    """A record's row as a change reads it (stored_records): what Record holds but the
    zone, the time and the sort key, without a model instance."""

    pk: int
    owner: str
    rdtype: str
    ttl: int | None
    rdata: str
    wire: bytes
    enabled: bool
    comment: str


@dataclass(frozen=True)
class Locked:
    """What a caller read under the zone's row lock, in the transaction it holds open: every
    row at ``owners``, by RRset, and that the zone is not a secondary zone."""

    owners: set[str]
    rows: Mapping[tuple[str, str], list[StoredRecord]]


RECORD_READ = ("id", "owner", "rdtype", "ttl", "rdata", "wire", "enabled", "comment")


def stored_records(zone_pk: int, owners: Iterable[str]) -> list[StoredRecord]:
    """Read every row at owners: one plain query, which costs a tenth of the ORM's building
    of it (an RFC 2136 update reads a few rows under the zone's lock)."""
    owners = list(owners)
    found = []
    db = database()
    with db.cursor() as cursor:
        for start in range(0, len(owners), 500):  # within every database's parameter limit
            chunk = owners[start : start + 500]
            cursor.execute(record_select(len(chunk), db.vendor), [zone_pk, *chunk])
            found += [
                StoredRecord(pk, owner, rdtype, ttl, rdata, bytes(wire), bool(enabled), comment)
                for pk, owner, rdtype, ttl, rdata, wire, enabled, comment in cursor.fetchall()
            ]
    return found


@functools.lru_cache(maxsize=64)
def record_select(owners: int, vendor: str) -> str:
    quote, meta = connection.ops.quote_name, Record._meta
    columns = ", ".join(quote(meta.get_field(name).column) for name in RECORD_READ)
    return (
        f"SELECT {columns} FROM {quote(meta.db_table)} "
        f"WHERE {quote(meta.get_field('zone').column)} = %s "
        f"AND {quote(meta.get_field('owner').column)} IN ({', '.join(['%s'] * owners)})"
    )


def apply_locked(
    locked: Zone,
    edits: Iterable[RRsetEdit],
    by: Author,
    summary: str,
    expected_zone: str | None,
    reverts: ZoneChange | None,
    settings: Mapping[str, object] | None,
    parsed: Wires | None,
    read: Locked | None,
    *,
    ring: bool = True,
) -> ZoneChange | None:
    """apply_changes' work, inside its transaction, on the zone's locked row."""
    normalised = [normalise(locked, edit, parsed or {}) for edit in edits]
    edits = [edit for edit, _ in normalised]
    exact = held_serial(locked, edits, settings or {}, by, primary=read is not None)
    wires = {key: wire for _, found in normalised for key, wire in found.items()}
    check_unique_keys(edits)
    if expected_zone is not None and zone_fingerprint(locked) != expected_zone:
        raise ConflictError(whole_zone=True)
    if read is not None and all(edit.owner in read.owners for edit in edits):
        rows = {edit.key: list(read.rows.get(edit.key, [])) for edit in edits}
    else:
        rows = rows_by_rrset(locked, [edit.key for edit in edits])
    before = {key: rrset_data(rows.get(key, [])) for key in (edit.key for edit in edits)}
    check_fingerprints(edits, before)
    edits = [edit for edit in edits if set(edit.records) != set(before[edit.key])]
    altered = setting_changes(locked, settings or {})
    floor = serial_floor(locked, settings or {})
    if not edits and not altered and floor is None and exact in (None, locked.serial):
        return None
    apply_settings(locked, altered, floor if exact is None else None)
    check_zone_rules(locked, edits, read, before)
    write_rrsets(locked, edits, rows, wires)
    return record_history(locked, edits, before, altered, by, summary, reverts, exact, ring=ring)


TRANSFER = "transfer"  # the source of a secondary zone's changes: its only writer
# What may be set on a secondary zone besides transfers: it serves and feeds others as set.
SECONDARY_SETTINGS = {"enabled", "transfer_acl", "notify_targets"}


def held_serial(
    zone: Zone,
    edits: list[RRsetEdit],
    settings: Mapping[str, object],
    by: Author,
    *,
    primary: bool = False,
) -> int | None:
    """Return the serial a change leaves as it is, or None when the change bumps it.

    A secondary zone's serial is its primary's: a transfer sets it as given, and a change
    of the settings it keeps for itself leaves it alone. Anything else is refused: its
    primaries own its data. ``primary``: the caller found, under the zone's lock, that the
    zone is no secondary zone.
    """
    if by.source == TRANSFER:
        return int(settings["serial"]) if "serial" in settings else None
    if primary:
        return None
    found = SecondaryZone.objects.filter(zone_id=zone.pk).values_list("primaries", flat=True)
    listed = found.first()
    if listed is None:
        return None
    if edits or set(settings) - SECONDARY_SETTINGS:
        raise ChangeError(
            f"{zone.origin} is a secondary zone: its records and SOA come from its primaries "
            f"({listed}) by zone transfer and are changed there, not here."
        )
    return zone.serial


def normalise(zone: Zone, edit: RRsetEdit, parsed: Wires) -> tuple[RRsetEdit, Wires]:
    """Canonicalise owner, type and rdata, so comparisons and fingerprints are stable.

    Return the edit and the wire form of each record, keyed by owner, type and rdata.
    """
    owner, rdtype = canonical_key(zone, edit.owner, edit.rdtype)
    records, wires = [], {}
    for record in edit.records:
        key = (owner, rdtype, record.rdata)
        if key in parsed:
            records.append(record)
            wires[key] = parsed[key]
            continue
        try:
            rdata = rules.parse_rdata(dns.rdatatype.from_text(rdtype), record.rdata, zone.name)
        except rules.RecordError as error:
            raise ChangeError(str(error), error.field, (owner, rdtype)) from None
        text = rdata.to_text()
        records.append(replace(record, rdata=text))
        wires[(owner, rdtype, text)] = rdata.to_wire()
    if len({r.rdata for r in records}) != len(records):
        raise ChangeError(f"{owner} {rdtype}: the same record twice.", "rdata", (owner, rdtype))
    return replace(edit, owner=owner, rdtype=rdtype, records=tuple(records)), wires


# Past this many RRsets, reading the whole zone once beats a query per RRset.
WHOLE_ZONE_READ = 50


def rows_by_rrset(zone: Zone, keys: list[tuple[str, str]]) -> dict[tuple[str, str], list[Record]]:
    """Read the rows of these RRsets, grouped by RRset."""
    wanted = set(keys)
    if len(wanted) > WHOLE_ZONE_READ:
        rows = zone.records.all()
    else:
        query = Q(pk__in=[])
        for owner, rdtype in wanted:
            query |= Q(owner=owner, rdtype=rdtype)
        rows = zone.records.filter(query)
    grouped: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for row in rows:
        if (row.owner, row.rdtype) in wanted:
            grouped[(row.owner, row.rdtype)].append(row)
    return grouped


def rrset_data(rows: Iterable[Record]) -> tuple[RecordData, ...]:
    return tuple(RecordData.from_record(r) for r in sorted(rows, key=lambda r: r.rdata))


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


def setting_changes(zone: Zone, settings: Mapping[str, object]) -> list[SettingChange]:
    """List the settings whose value differs from the zone's."""
    unknown = set(settings) - set(SETTINGS) - {"serial"}
    if unknown:
        raise ValueError(f"Not a zone setting: {', '.join(sorted(unknown))}")
    return [
        SettingChange(name, getattr(zone, name), value)
        for name, value in settings.items()
        if name != "serial" and getattr(zone, name) != value
    ]


def serial_floor(zone: Zone, settings: Mapping[str, object]) -> int | None:
    """Return a serial given with the settings (a zone file's) when it is ahead of the zone's."""
    wanted = settings.get("serial")
    return int(wanted) if wanted is not None and serial_gt(int(wanted), zone.serial) else None


def apply_settings(zone: Zone, altered: list[SettingChange], floor: int | None) -> None:
    """Check and write the changed settings; ``floor`` is where the serial bump starts from."""
    fields = [setting.name for setting in altered]
    for setting in altered:
        setattr(zone, setting.name, setting.after)
    if floor is not None:
        zone.serial = floor
        fields.append("serial")
    if not fields:
        return
    try:
        zone.full_clean(exclude=[f.name for f in Zone._meta.fields if f.name not in fields])
    except ValidationError as error:
        name, messages = next(iter(error.message_dict.items()))
        raise ChangeError(" ".join(messages), name) from None
    Zone.objects.filter(pk=zone.pk).update(**{name: getattr(zone, name) for name in fields})


def check_zone_rules(
    zone: Zone,
    edits: list[RRsetEdit],
    read: Locked | None = None,
    before: Mapping[tuple[str, str], tuple[RecordData, ...]] | None = None,
) -> None:
    """Check that the whole resulting zone obeys the rules: CNAME alone, delegations, one TTL.
    ``read``: rows the caller read under the lock, which spare reading the nearby ones.
    ``before``: the edited RRsets as they were; when each was there and stays (its records
    change), the zone keeps the RRsets it had where it had them, and only their TTLs are to
    be checked (an RFC 2136 update replacing a TXT record, say)."""
    if not edits:
        return
    origin = zone.name
    same_rrsets = before is not None and all(
        bool(edit.records) == bool(before[edit.key]) for edit in edits
    )
    if same_rrsets:
        keys = set()
    else:
        keys = zone.rrset_keys() if makes_a_cut(edits) else nearby_keys(zone, edits, read)
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
    if same_rrsets:
        return
    try:
        rules.check_zone_data(origin, keys)
    except rules.RecordError as error:
        raise ChangeError(str(error), error.field) from None
    if rules.RecordKey(origin, dns.rdatatype.NS) not in keys:
        # RFC 1034 §4.2.1: a zone is served with the NS RRset at its apex.
        raise ChangeError("The zone needs NS records at its apex (@).", "rdtype", ("@", "NS"))


def makes_a_cut(edits: list[RRsetEdit]) -> bool:
    """Tell whether an edit may put a delegation above names it does not touch."""
    return any(edit.rdtype == "NS" and edit.owner != "@" and edit.records for edit in edits)


def nearby_keys(
    zone: Zone, edits: list[RRsetEdit], read: Locked | None = None
) -> set[rules.RecordKey]:
    """The RRsets the rules can find broken by edits that make no cut: those at the edited
    names and above them up to the apex (delegations), the rest of the zone being as valid as
    it was. Reading only these keeps an edit (an RFC 2136 update) cheap in a large zone; the
    names whose rows the caller read already (``read``) are not read again."""
    origin = zone.name
    owners = {"@"}
    for edit in edits:
        name = rules.parse_owner(edit.owner, origin)
        while name != origin:
            owners.add(rules.relative_owner(name, origin))
            name = name.parent()
    rows: set[tuple[str, str]] = set()
    if read is not None:
        rows = {key for key, found in read.rows.items() if key[0] in owners and found}
        owners -= read.owners
    rows |= {(row.owner, row.rdtype) for row in stored_records(zone.pk, owners)}
    return {
        rules.RecordKey(rules.parse_owner(owner, origin), dns.rdatatype.from_text(rdtype))
        for owner, rdtype in rows
    }


def rdtype_of(edit: RRsetEdit) -> int:
    return dns.rdatatype.from_text(edit.rdtype)


def write_rrsets(
    zone: Zone,
    edits: list[RRsetEdit],
    rows: dict[tuple[str, str], list[Record | StoredRecord]],
    wires: Wires,
) -> None:
    """Write the new RRsets, keeping the rows of unchanged records (their ids stay valid)."""
    now = timezone.now()
    created: list[tuple] = []
    spare: list[int] = []
    for edit in edits:
        new, unused = write_rrset(zone, edit, rows.get(edit.key, []), wires, now)
        created += new
        spare += unused
    if spare:
        delete_rows(Record, spare)
    if created:
        insert_rows(Record, RECORD_COLUMNS, created, None)


def write_rrset(
    zone: Zone,
    edit: RRsetEdit,
    current: list[Record | StoredRecord],
    wires: Wires,
    now: datetime.datetime,
) -> tuple[list[tuple], list[int]]:
    """Update this RRset's rows in place; return the rows to create (RECORD_COLUMNS' values)
    and the ids to delete.

    A replaced record reuses the row of one that went, so editing a record keeps
    its id (links to it stay valid) and unchanged records are not touched.
    """
    rows = {row.rdata: row for row in current}
    wanted = {record.rdata: record for record in edit.records}
    spare = [row for rdata, row in rows.items() if rdata not in wanted]
    created = []
    for rdata, record in wanted.items():
        row = rows.get(rdata) or (spare.pop() if spare else None)
        wire = wires[(edit.owner, edit.rdtype, rdata)]
        if row is None:
            stamp = Record._meta.get_field("updated").get_db_prep_save(now, connection)
            created.append(
                (zone.pk, edit.owner, edit.rdtype, record.ttl, rdata, wire, record.enabled)
                + (record.comment, stamp, record_sort_key(edit.owner, edit.rdtype))
            )
        elif RecordData.from_record(row) != record:
            update_row(
                Record, row.pk, rdata=rdata, wire=wire, ttl=record.ttl, enabled=record.enabled,
                comment=record.comment, updated=now,
            )  # fmt: skip
    return created, [row.pk for row in spare]


def record_history(
    zone: Zone,
    edits: list[RRsetEdit],
    before: dict[tuple[str, str], tuple[RecordData, ...]],
    altered: list[SettingChange],
    by: Author,
    summary: str,
    reverts: ZoneChange | None,
    serial: int | None = None,
    *,
    ring: bool = True,
) -> ZoneChange:
    """Bump the serial once (or set it to ``serial``, a transfer's) and write the history
    entry; the new serial rings the workers (unless told not to)."""
    serial_before = zone.serial
    # As Zone.bump_serial, from the serial read under the lock the caller holds.
    zone.serial = next_serial(zone.serial, timezone.now().date()) if serial is None else serial
    zone.updated = timezone.now()
    update_row(Zone, zone.pk, serial=zone.serial, updated=zone.updated)
    if ring:
        zone.announce_change()
    change = ZoneChange(
        zone=zone,
        origin=zone.origin,
        **by.fields(),
        summary=(summary or describe(edits, before, altered))[:255],
        serial_before=serial_before,
        serial_after=zone.serial,
        reverts=reverts,
    )
    insert_new(change)
    rrsets = ((e.owner, e.rdtype, before[e.key], e.records) for e in edits)
    insert_history(change, rrsets)
    return change


def insert_history(
    change: ZoneChange,
    rrsets: Iterable[tuple[str, str, Iterable, Iterable]],
    written: Callable[[int], None] | None = None,
) -> None:
    """Write a change's RRset rows in bulk: (owner, type, records before, records after),
    each side RecordData or already the JSON text the history stores of it (incoming_json's)."""
    adapt = json_parameter()
    empty = adapt("[]")

    def stored(records: Iterable[RecordData] | str) -> object:
        if isinstance(records, str):
            return empty if records == "[]" else adapt(records)
        text = ", ".join(map(record_json, records))
        return adapt(f"[{text}]") if text else empty

    pk = change.pk
    rows = ((pk, owner, rdtype, stored(old), stored(new)) for owner, rdtype, old, new in rrsets)
    insert_rows(RRsetChange, ("change", "owner", "rdtype", "before", "after"), rows, written)


def record_json(record: RecordData) -> str:
    """Return json.dumps of the record's as_dict, written directly: a fifth of the cost,
    and a big import writes 100,000 of them."""
    return history_json(record.rdata, record.ttl, record.enabled, record.comment)


def history_json(rdata: str, ttl: int | None, enabled: bool = True, comment: str = "") -> str:
    """Write a record as json.dumps writes RecordData(...).as_dict() (the same keys in the
    same order, its separators, its ASCII escapes)."""
    return (
        f'{{"rdata": {quote_json(rdata)}, "ttl": {"null" if ttl is None else int(ttl)}, '
        f'"enabled": {"true" if enabled else "false"}, "comment": {quote_json(comment)}}}'
    )


def json_parameter() -> Callable[[str], object]:
    """Return how this database takes a JSON field's value already encoded: as the text
    (what adapt_json_value makes of a value), or on PostgreSQL wrapped in psycopg's Jsonb,
    as adapt_json_value wraps it, with a dumps that leaves the text as it is."""
    if database().vendor != "postgresql":
        return str
    from psycopg.types.json import Jsonb

    return lambda text: Jsonb(text, dumps=str)


# Values per INSERT statement of a bulk write, within every database's parameter limit
# (SQLite's before 3.32: 999), and statements per executemany (a batch told to a Progress).
INSERT_VALUES = 999
INSERT_STATEMENTS = 50


def database():
    """Return the default database's connection itself: each use of django.db.connection, a
    proxy, looks it up in the thread's local storage again (some thirty times an update)."""
    return connections[DEFAULT_DB_ALIAS]


# Plain statements for the rows every change writes (the zone's serial, its history entry,
# a record or two): the ORM's building of each costs ten times the statement's run.


def update_row(model, pk: int, **values: object) -> None:
    """Set the fields named of one row, the values prepared as the ORM prepares them."""
    fields = model_fields(model, tuple(values))
    db = database()
    prepared = [f.get_db_prep_save(v, db) for f, v in zip(fields, values.values(), strict=True)]
    with db.cursor() as cursor:
        cursor.execute(update_sql(model, tuple(values), db.vendor), [*prepared, pk])


@functools.lru_cache(maxsize=64)
def model_fields(model, names: tuple[str, ...]) -> list:
    return [model._meta.get_field(name) for name in names]


@functools.lru_cache(maxsize=64)
def update_sql(model, names: tuple[str, ...], vendor: str) -> str:
    quote, meta = connection.ops.quote_name, model._meta
    columns = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in names)
    return f"UPDATE {quote(meta.db_table)} SET {columns} WHERE {quote(meta.pk.column)} = %s"


def delete_rows(model, pks: list[int]) -> None:
    """Delete rows by id (of a model nothing refers to, which the ORM deletes the same way)."""
    quote, meta = connection.ops.quote_name, model._meta
    with connection.cursor() as cursor:
        for start in range(0, len(pks), 500):  # within every database's parameter limit
            chunk = pks[start : start + 500]
            cursor.execute(
                f"DELETE FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} "
                f"IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            )


def insert_new(instance) -> None:
    """Write a new instance's row, as save() would (its fields' pre_save, their database
    form), and set its id from the INSERT's RETURNING clause (SQLite 3.35+, PostgreSQL)."""
    meta = type(instance)._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    db = database()
    values = [field.get_db_prep_save(field.pre_save(instance, True), db) for field in fields]
    with db.cursor() as cursor:
        cursor.execute(insert_sql(type(instance), db.vendor), values)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding, instance._state.db = False, db.alias


@functools.lru_cache(maxsize=16)
def insert_sql(model, vendor: str) -> str:
    quote, meta = connection.ops.quote_name, model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    return (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(meta.pk.column)}"
    )


def insert_rows(
    model, names: tuple[str, ...], rows: Iterable[tuple], written: Callable[[int], None] | None
) -> None:
    """Insert rows of values already in database form, as many to a statement as the
    parameter limit allows (a statement a row costs SQLite a quarter more), a batch of
    statements per executemany: the ORM's bulk_create prepares each value of each row
    again, which costs seconds at 100,000 rows."""
    per_statement = max(1, INSERT_VALUES // len(names))
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == per_statement * INSERT_STATEMENTS:
            insert_batch(model, names, batch, per_statement, written)
            batch = []
    if batch:
        insert_batch(model, names, batch, per_statement, written)


def insert_batch(
    model,
    names: tuple[str, ...],
    batch: list[tuple],
    per_statement: int,
    written: Callable[[int], None] | None,
) -> None:
    """Insert a batch of rows, per_statement to a statement (the last one may take fewer)."""
    db = database()
    whole = len(batch) - len(batch) % per_statement
    with db.cursor() as cursor:
        if whole:
            sql = insert_rows_sql(model, names, per_statement, db.vendor)
            values = [
                [*itertools.chain.from_iterable(batch[start : start + per_statement])]
                for start in range(0, whole, per_statement)
            ]
            cursor.executemany(sql, values)
        if whole < len(batch):
            sql = insert_rows_sql(model, names, len(batch) - whole, db.vendor)
            cursor.execute(sql, [*itertools.chain.from_iterable(batch[whole:])])
    if written is not None:
        written(len(batch))


@functools.lru_cache(maxsize=256)  # a statement for each count of rows up to per_statement
def insert_rows_sql(model, names: tuple[str, ...], rows: int, vendor: str) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in names)
    row = f"({', '.join(['%s'] * len(names))})"
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)}"


def describe(
    edits: list[RRsetEdit],
    before: dict[tuple[str, str], tuple[RecordData, ...]],
    altered: list[SettingChange] = (),
) -> str:
    """Say what a change did, as the history says it: "Added mail A, changed www A".

    Settings come first: "Settings: refresh 7200 → 7300; …".
    """
    parts = []
    if altered:
        parts.append("Settings: " + "; ".join(map(str, altered)))
    if edits:
        names = [
            f"{rrset_action(before[edit.key], edit.records)} {edit.owner} {edit.rdtype}"
            for edit in edits[:5]
        ]
        more = f" and {len(edits) - 5} more" if len(edits) > 5 else ""
        text = ", ".join(names) + more
        parts.append(text[:1].upper() + text[1:])
    return "; ".join(parts)


def change_settings(
    zone: Zone, settings: Mapping[str, object], user=None, *, source: str = "settings", via=""
) -> ZoneChange | None:
    """Change the zone's own settings (the SOA, ACLs); one serial bump and a history entry."""
    return apply_changes(zone, [], user, source=source, via=via, settings=settings)


def add_record(
    zone: Zone,
    owner: str,
    rdtype: str,
    rdata: str,
    ttl: int | None = None,
    user=None,
    *,
    source: str = "web",
) -> ZoneChange | None:
    """Add one record to its RRset as the editor does: one change, one serial bump."""
    batch = plan_record_change(zone, {}, new=(owner, rdtype, RecordData(rdata, ttl)))
    return apply_changes(zone, batch.values(), user, source=source)


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


def save_new_zone(zone: Zone) -> None:
    """Check a new zone's fields and save its row, or raise ChangeError naming the field."""
    try:
        zone.full_clean()
    except ValidationError as error:
        name, messages = next(iter(error.message_dict.items()))
        raise ChangeError(" ".join(messages), name) from None
    zone.save()


def create_zone(
    zone: Zone,
    user=None,
    *,
    source: str = "web",
    via: str = "",
    edits: Iterable[RRsetEdit] | None = None,
    parsed: Wires | None = None,
) -> Zone:
    """Save a new zone with its first RRsets, by default an apex NS naming the primary.

    The zone row and its data are one change: a zone that breaks a rule is not created.
    """
    if edits is None:
        edits = [RRsetEdit("@", "NS", (RecordData(zone.primary_ns),), expected=fingerprint(()))]
    with transaction.atomic():
        save_new_zone(zone)
        apply_changes(
            zone, edits, user, source=source, via=via, summary=ZONE_CREATED, parsed=parsed
        )
    return zone


def delete_zone(zone: Zone, user=None, *, source: str = "web", via: str = "") -> ZoneChange:
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
            **Author(user, source, via).fields(),
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
        # Adding to an RRset its author saw (a TTL change confirmed) is checked like an edit.
        edit = base_edit(zone, result, key, shown if old is None else None)
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
    """Put a batch in a form the session (JSON) can keep."""
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
    """Return the TTL a whole RRset takes when one record is added or edited (RFC 2181 §5.2).

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


def plan_import(
    zone: Zone, parsed: ParsedZone, *, replace_all: bool, default_ttl: int | None = None
) -> ImportPlan:
    """Plan what importing ``parsed`` would add, change and remove.

    Merge touches only the RRsets in the file; replace also removes every other
    one. ``default_ttl`` is the zone's default TTL once imported (a zone file
    sets it; a page's import keeps the zone's), and the SOA is not planned here:
    it is a setting (see ``import_zone``).
    """
    if parsed.origin != zone.name:
        raise ChangeError(f"The file is for {parsed.origin}, not for {zone.origin}", "text")
    default_ttl = zone.default_ttl if default_ttl is None else default_ttl
    # The records of the file and of the zone are all kept: no collector passes over them,
    # which would cost seconds at 100,000 records.
    with collector_paused():
        incoming = incoming_rrsets(parsed, default_ttl)
        current = current_rrsets(zone)
        planned = [
            PlannedRRset(*key, tuple(current.get(key, ())), after)
            for key, after in incoming.items()
            if served(current.get(key, []), zone.default_ttl) != served(after, default_ttl)
        ]
        if replace_all:
            planned += [
                PlannedRRset(*k, tuple(v), ()) for k, v in current.items() if k not in incoming
            ]
    planned.sort(key=lambda p: record_sort_key(p.owner, p.rdtype))
    return ImportPlan(planned, zone_fingerprint(zone))


def current_rrsets(zone: Zone) -> dict[tuple[str, str], list[RecordData]]:
    """Read the zone's records by RRset, in rdata order, as values rather than model
    instances: a tenth of the cost for a big zone."""
    current: dict[tuple[str, str], list[RecordData]] = {}
    rows = zone.records.order_by("rdata").values_list(
        "owner", "rdtype", "rdata", "ttl", "enabled", "comment"
    )
    for owner, rdtype, *record in rows.iterator(chunk_size=5000):
        current.setdefault((owner, rdtype), []).append(RecordData(*record))
    return current


def incoming_rrsets(
    parsed: ParsedZone, default_ttl: int
) -> dict[tuple[str, str], tuple[RecordData, ...]]:
    """Group a file's records by RRset; a TTL equal to the default is stored as the default."""
    incoming: dict[tuple[str, str], list[RecordData]] = defaultdict(list)
    for r in parsed.records:
        ttl = None if r.ttl == default_ttl else r.ttl
        incoming[(r.owner, r.rdtype)].append(RecordData(r.rdata, ttl))
    return {key: tuple(records) for key, records in incoming.items()}


def served(records: Iterable[RecordData], default_ttl: int) -> set[tuple[int, str]]:
    """Return an RRset as served: only enabled records, with TTLs spelled out, as in a file."""
    return {(default_ttl if r.ttl is None else r.ttl, r.rdata) for r in records if r.enabled}


IMPORT_MODES = ("create", "replace", "merge")


def zone_file_settings(parsed: ParsedZone) -> dict[str, object]:
    """Return the zone settings a zone file carries: its SOA fields and its default TTL."""
    soa = parsed.soa
    return {
        "primary_ns": soa.mname.to_text(),
        "contact": soa.rname.to_text(),
        "refresh": soa.refresh,
        "retry": soa.retry,
        "expire": soa.expire,
        "minimum": soa.minimum,
        "default_ttl": parsed.soa_ttl,
        "serial": soa.serial,
    }


def import_zone(
    parsed: ParsedZone,
    *,
    mode: str = "create",
    user=None,
    source: str = "loadzone",
    via: str = "",
    progress: Progress | None = None,
) -> tuple[Zone, ZoneChange | None]:
    """Import a whole zone file, SOA included: a new zone, or a replace or merge of one.

    One change in the history, attributed to ``user``/``source``/``via`` (the
    file); the serial moves past both the file's and the zone's. Raise
    ChangeError when the zone exists and ``mode`` is "create", or the data
    breaks a rule; nothing is written then. ``progress`` hears how many rows are written.
    """
    origin = parsed.origin.to_text().lower()
    settings = zone_file_settings(parsed)
    where = f" ({via})" if via else ""
    zone = Zone.objects.filter(origin=origin).first()
    if zone is None and parsed.checked:
        return create_zone_from_file(parsed, Author(user, source, via), progress)
    wires = {(r.owner, r.rdtype, r.rdata): r.wire for r in parsed.records}
    if zone is None:
        zone = Zone(origin=origin, **settings)
        edits = [
            RRsetEdit(*key, records, expected=fingerprint(()))
            for key, records in incoming_rrsets(parsed, parsed.soa_ttl).items()
        ]
        create_zone(zone, user, source=source, via=via, edits=edits, parsed=wires)
        return zone, zone.changes.first()
    if mode == "create":
        raise ChangeError(
            f"The zone {origin} exists already; replace or merge it to import over it."
        )
    plan = plan_import(zone, parsed, replace_all=mode == "replace", default_ttl=parsed.soa_ttl)
    if parsed.checked and len(plan.rrsets) > BULK_RRSETS:
        by, summary = Author(user, source, via), f"Loaded{where} ({mode}): {plan.summary}"
        return zone, apply_import(zone, plan, parsed, by, summary, settings, progress)
    change = apply_changes(
        zone,
        plan.edits(),
        user,
        source=source,
        via=via,
        summary=f"Loaded{where} ({mode}): {plan.summary}",
        expected_zone=plan.expected_zone,
        settings=settings,
        parsed=wires,
    )
    return zone, change


# Told (rows written, rows to write) as a bulk import goes.
Progress = Callable[[int, int], None]
# Past this many RRsets, an import into an existing zone is written in bulk (apply_import).
BULK_RRSETS = 1000


def apply_import(
    zone: Zone,
    plan: ImportPlan,
    parsed: ParsedZone,
    by: Author,
    summary: str,
    settings: Mapping[str, object] | None = None,
    progress: Progress | None = None,
) -> ZoneChange | None:
    """Apply a big import plan (plan_import's, of a file parse_zone_text checked) in bulk:
    what apply_changes does with plan.edits() and expected_zone (the zone's lock, the
    fingerprint, the rules, one serial move, one history entry, the ring), in one
    transaction, without parsing every record and name again. The rows of each RRset the
    plan changes are written anew (apply_changes keeps those of unchanged records)."""
    wires = {(r.owner, r.rdtype, r.rdata): r.wire for r in parsed.records}
    rows = sum(len(p.after) for p in plan.rrsets)
    counter = Counter(rows + len(plan.rrsets), progress)
    with transaction.atomic(), collector_paused():
        locked = Zone.objects.select_for_update().get(pk=zone.pk)
        exact = held_serial(locked, plan.edits(), settings or {}, by)
        if zone_fingerprint(locked) != plan.expected_zone:
            raise ConflictError(whole_zone=True)
        altered = setting_changes(locked, settings or {})
        floor = serial_floor(locked, settings or {})
        if not plan.rrsets and not altered and floor is None:
            return None
        apply_settings(locked, altered, floor if exact is None else None)
        check_import_rules(locked, plan)
        replace_rows(locked, plan, wires, counter.written)
        change = record_history(locked, [], {}, altered, by, summary, None, exact)
        rrsets = ((p.owner, p.rdtype, p.before, p.after) for p in plan.rrsets)
        insert_history(change, rrsets, counter.written)
    for column in Zone._meta.concrete_fields:  # as apply_changes leaves it
        setattr(zone, column.attname, getattr(locked, column.attname))
    return change


@dataclass
class Counter:
    """Rows written so far of a bulk write, told to a Progress."""

    total: int
    progress: Progress | None
    done: int = 0

    def written(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)


def check_import_rules(zone: Zone, plan: ImportPlan) -> None:
    """Check the zone as the plan leaves it: one TTL per RRset, NS at the apex, the zone
    rules (on owner text; should that find a fault, check_zone_rules names it)."""
    keys = set(zone.records.values_list("owner", "rdtype").distinct())
    for p in plan.rrsets:
        keys.discard((p.owner, p.rdtype))
        if p.after:
            keys.add((p.owner, p.rdtype))
        ttls = {zone.default_ttl if r.ttl is None else r.ttl for r in p.after}
        if len(ttls) > 1:
            raise ChangeError(
                f"{p.owner} {p.rdtype} has several TTLs ({', '.join(map(str, sorted(ttls)))}); "
                "an RRset has one.",
                "ttl",
                (p.owner, p.rdtype),
            )
    if ("@", "NS") not in keys:
        raise ChangeError("The zone needs NS records at its apex (@).", "rdtype", ("@", "NS"))
    if not keys_obey_rules(keys):
        check_zone_rules(zone, plan.edits())


def replace_rows(
    zone: Zone, plan: ImportPlan, wires: Wires, written: Callable[[int], None]
) -> None:
    """Delete the rows of the RRsets the plan changes and write their new ones in bulk."""
    keys = {(p.owner, p.rdtype) for p in plan.rrsets}
    rows = zone.records.values_list("id", "owner", "rdtype")
    gone = [pk for pk, owner, rdtype in rows.iterator(chunk_size=5000) if (owner, rdtype) in keys]
    for start in range(0, len(gone), 500):  # within every database's parameter limit
        zone.records.filter(pk__in=gone[start : start + 500]).delete()
    now = Record._meta.get_field("updated").get_db_prep_save(timezone.now(), connection)
    new = (
        (
            zone.pk,
            p.owner,
            p.rdtype,
            r.ttl,
            r.rdata,
            wires[(p.owner, p.rdtype, r.rdata)],
            r.enabled,
            r.comment,
            now,
            record_sort_key(p.owner, p.rdtype),
        )
        for p in plan.rrsets
        for r in p.after
    )
    insert_rows(Record, RECORD_COLUMNS, new, written)


def create_zone_from_file(
    parsed: ParsedZone, by: Author, progress: Progress | None = None
) -> tuple[Zone, ZoneChange]:
    """Create a zone holding a zone file's data as parse_zone_text checked it (canonical
    records, the zone rules, one TTL per RRset), written in bulk: what create_zone writes
    (the zone, its rows, one history entry with its RRsets, the serial moved once, the
    workers rung), in one transaction, without reading or checking it all again."""
    zone = Zone(origin=parsed.origin.to_text().lower(), **zone_file_settings(parsed))
    with collector_paused():
        rrsets = incoming_json(parsed)
    if ("@", "NS") not in rrsets:
        raise ChangeError("The zone needs NS records at its apex (@).", "rdtype", ("@", "NS"))
    counter = Counter(len(parsed.records) + len(rrsets), progress)  # records, history rows
    written = counter.written
    with transaction.atomic(), collector_paused():
        save_new_zone(zone)
        insert_records(zone, parsed, written)
        change = record_history(zone, [], {}, [], by, ZONE_CREATED, None)
        insert_history(change, ((*key, "[]", after) for key, after in rrsets.items()), written)
    return zone, change


def incoming_json(parsed: ParsedZone) -> dict[tuple[str, str], str]:
    """Return the JSON text the history stores of each RRset of a file: its records as
    record_json writes incoming_rrsets' (without making each a RecordData first), in a list."""
    default_ttl = parsed.soa_ttl
    incoming: dict[tuple[str, str], list[str]] = {}
    for r in parsed.records:
        text = history_json(r.rdata, None if r.ttl == default_ttl else r.ttl)
        key = (r.owner, r.rdtype)
        found = incoming.get(key)
        if found is None:  # most RRsets hold one record: no list made empty first
            incoming[key] = [text]
        else:
            found.append(text)
    return {key: f"[{', '.join(texts)}]" for key, texts in incoming.items()}


def insert_records(zone: Zone, parsed: ParsedZone, written: Callable[[int], None]) -> None:
    """Write the rows of a checked zone file's records in bulk (a TTL equal to the file's
    default is stored as the default, as incoming_rrsets has it)."""
    now = Record._meta.get_field("updated").get_db_prep_save(timezone.now(), connection)
    default_ttl, pk = parsed.soa_ttl, zone.pk  # pk: a property, read once, not per row
    rows = (
        (
            pk,
            r.owner,
            r.rdtype,
            None if r.ttl == default_ttl else r.ttl,
            r.rdata,
            r.wire,
            True,
            "",
            now,
            record_sort_key(r.owner, r.rdtype),
        )
        for r in parsed.records
    )
    insert_rows(Record, RECORD_COLUMNS, rows, written)


# The columns bulk writes fill, in this order.
RECORD_COLUMNS = (
    *("zone", "owner", "rdtype", "ttl", "rdata", "wire", "enabled", "comment", "updated"),
    "sort_key",
)


def sort_key(origin: dns.name.Name, owner: str, rdtype: str) -> tuple[dns.name.Name, int]:
    """Zone-file order: DNS canonical name order (RFC 4034 §6.1), so the apex first, then type."""
    return dns.name.from_text(owner, origin=origin), dns.rdatatype.from_text(rdtype)


@dataclass(frozen=True)
class RecordRow:
    """A record as the zone page lists it, with the fingerprint of its RRset."""

    record: Record
    fingerprint: str


def zone_rows(zone: Zone, name: str = "", rdtype: str = "") -> list[RecordRow]:
    """List the zone's records in zone-file order, filtered by a name pattern and a type."""
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
    """Turn a name filter into a glob on stored (relative) owners; relativise absolute names."""
    pattern = text.strip().lower()
    if pattern in (zone.origin, zone.origin.rstrip(".")):
        return "@"
    suffix = "." + zone.origin
    if pattern.endswith(suffix):
        return pattern.removesuffix(suffix)
    return pattern.removesuffix(suffix.rstrip("."))


def record_signing_change(zone: Zone, summary: str, user=None, *, via: str = "") -> ZoneChange:
    """Record a change of the zone's DNSSEC keys or signing period (dnsadmin/dnssec.py): the
    signed zone changes though no record does, so the serial moves once, as for any change.
    Call inside the transaction that changes the keys."""
    locked = Zone.objects.select_for_update().get(pk=zone.pk)
    change = record_history(locked, [], {}, [], Author(user, "dnssec", via), summary, None)
    zone.serial = locked.serial
    return change

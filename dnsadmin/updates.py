"""Dynamic updates and TSIG keys on the Django side: keys sealed at rest, update policies, and
an UPDATE applied through the one writer, its prerequisites read under the zone's lock.

The engine (names/update.py, names/tsig.py) decides; this module reads the rows it decides
on and writes the result with changes.apply_changes, in one transaction, so an update is
acknowledged only once committed. SignedMessages is what rundns hands the listeners for
UPDATEs and TSIG-signed messages, which never take the memoised fast path.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.tsig
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from appliance.vault import seal, unseal
from dnsadmin import rules, secondary
from dnsadmin.changes import (
    ChangeError,
    ConflictError,
    Locked,
    RecordData,
    RRsetEdit,
    StoredRecord,
    Wires,
    apply_changes,
    database,
    stored_records,
)
from dnsadmin.models import SecondaryZone, TsigKey, UpdateRule, Zone, ZoneChange
from dnsadmin.names import transfer, tsig, update, wire
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import ResolverChain

log = logging.getLogger(__name__)


# keys ---------------------------------------------------------------------------------


def add_key(name: str, algorithm: str = "hmac-sha256") -> tuple[TsigKey, str]:
    """Make a key; return it and its BIND key clause, the only time the secret is readable."""
    text = tsig.key_name(name).to_text()
    secret = tsig.new_secret(algorithm)
    with transaction.atomic():  # a duplicate name must not spoil the caller's transaction
        key = TsigKey.objects.create(name=text, algorithm=algorithm, sealed_secret=seal(secret))
    return key, tsig.key_clause(text, algorithm, secret)


def keyring() -> dict[dns.name.Name, dns.tsig.Key]:
    """Return every key, unsealed, by name."""
    keys = TsigKey.objects.values_list("name", "algorithm", "sealed_secret")
    return {
        tsig.key_name(name): tsig.make_key(name, unseal(sealed), algorithm)
        for name, algorithm, sealed in keys
    }


USE_NOTED_EVERY = datetime.timedelta(minutes=1)  # a key's last use, to the minute
# How long a key read from the database is used without reading it again: a key removed or
# replaced from the web or the command line stops working within this, as other changes reach
# the workers within their reconcile period.
KEY_KEPT_FOR = 1.0


@dataclass
class _Kept:
    key: dns.tsig.Key
    sealed: str
    last_used: datetime.datetime | None
    read: float


class StoredKeys:
    """The keyring, read from the database one key at a time (a message names one key) and
    kept for KEY_KEPT_FOR seconds, so that a burst of updates reads it once; each key's last
    use is noted at most once a minute, so that the burst does not write it every time."""

    def __init__(self) -> None:
        self.kept: dict[dns.name.Name, _Kept] = {}

    def get(self, name: dns.name.Name) -> dns.tsig.Key | None:
        kept = self.kept.get(name)
        if kept is not None and time.monotonic() - kept.read < KEY_KEPT_FOR:
            return kept.key
        row = (
            TsigKey.objects.filter(name=name.to_text().lower())
            .values_list("name", "algorithm", "sealed_secret", "last_used")
            .first()
        )
        if row is None:
            self.kept.pop(name, None)
            return None
        if kept is None or kept.sealed != row[2]:  # unsealing costs more than the query
            kept = _Kept(tsig.make_key(row[0], unseal(row[2]), row[1]), row[2], row[3], 0.0)
        kept.read, kept.last_used = time.monotonic(), row[3]
        self.kept[name] = kept
        return kept.key

    def note_use(self, name: dns.name.Name) -> None:
        now = timezone.now()
        kept = self.kept.get(name)
        last = kept.last_used if kept is not None else None
        if last is None or now - last >= USE_NOTED_EVERY:
            TsigKey.objects.filter(name=name.to_text().lower()).update(last_used=now)
            if kept is not None:
                kept.last_used = now


def note_used(names: Iterable[str]) -> None:
    """Note that the keys named signed a zone transfer or a NOTIFY now, to the minute as
    StoredKeys.note_use does: one UPDATE, which writes only the keys not noted within
    USE_NOTED_EVERY (callers note a transfer once, not each of its messages)."""
    now = timezone.now()
    wanted = {tsig.key_name(name).to_text().lower() for name in names}
    stale = Q(last_used__isnull=True) | Q(last_used__lte=now - USE_NOTED_EVERY)
    TsigKey.objects.filter(stale, name__in=wanted).update(last_used=now)


# the policy ---------------------------------------------------------------------------


def add_rule(
    zone: Zone, key: TsigKey, rule_type: str, name: str = "", types: Iterable[str] = (),
    *, grant: bool = True,
) -> UpdateRule:  # fmt: skip
    """Append a grant or deny to the zone's policy; ValueError says what is wrong."""
    if rule_type not in update.RULE_TYPES:
        raise ValueError(f"rule type must be one of {', '.join(update.RULE_TYPES)}")
    needs_name = rule_type in ("name", "subdomain", "wildcard")
    if needs_name != bool(name):
        raise ValueError(f"a {rule_type} rule {'needs' if needs_name else 'takes no'} name")
    if name:
        try:
            absolute = rules.typed_name(name, zone.name, literal_dotted=False)
        except rules.RecordError as error:
            raise ValueError(str(error)) from None
        if rule_type == "wildcard" and not absolute.is_wild():
            raise ValueError("a wildcard rule's name starts with *.")
        name = absolute.to_text().lower()
    codes = [parse_rule_type(t) for t in types]
    position = (
        zone.update_rules.order_by("-position").values_list("position", flat=True).first() or 0
    ) + 1
    return UpdateRule.objects.create(
        zone=zone, key=key, rule_type=rule_type, name=name, grant=grant, position=position,
        types=" ".join(dns.rdatatype.to_text(c) for c in codes),
    )  # fmt: skip


@functools.lru_cache(maxsize=1024)
def rule_of(grant: bool, key: str, rule_type: str, name: str, types: str) -> update.Rule:
    """The engine's rule for a row (kept: parsing names and types costs more than the query)."""
    return update.Rule(
        grant,
        update.hashed(tsig.key_name(key)),
        rule_type,
        update.hashed(dns.name.from_text(name)) if name else None,
        frozenset(dns.rdatatype.from_text(t) for t in types.split()),
    )  # fmt: skip


# an update ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    """What an accepted update changed in the zone's served data, for the worker that applied
    it to patch the zone it serves without reading it back: the RRsets rewritten (owner as
    stored, type) and their records now, as snapshot.refresh_zone reads them from rows."""

    origin: str
    serial_before: int
    version: tuple[int, float]  # (serial, last change), as snapshot.zone_versions reads it
    rrsets: list[tuple[str, int]]
    records: list[tuple[str, int, int, bytes]]


def apply_update(request: update.Update, signer: dns.name.Name | None) -> int:
    """Apply an UPDATE to the zone it names; return the rcode to answer with."""
    return update_zone(request, signer)[0]


def update_zone(
    request: update.Update, signer: dns.name.Name | None, *, ring: bool = True
) -> tuple[int, Applied | None]:
    """Apply an UPDATE to the zone it names; return the rcode and, when it changed records
    only (not the SOA), what it changed. ``ring``: as apply_changes'."""
    with transaction.atomic():
        zone, rules_ = locked_zone(request.zone.to_text().lower())
        if zone is None or not zone.enabled or zone.is_secondary:
            return dns.rcode.NOTAUTH, None
        if not rules_:
            return dns.rcode.REFUSED, None  # no update-policy: BIND refuses every update
        data, read = zone_data(zone, request.names)
        try:
            changed = update.evaluate(request, data, rules_, signer)
            serial = zone.serial
            applied = None
            if changed and write(zone, changed, read, signer, ring=ring):
                applied = applied_of(zone, serial, changed)
        except update.UpdateError as error:
            log.info(
                "update of %s by %s: %s (%s)", zone, signer, error, dns.rcode.to_text(error.rcode)
            )
            return error.rcode, None
        except (ChangeError, ConflictError) as error:
            log.warning("update of %s by %s breaks the zone rules: %s", zone, signer, error)
            return dns.rcode.REFUSED, None
    return dns.rcode.NOERROR, applied


def applied_of(zone: Zone, serial_before: int, changed: dict) -> Applied | None:
    """What the written change leaves served (None when it moved the SOA: a setting)."""
    origin = update.hashed(zone.name)
    rrsets, records = [], []
    for (name, rdtype), (ttl, rdatas) in changed.items():
        if rdtype == dns.rdatatype.SOA:
            return None
        owner = owner_of(name, origin)
        rrsets.append((owner, rdtype))
        # As stored: the written rows' wire form is dnspython's of the same rdata.
        records += [(owner, ttl, rdtype, rdata.to_wire()) for rdata in rdatas]
    version = (zone.serial, zone.updated.timestamp())
    return Applied(zone.origin, serial_before, version, rrsets, records)


# What an update reads of the zone's row: the SOA, and what decides whether it is updated.
ZONE_READ = {"id", "origin", "enabled", "primary_ns", "contact", "serial", "refresh", "retry"}
ZONE_READ |= {"expire", "minimum", "default_ttl"}


def locked_zone(origin: str) -> tuple[Zone | None, list[update.Rule]]:
    """Read the zone's row under its lock (FOR UPDATE where the database has it; SQLite's
    write transaction holds the whole file), with ``is_secondary`` (transferred from a
    primary: its updates get NOTAUTH, as BIND answers them without update forwarding), and
    its update policy, the rules in order as the engine reads them (read for every update:
    they change from the web and the command line), in one plain query; the row's other
    fields are left deferred. (None, []) when there is no such zone."""
    db = database()
    with db.cursor() as cursor:
        cursor.execute(zone_select(db.vendor), [origin])
        rows = cursor.fetchall()
    if not rows:
        return None, []
    names = zone_fields()
    count = len(names)
    values = [bool(v) if name == "enabled" else v for name, v in zip(names, rows[0], strict=False)]
    zone = Zone.from_db(db.alias, names, values)
    zone.is_secondary = bool(rows[0][count])
    # One row per rule (the zone's columns repeated); a zone without rules has one, its
    # rule columns NULL.
    rules_ = [rule_of(bool(row[count + 1]), *row[count + 2 :]) for row in rows if row[count + 2]]
    return zone, rules_


@functools.cache
def zone_fields() -> list[str]:
    """ZONE_READ in the order of the model's fields (as Model.from_db takes them)."""
    return [f.attname for f in Zone._meta.concrete_fields if f.attname in ZONE_READ]


@functools.lru_cache(maxsize=4)
def zone_select(vendor: str) -> str:
    quote, zone, secondary = connection.ops.quote_name, Zone._meta, SecondaryZone._meta
    rules_, keys = UpdateRule._meta, TsigKey._meta

    def rule(name: str) -> str:
        return f"r.{quote(rules_.get_field(name).column)}"

    def key(name: str) -> str:
        return f"k.{quote(keys.get_field(name).column)}"

    columns = ", ".join(f"z.{quote(zone.get_field(name).column)}" for name in zone_fields())
    features = connection.features
    # Only the zone's row is locked (the rules' side of the join may be NULL).
    lock = " FOR UPDATE OF z" if features.has_select_for_update_of else ""
    lock = lock or (" FOR UPDATE" if features.has_select_for_update else "")
    return (
        f"SELECT {columns}, EXISTS (SELECT 1 FROM {quote(secondary.db_table)} s "
        f"WHERE s.{quote(secondary.get_field('zone').column)} = z.{quote(zone.pk.column)}), "
        f"{rule('grant')}, {key('name')}, {rule('rule_type')}, {rule('name')}, {rule('types')} "
        f"FROM {quote(zone.db_table)} z "
        f"LEFT JOIN {quote(rules_.db_table)} r ON {rule('zone')} = z.{quote(zone.pk.column)} "
        f"LEFT JOIN {quote(keys.db_table)} k ON {key('id')} = {rule('key')} "
        f"WHERE z.{quote(zone.get_field('origin').column)} = %s "
        f"ORDER BY {rule('position')}, {rule('id')}{lock}"
    )


Rows = dict[tuple[str, str], list[StoredRecord]]


def zone_data(zone: Zone, names: Iterable[dns.name.Name]) -> tuple[update.ZoneData, Locked]:
    """Read the records at names, and at the targets of their MX records and of the apex NS
    records, into the engine's form (enabled ones; the SOA from the zone's fields), and the
    rows read, for the write."""
    origin = update.hashed(zone.name)
    data = update.ZoneData(origin)
    data.add(origin, dns.rdatatype.SOA, zone.default_ttl, soa_of(zone))
    rows: Rows = {}
    named = {owner_of(n, origin): n for n in names if n.is_subdomain(origin)}
    # The targets read last time are mostly this time's: read in the same query (extra
    # names read change nothing), and only the ones missing after.
    guessed = {o: n for o, n in TARGETS_READ.get(zone.pk, {}).items() if o not in named}
    read_rows(zone, named | guessed, data, rows)
    found = {owner_of(name, origin): name for name in update.targets(data)}
    targets = {o: n for o, n in found.items() if o not in named}
    read_rows(zone, {o: n for o, n in targets.items() if o not in guessed}, data, rows)
    TARGETS_READ[zone.pk] = targets
    return data, Locked({*named, *guessed, *targets}, rows)


# The owners the last update of each zone read beyond its own names (by zone id): their
# names as stored, and as the engine has them.
TARGETS_READ: dict[int, dict[str, dns.name.Name]] = {}


def read_rows(
    zone: Zone, owners: dict[str, dns.name.Name], data: update.ZoneData, rows: Rows
) -> None:
    """Read every row at owners (their names as stored, and as the engine has them)."""
    if not owners:
        return
    default_ttl = zone.default_ttl
    for row in stored_records(zone.pk, owners):
        rows.setdefault((row.owner, row.rdtype), []).append(row)
        if row.enabled:
            rdtype = dns.rdatatype.from_text(row.rdtype)
            rdata = rdata_of(rdtype, row.wire)
            ttl = default_ttl if row.ttl is None else row.ttl
            data.add(owners[row.owner], rdtype, ttl, rdata)


# Kept across updates, which mostly read and write the same few names and records again
# (what they are made from cannot change: names and rdatas are immutable).
owner_of = functools.lru_cache(maxsize=4096)(rules.relative_owner)
name_of = functools.lru_cache(maxsize=256)(dns.name.from_text)


def rdata_of(rdtype: int, wire: bytes) -> dns.rdata.Rdata:
    """Decode a stored record (a name server's address, the record the last update added),
    kept with the records updates bring (the same object as the update's own)."""
    return update.rdata_of(dns.rdataclass.IN, rdtype, wire)


def soa_of(zone: Zone) -> dns.rdata.Rdata:
    """The zone's SOA record, as Zone.soa_rdata makes it, its names parsed once."""
    return dns.rdtypes.ANY.SOA.SOA(
        dns.rdataclass.IN, dns.rdatatype.SOA, name_of(zone.primary_ns), name_of(zone.contact),
        zone.serial, zone.refresh, zone.retry, zone.expire, zone.minimum,
    )  # fmt: skip


def write(
    zone: Zone, changed: dict, read: Locked, signer: dns.name.Name, *, ring: bool = True
) -> ZoneChange | None:
    """Write the changed RRsets (and SOA fields) as one change set attributed to the key,
    from the rows ``read`` under the zone's lock (not read again). Return the history entry,
    None when nothing changed after all."""
    origin = update.hashed(zone.name)
    settings: dict[str, object] = {}
    edits = []
    wires: Wires = {}  # of every record written, as dnspython has them already
    for (name, rdtype), (ttl, records) in changed.items():
        if rdtype == dns.rdatatype.SOA:
            settings = soa_settings(records[0])
            continue
        key = (owner_of(name, origin), dns.rdatatype.to_text(rdtype))
        new = new_records(key, read.rows.get(key, []), ttl, records, zone.default_ttl, wires)
        # No fingerprint to compare: the RRset was worked out from the rows read under the
        # lock that the write holds still.
        edits.append(RRsetEdit(*key, new))
    via = f"key {signer.to_text(omit_final_dot=True)}"
    # A new SOA is a setting, which the worker applying the update reloads when rung.
    return apply_changes(
        zone, edits, source="update", via=via, settings=settings, parsed=wires, locked=read,
        ring=ring or bool(settings),
    )  # fmt: skip


def new_records(
    key: tuple[str, str],
    current: list[StoredRecord],
    ttl: int,
    records: list,
    default_ttl: int,
    wires: Wires,
) -> tuple[RecordData, ...]:
    """The RRset's new records; unchanged ones keep their row (TTL spelling, comment), and
    disabled ones stay as they were. Their wire forms go into ``wires``."""
    kept = {row.rdata: row for row in current}
    result = []
    for rdata in records:
        text = rdata.to_text()
        old = kept.pop(text, None)
        if old is not None and old.enabled and (old.ttl or default_ttl) == ttl:
            result.append(RecordData.from_record(old))
            wires[(*key, text)] = old.wire
        else:
            result.append(RecordData(text, ttl))
            wires[(*key, text)] = rdata.to_wire()
    for row in kept.values():
        if not row.enabled:
            result.append(RecordData.from_record(row))
            wires[(*key, row.rdata)] = row.wire
    return tuple(result)


def soa_settings(soa) -> dict[str, object]:
    """The zone settings an updated SOA carries (its serial only ever moves forward)."""
    return {
        "primary_ns": soa.mname.to_text(), "contact": soa.rname.to_text(),
        "refresh": soa.refresh, "retry": soa.retry, "expire": soa.expire,
        "minimum": soa.minimum, "serial": soa.serial,
    }  # fmt: skip


def parse_rule_type(text: str) -> int:
    try:
        return dns.rdatatype.from_text(text.strip().upper())
    except dns.exception.DNSException:
        raise ValueError(f"unknown record type {text!r}") from None


# the listeners' side --------------------------------------------------------------------


def checked(query: bytes, keys, client: str) -> tsig.Verified | bytes | None:
    """Return the verified request, or the response to a malformed or badly signed one (a
    wrong or unknown key is logged and changes nothing)."""
    try:
        request = tsig.verify(query, keys)
    except dns.exception.DNSException:
        return tsig.formerr(query)
    if request.error:
        log.warning(
            "%s from %s signed with key %s: %s", request.message.opcode().name, client,
            request.key_text, tsig.ERRORS[request.error],
        )  # fmt: skip
        return tsig.error_response(request, dns.rcode.NOTAUTH)
    return request


def answer_update(
    query: bytes, client: str, keys: StoredKeys | None = None, ring: bool = True
) -> tuple[bytes | None, Applied | None]:
    """Answer an UPDATE from the keys to the committed write; return the response and what
    the update changed (None when it changed nothing or the SOA). ``ring``: as
    apply_changes' (a change of the SOA is rung all the same)."""
    keys = keys or StoredKeys()
    request = checked(query, keys, client)
    if not isinstance(request, tsig.Verified):
        return request, None
    signer = request.message.keyname if request.signed else None
    if signer is not None:
        keys.note_use(signer)
    applied = None
    try:
        parsed = update.parse(tsig.unsigned(query, request.tsig_start) if signer else query)
        rcode, applied = update_zone(parsed, signer, ring=ring)
    except update.UpdateError as error:
        rcode = error.rcode
    log.debug("update from %s by %s: %s", client, signer, dns.rcode.to_text(rcode))
    return tsig.error_response(request, rcode), applied


OnApplied = Callable[[Applied], Awaitable[None]]
UPDATE_THREADS = 2  # updates of different zones at once on PostgreSQL


def update_threads(vendor: str) -> int:
    """Return how many threads apply updates: one on SQLite, which writes one at a time, and
    where a write through one connection makes every other drop its page cache (one thread
    keeps one connection, whose cache stays warm from one update to the next)."""
    return 1 if vendor == "sqlite" else UPDATE_THREADS


def keeping_connection(function: Callable, *args):
    """Run function in an update thread, which keeps its SQLite connection open from one
    update to the next unless it failed (opening one costs a file open and two PRAGMAs, more
    than an update's reads); a PostgreSQL connection goes back to its pool, as Django's
    threads do with it: kept out of it, it would hold one of the pool's few connections
    for good and miss the health check that finds one the server dropped."""
    try:
        return function(*args)
    finally:
        db = database()
        if db.vendor != "sqlite":
            db.close()
        elif db.errors_occurred:  # as Django's close_if_unusable_or_obsolete
            if db.is_usable():
                db.errors_occurred = False
            else:
                db.close()


ZoneLocks = Callable[[str], contextlib.AbstractAsyncContextManager]


def reaches_other_processes() -> bool:
    """Tell whether the channel layer rings other processes (Redis's does); the in-memory
    one, the embedded default's, reaches this process only."""
    layer = get_channel_layer()
    return layer is not None and not isinstance(layer, InMemoryChannelLayer)


def zone_named(query: bytes) -> str | None:
    """Return the zone an UPDATE names, lower-cased, before it is checked; None if unreadable."""
    try:
        return wire.read_name(query, 12)[0].to_text().lower()
    except (IndexError, dns.exception.DNSException):
        return None


class SignedMessages:
    """Answers UPDATEs and TSIG-signed messages for rundns, off the memoised fast path.

    Keys are read from the database and kept a second (StoredKeys), policies read for each
    update (they change from the web and the command line). An update runs in a thread of
    its own, so that it does not wait behind the worker's zone reloads in Django's database
    thread, under the worker's lock of the zone it names (``locks``), which the worker's
    reloads of that zone take too; ``applied`` (the worker's, called under that lock) serves
    what it changed before the answer goes, so a client that reads after its update reads
    what it wrote, and the reload that the update's own ring starts finds the zone current.
    """

    @staticmethod
    def claims(query: bytes) -> bool:
        return tsig.claims(query) or secondary.is_notify(query)

    def __init__(
        self, chain: ResolverChain, applied: OnApplied | None = None,
        locks: ZoneLocks | None = None,
    ) -> None:  # fmt: skip
        self.chain = chain
        self.keys = StoredKeys()
        self.applied, self.locks = applied, locks
        # An update is rung unless the one worker a ring would reach is this one, which
        # serves what an update changed (``applied``) before it answers.
        self.ring = applied is None or reaches_other_processes()
        self.executor = ThreadPoolExecutor(
            update_threads(connection.vendor), thread_name_prefix="update"
        )
        # asgiref's wrapper, so that the ring rung at commit reaches the worker's event loop.
        self.update = sync_to_async(
            keeping_connection, thread_sensitive=False, executor=self.executor
        )
        self.notify = database_sync_to_async(secondary.answer_notify, thread_sensitive=False)
        # For the worker's status (/metrics): updates by outcome, signed transfers served.
        self.updates: Counter[str] = Counter()  # "accepted" (NOERROR), "refused" (any other)
        self.transfers: Counter[int] = Counter()  # by AXFR/IXFR, as the server's stats

    @property
    def catalog(self) -> ZoneCatalog:
        return self.chain.catalog

    async def respond(self, query: bytes, client: str, tcp: bool) -> list[bytes]:
        """Return the response messages to query (several for a signed zone transfer)."""
        if secondary.is_notify(query):
            response = await self.notify(query, client)
            return [response] if response else []
        if (query[2] >> 3) & 0xF == dns.opcode.UPDATE:
            origin = zone_named(query)
            held = self.locks(origin or "") if self.locks else contextlib.nullcontext()
            async with held:
                response, applied = await self.update(
                    answer_update, query, client, self.keys, self.ring
                )
                if applied is not None and self.applied is not None:
                    await self.applied(applied)
            accepted = bool(response) and response[3] & 0xF == dns.rcode.NOERROR
            self.updates["accepted" if accepted else "refused"] += 1
            return [response] if response else []
        keys = self.keys
        request = await database_sync_to_async(checked)(query, keys, client)
        if not isinstance(request, tsig.Verified):
            return [request] if request else []
        if not request.signed:  # a false alarm of claims(): no TSIG after all
            return await self.answer(query, request, client, tcp)
        await database_sync_to_async(keys.note_use)(request.message.keyname)
        return await self.answer(tsig.unsigned(query, request.tsig_start), request, client, tcp)

    async def answer(
        self, body: bytes, request: tsig.Verified, client: str, tcp: bool
    ) -> list[bytes]:
        """Answer a signed query as the unsigned one is answered, then sign it."""
        signer = tsig.Signer(request)
        if tcp and wire.question_type(body) in transfer.TRANSFER_TYPES:
            key = request.message.keyname if request.signed else None
            messages = list(transfer.transfer(body, self.catalog, client, key=key))
            if messages and messages[-1][3] & 0xF == dns.rcode.NOERROR:
                self.transfers[wire.question_type(body)] += 1
            return [signer.sign(message, multi=True) for message in messages]
        result, _ = self.chain.resolve(body, tcp=tcp, client=client)
        if result is not None and not isinstance(result, bytes):
            result = await result
        return [signer.sign(result)] if isinstance(result, bytes) else []

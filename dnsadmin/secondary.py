"""Secondary zones on the Django side: zones copied from primaries by zone transfer.

A secondary zone is a ``Zone`` (served like any other, from its rows) with a
``SecondaryZone`` row: its primaries, its TSIG key and its timers. Its data is written only
by transfers, through the one writer (``changes``, source "transfer", the primary's serial
kept as it is, the history naming the primary), so every worker serves it and a restart
serves it at once. One rundns worker, the one holding the lease, runs ``Transfers``: the
refresh timers (RFC 1034 4.3.5: SOA check every REFRESH, RETRY after a failure, EXPIRE after
which the zone is answered SERVFAIL until a transfer succeeds), and checks at once when a
configured primary sends NOTIFY (RFC 1996, answered by whichever worker receives it).
The wire work and the checks of what a primary sends are the engine's (names/xfrin.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
from channels.db import database_sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from appliance.control import DNS_GROUP, ring
from appliance.vault import unseal
from dnsadmin import rules, updates
from dnsadmin.changes import (
    TRANSFER,
    ChangeError,
    ConflictError,
    RecordData,
    RRsetEdit,
    apply_changes,
    create_zone,
    current_rrset,
    delete_zone,
    describe,
    fingerprint,
)
from dnsadmin.models import SecondaryLease, SecondaryZone, TsigKey, Zone, rrset_action, serial_gt
from dnsadmin.names import tsig, xfrin
from dnsadmin.names.xfrin import Primary, TransferError

log = logging.getLogger(__name__)

LEASE_SECONDS = 10.0  # a worker that stops renewing loses the transfers after this
POLL_SECONDS = 0.5  # how often the lease holder looks for zones due (NOTIFY wakes it sooner)
FIRST_RETRY = datetime.timedelta(seconds=30)  # no data yet: its SOA's RETRY is not known
SHORTEST_TIMER = datetime.timedelta(seconds=1)  # a zone's timers of 0 are taken as 1 s


# managing secondary zones -----------------------------------------------------------------


def add_secondary(
    origin: str, primaries: list[str], tsig_key: str | None = None, *, catalog: str | None = None
) -> Zone:
    """Create a secondary zone of ``origin``, copied from ``primaries`` (``ADDR[:PORT]``, tried
    in order), its queries signed with the TSIG key named ``tsig_key``; ``catalog`` names the
    catalog zone that listed it. The zone is served SERVFAIL until its first transfer, which
    is asked for at once. Raise ValueError saying what is wrong (nothing is created then)."""
    name = origin_text(origin)
    listed = parse_primaries(primaries)
    key = key_named(tsig_key) if tsig_key else None
    with transaction.atomic():
        if Zone.objects.filter(origin=name).exists():
            raise ValueError(f"The zone {name} exists already.")
        # The SOA fields are placeholders until the first transfer brings the primary's.
        zone = Zone(origin=name, primary_ns=name, contact=f"hostmaster.{name}", serial=0)
        try:
            create_zone(zone, source=TRANSFER, edits=[])
        except ChangeError as error:
            raise ValueError(str(error)) from None
        SecondaryZone.objects.create(
            zone=zone, primaries=" ".join(map(str, listed)), tsig_key=key, catalog=catalog or ""
        )
        wake_transfers(name)
    return zone


def origin_text(origin: str) -> str:
    try:
        return dns.name.from_text(origin).to_text().lower()
    except dns.exception.DNSException as error:
        raise ValueError(f"{origin!r} is not a domain name: {error}") from None


def parse_primaries(primaries: list[str]) -> list[Primary]:
    listed = [Primary.parse(text) for item in primaries for text in item.split()]
    if not listed:
        raise ValueError("A secondary zone needs at least one primary.")
    return listed


def key_named(name: str) -> TsigKey:
    key = TsigKey.objects.filter(name=tsig.key_name(name).to_text()).first()
    if key is None:
        raise ValueError(f"No TSIG key named {name} (manage.py tsig add {name}).")
    return key


def secondary_of(origin: str) -> SecondaryZone:
    name = origin_text(origin)
    found = SecondaryZone.objects.select_related("zone", "tsig_key").filter(zone__origin=name)
    secondary = found.first()
    if secondary is None:
        raise ValueError(f"{name} is not a secondary zone.")
    return secondary


def remove_secondary(origin: str, *, user=None, source: str = TRANSFER, via: str = "") -> None:
    """Delete a secondary zone and its data (the history keeps what it held)."""
    delete_zone(secondary_of(origin).zone, user, source=source, via=via)


def request_refresh(origin: str) -> None:
    """Have the transfer worker check the zone's primaries now (a NOTIFY, "refresh now")."""
    secondary = secondary_of(origin)
    SecondaryZone.objects.filter(pk=secondary.pk).update(next_refresh=timezone.now())
    wake_transfers(secondary.zone.origin)


def wake_transfers(origin: str) -> None:
    """Ring the DNS workers once committed; the lease holder's loop also polls."""
    transaction.on_commit(lambda: ring(DNS_GROUP, "secondary.refresh", origin=origin))


def status(zone: Zone) -> dict:
    """What the zone list, the zone page and the API show of a zone's origin: primary or
    secondary, its serial, and for a secondary where it comes from and its timers."""
    secondary = SecondaryZone.objects.select_related("tsig_key").filter(zone_id=zone.pk).first()
    facts: dict = {"origin": zone.origin, "serial": zone.serial, "secondary": secondary is not None}
    if secondary is None:
        return facts
    loaded = secondary.last_transfer is not None
    return facts | {
        "serial": zone.serial if loaded else None,
        "primaries": secondary.primaries.split(),
        "tsig_key": secondary.tsig_key.name if secondary.tsig_key else None,
        "catalog": secondary.catalog or None,
        "state": state(secondary),
        "last_check": secondary.last_check,
        "last_transfer": secondary.last_transfer,
        "last_transfer_kind": secondary.last_transfer_kind,
        "next_refresh": secondary.next_refresh,
        "expires_at": secondary.expires_at,
        "last_error": secondary.last_error,
    }


def state(secondary: SecondaryZone) -> str:
    """Return what ``zone list`` and the zone list page say of a secondary: "serving", or
    "expired" (answered with SERVFAIL), or "not loaded yet" (never transferred)."""
    if not secondary.expired:
        return "serving"
    return "expired" if secondary.last_transfer is not None else "not loaded yet"


# the transfer loop (one rundns worker) -----------------------------------------------------


class Transfers:
    """The refresh timers of every secondary zone, run by the worker holding the lease.

    Every worker runs the loop; each round it takes or renews the lease, and only its holder
    expires zones and checks those due. A worker that dies lets the lease lapse and another
    takes over within LEASE_SECONDS.
    """

    def __init__(
        self, holder: str, has_secondaries: Callable[[], bool | None] | None = None
    ) -> None:
        self.holder = holder
        # Tells at little cost whether there is any secondary zone (None: it cannot tell now);
        # without any, a round has nothing to transfer and takes no lease.
        self.has_secondaries = has_secondaries
        self.wakeup = asyncio.Event()
        self.running: dict[str, asyncio.Task] = {}
        self.task: asyncio.Task | None = None
        self.received: Counter[str] = Counter()  # transfers in by kind, and "failed" checks

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    def wake(self) -> None:
        """Look for zones due now (a NOTIFY or a "refresh now" was recorded)."""
        self.wakeup.set()

    async def stop(self) -> None:
        tasks = [self.task, *self.running.values()] if self.task else []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await database_sync_to_async(release)(self.holder)

    async def run(self) -> None:
        while True:
            try:
                await self.round()
            except Exception:
                # A database hiccup must not end the transfers: the next round retries.
                log.exception("secondary zones: round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), POLL_SECONDS)
            self.wakeup.clear()

    async def round(self) -> None:
        if self.has_secondaries is not None and self.has_secondaries() is False:
            return
        if not await database_sync_to_async(claim)(self.holder):
            return
        for origin in await database_sync_to_async(due_zones)():
            if origin not in self.running:
                task = asyncio.create_task(refresh_logged(origin))
                self.running[origin] = task
                task.add_done_callback(lambda done, origin=origin: self.finished(origin, done))

    def finished(self, origin: str, task: asyncio.Task) -> None:
        """Forget a refresh that ended, counting the transfer it made (for /metrics)."""
        self.running.pop(origin, None)
        if not task.cancelled():
            kind = task.result()
            if kind != "":  # "": the zone was current, nothing was transferred
                self.received[kind or "failed"] += 1


def claim(holder: str) -> bool:
    """Take or renew the transfer lease; tell whether ``holder`` has it. Renewed only when
    half gone, so a round mostly costs one read."""
    now = timezone.now()
    lease = SecondaryLease.objects.filter(pk=1).first()
    if lease is not None and lease.expires > now:
        if lease.holder != holder:
            return False
        if (lease.expires - now).total_seconds() > LEASE_SECONDS / 2:
            return True
    if not SecondaryZone.objects.exists():
        return False  # nothing to transfer: no lease needed
    expires = now + datetime.timedelta(seconds=LEASE_SECONDS)
    if lease is None:
        try:
            with transaction.atomic():
                SecondaryLease.objects.create(pk=1, holder=holder, expires=expires)
        except IntegrityError:
            return False  # another worker made it first
        return True
    free = Q(holder=holder) | Q(expires__lte=now)
    return bool(SecondaryLease.objects.filter(free, pk=1).update(holder=holder, expires=expires))


def release(holder: str) -> None:
    """Give the lease up at a clean stop, so another worker need not wait for it to lapse."""
    SecondaryLease.objects.filter(pk=1, holder=holder).update(expires=timezone.now())


def due_zones() -> list[str]:
    """Expire the zones past their expiry, and return those whose check is due."""
    now = timezone.now()
    overdue = SecondaryZone.objects.filter(expired=False, expires_at__lte=now)
    for secondary in overdue.select_related("zone"):
        error = f"expired: no primary answered within {secondary.zone.expire} s (SOA EXPIRE)"
        log.warning("zone %s %s", secondary.zone, error)
        mark(secondary, expired=True, last_error=f"{error}; {secondary.last_error}".strip("; "))
    due = SecondaryZone.objects.filter(next_refresh__lte=now, zone__enabled=True)
    return list(due.values_list("zone__origin", flat=True))


def mark(secondary: SecondaryZone, **fields) -> None:
    """Write a secondary's status; when it starts or stops being served (expired), touch its
    zone so every worker reloads it."""
    flips = "expired" in fields and fields["expired"] != secondary.expired
    with transaction.atomic():
        SecondaryZone.objects.filter(pk=secondary.pk).update(**fields)
        if flips:
            zone = Zone.objects.get(pk=secondary.zone_id)
            Zone.objects.filter(pk=zone.pk).update(updated=timezone.now())
            zone.announce_change()


# one refresh --------------------------------------------------------------------------------


async def refresh(origin: str) -> str | None:
    """Check the zone's primaries in order and transfer from the first with a newer serial;
    record the outcome (and the timers it sets) in the zone's status. Return the kind of
    transfer made ("AXFR", "IXFR"; "" when the zone was current), None when it failed."""
    plan = await database_sync_to_async(refresh_plan)(origin)
    if plan is None:
        return ""
    errors = []
    for primary in plan.primaries:
        try:
            kind = await refresh_from(plan, primary)
        except TransferError as error:
            log.info("zone %s: %s", origin, error)
            errors.append(str(error))
            continue
        done = database_sync_to_async(succeeded, thread_sensitive=False)
        await done(origin, kind, primary, plan.started)
        return kind
    await database_sync_to_async(failed)(origin, "; ".join(errors), plan.started)
    return None


async def refresh_logged(origin: str) -> str | None:
    """Refresh, and record a failure that is not the primaries' (the database, a bug) too, so
    that the zone is retried later rather than at once, again and again."""
    try:
        return await refresh(origin)
    except Exception as error:
        log.exception("zone %s: refresh failed", origin)
        await database_sync_to_async(failed)(origin, f"refresh failed: {error!r}")
        return None


class Plan:
    """What a refresh needs to know, read before going to the network."""

    def __init__(self, secondary: SecondaryZone) -> None:
        zone = secondary.zone
        self.started = timezone.now()
        self.origin = zone.name
        self.primaries = [Primary.parse(text) for text in secondary.primaries.split()]
        self.serial = zone.serial if secondary.last_transfer is not None else None
        key = secondary.tsig_key
        self.key = (
            tsig.make_key(key.name, unseal(key.sealed_secret), key.algorithm) if key else None
        )


def refresh_plan(origin: str) -> Plan | None:
    secondary = SecondaryZone.objects.select_related("zone", "tsig_key")
    found = secondary.filter(zone__origin=origin).first()
    return Plan(found) if found is not None else None


async def refresh_from(plan: Plan, primary: Primary) -> str:
    """Check one primary and transfer what is newer; return the kind of transfer made
    ("IXFR", "AXFR"), or "" when the zone was current. Raise TransferError."""
    if plan.serial is not None:
        theirs = await xfrin.soa_serial(plan.origin, primary, plan.key)
        if theirs == plan.serial:
            return ""
        if not xfrin.newer(theirs, plan.serial):
            raise TransferError(
                f"{primary} has serial {theirs}, which is older than ours ({plan.serial})"
            )
    result = await xfrin.fetch(plan.origin, primary, plan.key, plan.serial)
    if isinstance(result, xfrin.UpToDate):
        return ""
    store = database_sync_to_async(apply_transfer, thread_sensitive=False)
    try:
        await store(plan.origin, result, primary)
    except NeedsWholeZone as error:
        log.info("zone %s: %s; asking for the whole zone", plan.origin, error)
        result = await xfrin.transfer(plan.origin, primary, plan.key, None)
        await store(plan.origin, result, primary)
    return result.kind


def succeeded(origin: str, kind: str, primary: Primary, started: datetime.datetime) -> None:
    """Record a successful check (and transfer): next check after REFRESH, expiry after
    EXPIRE, both from now (RFC 1034 4.3.5), and the zone served. ``started``: when the check
    began (a NOTIFY since then asks for another)."""
    found = SecondaryZone.objects.select_related("zone", "tsig_key").filter(zone__origin=origin)
    secondary = found.first()
    if secondary is None:
        return  # removed meanwhile
    zone, now = secondary.zone, timezone.now()
    if secondary.tsig_key is not None:  # it signed the check and the transfer: noted once
        updates.note_used([secondary.tsig_key.name])
    fields = {
        "last_check": now,
        "next_refresh": next_check(secondary, started, now + timer(zone.refresh)),
        "expires_at": now + timer(zone.expire),
        "expired": False,
        "last_error": "",
    }
    if kind:
        fields |= {"last_transfer": now, "last_transfer_kind": kind}
        log.info("zone %s: %s from %s, serial %s", origin, kind, primary, zone.serial)
    mark(secondary, **fields)


def failed(origin: str, error: str, started: datetime.datetime | None = None) -> None:
    """Record a failed refresh: try again after RETRY; the expiry stays where it was."""
    secondary = SecondaryZone.objects.select_related("zone").filter(zone__origin=origin).first()
    if secondary is None:
        return  # removed meanwhile
    now = timezone.now()
    loaded = secondary.last_transfer is not None
    retry = timer(secondary.zone.retry) if loaded else FIRST_RETRY
    later = next_check(secondary, started, now + retry)
    mark(secondary, last_check=now, next_refresh=later, last_error=error[:2000])


def next_check(
    secondary: SecondaryZone, started: datetime.datetime | None, planned: datetime.datetime
) -> datetime.datetime:
    """When to check next: as planned, unless a NOTIFY or "refresh now" came in while this
    check ran (it may announce a serial the check did not see): then at once."""
    if started is not None and secondary.next_refresh > started:
        return secondary.next_refresh
    return planned


def timer(seconds: int) -> datetime.timedelta:
    return max(datetime.timedelta(seconds=seconds), SHORTEST_TIMER)


# storing a transfer ----------------------------------------------------------------------


class NeedsWholeZone(TransferError):
    """A change set does not apply to our copy: ask for the whole zone instead."""


def apply_transfer(
    origin: dns.name.Name, result: xfrin.FullZone | xfrin.Increment, primary: Primary
) -> None:
    """Store a transfer through the one writer, all of it or nothing; raise TransferError
    (NeedsWholeZone when a change set does not fit our copy)."""
    with transaction.atomic():
        zone = Zone.objects.select_for_update().get(origin=origin.to_text().lower())
        loaded = SecondaryZone.objects.filter(zone=zone, last_transfer__isnull=False).exists()
        if loaded and not serial_gt(result.serial, zone.serial):
            raise TransferError(
                f"{result.kind} from {primary}: offers serial {result.serial}, which is not newer "
                f"than ours ({zone.serial})"
            )
        try:
            if isinstance(result, xfrin.FullZone):
                store_zone(zone, result, primary)
            else:
                for change in result.changes:
                    store_change_set(zone, change, primary)
        except (ChangeError, ConflictError) as error:
            raise TransferError(
                f"{result.kind} from {primary} (serial {result.serial}) breaks the zone rules: "
                f"{error}; nothing was applied"
            ) from None


def store_zone(zone: Zone, result: xfrin.FullZone, primary: Primary) -> None:
    """Replace the zone's data with a whole zone: every RRset that differs, in one change.

    TTLs are stored as the primary sent them, never as "the zone's default", so that a new
    SOA TTL (our default TTL) changes no other record.
    """
    incoming: dict[tuple[str, str], dict[str, RecordData]] = defaultdict(dict)
    wires: dict[tuple[str, str, str], bytes] = {}
    for name, ttl, rdata in result.records:
        key = (rules.relative_owner(name, zone.name), dns.rdatatype.to_text(rdata.rdtype))
        text = rdata.to_text()
        incoming[key][text] = RecordData(text, ttl)
        wires[(*key, text)] = rdata.to_wire()
    current: dict[tuple[str, str], set[RecordData]] = defaultdict(set)
    for record in zone.records.all():
        current[(record.owner, record.rdtype)].add(RecordData.from_record(record))
    edits = [
        RRsetEdit(*key, one_ttl(records.values()))
        for key, records in incoming.items()
        if set(one_ttl(records.values())) != current.get(key, set())
    ]
    edits += [RRsetEdit(*key, ()) for key in current.keys() - incoming.keys()]
    counts = Counter(rrset_action(current.get(e.key, ()), e.records) for e in edits)
    what = ", ".join(f"{counts[action]} {action}" for action in ("added", "changed", "removed"))
    apply_changes(
        zone, edits, source=TRANSFER, via=str(primary),
        summary=f"{result.kind} from {primary}, serial {result.serial}: RRsets {what}",
        settings=updates.soa_settings(result.soa) | {"default_ttl": result.soa_ttl}, parsed=wires,
    )  # fmt: skip


def one_ttl(records: Iterable[RecordData]) -> tuple[RecordData, ...]:
    """An RRset as stored: one TTL for all its records (RFC 2181 5.2), the lowest one sent."""
    listed = list(records)
    ttl = min((record.ttl for record in listed), default=None)
    return tuple(sorted((replace(record, ttl=ttl) for record in listed), key=lambda r: r.rdata))


def store_change_set(zone: Zone, change: xfrin.ChangeSet, primary: Primary) -> None:
    """Apply one IXFR change set to our copy: one history entry, to the set's serial."""
    rrsets: dict[tuple[str, str], dict[str, RecordData]] = {}
    before: dict[tuple[str, str], tuple[RecordData, ...]] = {}

    def rrset(name: dns.name.Name, rdata) -> dict[str, RecordData]:
        key = (rules.relative_owner(name, zone.name), dns.rdatatype.to_text(rdata.rdtype))
        if key not in rrsets:
            before[key] = current_rrset(zone, *key)
            rrsets[key] = {record.rdata: record for record in before[key]}
        return rrsets[key]

    for name, _, rdata in change.removed:
        if rrset(name, rdata).pop(rdata.to_text(), None) is None:
            raise NeedsWholeZone(f"{name} {rdata.rdtype.name} {rdata} to remove is not ours")
    for name, ttl, rdata in change.added:
        records = rrset(name, rdata)
        # One TTL per RRset (RFC 2181 5.2): the one of the records added.
        for text, record in records.items():
            records[text] = replace(record, ttl=ttl)
        records[rdata.to_text()] = RecordData(rdata.to_text(), ttl)
    edits = [
        RRsetEdit(*key, tuple(records.values()), expected=fingerprint(before[key]))
        for key, records in rrsets.items()
    ]
    what = describe(edits, before) or "no record changed"
    apply_changes(
        zone, edits, source=TRANSFER, via=str(primary),
        summary=f"IXFR from {primary}, serial {change.old_serial} → {change.serial}: {what}",
        settings=updates.soa_settings(change.soa) | {"default_ttl": change.soa_ttl},
    )  # fmt: skip


# NOTIFY (RFC 1996) ----------------------------------------------------------------------


def is_notify(query: bytes) -> bool:
    """Tell, cheaply, whether a message is a NOTIFY request."""
    return len(query) > 12 and not query[2] & 0x80 and (query[2] >> 3) & 0xF == dns.opcode.NOTIFY


def answer_notify(query: bytes, client: str) -> bytes | None:
    """Answer a NOTIFY as BIND does: NOERROR (AA) and a check at once when it comes from one
    of the zone's primaries (signed with its key, when it has one); REFUSED from anyone
    else; NOTAUTH for a zone not ours; NOERROR, and nothing done, for a zone we are primary
    for."""
    keys = updates.StoredKeys()
    request = updates.checked(query, keys, client)
    if not isinstance(request, tsig.Verified):
        return request
    message = request.message
    if request.signed:
        keys.note_use(message.keyname)
    if len(message.question) != 1 or message.question[0].rdtype != dns.rdatatype.SOA:
        return tsig.error_response(request, dns.rcode.FORMERR)
    origin = message.question[0].name.to_text().lower()
    rcode = notify_rcode(origin, client, request)
    log.info("NOTIFY for %s from %s: %s", origin, client, dns.rcode.to_text(rcode))
    response = dns.message.make_response(message)
    response.set_rcode(rcode)
    if rcode == dns.rcode.NOERROR:
        response.flags |= dns.flags.AA
    response.keyring, response.tsig = None, None  # signed by the Signer below
    return tsig.Signer(request).sign(response.to_wire())


def notify_rcode(origin: str, client: str, request: tsig.Verified) -> int:
    found = SecondaryZone.objects.select_related("tsig_key").filter(zone__origin=origin)
    secondary = found.first()
    if secondary is None:
        return (
            dns.rcode.NOERROR if Zone.objects.filter(origin=origin).exists() else dns.rcode.NOTAUTH
        )
    addresses = {Primary.parse(text).address for text in secondary.primaries.split()}
    if client.split("%", 1)[0] not in addresses:
        log.warning("NOTIFY for %s from %s, which is not one of its primaries", origin, client)
        return dns.rcode.REFUSED
    key = secondary.tsig_key
    if key is not None and (
        not request.signed or request.message.keyname != tsig.key_name(key.name)
    ):
        log.warning("NOTIFY for %s from %s not signed with key %s", origin, client, key.name)
        return dns.rcode.REFUSED
    SecondaryZone.objects.filter(pk=secondary.pk).update(next_refresh=timezone.now())
    wake_transfers(origin)
    return dns.rcode.NOERROR

"""Dynamic updates and TSIG keys on the Django side: keys sealed at rest, update policies, and
an UPDATE applied through the one writer, its prerequisites read under the zone's lock.

The engine (names/update.py, names/tsig.py) decides; this module reads the rows it decides
on and writes the result with changes.apply_changes, in one transaction, so an update is
acknowledged only once committed. SignedMessages is what rundns hands the listeners for
UPDATEs and TSIG-signed messages, which never take the memoised fast path.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

import dns.exception
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from appliance.vault import seal, unseal
from dnsadmin import rules
from dnsadmin.changes import (
    ChangeError,
    ConflictError,
    RecordData,
    RRsetEdit,
    apply_changes,
    fingerprint,
)
from dnsadmin.models import Record, TsigKey, UpdateRule, Zone
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


class StoredKeys:
    """The keyring, read from the database one key at a time (a message names one key), and
    each key's last use noted at most once a minute, so that a burst of updates does not
    write it every time."""

    def __init__(self) -> None:
        self.used: dict[dns.name.Name, datetime.datetime | None] = {}

    def get(self, name: dns.name.Name) -> dns.tsig.Key | None:
        row = (
            TsigKey.objects.filter(name=name.to_text().lower())
            .values_list("name", "algorithm", "sealed_secret", "last_used")
            .first()
        )
        if row is None:
            return None
        self.used[name] = row[3]
        return tsig.make_key(row[0], unseal(row[2]), row[1])

    def note_use(self, name: dns.name.Name) -> None:
        now = timezone.now()
        last = self.used.get(name, now - USE_NOTED_EVERY)
        if last is None or now - last >= USE_NOTED_EVERY:
            TsigKey.objects.filter(name=name.to_text().lower()).update(last_used=now)


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


def policy(zone: Zone) -> list[update.Rule]:
    """Return the zone's rules as the engine reads them, in order."""
    return [
        update.Rule(
            rule.grant,
            tsig.key_name(rule.key.name),
            rule.rule_type,
            dns.name.from_text(rule.name) if rule.name else None,
            frozenset(dns.rdatatype.from_text(t) for t in rule.types.split()),
        )  # fmt: skip
        for rule in zone.update_rules.select_related("key")
    ]


# an update ----------------------------------------------------------------------------


def apply_update(request: update.Update, signer: dns.name.Name | None) -> int:
    """Apply an UPDATE to the zone it names; return the rcode to answer with."""
    with transaction.atomic():
        zone = (
            Zone.objects.select_for_update().filter(origin=request.zone.to_text().lower()).first()
        )
        if zone is None or not zone.enabled or not is_primary(zone):
            return dns.rcode.NOTAUTH
        rules_ = policy(zone)
        if not rules_:
            return dns.rcode.REFUSED  # no update-policy: BIND refuses every update
        data, rows = zone_data(zone, request.names)
        try:
            changed = update.evaluate(request, data, rules_, signer)
            if changed:
                write(zone, changed, rows, signer, read_owners(zone, request.names))
        except update.UpdateError as error:
            log.info(
                "update of %s by %s: %s (%s)", zone, signer, error, dns.rcode.to_text(error.rcode)
            )
            return error.rcode
        except (ChangeError, ConflictError) as error:
            log.warning("update of %s by %s breaks the zone rules: %s", zone, signer, error)
            return dns.rcode.REFUSED
    return dns.rcode.NOERROR


def is_primary(zone: Zone) -> bool:
    """Every zone is ours today; a secondary zone (transferred from a primary) will answer
    False here, so that its updates get NOTAUTH until forwarding is asked for."""
    return True


Rows = dict[tuple[str, str], list[Record]]


def zone_data(zone: Zone, names: Iterable[dns.name.Name]) -> tuple[update.ZoneData, Rows]:
    """Read the records at names, and at the targets of their MX records and of the apex NS
    records, into the engine's form (enabled ones; the SOA from the zone's fields)."""
    origin = zone.name
    data = update.ZoneData(origin)
    data.add(origin, dns.rdatatype.SOA, zone.default_ttl, zone.soa_rdata())
    rows: Rows = {}
    owners = read_owners(zone, names)
    read_rows(zone, owners, data, rows)
    targets = {rules.relative_owner(name, origin) for name in update.targets(data)}
    read_rows(zone, targets - owners, data, rows)
    return data, rows


def read_owners(zone: Zone, names: Iterable[dns.name.Name]) -> set[str]:
    """The owners zone_data read every row of (the names of the update in the zone)."""
    origin = zone.name
    return {rules.relative_owner(n, origin) for n in names if n.is_subdomain(origin)}


def read_rows(zone: Zone, owners: set[str], data: update.ZoneData, rows: Rows) -> None:
    if not owners:
        return
    for row in zone.records.filter(owner__in=owners):
        rows.setdefault((row.owner, row.rdtype), []).append(row)
        if row.enabled:
            rdtype = dns.rdatatype.from_text(row.rdtype)
            wire = bytes(row.wire)
            rdata = dns.rdata.from_wire(dns.rdataclass.IN, rdtype, wire, 0, len(wire))
            data.add(rules.parse_owner(row.owner, zone.name), rdtype, row.effective_ttl, rdata)


def write(
    zone: Zone, changed: dict, rows: Rows, signer: dns.name.Name, owners: set[str] = frozenset()
) -> None:
    """Write the changed RRsets (and SOA fields) as one change set attributed to the key;
    ``rows`` holds every row at ``owners``, read under the zone's lock (not read again)."""
    origin = zone.name
    settings: dict[str, object] = {}
    edits = []
    for (name, rdtype), (ttl, records) in changed.items():
        if rdtype == dns.rdatatype.SOA:
            settings = soa_settings(records[0])
            continue
        key = (rules.relative_owner(name, origin), dns.rdatatype.to_text(rdtype))
        current = rows.get(key, [])
        edits.append(RRsetEdit(*key, new_records(current, ttl, records, zone.default_ttl), fingerprint(
            RecordData.from_record(r) for r in current
        )))  # fmt: skip
    via = f"key {signer.to_text(omit_final_dot=True)}"
    apply_changes(
        zone, edits, source="update", via=via, settings=settings, locked=(set(owners), rows)
    )


def new_records(
    current: list[Record], ttl: int, records: list, default_ttl: int
) -> tuple[RecordData, ...]:
    """The RRset's new records; unchanged ones keep their row (TTL spelling, comment), and
    disabled ones stay as they were."""
    kept = {row.rdata: RecordData.from_record(row) for row in current}
    result = []
    for rdata in records:
        text = rdata.to_text()
        old = kept.pop(text, None)
        if old is not None and old.enabled and (old.ttl or default_ttl) == ttl:
            result.append(old)
        else:
            result.append(RecordData(text, ttl))
    result += [record for record in kept.values() if not record.enabled]
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


def answer_update(query: bytes, client: str) -> bytes | None:
    """Answer an UPDATE from the keys to the committed write, in one trip to the database."""
    keys = StoredKeys()
    request = checked(query, keys, client)
    if not isinstance(request, tsig.Verified):
        return request
    signer = request.message.keyname if request.signed else None
    if signer is not None:
        keys.note_use(signer)
    try:
        parsed = update.parse(tsig.unsigned(query, request.tsig_start) if signer else query)
        rcode = apply_update(parsed, signer)
    except update.UpdateError as error:
        rcode = error.rcode
    log.debug("update from %s by %s: %s", client, signer, dns.rcode.to_text(rcode))
    return tsig.error_response(request, rcode)


class SignedMessages:
    """Answers UPDATEs and TSIG-signed messages for rundns, off the memoised fast path.

    Keys and policies are read from the database for each such message (they change from the
    web and the command line). An update runs in a thread of its own, so that it does not
    wait behind the worker's zone reloads in Django's database thread.
    """

    claims = staticmethod(tsig.claims)

    def __init__(self, chain: ResolverChain) -> None:
        self.chain = chain
        self.update = database_sync_to_async(answer_update, thread_sensitive=False)

    @property
    def catalog(self) -> ZoneCatalog:
        return self.chain.catalog

    async def respond(self, query: bytes, client: str, tcp: bool) -> list[bytes]:
        """Return the response messages to query (several for a signed zone transfer)."""
        if (query[2] >> 3) & 0xF == dns.opcode.UPDATE:
            response = await self.update(query, client)
            return [response] if response else []
        keys = StoredKeys()
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
            messages = transfer.transfer(body, self.catalog, client, key=key)
            return [signer.sign(message, multi=True) for message in messages]
        result, _ = self.chain.resolve(body, tcp=tcp, client=client)
        if result is not None and not isinstance(result, bytes):
            result = await result
        return [signer.sign(result)] if isinstance(result, bytes) else []

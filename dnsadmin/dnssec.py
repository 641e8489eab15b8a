"""DNSSEC for the appliance's zones: keys, their timelines, rollovers, and what the DNS
workers sign with (the signing itself is names/signer.py, in the workers, in memory).

Keys follow RFC 7583's timelines: a zone signing key rolls by pre-publication (published,
then signing once every resolver has the key set with it, then kept published until every
signature it made has expired from caches); a key signing key rolls by double-KSK, offers
its successor to the parent as CDS/CDNSKEY (RFC 7344, RFC 8078), and waits until the parent's
DS is seen at every one of the parent's servers (``check_parent``, as BIND's checkds) or
confirmed by the operator before the old key goes; going insecure waits the same way for the
DS to be gone. Every change of the key set or of the signing period is a change of the zone
(``changes.record_signing_change``, source "dnssec"), so the serial moves once and every
worker signs the same keys over the same validity window.

``now`` is a parameter everywhere (the clock is injectable: tests drive time).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import time
from dataclasses import dataclass

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
from channels.db import database_sync_to_async
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from appliance.vault import seal, unseal
from dnsadmin.changes import record_signing_change
from dnsadmin.models import Record, SecondaryZone, SigningKey, Zone, ZoneSigning
from dnsadmin.names import checkds, journal, signer
from dnsadmin.names.addresses import parse_address
from dnsadmin.names.zone import Zone as ServedZone

logger = logging.getLogger(__name__)
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
VALIDITY = 14 * DAY  # signatures' lifetime, as BIND's dnssec-policy default
REFRESH = 7 * DAY  # a new signing period starts halfway, long before any signature expires
JITTER = DAY
DNSKEY_TTL = 3600
PROPAGATION = datetime.timedelta(minutes=5)  # Dprp: our secondaries are NOTIFYed
SAFETY = HOUR  # publish and retire safety margins
PARENT_DS_TTL = DAY  # what registries use; the old DS may be cached that long
CHECK_PARENT_EVERY = datetime.timedelta(minutes=5)  # while waiting for a DS to come or go
ALGORITHMS = {"ecdsap256sha256": signer.ECDSAP256SHA256, "ed25519": signer.ED25519}
ALGORITHM_NAMES = {code: name for name, code in ALGORITHMS.items()}


class DnssecError(ValueError):
    """An operator's request that cannot be carried out (the message says why)."""


@dataclass(frozen=True)
class KeyState:
    """A key at one moment: what it does and, in words, where it is in its life."""

    key: SigningKey
    published: bool
    signing: bool
    cds: bool
    words: str


def key_state(key: SigningKey, now: datetime.datetime) -> KeyState:
    published = key.published <= now and (key.removed is None or now < key.removed)
    signing = (
        published
        and key.active is not None
        and key.active <= now
        and (key.retired is None or now < key.retired)
    )
    waiting = key.role == "ksk" and key.ds_seen is None and key.retired is None
    cds = published and signing and waiting
    if not published:
        words = "removed" if key.removed and key.removed <= now else "to be published"
    elif signing:
        words = "active, waiting for the parent's DS" if waiting else "active"
    elif key.active is not None and key.active > now:
        words = f"published, signs from {key.active:%Y-%m-%d %H:%M} UTC"
    else:
        words = "retired, published until its signatures expire from caches"
    return KeyState(key, published, signing, cds, words)


def live_keys(zone: Zone, now: datetime.datetime) -> list[KeyState]:
    states = [key_state(k, now) for k in zone.signing_keys.all()]
    return [s for s in states if s.published]


def fingerprint(states: list[KeyState]) -> str:
    return ";".join(f"{s.key.pk}:{s.signing:d}{s.cds:d}" for s in states)


# enabling and disabling -------------------------------------------------------------


def enable(
    zone: Zone, *, algorithm: str = "ecdsap256sha256", nsec3: bool = True, user=None,
    now: datetime.datetime | None = None,
) -> ZoneSigning:  # fmt: skip
    """Sign the zone: a KSK and a ZSK, published and signing at once (nothing validates the
    zone before the parent has its DS, so nothing can break)."""
    now = now or timezone.now()
    if algorithm not in ALGORITHMS:
        raise DnssecError(f"Unknown algorithm {algorithm}: use {' or '.join(ALGORITHMS)}.")
    with transaction.atomic():
        Zone.objects.select_for_update().get(pk=zone.pk)
        if ZoneSigning.objects.filter(zone=zone).exists():
            raise DnssecError(f"{zone.origin} is signed already.")
        if SecondaryZone.objects.filter(zone=zone).exists():
            # Signing moves the serial, which is the primary's: the primary signs it.
            raise DnssecError(f"{zone.origin} is a secondary zone: sign it on its primary.")
        code = ALGORITHMS[algorithm]
        signing = ZoneSigning.objects.create(
            zone=zone, algorithm=code, nsec3=nsec3, period_start=now, created=now
        )
        for role in ("ksk", "zsk"):
            new_key(zone, role, code, published=now, active=now)
        denial = "NSEC3" if nsec3 else "NSEC"
        announce(zone, f"DNSSEC enabled ({algorithm}, {denial})", user, now)
    return signing


def new_key(
    zone: Zone, role: str, algorithm: int, *, published: datetime.datetime,
    active: datetime.datetime,
) -> SigningKey:  # fmt: skip
    private = signer.new_private_key(algorithm)
    dnskey = signer.make_dnskey(private, algorithm, ksk=role == "ksk")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    return SigningKey.objects.create(
        zone=zone, role=role, algorithm=algorithm, tag=dns.dnssec.key_id(dnskey),
        dnskey=dnskey.to_text(), private_sealed=seal(pem), created=published,
        published=published, active=active,
    )  # fmt: skip


def disable(
    zone: Zone, *, user=None, now: datetime.datetime | None = None, force: bool = False
) -> str:
    """Go insecure safely (RFC 6781 4.3.5): keep signing until the parent's DS has had time
    to leave every cache; ``force`` stops signing now. Return what happens, in words."""
    now = now or timezone.now()
    with transaction.atomic():
        Zone.objects.select_for_update().get(pk=zone.pk)
        signing = ZoneSigning.objects.filter(zone=zone).first()
        if signing is None:
            raise DnssecError(f"{zone.origin} is not signed.")
        if force:
            zone.signing_keys.all().delete()
            signing.delete()
            announce(zone, "DNSSEC disabled", user, now)
            return f"{zone.origin} is no longer signed."
        signing.state = "unsigning"
        signing.unsigning_until = None  # set once every parent server has dropped the DS
        signing.save(update_fields=["state", "unsigning_until"])
        announce(zone, "DNSSEC: going insecure (CDS/CDNSKEY delete published)", user, now)
    return (
        f"{zone.origin} stays signed until no parent server publishes a DS for it, and then "
        "until that DS has left resolvers' caches. Remove its DS records at the registrar "
        "now: while the parent still publishes a DS, resolvers that validate would fail for "
        "the whole zone once unsigned."
    )


# rollovers --------------------------------------------------------------------------


def max_ttl(zone: Zone) -> int:
    found = zone.records.aggregate(Max("ttl"))["ttl__max"]
    return max(found or 0, zone.default_ttl, DNSKEY_TTL)


def rollover(zone: Zone, role: str, *, user=None, now: datetime.datetime | None = None) -> str:
    """Start a rollover of the zone's ZSK (pre-publication) or KSK (double-KSK)."""
    now = now or timezone.now()
    with transaction.atomic():
        Zone.objects.select_for_update().get(pk=zone.pk)
        signing = _signing(zone)
        current = [s.key for s in live_keys(zone, now) if s.key.role == role]
        if role == "zsk":
            words = _roll_zsk(zone, signing, current, now)
        else:
            words = _roll_ksk(zone, signing, current, now)
        announce(zone, f"DNSSEC {role.upper()} rollover started", user, now)
    return words


def _roll_zsk(zone, signing, current: list[SigningKey], now) -> str:
    if any(k.retired is not None or (k.active and k.active > now) for k in current):
        raise DnssecError("A ZSK rollover is already under way.")
    # RFC 7583 3.2.1: Ipub = Dprp + TTLkey (+ safety), Iret = Dsgn + Dprp + TTLsig (+ safety).
    active = now + PROPAGATION + datetime.timedelta(seconds=DNSKEY_TTL) + SAFETY
    removed = active + PROPAGATION + datetime.timedelta(seconds=max_ttl(zone)) + SAFETY
    new = new_key(zone, "zsk", signing.algorithm, published=now, active=active)
    SigningKey.objects.filter(pk__in=[k.pk for k in current]).update(
        retired=active, removed=removed
    )
    return f"New ZSK {new.tag} published; it signs from {active:%Y-%m-%d %H:%M} UTC."


def _roll_ksk(zone, signing, current: list[SigningKey], now) -> str:
    if any(k.ds_seen is None for k in current):
        raise DnssecError(
            "A KSK is still waiting for its DS at the parent: wait until the parent's "
            "servers publish it (checkds), or confirm it (ds-seen)."
        )
    new = new_key(zone, "ksk", signing.algorithm, published=now, active=now)
    return (
        f"New KSK {new.tag} published with CDS/CDNSKEY. Give the registrar its DS: the old "
        "KSK stays until every parent server publishes it (or you confirm it with ds-seen)."
    )


def ds_seen(zone: Zone, *, user=None, now: datetime.datetime | None = None) -> str:
    """The parent publishes the DS of the newest KSK: retire the others once the old DS has
    left caches (RFC 7583 3.3.2), and stop offering CDS/CDNSKEY."""
    now = now or timezone.now()
    with transaction.atomic():
        Zone.objects.select_for_update().get(pk=zone.pk)
        _signing(zone)
        ksks = [s.key for s in live_keys(zone, now) if s.key.role == "ksk"]
        waiting = [k for k in ksks if k.ds_seen is None and k.retired is None]
        if not waiting:
            raise DnssecError("No KSK is waiting for its DS.")
        newest = max(waiting, key=lambda k: (k.published, k.pk))
        newest.ds_seen = now
        newest.save(update_fields=["ds_seen"])
        gone = now + PARENT_DS_TTL + PROPAGATION + SAFETY
        for key in ksks:
            if key.pk != newest.pk:
                key.retired, key.removed = gone, gone
                key.save(update_fields=["retired", "removed"])
        announce(zone, f"DNSSEC DS of KSK {newest.tag} seen at the parent", user, now)
    return f"DS of KSK {newest.tag} confirmed; older KSKs leave at {gone:%Y-%m-%d %H:%M} UTC."


# time passing -----------------------------------------------------------------------


def maintain(zone: Zone, now: datetime.datetime | None = None) -> list[str]:
    """Do what time calls for: roll an old ZSK, start a new signing period, finish going
    insecure, and announce key states that changed. Return what was done (idempotent: any
    number of workers may call it)."""
    now = now or timezone.now()
    done: list[str] = []
    with transaction.atomic():
        Zone.objects.select_for_update().get(pk=zone.pk)
        signing = ZoneSigning.objects.filter(zone=zone).first()
        if signing is None:
            return done
        if not signing.parental_agents and (view := _our_parent_view(zone)) is not None:
            done += _record_parent(zone, signing, view, now)  # no network: it is ours
            signing.refresh_from_db()
        if signing.state == "unsigning":
            if signing.unsigning_until is None or now < signing.unsigning_until:
                return done  # the DS is still at the parent, or still in caches
            zone.signing_keys.all().delete()
            signing.delete()
            announce(zone, "DNSSEC disabled: the zone is insecure now", None, now)
            return ["went insecure"]
        steps = _timed_steps(zone, signing, now)
        if steps or fingerprint(live_keys(zone, now)) != signing.served_keys:
            announce(zone, "DNSSEC: " + (", ".join(steps) or "key states changed"), None, now)
            steps = steps or ["key states changed"]
    return done + steps


def _timed_steps(zone: Zone, signing: ZoneSigning, now: datetime.datetime) -> list[str]:
    """Roll a ZSK past its lifetime and start a new signing period when due."""
    steps = []
    zsks = [s.key for s in live_keys(zone, now) if s.key.role == "zsk"]
    due = max((k.active for k in zsks if k.active), default=now)
    if len(zsks) == 1 and now - due >= datetime.timedelta(days=signing.zsk_lifetime_days):
        steps.append(_roll_zsk(zone, signing, zsks, now))
    if now >= signing.period_start + REFRESH:
        signing.period_start = now
        signing.save(update_fields=["period_start"])
        steps.append("new signing period")
    return steps


def maintain_all(now: datetime.datetime | None = None) -> list[str]:
    """maintain() every signed zone; return the zones that changed."""
    changed = []
    for zone in Zone.objects.filter(signing__isnull=False, enabled=True):
        if maintain(zone, now):
            changed.append(zone.origin)
    return changed


def announce(zone: Zone, summary: str, user, now: datetime.datetime) -> None:
    """Record the change (one serial bump) and remember the key states the workers sign."""
    record_signing_change(zone, summary, user)
    ZoneSigning.objects.filter(zone=zone).update(served_keys=fingerprint(live_keys(zone, now)))


def _signing(zone: Zone) -> ZoneSigning:
    signing = ZoneSigning.objects.filter(zone=zone).first()
    if signing is None:
        raise DnssecError(f"{zone.origin} is not signed: enable DNSSEC first.")
    return signing


# what the workers sign with ---------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    keys: list[signer.ZoneKey]
    policy: signer.Policy


def signing_plan(origin: str, now: datetime.datetime | None = None) -> Plan | None:
    """Return the keys and policy the zone is signed with now, or None when it is not."""
    now = now or timezone.now()
    signing = ZoneSigning.objects.filter(zone__origin=origin).select_related("zone").first()
    if signing is None:
        return None
    keys = []
    for state in live_keys(signing.zone, now):
        key = state.key
        keys.append(
            signer.ZoneKey(
                _dnskey(key),
                _private(key.private_sealed),
                ksk=key.role == "ksk",
                zsk=key.role == "zsk",
                signing=state.signing,
                cds=state.cds and signing.state == "signed",
            )
        )
    start = signing.period_start
    policy = signer.Policy(
        int((start - HOUR).timestamp()), int((start + VALIDITY).timestamp()),
        nsec3=signing.nsec3, jitter=int(JITTER.total_seconds()), dnskey_ttl=DNSKEY_TTL,
        withdraw=signing.state == "unsigning",
    )  # fmt: skip
    return Plan(keys, policy)


_PRIVATE_CACHE: dict[str, signer.PrivateKey] = {}


def _private(sealed: str) -> signer.PrivateKey:
    digest = hashlib.sha256(sealed.encode()).hexdigest()
    private = _PRIVATE_CACHE.get(digest)
    if private is None:
        private = serialization.load_pem_private_key(unseal(sealed), password=None)
        _PRIVATE_CACHE[digest] = private
    return private


def _dnskey(key: SigningKey) -> dns.rdata.Rdata:
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, key.dnskey)


def signs_as(zone: ServedZone, plan: Plan | None) -> bool:
    """Tell whether a served zone is signed as plan says (not signed when plan is None), so
    that a change to it is signed on its own (signer.resign) rather than the whole zone."""
    signed = zone.dnssec
    if plan is None or signed is None:
        return plan is None and signed is None
    return signed.policy == plan.policy and _roles(signed.keys) == _roles(plan.keys)


def _roles(keys) -> list[tuple]:
    return [(k.dnskey.to_wire(), k.ksk, k.zsk, k.signing, k.cds) for k in keys]


async def signed_for_serving(zone: ServedZone, previous: ServedZone | None) -> ServedZone:
    """Sign a zone the worker has just built or patched. A zone patched from the signed one
    it replaces (snapshot.patch_served) has what the patch touched re-signed and its chain
    mended; a zone built from its rows is signed whole, reusing the signatures of the zone it
    replaces where they still fit."""
    if zone is previous:
        return zone
    owners = getattr(zone, "changed_owners", None)
    if owners is not None:
        if previous is not None and previous.dnssec is not None:
            await resign_off_loop(zone, previous, owners)
            journal.follow_resign(previous, zone, owners)  # IXFR out sends the signatures too
        return zone
    if hasattr(zone, "signing_plan"):
        plan = zone.signing_plan
    else:
        plan = await database_sync_to_async(signing_plan)(zone.origin.to_text())
    if plan is not None:
        await sign_off_loop(zone, plan, previous)
    return zone


async def resign_off_loop(zone: ServedZone, previous: ServedZone, owners: set[str]) -> None:
    """Re-sign what a change touched, in a thread: the event loop keeps answering."""
    started = time.perf_counter()
    signed = await asyncio.to_thread(signer.resign, zone, previous, owners)
    logger.debug(
        "zone %s re-signed at %d names (%d signatures in all) in %.4f s",
        zone.origin, len(owners), len(signed.sigs), time.perf_counter() - started,
    )  # fmt: skip


async def sign_off_loop(zone: ServedZone, plan: Plan, previous: ServedZone | None) -> None:
    """Sign in a thread of its own: the event loop keeps answering meanwhile (a large zone
    takes seconds), and the database thread stays free for the other zones."""
    before = previous.dnssec if previous is not None else None
    started = time.perf_counter()
    signed = await asyncio.to_thread(signer.sign_zone, zone, plan.keys, plan.policy, before)
    made = len(signed.cache) - sum(1 for k in signed.cache if before and k in before.cache)
    logger.info(
        "zone %s signed: %d signatures, %d new, in %.2f s",
        zone.origin, len(signed.cache), made, time.perf_counter() - started,
    )  # fmt: skip


# what the operator sees -------------------------------------------------------------


def ds_lines(zone: Zone, now: datetime.datetime | None = None) -> list[str]:
    """The DS records (SHA-256) of the zone's KSKs, in zone-file syntax, one a line."""
    now = now or timezone.now()
    name = dns.name.from_text(zone.origin)
    return [
        f"{zone.origin} IN DS {dns.dnssec.make_ds(name, _dnskey(s.key), 'SHA256').to_text()}"
        for s in live_keys(zone, now)
        if s.key.role == "ksk" and s.key.retired is None
    ]


def dnskey_lines(zone: Zone, now: datetime.datetime | None = None) -> list[str]:
    now = now or timezone.now()
    return [
        f"{zone.origin} {DNSKEY_TTL} IN DNSKEY {s.key.dnskey}"
        for s in live_keys(zone, now)
        if s.key.role == "ksk" and s.key.retired is None
    ]


def status(zone: Zone, now: datetime.datetime | None = None) -> dict:
    """Everything the status command, the panel and the API show (no private key)."""
    now = now or timezone.now()
    signing = ZoneSigning.objects.filter(zone=zone).first()
    if signing is None:
        return {"origin": zone.origin, "signed": False}
    keys = [key_state(k, now) for k in zone.signing_keys.all()]
    zsk_due = max((s.key.active for s in keys if s.key.role == "zsk" and s.signing), default=None)
    return {
        "origin": zone.origin,
        "signed": True,
        "state": signing.state,
        "unsigning_until": _iso(signing.unsigning_until),
        "algorithm": ALGORITHM_NAMES.get(signing.algorithm, str(signing.algorithm)),
        "denial": "NSEC3 (no extra iterations, no salt)" if signing.nsec3 else "NSEC",
        "signatures_expire": _iso(signing.period_start + VALIDITY - JITTER),
        "signatures_renewed": _iso(signing.period_start + REFRESH),
        "next_zsk_rollover": _iso(
            zsk_due + datetime.timedelta(days=signing.zsk_lifetime_days) if zsk_due else None
        ),
        "waiting_for_ds": [s.key.tag for s in keys if s.cds],
        "parent": _parent_status(signing, keys),
        "keys": [_key_status(s) for s in keys if s.words != "removed"],
        "ds": ds_lines(zone, now),
        "dnskey": dnskey_lines(zone, now),
    }


def _parent_status(signing: ZoneSigning, keys: list[KeyState]) -> dict:
    """Where the zone stands with its parent, in words, and what the last check found."""
    waiting = [s.key for s in keys if s.cds]
    if signing.state == "unsigning":
        if signing.unsigning_until is None:
            words = "going insecure: waiting for the DS to go from the parent"
        else:
            until = f"{signing.unsigning_until:%Y-%m-%d %H:%M} UTC"
            words = f"going insecure: the DS is gone from the parent; unsigned from {until}"
    elif not waiting:
        words = "secure: DS published at parent"
    elif any(s.key.ds_seen for s in keys if s.key.role == "ksk"):
        words = f"KSK rollover: waiting for the DS of KSK {waiting[-1].tag} at the parent"
    else:
        words = "signed, not yet secure: waiting for the DS at the parent"
    return {
        "words": words,
        "agents": signing.parental_agents.split(),
        "checked": _iso(signing.parent_checked),
        "report": signing.parent_report,
    }


def _key_status(state: KeyState) -> dict:
    key = state.key
    return {
        "tag": key.tag,
        "role": key.role,
        "algorithm": ALGORITHM_NAMES.get(key.algorithm, str(key.algorithm)),
        "state": state.words,
        **{f: _iso(getattr(key, f)) for f in ("published", "active", "retired", "removed")},
        "ds_seen": _iso(key.ds_seen),
    }


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


# the parent's DS, as its servers answer (BIND's checkds) ----------------------------


def parent_view(zone: Zone) -> checkds.ParentView:
    """Ask the parent for the zone's DS: the parental agents when set, else the parent zone
    when it is one of ours, else the parent zone's name servers found through the resolver."""
    signing = _signing(zone)
    if signing.parental_agents:
        return checkds.look(zone.origin, signing.parental_agents.split())
    ours = _our_parent_view(zone)
    if ours is not None:
        return ours
    try:
        servers = checkds.parent_servers(zone.origin, parent_resolver())
    except checkds.ParentUnknown as error:
        return checkds.ParentView((), str(error))
    return checkds.look(zone.origin, servers)


def parent_resolver() -> dns.resolver.Resolver | None:
    """Return the resolver settings name for finding parents' servers; None: the host's."""
    if not settings.DNS_PARENT_RESOLVER:
        return None
    host, port = parse_address(settings.DNS_PARENT_RESOLVER)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = [host], port
    return resolver


def _our_parent_view(zone: Zone) -> checkds.ParentView | None:
    """Return the DS the parent publishes when the parent is one of ours (the closest
    enclosing zone), None when it is elsewhere."""
    name = dns.name.from_text(zone.origin)
    parents = [
        p
        for p in Zone.objects.exclude(pk=zone.pk)
        if name.is_subdomain(dns.name.from_text(p.origin))
    ]
    if not parents:
        return None
    parent = max(parents, key=lambda p: len(p.origin))
    owner = name.relativize(dns.name.from_text(parent.origin)).to_text()
    rows = Record.objects.filter(zone=parent, owner__iexact=owner, rdtype="DS", enabled=True)
    found = list(rows.values_list("wire", "ttl"))
    ds = frozenset(bytes(wire) for wire, _ in found)
    ttl = max((ttl for _, ttl in found), default=0)
    return checkds.ParentView((checkds.Answer(f"this appliance (zone {parent.origin})", ds, ttl),))


def set_parental_agents(zone: Zone, agents: str) -> str:
    """Set the servers asked for the zone's DS (BIND's parental-agents): ADDR or ADDR:PORT,
    separated by spaces or commas; empty: the parent zone's name servers."""
    signing = _signing(zone)
    found = agents.replace(",", " ").split()
    for agent in found:
        try:
            parse_address(agent)
        except ValueError as error:
            raise DnssecError(f"Parental agents: {error}.") from None
    signing.parental_agents = " ".join(found)
    signing.save(update_fields=["parental_agents"])
    if not found:
        return f"{zone.origin}: the DS is looked for at the parent zone's name servers."
    return f"{zone.origin}: the DS is looked for at {', '.join(found)}."


def check_parent(zone: Zone, now: datetime.datetime | None = None) -> str:
    """Ask the parent's servers for the zone's DS now (no lock held while asking), record
    what they said and act on it: a KSK's DS at every server retires the KSKs before it, no
    DS anywhere lets a zone going insecure leave once the DS has left caches. Return the
    report, in words."""
    view = parent_view(zone)
    now = now or timezone.now()
    with transaction.atomic():
        Zone.objects.select_for_update().get(pk=zone.pk)
        signing = _signing(zone)
        done = _record_parent(zone, signing, view, now)
    return " ".join([signing.parent_report, *done])


def _record_parent(
    zone: Zone, signing: ZoneSigning, view: checkds.ParentView, now: datetime.datetime
) -> list[str]:
    """Remember what the parent said (under the zone's lock) and take the steps it allows;
    an unreachable parent changes nothing but the report."""
    done = []
    signing.parent_checked = now
    signing.parent_report = _parent_words(zone, view, now)
    if view.ttl:
        signing.parent_ds_ttl = view.ttl  # how long a resolver may keep the DS
    waiting = [s.key for s in live_keys(zone, now) if s.cds]
    if signing.state == "signed" and waiting:
        newest = max(waiting, key=lambda k: (k.published, k.pk))
        if view.everywhere(_ds_wires(zone, newest)):
            done.append(ds_seen(zone, now=now))  # a change of its own, announced
    elif signing.state == "unsigning" and view.reachable:
        if not view.nowhere():
            signing.unsigning_until = None  # the DS is (back) at the parent
        elif signing.unsigning_until is None:
            cached = signing.parent_ds_ttl or int(PARENT_DS_TTL.total_seconds())
            signing.unsigning_until = (
                now + datetime.timedelta(seconds=cached) + PROPAGATION + SAFETY
            )
    fields = ["parent_checked", "parent_report", "parent_ds_ttl", "unsigning_until"]
    ZoneSigning.objects.filter(pk=signing.pk).update(**{f: getattr(signing, f) for f in fields})
    return done


def _ds_wires(zone: Zone, key: SigningKey) -> set[bytes]:
    """The DS rdatas (wire form) the parent may publish for a key: SHA-256 or SHA-384."""
    name = dns.name.from_text(zone.origin)
    return {dns.dnssec.make_ds(name, _dnskey(key), d).to_wire() for d in ("SHA256", "SHA384")}


def _parent_words(zone: Zone, view: checkds.ParentView, now: datetime.datetime) -> str:
    if not view.reachable:
        why = "; ".join(view.errors()) or "no server to ask"
        return f"Could not ask the parent ({why}): nothing advances until it answers."
    asked = len(view.answers)
    servers = ", ".join(a.server for a in view.answers)
    if view.nowhere():
        return f"No DS at any of the parent's {asked} servers ({servers})."
    parts, ours = [], set()
    for key in (s.key for s in live_keys(zone, now) if s.key.role == "ksk"):
        wires = _ds_wires(zone, key)
        ours |= wires
        count = sum(bool(a.ds & wires) for a in view.answers)
        parts.append(f"DS of KSK {key.tag} at {count} of {asked} parent servers")
    others = set().union(*(a.ds for a in view.answers)) - ours
    if others:
        parts.append(f"{len(others)} DS of no key of ours")
    return f"{'; '.join(parts)} ({servers})."


def check_due_parents(now: datetime.datetime | None = None) -> list[str]:
    """check_parent() every zone waiting on its parent (a KSK's DS to come, or the DS to go
    before going insecure) not checked for a while; return the zones checked."""
    now = now or timezone.now()
    checked = []
    for signing in ZoneSigning.objects.filter(zone__enabled=True).select_related("zone"):
        recent = signing.parent_checked and now - signing.parent_checked < CHECK_PARENT_EVERY
        if recent or not _waits_on_parent(signing, now):
            continue
        check_parent(signing.zone, now)
        checked.append(signing.zone.origin)
    return checked


def _waits_on_parent(signing: ZoneSigning, now: datetime.datetime) -> bool:
    if signing.state == "unsigning":
        return True
    return any(s.cds for s in live_keys(signing.zone, now))


def export_keys(zone: Zone) -> list[tuple[str, str, str]]:
    """Return (file stem, .key text, .private text) for each key, as BIND writes them."""
    out = []
    for key in zone.signing_keys.all():
        stem = f"K{zone.origin}+{key.algorithm:03d}+{key.tag:05d}"
        public = f"{zone.origin} {DNSKEY_TTL} IN DNSKEY {key.dnskey}\n"
        private = signer.bind_private_text(_private(key.private_sealed), key.algorithm)
        out.append((stem, public, private))
    return out


MAINTAIN_EVERY = 60.0  # seconds between a worker's maintain_all() rounds
_next_round = [0.0]


_parent_checks: set[asyncio.Task] = set()


async def maintain_now_and_then() -> None:
    """Run maintain_all() from a DNS worker's reconcile, once a minute at most, and ask the
    parents that are waited on in the background (a silent parent takes seconds)."""
    now = asyncio.get_running_loop().time()
    if now < _next_round[0]:
        return
    _next_round[0] = now + MAINTAIN_EVERY
    if not _parent_checks:
        task = asyncio.create_task(_check_parents())
        _parent_checks.add(task)
        task.add_done_callback(_parent_checks.discard)
    try:
        await database_sync_to_async(maintain_all)()
    except Exception:
        logger.exception("DNSSEC maintenance failed; trying again in a minute")


async def _check_parents() -> None:
    """check_due_parents() in a thread of its own: the database thread stays free."""
    try:
        await database_sync_to_async(check_due_parents, thread_sensitive=False)()
    except Exception:
        logger.exception("DNSSEC parent checks failed; trying again in a minute")

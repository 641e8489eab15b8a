"""Zones and records: the source of truth that `rundns` serves from memory."""

from __future__ import annotations

import datetime
import functools
import hashlib
import ipaddress
import secrets
from collections.abc import Sized

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from appliance.control import BOT_GROUP, DNS_GROUP, ring
from dnsadmin import rules
from dnsadmin.names.addresses import parse_address
from dnsadmin.names.notify import parse_targets

SERIAL_MODULO = 2**32


def next_serial(current: int, today: datetime.date) -> int:
    """Return the next SOA serial in the YYYYMMDDnn scheme, never going backwards.

    Serials compare by RFC 1982 arithmetic, so "greater" means within 2**31
    ahead modulo 2**32. When today's date-based serial is not ahead of the
    current one (more than 99 changes today, or an old serial from another
    scheme that is larger), the serial just goes up by one.
    """
    dated = int(today.strftime("%Y%m%d")) * 100
    if serial_gt(dated, current):
        return dated
    return (current + 1) % SERIAL_MODULO


def serial_gt(a: int, b: int) -> bool:
    """RFC 1982 §3.2: is serial ``a`` greater than serial ``b``?"""
    return a != b and ((a - b) % SERIAL_MODULO) < 2**31


@functools.lru_cache(maxsize=1024)
def name_of(origin: str) -> dns.name.Name:
    """Parse a zone's origin once: the rules ask for it for every record of a change."""
    return dns.name.from_text(origin)


def validate_origin(value: str) -> None:
    try:
        dns.name.from_text(value)
    except dns.exception.DNSException as error:
        raise ValidationError(f"Not a valid domain name: {error}") from None


def validate_cidr_list(value: str) -> None:
    items = iter(value.split())
    for item in items:
        if item == "key":  # a TSIG key ("key NAME"), as BIND's ACLs write it
            if next(items, None) is None:
                raise ValidationError("'key' must be followed by a TSIG key name.")
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValidationError(f"{item!r} is not an IP address or network.") from None


def validate_parental_agents(value: str) -> None:
    for item in value.split():
        try:
            parse_address(item)
        except ValueError as error:
            raise ValidationError(str(error)) from None


def validate_notify_targets(value: str) -> None:
    try:
        parse_targets(value)  # addresses, each optionally followed by "key NAME" (TSIG)
    except ValueError as error:
        raise ValidationError(str(error)) from None


class ZoneQuerySet(models.QuerySet):
    """Zones narrowed to what a user (and an API token) may see or change: the rule itself
    lives in `dnsadmin.access`, so every page and the API ask it the same way."""

    def viewable_by(self, user, token: ApiToken | None = None) -> ZoneQuerySet:
        from dnsadmin import access

        return access.narrow(self, user, access.VIEW, token)

    def editable_by(self, user, token: ApiToken | None = None) -> ZoneQuerySet:
        from dnsadmin import access

        return access.narrow(self, user, access.EDIT, token)


class Zone(models.Model):
    origin = models.CharField(
        max_length=255,
        unique=True,
        validators=[validate_origin],
        help_text="The zone's name, e.g. example.org.",
    )
    enabled = models.BooleanField(default=True)
    primary_ns = models.CharField(
        "primary name server", max_length=255, help_text="SOA MNAME, e.g. ns1.example.org."
    )
    contact = models.CharField(max_length=255, help_text="SOA RNAME, e.g. hostmaster.example.org.")
    serial = models.PositiveBigIntegerField(default=1)
    refresh = models.PositiveIntegerField(default=3600)
    retry = models.PositiveIntegerField(default=900)
    expire = models.PositiveIntegerField(default=1209600)
    minimum = models.PositiveIntegerField(
        "negative TTL",
        default=3600,
        help_text="SOA MINIMUM: how long resolvers cache a negative answer.",
    )
    default_ttl = models.PositiveIntegerField("default TTL", default=3600)
    transfer_acl = models.TextField(
        "transfer ACL",
        blank=True,
        validators=[validate_cidr_list],
        help_text="Addresses or networks allowed to AXFR, or key NAME for a TSIG key, separated by "
        "spaces or lines. Empty: none.",
    )
    notify_targets = models.TextField(
        blank=True,
        validators=[validate_notify_targets],
        help_text="Secondary servers to NOTIFY when the serial changes: addresses, each with an "
        "optional port (192.0.2.2, 192.0.2.3:5353, [2001:db8::2]:53), separated by spaces or lines.",
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = ZoneQuerySet.as_manager()

    class Meta:
        ordering = ["origin"]

    def __str__(self) -> str:
        return self.origin

    def clean(self) -> None:
        try:
            self.origin = self.name.to_text().lower()
        except dns.exception.DNSException:
            return  # the field validator has already reported it
        for field in ("primary_ns", "contact"):
            try:
                value = dns.name.from_text(getattr(self, field), origin=self.name)
            except dns.exception.DNSException as error:
                raise ValidationError({field: f"Not a valid domain name: {error}"}) from None
            setattr(self, field, value.to_text())

    @property
    def name(self) -> dns.name.Name:
        return name_of(self.origin)

    def soa_rdata(self) -> dns.rdata.Rdata:
        return dns.rdtypes.ANY.SOA.SOA(
            dns.rdataclass.IN,
            dns.rdatatype.SOA,
            dns.name.from_text(self.primary_ns),
            dns.name.from_text(self.contact),
            self.serial,
            self.refresh,
            self.retry,
            self.expire,
            self.minimum,
        )

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        self.announce_change()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        self.announce_change()
        return result

    def bump_serial(self) -> None:
        """Advance the serial in the database, inside the caller's transaction."""
        locked = Zone.objects.select_for_update().only("serial").get(pk=self.pk)
        self.serial = next_serial(locked.serial, timezone.now().date())
        self.updated = timezone.now()
        Zone.objects.filter(pk=self.pk).update(serial=self.serial, updated=self.updated)
        self.announce_change()

    def announce_change(self) -> None:
        """Ring the DNS workers (and the bot's zone news) once the change is committed.

        Both also reconcile from the database, so a lost ring only delays them.
        """
        origin, serial = self.origin, self.serial
        updated = self.updated.timestamp() if self.updated else None
        # One ring for both. The version (serial and time of the change, as the workers'
        # reconcile reads them) lets a worker that serves it already skip it; the serial
        # alone would not, since settings change without moving it.
        groups = (DNS_GROUP, BOT_GROUP)
        transaction.on_commit(
            lambda: ring(groups, "zone.changed", origin=origin, serial=serial, updated=updated)
        )

    def rrset_keys(self, exclude_pk: int | None = None) -> set[rules.RecordKey]:
        origin = self.name
        rows = self.records.exclude(pk=exclude_pk).values_list("owner", "rdtype").distinct()
        return {
            rules.RecordKey(rules.parse_owner(owner, origin), dns.rdatatype.from_text(rdtype))
            for owner, rdtype in rows
        }


class Record(models.Model):
    """One record of a zone; rows are written only by the change service (dnsadmin.changes)."""

    # No index of its own: the two below begin with the zone (one index less to keep up
    # costs a big import a twentieth of a second).
    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="records", db_index=False)
    owner = models.CharField(
        "name", max_length=255, help_text="Relative to the zone; @ for the zone itself."
    )
    rdtype = models.CharField("type", max_length=16)
    ttl = models.PositiveIntegerField(
        "TTL", null=True, blank=True, help_text="Empty: the zone's default TTL."
    )
    rdata = models.TextField("data")
    wire = models.BinaryField(editable=False)
    enabled = models.BooleanField(default=True)
    comment = models.CharField(max_length=255, blank=True)
    updated = models.DateTimeField(auto_now=True)
    # Zone-file order as bytes the database sorts (record_sort_key), so a page of a big
    # zone is one indexed query; written with the row by the change service.
    sort_key = models.BinaryField(editable=False, default=b"")

    class Meta:
        ordering = ["zone", "owner", "rdtype", "rdata"]
        indexes = [
            models.Index(fields=["zone", "owner", "rdtype"]),
            models.Index(fields=["zone", "sort_key"], name="dnsadmin_record_zone_order"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.effective_ttl} {self.rdtype} {self.rdata}"

    @property
    def effective_ttl(self) -> int:
        return self.ttl if self.ttl is not None else self.zone.default_ttl

    def clean(self) -> None:
        """Canonicalise and check this record against the rest of its zone."""
        origin = self.zone.name
        errors: dict[str, str] = {}
        try:
            self.canonicalise(origin)
            self.check_against_zone(origin)
        except rules.RecordError as error:
            errors[error.field] = str(error)
        if errors:
            raise ValidationError(errors)

    def canonicalise(self, origin: dns.name.Name) -> None:
        owner = rules.parse_owner(self.owner, origin)
        rdtype = rules.parse_rdtype(self.rdtype)
        rdata = rules.parse_rdata(rdtype, self.rdata, origin)
        self.owner = rules.relative_owner(owner, origin)
        self.rdtype = dns.rdatatype.to_text(rdtype)
        self.rdata = rdata.to_text()
        self.wire = rdata.to_wire()

    def check_against_zone(self, origin: dns.name.Name) -> None:
        key = rules.RecordKey(
            rules.parse_owner(self.owner, origin), dns.rdatatype.from_text(self.rdtype)
        )
        rules.check_zone_data(origin, self.zone.rrset_keys(exclude_pk=self.pk) | {key})
        siblings = self.zone.records.filter(owner=self.owner, rdtype=self.rdtype).exclude(
            pk=self.pk
        )
        other_ttls = {record.effective_ttl for record in siblings}
        rules.check_one_ttl({key: other_ttls | {self.effective_ttl}})
        if siblings.filter(rdata=self.rdata).exists():
            raise rules.RecordError("This record already exists.")

    def save(self, *args, **kwargs) -> None:
        raise ZoneDataError

    def delete(self, *args, **kwargs):
        raise ZoneDataError


def record_sort_key(owner: str, rdtype: str) -> bytes:
    """Return the bytes that sort a record in zone-file order: its owner in DNS canonical
    order (RFC 4034 §6.1: labels from the right, lower case, the apex first), then its type
    number. Labels are joined by 0x01 and the type follows 0x00, so a name sorts before the
    names below it, and a label before the longer labels it begins (labels holding the
    octets 0 or 1, which need escapes, may sort out of place)."""
    number = type_bytes(rdtype)
    if owner == "@":
        return b"\0" + number
    if "\\" in owner:  # escaped dots or octets: let dnspython split the labels
        labels = [label.lower() for label in dns.name.from_text(owner, origin=None).labels]
    else:
        labels = owner.encode().lower().split(b".")  # a big import sorts 100,000 owners
    labels.reverse()
    return b"\1".join(labels) + b"\0" + number


@functools.lru_cache(maxsize=256)
def type_bytes(rdtype: str) -> bytes:
    return rules.type_order(rdtype).to_bytes(3, "big")


class ZoneDataError(TypeError):
    """A record was saved or deleted by itself, behind the change service's back."""

    def __init__(self) -> None:
        super().__init__(
            "Records are written only by dnsadmin.changes (apply_changes, add_record, "
            "import_zone…), which checks the zone rules, bumps the serial and keeps the history."
        )


# Who answered a query; "error" is a SERVFAIL from a link that failed.
RESOLVER_SOURCES = [
    (s, s) for s in ("authority", "cache", "recursive", "forwarder", "hosts", "error")
]


class CacheEntry(models.Model):
    """A worker's cached RRset (or negative answer), written behind for the web and restarts."""

    # No index of its own: the unique (name, type) index serves lookups and ordering by name,
    # and each index more costs every cache miss's write-behind (a quarter of SQLite's work).
    name = models.CharField(max_length=255)
    rdtype = models.CharField("type", max_length=16)
    negative = models.CharField(
        max_length=10,
        blank=True,
        help_text="Empty for data; NXDOMAIN or NODATA for negative answers.",
    )
    rdata = models.TextField(blank=True, help_text="The RRset in presentation format.")
    expires = models.DateTimeField(db_index=True)
    source = models.CharField(max_length=20, choices=RESOLVER_SOURCES, default="recursive")
    worker = models.CharField(max_length=255, blank=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "rdtype"]
        constraints = [models.UniqueConstraint("name", "rdtype", name="unique_cache_entry")]
        verbose_name_plural = "cache entries"

    def __str__(self) -> str:
        return f"{self.name} {self.rdtype}"

    @property
    def ttl_left(self) -> int:
        return max(0, int((self.expires - timezone.now()).total_seconds()))


class QueryLogEntry(models.Model):
    """One answered query, written in batches by rundns off the packet path."""

    time = models.DateTimeField(db_index=True)
    client = models.GenericIPAddressField()
    name = models.CharField(max_length=255)
    rdtype = models.CharField("type", max_length=16)
    rcode = models.CharField(max_length=10)
    source = models.CharField(max_length=20, choices=RESOLVER_SOURCES)
    latency_ms = models.FloatField("latency (ms)")
    transport = models.CharField(max_length=3, default="udp")

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["name", "time"]), models.Index(fields=["client", "time"])]
        verbose_name_plural = "query log"

    def __str__(self) -> str:
        return f"{self.client} {self.name} {self.rdtype} {self.rcode}"


class QueryStats(models.Model):
    """Queries answered per minute by rcode and source: the dashboard's figures.

    Counted for every query, unlike the query log, which is capped per second.
    """

    minute = models.DateTimeField()
    rcode = models.CharField(max_length=10)
    source = models.CharField(max_length=20, choices=RESOLVER_SOURCES)
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-minute"]
        constraints = [
            models.UniqueConstraint("minute", "rcode", "source", name="unique_stats_bucket")
        ]
        verbose_name_plural = "query statistics"

    def __str__(self) -> str:
        return f"{self.minute:%H:%M} {self.rcode} {self.source}: {self.count}"


# Sources that are programs, not people at a page: no user is expected.
SCRIPTED = {"loadzone", "update", "transfer", "dnssec", "catalog"}
ZONE_CREATED = "Zone created"  # the summary of a zone's first entry, written by create_zone


class ZoneChange(models.Model):
    """One applied batch of RRset changes: who, when, and the serials around it.

    The history outlives its zone: deleting a zone leaves its entries (zone set to
    NULL, origin kept) and adds one more, ``zone_deleted``, with every RRset it had.
    """

    # How a change came in: people at the pages, the API or the admin; programs (SCRIPTED):
    # loadzone, an RFC 2136 update, a transfer from a primary, DNSSEC signing, the catalog
    # zone kept in line with the zones (catalogzones.py).
    SOURCES = [
        (s, s)
        for s in ("web", "api", "import", "admin", "revert", "settings")
        + ("loadzone", "update", "transfer", "dnssec", "catalog")
    ]

    zone = models.ForeignKey(
        Zone, on_delete=models.SET_NULL, null=True, blank=True, related_name="changes"
    )
    origin = models.CharField(max_length=255, db_index=True, blank=True)
    zone_deleted = models.BooleanField(default=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept as text too, so the history still names the author after the account is gone.
    username = models.CharField(max_length=150, blank=True)
    source = models.CharField(max_length=16, choices=SOURCES, default="web")
    via = models.CharField(
        max_length=255,
        blank=True,
        help_text="What acted for the author: an API token, a zone file, a TSIG key, a primary.",
    )
    summary = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    serial_before = models.PositiveBigIntegerField()
    serial_after = models.PositiveBigIntegerField()
    reverts = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reverted_by"
    )

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        author = self.username or "?"
        return f"{self.origin} {self.serial_before} -> {self.serial_after} by {author}"

    @property
    def author(self) -> str:
        """Name who made the change and how, e.g. "ann via api (token certbot)"."""
        who = self.username or ("(unknown)" if self.source not in SCRIPTED else "")
        how = f"{self.source} ({self.via})" if self.via else self.source
        return f"{who} via {how}" if who else how

    @property
    def serials(self) -> str:
        """How the history heads this entry; a zone being created had no serial before it."""
        if self.zone_deleted:
            return f"zone deleted at serial {self.serial_before}"
        if self.summary == ZONE_CREATED:
            return f"created, serial {self.serial_after}"
        return f"serial {self.serial_before} → {self.serial_after}"

    def save(self, *args, **kwargs) -> None:
        if not self.origin and self.zone is not None:
            self.origin = self.zone.origin
        super().save(*args, **kwargs)


class RRsetChange(models.Model):
    """An RRset before and after a change; each side a list of record dicts, empty if absent."""

    change = models.ForeignKey(ZoneChange, on_delete=models.CASCADE, related_name="rrsets")
    owner = models.CharField(max_length=255)
    rdtype = models.CharField("type", max_length=16)
    before = models.JSONField(default=list)
    after = models.JSONField(default=list)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["owner", "rdtype"])]

    def __str__(self) -> str:
        return f"{self.owner} {self.rdtype}"

    @property
    def action(self) -> str:
        return rrset_action(self.before, self.after)


def rrset_action(before: Sized, after: Sized) -> str:
    """Say what a change did to an RRset, from its records before and after (either may be empty)."""
    if not before:
        return "added"
    return "changed" if after else "removed"


TOKEN_SCOPES = [("read", "read"), ("write", "read and write")]


class ApiToken(models.Model):
    """A key for the JSON API. Only its SHA-256 is stored: the key is shown once, at creation.

    Keys are 32 random bytes, so a plain hash (no salt, no stretching) cannot be
    brute-forced, and it allows looking a token up by its hash.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dns_api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What uses this token, e.g. certbot.")
    prefix = models.CharField(max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    scope = models.CharField(
        max_length=5,
        choices=TOKEN_SCOPES,
        default="write",
        help_text="read: GET only; write: may also change what its user may change.",
    )
    all_zones = models.BooleanField(
        default=True, help_text="Every zone its user may reach; otherwise only the zones listed."
    )
    zones = models.ManyToManyField("Zone", blank=True, related_name="api_tokens")
    expires = models.DateTimeField(
        null=True, blank=True, help_text="After this the token is refused; empty: never."
    )

    class Meta:
        ordering = ["user", "name"]
        verbose_name = "API token"

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def set_new_key(self) -> str:
        """Give this token a fresh key and return it: the only time it is ever readable."""
        key = secrets.token_urlsafe(32)
        self.prefix = key[:8]
        self.key_hash = self.hash_key(key)
        return key

    @classmethod
    def issue(
        cls, user, name: str, *, scope: str = "write", zones=None, expires=None
    ) -> tuple[ApiToken, str]:
        """Make a token; ``zones`` (an iterable of zones) limits it to those, None: all."""
        token = cls(user=user, name=name, scope=scope, all_zones=zones is None, expires=expires)
        key = token.set_new_key()
        token.save()
        if zones is not None:
            token.zones.set(zones)
        return token, key

    @classmethod
    def authenticate(cls, key: str) -> ApiToken | None:
        token = cls.objects.select_related("user").filter(key_hash=cls.hash_key(key)).first()
        if token is None or not token.user.is_active or token.expired:
            return None
        cls.objects.filter(pk=token.pk).update(last_used=timezone.now())
        return token


class CacheCommand(models.Model):
    """A flush or delete asked for in the web, applied by every DNS worker.

    The `cache.flush`/`cache.delete` events ring the workers at once; this row is
    what they read, then or at their next reconcile, so none misses it.
    """

    FLUSH, DELETE = "flush", "delete"
    action = models.CharField(max_length=10, choices=[(FLUSH, "flush"), (DELETE, "delete")])
    name = models.CharField(max_length=255, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.name}".strip()


# TSIG (RFC 8945) and update policy (RFC 2136 with BIND's update-policy model) -----------

TSIG_ALGORITHMS = ["hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1"]
UPDATE_RULE_TYPES = ["name", "subdomain", "wildcard", "zonesub", "self"]


class TsigKey(models.Model):
    """A shared secret for signed updates, transfers and NOTIFY; the secret is sealed at rest
    (appliance.vault) and readable once, when the key is made."""

    name = models.CharField(max_length=255, unique=True, help_text="Key name, e.g. acme.")
    algorithm = models.CharField(
        max_length=20, choices=[(a, a) for a in TSIG_ALGORITHMS], default="hmac-sha256"
    )
    sealed_secret = models.TextField(editable=False)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "TSIG key"

    def __str__(self) -> str:
        return self.name


class UpdateRule(models.Model):
    """One ordered grant or deny of a zone's update policy, as BIND's update-policy reads it."""

    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="update_rules")
    position = models.PositiveIntegerField(default=0)
    grant = models.BooleanField(default=True, help_text="Grant (or deny) what the rule matches.")
    key = models.ForeignKey(TsigKey, on_delete=models.CASCADE, related_name="rules")
    rule_type = models.CharField(max_length=10, choices=[(t, t) for t in UPDATE_RULE_TYPES])
    name = models.CharField(
        max_length=255, blank=True, help_text="For name, subdomain and wildcard rules."
    )
    types = models.CharField(
        max_length=255,
        blank=True,
        help_text="Record types, separated by spaces; empty: all but SOA, NS and the DNSSEC types.",
    )

    class Meta:
        ordering = ["zone", "position", "id"]

    def __str__(self) -> str:
        words = ["grant" if self.grant else "deny", self.key.name, self.rule_type, self.name]
        return " ".join(w for w in [*words, self.types] if w)


class ZoneSigning(models.Model):
    """A zone signed with DNSSEC: how, and the signing period every DNS worker signs for.

    The keys are ``SigningKey`` rows; what is signed is worked out by the DNS workers from
    the records and the keys (dnsadmin/dnssec.py, names/signer.py), never stored as records.
    """

    STATES = [("signed", "signed"), ("unsigning", "going insecure")]

    zone = models.OneToOneField(Zone, on_delete=models.CASCADE, related_name="signing")
    algorithm = models.PositiveSmallIntegerField(default=13)
    nsec3 = models.BooleanField("NSEC3", default=True)
    state = models.CharField(max_length=10, choices=STATES, default="signed")
    zsk_lifetime_days = models.PositiveIntegerField("ZSK lifetime (days)", default=30)
    # Signatures run from period_start - 1 h to period_start + validity (jittered), and are
    # made again from a new period halfway through: every worker agrees on the window.
    period_start = models.DateTimeField()
    served_keys = models.TextField(blank=True, help_text="The key states last announced.")
    unsigning_until = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    # The parent's DS, as its servers answer (dnsadmin/dnssec.py check_parent, BIND's checkds).
    parental_agents = models.TextField(
        blank=True,
        validators=[validate_parental_agents],
        help_text="Servers of the parent zone to ask for the DS: ADDR or ADDR:PORT, separated "
        "by spaces; empty: the parent zone's name servers, found through the resolver.",
    )
    parent_checked = models.DateTimeField(null=True, blank=True)
    parent_report = models.TextField(blank=True, help_text="What the last check found.")
    parent_ds_ttl = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.zone} signed"


class SigningKey(models.Model):
    """One DNSSEC key of a zone and its timeline (RFC 7583): published, active (signing),
    retired (no longer signing), removed (gone from the key set). The private key is sealed
    with appliance/vault.py and never shown."""

    ROLES = [("ksk", "key signing key"), ("zsk", "zone signing key")]

    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="signing_keys")
    role = models.CharField(max_length=3, choices=ROLES)
    algorithm = models.PositiveSmallIntegerField()
    tag = models.PositiveIntegerField()
    dnskey = models.TextField(help_text="The public key, as DNSKEY rdata text.")
    private_sealed = models.TextField(editable=False)
    created = models.DateTimeField(default=timezone.now)
    published = models.DateTimeField()
    active = models.DateTimeField(null=True, blank=True)
    retired = models.DateTimeField(null=True, blank=True)
    removed = models.DateTimeField(null=True, blank=True)
    # KSK: when the parent was seen (or confirmed) to publish this key's DS.
    ds_seen = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["zone", "role", "published", "id"]

    def __str__(self) -> str:
        return f"{self.zone} {self.role} {self.tag}"


class ZonePermission(models.Model):
    """A user or a group granted view or edit on one zone, or on every zone (no zone).

    Decided on in `dnsadmin.access` only; staff need no grant.
    """

    VIEW, EDIT = "view", "edit"
    LEVELS = [(VIEW, "view"), (EDIT, "view and edit")]

    zone = models.ForeignKey(
        Zone,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="permissions",
        help_text="Empty: every zone, present and future.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="dns_zone_permissions",
    )
    group = models.ForeignKey(
        "auth.Group",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="dns_zone_permissions",
    )
    level = models.CharField(max_length=4, choices=LEVELS, default=VIEW)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "zone permission"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=True, group__isnull=False)
                | models.Q(user__isnull=False, group__isnull=True),
                name="zone_permission_user_xor_group",
            ),
        ]

    def __str__(self) -> str:
        who = f"user {self.user}" if self.user_id else f"group {self.group}"
        return f"{who}: {self.level} on {self.zone or 'every zone'}"


class SecondaryZone(models.Model):
    """A zone copied from primaries by zone transfer (dnsadmin/secondary.py): its data is
    written by transfers only, and this row holds where it comes from and its timers."""

    zone = models.OneToOneField(Zone, on_delete=models.CASCADE, related_name="secondary")
    primaries = models.TextField(
        validators=[validate_notify_targets],
        help_text="Primary servers, tried in order: ADDR or ADDR:PORT, separated by spaces.",
    )
    tsig_key = models.ForeignKey(
        TsigKey, on_delete=models.PROTECT, null=True, blank=True, related_name="secondaries"
    )
    catalog = models.CharField(
        max_length=255, blank=True, help_text="The catalog zone that listed it; empty: none."
    )
    last_check = models.DateTimeField(null=True, blank=True)
    last_transfer = models.DateTimeField(null=True, blank=True)
    last_transfer_kind = models.CharField(max_length=4, blank=True)  # IXFR or AXFR
    next_refresh = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Served as SERVFAIL while True: never transferred yet, or expired (RFC 1035 SOA EXPIRE).
    expired = models.BooleanField(default=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.zone} from {self.primaries}"


class SecondaryLease(models.Model):
    """Which rundns worker does the zone transfers (one row): the others only serve."""

    holder = models.CharField(max_length=255)
    expires = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.holder} until {self.expires}"


class ImportJob(models.Model):
    """A web import of a big zone file, run in the background (dnsadmin/importjobs.py):
    the file, what it would change once read, and how applying it ended."""

    STATES = [(s, s) for s in ("reading", "planned", "applying", "done", "failed")]

    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="import_jobs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    filename = models.CharField(max_length=255, blank=True)
    mode = models.CharField(max_length=8)
    text = models.TextField(blank=True, help_text="The file; emptied once it is applied.")
    state = models.CharField(max_length=10, choices=STATES, default="reading")
    summary = models.CharField(max_length=255, blank=True)
    # The first RRsets the plan touches, as the page shows them (the count is in summary).
    preview = models.JSONField(default=list, blank=True)
    expected = models.CharField(max_length=64, blank=True)  # the zone's fingerprint, planned
    message = models.TextField(blank=True, help_text="How it ended, or what is wrong.")
    change = models.ForeignKey(
        ZoneChange, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"import of {self.filename or 'pasted text'} into {self.zone}: {self.state}"


class PendingBatch(models.Model):
    """The RRset changes one user queued on a zone's page to apply together: kept per user
    and zone in the database (not the session), so that they outlast a logout."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    zone = models.ForeignKey(Zone, on_delete=models.CASCADE, related_name="pending_batches")
    edits = models.JSONField(default=list)  # changes.batch_to_json
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "zone"], name="unique_pending_batch_per_user_zone"
            )
        ]

    def __str__(self) -> str:
        return f"{len(self.edits)} pending RRset changes of {self.user} on {self.zone}"

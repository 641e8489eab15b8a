"""The rules every zone's data obeys, whoever writes it (admin, editor, API, import).

They are checked on whole RRsets by owner, so one function serves a single
record edit and a 100,000-record import alike.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

# Types that may share a name with a CNAME (RFC 2181 §10.1, RFC 4035 §2.5).
CNAME_COMPANIONS = {dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3}
# At and below a zone cut only glue addresses may appear; at the cut itself also
# the delegation's NS, the parent-side DS and DNSSEC proof of absence.
GLUE_TYPES = {dns.rdatatype.A, dns.rdatatype.AAAA}
AT_CUT_TYPES = GLUE_TYPES | {
    dns.rdatatype.NS,
    dns.rdatatype.DS,
    dns.rdatatype.NSEC,
    dns.rdatatype.NSEC3,
    dns.rdatatype.RRSIG,
}
# Types that describe the zone itself and live on the Zone row, not as records.
ZONE_OWNED_TYPES = {dns.rdatatype.SOA}


class RecordError(ValueError):
    """A record breaks a rule; ``field`` says which input to point at."""

    def __init__(self, message: str, field: str = "rdata") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class RecordKey:
    owner: dns.name.Name  # absolute
    rdtype: int


def parse_owner(owner: str, origin: dns.name.Name) -> dns.name.Name:
    """Return the absolute owner from '@', a relative name or an absolute name in the zone."""
    text = owner.strip()
    if not text:
        raise RecordError("The name is empty; use @ for the zone apex.", "owner")
    try:
        name = dns.name.from_text(text, origin=origin)
    except dns.exception.DNSException as error:
        raise RecordError(f"Not a valid domain name: {error}", "owner") from None
    if not name.is_subdomain(origin):
        raise RecordError(
            f"{name} is outside the zone {origin} and cannot be stored in it.", "owner"
        )
    return name


def glob_regex(pattern: str) -> str:
    """Turn a glob (``*``, ``?``) into a regular expression SQLite and PostgreSQL both read.

    fnmatch.translate writes Python-only syntax (``(?s:…)\\Z``) that PostgreSQL refuses.
    """
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return f"^{body}$"


def typed_name(value: str, origin: dns.name.Name, *, literal_dotted: bool) -> dns.name.Name:
    """Read a name as people type it (Technitium's rule rather than BIND's); return it absolute.

    A name ending with the zone's origin is meant literally, and so is a target with
    a dot in it (``literal_dotted``): ``example.com`` as a CNAME target is
    example.com., never example.com.walk.test. Other names are relative to the
    origin. A result that repeats the origin is refused. Zone files keep BIND's rules.
    """
    text = value.strip()
    if not text or any(char.isspace() for char in text):
        raise RecordError("A name has no spaces; use @ for the zone's own name.", "owner")
    bare = origin.to_text(omit_final_dot=True).lower()
    lowered = text.lower()
    literal = lowered.endswith(".") or lowered == bare or lowered.endswith("." + bare)
    if not literal and literal_dotted and "." in text:
        literal = True
    try:
        if text == "@":
            name = origin
        else:
            name = dns.name.from_text(
                text + ("." if literal and not text.endswith(".") else ""), origin=origin
            )
    except dns.exception.DNSException as error:
        raise RecordError(f"Not a valid domain name: {error}", "owner") from None
    twice = dns.name.Name(origin.labels[:-1] + origin.labels)
    if origin != dns.name.root and name.is_subdomain(twice):
        raise RecordError(
            f"{name} has the zone's name {origin} twice; type the name without it "
            f"(e.g. www) or in full (www.{bare}).",
            "owner",
        )
    return name


def relative_owner(name: dns.name.Name, origin: dns.name.Name) -> str:
    return "@" if name == origin else name.relativize(origin).to_text().lower()


def owner_order(owner: str) -> tuple[str, ...]:
    """Sort key of a stored (relative, lower-case) owner in DNS canonical order (RFC 4034
    §6.1): labels compared from the right, the apex first. Cheaper than parsing names, for
    listings and exports of big zones."""
    if owner == "@":
        return ()
    if "\\" in owner:  # escaped dots or octets: let dnspython split the labels
        labels = dns.name.from_text(owner, origin=None).labels
        return tuple(label.decode("latin-1").lower() for label in reversed(labels))
    return tuple(reversed(owner.split(".")))


def type_order(rdtype: str) -> int:
    try:
        return dns.rdatatype.from_text(rdtype)
    except dns.exception.DNSException:
        return 65536


def parse_rdtype(text: str) -> int:
    try:
        rdtype = dns.rdatatype.from_text(text.strip().upper())
    except dns.exception.DNSException:
        raise RecordError(f"Unknown record type {text!r}.", "rdtype") from None
    if dns.rdatatype.is_metatype(rdtype) or rdtype == dns.rdatatype.OPT:
        raise RecordError(f"{text.upper()} is a query type, not a record type.", "rdtype")
    if rdtype in ZONE_OWNED_TYPES:
        raise RecordError("The SOA is edited with the zone's own settings.", "rdtype")
    return rdtype


def parse_rdata(rdtype: int, text: str, origin: dns.name.Name) -> dns.rdata.Rdata:
    """Validate rdata with dnspython; relative names in it are taken against the origin."""
    try:
        return dns.rdata.from_text(
            dns.rdataclass.IN, rdtype, text.strip(), origin=origin, relativize=False
        )
    except Exception as error:  # dnspython raises many kinds for bad rdata
        message = str(error) or type(error).__name__
        raise RecordError(f"Invalid {dns.rdatatype.to_text(rdtype)} data: {message}") from None


def check_zone_data(origin: dns.name.Name, keys: Iterable[RecordKey]) -> None:
    """Raise RecordError for the first rule the set of RRsets breaks."""
    types_by_owner: dict[dns.name.Name, set[int]] = defaultdict(set)
    # The SOA lives on the Zone row, never among the records, but it is at the apex all the
    # same: leaving it out would let a CNAME in there whenever the apex has no other data.
    types_by_owner[origin].update(ZONE_OWNED_TYPES)
    for key in keys:
        types_by_owner[key.owner].add(key.rdtype)
    cuts = {
        owner
        for owner, types in types_by_owner.items()
        if owner != origin and dns.rdatatype.NS in types
    }
    for owner, types in types_by_owner.items():
        check_cname_alone(owner, types, origin)
        check_below_delegation(owner, types, cuts)


def check_cname_alone(owner: dns.name.Name, types: set[int], origin: dns.name.Name) -> None:
    if dns.rdatatype.CNAME in types and owner == origin:
        raise RecordError(
            f"{owner} is the zone apex, which always has the SOA (and NS), and a CNAME must be "
            "alone at its name: use A/AAAA (or HTTPS) records at the apex instead.",
            "owner",
        )
    if dns.rdatatype.CNAME in types and types - CNAME_COMPANIONS - {dns.rdatatype.CNAME}:
        others = ", ".join(
            sorted(
                dns.rdatatype.to_text(t)
                for t in types
                if t not in CNAME_COMPANIONS | {dns.rdatatype.CNAME}
            )
        )
        raise RecordError(
            f"{owner} has a CNAME, which must be alone at its name (also has {others})."
        )


def check_below_delegation(owner: dns.name.Name, types: set[int], cuts: set[dns.name.Name]) -> None:
    for cut in cuts:
        if owner == cut:
            extra = types - AT_CUT_TYPES
        elif owner.is_subdomain(cut):
            extra = types - GLUE_TYPES
        else:
            continue
        if extra:
            names = ", ".join(sorted(dns.rdatatype.to_text(t) for t in extra))
            raise RecordError(
                f"{owner} is at or below the delegation {cut}: only glue (A, AAAA) may be "
                f"there, not {names}."
            )


def check_one_ttl(rrsets: dict[RecordKey, set[int]]) -> None:
    for key, ttls in rrsets.items():
        if len(ttls) > 1:
            raise RecordError(
                f"{key.owner} {dns.rdatatype.to_text(key.rdtype)} has several TTLs "
                f"({', '.join(map(str, sorted(ttls)))}); an RRset has one.",
                "ttl",
            )

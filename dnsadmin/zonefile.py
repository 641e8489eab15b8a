"""BIND zone files in and out, through dnspython's parser and writer.

A file is parsed and checked completely here, before anything is written; the
change service (``dnsadmin.changes.import_zone``) then applies it in one
transaction, so a broken file changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.zone
import dns.zonefile

from dnsadmin import rules
from dnsadmin.models import Zone


class ZoneFileError(ValueError):
    """A zone file that cannot be imported; the message names the line when it can."""


@dataclass
class ParsedRecord:
    owner: str  # relative, '@' for the apex
    rdtype: str
    ttl: int
    rdata: str
    wire: bytes


@dataclass
class ParsedZone:
    origin: dns.name.Name
    soa: dns.rdata.Rdata
    soa_ttl: int
    records: list[ParsedRecord] = field(default_factory=list)


def parse_zone_text(
    text: str, origin: str | None = None, filename: str = "zone file"
) -> ParsedZone:
    """Parse BIND text ($ORIGIN, $TTL, $GENERATE; never $INCLUDE) and check the zone rules."""
    try:
        zone = read_zone(text, origin, filename)
    except dns.exception.SyntaxError as error:
        raise ZoneFileError(locate_syntax_error(text, origin, filename, error)) from None
    except dns.zonefile.CNAMEAndOtherData:
        raise ZoneFileError(locate_cname_conflict(text, origin, filename)) from None
    except dns.exception.DNSException as error:
        raise ZoneFileError(describe_parse_error(error, filename)) from None
    parsed = from_dnspython_zone(zone)
    keys = {
        rules.RecordKey(
            rules.parse_owner(r.owner, parsed.origin), dns.rdatatype.from_text(r.rdtype)
        )
        for r in parsed.records
    }
    try:
        rules.check_zone_data(parsed.origin, keys)
    except rules.RecordError as error:
        raise ZoneFileError(str(error)) from None
    return parsed


def read_zone(text: str, origin: str | None, filename: str) -> dns.zone.Zone:
    return dns.zone.from_text(
        text,
        origin=origin,
        relativize=False,
        filename=filename,
        allow_include=False,
        check_origin=True,
    )


def locate_syntax_error(
    text: str, origin: str | None, filename: str, error: dns.exception.SyntaxError
) -> str:
    """Name the line that is wrong, and show it.

    dnspython reports the tokenizer's line, which is one past the record when
    the rdata was read up to its end of line before being found bad. Parsing
    the lines before the reported one tells which of the two it is.
    """
    prefix = f"{filename}:"
    position, _, detail = str(error).removeprefix(prefix).partition(": ")
    if not position.isdigit():
        return describe_parse_error(error, filename)
    lines = text.splitlines()
    line = int(position)
    if line > 1 and reproduces(lines[: line - 1], origin, filename, detail):
        line -= 1
    shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return f"{filename}:{line}: {detail}" + (f" ({shown})" if shown else "")


def reproduces(lines: list[str], origin: str | None, filename: str, detail: str) -> bool:
    error = prefix_error(lines, origin, filename)
    return isinstance(error, dns.exception.SyntaxError) and str(error).endswith(f": {detail}")


def locate_cname_conflict(text: str, origin: str | None, filename: str) -> str:
    """Name the line that puts a CNAME next to other data (or other data next to a CNAME).

    dnspython refuses it while reading but does not say where. Once the line is in,
    every longer part of the file is refused too, so a bisection on prefixes finds it.
    """
    lines = text.splitlines()
    low, high = 1, len(lines)
    while low < high:
        middle = (low + high) // 2
        if isinstance(
            prefix_error(lines[:middle], origin, filename), dns.zonefile.CNAMEAndOtherData
        ):
            high = middle
        else:
            low = middle + 1
    return (
        f"{filename}:{high}: a CNAME must be alone at its name, so it can be neither next to "
        f"other data nor at the zone apex, which has the SOA and NS ({lines[high - 1].strip()})"
    )


def prefix_error(
    lines: list[str], origin: str | None, filename: str
) -> dns.exception.DNSException | None:
    """Return what reading only these first lines of a file raises, if anything."""
    try:
        read_zone("\n".join(lines) + "\n", origin, filename)
    except dns.exception.DNSException as error:
        return error
    return None


def describe_parse_error(error: dns.exception.DNSException, filename: str) -> str:
    message = str(error)
    if isinstance(error, dns.zone.NoSOA):
        return f"{filename}: the zone has no SOA record at its origin."
    if isinstance(error, dns.zone.NoNS):
        return f"{filename}: the zone has no NS records at its origin."
    if "$INCLUDE" in message or "include" in message.lower():
        return f"{message} ($INCLUDE is refused: paste the included file's records instead)"
    return message if message.startswith(filename) else f"{filename}: {message}"


def from_dnspython_zone(zone: dns.zone.Zone) -> ParsedZone:
    origin = zone.origin
    soa_set = zone.get_rdataset(origin, dns.rdatatype.SOA)
    parsed = ParsedZone(origin=origin, soa=soa_set[0], soa_ttl=soa_set.ttl)
    for name, rdataset in zone.iterate_rdatasets():
        if rdataset.rdtype == dns.rdatatype.SOA and name == origin:
            continue
        owner = rules.relative_owner(name, origin)
        rdtype = dns.rdatatype.to_text(rdataset.rdtype)
        parsed.records.extend(
            ParsedRecord(owner, rdtype, rdataset.ttl, rdata.to_text(), rdata.to_wire())
            for rdata in rdataset
        )
    return parsed


def export_zone(zone: Zone) -> str:
    """Write the zone as BIND text: $ORIGIN, $TTL, the SOA, then every enabled record, sorted."""
    origin = zone.name
    out = dns.zone.Zone(origin, relativize=True)
    soa = out.find_rdataset(dns.name.empty, dns.rdatatype.SOA, create=True)
    soa.add(zone.soa_rdata(), zone.default_ttl)
    for record in zone.records.filter(enabled=True).order_by("owner", "rdtype", "rdata"):
        name = dns.name.from_text(record.owner, origin=origin).relativize(origin)
        rdata = dns.rdata.from_wire(
            dns.rdataclass.IN,
            dns.rdatatype.from_text(record.rdtype),
            bytes(record.wire),
            0,
            len(record.wire),
        )
        out.find_rdataset(name, rdata.rdtype, create=True).add(rdata, record.effective_ttl)
    body = out.to_text(sorted=True, relativize=True, nl="\n", want_origin=False)
    return f"$ORIGIN {origin}\n$TTL {zone.default_ttl}\n{body}"

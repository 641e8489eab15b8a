"""BIND zone files in and out, through dnspython's parser and writer.

A file is parsed and checked completely here, before anything is written; the
change service (``dnsadmin.changes.import_zone``) then applies it in one
transaction, so a broken file changes nothing.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.tokenizer
import dns.zone
import dns.zonefile

from dnsadmin import rules, zonefast
from dnsadmin.models import Zone


class ZoneFileError(ValueError):
    """A zone file that cannot be imported; the message names the line when it can."""


@dataclass(slots=True)  # a big file makes 100,000: made and read faster with slots
class ParsedRecord:
    owner: str  # relative, '@' for the apex
    rdtype: str
    ttl: int
    rdata: str
    wire: bytes


@dataclass
class ParsedZone:
    origin: dns.name.Name
    soa: dns.rdata.Rdata | None  # None only for records to merge into a zone (whole=False)
    soa_ttl: int | None
    records: list[ParsedRecord] = field(default_factory=list)
    # Set by parse_zone_text: records in canonical form, the zone rules checked on them.
    checked: bool = False


# Where a zone file names its origin or an absolute owner: a line's first word.
ORIGIN_LINE = re.compile(r"^\$ORIGIN\s+(\S+)", re.I)
ABSOLUTE_OWNER = re.compile(r"^([^\s;$()]+\.)\s")


def parse_zone_text(
    text: str,
    origin: str | None = None,
    filename: str = "zone file",
    *,
    whole: bool = True,
    default_ttl: int | None = None,
) -> ParsedZone:
    """Parse BIND text ($ORIGIN, $TTL, $GENERATE; never $INCLUDE) and check the zone rules.

    ``whole``: the file is a whole zone, with its SOA and NS; otherwise records to put into
    the zone ``origin`` (the web import), which keeps its own SOA. ``default_ttl``: the TTL
    of records that state none before any $TTL (the zone's own default).
    """
    if origin is not None:
        check_names_inside(text, dns.name.from_text(origin), filename)
    with collector_paused():
        try:
            parsed = read_fast(text, origin, filename, whole=whole, default_ttl=default_ttl)
        except zonefast.Unsupported:
            parsed = read_with_dnspython(
                text, origin, filename, whole=whole, default_ttl=default_ttl
            )
        check_rules(parsed)
    parsed.checked = True
    return parsed


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the objects of a big zone are made:
    they are all kept, and its passes over the growing heap would cost as much as the work
    itself (a second for 100,000 records)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def read_fast(
    text: str, origin: str | None, filename: str, *, whole: bool, default_ttl: int | None
) -> ParsedZone:
    """Read the file with the fast reader; a record it places on one line is reported here."""
    try:
        read = zonefast.read(text, origin, whole=whole, default_ttl=default_ttl)
    except zonefast.RecordDataError as error:
        raise ZoneFileError(line_message(text, filename, error.line, error.detail)) from None
    except zonefast.CnameConflict as error:
        raise ZoneFileError(cname_message(text, filename, error.line)) from None
    parsed = ParsedZone(origin=read.origin, soa=read.soa, soa_ttl=read.soa_ttl)
    parsed.records = [ParsedRecord(*record) for record in read.records]
    return parsed


def read_with_dnspython(
    text: str, origin: str | None, filename: str, *, whole: bool, default_ttl: int | None
) -> ParsedZone:
    """Read the file with dnspython's zone reader, saying which line is wrong and why."""
    try:
        zone = read_zone(text, origin, filename, check_origin=whole, default_ttl=default_ttl)
    except dns.exception.SyntaxError as error:
        raise ZoneFileError(
            locate_syntax_error(text, origin, filename, error, default_ttl)
        ) from None
    except dns.zonefile.CNAMEAndOtherData:
        raise ZoneFileError(locate_cname_conflict(text, origin, filename, default_ttl)) from None
    except dns.exception.DNSException as error:
        raise ZoneFileError(describe_parse_error(error, filename)) from None
    return from_dnspython_zone(zone)


def check_rules(parsed: ParsedZone) -> None:
    """Check the zone rules on the file's RRsets: on owner text first (fast), then, should
    that find something wrong, with the rules themselves, which say what."""
    if rules_hold(parsed):
        return
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


CNAME_COMPANIONS = {dns.rdatatype.to_text(t) for t in rules.CNAME_COMPANIONS}
GLUE_TYPES = {dns.rdatatype.to_text(t) for t in rules.GLUE_TYPES}
AT_CUT_TYPES = {dns.rdatatype.to_text(t) for t in rules.AT_CUT_TYPES}


def rules_hold(parsed: ParsedZone) -> bool:
    """Tell whether rules.check_zone_data finds nothing wrong with a file's RRsets."""
    return keys_obey_rules({(r.owner, r.rdtype) for r in parsed.records})


def keys_obey_rules(keys: set[tuple[str, str]]) -> bool:
    """Tell whether rules.check_zone_data finds nothing wrong with these RRsets (owner as
    stored: relative, lower case, '@'; type mnemonic), reading owners as text: a CNAME alone
    and not at the apex, only glue at and below delegations. False when unsure (escapes)."""
    cnames = {owner for owner, rdtype in keys if rdtype == "CNAME"}
    cuts = {owner for owner, rdtype in keys if rdtype == "NS" and owner != "@"}
    if "@" in cnames:
        return False  # the apex has the SOA
    if cnames and any(
        rdtype != "CNAME" and rdtype not in CNAME_COMPANIONS
        for owner, rdtype in keys
        if owner in cnames
    ):
        return False
    if not cuts:
        return True
    for owner, rdtype in keys:
        if rdtype in GLUE_TYPES:
            continue
        if "\\" in owner or (owner in cuts and rdtype not in AT_CUT_TYPES):
            return False
        # The names above owner, but the apex: a cut there makes owner glue or worse.
        dot = owner.find(".")
        while dot >= 0:
            if owner[dot + 1 :] in cuts:
                return False
            dot = owner.find(".", dot + 1)
    return True


def parse_records_for(zone: Zone, text: str, filename: str, *, replace_all: bool) -> ParsedZone:
    """Parse records to merge into (or replace those of) an existing zone, which keeps its
    SOA: the file needs none, but a replace must bring the apex NS."""
    parsed = parse_zone_text(
        text, origin=zone.origin, filename=filename, whole=False, default_ttl=zone.default_ttl
    )
    if replace_all and not any(r.owner == "@" and r.rdtype == "NS" for r in parsed.records):
        raise ZoneFileError(
            f"{filename}: no NS records at the zone's apex, so a replace would leave "
            f"{zone.origin} without name servers; add them, or merge instead."
        )
    return parsed


def read_zone(
    text: str,
    origin: str | None,
    filename: str,
    check_origin: bool = True,
    default_ttl: int | None = None,
) -> dns.zone.Zone:
    if default_ttl is None or origin is None:
        return dns.zone.from_text(
            text,
            origin=origin,
            relativize=False,
            filename=filename,
            allow_include=False,
            check_origin=check_origin,
        )
    # dns.zone.from_text takes no default TTL; its reader does (records pasted without $TTL).
    zone = dns.zone.Zone(origin, relativize=False)
    with zone.writer(True) as txn:
        tokens = dns.tokenizer.Tokenizer(text, filename)
        dns.zonefile.Reader(tokens, dns.rdataclass.IN, txn, default_ttl=default_ttl).read()
    if check_origin:
        zone.check_origin()
    return zone


def check_names_inside(text: str, origin: dns.name.Name, filename: str) -> None:
    """Refuse a file that names another zone: dnspython silently drops names outside the
    origin, which would import nothing, or complain of a missing SOA that is right there."""
    current = origin
    for number, line in enumerate(text.splitlines(), 1):
        directive, owner = ORIGIN_LINE.match(line), ABSOLUTE_OWNER.match(line)
        found = directive or owner
        if found is None:
            continue
        try:
            name = dns.name.from_text(found[1], origin=current)
        except dns.exception.DNSException:
            continue  # the parser names the line and what is wrong with it
        if directive:
            current = name
        if not name.is_subdomain(origin):
            what = "$ORIGIN" if directive else "the name"
            raise ZoneFileError(
                f"{filename}:{number}: {what} {name} is outside the zone {origin}; is this "
                f"the file of another zone? ({line.strip()})"
            )


def locate_syntax_error(
    text: str,
    origin: str | None,
    filename: str,
    error: dns.exception.SyntaxError,
    default_ttl: int | None = None,
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
    if line > 1 and reproduces(lines[: line - 1], origin, filename, detail, default_ttl):
        line -= 1
    return line_message(text, filename, line, detail)


def line_message(text: str, filename: str, line: int, detail: str) -> str:
    """Say what is wrong on a line of the file, and show the line."""
    lines = text.splitlines()
    shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    if detail.startswith("Text input is malformed") and shown:
        detail = malformed_detail(shown) or detail
    return f"{filename}:{line}: {detail}" + (f" ({shown})" if shown else "")


# What each common type's data looks like, for "Text input is malformed." from dnspython.
EXPECTED = {
    "A": "an IPv4 address such as 192.0.2.1",
    "AAAA": "an IPv6 address such as 2001:db8::1",
    "MX": "a preference and a name, such as 10 mail.example.org.",
    "SRV": "priority, weight, port and target, such as 10 5 5060 sip.example.org.",
    "CAA": 'flags, tag and value, such as 0 issue "letsencrypt.org"',
    "TXT": 'one or more "quoted strings"',
}


def malformed_detail(line: str) -> str:
    """Say what is wrong with a record's data where dnspython only says it is malformed."""
    words = line.split(";", 1)[0].split()
    for index, word in enumerate(words):
        if word.upper() in EXPECTED:
            data = " ".join(words[index + 1 :])
            return f"the {word.upper()} data {data!r} is not {EXPECTED[word.upper()]}"
    return ""


def reproduces(
    lines: list[str], origin: str | None, filename: str, detail: str, default_ttl: int | None
) -> bool:
    error = prefix_error(lines, origin, filename, default_ttl)
    return isinstance(error, dns.exception.SyntaxError) and str(error).endswith(f": {detail}")


def locate_cname_conflict(
    text: str, origin: str | None, filename: str, default_ttl: int | None = None
) -> str:
    """Name the line that puts a CNAME next to other data (or other data next to a CNAME).

    dnspython refuses it while reading but does not say where. Once the line is in,
    every longer part of the file is refused too, so a bisection on prefixes finds it.
    """
    lines = text.splitlines()
    low, high = 1, len(lines)
    while low < high:
        middle = (low + high) // 2
        if isinstance(
            prefix_error(lines[:middle], origin, filename, default_ttl),
            dns.zonefile.CNAMEAndOtherData,
        ):
            high = middle
        else:
            low = middle + 1
    return cname_message(text, filename, high)


def cname_message(text: str, filename: str, line: int) -> str:
    shown = text.splitlines()[line - 1].strip()
    return (
        f"{filename}:{line}: a CNAME must be alone at its name, so it can be neither next to "
        f"other data nor at the zone apex, which has the SOA and NS ({shown})"
    )


def prefix_error(
    lines: list[str], origin: str | None, filename: str, default_ttl: int | None = None
) -> dns.exception.DNSException | None:
    """Return what reading only these first lines of a file raises, if anything."""
    try:
        read_zone("\n".join(lines) + "\n", origin, filename, default_ttl=default_ttl)
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
    parsed = ParsedZone(
        origin=origin,
        soa=soa_set[0] if soa_set else None,
        soa_ttl=soa_set.ttl if soa_set else None,
    )
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


def export_lines(zone: Zone) -> Iterator[str]:
    """Write the zone as BIND text line by line, for a streamed download: $ORIGIN, $TTL, the
    SOA, then every enabled record in zone-file order (names in data are absolute)."""
    yield f"$ORIGIN {zone.origin}\n$TTL {zone.default_ttl}\n"
    yield f"@ {zone.default_ttl} IN SOA {zone.soa_rdata().to_text()}\n"
    # Zone-file order is the stored sort key's (see Record.sort_key): the database sorts.
    rows = (
        zone.records.filter(enabled=True)
        .order_by("sort_key", "rdata")
        .values_list("owner", "ttl", "rdtype", "rdata")
    )
    batch = []
    for owner, ttl, rdtype, rdata in rows.iterator(chunk_size=5000):
        batch.append(f"{owner} {'' if ttl is None else f'{ttl} '}IN {rdtype} {rdata}\n")
        if len(batch) >= 1000:
            yield "".join(batch)
            batch = []
    yield "".join(batch)


def export_zone(zone: Zone) -> str:
    """The whole zone as BIND text (dumpzone, the API): see export_lines."""
    return "".join(export_lines(zone))

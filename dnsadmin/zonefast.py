"""A fast reader of the zone files people write, giving exactly what dnspython's gives.

dnspython's zone reader builds a tokenizer token, a name and an rdata object for every
record: over 10 seconds for 100,000 records. This reader splits plain lines with
``str.split``, keeps names as text, and writes the canonical text and wire form of the
common types itself (A, AAAA, NS, CNAME, PTR, MX, SRV, TXT, CAA in their plain spellings);
the data of any other type, or an unusual spelling, is read by dnspython record by record.
$ORIGIN, $TTL, ``@``, blank and relative owners, TTL and class in either order,
parentheses and comments are handled as dnspython (and BIND) handle them, TTLs and
duplicates merge as in dnspython's zone, and records come out in its order.

Anything else ($GENERATE, $INCLUDE, escapes in owners, another class, DNSSEC records, a
file without SOA or NS, an error this reader cannot place on one line) raises
``Unsupported``: the caller then reads the whole file with dnspython, which says what is
wrong and where. ``tests/dnsadmin/test_loadzone_fast.py`` checks the equality.
"""

from __future__ import annotations

import re
import socket
import struct
from dataclasses import dataclass, field

import dns.exception
import dns.ipv6
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tokenizer
import dns.ttl


class Unsupported(Exception):
    """This reader cannot read the file as dnspython would: read it with dnspython."""


class RecordDataError(Exception):
    """One record's data, on one line, is wrong; ``detail`` is dnspython's message."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(f"{line}: {detail}")
        self.line, self.detail = line, detail


class CnameConflict(Exception):
    """A CNAME shares its name with other data; ``line`` is where the second one comes."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


@dataclass
class Origin:
    """An origin as names are written against it: its text and wire form, and the data
    names already read against it (targets repeat)."""

    name: dns.name.Name
    text: str = ""
    wire: bytes = b""
    names: dict[str, tuple[str, bytes] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.text = self.name.to_text()
        self.wire = self.name.to_wire()


@dataclass(slots=True)
class RRset:
    """One RRset as dnspython's zone holds it: the least TTL, records in first-seen order
    (``seen``: their canonical forms, which dnspython compares)."""

    ttl: int
    records: list[tuple[str, bytes]]
    seen: set[bytes]


@dataclass
class Read:
    origin: dns.name.Name
    soa: dns.rdata.Rdata | None
    soa_ttl: int | None
    # (owner relative and lower-case or '@', type mnemonic, TTL, text, wire), in dnspython's order
    records: list[tuple[str, str, int, str, bytes]]


LINE_BREAK = re.compile(r"\r\n|\r|\n")
# A line str.split() cuts as dnspython's tokenizer does: printable ASCII, spaces and tabs,
# no quotes, escapes, comments or parentheses.
PLAIN = re.compile(r"[^\"\\;()\x00-\x08\x0a-\x1f\x7f-\U0010ffff]*")
# A token as dnspython's tokenizer cuts it: a quoted string (quotes kept), a parenthesis, a
# comment (dropped), or a word, escapes kept in both.
QUOTED, BARE = r'"(?:[^"\\]|\\.)*"', r'(?:[^ \t;()"\\]|\\.)+'
TOKEN = rf"{QUOTED}|[()]|;.*|{BARE}"
LEXABLE = re.compile(rf"(?:[ \t]*(?:{TOKEN}))*[ \t]*")
# Tokens written together (alpn="h2,h3", "a""b") as one: dnspython reads the data again
# spelled as in the file. Parentheses stand alone; a comment is the rest of the line.
WORDS = re.compile(rf"(?:{QUOTED}|{BARE})+|[()]|;.*")
SIMPLE_NAME = re.compile(r"(?:[A-Za-z0-9_*/-]{1,63}\.)*[A-Za-z0-9_*/-]{1,63}\.?")
IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
)
DIGITS = re.compile(r"[0-9]+")
HEX_COLONS = re.compile(r"[0-9A-Fa-f:]+")
# A character string as dnspython writes it unescaped, in or out of quotes.
PLAIN_STRING = re.compile(r"[ !#-\[\]-~]*")
PLAIN_WORD = re.compile(r"[!#-'*-:<-\[\]-~]+")
ALNUM = re.compile(r"[A-Za-z0-9]+")
# Types of one record at most: dnspython's RRset keeps the last one read.
SINGLETONS = {"CNAME", "DNAME", "NSEC", "NXT"}
# Node kinds, as dnspython's CNAME-and-other-data check sees them.
NEUTRAL_TYPES = {"NSEC", "NSEC3", "KEY"}
# Types this reader leaves to dnspython as a whole file: signatures carry what they cover.
WHOLE_FILE_TYPES = {"RRSIG", "SIG"}
OTHER_CLASSES = {"CH", "CHAOS", "HS", "HESIOD", "NONE", "ANY", "RESERVED0"}


def lex(line: str) -> list[str]:
    """Cut one physical line into tokens as dnspython's tokenizer does (quoted strings keep
    their quotes, comments go); raise Unsupported for what it cannot cut."""
    tokens = quoted_words(line)
    if tokens is not None:
        return tokens
    if not LEXABLE.fullmatch(line):
        raise Unsupported("a line the fast reader cannot cut")
    tokens = WORDS.findall(line)
    if tokens and tokens[-1][0] == ";":
        tokens.pop()
    return tokens


def quoted_words(line: str) -> list[str] | None:
    """Cut a line of plain words and quoted strings without escapes, each standing apart,
    and perhaps a comment (TXT and CAA records as people write them) as lex does, at half
    the cost of its regular expressions or less; None for any other line."""
    parts = line.split('"')
    last = len(parts) - 1
    if last % 2:
        return None  # a quote left open
    tokens: list[str] = []
    for index, part in enumerate(parts):
        if index % 2:
            if "\\" in part:
                return None
            tokens.append(f'"{part}"')
            continue
        words, semicolon, _ = part.partition(";")
        if not PLAIN.fullmatch(words):
            return None
        if index and words[:1] not in ("", " ", "\t"):
            return None  # a word written onto the quoted string before it
        if semicolon:
            tokens += words.split()
            return tokens
        if index < last and words[-1:] not in (" ", "\t") and (index or words):
            return None  # a word or quoted string written onto the quoted string after it
        tokens += words.split()
    return tokens


def logical_records(text: str):
    """Yield (first line, last line, starts with blank, tokens) for each non-empty record,
    joining the lines of parentheses."""
    lines = LINE_BREAK.split(text)
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        first = index
        if PLAIN.fullmatch(line):
            tokens = line.split()
        else:
            tokens = lex(line)
            if "(" in tokens or ")" in tokens:
                tokens, index = parenthesised(tokens, lines, index)
        if tokens:
            yield first, index, line[:1] in " \t", tokens


def parenthesised(tokens: list[str], lines: list[str], index: int) -> tuple[list[str], int]:
    """Return the tokens of a record opened with a parenthesis, joined with those of the
    lines up to the one that closes it (lines[index] next), and the index of the line after."""
    depth = tokens.count("(") - tokens.count(")")
    while depth > 0 and index < len(lines):
        more = lex(lines[index])
        index += 1
        depth += more.count("(") - more.count(")")
        tokens += more
    if depth != 0:
        raise Unsupported("unbalanced parentheses")
    return [t for t in tokens if t != "(" and t != ")"], index


def encode_labels(text: str) -> bytes:
    return b"".join(bytes((len(label),)) + label for label in text.encode().split(b"."))


def name_of(token: str, origin: Origin) -> tuple[str, bytes] | None:
    """Return a name's absolute text and wire form as dnspython writes them, or None when it
    is not a plain name (dnspython reads it then)."""
    if token in origin.names:
        return origin.names[token]
    result = None
    if token == "@":
        result = (origin.text, origin.wire)
    elif SIMPLE_NAME.fullmatch(token):
        if token.endswith("."):
            result = (token, encode_labels(token[:-1]) + b"\0")
        elif origin.text == ".":
            result = (token + ".", encode_labels(token) + b"\0")
        else:
            result = (f"{token}.{origin.text}", encode_labels(token) + origin.wire)
        if len(result[1]) > 255:
            result = None
    if len(origin.names) < 10_000:  # data names repeat (targets); owners mostly do not
        origin.names[token] = result
    return result


def uint(token: str, limit: int) -> int | None:
    if not DIGITS.fullmatch(token):
        return None
    value = int(token)
    return value if value <= limit else None


def plain_string(token: str) -> bytes | None:
    """A character string dnspython writes back as it is, without its quotes, or None."""
    if token[:1] == '"':
        body = token[1:-1]
        return body.encode() if PLAIN_STRING.fullmatch(body) and len(body) <= 255 else None
    return token.encode() if PLAIN_WORD.fullmatch(token) and len(token) <= 255 else None


# Each fast type: (data tokens, origin) -> (text, wire, duplicate key) or None.
def read_a(tokens, origin):
    if len(tokens) == 1 and IPV4.fullmatch(tokens[0]):
        wire = socket.inet_aton(tokens[0])
        return tokens[0], wire, wire
    return None


def read_aaaa(tokens, origin):
    if len(tokens) != 1 or ":" not in tokens[0]:
        return None
    if HEX_COLONS.fullmatch(tokens[0]):
        # The C library's reading and writing, a tenth of dnspython's cost: on hex and
        # colons they agree (RFC 5952's text, IPv4-mapped and -compatible forms included,
        # tests/dnsadmin/test_loadzone_fast.py); dotted and scoped forms go to dnspython.
        try:
            wire = socket.inet_pton(socket.AF_INET6, tokens[0])
        except OSError:
            return None
        return socket.inet_ntop(socket.AF_INET6, wire), wire, wire
    try:
        wire = dns.ipv6.inet_aton(tokens[0])
    except dns.exception.SyntaxError:
        return None
    return dns.ipv6.inet_ntoa(wire), wire, wire


def read_target(tokens, origin):
    found = name_of(tokens[0], origin) if len(tokens) == 1 else None
    return None if found is None else (found[0], found[1], found[1].lower())


def read_mx(tokens, origin):
    if len(tokens) != 2:
        return None
    preference, found = uint(tokens[0], 65535), name_of(tokens[1], origin)
    if preference is None or found is None:
        return None
    head = struct.pack("!H", preference)
    return f"{preference} {found[0]}", head + found[1], head + found[1].lower()


def read_srv(tokens, origin):
    if len(tokens) != 4:
        return None
    numbers = [uint(token, 65535) for token in tokens[:3]]
    found = name_of(tokens[3], origin)
    if None in numbers or found is None:
        return None
    head = struct.pack("!HHH", *numbers)
    text = f"{numbers[0]} {numbers[1]} {numbers[2]} {found[0]}"
    return text, head + found[1], head + found[1].lower()


def read_txt(tokens, origin):
    strings = [plain_string(token) for token in tokens]
    if not strings or None in strings:
        return None
    text = " ".join(f'"{s.decode()}"' for s in strings)
    wire = b"".join(bytes((len(s),)) + s for s in strings)
    return text, wire, wire


def read_caa(tokens, origin):
    if len(tokens) != 3 or not ALNUM.fullmatch(tokens[1]) or len(tokens[1]) > 255:
        return None
    flags, value = uint(tokens[0], 255), plain_string(tokens[2])
    if flags is None or value is None:
        return None
    tag = tokens[1].encode()
    wire = bytes((flags, len(tag))) + tag + value
    return f'{flags} {tokens[1]} "{value.decode()}"', wire, wire


FAST_TYPES = {
    "A": read_a,
    "AAAA": read_aaaa,
    "NS": read_target,
    "CNAME": read_target,
    "PTR": read_target,
    "MX": read_mx,
    "SRV": read_srv,
    "TXT": read_txt,
    "CAA": read_caa,
}


class Reader:
    """The state of dnspython's zone reader (origins, last name, the TTL rules) over a file."""

    def __init__(self, origin: str | None, default_ttl: int | None) -> None:
        self.zone: Origin | None = Origin(dns.name.from_text(origin)) if origin else None
        self.current = self.zone
        self.last_name: str | None = "@" if self.zone else None
        self.last_ttl, self.last_ttl_known = 0, False
        self.default_ttl = default_ttl or 0
        self.default_ttl_known = default_ttl is not None
        self.default_ttl_from_soa = False
        self.soa: dns.rdata.Rdata | None = None
        self.soa_ttl: int | None = None
        # owner -> type -> RRset; a type added to again moves last, as in dnspython's nodes
        self.nodes: dict[str, dict[str, RRset]] = {}
        self.types: dict[str, str] = {}

    def read(self, text: str) -> Read:
        for first, last, blank, tokens in logical_records(text):
            if tokens[0][0] == "$" and not blank:
                self.directive(tokens)
            else:
                self.record(first, last, blank, tokens)
        if self.zone is None:
            raise Unsupported("no origin")
        records = [
            (owner, rdtype, rrset.ttl, text, wire)
            for owner, types in self.nodes.items()
            for rdtype, rrset in types.items()
            for text, wire in rrset.records
        ]
        return Read(self.zone.name, self.soa, self.soa_ttl, records)

    def directive(self, tokens: list[str]) -> None:
        word = tokens[0].upper()
        if word == "$TTL" and len(tokens) == 2:
            try:
                self.default_ttl = dns.ttl.from_text(tokens[1])
            except dns.exception.DNSException:
                raise Unsupported("bad $TTL") from None
            self.default_ttl_known, self.default_ttl_from_soa = True, False
        elif word == "$ORIGIN" and len(tokens) == 2 and "\\" not in tokens[1]:
            try:
                name = dns.name.from_text(tokens[1], self.current.name if self.current else None)
            except dns.exception.DNSException:
                raise Unsupported("bad $ORIGIN") from None
            if not name.is_absolute() or name == dns.name.root:
                raise Unsupported("relative $ORIGIN")
            self.current = Origin(name)
            if self.zone is None:
                self.zone = self.current  # the last name stays undefined, as in dnspython
        else:
            raise Unsupported(f"directive {word}")

    def owner(self, token: str) -> str:
        """Return the owner relative to the zone, lower-case ('@' for the apex), as the
        zone stores it; raise Unsupported for anything but a plain name inside the zone."""
        current, zone = self.current, self.zone
        if token == "@":
            absolute = current.text
        elif SIMPLE_NAME.fullmatch(token):
            if current is zone and not token.endswith("."):
                # The common case: a name relative to the zone, stored as it is written.
                if len(token) + len(zone.text) > 253:
                    raise Unsupported("a name too long")
                return token.lower()
            absolute = token if token.endswith(".") else f"{token}.{current.text}"
        else:
            raise Unsupported("owner")
        if len(absolute) > 254:
            raise Unsupported("a name too long")
        absolute, apex = absolute.lower(), zone.text.lower()
        if absolute == apex:
            return "@"
        if not absolute.endswith("." + apex):
            raise Unsupported("owner outside the zone")  # dnspython drops it silently
        return absolute[: -len(apex) - 1]

    def ttl_token(self, token: str) -> int | None:
        """The TTL a token states, or None when it is not a TTL (dnspython's test)."""
        if token.isdigit() and token.isascii():  # as DIGITS, without a regular expression
            value = int(token)
            if value > dns.ttl.MAX_TTL:
                raise Unsupported("TTL out of range")
        elif token[:1].isdigit():
            try:
                value = dns.ttl.from_text(token)
            except dns.exception.DNSException:
                return None
        else:
            return None
        self.last_ttl, self.last_ttl_known = value, True
        return value

    def implicit_ttl(self) -> int | None:
        if self.last_ttl_known and (not self.default_ttl_known or self.default_ttl_from_soa):
            return self.last_ttl
        return self.default_ttl if self.default_ttl_known else None

    def record(self, first: int, last: int, blank: bool, tokens: list[str]) -> None:
        if self.current is None:
            raise Unsupported("no origin")
        if blank:
            if self.last_name is None:
                raise Unsupported("no last name")
            owner, position = self.last_name, 0
        else:
            owner, position = self.owner(tokens[0]), 1
            self.last_name = owner
        # TTL and class in either order. The checks in line spare a call for the common
        # spellings: a token that starts with no digit is no TTL (ttl_token's own test).
        count, ttl = len(tokens), None
        if position < count and tokens[position][:1].isdigit():
            ttl = self.ttl_token(tokens[position])
            if ttl is not None:
                position += 1
        if position < count and (tokens[position] == "IN" or self.is_class(tokens[position])):
            position += 1
        if ttl is None:
            if position < count and tokens[position][:1].isdigit():
                ttl = self.ttl_token(tokens[position])
            if ttl is not None:
                position += 1
            else:
                ttl = self.implicit_ttl()
        if position >= count:
            raise Unsupported("no type")
        rdtype = self.rdtype(tokens[position])
        data = tokens[position + 1 :]
        if rdtype == "SOA":
            self.read_soa(owner, ttl, first, last, data)
            return
        if ttl is None:
            raise Unsupported("no TTL")
        reader = FAST_TYPES.get(rdtype)
        found = reader(data, self.current) if reader and data else None
        if found is None:
            found = self.slow_data(rdtype, data, first, last)
        self.add(owner, rdtype, ttl, found, last)

    def is_class(self, token: str) -> bool:
        word = token.upper()
        if word == "IN" or word == "CLASS1":
            return True
        if word in OTHER_CLASSES or (word.startswith("CLASS") and word[5:].isdigit()):
            raise Unsupported("another class")
        return False

    def rdtype(self, token: str) -> str:
        """Return the type a token names, as its mnemonic (checked once per spelling)."""
        found = self.types.get(token)
        if found is None:
            try:
                code = dns.rdatatype.from_text(token)
            except dns.exception.DNSException:
                raise Unsupported("unknown type") from None
            found = dns.rdatatype.to_text(code)
            if found in WHOLE_FILE_TYPES or dns.rdatatype.is_metatype(code):
                raise Unsupported("signatures, or a query type")
            self.types[token] = found
        return found

    def slow_data(
        self, rdtype: str, data: list[str], first: int, last: int
    ) -> tuple[str, bytes, bytes]:
        """Read one record's data with dnspython, as its zone reader does."""
        rdata = self.parse_with_dnspython(rdtype, data, first, last)
        return rdata.to_text(), rdata.to_wire(), rdata.to_digestable(dns.name.root)

    def parse_with_dnspython(
        self, rdtype: str, data: list[str], first: int, last: int
    ) -> dns.rdata.Rdata:
        try:
            return dns.rdata.from_text(
                dns.rdataclass.IN,
                dns.rdatatype.from_text(rdtype),
                dns.tokenizer.Tokenizer(" ".join(data)),
                self.current.name,
                False,
                self.zone.name,
            )
        except Exception as error:
            if first != last:
                raise Unsupported("an error in a record over several lines") from None
            # The zone reader's words: its own syntax errors as they are, others wrapped.
            if isinstance(error, dns.exception.SyntaxError):
                raise RecordDataError(first, str(error)) from None
            raise RecordDataError(first, f"caught exception {type(error)!s}: {error!s}") from None

    def read_soa(self, owner: str, ttl: int | None, first: int, last: int, data) -> None:
        if owner != "@" or self.soa is not None:
            raise Unsupported("an SOA elsewhere, or twice")
        soa = self.parse_with_dnspython("SOA", data, first, last)
        apex = self.nodes.setdefault("@", {})  # the apex node starts here in dnspython's order
        if "CNAME" in apex:
            raise CnameConflict(last)
        if not self.default_ttl_known:
            # dnspython: without $TTL before it, the SOA's minimum is the default TTL.
            self.default_ttl, self.default_ttl_known, self.default_ttl_from_soa = (
                soa.minimum,
                True,
                True,
            )
            if ttl is None:
                ttl = self.implicit_ttl()
        if ttl is None:
            raise Unsupported("no TTL")
        self.soa, self.soa_ttl = soa, ttl

    def add(self, owner: str, rdtype: str, ttl: int, found, line: int) -> None:
        text, wire, key = found
        types = self.nodes.get(owner)
        if types is None:  # a new name: nothing to merge or to conflict with
            self.nodes[owner] = {rdtype: RRset(ttl, [(text, wire)], {key})}
            return
        rrset = types.pop(rdtype, None)
        if rrset is None:
            check_kinds(owner, rdtype, types, self.soa is not None, line)
            types[rdtype] = RRset(ttl, [(text, wire)], {key})
            return
        if ttl < rrset.ttl:
            rrset.ttl = ttl
        types[rdtype] = rrset
        if rdtype in SINGLETONS:
            rrset.records, rrset.seen = [(text, wire)], {key}  # dnspython keeps the last one
        elif key not in rrset.seen:
            rrset.seen.add(key)
            rrset.records.append((text, wire))


def check_kinds(owner: str, rdtype: str, types: dict, soa_at_apex: bool, line: int) -> None:
    """Refuse a CNAME next to other data as dnspython's zone does while reading."""
    if rdtype in NEUTRAL_TYPES:
        return
    present = set(types) - NEUTRAL_TYPES
    if owner == "@" and soa_at_apex:
        present.add("SOA")
    if not present:
        return
    if (rdtype == "CNAME") != ("CNAME" in present):
        raise CnameConflict(line)


def read(text: str, origin: str | None, *, whole: bool, default_ttl: int | None) -> Read:
    """Read a zone file as dnspython's zone reader would (relativize off, class IN)."""
    if origin is not None and ("\\" in origin or origin == "."):
        raise Unsupported("an escaped origin, or the root")
    result = Reader(origin, default_ttl).read(text)
    if whole and (
        result.soa is None or not any(r[0] == "@" and r[1] == "NS" for r in result.records)
    ):
        raise Unsupported("no SOA or NS at the apex")
    return result

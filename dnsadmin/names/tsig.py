"""TSIG (RFC 8945): keys, verifying signed messages, signing responses, and the failures
answered as BIND answers them.

A request whose key we do not know, or whose algorithm is not the key's, gets NOTAUTH with TSIG
error BADKEY; a wrong MAC gets BADSIG; both unsigned (RFC 8945 5.3.2). A request signed too far
from our clock (more than the fudge it carries, 300 s from nsupdate and dnspython) gets BADTIME,
signed, with our time in Other Data (RFC 8945 5.2.3). Every other response to a signed request
is signed; a zone transfer signs every message, each MAC chained to the one before (5.3.1).
"""

from __future__ import annotations

import base64
import secrets
import struct
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.tsig
import dns.wire

from . import wire
from .update import read_name

ALGORITHMS = {
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha1": dns.tsig.HMAC_SHA1,
}
SECRET_BYTES = {"hmac-sha384": 48, "hmac-sha512": 64}  # tsig-keygen's sizes; 32 otherwise
FUDGE = 300
BADSIG, BADKEY, BADTIME = dns.rcode.BADSIG, dns.rcode.BADKEY, dns.rcode.BADTIME
OPCODE_BITS = 0x7800  # of a header's flags
ERRORS = {BADSIG: "BADSIG", BADKEY: "BADKEY", BADTIME: "BADTIME"}  # 16 is BADVERS elsewhere
# TYPE TSIG, CLASS ANY: where these four bytes are absent, a message carries no TSIG.
TSIG_MARK = struct.pack("!HH", dns.rdatatype.TSIG, dns.rdataclass.ANY)

Keyring = Mapping[dns.name.Name, dns.tsig.Key]


def key_name(text: str) -> dns.name.Name:
    """Return a key's name as DNS compares it (absolute, case-insensitive)."""
    return dns.name.from_text(text.strip().lower())


def new_secret(algorithm: str) -> bytes:
    """Return a fresh random secret of the size tsig-keygen makes for algorithm."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown TSIG algorithm {algorithm!r}")
    return secrets.token_bytes(SECRET_BYTES.get(algorithm, 32))


def make_key(name: str, secret: bytes, algorithm: str) -> dns.tsig.Key:
    return dns.tsig.Key(key_name(name), secret, ALGORITHMS[algorithm])


def key_clause(name: str, algorithm: str, secret: bytes) -> str:
    """Return the key as BIND's configuration (and tsig-keygen, and nsupdate -k) write it."""
    encoded = base64.b64encode(secret).decode()
    bare = key_name(name).to_text(omit_final_dot=True)
    return f'key "{bare}" {{\n\talgorithm {algorithm};\n\tsecret "{encoded}";\n}};\n'


def split_acl(items: Iterable[str]) -> tuple[list[str], frozenset[dns.name.Name]]:
    """Split an ACL's words into addresses or networks and the names after ``key``."""
    cidrs: list[str] = []
    keys: set[dns.name.Name] = set()
    words = iter(items)
    for word in words:
        if word == "key":
            keys.add(key_name(next(words, ".")))
        else:
            cidrs.append(word)
    return cidrs, frozenset(keys)


def claims(query: bytes) -> bool:
    """Tell, cheaply, whether a message may be an UPDATE or carry a TSIG: those leave the fast
    path (a false positive only costs the slow one)."""
    return len(query) > 12 and ((query[2] >> 3) & 0xF == 5 or TSIG_MARK in query)


@dataclass
class Verified:
    """A parsed request and what its TSIG says: no key (unsigned), the key, or an error."""

    message: dns.message.Message | SignedUpdate
    key: dns.tsig.Key | None = None
    error: int = 0
    tsig_start: int = 0

    @property
    def signed(self) -> bool:
        return self.message.had_tsig

    @property
    def key_text(self) -> str:
        return self.message.keyname.to_text(omit_final_dot=True) if self.signed else ""


def verify(message_wire: bytes, keyring: Keyring) -> Verified:
    """Parse a request and check its TSIG; raise DNSException when it is malformed."""
    read = signed_update(message_wire)
    if read is not None:
        message, start = read
    else:
        message = dns.message.from_wire(message_wire, keyring=_unchecked, ignore_trailing=False)
        if not message.had_tsig:
            return Verified(message)
        start = tsig_offset(message_wire)
    rdata = message.tsig[0]
    key = keyring.get(message.keyname.canonicalize())
    if key is None or key.algorithm != rdata.algorithm:
        return Verified(message, error=BADKEY, tsig_start=start)
    try:
        # What dnspython's parse does with a key (the message is parsed once, not again).
        dns.tsig.validate(message_wire, key, message.keyname, rdata, int(time.time()), b"", start)
    except dns.tsig.BadSignature:
        return Verified(message, key, BADSIG, start)
    except dns.tsig.BadTime:
        return Verified(message, key, BADTIME, start)
    except dns.tsig.BadKey:
        return Verified(message, error=BADKEY, tsig_start=start)
    return Verified(message, key, 0, start)


class Zone(NamedTuple):
    """An UPDATE's zone section, as dnspython's question RRset names its fields."""

    name: dns.name.Name
    rdtype: int
    rdclass: int


@dataclass
class SignedUpdate:
    """What verify(), error_response() and Signer read of a signed UPDATE, under the names
    dnspython's Message gives them (its zone section is its ``question``), read without
    building a Message."""

    id: int
    flags: int
    question: list[Zone]
    keyname: dns.name.Name
    tsig: list[dns.rdtypes.ANY.TSIG.TSIG]  # its one record's rdata
    edns: int = -1
    had_tsig: bool = True

    def opcode(self) -> dns.opcode.Opcode:
        return dns.opcode.from_flags(self.flags)


def signed_update(message_wire: bytes) -> tuple[SignedUpdate, int] | None:
    """Read a request UPDATE whose one additional record is its TSIG as dnspython reads it,
    but for its prerequisite and update sections, which are left unread (names/update.py
    reads them; dnspython's reading of them would double the cost of an update's checks);
    return it and where its TSIG starts. None for any other message (a response too), which
    dnspython reads whole; raise DNSException where dnspython does."""
    if len(message_wire) < 12:
        return None
    ident, flags, zocount, prcount, upcount, adcount = wire.HEADER.unpack_from(message_wire)
    if (flags >> 11) & 0xF != dns.opcode.UPDATE or zocount != 1 or adcount != 1:
        return None
    if flags & dns.flags.QR:
        return None  # dnspython reads it, and error_response refuses to answer it
    try:
        zone, position = read_name(message_wire, 12)
        ztype, zclass = struct.unpack_from("!HH", message_wire, position)
        if ztype != dns.rdatatype.SOA or dns.rdataclass.is_metaclass(zclass):
            return None  # dnspython's FORMERR
        position += 4
        for _ in range(prcount + upcount):
            position = wire.read_labels(message_wire, position)[1]
            rdtype, _, _, rdlength = wire.RR_HEADER.unpack_from(message_wire, position)
            if rdtype in (dns.rdatatype.TSIG, dns.rdatatype.OPT):
                raise dns.exception.FormError(f"{dns.rdatatype.to_text(rdtype)} out of place")
            position += 10 + rdlength
        start = position
        owner, position = read_name(message_wire, position)
        rdtype, rdclass, _, rdlength = wire.RR_HEADER.unpack_from(message_wire, position)
        if rdtype != dns.rdatatype.TSIG:
            return None  # an OPT, say
        if rdclass != dns.rdataclass.ANY:
            raise dns.message.BadTSIG
        rdata = _tsig_rdata(message_wire, position + 10, rdlength)
    except (IndexError, struct.error):
        raise dns.exception.FormError("message too short") from None
    except ValueError as error:  # a field out of range (an error code above 4095, say)
        raise dns.exception.FormError(str(error)) from None
    question = [Zone(zone, dns.rdatatype.SOA, zclass)]
    return SignedUpdate(ident, flags, question, owner, [rdata]), start


def _tsig_rdata(message_wire: bytes, position: int, rdlength: int) -> dns.rdtypes.ANY.TSIG.TSIG:
    """Read a TSIG record's data, the message's last, as dnspython's TSIG.from_wire_parser
    reads it (FormError if it runs short or long, TrailingJunk if bytes follow it)."""
    end = position + rdlength
    if end < len(message_wire):
        raise dns.message.TrailingJunk
    algorithm, position = read_name(message_wire, position)
    high, low, fudge, size = struct.unpack_from("!HIHH", message_wire, position)
    mac = message_wire[position + 10 : position + 10 + size]
    position += 10 + size
    original_id, error, other_size = struct.unpack_from("!HHH", message_wire, position)
    other = message_wire[position + 6 : position + 6 + other_size]
    if position + 6 + other_size != end or end > len(message_wire):
        raise dns.exception.FormError("TSIG record of the wrong length")
    return dns.rdtypes.ANY.TSIG.TSIG(
        dns.rdataclass.ANY, dns.rdatatype.TSIG, algorithm, high << 32 | low, fudge, mac,
        original_id, error, other,
    )  # fmt: skip


def _unchecked(message: dns.message.Message, name: dns.name.Name) -> bool:
    return False  # read the TSIG without checking it: verify() checks it by itself


def tsig_offset(message_wire: bytes) -> int:
    """Return where the last record (the TSIG) starts."""
    counts = wire.HEADER.unpack_from(message_wire)
    position = 12
    for _ in range(counts[2]):
        position = wire.read_name(message_wire, position)[1] + 4
    start = position
    for _ in range(sum(counts[3:])):
        start = position
        position = wire.read_name(message_wire, position)[1]
        position += 10 + wire.RR_HEADER.unpack_from(message_wire, position)[3]
    return start


def unsigned(message_wire: bytes, tsig_start: int) -> bytes:
    """Return the request without its TSIG, as it is answered."""
    arcount = struct.unpack_from("!H", message_wire, 10)[0] - 1
    return message_wire[:10] + struct.pack("!H", arcount) + message_wire[12:tsig_start]


@dataclass
class Signer:
    """Signs the responses to one verified request, chaining the MACs of a multi-message one."""

    request: Verified
    ctx: object = None

    def sign(self, response: bytes, *, multi: bool = False, now: int | None = None) -> bytes:
        """Return response with its TSIG; an unsigned request's response is returned as it is."""
        request = self.request
        if not request.signed:
            return response
        theirs = request.message.tsig[0]
        if request.error in (BADKEY, BADSIG):
            rdata = _tsig(theirs, request.error, b"", int(time.time()))
            return _append(response, request.message.keyname, rdata)
        now = int(time.time()) if now is None else now
        if not multi and not request.error:
            return _signed_once(response, request, now)
        other = b""
        if request.error == BADTIME:
            other, now = struct.pack("!HI", now >> 32, now & 0xFFFFFFFF), theirs.time_signed
        rdata = _tsig(theirs, request.error, other, now)
        signed, self.ctx = dns.tsig.sign(
            response, request.key, rdata, now, theirs.mac, self.ctx, multi
        )
        return _append(response, request.message.keyname, signed)


def _signed_once(response: bytes, request: Verified, now: int) -> bytes:
    """Sign the one response to a request verified without error: what dns.tsig.sign
    digests and _append writes, without making the TSIG rdata twice (an update's answer)."""
    theirs, key = request.message.tsig[0], request.key
    times = struct.pack("!HIH", (now >> 32) & 0xFFFF, now & 0xFFFFFFFF, FUDGE)
    context = dns.tsig.get_context(key)
    if theirs.mac:  # as dns.tsig.sign, which digests a request's MAC only when there is one
        context.update(struct.pack("!H", len(theirs.mac)) + theirs.mac)
    context.update(struct.pack("!H", theirs.original_id) + response[2:])
    context.update(key.name.to_digestable() + ANY_CLASS_NO_TTL)
    context.update(key.algorithm.to_digestable() + times + NO_ERROR_NO_OTHER)
    mac = context.sign()
    data = b"".join((
        theirs.algorithm.to_wire(), times, struct.pack("!H", len(mac)), mac,
        struct.pack("!H", theirs.original_id), NO_ERROR_NO_OTHER,
    ))  # fmt: skip
    owner = request.message.keyname.to_wire()
    record = owner + wire.RR_HEADER.pack(dns.rdatatype.TSIG, dns.rdataclass.ANY, 0, len(data))
    arcount = struct.unpack_from("!H", response, 10)[0] + 1
    return response[:10] + struct.pack("!H", arcount) + response[12:] + record + data


ANY_CLASS_NO_TTL = struct.pack("!HI", dns.rdataclass.ANY, 0)
NO_ERROR_NO_OTHER = struct.pack("!HH", 0, 0)


def _tsig(theirs, error: int, other: bytes, now: int) -> dns.rdtypes.ANY.TSIG.TSIG:
    return dns.rdtypes.ANY.TSIG.TSIG(
        dns.rdataclass.ANY, dns.rdatatype.TSIG, theirs.algorithm, now, FUDGE, b"",
        theirs.original_id, error, other,
    )  # fmt: skip


def _append(message_wire: bytes, owner: dns.name.Name, rdata) -> bytes:
    data = rdata.to_wire()
    record = owner.to_wire() + wire.RR_HEADER.pack(
        dns.rdatatype.TSIG, dns.rdataclass.ANY, 0, len(data)
    )
    arcount = struct.unpack_from("!H", message_wire, 10)[0] + 1
    return message_wire[:10] + struct.pack("!H", arcount) + message_wire[12:] + record + data


def error_response(request: Verified, rcode: int) -> bytes:
    """Return the response carrying rcode to a request (its question or zone section echoed),
    signed as the request's TSIG asks."""
    message = request.message
    # A response (QR set) is not answered: make_response raises FormError for it.
    plain = not message.flags & dns.flags.QR and message.edns < 0
    if plain and len(message.question) == 1 and rcode < 16:
        # The header and the question are all there is: written as dnspython writes them.
        flags = dns.flags.QR | message.flags & (dns.flags.RD | OPCODE_BITS) | rcode
        question = message.question[0]
        response = (
            wire.HEADER.pack(message.id, flags, 1, 0, 0, 0)
            + question.name.to_wire()
            + struct.pack("!HH", question.rdtype, question.rdclass)
        )
        return Signer(request).sign(response)
    response = dns.message.make_response(message)
    response.set_rcode(rcode)
    response.keyring = None  # signed by Signer, which also answers TSIG failures
    response.tsig = None
    return Signer(request).sign(response.to_wire())


def formerr(message_wire: bytes) -> bytes | None:
    """Return FORMERR for a request too broken to parse: its ID and opcode, nothing else."""
    if len(message_wire) < 12 or message_wire[2] & 0x80:
        return None  # a response, or too short to answer
    flags = 0x8000 | (message_wire[2] & 0x78) << 8 | dns.rcode.FORMERR
    return message_wire[:2] + struct.pack("!HHHHH", flags, 0, 0, 0, 0)

"""Incoming zone transfers (RFC 1034 4.3.5, RFC 1995, RFC 5936): what a secondary asks its
primary, and what it accepts from it.

``soa_serial`` asks a primary for the zone's SOA (the refresh check); ``fetch`` asks for an
IXFR from our serial (or an AXFR), falls back to AXFR when the primary refuses IXFR, and
returns what the transfer says: ``UpToDate``, a ``FullZone`` or an ``Increment`` (the change
sets, oldest first). Nothing is trusted: every record must be inside the zone, the SOA must
come first and last, the serial must be newer than ours (RFC 1982), a transfer cut off before
its last SOA is worthless, and with a TSIG key the first and last messages must be signed and
every MAC must check (RFC 8945 5.3.1). Any of these raises ``TransferError`` saying why, and
the caller changes nothing.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.serial
import dns.tsig

from .addresses import parse_address

SOA = dns.rdatatype.SOA
# A transfer that gets no message for this long is given up (BIND's max-transfer-idle-in is
# an hour; a secondary here has more zones to mind than one stuck peer).
IDLE_TIMEOUT = 15.0
# The whole transfer, connection included (BIND's max-transfer-time-in is two hours).
TRANSFER_TIMEOUT = 300.0
# Answers to an IXFR that mean "not this way": fall back to AXFR (RFC 1995 does not say how a
# server without IXFR answers; these are what servers do).
IXFR_REFUSALS = frozenset({dns.rcode.NOTIMP, dns.rcode.FORMERR, dns.rcode.REFUSED})


class TransferError(Exception):
    """A check or transfer failed; the message says why, for the zone's status."""


class Refused(TransferError):
    """The primary answered with an error rcode."""

    def __init__(self, what: str, rcode: int) -> None:
        super().__init__(f"{what} answered {dns.rcode.to_text(rcode)}")
        self.rcode = rcode


@dataclass(frozen=True)
class Primary:
    """A primary server: an address and a port."""

    address: str
    port: int = 53

    @classmethod
    def parse(cls, text: str) -> Primary:
        """Read ``ADDR``, ``ADDR:PORT`` or ``[IPv6]:PORT``; a ValueError says what is wrong."""
        return cls(*parse_address(text))

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return host if self.port == 53 else f"{host}:{self.port}"


# A record as transfers carry it: owner, TTL, rdata.
Record = tuple[dns.name.Name, int, dns.rdata.Rdata]


@dataclass
class UpToDate:
    """The primary has our serial (or the IXFR answer was its SOA alone)."""

    serial: int


@dataclass
class FullZone:
    """A whole zone: its SOA (and the SOA's TTL) and every other record."""

    soa: dns.rdata.Rdata
    soa_ttl: int
    records: list[Record]
    kind: str = "AXFR"

    @property
    def serial(self) -> int:
        return self.soa.serial


@dataclass
class ChangeSet:
    """One IXFR difference sequence: from one serial to the next."""

    old_serial: int
    soa: dns.rdata.Rdata  # the new SOA
    soa_ttl: int
    removed: list[Record] = field(default_factory=list)
    added: list[Record] = field(default_factory=list)

    @property
    def serial(self) -> int:
        return self.soa.serial


@dataclass
class Increment:
    """The change sets leading from our serial to the primary's, oldest first."""

    changes: list[ChangeSet]
    kind: str = "IXFR"

    @property
    def serial(self) -> int:
        return self.changes[-1].serial


Transfer = UpToDate | FullZone | Increment


def newer(serial: int, than: int) -> bool:
    """RFC 1982 3.2: is ``serial`` greater than ``than``?"""
    return dns.serial.Serial(serial) > dns.serial.Serial(than)


# the SOA check -----------------------------------------------------------------------------


async def soa_serial(
    origin: dns.name.Name, primary: Primary, key: dns.tsig.Key | None = None,
    *, timeout: float = 3.0,
) -> int:  # fmt: skip
    """Ask the primary for the zone's SOA over UDP (TCP when truncated); return its serial."""
    query = dns.message.make_query(origin, SOA)
    query.flags = 0  # no RD: we ask the zone's server, not a resolver
    if key is not None:
        query.use_tsig(key)
    try:
        response, _ = await dns.asyncquery.udp_with_fallback(
            query, primary.address, timeout=timeout, port=primary.port
        )
    except dns.tsig.PeerError as error:
        raise TransferError(f"SOA query to {primary}: TSIG refused ({error})") from None
    except (dns.exception.DNSException, OSError) as error:
        raise TransferError(f"SOA query to {primary}: {describe(error)}") from None
    if response.rcode() != dns.rcode.NOERROR:
        raise Refused(f"SOA query to {primary}", response.rcode())
    for rrset in response.answer:
        if rrset.name == origin and rrset.rdtype == SOA and len(rrset) == 1:
            if not response.flags & dns.flags.AA:
                raise TransferError(f"{primary} is not authoritative for {origin}")
            return rrset[0].serial
    raise TransferError(f"SOA query to {primary}: no SOA for {origin} in the answer")


def describe(error: BaseException) -> str:
    """Say what went wrong in a few words: timeouts and refused connections name themselves."""
    if isinstance(error, (dns.exception.Timeout, TimeoutError)):
        return "no answer (timed out)"
    return str(error) or type(error).__name__


# the transfer ------------------------------------------------------------------------------


async def fetch(
    origin: dns.name.Name, primary: Primary, key: dns.tsig.Key | None, serial: int | None,
) -> Transfer:  # fmt: skip
    """Transfer the zone from the primary: IXFR from ``serial`` when there is one, AXFR when
    there is none or the primary refuses IXFR. Raise TransferError."""
    if serial is not None:
        try:
            return await transfer(origin, primary, key, serial)
        except Refused as error:
            if error.rcode not in IXFR_REFUSALS:
                raise
    return await transfer(origin, primary, key, None)


async def transfer(
    origin: dns.name.Name, primary: Primary, key: dns.tsig.Key | None, serial: int | None
) -> Transfer:
    """One IXFR (``serial`` given) or AXFR over TCP, read to its end and checked."""
    kind = "AXFR" if serial is None else "IXFR"
    query = transfer_query(origin, serial, key)
    try:
        async with asyncio.timeout(TRANSFER_TIMEOUT):
            records = await receive(query, primary, kind)
    except TimeoutError:
        raise TransferError(f"{kind} from {primary}: took too long") from None
    return read_transfer(origin, records, serial, f"{kind} from {primary}")


def transfer_query(
    origin: dns.name.Name, serial: int | None, key: dns.tsig.Key | None
) -> dns.message.Message:
    """Return an AXFR query, or an IXFR query carrying our SOA's serial (RFC 1995 3)."""
    rdtype = dns.rdatatype.AXFR if serial is None else dns.rdatatype.IXFR
    query = dns.message.make_query(origin, rdtype)
    query.flags = 0
    if serial is not None:
        # Only the serial is compared; the other fields are placeholders (RFC 1995 3).
        soa = dns.rdata.from_text(dns.rdataclass.IN, SOA, f". . {serial} 0 0 0 0")
        query.authority.append(dns.rrset.from_rdata(origin, 0, soa))
    if key is not None:
        query.use_tsig(key)
    return query


async def receive(query: dns.message.Message, primary: Primary, kind: str) -> list[Record]:
    """Send the query over TCP and read messages until the transfer's last SOA; return its
    records in order."""
    what = f"{kind} from {primary}"
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(primary.address, primary.port), IDLE_TIMEOUT
        )
    except (OSError, TimeoutError) as error:
        raise TransferError(f"{what}: cannot connect ({describe(error)})") from None
    try:
        wire = query.to_wire()
        writer.write(struct.pack("!H", len(wire)) + wire)
        await writer.drain()
        return await read_messages(reader, query, what)
    finally:
        writer.close()


async def read_messages(
    reader: asyncio.StreamReader, query: dns.message.Message, what: str
) -> list[Record]:
    origin = query.question[0].name
    records: list[Record] = []
    ending = Ending(origin, ixfr_serial(query))
    tsig_ctx, message = None, None
    while not ending.done:
        try:
            length = struct.unpack("!H", await read_exactly(reader, 2))[0]
            data = await read_exactly(reader, length)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as error:
            late = " (timed out)" if isinstance(error, TimeoutError) else ""
            raise TransferError(
                f"{what}: cut off after {len(records)} records, before its last SOA{late}"
            ) from None
        message = parse_message(data, query, tsig_ctx, first=message is None, what=what)
        tsig_ctx = message.tsig_ctx
        for rrset in message.answer:
            for rdata in rrset:
                if ending.done:
                    raise TransferError(f"{what}: records after the last SOA")
                if not records and (rdata.rdtype != SOA or rrset.name != origin):
                    raise TransferError(f"{what}: does not start with the zone's SOA")
                records.append((rrset.name, rrset.ttl, rdata))
                ending.see(rrset.name, rdata)
        ending.message_read()
    if query.had_tsig and not message.had_tsig:
        raise TransferError(f"{what}: the last message is not signed (TSIG)")
    return records


def ixfr_serial(query: dns.message.Message) -> int | None:
    """The serial an IXFR query carries (ours); None for an AXFR."""
    return query.authority[0][0].serial if query.authority else None


async def read_exactly(reader: asyncio.StreamReader, size: int) -> bytes:
    return await asyncio.wait_for(reader.readexactly(size), IDLE_TIMEOUT)


def parse_message(
    data: bytes, query: dns.message.Message, tsig_ctx, *, first: bool, what: str
) -> dns.message.Message:
    """Parse one message of the transfer, checking its ID, rcode and TSIG."""
    try:
        message = dns.message.from_wire(
            data, keyring=query.keyring, request_mac=query.mac, xfr=True, tsig_ctx=tsig_ctx,
            multi=True, one_rr_per_rrset=True,
        )  # fmt: skip
    except dns.tsig.PeerError as error:
        raise TransferError(f"{what}: TSIG refused by the primary ({error})") from None
    except dns.message.UnknownTSIGKey:
        raise TransferError(f"{what}: signed with a key we do not know") from None
    except dns.exception.DNSException as error:
        # BadSignature, BadTime and malformed messages alike: nothing of it is used.
        raise TransferError(f"{what}: bad message ({describe(error)})") from None
    if message.id != query.id or not message.flags & dns.flags.QR:
        raise TransferError(f"{what}: a message that does not answer our query")
    if message.rcode() != dns.rcode.NOERROR:
        raise Refused(what, message.rcode())
    if first and query.had_tsig and not message.had_tsig:
        raise TransferError(f"{what}: the first message is not signed (TSIG)")
    if (
        first
        and message.question
        and (
            message.question[0].name != query.question[0].name
            or message.question[0].rdtype != query.question[0].rdtype
        )
    ):
        raise TransferError(f"{what}: the answer is for another question")
    return message


class Ending:
    """Tells when a transfer has ended, from its records as they come.

    An AXFR (or an IXFR answered with the whole zone) ends with the second SOA of the first
    SOA's serial; an IXFR's change sets each bring that serial's SOA once more as their new
    SOA, so one answered with change sets (its second record an SOA) ends with the third. An
    IXFR answered with one SOA no newer than ours, alone in its message, ends there.
    """

    def __init__(self, origin: dns.name.Name, ours: int | None) -> None:
        self.origin, self.ours = origin, ours
        self.count = 0
        self.serial = 0
        self.seen = 0  # SOAs at the apex with the first serial
        self.needed = 2
        self.done = False

    def see(self, name: dns.name.Name, rdata: dns.rdata.Rdata) -> None:
        self.count += 1
        if rdata.rdtype != SOA or name != self.origin:
            return
        if self.count == 1:
            self.serial = rdata.serial
        elif self.count == 2:
            self.needed = 3
        if rdata.serial == self.serial:
            self.seen += 1
            self.done = self.seen == self.needed

    def message_read(self) -> None:
        if self.count == 1 and self.ours is not None and not newer(self.serial, self.ours):
            self.done = True


# validation ------------------------------------------------------------------------------


def read_transfer(
    origin: dns.name.Name, records: list[Record], serial: int | None, what: str = "transfer"
) -> Transfer:
    """Check a whole transfer's records and say what it holds; raise TransferError.

    ``serial`` is ours (None: we have no data yet, anything goes).
    """
    check_inside(origin, records, what)
    if not records or records[0][2].rdtype != SOA or records[0][0] != origin:
        raise TransferError(f"{what}: does not start with the zone's SOA")
    first = records[0][2]
    if serial is not None and first.serial == serial and len(records) == 1:
        return UpToDate(serial)
    if serial is not None and not newer(first.serial, serial):
        raise TransferError(
            f"{what}: offers serial {first.serial}, which is not newer than ours ({serial})"
        )
    if len(records) == 1:
        # An IXFR answered by the SOA alone although it is newer: over TCP that means
        # "ask again" (RFC 1995 2); take it as a failure and let AXFR follow.
        raise TransferError(f"{what}: only the SOA ({first.serial})")
    if records[1][2].rdtype == SOA and records[1][0] == origin and serial is not None:
        return Increment(change_sets(origin, records, serial, what))
    return full_zone(origin, records, what)


def check_inside(origin: dns.name.Name, records: Iterable[Record], what: str) -> None:
    """Refuse records outside the zone, and SOAs anywhere but at its apex."""
    for name, _, rdata in records:
        if not name.is_subdomain(origin):
            raise TransferError(f"{what}: {name} is outside the zone {origin}")
        if rdata.rdclass != dns.rdataclass.IN:
            raise TransferError(f"{what}: {name} is of class {rdata.rdclass.name}, not IN")
        if rdata.rdtype == SOA and name != origin:
            raise TransferError(f"{what}: an SOA at {name}, below the zone's apex")


def full_zone(origin: dns.name.Name, records: list[Record], what: str) -> FullZone:
    """The zone an AXFR (or AXFR-style IXFR) carries: SOA first and last, none between."""
    _, soa_ttl, soa = records[0]
    if records[-1][2] != soa or len(records) < 2:
        raise TransferError(f"{what}: does not end with the SOA it started with")
    middle = records[1:-1]
    if any(rdata.rdtype == SOA for _, _, rdata in middle):
        raise TransferError(f"{what}: a second SOA inside the zone")
    return FullZone(soa, soa_ttl, middle)


def change_sets(
    origin: dns.name.Name, records: list[Record], serial: int, what: str
) -> list[ChangeSet]:
    """Split an incremental IXFR (RFC 1995 4) into its change sets: each an old SOA, the
    records removed, the new SOA, the records added; the serials must lead from ours to the
    primary's, one set after the other."""
    final = records[0][2]
    if records[-1][2] != final:
        raise TransferError(f"{what}: does not end with the SOA it started with")
    body = records[1:-1]
    changes: list[ChangeSet] = []
    current, position = serial, 0
    while position < len(body):
        old = body[position][2]
        if old.serial != current:
            raise TransferError(f"{what}: a change set from serial {old.serial}, not {current}")
        removed, position = run_of_records(body, position + 1)
        if position == len(body):
            raise TransferError(f"{what}: a change set from {old.serial} has no new SOA")
        _, soa_ttl, new = body[position]
        if not newer(new.serial, old.serial):
            raise TransferError(f"{what}: a change set from {old.serial} back to {new.serial}")
        added, position = run_of_records(body, position + 1)
        changes.append(ChangeSet(old.serial, new, soa_ttl, removed, added))
        current = new.serial
    if not changes or current != final.serial:
        raise TransferError(f"{what}: the change sets do not lead to serial {final.serial}")
    return changes


def run_of_records(body: list[Record], position: int) -> tuple[list[Record], int]:
    """The records from position up to the next SOA, and where that SOA is."""
    end = position
    while end < len(body) and body[end][2].rdtype != SOA:
        end += 1
    return body[position:end], end

"""Talking to other servers: one exchange, server health, and coalescing of identical questions.

Every exchange uses a fresh socket (so a fresh random source port from the kernel, RFC 5452
9.2) connected to the server asked, and a fresh random ID; a reply is taken only from that
address and port, with the same ID and question, and anything else is passed over until the
timeout (RFC 5452 9.1). The sockets open at once are bounded below the process's file limit,
read at start, with descriptors kept in reserve for the database, the listeners and the TCP
clients: a burst of questions waits for a socket rather than taking the last descriptor.
"""

from __future__ import annotations

import asyncio
import resource
import secrets
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rrset

from . import wire

UNREACHABLE_ERRORS = (dns.exception.DNSException, OSError, EOFError, ValueError)

INITIAL_RTT = 0.1  # seconds assumed for a server never asked, so every server gets tried
MAX_RTT = 10.0
RTT_WEIGHT = 0.3  # how much one new sample moves the estimate (BIND's SRTT smoothing)
BACKOFF = 5.0  # seconds a server that timed out is skipped (but for one probe)
MAX_BACKOFF = 300.0
MAX_SERVERS = 10_000

T = TypeVar("T")
S = TypeVar("S", bound=Hashable)


class Unreachable(Exception):
    """No server gave a usable reply."""


class BadReply(dns.exception.DNSException):
    """A reply that is not the response to our query."""


@dataclass(slots=True)
class Health:
    srtt: float = INITIAL_RTT
    down_until: float = 0.0
    failures: int = 0


@dataclass
class Servers:
    """Per-server round-trip estimates and backoff: ask the fastest, skip the recently dead."""

    clock: Callable[[], float] = time.monotonic
    health: dict[Hashable, Health] = field(default_factory=dict)

    def order(self, servers: Iterable[S]) -> list[S]:
        """Return the servers (addresses, or (address, port) pairs) to try, distinct, fastest first.

        Of those backing off only one is tried, last, as a probe (the one whose backoff ends
        first): a zone whose servers are dead costs one timeout per question, not one per
        server, and a server back from the dead is found again.
        """
        now = self.clock()
        unique = list(dict.fromkeys(servers))
        live = sorted((s for s in unique if self._down_until(s) <= now), key=self._srtt)
        down = [server for server in unique if self._down_until(server) > now]
        return live + [min(down, key=self._down_until)] if down else live

    def _srtt(self, address: Hashable) -> float:
        health = self.health.get(address)
        return INITIAL_RTT if health is None else health.srtt

    def _down_until(self, address: Hashable) -> float:
        health = self.health.get(address)
        return 0.0 if health is None else health.down_until

    def answered(self, address: Hashable, rtt: float) -> None:
        health = self._get(address)
        health.srtt += RTT_WEIGHT * (rtt - health.srtt)
        health.failures = 0
        health.down_until = 0.0

    def timed_out(self, address: Hashable) -> None:
        """Double the estimate and back off exponentially while the server stays silent."""
        health = self._get(address)
        health.srtt = min(health.srtt * 2, MAX_RTT)
        health.failures += 1
        backoff = min(BACKOFF * 2 ** (health.failures - 1), MAX_BACKOFF)
        health.down_until = self.clock() + backoff

    def _get(self, address: Hashable) -> Health:
        health = self.health.get(address)
        if health is None:
            if len(self.health) >= MAX_SERVERS:
                del self.health[next(iter(self.health))]
            health = self.health[address] = Health()
        return health


RESERVED_DESCRIPTORS = 64 + 200  # the database, listeners and logs; 200 TCP clients
MIN_SOCKETS = 8
MAX_REPLY = 65535
QR, TC = 0x80, 0x02  # in the third header byte


def socket_budget(reserve: int = RESERVED_DESCRIPTORS) -> int:
    """Return how many upstream sockets may be open at once under the file limit now."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 16
    return max(soft - reserve, MIN_SOCKETS)


@dataclass(frozen=True, slots=True)
class Question:
    """One question to send: the query without its ID, and the question section a reply
    must repeat (lowercased: servers may answer in another case)."""

    body: bytes
    section: bytes
    recursion: bool
    edns: bool

    @classmethod
    def of(cls, qname: dns.name.Name, qtype: int, *, recursion: bool, edns: bool = True):
        """Return the question with RD as asked and EDNS with our payload size (unless told)."""
        section = qname.to_wire() + qtype.to_bytes(2, "big") + b"\x00\x01"
        flags = b"\x01\x00" if recursion else b"\x00\x00"
        counts = b"\x00\x01\x00\x00\x00\x00" + (b"\x00\x01" if edns else b"\x00\x00")
        opt = b"\x00\x00\x29" + wire.OUR_PAYLOAD.to_bytes(2, "big") + bytes(6) if edns else b""
        return cls(flags + counts + section + opt, section.lower(), recursion, edns)

    def plain(self) -> Question:
        """Return the same question without EDNS."""
        body = self.body[:8] + b"\x00\x00" + self.body[10 : 10 + len(self.section)]
        return Question(body, self.section, self.recursion, False)

    def matches(self, reply: bytes, ident: bytes) -> bool:
        """Tell whether reply answers this question sent with ident."""
        return (
            reply[:2] == ident and reply[2] & QR and reply[4:6] == b"\x00\x01"
            and reply[12 : 12 + len(self.section)].lower() == self.section
        )  # fmt: skip


async def exchange(
    question: Question, address: str, port: int, timeout: float,
    spend: Callable[[], None], sockets: asyncio.Semaphore,
) -> Response:  # fmt: skip
    """Return the reply of address to question, retried over TCP when truncated and without
    EDNS when the server does not know it (RFC 6891 7: it answers FORMERR).

    spend is called before each send, so every retry counts against the caller's limits;
    sockets bounds the sockets open at once.
    """
    response = await _exchange(question, address, port, timeout, spend, sockets)
    if response.rcode() == dns.rcode.FORMERR and question.edns:
        response = await _exchange(question.plain(), address, port, timeout, spend, sockets)
    return response


async def _exchange(
    question: Question, address: str, port: int, timeout: float,
    spend: Callable[[], None], sockets: asyncio.Semaphore,
) -> Response:  # fmt: skip
    spend()
    ident = secrets.randbits(16).to_bytes(2, "big")
    async with sockets:
        response = await _udp(ident + question.body, question, address, port, timeout)
    if response.flags & dns.flags.TC:
        spend()
        query = dns.message.from_wire(ident + question.body)
        async with sockets:
            response = await dns.asyncquery.tcp(query, address, timeout, port)
        if not query.is_response(response):
            raise BadReply(f"{address} answered another question over TCP")
    return response


async def _udp(query: bytes, question: Question, address: str, port: int, timeout: float) -> Reply:
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        # Connected: the kernel passes on datagrams from the server asked alone.
        sock.connect((address, port))
        sock.send(query)
        reply = loop.create_future()
        loop.add_reader(sock.fileno(), _receive, sock, reply, question, query[:2])
        try:
            async with asyncio.timeout(timeout):
                return await reply
        finally:
            loop.remove_reader(sock.fileno())
    finally:
        sock.close()


def _receive(sock: socket.socket, reply: asyncio.Future, question: Question, ident: bytes):
    """Take the first datagram that answers the question; pass over the others."""
    while not reply.done():
        try:
            data = sock.recv(MAX_REPLY)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:  # the port is closed (ICMP): no use waiting
            reply.set_exception(error)
            return
        if len(data) >= 12 and question.matches(data, ident):
            try:
                reply.set_result(Reply.parse(data))
            except MALFORMED:
                continue  # a reply that does not parse is no reply: keep waiting


MALFORMED = (dns.exception.DNSException, struct.error, ValueError, IndexError)
OPT, TSIG = 41, 250


class Reply:
    """What the resolvers read of a reply: flags, rcode and the three sections as RRsets.

    Read here rather than by dnspython's Message, which costs a third of a cache miss: the
    question was checked already (Question.matches), and OPT and TSIG records are only read
    for the extended rcode or skipped. Records of one name, type and class in a section make
    one RRset with the lowest TTL, as dnspython makes them.
    """

    __slots__ = ("flags", "answer", "authority", "additional", "_rcode")

    def __init__(self, flags: int, sections: list[list[dns.rrset.RRset]], rcode: int) -> None:
        self.flags = flags
        self.answer, self.authority, self.additional = sections
        self._rcode = rcode

    def rcode(self) -> int:
        return self._rcode

    @classmethod
    def parse(cls, data: bytes) -> Reply:
        """Return the reply in data; raise one of MALFORMED if it cannot be read."""
        _, flags, qdcount, *counts = wire.HEADER.unpack_from(data)
        position = 12
        for _ in range(qdcount):
            position = wire.read_name(data, position)[1] + 4
        sections, extended = [], 0
        for count in counts:
            rrsets: dict[tuple, dns.rrset.RRset] = {}
            for _ in range(count):
                name, position = wire.read_name(data, position)
                rdtype, rdclass, ttl, length = wire.RR_HEADER.unpack_from(data, position)
                position += 10
                end = position + length
                if end > len(data):
                    raise ValueError("record data runs past the end of the reply")
                if rdtype == OPT:
                    extended = ttl >> 24
                elif rdtype != TSIG:
                    rdata = dns.rdata.from_wire(rdclass, rdtype, data, position, length)
                    _add(rrsets, name, rdata, ttl)
                position = end
            sections.append(list(rrsets.values()))
        return cls(flags, sections, (extended << 4) | (flags & 0xF))


def _add(rrsets: dict, name: dns.name.Name, rdata, ttl: int) -> None:
    key = (name, rdata.rdtype, rdata.rdclass, rdata.covers())
    rrset = rrsets.get(key)
    if rrset is None:
        rrset = rrsets[key] = dns.rrset.RRset(name, rdata.rdclass, rdata.rdtype, rdata.covers())
    rrset.update_ttl(ttl)  # the lowest of the set's records
    # What rrset.add does, hashing the rdata once instead of twice: dnspython hashes an rdata
    # by rendering it, which for names (an SOA has two) makes a Name object per label.
    rrset.items[rdata] = None


Response = Reply | dns.message.Message  # replies over TCP are read by dnspython


class Overloaded(Exception):
    """Too many distinct questions are being resolved already."""


class Coalescer(Generic[T]):
    """One resolution per distinct question in flight; later askers share its outcome.

    At most limit distinct questions are in flight, as BIND's recursive-clients: a flood of
    random names must not turn into an unbounded number of tasks and sockets.
    """

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._inflight: dict[Hashable, asyncio.Task[T]] = {}

    def run(self, key: Hashable, start: Callable[[], Awaitable[T]]) -> Awaitable[T]:
        """Return the shared outcome of start() for key; raise Overloaded when over the limit."""
        task = self._inflight.get(key)
        if task is None:
            if len(self._inflight) >= self.limit:
                raise Overloaded(f"{self.limit} resolutions in flight")
            task = asyncio.ensure_future(start())
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        # shield: one asker giving up (its client went away) must not cancel the others' answer.
        return asyncio.shield(task)

    async def close(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

"""Talking to other servers: one exchange, server health, and coalescing of identical questions.

Queries over UDP share a small pool of sockets (Sockets), each bound to a random source port
from the kernel and retired for a fresh one after a few uses or a second, so that ports keep
changing (RFC 5452 9.2). Each query has a random ID; a datagram is taken as the reply only
when it comes from the address and port asked, with that ID on that socket, and repeats the
question; anything else is dropped and counted, and the query keeps waiting until its
timeout (RFC 5452 9.1). The sockets are not connected, so an ICMP error does not end a
query early: a closed port costs its timeout, as a silent server does. The sockets open at once, the pool
and TCP retries together, stay below the process's file limit, read at start, with
descriptors kept in reserve for the database, the listeners and the TCP clients: a burst of
questions shares sockets or waits for one rather than taking the last descriptor.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import resource
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rrset

from . import drive, wire
from .render import labels_wire

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
        unique = list(dict.fromkeys(servers))
        if len(unique) < 2:
            return unique  # one forwarder: itself, live or probed
        now = self.clock()
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
        backoff = min(BACKOFF * 2 ** min(health.failures - 1, 16), MAX_BACKOFF)
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
TC_FLAG = int(dns.flags.TC)  # in the flags as a plain int: int & IntFlag runs enum's Python code


def socket_budget(reserve: int = RESERVED_DESCRIPTORS) -> int:
    """Return how many upstream sockets may be open at once under the file limit now."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 16
    return max(soft - reserve, MIN_SOCKETS)


# A query's header after its ID (flags with or without RD, one question, an OPT record or
# none) and its OPT record with our payload size, by (recursion, edns).
_RD_EDNS = {
    (recursion, edns): (b"\x01\x00" if recursion else b"\x00\x00")
    + (b"\x00\x01\x00\x00\x00\x00\x00\x01" if edns else b"\x00\x01\x00\x00\x00\x00\x00\x00")
    for recursion in (False, True)
    for edns in (False, True)
}
_OPT = b"\x00\x00\x29" + wire.OUR_PAYLOAD.to_bytes(2, "big") + bytes(6)


class Question(NamedTuple):
    """One question to send: the query without its ID, and the question section a reply
    must repeat (its name lowercased: servers may answer in another case).

    A named tuple, not a frozen dataclass: one is made for every query sent, and a tuple is
    made in a fraction of the time.
    """

    body: bytes
    section: bytes
    recursion: bool
    edns: bool
    name: dns.name.Name | None = None  # the name asked, the owner of most answers
    # The name's wire form when its reply is read as a Plain one if it has a plain shape.
    wired: bytes = b""

    @classmethod
    def of(
        cls, qname: dns.name.Name, qtype: int, *, recursion: bool, edns: bool = True,
        wired: bytes = b"",
    ):  # fmt: skip
        """Return the question with RD as asked and EDNS with our payload size (unless told);
        wired: qname's wire form (as a client's question spells it), its reply then read as
        a Plain one when it can be (Plain.read)."""
        # What qname.to_wire() returns, without dnspython's compression bookkeeping.
        name = wired or labels_wire(qname.labels)
        section = name + qtype.to_bytes(2, "big") + b"\x00\x01"
        header = _RD_EDNS[recursion, edns]
        body = header + section + _OPT if edns else header + section
        return cls(body, name.lower() + section[-4:], recursion, edns, qname, wired)

    def plain(self) -> Question:
        """Return the same question without EDNS."""
        body = self.body[:8] + b"\x00\x00" + self.body[10 : 10 + len(self.section)]
        return Question(body, self.section, self.recursion, False, self.name, self.wired)

    def repeated(self, reply: bytes) -> bool:
        """Tell whether reply (which matches) repeats the question byte for byte, the case
        of its name included."""
        size = len(self.section) - 4
        return reply[12 : 12 + size] == self.body[10 : 10 + size]

    def matches(self, reply: bytes, ident: bytes) -> bool:
        """Tell whether reply answers this question sent with ident: the name in any case,
        the type and class exactly."""
        section = self.section
        end = 12 + len(section)
        asked = reply[12:end]
        return (
            reply[:2] == ident and reply[2] & QR and reply[4:6] == b"\x00\x01"
            # The name in lower case, as most are asked: no bytes made lower to compare.
            and (asked == section or (
                asked[:-4].lower() == section[:-4] and asked[-4:] == section[-4:]
            ))
        )  # fmt: skip


async def exchange(
    question: Question, address: str, port: int, timeout: float,
    spend: Callable[[], None], sockets: Sockets, deadline: float | None = None,
) -> Response:  # fmt: skip
    """Return the reply of address to question, retried over TCP when truncated and without
    EDNS when the server does not know it (RFC 6891 7: it answers FORMERR).

    spend is called before each send, so every retry counts against the caller's limits.
    deadline (the event loop's time) ends the caller's resolution: each wait is cut to what
    is left of it, and PastDeadline raised when it ends one (the server is not to blame).

    One coroutine for the common exchange (a free slot, one datagram each way): each
    coroutine more (a context manager's enter and exit, a semaphore's acquire) cost every
    cache miss a microsecond.
    """
    while True:
        spend()
        queries = sockets.queries
        if not queries.take():
            await drive.in_task(_hold(queries, deadline))
        wait = _held(queries, timeout, deadline)
        try:
            response, ident = await sockets.udp(question, address, port, wait)
        except TIMEOUTS:
            _blame_deadline(wait, timeout, address)
            raise
        finally:
            queries.release()
        if response.flags & TC_FLAG:
            response = await _over_tcp(
                question, ident, address, port, timeout, spend, sockets, deadline
            )
        if response.rcode() != dns.rcode.FORMERR or not question.edns:
            return response
        question = question.plain()


async def _over_tcp(
    question: Question, ident: bytes, address: str, port: int, timeout: float,
    spend: Callable[[], None], sockets: Sockets, deadline: float | None,
) -> dns.message.Message:  # fmt: skip
    """Return the reply of address to question (sent over UDP with ident) over TCP."""
    spend()
    query = dns.message.from_wire(ident + question.body)
    if not sockets.tcp.take():
        await drive.in_task(_hold(sockets.tcp, deadline))
    wait = _held(sockets.tcp, timeout, deadline)
    try:
        # (in a Task: dnspython's wait_for needs one from Python 3.12, as sniffio does)
        response = await drive.in_task(dns.asyncquery.tcp(query, address, wait, port))
    except TIMEOUTS:
        _blame_deadline(wait, timeout, address)
        raise
    finally:
        sockets.tcp.release()
    if not query.is_response(response):
        raise BadReply(f"{address} answered another question over TCP")
    return response


class PastDeadline(Exception):
    """A resolution's deadline came before its answer (not a server's failure)."""


class Slots(asyncio.Semaphore):
    """A semaphore whose free slot is taken without a coroutine (take): every upstream query
    takes one, and a free one is the rule."""

    def take(self) -> bool:
        """Take a slot if one is free at once (as acquire() would); tell whether it did."""
        # A free slot and no one waiting, the rule, told without locked(), which looks at
        # every waiter in a generator.
        if (self._value <= 0 or self._waiters) and self.locked():
            return False
        self._value -= 1  # what acquire() does with a free slot, without its coroutine
        return True

    def release(self) -> None:
        """Give a slot back, waking the next waiter if any (as Semaphore.release)."""
        if self._waiters:
            super().release()
        else:
            self._value += 1


TIMEOUTS = (TimeoutError, dns.exception.Timeout)  # what a wait over UDP, over TCP, ends with


def _held(semaphore: asyncio.Semaphore, timeout: float, deadline: float | None) -> float:
    """Return how long the wait for a server may last, a slot of semaphore being held:
    timeout, or what is left before the deadline; release the slot if none is left."""
    try:
        return _left(timeout, deadline)
    except PastDeadline:
        semaphore.release()
        raise


def _blame_deadline(wait: float, timeout: float, address: str) -> None:
    """Raise PastDeadline for a wait for address that timed out when the deadline cut it
    short: the timeout is the deadline's then, not the server's."""
    if wait < timeout:
        raise PastDeadline(f"the deadline came while {address} was asked") from None


def _left(timeout: float, deadline: float | None) -> float:
    """Return how long one wait may last: timeout, or what is left before the deadline."""
    if deadline is None:
        return timeout
    left = deadline - asyncio.get_running_loop().time()
    if left <= 0:
        raise PastDeadline("the deadline passed")
    return min(timeout, left)


async def _hold(semaphore: asyncio.Semaphore, deadline: float | None) -> None:
    """Acquire semaphore, waiting for it until the deadline at most."""
    if deadline is None:
        await semaphore.acquire()
        return
    try:
        async with asyncio.timeout_at(deadline):
            await semaphore.acquire()
    except TimeoutError:
        raise PastDeadline("no upstream socket was free before the deadline") from None


# A reply awaited: a future under a Task, a Waiter under a Run (drive.py).
Awaited = asyncio.Future | drive.Waiter

POOL_SIZE = 16  # sockets in use for new queries, per address family
SOCKET_USES = 64  # queries sent from one socket before it is retired for a fresh port
SOCKET_SECONDS = 1.0  # ... or seconds after it was opened, used or not
BATCH = 64  # datagrams read from a socket in one go
TIMER_GRAIN = 0.01  # seconds a query may wait past its timeout (see Sockets._expire_after)


class Sockets:
    """The descriptors upstream queries may use: a pool of UDP sockets they share, and a
    semaphore bounding the TCP connections of retries, together within limit.

    The queries waiting for a reply over UDP are bounded by limit too, as when each had its
    own socket: a burst of questions must not flood the servers asked (nor their buffers).
    """

    def __init__(self, limit: int, *, size: int = POOL_SIZE) -> None:
        self.size = size
        self.udp_limit = max(min(4 * size, limit // 2), 1)
        self.tcp = Slots(max(limit - self.udp_limit, 1))
        self.queries = Slots(limit)
        self.open = 0  # UDP sockets open, retired ones still awaited included
        self.dropped = 0  # datagrams that answered no query waiting: late, stray or forged
        self._active: dict[int, list[_Socket]] = {socket.AF_INET: [], socket.AF_INET6: []}
        self._all: set[_Socket] = set()
        self._canonical: dict[str, str] = {}
        self._due: dict[int, set[Awaited]] = {}  # replies awaited, by when they time out
        # The queries to send at the end of this turn of the event loop (_send_all): socket,
        # datagram, address, and the reply awaited.
        self._outgoing: list[tuple[socket.socket, bytes, tuple[str, int], Awaited]] = []

    async def udp(
        self, question: Question, address: str, port: int, timeout: float
    ) -> tuple[Reply, bytes]:
        """Send question to address over UDP; return the reply and the ID it was sent with.

        Raise TimeoutError without a reply within timeout, OSError when it cannot be sent.
        The datagram goes out with the others of this turn of the event loop (_send_all).
        """
        host = self._canonical.get(address) or self._canonicalise(address)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        drawn = _random.take(4)  # the socket's pick and the ID, drawn at once
        shared = self._pick(family, drawn[2:])
        ident = drawn[:2]
        while (ident, host, port) in shared.pending:
            ident = _random.take(2)
        key = (ident, host, port)
        loop = asyncio.get_running_loop()
        # The server's resolutions are stepped by a Run, the reply resuming it at once.
        run = drive.current
        reply = loop.create_future() if run is None else drive.Waiter(run)
        shared.pending[key] = waiting = (question, reply)
        shared.uses += 1
        if shared.uses >= SOCKET_USES:
            self._retire(shared)  # kept open while queries wait on it, this one included
        due = self._expire_after(loop, reply, timeout)
        if not self._outgoing:
            loop.call_soon(self._send_all)
        self._outgoing.append((shared.sock, ident + question.body, (host, port), reply))
        try:
            return await reply, ident
        finally:
            reply.cancel()  # (if left without its reply: _send_all no longer sends it)
            due.discard(reply)
            # Its key only if still its own: taken out once its reply was read (_replies),
            # it may be another query's since.
            if shared.pending.get(key) is waiting:
                del shared.pending[key]
            if not shared.pending and shared.retired:
                self._close(shared)

    def _send_all(self) -> None:
        """Send the queries made since the last call, one after the other: a server on this
        machine is woken once for them all, where a datagram sent alone to it costs a wakeup
        (18 µs of CPU on a virtual machine, a quarter of a cache miss). A query whose reply
        is no longer awaited (its asker gave up) is not sent; one that cannot be sent fails
        with the OSError."""
        outgoing, self._outgoing = self._outgoing, []
        for sock, datagram, address, reply in outgoing:
            if reply.done():
                continue
            try:
                sock.sendto(datagram, address)
            except OSError as error:
                reply.set_exception(error)

    def _expire_after(
        self, loop: asyncio.AbstractEventLoop, reply: Awaited, timeout: float
    ) -> set[Awaited]:
        """Have reply fail with TimeoutError after timeout seconds (up to TIMER_GRAIN more);
        return the set it waits in, to be taken out of once no longer awaited. Queries timing
        out in the same TIMER_GRAIN share one timer: a timer each (made, pushed on the loop's
        heap, cancelled, popped) cost every upstream query a few microseconds."""
        slot = math.ceil((loop.time() + timeout) / TIMER_GRAIN)
        due = self._due.get(slot)
        if due is None:
            due = self._due[slot] = set()
            loop.call_at(slot * TIMER_GRAIN, self._expire, slot)
        due.add(reply)
        return due

    def _expire(self, slot: int) -> None:
        # (a list: a Waiter's query resumed takes itself out of the set as it ends)
        for reply in list(self._due.pop(slot, ())):
            if not reply.done():
                reply.set_exception(TimeoutError())

    def _canonicalise(self, address: str) -> str:
        """Return address as recvfrom gives it back (IPv6 addresses have many spellings)."""
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        canonical = socket.inet_ntop(family, socket.inet_pton(family, address))
        if len(self._canonical) >= MAX_SERVERS:
            self._canonical.clear()
        self._canonical[address] = canonical
        return canonical

    def _pick(self, family: int, drawn: bytes) -> _Socket:
        """Return a socket for one more query: a new one while the pool has room, else one of
        the pool's at random (drawn: two random bytes to pick it by)."""
        active = self._active[family]
        if len(active) < self.size and self.open < self.udp_limit:
            shared = self._socket(family)
            active.append(shared)
        elif not active:  # the sockets open are retired and still awaited: share one of them
            return next((s for s in self._all if s.family == family), None) or self._socket(family)
        else:
            shared = active[int.from_bytes(drawn, "big") % len(active)]
        return shared

    def _retire(self, shared: _Socket) -> None:
        """Take the socket out of the pool; close it once no query waits on it."""
        if shared.retired:
            return
        shared.retired = True
        active = self._active[shared.family]
        if shared in active:
            active.remove(shared)
        if not shared.pending:
            self._close(shared)

    def _socket(self, family: int) -> _Socket:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        except OSError:
            sock.close()
            raise
        shared = _Socket(sock, family)
        loop = asyncio.get_running_loop()
        loop.add_reader(sock.fileno(), self._readable, shared)
        loop.call_later(SOCKET_SECONDS, self._retire, shared)
        self._all.add(shared)
        self.open += 1
        return shared

    def _readable(self, shared: _Socket) -> None:
        """Hand each datagram to the query it answers; drop and count the others. Reading
        ends once as many replies were handed on as queries wait on the socket: most sockets
        wait for one, and a read more to find the socket empty cost every reply a system call
        and an exception (what came besides is read once the loop sees the socket again)."""
        # Handed on once the socket is read: a Waiter's resumes its resolution at once,
        # which may send on this socket or close it.
        for reply, read in self._replies(shared):
            if reply.done():  # no longer awaited: given up by a resolution resumed before
                self.dropped += 1
            else:
                reply.set_result(read)

    def _replies(self, shared: _Socket) -> list[tuple[Awaited, object]]:
        """Return the replies read from the socket with what awaits each (see _readable)."""
        sock, pending = shared.sock, shared.pending
        awaited = len(pending)
        replies = []
        for _ in range(BATCH):
            try:
                data, source = sock.recvfrom(MAX_REPLY)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                continue  # an error queued on the socket (ICMP): the query it was for times out
            key = (data[:2], source[0], source[1])
            waiting = pending.get(key)
            if waiting is None or len(data) < 12:
                self.dropped += 1
                continue
            question, reply = waiting
            if reply.done() or not question.matches(data, data[:2]):
                self.dropped += 1
                continue
            try:
                plain = Plain.read(data, question) if question.wired else None
                replies.append((reply, plain or Reply.parse(data, question)))
                del pending[key]  # (a second reply to it in the batch is dropped)
            except MALFORMED:
                self.dropped += 1  # a reply that does not parse is no reply: keep waiting
                continue
            awaited -= 1
            if not awaited:
                break
        return replies

    def _close(self, shared: _Socket) -> None:
        if shared in self._all:
            self._all.discard(shared)
            self.open -= 1
            asyncio.get_running_loop().remove_reader(shared.sock.fileno())
            shared.sock.close()

    def close(self) -> None:
        """Close every socket; the queries still waiting time out."""
        for shared in list(self._all):
            shared.pending.clear()
            self._retire(shared)


class _Socket:
    """One UDP socket of the pool, and the queries waiting for a reply on it by (ID, address,
    port) of the reply expected."""

    __slots__ = ("sock", "family", "uses", "retired", "pending")

    def __init__(self, sock: socket.socket, family: int) -> None:
        self.sock, self.family, self.uses, self.retired = sock, family, 0, False
        self.pending: dict[tuple[bytes, str, int], tuple[Question, Awaited]] = {}


class _Random:
    """Bytes from the kernel's random source (what secrets reads), read 4 KiB at a time:
    query IDs and socket picks as unpredictable, for a system call every 2,048 queries
    rather than two each. A forked child starts afresh, not sharing its parent's next IDs."""

    SIZE = 4096

    def __init__(self) -> None:
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def take(self, count: int) -> bytes:
        # The buffer read as a stream (a C method call), not sliced at an offset kept here.
        taken = self._read(count)
        if len(taken) < count:  # spent: what is left of it is dropped
            self._read = io.BytesIO(os.urandom(self.SIZE)).read
            taken = self._read(count)
        return taken

    def _forget(self) -> None:
        self._read = io.BytesIO().read


_random = _Random()


MALFORMED = (dns.exception.DNSException, struct.error, ValueError, IndexError)
ROOT_LABELS = dns.name.root.labels
OPT, TSIG, IN, SOA = 41, 250, 1, 6


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
    def parse(cls, data: bytes, question: Question | None = None) -> Reply:
        """Return the reply in data; raise one of MALFORMED if it cannot be read.

        question, the one the reply answers (Question.matches), when the reply repeats it
        byte for byte, is not read again, and gives the records written at a pointer to it
        (most answers) their owner: the Name asked, rather than one read and made again.
        """
        _, flags, qdcount, *counts = wire.HEADER.unpack_from(data)
        read_labels, size = wire.read_labels, len(data)
        qname = question.name if question is not None else None
        asked = qname.labels if qname is not None else None
        folded, position = (), 12
        if qname is not None and qdcount == 1 and question.repeated(data):
            folded, position = tuple(map(bytes.lower, asked)), 12 + len(question.section)
            read_labels = _Asked(asked).read_labels
        else:
            for _ in range(qdcount):
                position = read_labels(data, position)[1] + 4
        sections, extended = [], 0
        for count in counts:
            rrsets: dict[tuple, dns.rrset.RRset] = {}
            for _ in range(count):
                first = data[position]
                if folded and first == 0xC0 and data[position + 1] == 12:
                    labels, position = asked, position + 2  # a pointer to the question
                elif not first:
                    labels, position = ROOT_LABELS, position + 1  # the OPT record's owner
                else:
                    labels, position = read_labels(data, position)
                rdtype, rdclass, ttl, length = wire.RR_HEADER.unpack_from(data, position)
                position += 10
                end = position + length
                if end > size:
                    raise ValueError("record data runs past the end of the reply")
                if rdtype == OPT:
                    extended = ttl >> 24
                elif rdtype != TSIG:
                    if ttl >> 31:
                        ttl = 0  # RFC 2181 8: a TTL with its top bit set is read as zero
                    kept = _rdata(data, position, end, rdtype, rdclass, read_labels)
                    if labels is asked:  # read as a pointer to the question
                        _add(rrsets, folded, qname, kept, ttl)
                    else:
                        owner = tuple(map(bytes.lower, labels))
                        _add(rrsets, owner, qname if labels == asked else _name(labels), kept, ttl)
                position = end
            sections.append(list(rrsets.values()))
        return cls(flags, sections, (extended << 4) | (flags & 0xF))


# Replies repeat the same names and records (a zone's SOA in every negative answer, its
# name servers, the addresses a popular name has): each is read once by dnspython and kept,
# with its hash, as the one-entry dict an RRset holds it in. dnspython reads a record in
# tens of microseconds and hashes it by rendering it again; a dict lookup costs a fraction.
KEPT_NAMES = 8192
KEPT_RECORDS = 8192
_names: dict[tuple[bytes, ...], dns.name.Name] = {}
_records: dict[tuple, tuple[dict, bytes]] = {}  # by _record_key: the record and its wire form
PLAIN_TYPES = frozenset({1, 16, 28})  # A, TXT, AAAA: no names inside, the wire is the record
NAME_TYPES = {2: 1, 5: 1, 6: 2}  # NS, CNAME: one name; SOA: two, then 20 bytes of numbers
COVERING = frozenset({24, 46})  # SIG, RRSIG: the only types whose covers() is not 0


def _name(labels: tuple[bytes, ...]) -> dns.name.Name:
    name = _names.get(labels)
    if name is None:
        if len(_names) >= KEPT_NAMES:
            _names.clear()
        name = _names[labels] = dns.name.Name(labels)
    return name


class _Asked:
    """The names of a reply that repeats the question asked, read with the question's labels:
    a name that ends in a pointer into the question's name (a negative answer's SOA, its
    owner and the two names in it; a referral's NS set) ends in labels of the Name asked,
    taken from it rather than read again."""

    __slots__ = ("labels", "_starts", "_end", "lowest")

    def __init__(self, labels: tuple[bytes, ...]) -> None:
        self.labels = labels
        self._starts: dict[int, int] = {}  # where each label starts in the reply: its index
        self._end = 0  # where the question's name ends; both found at the first pointer
        # The first of the question's labels a name read took, -1 once one pointed elsewhere
        # (read by the general reader): what, beside their own bytes, the names depend on.
        self.lowest = len(labels)

    def read_labels(self, data: bytes, position: int) -> tuple[tuple[bytes, ...], int]:
        """Return what wire.read_labels returns for the name at position."""
        start, labels = position, []
        while (length := data[position]) and length < 0x40:
            labels.append(data[position + 1 : position + 1 + length])
            position += length + 1
        if length >= 0xC0:
            if not self._end:
                self._find_starts()
            target = (length & 0x3F) << 8 | data[position + 1]
            index = self._starts.get(target)
            # Within a name's 255 bytes: the labels read, then the question's from target.
            if index is not None and position - start + self._end - target <= 255:
                if index < self.lowest:
                    self.lowest = index
                return (*labels, *self.labels[index:]), position + 2
            self.lowest = -1
        return wire.read_labels(data, start)  # the general reader, and its errors

    def _find_starts(self) -> None:
        position = 12
        for index, label in enumerate(self.labels):
            self._starts[position] = index
            position += len(label) + 1
        self._end = position


def _rdata(
    data: bytes, position: int, end: int, rdtype: int, rdclass: int,
    read_labels: Callable = wire.read_labels,
) -> dict:  # fmt: skip
    """Return the record at position as the one-entry dict {rdata: None}; read_labels reads
    the names in it."""
    key = _record_key(data, position, end, rdtype, read_labels) if rdclass == IN else None
    if key is None:
        return {dns.rdata.from_wire(rdclass, rdtype, data, position, end - position): None}
    return _kept_rdata(key, data, position, end, rdtype, rdclass)


def _kept_rdata(key: tuple, data: bytes, position: int, end: int, rdtype: int, rdclass: int):
    """Return what _rdata returns for the record at position, its _record_key key."""
    found = _records.get(key)
    if found is None:
        rdata = dns.rdata.from_wire(rdclass, rdtype, data, position, end - position)
        if len(_records) >= KEPT_RECORDS:
            _records.clear()
        found = _records[key] = ({rdata: None}, _key_wire(key))
    kept, uncompressed = found
    wire.keep_wire(next(iter(kept)), uncompressed)  # answers written from it copy these bytes
    return kept


def _record_key(
    data: bytes, position: int, end: int, rdtype: int, read_labels: Callable = wire.read_labels
) -> tuple | None:
    """Return the record's type and content, the same for the same record in any reply: the
    wire for the types without names, else the labels of its names (wherever compression
    put them) and an SOA's numbers; None for types read by dnspython alone.

    The labels as read, not joined into an uncompressed wire form: that is made once per
    record kept (_key_wire), where joining them for every record read cost an SOA 2 µs.
    """
    if rdtype in PLAIN_TYPES:
        return rdtype, data[position:end]
    names = NAME_TYPES.get(rdtype)
    if names is None:
        return None
    labels, position = read_labels(data, position)
    if names == 1:
        return (rdtype, labels) if position == end else None
    second, position = read_labels(data, position)  # an SOA: its mname and rname
    numbers = data[position : position + 20]
    return (rdtype, labels, second, numbers) if position + 20 == end else None


def _key_wire(key: tuple) -> bytes:
    """Return the uncompressed wire form of the record _record_key gave key for."""
    if key[0] in PLAIN_TYPES:
        return key[1]
    parts = []
    for part in key[1:]:
        if isinstance(part, bytes):
            parts.append(part)  # an SOA's numbers
        else:
            parts.append(labels_wire(part))
    return b"".join(parts)


def _add(rrsets: dict, owner: tuple[bytes, ...], name: dns.name.Name, kept: dict, ttl: int) -> None:
    """Add the record in kept to its RRset: by owner (its labels case-folded, as dnspython
    groups them), type, class and the type an RRSIG covers; name is the owner's Name, in
    the case the reply spells it (for the RRset the first of its records makes)."""
    rdata = next(iter(kept))
    rdtype, rdclass = rdata.rdtype, rdata.rdclass
    covers = rdata.covers() if rdtype in COVERING else 0
    key = (owner, rdtype, rdclass, covers)
    rrset = rrsets.get(key)
    if rrset is None:
        rrset = rrsets[key] = dns.rrset.RRset(name, rdclass, rdtype, covers)
        rrset.ttl = ttl
    elif ttl < rrset.ttl:
        rrset.ttl = ttl  # the lowest of the set's records, as update_ttl keeps it
    # What rrset.add does, without hashing the rdata again: dnspython hashes an rdata by
    # rendering it, which for names (an SOA has two) makes a Name object per label.
    rrset.items.update(kept)


FIXED_SIZES = {b"\x00\x01": 4, b"\x00\x1c": 16}  # A, AAAA by their wire type: rdata sizes
SOA_TYPE = b"\x00\x06\x00\x01"  # SOA, IN
TTL_LENGTH = struct.Struct("!IH")


class Plain:
    """A reply of one of the two shapes most cache misses get, read at wire level without
    dnspython: addresses at the question's name (A or AAAA records pointing at the question,
    nothing else in the answer), or a negative answer (NXDOMAIN or NODATA) with one SOA
    record as its whole authority section. For a question asked with Question.wired; any
    other reply is read by Reply.parse, and the resolvers read this one so too when its
    shape is not enough (recursive.classify: a name out of bailiwick).

    The records it does not use (a referral's NS set beside an answer, glue, OPT, TSIG) must
    read as Reply.parse reads them, or the reply is left to it (_framed); an OPT with an
    extended rcode makes it not plain.
    """

    __slots__ = ("data", "question", "flags", "_rcode", "ttl", "wires", "soa")

    def __init__(self, data: bytes, question: Question, flags: int, ttl: int, wires, soa) -> None:
        self.data, self.question, self.flags, self._rcode = data, question, flags, flags & 0xF
        self.ttl = ttl  # the lowest of the answer's records, or the SOA record's
        self.wires = wires  # the answer's rdatas, each once, in the reply's order
        # A negative answer's SOA: its owner's labels, the record as _rdata keeps it, and
        # its MINIMUM.
        self.soa = soa

    def rcode(self) -> int:
        return self._rcode

    def reply(self) -> Reply:
        """Return the reply as Reply.parse reads it."""
        return Reply.parse(self.data, self.question)

    def soa_rrset(self) -> dns.rrset.RRset:
        """Return a negative answer's SOA record as Reply.parse reads it (shared with the
        other replies that hold it), but its TTL: that of the negative answer, min(its TTL,
        its MINIMUM) (RFC 2308 3), as classify gives it (recursive._soa)."""
        owner, kept, minimum = self.soa
        rrset = dns.rrset.RRset(_name(owner), IN, SOA)
        rrset.items.update(kept)
        rrset.ttl = min(self.ttl, minimum)
        return rrset

    @classmethod
    def read(cls, data: bytes, question: Question) -> Plain | None:
        """Return the reply in data (answering question, Question.matches) if it has one of
        the plain shapes; None for any other; raise one of MALFORMED if it cannot be read."""
        _, flags, qdcount, ancount, nscount, arcount = wire.HEADER.unpack_from(data)
        if flags & TC_FLAG or flags & 0xF not in (0, 3) or qdcount != 1:
            return None
        if not question.repeated(data):
            return None  # the name in another case: the records may not point at ours
        position = 12 + len(question.section)
        asked = question.section[-4:]  # the type and class asked
        wires, soa, ttl = (), None, 0
        if ancount:
            size = FIXED_SIZES.get(asked[:2])
            if flags & 0xF or size is None:
                return None
            header = b"\xc0\x0c" + asked
            lowest, found = 1 << 31, []
            for _ in range(ancount):
                if data[position : position + 6] != header:
                    return None  # another owner, type or class: a CNAME chain, say
                ttl, length = TTL_LENGTH.unpack_from(data, position + 6)
                position += 12
                if length != size or position + length > len(data):
                    return None  # Reply.parse's to raise (or dnspython's)
                lowest = min(lowest, ttl if not ttl >> 31 else 0)  # RFC 2181 8
                found.append(data[position : position + length])
                position += length
            ttl, wires = lowest, tuple(dict.fromkeys(found))  # a record twice is one record
        elif nscount == 1:
            negative = _negative(data, position, question.name.labels)
            if negative is None:
                return None
            soa, ttl, position = negative
            nscount = 0
        else:
            return None
        others = nscount + arcount
        if others and (others != 1 or data[position:] not in _tails):
            if not _framed(data, position, others):
                return None
            _tail_framed(data, position, others)
        return cls(data, question, flags, ttl, wires, soa)


KEPT_NEGATIVES = 1024
# Negative answers' SOA records as Plain reads them, by the bytes that decide them: the
# record's but its TTL, and the question's from its second label (what the names in the
# record point at, and where it starts) to the record's type and class. A zone's negative
# answers, to unique names, share a few (one for each length of their first label).
_negatives: dict[tuple[bytes, bytes, int], tuple] = {}


def _negative(data: bytes, position: int, asked: tuple[bytes, ...]) -> tuple | None:
    """Return the negative answer's SOA record at position (the question's name being asked,
    its labels, repeated byte for byte) as Plain.soa holds it, its TTL, and the position
    after it; None for another record; raise one of MALFORMED if it cannot be read.

    Read once for each key of _negatives: for a record whose owner is one pointer and whose
    names point at the question's name past its first label, if at all."""
    key = None
    if data[position] >= 0xC0:  # the owner a pointer: the TTL 6 bytes on
        ttl, length = TTL_LENGTH.unpack_from(data, position + 6)
        end = position + 12 + length
        key = (data[13 + data[12] : position + 6], data[position + 10 : end], position)
        kept = _negatives.get(key)
        if kept is not None:
            return kept, ttl if not ttl >> 31 else 0, end
    # The names end in pointers into the question's (the zone's): read with its labels, as
    # Reply.parse reads them.
    names = _Asked(asked)
    owner, position = names.read_labels(data, position)
    if data[position : position + 4] != SOA_TYPE:
        return None
    ttl, length = TTL_LENGTH.unpack_from(data, position + 4)
    start = position + 10
    position = start + length
    mname, after = names.read_labels(data, start)
    rname, after = names.read_labels(data, after)
    if after + 20 != position or position > len(data):
        return None
    # Read by dnspython (unless kept), which refuses more than wire.read_labels does (16
    # pointers in a row at most): as Reply.parse reads it.
    kept = _kept_rdata((SOA, mname, rname, data[after:position]), data, start, position, SOA, IN)
    soa = (owner, kept, int.from_bytes(data[position - 4 : position], "big"))
    if key is not None and names.lowest > 0:
        if len(_negatives) >= KEPT_NEGATIVES:
            _negatives.clear()
        _negatives[key] = soa
    return soa, ttl if not ttl >> 31 else 0, position


KEPT_TAILS = 64
# The last records of replies that _framed accepted, when one record of 11 bytes owned by
# the root (an OPT record without options, as a server answers our queries): the same
# bytes are accepted alike, told by a set lookup.
_tails: set[bytes] = set()


def _tail_framed(data: bytes, position: int, count: int) -> None:
    """Remember the last record at position of a reply _framed accepted, if one of _tails."""
    if count == 1 and len(data) == position + 11 and not data[position]:
        if len(_tails) >= KEPT_TAILS:
            _tails.clear()
        _tails.add(data[position:])


def rrset_of(name: dns.name.Name, rdtype: int, ttl: int, wires: Iterable[bytes]) -> dns.rrset.RRset:
    """Return the RRset of records of one of PLAIN_TYPES in wire form, as Reply.parse reads
    them (each record shared with the replies that hold it, its wire form kept)."""
    rrset = dns.rrset.RRset(name, IN, rdtype)
    for data in wires:
        rrset.items.update(_rdata(data, 0, len(data), rdtype, IN))
    rrset.ttl = ttl
    return rrset


def _framed(data: bytes, position: int, count: int) -> bool:
    """Tell whether the count records from position (those a Plain reply does not use) read
    as Reply.parse reads them, without an OPT record carrying an extended rcode: each an
    OPT, a TSIG (skipped by Reply.parse too), or a record of class IN an address of its
    size, or of PLAIN_TYPES or NAME_TYPES as Reply.parse reads it (_rdata, most of them
    kept from earlier replies). Any other record is for Reply.parse to judge."""
    size = len(data)
    for _ in range(count):
        if data[position]:
            position = wire.read_labels(data, position)[1]
        else:
            position += 1  # the root, an OPT record's owner
        rdtype, rdclass, ttl, length = wire.RR_HEADER.unpack_from(data, position)
        position += 10
        end = position + length
        if end > size:
            return False
        if rdtype == OPT:
            if ttl >> 24:
                return False
        elif rdtype != TSIG and not _valid(data, position, end, rdtype, rdclass):
            return False
        position = end
    return True


ADDRESS_SIZES = {1: 4, 28: 16}  # A, AAAA: the only sizes dnspython reads them of


def _valid(data: bytes, position: int, end: int, rdtype: int, rdclass: int) -> bool:
    """Tell whether the record's rdata (position to end) reads as Reply.parse reads it; False
    for the types Reply.parse leaves to dnspython each time (whatever they hold)."""
    if rdclass != IN:
        return False
    size = ADDRESS_SIZES.get(rdtype)
    if size is not None:
        return end - position == size
    if rdtype not in PLAIN_TYPES and rdtype not in NAME_TYPES:
        return False
    try:
        _rdata(data, position, end, rdtype, IN)
    except MALFORMED:
        return False
    return True


Response = Reply | Plain | dns.message.Message  # replies over TCP are read by dnspython


class Overloaded(Exception):
    """Too many distinct questions are being resolved already."""


class Coalescer(Generic[T]):
    """One resolution per distinct question in flight; later askers share its outcome.

    The first asker resolves in its own task (no task per resolution); the others wait for
    its outcome, and resolve again themselves if it gave up (its client went away, or the
    server is stopping). At most limit distinct questions are in flight, as BIND's
    recursive-clients: a flood of random names must not turn into unbounded work.
    """

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self.closed = False
        # The outcome each question in flight will have, made once a second asker waits for
        # it (None until then): most questions have one asker, and a future each cost them.
        self._inflight: dict[Hashable, asyncio.Future[T] | None] = {}

    async def run(self, key: Hashable, start: Callable[..., Awaitable[T]], *args) -> T:
        """Return the shared outcome of start(*args) for key; raise Overloaded when over the
        limit."""
        inflight = self._inflight
        while key in inflight:
            shared = inflight[key]
            if shared is None:
                shared = inflight[key] = asyncio.get_running_loop().create_future()
            try:
                # shield: one asker giving up must not cancel the others' answer.
                return await asyncio.shield(shared)
            except _Abandoned:
                if self.closed:  # close() failed it, and leaves it in flight: ask no more
                    raise Overloaded("closing") from None
                continue
        if not self.claim(key):
            raise Overloaded(f"{self.limit} resolutions in flight")
        try:
            outcome = await start(*args)
        except BaseException as error:
            self.settle(key, error=error)
            raise
        self.settle(key, outcome)
        return outcome

    def claim(self, key: Hashable) -> bool:
        """Take key in flight if it is not and there is room: the caller resolves it then,
        and hands its outcome to settle(). Else (False) run() shares the outcome of the
        resolution in flight, or raises Overloaded. What run() does first, for a caller that
        would rather not await it (a coroutine more for every cache miss)."""
        inflight = self._inflight
        if key in inflight or self.closed or len(inflight) >= self.limit:
            return False
        inflight[key] = None
        return True

    def settle(self, key: Hashable, outcome=None, error: BaseException | None = None) -> None:
        """Take key claimed out of flight with its outcome, or the error its resolution
        ended with, for the askers waiting on it."""
        shared = self._inflight.pop(key)
        if shared is None:
            return
        if error is None:
            shared.set_result(outcome)
        else:
            _fail(shared, _Abandoned() if isinstance(error, asyncio.CancelledError) else error)

    async def close(self) -> None:
        """Take no more questions; those waiting on another's resolution get Overloaded."""
        self.closed = True
        for shared in self._inflight.values():
            if shared is not None:
                _fail(shared, _Abandoned())


class _Abandoned(Exception):
    """The asker resolving a question gave up: another must resolve it."""


def _fail(shared: asyncio.Future, error: BaseException) -> None:
    if not shared.done():
        shared.set_exception(error)
        shared.exception()  # the others may all have gone: no "never retrieved" warning

"""The UDP sockets upstream queries share: replies matched on source, ID and question, the
rest dropped and counted, and source ports that keep changing (RFC 5452)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable

import dns.flags
import dns.message
import dns.name
import dns.rrset
import pytest

from dnsadmin.names.cache import Cache
from dnsadmin.names.forwarder import Forwarder
from dnsadmin.names.upstream import (
    POOL_SIZE,
    SOCKET_SECONDS,
    SOCKET_USES,
    PastDeadline,
    Question,
    Sockets,
    _random,
    exchange,
)

A = 1
Answer = Callable[[dns.message.Message, bytes, tuple, "Upstream"], None]


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def answer(query: dns.message.Message, address: str = "192.0.2.1", *, qname=None, rdtype="A"):
    """Return the wire of a response to query, or of one for qname/rdtype (a forgery)."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    owner = name(qname) if qname else query.question[0].name
    rrset = dns.rrset.from_text(owner, 300, "IN", rdtype, address)
    response.question = [dns.rrset.RRset(owner, rrset.rdclass, rrset.rdtype)]
    response.answer.append(rrset)
    return response.to_wire()


class Upstream(asyncio.DatagramProtocol):
    """A server on loopback whose behaviour a test scripts: it gets each query, the query's
    wire and source, and sends what it likes, from its own port or from another one (an
    off-path attacker's, who learnt the port the query came from)."""

    def __init__(self, script: Answer) -> None:
        self.script = script
        self.sources: list[tuple] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind(("127.0.0.1", 0))

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.sources.append((addr[1], data[:2]))  # the source port and the ID
        self.script(dns.message.from_wire(data), data, addr, self)

    def send(self, data: bytes, addr, *, later: float = 0.0, spoofed: bool = False) -> None:
        sender = self.other.sendto if spoofed else self.transport.sendto
        asyncio.get_running_loop().call_later(later, sender, data, addr)

    @property
    def port(self) -> int:
        return self.transport.get_extra_info("sockname")[1]


@pytest.fixture
async def start() -> AsyncIterator[Callable]:
    started: list[Upstream] = []

    async def start(script: Answer) -> Upstream:
        loop = asyncio.get_running_loop()
        _, server = await loop.create_datagram_endpoint(
            lambda: Upstream(script), local_addr=("127.0.0.1", 0)
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.transport.close()
        server.other.close()


@pytest.fixture
async def pool() -> AsyncIterator[Callable[..., Sockets]]:
    made: list[Sockets] = []

    def pool(limit: int = 100, **kw) -> Sockets:
        made.append(Sockets(limit, **kw))
        return made[-1]

    yield pool
    for sockets in made:
        sockets.close()


def with_id(wire: bytes, ident: int) -> bytes:
    return ident.to_bytes(2, "big") + wire[2:]


def forger(query, data, addr, server: Upstream) -> None:
    """Four forgeries, each wrong in one respect only, then the truth a moment later."""
    server.send(answer(query, "6.6.6.1"), addr, spoofed=True)  # from another port
    server.send(with_id(answer(query, "6.6.6.2"), (query.id + 1) % 65536), addr)
    server.send(answer(query, "6.6.6.3", qname="bank.test."), addr)
    server.send(answer(query, "2001:db8::6", rdtype="AAAA"), addr)
    server.send(answer(query, "192.0.2.1"), addr, later=0.05)


def addresses(reply) -> list[str]:
    return [rdata.address for rrset in reply.answer for rdata in rrset]


async def test_a_reply_from_another_port_with_another_id_or_question_is_dropped(start, pool):
    server = await start(forger)
    sockets = pool()
    question = Question.of(name("www.example.test."), A, recursion=False)
    reply, _ = await sockets.udp(question, "127.0.0.1", server.port, 5.0)
    assert addresses(reply) == ["192.0.2.1"]
    assert sockets.dropped == 4


async def test_the_question_is_matched_in_any_case_of_its_name(start, pool):
    def shouting(query, data, addr, server):
        server.send(answer(query, qname=str(query.question[0].name).upper()), addr)

    server = await start(shouting)
    question = Question.of(name("www.example.test."), A, recursion=False)
    reply, _ = await pool().udp(question, "127.0.0.1", server.port, 5.0)
    assert addresses(reply) == ["192.0.2.1"]


async def test_a_late_reply_is_dropped_and_counted(start, pool):
    def late(query, data, addr, server):
        server.send(answer(query), addr, later=0.3 if b"slow" in data else 0.6)

    server = await start(late)
    sockets = pool(size=1)  # one socket, shared by both questions
    other = Question.of(name("other.example.test."), A, recursion=False)
    waiting = asyncio.ensure_future(sockets.udp(other, "127.0.0.1", server.port, 5.0))
    await asyncio.sleep(0)
    slow = Question.of(name("slow.example.test."), A, recursion=False)
    with pytest.raises(TimeoutError):
        await sockets.udp(slow, "127.0.0.1", server.port, 0.1)
    reply, _ = await waiting  # the socket stayed open for it: the late reply reached it
    assert addresses(reply) == ["192.0.2.1"]
    assert sockets.dropped == 1
    assert len({port for port, _ in server.sources}) == 1


async def test_replies_swapped_between_questions_in_flight_poison_nothing(start, pool):
    # Two questions in flight on one shared socket: each first gets the other's reply
    # under its own ID.
    waiting: list[tuple] = []

    def swapper(query, data, addr, server):
        waiting.append((query, addr))
        if len(waiting) == 2:
            (first, to_first), (second, to_second) = waiting
            server.send(with_id(answer(second, "6.6.6.6"), first.id), to_first)
            server.send(with_id(answer(first, "6.6.6.6"), second.id), to_second)
            server.send(answer(first, "192.0.2.1"), to_first, later=0.05)
            server.send(answer(second, "192.0.2.2"), to_second, later=0.05)

    server = await start(swapper)
    forwarder = Forwarder(Cache(), [f"127.0.0.1:{server.port}"])
    forwarder.sockets = pool(size=1)
    try:
        one, two = await asyncio.gather(
            forwarder.resolve(name("one.example.test."), A),
            forwarder.resolve(name("two.example.test."), A),
        )
        assert [addresses(one), addresses(two)] == [["192.0.2.1"], ["192.0.2.2"]]
        assert forwarder.sockets.dropped == 2
        assert len({port for port, _ in server.sources}) == 1
        assert addresses(forwarder.cache.find(name("two.example.test."), A)) == ["192.0.2.2"]
    finally:
        await forwarder.close()


def slow(query, data, addr, server) -> None:
    server.send(answer(query), addr, later=0.2)


async def test_queries_in_flight_share_a_few_sockets_with_distinct_ids(start, pool):
    server = await start(slow)
    sockets = pool(1000)
    questions = [Question.of(name(f"n{i}.example.test."), A, recursion=False) for i in range(100)]
    replies = await asyncio.gather(
        *(sockets.udp(question, "127.0.0.1", server.port, 5.0) for question in questions)
    )
    assert all(addresses(reply) == ["192.0.2.1"] for reply, _ in replies)
    ports = {port for port, _ in server.sources}
    assert len(ports) == POOL_SIZE
    assert len(set(server.sources)) == 100  # no ID twice on one port while in flight


async def test_a_socket_is_retired_for_a_fresh_port_after_its_uses(start, pool):
    server = await start(slow)
    sockets = pool(1000, size=2)
    for wave in range(8):  # waves, so that the server's receive buffer keeps up
        questions = [
            Question.of(name(f"n{i}.w{wave}.test."), A, recursion=False) for i in range(48)
        ]
        await asyncio.gather(*(sockets.udp(q, "127.0.0.1", server.port, 5.0) for q in questions))
    uses: dict[int, int] = {}
    for port, _ in server.sources:
        uses[port] = uses.get(port, 0) + 1
    assert max(uses.values()) <= SOCKET_USES
    assert len(uses) >= 8 * 48 // SOCKET_USES


async def test_an_idle_socket_is_closed_within_seconds(start, pool):
    server = await start(lambda query, data, addr, server: server.send(answer(query), addr))
    sockets = pool()
    question = Question.of(name("www.example.test."), A, recursion=False)
    await sockets.udp(question, "127.0.0.1", server.port, 5.0)
    assert sockets.open == 1
    deadline = asyncio.get_running_loop().time() + 30 * SOCKET_SECONDS
    while sockets.open and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert sockets.open == 0


async def test_queries_one_after_another_move_to_a_fresh_port_after_the_uses(start, pool):
    server = await start(lambda query, data, addr, server: server.send(answer(query), addr))
    sockets = pool(size=1)
    for i in range(SOCKET_USES + 1):
        question = Question.of(name(f"n{i}.example.test."), A, recursion=False)
        reply, _ = await sockets.udp(question, "127.0.0.1", server.port, 5.0)
        assert addresses(reply) == ["192.0.2.1"]
    ports = [port for port, _ in server.sources]
    assert len(set(ports[:SOCKET_USES])) == 1 and ports[-1] != ports[0]


def silent(query, data, addr, server) -> None:
    """Never answer."""


def truncating(query, data, addr, server) -> None:
    """Answer with TC set and nothing else: the client must retry over TCP."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.TC
    server.send(response.to_wire(), addr)


async def test_a_wait_the_deadline_cuts_short_is_the_deadline_not_the_server(start, pool):
    server = await start(silent)
    sockets = pool(4)
    question = Question.of(name("www.example.test."), A, recursion=False)
    deadline = asyncio.get_running_loop().time() + 0.1
    with pytest.raises(PastDeadline):
        await exchange(question, "127.0.0.1", server.port, 5.0, lambda: None, sockets, deadline)
    with pytest.raises(TimeoutError):  # a whole timeout: the server's silence
        await exchange(question, "127.0.0.1", server.port, 0.1, lambda: None, sockets)
    assert not sockets.queries.locked() and sockets.queries._value == 4  # given back


async def test_a_tcp_retry_the_deadline_cuts_short_gives_its_descriptor_back(start, pool):
    hung: list[asyncio.StreamWriter] = []

    async def never_answers(reader, writer) -> None:
        hung.append(writer)  # reads nothing, answers nothing: the client waits

    for _ in range(20):  # a UDP port whose TCP twin is free
        server = await start(truncating)
        with contextlib.suppress(OSError):
            tcp = await asyncio.start_server(never_answers, "127.0.0.1", server.port)
            break
    sockets = pool(4)
    free = sockets.tcp._value
    question = Question.of(name("www.example.test."), A, recursion=False)
    spent: list[int] = []
    deadline = asyncio.get_running_loop().time() + 0.3
    try:
        with pytest.raises(PastDeadline):
            await exchange(
                question, "127.0.0.1", server.port, 5.0, lambda: spent.append(1), sockets,
                deadline,
            )  # fmt: skip
    finally:
        tcp.close()
        for writer in hung:
            writer.close()
    assert len(spent) == 2 and len(hung) == 1  # the UDP query, then the TCP retry
    assert sockets.tcp._value == free and sockets.queries._value == 4


async def test_queries_timing_out_together_share_one_timer_and_leave_nothing_behind(start, pool):
    silent_server = await start(silent)
    answering = await start(lambda query, data, addr, server: server.send(answer(query), addr))
    sockets = pool()
    questions = [Question.of(name(f"n{i}.example.test."), A, recursion=False) for i in range(50)]
    waits = [
        asyncio.ensure_future(sockets.udp(question, "127.0.0.1", silent_server.port, 0.2))
        for question in questions
    ]
    await asyncio.sleep(0)
    assert sum(map(len, sockets._due.values())) == 50
    assert len(sockets._due) <= 2  # one timer for all (two if a hundredth ends meanwhile)
    outcomes = await asyncio.gather(*waits, return_exceptions=True)
    assert all(isinstance(outcome, TimeoutError) for outcome in outcomes)
    reply, _ = await sockets.udp(questions[0], "127.0.0.1", answering.port, 5.0)
    assert addresses(reply) == ["192.0.2.1"]
    # The reply answered is not held until its timeout would have come.
    assert not any(sockets._due.values())


def test_a_forked_child_does_not_send_its_parents_next_query_ids():
    # IDs come from a buffer of the kernel's random bytes: a child forked with it (rundns
    # workers sharing a port) must read its own, or one's IDs would foretell the other's.
    _random.take(2)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write, _random.take(16))
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 16) != _random.take(16)
    os.close(read)
    os.close(write)


def echoing(query, data, addr, server: Upstream) -> None:
    server.send(answer(query), addr)


async def test_the_queries_of_a_turn_of_the_event_loop_go_out_together_at_its_end(start, pool):
    server = await start(echoing)
    sockets = pool()
    questions = [Question.of(name(f"n{i}.example.test."), A, recursion=False) for i in range(3)]
    asked = [
        asyncio.ensure_future(sockets.udp(q, "127.0.0.1", server.port, 5.0)) for q in questions
    ]
    await asyncio.sleep(0)  # each query is made, none sent yet
    assert len(sockets._outgoing) == 3
    await asyncio.sleep(0)  # the turn's end: all of them sent at once
    assert not sockets._outgoing
    replies = await asyncio.gather(*asked)
    assert all(addresses(reply) == ["192.0.2.1"] for reply, _ in replies)
    assert len(server.sources) == 3


def asked_soon(sockets: Sockets, server: Upstream, qname: str) -> asyncio.Future:
    """Return the asking of server for qname/A, under way from the loop's next turn."""
    question = Question.of(name(qname), A, recursion=False)
    return asyncio.ensure_future(sockets.udp(question, "127.0.0.1", server.port, 5.0))


async def test_a_query_whose_asker_gave_up_before_the_turn_ended_is_not_sent(start, pool):
    server = await start(echoing)
    sockets = pool()
    waiting = asked_soon(sockets, server, "gone.example.test.")
    await asyncio.sleep(0)
    waiting.cancel()
    question = Question.of(name("www.example.test."), A, recursion=False)
    reply, _ = await sockets.udp(question, "127.0.0.1", server.port, 5.0)
    assert addresses(reply) == ["192.0.2.1"]
    assert waiting.cancelled() and len(server.sources) == 1


async def test_a_query_that_cannot_be_sent_fails_with_the_error_at_once(pool):
    sockets = pool()
    question = Question.of(name("www.example.test."), A, recursion=False)
    with pytest.raises(PermissionError):  # broadcast, without SO_BROADCAST
        await sockets.udp(question, "255.255.255.255", 53, 5.0)
    assert not sockets._outgoing and sockets.open == 1


class Counted:
    """A socket whose reads are counted."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.reads = sock, 0

    def recvfrom(self, size: int):
        self.reads += 1
        return self.sock.recvfrom(size)

    def __getattr__(self, attribute: str):
        return getattr(self.sock, attribute)


async def test_a_socket_is_not_read_again_once_its_queries_have_their_replies(start, pool):
    server = await start(echoing)
    sockets = pool()
    asked = asked_soon(sockets, server, "www.example.test.")
    await asyncio.sleep(0)
    (shared,) = sockets._all
    shared.sock = counted = Counted(shared.sock)
    reply, _ = await asked
    assert addresses(reply) == ["192.0.2.1"]
    assert counted.reads == 1  # the reply, without a read more to find the socket empty
    stray = answer(dns.message.make_query("late.example.test.", "A"))
    server.send(stray, counted.getsockname())
    for _ in range(500):  # what comes later is read when it comes
        if sockets.dropped:
            break
        await asyncio.sleep(0.01)
    assert sockets.dropped == 1

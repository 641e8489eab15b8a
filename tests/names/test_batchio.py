"""Datagrams read and sent in batches (batchio.py): recvmmsg/sendmmsg and the recvfrom/sendto
fallback give the same datagrams from the same clients, and the UDP listener answers a batch
from several clients, over IPv4 and IPv6, byte for byte as it does one datagram at a time."""

from __future__ import annotations

import asyncio
import socket
import time

import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest

from dnsadmin.names import batchio
from dnsadmin.names.server import DNSServer
from tests.names.zones import make_catalog, serve

FAMILIES = {"ipv4": (socket.AF_INET, "127.0.0.1"), "ipv6": (socket.AF_INET6, "::1")}
WAYS = {"batched": batchio.MultiBatches, "one at a time": batchio.Batches}
CLIENTS = 5
QUESTIONS = [
    ("www.example.com.", "A"),
    ("www.example.com.", "AAAA"),
    ("WwW.ExAmPlE.cOm.", "A"),
    ("nothing-here.example.com.", "A"),
    ("big.example.com.", "A"),  # 60 records: over 512 bytes, truncated
    ("one.example.com.", "A"),
    ("host.example.net.", "TXT"),
    ("www.example.com.", "A"),
]


@pytest.fixture(params=list(FAMILIES))
def family(request) -> tuple[int, str]:
    return FAMILIES[request.param]


@pytest.fixture(params=list(WAYS))
def way(request) -> type[batchio.Batches]:
    return WAYS[request.param]


def udp_socket(family: int, host: str) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(False)
    return sock


def receive_all(batches: batchio.Batches, count: int) -> list[tuple[bytes, tuple]]:
    """Return count datagrams read from batches, waiting for them with a generous deadline."""
    got: list[tuple[bytes, tuple]] = []
    deadline = time.monotonic() + 10
    while len(got) < count and time.monotonic() < deadline:
        batch = batches.receive()
        assert len(batch) <= batches.size
        got += batch
        if not batch:
            time.sleep(0.01)
    return got


def test_the_batched_way_is_the_one_on_linux():
    sock = udp_socket(socket.AF_INET, "127.0.0.1")
    with sock:
        assert type(batchio.wrap(sock)) is batchio.MultiBatches


def test_datagrams_from_several_clients_come_with_their_senders(family, way):
    """More than a batch, some empty, one as large as UDP carries: each whole, in order."""
    kind, host = family
    with udp_socket(kind, host) as server:
        clients = [udp_socket(kind, host) for _ in range(CLIENTS)]
        sent = []
        for round_ in range(20):
            for number, client in enumerate(clients):
                data = bytes([number, round_]) * (round_ * 7) if round_ != 3 else b""
                client.sendto(data, server.getsockname())
                sent.append((data, client.getsockname()))
        largest = 65507 if kind == socket.AF_INET else 65527  # the IP length fields allow
        clients[0].sendto(b"L" * largest, server.getsockname())
        sent.append((b"L" * largest, clients[0].getsockname()))
        got = receive_all(way(server), len(sent))
        for client in clients:
            client.close()
    assert len(got) == len(sent)
    assert got == sent  # loopback keeps the order of what one socket sent to another


def test_a_datagram_longer_than_the_buffer_is_cut_as_recvfrom_cuts_it(family, way):
    kind, host = family
    with udp_socket(kind, host) as server, udp_socket(kind, host) as client:
        for data in (b"x" * 1000, b"y" * 512, b"z" * 511):
            client.sendto(data, server.getsockname())
        got = receive_all(way(server, 512), 3)
    assert [data for data, _ in got] == [b"x" * 512, b"y" * 512, b"z" * 511]


def test_replies_go_to_each_client_and_the_refused_are_told(family, way):
    """The kernel refuses a datagram too large for UDP and an address with port 0 (and the
    batched way one too large for its buffer): the others go out, those before and after (a
    batch cut short by a refusal is sent on)."""
    kind, host = family
    with udp_socket(kind, host) as server:
        clients = [udp_socket(kind, host) for _ in range(CLIENTS)]
        replies = [(b"to %d" % number, c.getsockname()) for number, c in enumerate(clients)]
        replies.insert(1, (b"x" * 65530, clients[0].getsockname()))
        replies.insert(4, (b"nowhere", (host, 0)))
        replies.append((b"x" * 80_000, clients[1].getsockname()))
        assert way(server).send(replies) == [1, 4, 7]
        for number, client in enumerate(clients):
            client.settimeout(10)
            assert client.recvfrom(100) == (b"to %d" % number, server.getsockname())
            client.close()


async def exchange(server: DNSServer, kind: int, host: str) -> dict[tuple[int, int], bytes]:
    """Ask the QUESTIONS from CLIENTS sockets at once; return each response by (client, ID)."""
    loop = asyncio.get_running_loop()
    clients = [udp_socket(kind, host) for _ in range(CLIENTS)]
    target = (host, server.port)
    for round_, (name, rdtype) in enumerate(QUESTIONS):
        for number, client in enumerate(clients):
            query = dns.message.make_query(name, rdtype, use_edns=round_ % 2 == 0)
            query.id = number * 100 + round_
            client.sendto(query.to_wire(), target)
    responses = {}
    async with asyncio.timeout(10):
        for number, client in enumerate(clients):
            while len([n for n, _ in responses if n == number]) < len(QUESTIONS):
                response, source = await loop.sock_recvfrom(client, 65535)
                assert source[:2] == target
                responses[number, int.from_bytes(response[:2], "big")] = response
            client.close()
    return responses


@pytest.fixture
async def servers(monkeypatch) -> tuple[DNSServer, DNSServer]:
    """Two servers of the same zones, on IPv4 and IPv6: batched, and one at a time."""
    batched = serve(make_catalog())
    await batched.start(["127.0.0.1", "::1"], 0)
    monkeypatch.setattr(batchio, "LIBC", None)  # what wrap finds without recvmmsg or cffi
    single = serve(make_catalog())
    await single.start(["127.0.0.1", "::1"], 0)
    yield batched, single
    await batched.stop()
    await single.stop()


async def test_a_batch_from_several_clients_is_answered_as_one_at_a_time(servers, family):
    batched, single = servers
    assert {type(udp) for udp in batched._udp} == {batchio.MultiBatches}
    assert {type(udp) for udp in single._udp} == {batchio.Batches}
    kind, host = family
    first, again = await exchange(batched, kind, host), await exchange(batched, kind, host)
    assert first == again  # the first resolved in full, then kept answers
    assert len(first) == CLIENTS * len(QUESTIONS)
    await exchange(single, kind, host)
    assert first == await exchange(single, kind, host)
    for (number, qid), response in first.items():
        assert qid // 100 == number  # the client that asked it got it
        name, rdtype = QUESTIONS[qid % 100]
        question = dns.message.from_wire(response).question[0]
        assert (question.name.to_text(), dns.rdatatype.to_text(question.rdtype)) == (name, rdtype)
    assert batched.stats.by_transport == single.stats.by_transport
    assert batched.stats.answered == single.stats.answered
    assert batched.stats.dropped == single.stats.dropped == 0


async def test_a_kept_answer_the_kernel_refuses_is_dropped_and_not_counted(monkeypatch):
    """Of the kept answers of a batch, the one the kernel refuses (sent to port 0, instead of
    to one client) counts as dropped, not as answered, and is not logged; the others are."""
    heard: list[tuple] = []
    server = serve(make_catalog(), on_query=lambda *event: heard.append(event))
    await server.start(["127.0.0.1"], 0)
    clients = [udp_socket(socket.AF_INET, "127.0.0.1") for _ in range(CLIENTS)]
    unlucky = clients[2].getsockname()
    udp = server._udp[0]
    send = udp.send

    def send_one_nowhere(replies):
        return send([(data, ("127.0.0.1", 0) if c == unlucky else c) for data, c in replies])

    monkeypatch.setattr(udp, "send", send_one_nowhere)
    loop = asyncio.get_running_loop()
    query = dns.message.make_query("www.example.com.", "A")
    try:
        await exchange_one(clients[0], query, server.port)  # the answer is kept after this
        heard.clear()
        for client in clients:
            client.sendto(query.to_wire(), ("127.0.0.1", server.port))
        async with asyncio.timeout(10):
            for client in clients:
                if client.getsockname() != unlucky:
                    reply = dns.message.from_wire(await loop.sock_recv(client, 512))
                    assert reply.id == query.id and reply.answer
            while server.stats.dropped < 1:
                await asyncio.sleep(0.01)
        with pytest.raises(BlockingIOError):
            clients[2].recv(512)
        assert server.stats.dropped == 1
        assert server.stats.answered == {("authority", dns.rcode.NOERROR): CLIENTS}
        assert server.stats.by_transport == {"udp": CLIENTS}
        assert len(heard) == CLIENTS - 1
    finally:
        for client in clients:
            client.close()
        await server.stop()


async def exchange_one(client: socket.socket, query: dns.message.Message, port: int) -> None:
    client.sendto(query.to_wire(), ("127.0.0.1", port))
    async with asyncio.timeout(10):
        await asyncio.get_running_loop().sock_recv(client, 512)


class Sent:
    """A stand-in for a batched socket that keeps what the server sends."""

    def __init__(self) -> None:
        self.replies: list[tuple[bytes, tuple]] = []

    def send(self, replies: list[tuple[bytes, tuple]]) -> list[int]:
        self.replies += replies
        return []


async def test_the_answers_of_a_batch_go_out_when_a_later_datagram_raises(monkeypatch):
    server = serve(make_catalog())
    server._loop = asyncio.get_running_loop()
    kept = dns.message.make_query("www.example.com.", "A").to_wire()
    server.chain.resolve(kept, tcp=False, client="127.0.0.1")  # the answer is kept after this
    notify = dns.message.make_query("www.example.com.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    broken = notify.to_wire()  # not a kept answer: the server asks whether it is signed

    def signed(query: bytes) -> bool:
        if query == broken:
            raise RuntimeError("a bug on one datagram")
        return False

    monkeypatch.setattr(server, "_signed", signed)
    udp = Sent()
    batch = [
        (kept, ("127.0.0.1", 1001)),
        (broken, ("127.0.0.1", 1002)),
        (kept, ("127.0.0.1", 1003)),
    ]
    with pytest.raises(RuntimeError):
        server._answer_batch(udp, batch, time.perf_counter())
    assert [client for _, client in udp.replies] == [("127.0.0.1", 1001)]
    assert dns.message.from_wire(udp.replies[0][0]).answer
    assert server.stats.by_transport == {"udp": 1}

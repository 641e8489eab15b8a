"""The asyncio listeners against real clients: dig, dnspython, raw sockets."""

from __future__ import annotations

import asyncio
import socket
import struct

import dns.asyncquery
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from dnsadmin.names import authority, wire
from dnsadmin.names.authority import NOT_MINE
from dnsadmin.names.chain import ChainConfig, ResolverChain
from dnsadmin.names.cookies import Cookies
from dnsadmin.names.server import DNSServer
from tests.names.zones import serve

pytestmark = pytest.mark.integration


async def dig(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "dig", *args, "+time=2", "+tries=1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 20)
    return out.decode()


def answer_lines(output: str) -> list[str]:
    section = output.split(";; ANSWER SECTION:\n", 1)[1].split("\n\n", 1)[0]
    return section.splitlines()


async def test_dig_gets_an_authoritative_answer_over_udp(loop_server):
    out = await dig("@127.0.0.1", "-p", str(loop_server.port), "one.example.com.", "A", "+norec")
    assert "status: NOERROR" in out
    assert "flags: qr aa;" in out
    assert answer_lines(out)[-1].split()[-1] == "192.0.2.10"
    assert "(UDP)" in out


async def test_dig_gets_a_large_answer_over_tcp(loop_server):
    out = await dig("@127.0.0.1", "-p", str(loop_server.port), "+tcp", "big.example.com.", "A")
    assert "(TCP)" in out
    assert len(answer_lines(out)) == 60


async def test_dig_retries_a_truncated_answer_over_tcp(loop_server):
    out = await dig("@127.0.0.1", "-p", str(loop_server.port), "+noedns", "big.example.com.", "A")
    assert "Truncated, retrying in TCP mode" in out
    assert len(answer_lines(out)) == 60


async def test_dig_sees_nxdomain_and_referrals(loop_server):
    port = str(loop_server.port)
    out = await dig("@127.0.0.1", "-p", port, "nothere.example.com.", "A")
    assert "status: NXDOMAIN" in out
    out = await dig("@127.0.0.1", "-p", port, "www.sub.example.com.", "A", "+norec")
    assert "flags: qr;" in out
    assert "ns.sub.example.com." in out.split(";; ADDITIONAL SECTION:")[1]


async def test_it_listens_on_ipv6_and_ipv4_on_one_port(catalog):
    server = serve(catalog)
    await server.start(["127.0.0.1", "::1"], 0)
    try:
        ports = {sock.getsockname()[1] for sock in server.sockets}
        assert ports == {server.port}
        out = await dig("@::1", "-p", str(server.port), "www.example.com.", "AAAA")
        assert answer_lines(out)[0].split()[-1] == "2001:db8::10"
        out = await dig("@::1", "-p", str(server.port), "+tcp", "www.example.com.", "AAAA")
        assert "(TCP)" in out
    finally:
        await server.stop()


def framed(query: dns.message.Message) -> bytes:
    data = query.to_wire()
    return struct.pack("!H", len(data)) + data


async def read_framed(reader: asyncio.StreamReader) -> dns.message.Message:
    length = struct.unpack("!H", await reader.readexactly(2))[0]
    return dns.message.from_wire(await reader.readexactly(length))


async def test_it_answers_pipelined_queries_on_one_connection(loop_server):
    reader, writer = await asyncio.open_connection("127.0.0.1", loop_server.port)
    queries = [dns.message.make_query(f"{n}.example.com.", "A") for n in ("www", "one", "nope")]
    writer.write(b"".join(framed(q) for q in queries))
    responses = [await asyncio.wait_for(read_framed(reader), 5) for _ in queries]
    writer.close()
    by_id = {r.id: r for r in responses}
    assert set(by_id) == {q.id for q in queries}
    assert by_id[queries[2].id].rcode() == dns.rcode.NXDOMAIN


async def test_it_closes_an_idle_connection(catalog):
    server = serve(catalog, tcp_idle_timeout=0.2)
    await server.start(["127.0.0.1"], 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        await server.stop()


async def test_it_counts_queries_by_rcode_and_transport(loop_server):
    port = loop_server.port
    await dns.asyncquery.udp(
        dns.message.make_query("www.example.com.", "A"), "127.0.0.1", port=port
    )
    await dns.asyncquery.udp(dns.message.make_query("no.example.com.", "A"), "127.0.0.1", port=port)
    await dns.asyncquery.tcp(
        dns.message.make_query("www.example.org.", "A"), "127.0.0.1", port=port
    )
    assert loop_server.stats.by_transport == {"udp": 2, "tcp": 1}
    assert loop_server.stats.by_rcode == {0: 1, 3: 1, 5: 1}


class Reported(list):
    """An on_query listener that keeps what it is told."""

    def __call__(self, *event: object) -> None:
        self.append(event)


async def test_on_query_reports_each_answer(catalog):
    events = Reported()
    server = serve(catalog, on_query=events)
    await server.start(["127.0.0.1"], 0)
    try:
        query = dns.message.make_query("WWW.example.com.", "AAAA")
        await dns.asyncquery.udp(query, "127.0.0.1", port=server.port)
    finally:
        await server.stop()
    ((client, wire_query, rcode, source, latency, transport),) = events
    question = wire.question_text(wire_query)
    assert (client, question, rcode) == ("127.0.0.1", ("WWW.example.com.", 28), 0)
    assert (source, transport) == ("authority", "udp")
    assert 0 <= latency < 5


async def test_the_query_log_hears_at_most_its_share_each_second_and_all_are_counted(catalog):
    events = Reported()
    server = serve(catalog, on_query=events, log_per_second=3)
    await server.start(["127.0.0.1"], 0)
    try:
        for _ in range(10):  # a few milliseconds: one budget, two if a second turns meanwhile
            query = dns.message.make_query("www.example.com.", "A")
            await dns.asyncquery.udp(query, "127.0.0.1", port=server.port, timeout=2)
    finally:
        await server.stop()
    assert 3 <= len(events) <= 6
    assert server.stats.answered == {("authority", dns.rcode.NOERROR): 10}


async def test_a_repeated_question_is_answered_and_reported_without_parsing(catalog, monkeypatch):
    events = Reported()
    server = serve(catalog, on_query=events)
    await server.start(["127.0.0.1"], 0)
    try:
        first = dns.message.make_query("www.example.com.", "A")
        await dns.asyncquery.udp(first, "127.0.0.1", port=server.port, timeout=2)
        # The memoized answer serves the same question under a new ID; nothing may parse it.
        parsed: list[object] = []
        monkeypatch.setattr(wire, "parse_query", lambda *args: parsed.append(args))
        monkeypatch.setattr(dns.name, "from_wire", lambda *args: parsed.append(args))
        again = dns.message.make_query("www.example.com.", "A")
        again.id = (first.id + 1) % 65536
        response = await dns.asyncquery.udp(again, "127.0.0.1", port=server.port, timeout=2)
    finally:
        await server.stop()
    assert response.id == again.id and response.answer
    assert parsed == [] and len(events) == 2


async def test_a_failing_on_query_callback_does_not_stop_the_listener(catalog):
    def explode(*event: object) -> None:
        raise RuntimeError("boom")

    server = serve(catalog, on_query=explode)
    await server.start(["127.0.0.1"], 0)
    try:
        for _ in range(2):
            query = dns.message.make_query("www.example.com.", "A")
            response = await dns.asyncquery.udp(query, "127.0.0.1", port=server.port, timeout=2)
            assert response.rcode() == dns.rcode.NOERROR
    finally:
        await server.stop()


class NotifyHandler:
    """Takes NOTIFY messages off the resolver chain, as the worker's SignedMessages does, and
    acknowledges them (AA set), noting each."""

    def __init__(self) -> None:
        self.answered: list[bytes] = []

    def claims(self, query: bytes) -> bool:
        return (query[2] >> 3) & 0xF == dns.opcode.NOTIFY

    async def respond(self, query: bytes, client: str, tcp: bool) -> list[bytes]:
        self.answered.append(query)
        response = dns.message.make_response(dns.message.from_wire(query))
        response.flags |= dns.flags.AA
        return [response.to_wire()]


async def test_edns_questions_without_options_are_kept_answers_with_cookies_on(
    catalog, monkeypatch
):
    handler = NotifyHandler()
    server = serve(catalog, cookies=Cookies([bytes(range(16))]), messages=handler)
    await server.start(["127.0.0.1"], 0)
    try:
        first = dns.message.make_query("www.example.com.", "A", want_dnssec=True)
        kept = await dns.asyncquery.udp(first, "127.0.0.1", port=server.port, timeout=2)
        # The same DO=1 question again: a kept answer, nothing parses it.
        parsed: list[object] = []
        monkeypatch.setattr(wire, "parse_query", lambda *args: parsed.append(args))
        monkeypatch.setattr(dns.name, "from_wire", lambda *args: parsed.append(args))
        again = dns.message.make_query("www.example.com.", "A", want_dnssec=True)
        again.id = (first.id + 1) % 65536
        response = await dns.asyncquery.udp(again, "127.0.0.1", port=server.port, timeout=2)
        assert parsed == []
        monkeypatch.undo()
        # A NOTIFY shaped alike (EDNS last, no option) still goes to the message handler.
        notifies = []
        for _ in range(2):
            notify = dns.message.make_query("example.com.", "SOA", use_edns=0)
            notify.set_opcode(dns.opcode.NOTIFY)
            notifies.append(
                await dns.asyncquery.udp(notify, "127.0.0.1", port=server.port, timeout=2)
            )
    finally:
        await server.stop()
    assert response.id == again.id and response.answer == kept.answer
    assert response.ednsflags & dns.flags.DO and not response.options  # no cookie asked, none
    assert len(handler.answered) == 2
    assert all(n.opcode() == dns.opcode.NOTIFY and n.flags & dns.flags.AA for n in notifies)


class SlowResolver(asyncio.DatagramProtocol):
    """A resolver on loopback that says NXDOMAIN to every question (with AA and its zone's
    SOA, so that it is believed and cached), after a delay."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.asked: list[str] = []

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        query = dns.message.from_wire(data)
        self.asked.append(query.question[0].name.to_text())
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        response.set_rcode(dns.rcode.NXDOMAIN)
        soa = "ns.example.org. hostmaster.example.org. 1 7200 900 1209600 60"
        response.authority.append(dns.rrset.from_text("example.org.", 60, "IN", "SOA", soa))
        asyncio.get_running_loop().call_later(
            self.delay, self.transport.sendto, response.to_wire(), addr
        )


@pytest.fixture
async def slow_resolver():
    async def start(delay: float) -> tuple[SlowResolver, int]:
        loop = asyncio.get_running_loop()
        transport, resolver = await loop.create_datagram_endpoint(
            lambda: SlowResolver(delay), local_addr=("127.0.0.1", 0)
        )
        transports.append(transport)
        return resolver, transport.get_extra_info("sockname")[1]

    transports: list[asyncio.DatagramTransport] = []
    yield start
    for transport in transports:
        transport.close()


def forwarding(catalog, port: int, **kw) -> DNSServer:
    """Our server with the chain production runs, forwarding outside our zones to port."""
    config = ChainConfig(forwarders=[f"127.0.0.1:{port}"], query_timeout=2.0)
    return DNSServer(ResolverChain(catalog, config), **kw)


async def test_names_outside_our_zones_go_down_the_chain(catalog, slow_resolver):
    resolver, port = await slow_resolver(0.05)
    events = Reported()
    server = forwarding(catalog, port, on_query=events)
    await server.start(["127.0.0.1"], 0)
    try:
        for transport in (dns.asyncquery.udp, dns.asyncquery.udp, dns.asyncquery.tcp):
            outside = dns.message.make_query("www.example.org.", "A")
            response = await transport(outside, "127.0.0.1", port=server.port, timeout=2)
            assert response.rcode() == dns.rcode.NXDOMAIN
        inside = dns.message.make_query("www.example.com.", "A")
        response = await dns.asyncquery.tcp(inside, "127.0.0.1", port=server.port, timeout=2)
        assert response.rcode() == dns.rcode.NOERROR
    finally:
        await server.stop()
        await server.chain.close()
    assert resolver.asked == ["www.example.org."]
    sources = [source for _, _, _, source, _, _ in events]
    assert sources == ["forwarder", "cache", "cache", "authority"]


async def test_a_resolution_finishing_reads_the_kept_answers_waiting(catalog, slow_resolver):
    # A storm keeps the event loop busy with replies from upstream: the sockets are read
    # between them too. Here the loop's own reader is taken away once the resolution is under
    # way, so the question waiting in the socket is answered by that read alone.
    _, port = await slow_resolver(0.3)
    server = forwarding(catalog, port)
    await server.start(["127.0.0.1"], 0)
    try:
        kept = dns.message.make_query("www.example.com.", "A")
        await dns.asyncquery.udp(kept, "127.0.0.1", port=server.port, timeout=2)
        slow = dns.message.make_query("slow.example.org.", "A")
        outside = asyncio.create_task(
            dns.asyncquery.udp(slow, "127.0.0.1", port=server.port, timeout=5)
        )
        deadline = asyncio.get_running_loop().time() + 5
        while not server._resolving and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        asyncio.get_running_loop().remove_reader(server._udp[0].fileno())
        again = dns.message.make_query("www.example.com.", "A")
        answer = await dns.asyncquery.udp(again, "127.0.0.1", port=server.port, timeout=5)
        resolved = await outside
    finally:
        await server.stop()
        await server.chain.close()
    assert answer.id == again.id and answer.answer
    assert resolved.rcode() == dns.rcode.NXDOMAIN


async def test_a_slow_answer_does_not_hold_up_later_ones_on_a_connection(catalog, slow_resolver):
    # RFC 7766 6.2.1.1: answers on one connection may come back out of order.
    _, port = await slow_resolver(0.3)
    server = forwarding(catalog, port)
    await server.start(["127.0.0.1"], 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        slow = dns.message.make_query("slow.example.org.", "A")
        fast = dns.message.make_query("www.example.com.", "A")
        writer.write(framed(slow) + framed(fast))
        first, second = [await asyncio.wait_for(read_framed(reader), 5) for _ in range(2)]
        assert (first.id, second.id) == (fast.id, slow.id)
        writer.close()
    finally:
        await server.stop()
        await server.chain.close()


def test_the_authority_says_not_mine_for_foreign_names(catalog):
    query = dns.message.make_query("www.example.org.", "A").to_wire()
    assert authority.answer(query, catalog) is NOT_MINE


@pytest.mark.parametrize("later", [False, True])
async def test_a_failing_resolver_costs_a_servfail_not_the_listener(
    catalog, slow_resolver, later, monkeypatch, caplog
):
    _, port = await slow_resolver(0)
    server = forwarding(catalog, port)

    async def fail_later(*args: object, **kw: object) -> None:
        raise RuntimeError("resolver bug, later")

    def fail(*args: object, **kw: object) -> None:
        raise RuntimeError("resolver bug")

    if later:
        monkeypatch.setattr(server.chain.upstream, "resolve", fail_later)
    else:
        monkeypatch.setattr(server.chain.cache, "respond", fail)
    await server.start(["127.0.0.1"], 0)
    try:
        # CAA: a question of chain.WIRED_TYPES skips the cache link on a miss (_plain_miss).
        query = dns.message.make_query("www.example.org.", "CAA")
        response = await dns.asyncquery.udp(query, "127.0.0.1", port=server.port, timeout=2)
        assert response.rcode() == dns.rcode.SERVFAIL
        assert response.question == query.question
        query = dns.message.make_query("www.example.com.", "A")
        response = await dns.asyncquery.udp(query, "127.0.0.1", port=server.port, timeout=2)
        assert response.rcode() == dns.rcode.NOERROR
    finally:
        await server.stop()
        await server.chain.close()
    assert "resolver bug" in caplog.text


async def test_two_servers_share_a_port_with_reuse_port(catalog):
    first, second = serve(catalog), serve(catalog)
    await first.start(["127.0.0.1"], 0, reuse_port=True)
    try:
        await second.start(["127.0.0.1"], first.port, reuse_port=True)
        assert second.port == first.port
        await second.stop()
    finally:
        await first.stop()


async def test_stop_closes_open_connections(catalog):
    server = serve(catalog, tcp_idle_timeout=30)
    await server.start(["127.0.0.1"], 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(framed(dns.message.make_query("www.example.com.", "A")))
    await read_framed(reader)
    await asyncio.wait_for(server.stop(), 5)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    assert server.stats.tcp_connections == 0


async def test_answers_of_the_full_path_go_out_together_at_the_end_of_the_turn(
    catalog, monkeypatch
):
    server = DNSServer(ResolverChain(catalog, ChainConfig(recursion=False)))
    await server.start(["127.0.0.1"], 0)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    udp, sent = server._udp[0], []
    send = udp.send
    monkeypatch.setattr(udp, "send", lambda replies: sent.append(len(replies)) or send(replies))
    try:
        for number in range(3):
            server._send_udp(udp, b"answer %d" % number, client.getsockname())
        server._send_udp(udp, b"refused", ("127.0.0.1", 0))
        assert sent == []
        await asyncio.sleep(0)  # the turn's end: one batch for the listener
        assert sent == [4] and server.stats.dropped == 1
        assert [client.recv(64) for _ in range(3)] == [b"answer 0", b"answer 1", b"answer 2"]
        server._send_udp(udp, b"last", client.getsockname())
        await server.stop()  # in the same turn: what it queued goes out before it closes
        assert sent == [4, 1] and client.recv(64) == b"last"
        server._send_udp(udp, b"late", client.getsockname())
        await asyncio.sleep(0)
        assert sent == [4, 1] and server.stats.dropped == 2  # its listener closed: dropped
    finally:
        await server.stop()
        client.close()

"""TCP clients that hold their connection: not reading their replies, half-closing, crowding.

A client that pipelines queries for large answers and never reads fills the kernel's buffers
and then ours; the write timeout frees its slot, and a full server makes room for a new client
by closing the connection that has waited on its client longest.
"""

from __future__ import annotations

import asyncio
import socket
import time

import dns.message
import dns.rcode
import pytest

from tests.names import test_server
from tests.names.test_server import forwarding, framed, read_framed
from tests.names.zones import serve

pytestmark = pytest.mark.integration

slow_resolver = test_server.slow_resolver  # the fixture, shared
BIG = framed(dns.message.make_query("big.example.com.", "A"))  # about 1 kB answered


def stalled_client(port: int) -> socket.socket:
    """Return a connection that has sent hundreds of queries for a large answer and will read
    none of the replies (a receive buffer as small as the kernel allows)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    pending = BIG * 4000  # 4 MB of replies: more than the kernel and our buffers hold
    while pending:
        try:
            pending = pending[sock.send(pending) :]
        except BlockingIOError:
            break  # the server stopped reading: it is stuck on our replies
    return sock


async def until(condition, timeout: float = 20.0) -> None:
    """Poll condition until it holds; fail after a generous deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def answered(port: int, name: str = "www.example.com.") -> dns.message.Message:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        query = dns.message.make_query(name, "A")
        writer.write(framed(query))
        return await asyncio.wait_for(read_framed(reader), 10)
    finally:
        writer.close()


async def test_a_client_that_never_reads_loses_its_connection_after_the_write_timeout(catalog):
    server = serve(catalog, tcp_idle_timeout=60, tcp_write_timeout=0.3)
    await server.start(["127.0.0.1"], 0)
    clients = []
    try:
        clients = [stalled_client(server.port) for _ in range(3)]
        await until(lambda: server.stats.tcp_connections == 3)  # accepted, then stuck
        await until(lambda: server.stats.tcp_connections == 0)
        assert (await answered(server.port)).rcode() == dns.rcode.NOERROR
    finally:
        for sock in clients:
            sock.close()
        await server.stop()


async def test_a_full_server_closes_the_longest_stalled_connection_for_a_new_client(catalog):
    server = serve(catalog, tcp_idle_timeout=60, tcp_write_timeout=60, max_tcp_connections=4)
    await server.start(["127.0.0.1"], 0)
    clients = []
    try:
        for _ in range(5):  # one more than the slots
            clients.append(stalled_client(server.port))
            await asyncio.sleep(0.05)
        await until(lambda: server.stats.tcp_connections == 4 and server.stats.tcp_evicted >= 1)
        response = await answered(server.port)
        assert response.rcode() == dns.rcode.NOERROR and response.answer
        assert server.stats.tcp_evicted >= 2 and server.stats.tcp_connections <= 4
    finally:
        for sock in clients:
            sock.close()
        await server.stop()


async def test_a_full_server_refuses_a_new_client_while_every_connection_waits_on_it(
    catalog, slow_resolver
):
    _, port = await slow_resolver(1.0)
    server = forwarding(catalog, port, max_tcp_connections=1)
    await server.start(["127.0.0.1"], 0)
    try:
        busy_reader, busy = await asyncio.open_connection("127.0.0.1", server.port)
        slow = dns.message.make_query("slow.example.org.", "A")
        busy.write(framed(slow))
        await until(lambda: server.stats.tcp_connections == 1 and server._tasks)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        assert (await asyncio.wait_for(read_framed(busy_reader), 10)).id == slow.id
        busy.close()
    finally:
        await server.stop()
        await server.chain.close()


async def test_an_idle_connection_gives_way_to_a_new_client_when_the_server_is_full(catalog):
    server = serve(catalog, max_tcp_connections=1, tcp_idle_timeout=60)
    await server.start(["127.0.0.1"], 0)
    try:
        first_reader, first = await asyncio.open_connection("127.0.0.1", server.port)
        first.write(framed(dns.message.make_query("www.example.com.", "A")))
        await read_framed(first_reader)
        assert (await answered(server.port, "one.example.com.")).answer
        assert await asyncio.wait_for(first_reader.read(), 5) == b""
        first.close()
        assert server.stats.tcp_evicted == 1
    finally:
        await server.stop()


async def test_a_half_closed_connection_gets_its_pending_answers(catalog, slow_resolver):
    _, port = await slow_resolver(0.2)
    server = forwarding(catalog, port)
    await server.start(["127.0.0.1"], 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        queries = [
            dns.message.make_query(name, "A") for name in ("a.example.org.", "www.example.com.")
        ]
        writer.write(b"".join(framed(query) for query in queries))
        writer.write_eof()  # shutdown(SHUT_WR): nothing more to ask
        replies = [await asyncio.wait_for(read_framed(reader), 10) for _ in queries]
        assert {reply.id for reply in replies} == {query.id for query in queries}
        assert [r.rcode() for r in replies if r.id == queries[0].id] == [dns.rcode.NXDOMAIN]
        assert await asyncio.wait_for(reader.read(), 10) == b""  # then it closes
        writer.close()
    finally:
        await server.stop()
        await server.chain.close()

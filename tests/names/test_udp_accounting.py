"""What the UDP listener counts and logs, whichever way an answer went out: straight from the
kept answers (the per-datagram fast path) or through the full resolver path."""

from __future__ import annotations

import asyncio

import dns.asyncquery
import dns.message
import dns.rcode
import pytest

from dnsadmin.names.server import DNSServer
from tests.names.zones import make_catalog, serve

pytestmark = pytest.mark.integration

ASKED = 5  # times each question is asked: the first resolved in full, the rest kept answers


@pytest.fixture
async def logged() -> tuple[DNSServer, list[tuple]]:
    heard: list[tuple] = []
    server = serve(make_catalog(), on_query=lambda *event: heard.append(event), log_per_second=3)
    await server.start(["127.0.0.1"], 0)
    server._refill.cancel()  # one second's budget for the whole test, however slow the machine
    yield server, heard
    await server.stop()


async def ask(port: int, name: str, *, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, "A")
    if tcp:
        return await dns.asyncquery.tcp(query, "127.0.0.1", port=port, timeout=5)
    return await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=5)


async def test_every_answer_is_counted_by_source_rcode_and_transport(logged):
    server, _ = logged
    for name in ("www.example.com.", "nothing-here.example.com."):
        for _ in range(ASKED):
            await ask(server.port, name)
    reply = await ask(server.port, "www.example.com.", tcp=True)
    assert reply.rcode() == dns.rcode.NOERROR
    assert server.stats.answered["authority", dns.rcode.NOERROR] == ASKED + 1
    assert server.stats.answered["authority", dns.rcode.NXDOMAIN] == ASKED
    assert server.stats.by_transport == {"udp": 2 * ASKED, "tcp": 1}


async def test_the_query_log_hears_of_answers_within_its_budget_only(logged):
    server, heard = logged
    queries = [dns.message.make_query("www.example.com.", "A") for _ in range(ASKED)]
    for query in queries:
        await dns.asyncquery.udp(query, "127.0.0.1", port=server.port, timeout=5)
    assert len(heard) == 3  # log_per_second, the rest counted only
    assert server.stats.by_transport["udp"] == ASKED
    for (client, query, rcode, source, latency, transport), sent in zip(
        heard, queries, strict=False
    ):
        assert (client, rcode, source, transport) == ("127.0.0.1", 0, "authority", "udp")
        assert query == sent.to_wire()
        assert 0 <= latency < 5


async def test_a_kept_answer_reaches_each_client_with_its_own_id(logged):
    server, _ = logged
    replies = await asyncio.gather(*(ask(server.port, "www.example.com.") for _ in range(20)))
    assert all(reply.answer[0][0].address == "192.0.2.10" for reply in replies)
    assert server.stats.answered["authority", dns.rcode.NOERROR] == 20

"""Under overload the UDP listener answers its kept answers at once and sheds the oldest work:
a flood of questions that each cost the full resolver path neither delays an answer worked out
before nor grows without bound."""

from __future__ import annotations

import asyncio
import socket
import time

import dns.message

from dnsadmin.names.chain import AUTHORITATIVE, ResolverChain
from dnsadmin.names.server import DNSServer

COST = 0.005  # seconds each question of the flood takes to answer


class SlowChain(ResolverChain):
    """The production chain, with every question that misses the kept answers made slow."""

    def resolve(self, query: bytes, *, tcp: bool, client: str, outside: int | None = None):
        time.sleep(COST)
        return super().resolve(query, tcp=tcp, client=client, outside=outside)


def query(name: str, qid: int) -> bytes:
    message = dns.message.make_query(name, "A")
    message.id = qid
    return message.to_wire()


def flood_then_ask(port: int, flood: int) -> list[int]:
    """Send flood questions for new names (outside our zones: no kept answer covers them),
    then one asked before; return the IDs of the answers in the order they came."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(query("www.example.com", 0), ("127.0.0.1", port))
        sock.recv(65535)  # now a kept answer
        for qid in range(1, flood + 1):
            sock.sendto(query(f"n{qid}.flood.test", qid), ("127.0.0.1", port))
        sock.sendto(query("www.example.com", 0), ("127.0.0.1", port))
        sock.settimeout(1)  # answers come every COST seconds while any are coming
        order = []
        try:
            while True:
                order.append(int.from_bytes(sock.recv(65535)[:2], "big"))
        except TimeoutError:
            return order


async def test_a_kept_answer_is_not_kept_waiting_behind_a_flood(catalog):
    server = DNSServer(SlowChain(catalog, AUTHORITATIVE), udp_backlog=100)
    await server.start(["127.0.0.1"], 0)
    try:
        order = await asyncio.to_thread(flood_then_ask, server.port, 400)
    finally:
        await server.stop()
    assert 0 in order
    flood_answered = [qid for qid in order if qid]
    # The flood costs 2 s to answer in full; the kept answer went out long before its end,
    # and the newest questions were served first while the oldest were shed.
    assert order.index(0) < len(flood_answered) // 2
    assert server.stats.shed > 0
    assert len(flood_answered) + server.stats.shed == 400
    assert 400 in flood_answered and not set(range(2, 101)) <= set(flood_answered)


def ask_in_turn(port: int, count: int) -> list[int]:
    """Send count questions for new names at once; return the IDs of the answers in order."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        for qid in range(1, count + 1):
            sock.sendto(query(f"n{qid}.steady.test", qid), ("127.0.0.1", port))
        return [int.from_bytes(sock.recv(65535)[:2], "big") for _ in range(count)]


async def test_a_backlog_that_keeps_up_is_answered_in_the_order_it_came(catalog):
    # A client keeping questions in flight (dnsperf, a resolver) must not see its first ones
    # starve behind the newer ones it keeps sending: newest first is for overload only.
    server = DNSServer(SlowChain(catalog, AUTHORITATIVE))
    await server.start(["127.0.0.1"], 0)
    try:
        order = await asyncio.to_thread(ask_in_turn, server.port, 20)  # 0.1 s of work
    finally:
        await server.stop()
    assert order == list(range(1, 21))
    assert server.stats.shed == 0

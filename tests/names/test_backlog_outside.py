"""A UDP query the kept answers found outside our zones (at_once's int) waits in the backlog
with what was found, and resolve() is told it: the zones are not looked up again."""

from __future__ import annotations

import asyncio
import socket

import dns.message
import dns.rcode

from dnsadmin.names.chain import AUTHORITATIVE, ResolverChain
from dnsadmin.names.server import DNSServer

FOUND = 12 + 17  # what at_once tells of every miss here (a name ending at byte 29)


class TellingChain(ResolverChain):
    """The production chain, its misses told as found outside our zones, and what resolve()
    was told of each query kept."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.told: list[int | None] = []

    def at_once(self, query: bytes, client: str):
        kept = super().at_once(query, client)
        return kept if type(kept) is tuple else FOUND

    def resolve(self, query: bytes, *, tcp: bool, client: str, outside: int | None = None):
        self.told.append(outside)
        return super().resolve(query, tcp=tcp, client=client)


def ask(port: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(dns.message.make_query("www.example.com", "A").to_wire(), ("127.0.0.1", port))
        return dns.message.from_wire(sock.recv(65535)).rcode()


async def test_a_miss_found_outside_our_zones_takes_what_was_found_to_resolve(catalog):
    chain = TellingChain(catalog, AUTHORITATIVE)
    server = DNSServer(chain)
    await server.start(["127.0.0.1"], 0)
    try:
        rcode = await asyncio.to_thread(ask, server.port)
    finally:
        await server.stop()
    assert rcode == dns.rcode.NOERROR
    assert chain.told == [FOUND]

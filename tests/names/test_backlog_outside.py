"""A UDP query the kept answers found outside our zones (at_once's int) waits in the backlog
with what was found, and resolve() is told it: the zones are not looked up again."""

from __future__ import annotations

import asyncio
import socket

import dns.message
import dns.rcode

from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import AUTHORITATIVE, ChainConfig, ResolverChain
from dnsadmin.names.server import DNSServer
from dnsadmin.names.zone import zone_from_text

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


def test_a_zone_published_while_a_miss_was_looked_up_makes_what_was_found_stale():
    """at_once tells a miss outside our zones with the zones' generation it looked in: a zone
    published while it looked (by another thread) is not skipped by resolve(), which answers
    from it."""
    soa = "$TTL 300\n@ IN SOA ns hm 1 7200 900 1209600 300\n@ IN NS ns\nns IN A 192.0.2.1\n"
    catalog = ZoneCatalog([zone_from_text(soa, "example.org.")])
    config = ChainConfig(allow_recursion=["127.0.0.0/8"], forwarders=["127.0.0.1"], port=9)
    chain = ResolverChain(catalog, config)
    chain.resolve(
        dns.message.make_query("ns.example.org.", "A").to_wire(), tcp=False, client="127.0.0.1"
    )
    query = dns.message.make_query("www.example.net.", "A").to_wire()
    looked_up = chain.cache.answers.get_folded

    def published_meanwhile(*args, **kwargs):
        catalog.replace(zone_from_text(soa + "www IN A 192.0.2.80\n", "example.net."))
        return looked_up(*args, **kwargs)

    chain.cache.answers.get_folded = published_meanwhile
    found = chain.at_once(query, "127.0.0.1")
    chain.cache.answers.get_folded = looked_up
    assert type(found) is int
    response, source = chain.resolve(query, tcp=False, client="127.0.0.1", outside=found)
    if not isinstance(response, bytes):
        response.close()  # (a forwarding, were it wrongly started)
    assert source == "authority"
    assert dns.message.from_wire(response).answer[0].to_text().endswith("192.0.2.80")

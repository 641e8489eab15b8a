"""A fake DNS tree on loopback for the resolver tests: root, TLD and leaf servers.

Every server listens on its own 127.0.0.x address, all on one port, as real servers all listen
on 53. The honest servers are the project's own DNSServer serving zones from text; the few that
must misbehave (forged replies, out-of-bailiwick records, silence) are scripted here.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset

from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import AUTHORITATIVE, ResolverChain
from dnsadmin.names.recursive import MAX_REFERRALS
from dnsadmin.names.server import DNSServer
from dnsadmin.names.zone import zone_from_text
from tests.names.zones import free_port

ROOT, TLD, EXAMPLE, OTHER, REFUSER, SILENT, GLUELESS, EVIL, FORGER = (
    f"127.0.0.{n}" for n in range(2, 11)
)
LIAR, CHAINS, MISASKER, SILENT2 = (f"127.0.0.{n}" for n in range(11, 15))
MANY = [f"127.0.1.{n}" for n in range(1, 41)]  # forty lame servers of one zone
# deep.test delegates to d.deep.test, which delegates to d.d.deep.test, and so on: one more
# level than the referrals a resolution may follow from the root (the root and test. are two).
DEEP_LEVELS = MAX_REFERRALS - 2
DEEP = [f"127.0.2.{n}" for n in range(1, DEEP_LEVELS + 2)]  # the server of each level

ROOT_ZONE = f"""
$TTL 86400
@ IN SOA a.root-servers.test. hostmaster.nic.test. 1 1800 900 604800 86400
@ IN NS a.root-servers.test.
test. IN NS ns.nic.test.
ns.nic.test. IN A {TLD}
"""

BIG = "\n".join(f"big IN A 198.51.100.{i}" for i in range(1, 101))  # > 1232 bytes: TC
CHAIN_LENGTH = 13  # c0 .. c12, alternating between example.test and other.test


def _chain_links(zone: str) -> str:
    """c<i> CNAME c<i+1> in the other zone, for the i that live in this zone; c12 is data."""
    here, there = ("example", "other") if zone == "example" else ("other", "example")
    lines = []
    for i in range(0 if here == "example" else 1, CHAIN_LENGTH, 2):
        if i == CHAIN_LENGTH - 1:
            lines.append(f"c{i} IN A 192.0.2.{i}")
        else:
            lines.append(f"c{i} IN CNAME c{i + 1}.{there}.test.")
    return "\n".join(lines)


TEST_ZONE = f"""
$TTL 3600
@ IN SOA ns.nic hostmaster.nic 1 1800 900 604800 300
@ IN NS ns.nic
ns.nic IN A {TLD}
example IN NS ns.example
ns.example IN A {EXAMPLE}
other IN NS ns.other
ns.other IN A {OTHER}
glueless IN NS ns1.other.test.
lame IN NS ns-refuses.lame
lame IN NS ns-silent.lame
lame IN NS ns-good.lame
ns-refuses.lame IN A {REFUSER}
ns-silent.lame IN A {SILENT}
ns-good.lame IN A {EXAMPLE}
dead IN NS ns.dead
dead IN NS ns2.dead
ns.dead IN A {SILENT}
ns2.dead IN A {SILENT2}
liar IN NS ns-liar.liar
liar IN NS ns-good.liar
ns-liar.liar IN A {LIAR}
ns-good.liar IN A {EXAMPLE}
misasked IN NS ns.misasked
ns.misasked IN A {MISASKER}
chain1 IN NS ns.chain2
chain2 IN NS ns.chain3
chain3 IN NS ns.chain4
chain4 IN NS ns.chain5
chain5 IN NS ns.chain5
ns.chain5 IN A {CHAINS}
deep IN NS ns.deep
ns.deep IN A {DEEP[0]}
evil IN NS ns.evil
ns.evil IN A {EVIL}
forged IN NS ns.forged
ns.forged IN A {FORGER}
nxns IN NS ns1.nowhere.other.test.
{chr(10).join(f"nxns IN NS ns{i}.nowhere.other.test." for i in range(2, 11))}
many IN NS ns1.many
{chr(10).join(f"many IN NS ns{i}.many{chr(10)}ns{i}.many IN A {a}" for i, a in enumerate(MANY, 1))}
"""

EXAMPLE_ZONE = f"""
$TTL 300
@ IN SOA ns hostmaster 1 1800 900 604800 60
@ IN NS ns
ns IN A {EXAMPLE}
www IN A 192.0.2.1
www IN TXT "hello"
alias IN CNAME www.other.test.
loop IN CNAME loop.other.test.
{BIG}
{_chain_links("example")}
"""

OTHER_ZONE = f"""
$TTL 600
@ IN SOA ns hostmaster 1 1800 900 604800 120
@ IN NS ns
ns IN A {OTHER}
ns1 IN A {GLUELESS}
www IN A 192.0.2.2
loop IN CNAME loop.example.test.
{_chain_links("other")}
"""

GLUELESS_ZONE = """
$TTL 300
@ IN SOA ns1.other.test. hostmaster.other.test. 1 1800 900 604800 60
@ IN NS ns1.other.test.
host IN A 192.0.2.3
"""

LAME_ZONE = """
$TTL 300
@ IN SOA ns-good hostmaster 1 1800 900 604800 60
@ IN NS ns-good
host IN A 192.0.2.4
"""

LIAR_ZONE = """
$TTL 300
@ IN SOA ns-good hostmaster 1 1800 900 604800 60
@ IN NS ns-good
host IN A 192.0.2.5
"""


def chain_zone(n: int) -> str:
    """chain<n>.test, served by ns.chain<n+1>.test: each delegation needs the one after it
    resolved first, glueless, down to chain4.test, served by ns.chain5.test, which has glue
    (so host.chain<n>.test takes 4 - n glueless lookups, nested)."""
    server = f"ns.chain{min(n + 1, 5)}.test."
    return f"""
$TTL 300
@ IN SOA {server} hostmaster 1 1800 900 604800 60
@ IN NS {server}
{f"ns IN A {CHAINS}" if n > 1 else ""}
host IN A 192.0.2.{20 + n}
"""


def deep_name(level: int) -> dns.name.Name:
    return dns.name.from_text("d." * level + "deep.test.")


Handler = Callable[[dns.message.Message], list["Reply"]]


@dataclass
class Reply:
    """One datagram a scripted server sends back, possibly from another port (a forgery)."""

    message: dns.message.Message
    from_other_port: bool = False


class _Scripted(asyncio.DatagramProtocol):
    def __init__(self, server: ScriptedServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        query = dns.message.from_wire(data)
        self.server.queries.append(query)
        self.server.sources.append(addr)
        for reply in self.server.handler(query):
            sender = self.server.other_socket if reply.from_other_port else None
            if sender is not None:
                sender.sendto(reply.message.to_wire(), addr)
            else:
                self.transport.sendto(reply.message.to_wire(), addr)


@dataclass
class ScriptedServer:
    """A UDP server answering with whatever its handler says (nothing, for a silent server)."""

    address: str
    port: int
    handler: Handler
    queries: list[dns.message.Message] = field(default_factory=list)
    sources: list[tuple[str, int]] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None
    other_socket: socket.socket | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.other_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other_socket.bind((self.address, 0))
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: _Scripted(self), local_addr=(self.address, self.port)
        )
        self.port = self.transport.get_extra_info("sockname")[1]

    async def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.other_socket is not None:
            self.other_socket.close()


def silent(query: dns.message.Message) -> list[Reply]:
    return []


def poisoner(query: dns.message.Message) -> list[Reply]:
    """The server of evil.test: a true answer padded with records about example.test."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.answer.append(
        dns.rrset.from_text(query.question[0].name, 300, "IN", "A", "192.0.2.66")
    )
    response.answer.append(dns.rrset.from_text("www.example.test.", 300, "IN", "A", "6.6.6.6"))
    response.authority.append(
        dns.rrset.from_text("example.test.", 300, "IN", "NS", "ns.evil.test.")
    )
    response.additional.append(dns.rrset.from_text("ns.example.test.", 300, "IN", "A", "6.6.6.6"))
    return [Reply(response)]


def forger(query: dns.message.Message) -> list[Reply]:
    """The server of forged.test, raced by an off-path attacker: two forgeries, then the truth."""
    name = query.question[0].name
    forged = dns.message.make_response(query)
    forged.answer.append(dns.rrset.from_text(name, 300, "IN", "A", "6.6.6.6"))
    wrong_id = dns.message.make_response(query)
    wrong_id.id = (query.id + 1) % 65536
    wrong_id.answer.append(dns.rrset.from_text(name, 300, "IN", "A", "6.6.6.7"))
    true = dns.message.make_response(query)
    true.flags |= dns.flags.AA
    true.answer.append(dns.rrset.from_text(name, 300, "IN", "A", "192.0.2.77"))
    return [Reply(forged, from_other_port=True), Reply(wrong_id), Reply(true)]


def liar(query: dns.message.Message) -> list[Reply]:
    """A lame server of liar.test: NXDOMAIN for everything, without AA and without an SOA."""
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.NXDOMAIN)
    return [Reply(response)]


def misasker(query: dns.message.Message) -> list[Reply]:
    """The server of misasked.test, raced by a reply with the right ID to another question."""
    other = dns.message.make_response(dns.message.make_query("www.bank.test.", "A"))
    other.id = query.id
    other.flags |= dns.flags.AA
    other.answer.append(dns.rrset.from_text("www.bank.test.", 300, "IN", "A", "6.6.6.8"))
    true = dns.message.make_response(query)
    true.flags |= dns.flags.AA
    true.answer.append(dns.rrset.from_text(query.question[0].name, 300, "IN", "A", "192.0.2.78"))
    return [Reply(other), Reply(true)]


def referrer(level: int) -> Handler:
    """The server of deep_name(level): it answers for host.<its zone> and refers anything
    deeper to the server of the next level, with glue."""

    def handler(query: dns.message.Message) -> list[Reply]:
        qname = query.question[0].name
        response = dns.message.make_response(query)
        here, below = deep_name(level), deep_name(level + 1)
        if qname.is_subdomain(below) and level < DEEP_LEVELS:
            server = dns.name.from_text("ns", below)
            response.authority.append(dns.rrset.from_text(below, 300, "IN", "NS", server.to_text()))
            glue = dns.rrset.from_text(server, 300, "IN", "A", DEEP[level + 1])
            response.additional.append(glue)
        elif qname == dns.name.from_text("host", here):
            response.flags |= dns.flags.AA
            response.answer.append(dns.rrset.from_text(qname, 300, "IN", "A", "192.0.2.99"))
        else:
            response.flags |= dns.flags.AA
            response.set_rcode(dns.rcode.NXDOMAIN)
        return [Reply(response)]

    return handler


@dataclass
class Hierarchy:
    port: int
    servers: dict[str, DNSServer] = field(default_factory=dict)
    scripted: dict[str, ScriptedServer] = field(default_factory=dict)

    @property
    def hints(self) -> dict[dns.name.Name, list[str]]:
        return {dns.name.from_text("a.root-servers.test."): [ROOT]}

    def queries(self, address: str) -> int:
        """How many queries the server at address has answered (or, if scripted, received).

        The forty servers of MANY are one DNSServer: ask for any of them to count them all.
        """
        if address in self.scripted:
            return len(self.scripted[address].queries)
        return sum(self.servers[address].stats.by_rcode.values())

    def total_queries(self) -> int:
        answered = sum(
            sum(server.stats.by_rcode.values()) for server in dict.fromkeys(self.servers.values())
        )
        return answered + sum(len(scripted.queries) for scripted in self.scripted.values())

    def write_hints(self, path: Path) -> Path:
        path.write_text(
            f". 3600000 NS a.root-servers.test.\na.root-servers.test. 3600000 A {ROOT}\n"
        )
        return path

    async def start(self) -> None:
        zones = {
            ROOT: [(ROOT_ZONE, ".")],
            TLD: [(TEST_ZONE, "test.")],
            EXAMPLE: [
                (EXAMPLE_ZONE, "example.test."), (LAME_ZONE, "lame.test."),
                (LIAR_ZONE, "liar.test."),
            ],
            OTHER: [(OTHER_ZONE, "other.test.")],
            GLUELESS: [(GLUELESS_ZONE, "glueless.test.")],
            CHAINS: [(chain_zone(n), f"chain{n}.test.") for n in range(1, 6)],
        }  # fmt: skip
        for address, texts in zones.items():
            catalog = ZoneCatalog([zone_from_text(text, origin) for text, origin in texts])
            await self._serve(catalog, [address])
        await self._serve(ZoneCatalog(), [REFUSER])
        await self._serve(ZoneCatalog(), MANY)
        handlers = {
            SILENT: silent, SILENT2: silent, EVIL: poisoner, FORGER: forger, LIAR: liar,
            MISASKER: misasker,
        } | {address: referrer(level) for level, address in enumerate(DEEP)}  # fmt: skip
        for address, handler in handlers.items():
            self.scripted[address] = ScriptedServer(address, self.port, handler)
            await self.scripted[address].start()

    async def _serve(self, catalog: ZoneCatalog, addresses: list[str]) -> None:
        server = DNSServer(ResolverChain(catalog, AUTHORITATIVE), tcp_idle_timeout=1.0)
        for address in addresses:
            self.servers[address] = server
        await server.start(addresses, self.port)

    async def stop(self) -> None:
        for server in dict.fromkeys(self.servers.values()):
            await server.stop()
        for scripted in self.scripted.values():
            await scripted.stop()


async def start_hierarchy(attempts: int = 5) -> Hierarchy:
    """The whole tree on one port; another port is drawn if the first is taken somewhere."""
    for _ in range(attempts):
        hierarchy = Hierarchy(free_port())
        try:
            await hierarchy.start()
        except OSError:
            await hierarchy.stop()
            continue
        return hierarchy
    raise OSError("no port free on every address of the hierarchy")


class Clock:
    """A monotonic clock that moves only when told: TTLs expire without sleeping."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def rcode_of(response: dns.message.Message) -> str:
    return dns.rcode.to_text(response.rcode())

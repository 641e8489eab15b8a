"""Forwarding to upstream resolvers on loopback: scripted ones, and our own server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from dnsadmin.names import wire
from dnsadmin.names.cache import Cache
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.forwarder import Forwarder
from dnsadmin.names.recursive import MAX_RESTARTS
from dnsadmin.names.server import DNSServer
from dnsadmin.names.upstream import POOL_SIZE, RESERVED_DESCRIPTORS
from dnsadmin.names.zone import zone_from_text
from tests.names.hierarchy import (
    EXAMPLE_ZONE,
    Clock,
    Reply,
    ScriptedServer,
    forger,
    misasker,
    silent,
)
from tests.names.zones import serve

A, MX = dns.rdatatype.A, dns.rdatatype.MX


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def addresses(found) -> list[str]:
    return sorted(r.address for rrset in found.answer if rrset.rdtype == A for r in rrset)


def recursor(query: dns.message.Message) -> list[Reply]:
    """An upstream resolver answering with a chain across zones, plus records off the chain."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA
    qname = query.question[0].name
    response.answer += [
        dns.rrset.from_text(qname, 300, "IN", "CNAME", "www.elsewhere.test."),
        dns.rrset.from_text("www.elsewhere.test.", 300, "IN", "A", "192.0.2.5"),
        dns.rrset.from_text("bank.test.", 300, "IN", "A", "6.6.6.6"),
    ]
    return [Reply(response)]


def edns_unaware(query: dns.message.Message) -> list[Reply]:
    """An old server: FORMERR to anything with an OPT record (RFC 6891 7)."""
    response = dns.message.make_response(query)
    if query.edns >= 0:
        response.set_rcode(dns.rcode.FORMERR)
    else:
        response.answer.append(
            dns.rrset.from_text(query.question[0].name, 300, "IN", "A", "192.0.2.8")
        )
    return [Reply(response)]


def chopper(query: dns.message.Message) -> list[Reply]:
    """A resolver answering a CNAME without its target's data (as some do, past a limit of
    their own); it answers the target when asked for it."""
    response = dns.message.make_response(query)
    qname = query.question[0].name
    if qname == name("www.elsewhere.test."):
        response.answer.append(dns.rrset.from_text(qname, 300, "IN", "A", "192.0.2.6"))
    else:
        response.answer.append(
            dns.rrset.from_text(qname, 300, "IN", "CNAME", "www.elsewhere.test.")
        )
    return [Reply(response)]


def endless(query: dns.message.Message) -> list[Reply]:
    """A resolver whose every name is a CNAME to the next: n1 to n2 to n3 ... (or a loop)."""
    response = dns.message.make_response(query)
    qname = query.question[0].name
    label = qname.labels[0].decode()
    target = "a.loop.test." if label == "b" else "b.loop.test." if label == "a" else None
    target = target or f"n{int(label[1:]) + 1}.endless.test."
    response.answer.append(dns.rrset.from_text(qname, 300, "IN", "CNAME", target))
    return [Reply(response)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def upstream() -> AsyncIterator[DNSServer]:
    server = serve(ZoneCatalog([zone_from_text(EXAMPLE_ZONE, "example.test.")]))
    await server.start(["127.0.0.1"], 0)
    yield server
    await server.stop()


@pytest.fixture
async def scripted() -> AsyncIterator[dict[str, ScriptedServer]]:
    servers = {
        handler.__name__: ScriptedServer("127.0.0.1", 0, handler)
        for handler in (recursor, silent, forger, edns_unaware, chopper, endless)
    }
    for server in servers.values():
        await server.start()
    yield servers
    for server in servers.values():
        await server.stop()


@pytest.fixture
async def forwarder_to() -> AsyncIterator[Callable[..., Forwarder]]:
    """Make forwarders to ports on loopback, closed (their sockets too) after the test."""
    made: list[Forwarder] = []

    def forwarder_to(*ports: int, clock: Clock, **kw) -> Forwarder:
        addresses = [f"127.0.0.1:{port}" for port in ports]
        made.append(Forwarder(Cache(clock=clock), addresses, clock=clock, **kw))
        return made[-1]

    yield forwarder_to
    for forwarder in made:
        await forwarder.close()


async def test_it_forwards_with_recursion_desired_and_caches_the_answer(
    scripted, clock, forwarder_to
):
    server = scripted["recursor"]
    forwarder = forwarder_to(server.port, clock=clock)
    found = await forwarder.resolve(name("www.example.test."), A)
    assert addresses(found) == ["192.0.2.5"]
    assert server.queries[0].flags & dns.flags.RD
    await forwarder.resolve(name("www.example.test."), A)
    assert forwarder.cache.find(name("www.example.test."), A).answer == found.answer
    assert len(server.queries) == 1


async def test_it_caches_only_the_chain_of_the_question(scripted, clock, forwarder_to):
    forwarder = forwarder_to(scripted["recursor"].port, clock=clock)
    await forwarder.resolve(name("www.example.test."), A)
    assert forwarder.cache.rrset(name("bank.test."), A) is None
    assert forwarder.cache.rrset(name("www.elsewhere.test."), A) is not None


async def test_it_caches_nxdomain_from_the_forwarder(upstream, clock, forwarder_to):
    forwarder = forwarder_to(upstream.port, clock=clock)
    found = await forwarder.resolve(name("nothing.example.test."), A)
    assert found.rcode == wire.NXDOMAIN
    assert found.authority[0].rdtype == dns.rdatatype.SOA
    again = await forwarder.resolve(name("nothing.example.test."), MX)
    assert again.rcode == wire.NXDOMAIN
    assert sum(upstream.stats.by_rcode.values()) == 1


async def test_it_moves_on_when_a_forwarder_is_silent(scripted, upstream, clock, forwarder_to):
    forwarder = forwarder_to(scripted["silent"].port, upstream.port, clock=clock, query_timeout=0.2)
    found = await forwarder.resolve(name("www.example.test."), A)
    assert addresses(found) == ["192.0.2.1"]
    forwarder.cache.flush()
    await forwarder.resolve(name("www.example.test."), A)
    assert len(scripted["silent"].queries) == 1  # backed off after its timeout


async def test_a_silent_forwarder_leaves_the_next_its_share_of_the_deadline(
    scripted, upstream, clock, forwarder_to
):
    # Its query timeout (2 s) is longer than the deadline: waited for whole, the silent
    # first forwarder took all of it and the second was never asked.
    forwarder = forwarder_to(scripted["silent"].port, upstream.port, clock=clock, deadline=1.0)
    found = await forwarder.resolve(name("www.example.test."), A)
    assert addresses(found) == ["192.0.2.1"]
    assert len(scripted["silent"].queries) == 1


class Late(asyncio.DatagramProtocol):
    """A forwarder answering every query with an address, delay seconds late."""

    def __init__(self, delay: float) -> None:
        self.delay, self.asked = delay, 0

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.asked += 1
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        owner = query.question[0].name
        response.answer.append(dns.rrset.from_text(owner, 300, "IN", "A", "192.0.2.7"))
        asyncio.get_running_loop().call_later(self.delay, self.send, response.to_wire(), addr)

    def send(self, wire_form: bytes, addr) -> None:
        if not self.transport.is_closing():
            self.transport.sendto(wire_form, addr)


async def test_a_forwarder_slower_than_its_turn_is_still_listened_to(clock, forwarder_to):
    # Each answers in 0.6 s: the second is asked once the first has had its share of the
    # 1 s deadline, and the first's answer, still awaited, is the one taken (cut short at
    # its share, the first was blamed and both asked too late: SERVFAIL).
    loop = asyncio.get_running_loop()
    late = [
        await loop.create_datagram_endpoint(lambda: Late(0.6), local_addr=("127.0.0.1", 0))
        for _ in range(2)
    ]
    try:
        ports = [transport.get_extra_info("sockname")[1] for transport, _ in late]
        forwarder = forwarder_to(*ports, clock=clock, deadline=1.0)
        found = await forwarder.resolve(name("www.example.test."), A)
        assert addresses(found) == ["192.0.2.7"]
        assert [protocol.asked for _, protocol in late] == [1, 1]
    finally:
        for transport, _ in late:
            transport.close()


async def test_a_forwarder_outrun_by_one_asked_after_it_is_asked_last_next_time(
    scripted, upstream, clock, forwarder_to
):
    forwarder = forwarder_to(scripted["silent"].port, upstream.port, clock=clock, deadline=1.0)
    await forwarder.resolve(name("www.example.test."), A)
    await forwarder.resolve(name("ftp.example.test."), A)
    assert len(scripted["silent"].queries) == 1


async def test_it_gives_servfail_when_no_forwarder_answers(scripted, clock, forwarder_to):
    forwarder = forwarder_to(scripted["silent"].port, clock=clock, query_timeout=0.2)
    found = await forwarder.resolve(name("www.example.test."), A)
    assert found.rcode == wire.SERVFAIL
    assert forwarder.cache.find(name("www.example.test."), A).rcode == wire.SERVFAIL


async def test_it_asks_for_the_end_of_a_cname_chain_left_incomplete(scripted, clock, forwarder_to):
    server = scripted["chopper"]
    forwarder = forwarder_to(server.port, clock=clock)
    found = await forwarder.resolve(name("alias.example.test."), A)
    assert [rrset.rdtype for rrset in found.answer] == [dns.rdatatype.CNAME, A]
    assert addresses(found) == ["192.0.2.6"]
    assert [query.question[0].name for query in server.queries] == [
        name("alias.example.test."), name("www.elsewhere.test."),
    ]  # fmt: skip
    await forwarder.resolve(name("other.example.test."), A)  # the target's data is cached
    assert len(server.queries) == 3


async def test_it_gives_up_on_a_cname_chain_after_the_restart_limit(scripted, clock, forwarder_to):
    server = scripted["endless"]
    forwarder = forwarder_to(server.port, clock=clock)
    found = await forwarder.resolve(name("n0.endless.test."), A)
    assert found.rcode == wire.SERVFAIL
    assert len(server.queries) == MAX_RESTARTS + 1


async def test_it_gives_servfail_for_a_cname_loop(scripted, clock, forwarder_to):
    server = scripted["endless"]
    forwarder = forwarder_to(server.port, clock=clock)
    found = await forwarder.resolve(name("a.loop.test."), A)
    assert found.rcode == wire.SERVFAIL
    assert len(server.queries) == 2


async def test_it_ignores_a_reply_to_another_question(clock, forwarder_to):
    server = ScriptedServer("127.0.0.1", 0, misasker)
    await server.start()
    try:
        found = await forwarder_to(server.port, clock=clock).resolve(name("www.example.test."), A)
    finally:
        await server.stop()
    assert addresses(found) == ["192.0.2.78"]


async def test_it_ignores_forged_replies(scripted, clock, forwarder_to):
    forwarder = forwarder_to(scripted["forger"].port, clock=clock)
    found = await forwarder.resolve(name("www.example.test."), A)
    assert addresses(found) == ["192.0.2.77"]


async def test_it_asks_again_without_edns_a_server_that_does_not_know_it(
    scripted, clock, forwarder_to
):
    server = scripted["edns_unaware"]
    forwarder = forwarder_to(server.port, clock=clock)
    found = await forwarder.resolve(name("www.example.test."), A)
    assert addresses(found) == ["192.0.2.8"]
    assert [query.edns for query in server.queries] == [0, -1]
    assert server.queries[0].id != server.queries[1].id


async def test_it_sends_one_query_for_identical_questions_in_flight(upstream, clock, forwarder_to):
    forwarder = forwarder_to(upstream.port, clock=clock)
    await asyncio.gather(*(forwarder.resolve(name("www.example.test."), A) for _ in range(10)))
    assert sum(upstream.stats.by_rcode.values()) == 1


def test_it_needs_at_least_one_forwarder(clock):
    with pytest.raises(ValueError):
        Forwarder(Cache(clock=clock), [])


BURST_UNDER_A_FILE_LIMIT = """
import asyncio, json, os, resource, sqlite3, sys
import dns.flags, dns.message, dns.name, dns.rcode, dns.rrset

LIMIT, DATABASE = int(sys.argv[1]), sys.argv[2]
resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

from dnsadmin.names.answer import Kind
from dnsadmin.names.cache import Cache
from dnsadmin.names.forwarder import Forwarder


class Slow(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        response = dns.message.make_response(dns.message.from_wire(data))
        response.flags |= dns.flags.AA
        response.set_rcode(dns.rcode.NXDOMAIN)
        soa = "ns.burst.test. hostmaster.burst.test. 1 7200 900 1209600 60"
        response.authority.append(dns.rrset.from_text("burst.test.", 60, "IN", "SOA", soa))
        loop = asyncio.get_running_loop()
        loop.call_later(0.1, self.transport.sendto, response.to_wire(), addr)


async def main():
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Slow, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    # A generous deadline: what is measured is descriptors, not time, on a busy machine.
    forwarder = Forwarder(Cache(), [f"127.0.0.1:{port}"], max_inflight=2000, deadline=60)
    names = [dns.name.from_text(f"n{number}.burst.test.") for number in range(1500)]
    burst = asyncio.gather(*(forwarder.resolve(name, 1) for name in names))
    peak, opened = 0, False
    while not burst.done():
        peak = max(peak, len(os.listdir("/proc/self/fd")))
        if forwarder.sockets.open and not opened:  # in the thick of it: the database opens
            with sqlite3.connect(DATABASE) as db:
                db.execute("CREATE TABLE t (x)")
            opened = True
        await asyncio.sleep(0.005)
    kinds = [found.kind.name for found in await burst]
    print(json.dumps({"peak": peak, "opened": opened, "kinds": sorted(set(kinds)),
                      "nxdomain": kinds.count("NXDOMAIN"), "sent": forwarder.sent}))


asyncio.run(main())
"""


def test_a_burst_under_a_low_file_limit_leaves_descriptors_for_the_database(tmp_path):
    # As under systemd's default of 1024, scaled down: every question is answered, none
    # fails for want of a socket, and the database still opens in the thick of the burst.
    limit = 400
    done = subprocess.run(
        [sys.executable, "-c", BURST_UNDER_A_FILE_LIMIT, str(limit), str(tmp_path / "db")],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["opened"] and outcome["kinds"] == ["NXDOMAIN"]
    assert outcome["nxdomain"] == outcome["sent"] == 1500
    assert outcome["peak"] <= limit - RESERVED_DESCRIPTORS // 2
    # The queries share a pool of sockets: far fewer descriptors than queries in flight.
    assert outcome["peak"] <= 4 * POOL_SIZE + 32

"""A cache miss through fewer coroutines (issue 16): the first asker of a question resolves
it without _within_deadline's coroutine, a name the cache knows nothing of is asked without
follow_chain's (the asking coroutine follows the chain its answer leaves open), one
forwarder is asked without ordering, and a plain answer is written from the query as
plain_query read it: the outcomes are those of the longer way."""

from __future__ import annotations

from collections.abc import AsyncIterator

import dns.message
import dns.name
import dns.rdatatype
import pytest

from dnsadmin.names import forwarder, recursive, wire
from dnsadmin.names.answer import Kind, Sections
from dnsadmin.names.cache import Cache, folded
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.forwarder import Forwarder
from dnsadmin.names.memo import question_end
from dnsadmin.names.recursive import Recursive
from dnsadmin.names.render import Records
from dnsadmin.names.upstream import Servers, Unreachable
from dnsadmin.names.zone import zone_from_text
from tests.names.hierarchy import EXAMPLE_ZONE
from tests.names.zones import serve

A, AAAA = dns.rdatatype.A, dns.rdatatype.AAAA
RA = 0x80


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


@pytest.fixture
async def port() -> AsyncIterator[int]:
    """Return the port of a server of example.test on loopback, stopped after the test."""
    server = serve(ZoneCatalog([zone_from_text(EXAMPLE_ZONE, "example.test.")]))
    await server.start(["127.0.0.1"], 0)
    try:
        yield server.port
    finally:
        await server.stop()


async def never(*args, **kwargs):
    raise AssertionError("a coroutine a miss goes without was awaited")


async def test_a_lone_asker_resolves_without_the_deadlines_coroutine(monkeypatch):
    resolver = Forwarder(Cache(), ["127.0.0.1:9"])
    answer = Sections(Kind.NXDOMAIN)

    async def resolved(qname, qtype, deadline, wired):
        return answer

    monkeypatch.setattr(resolver, "_within_deadline", never)
    monkeypatch.setattr(resolver, "_resolve", resolved)
    assert await resolver.resolve(name("a.test."), A) is answer
    assert resolver._coalescer._inflight == {}


async def test_a_lone_askers_failure_is_a_cached_servfail_and_its_error_raised(monkeypatch):
    resolver = Forwarder(Cache(), ["127.0.0.1:9"])
    errors = [Unreachable("no forwarder answered"), LookupError("a bug")]

    async def failing(qname, qtype, deadline, wired):
        raise errors.pop(0)

    monkeypatch.setattr(resolver, "_resolve", failing)
    found = await resolver.resolve(name("a.test."), A)
    assert found.kind is Kind.SERVFAIL
    assert resolver.cache.find(name("a.test."), A).kind is Kind.SERVFAIL
    with pytest.raises(LookupError):
        await resolver.resolve(name("b.test."), A)
    assert resolver._coalescer._inflight == {}


async def test_a_name_the_cache_knows_nothing_of_is_forwarded_without_follow_chain(
    port, monkeypatch
):
    monkeypatch.setattr(forwarder, "follow_chain", never)
    monkeypatch.setattr(Servers, "order", never)  # one forwarder: not ordered
    resolver = Forwarder(Cache(), [f"127.0.0.1:{port}"])
    try:
        found = await resolver.resolve(name("www.example.test."), A)
        assert [rdata.address for rdata in found.answer[0]] == ["192.0.2.1"]
        missing = await resolver.resolve(name("nothing.example.test."), A)
        assert missing.kind is Kind.NXDOMAIN
    finally:
        await resolver.close()


async def test_a_name_the_cache_knows_nothing_of_is_iterated_without_follow_chain(
    port, monkeypatch
):
    monkeypatch.setattr(recursive, "follow_chain", never)
    hints = {name("a.root-servers.test."): ["127.0.0.1"]}
    resolver = Recursive(Cache(), hints, port=port, ipv6=False)
    try:
        found = await resolver.resolve(name("www.example.test."), A)
        assert [rdata.address for rdata in found.answer[0]] == ["192.0.2.1"]
    finally:
        await resolver.close()


def test_forwarders_named_twice_are_one():
    resolver = Forwarder(Cache(), ["127.0.0.1:53", "127.0.0.2", "127.0.0.1:53"])
    assert resolver.forwarders == [("127.0.0.1", 53), ("127.0.0.2", 53)]


ADDRESSES = {A: [bytes([192, 0, 2, n]) for n in range(1, 60)], AAAA: [bytes(15) + b"\1"]}


@pytest.mark.parametrize("payload", [None, 0, 512, 600, 1232, 4096])
@pytest.mark.parametrize("rdtype, count", [(A, 1), (A, 3), (A, 40), (A, 59), (AAAA, 1)])
def test_a_plain_answer_is_written_from_the_parsed_query_as_from_its_bytes(payload, rdtype, count):
    message = dns.message.make_query("Www.Example.TEST.", rdtype, use_edns=payload is not None)
    if payload is not None:
        message.use_edns(0, payload=payload)
    query = message.to_wire()
    end = question_end(query)
    parsed = wire.plain_query(query, end)
    parsed.qname = wire.question_name(query, end)
    records = Records(rdtype, 300, tuple(ADDRESSES[rdtype][:count]))
    written = wire.write_answer(parsed, records, RA)
    assert written == wire.write_owned(query, end, records, RA)
    if count == 40 and (payload or 0) < 1000:
        assert written is None  # over the payload size: write_response decides


def test_addresses_stored_by_the_labels_found_are_those_stored_by_their_name():
    wires = (bytes([192, 0, 2, 1]),)
    by_name, by_labels = Cache(clock=lambda: 0.0), Cache(clock=lambda: 0.0)
    qname = name("Www.Example.test.")
    by_name.store_wired(qname, A, 300, wires)
    by_labels.store_wired(qname, A, 300, wires, labels=folded(qname))
    assert by_labels.positive.entries == by_name.positive.entries
    assert by_labels.take_changes() == by_name.take_changes()

"""The resolver chain: authority, hosts, cache and recursion, and who may use which."""

from __future__ import annotations

import inspect
import random
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import ChainConfig, ResolverChain
from dnsadmin.names.zone import zone_from_text
from tests.names.hierarchy import (
    EXAMPLE,
    Clock,
    ScriptedServer,
    forger,
)

HOME_ZONE = """
$TTL 300
@ IN SOA ns hostmaster 1 1800 900 604800 60
@ IN NS ns
ns IN A 192.0.2.53
www IN A 192.0.2.80
"""

LOOPBACK, OUTSIDER = "127.0.0.1", "192.0.2.200"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hosts_file(tmp_path: Path) -> Path:
    path = tmp_path / "hosts"
    path.write_text("192.0.2.44 printer.lan\n")
    return path


@pytest.fixture
async def make_chain(hierarchy, hosts_file, clock, tmp_path):
    chains: list[ResolverChain] = []

    def make(**kw) -> ResolverChain:
        options = {
            "hosts_file": hosts_file,
            "root_hints": hierarchy.write_hints(tmp_path / "hints"),
            "port": hierarchy.port,
            "query_timeout": 0.3,
        }
        catalog = ZoneCatalog([zone_from_text(HOME_ZONE, "home.test.")])
        chain = ResolverChain(catalog, ChainConfig(**(options | kw)), clock=clock)
        if chain.upstream is not None:
            chain.upstream.ipv6 = False
        chains.append(chain)
        return chain

    yield make
    for chain in chains:
        await chain.close()


@pytest.fixture
def chain(make_chain) -> ResolverChain:
    return make_chain()


async def ask(
    chain: ResolverChain, qname: str, rdtype: str = "A", *, client: str = LOOPBACK,
    rd: bool = True, tcp: bool = False,
) -> tuple[dns.message.Message | None, str]:  # fmt: skip
    query = dns.message.make_query(qname, rdtype)
    if not rd:
        query.flags &= ~dns.flags.RD
    result, source = chain.resolve(query.to_wire(), tcp=tcp, client=client)
    if inspect.isawaitable(result):
        result = await result
    return (None if result is None else dns.message.from_wire(result)), source


def addresses(response: dns.message.Message) -> list[str]:
    return [r.address for rrset in response.answer if rrset.rdtype == 1 for r in rrset]


async def test_it_answers_our_zones_to_anyone_without_ra(chain):
    response, source = await ask(chain, "www.home.test.", client=OUTSIDER)
    assert (addresses(response), source) == (["192.0.2.80"], "authority")
    assert response.flags & dns.flags.AA
    assert not response.flags & dns.flags.RA


async def test_it_sets_ra_for_clients_allowed_to_recurse(chain):
    response, _ = await ask(chain, "www.home.test.")
    assert response.flags & dns.flags.RA


async def test_it_refuses_recursion_to_a_client_outside_the_allow_list(chain, hierarchy):
    response, _ = await ask(chain, "www.example.test.", client=OUTSIDER)
    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & dns.flags.RA
    assert hierarchy.total_queries() == 0


async def test_it_refuses_the_cache_to_a_client_outside_the_allow_list(chain):
    await ask(chain, "www.example.test.")
    response, _ = await ask(chain, "www.example.test.", client=OUTSIDER)
    assert response.rcode() == dns.rcode.REFUSED


async def test_it_recurses_for_loopback_clients(chain):
    response, source = await ask(chain, "www.example.test.")
    assert (addresses(response), source) == (["192.0.2.1"], "recursive")
    assert response.flags & dns.flags.RA
    assert not response.flags & dns.flags.AA
    v6, _ = await ask(chain, "www.other.test.", client="::1")
    assert addresses(v6) == ["192.0.2.2"]


async def test_it_answers_a_second_time_from_the_cache_with_the_ttl_counted_down(chain, clock):
    await ask(chain, "www.example.test.")
    clock.advance(100)
    response, source = await ask(chain, "www.example.test.")
    assert source == "cache"
    assert response.flags & dns.flags.RA
    assert response.answer[0].ttl == 200


async def test_answers_from_our_zones_never_enter_the_cache(chain):
    for qname, rdtype in (
        ("www.home.test.", "A"),
        ("www.home.test.", "MX"),
        ("no.home.test.", "A"),
    ):
        response, source = await ask(chain, qname, rdtype)
        assert source == "authority" and response.flags & dns.flags.AA
    # Only kept to be sent again, as rendered answers, until the zones change.
    assert (len(chain.cache), chain.cache.bytes) == (0, chain.cache.answers.bytes)
    assert list(chain.cache.entries()) == []


async def test_glue_learnt_on_the_way_is_not_served_as_an_answer(chain, hierarchy):
    await ask(chain, "www.example.test.")  # the referral to example.test. had glue
    asked = hierarchy.queries(EXAMPLE)
    response, source = await ask(chain, "ns.example.test.")
    assert (addresses(response), source) == ([EXAMPLE], "recursive")
    assert hierarchy.queries(EXAMPLE) == asked + 1
    _, again = await ask(chain, "ns.example.test.")
    assert again == "cache"  # the answer from the zone's own server is


async def test_it_answers_from_the_hosts_file(chain, hierarchy):
    response, source = await ask(chain, "printer.lan.")
    assert (addresses(response), source) == (["192.0.2.44"], "hosts")
    assert hierarchy.total_queries() == 0


async def test_it_answers_cached_negative_answers_with_the_soa(chain, hierarchy):
    await ask(chain, "nothing.example.test.")
    response, source = await ask(chain, "nothing.example.test.", "TXT")
    assert (response.rcode(), source) == (dns.rcode.NXDOMAIN, "cache")
    assert response.authority[0].rdtype == dns.rdatatype.SOA


async def test_it_gives_servfail_when_resolution_fails(chain):
    response, source = await ask(chain, "host.dead.test.")
    assert (response.rcode(), source) == (dns.rcode.SERVFAIL, "recursive")
    assert response.flags & dns.flags.RA


async def test_without_rd_it_refuses_what_the_cache_cannot_refer(chain, hierarchy):
    response, _ = await ask(chain, "www.example.test.", rd=False)
    assert response.rcode() == dns.rcode.REFUSED
    assert hierarchy.total_queries() == 0


async def test_without_rd_it_refers_to_the_closest_zone_cut_it_knows(chain, hierarchy):
    await ask(chain, "www.example.test.")
    before = hierarchy.total_queries()
    response, source = await ask(chain, "mail.example.test.", rd=False)
    assert (response.rcode(), response.answer, source) == (dns.rcode.NOERROR, [], "cache")
    assert [(r.name.to_text(), r.rdtype) for r in response.authority] == [
        ("example.test.", dns.rdatatype.NS)
    ]
    assert [r.name.to_text() for r in response.additional] == ["ns.example.test."]
    assert hierarchy.total_queries() == before


async def test_without_rd_it_still_answers_from_the_cache(chain):
    await ask(chain, "www.example.test.")
    response, source = await ask(chain, "www.example.test.", rd=False)
    assert (addresses(response), source) == (["192.0.2.1"], "cache")


async def test_recursion_off_refuses_everyone_but_keeps_our_zones(make_chain):
    chain = make_chain(recursion=False)
    response, _ = await ask(chain, "www.example.test.")
    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & dns.flags.RA
    ours, _ = await ask(chain, "www.home.test.")
    assert addresses(ours) == ["192.0.2.80"]
    assert not ours.flags & dns.flags.RA


async def test_the_allow_list_is_configurable(make_chain):
    chain = make_chain(allow_recursion=["192.0.2.0/24"])
    allowed, _ = await ask(chain, "www.example.test.", client=OUTSIDER)
    refused, _ = await ask(chain, "www.example.test.", client=LOOPBACK)
    assert addresses(allowed) == ["192.0.2.1"]
    assert refused.rcode() == dns.rcode.REFUSED


async def test_it_never_recurses_for_zone_transfers(chain, hierarchy):
    response, _ = await ask(chain, "example.test.", "AXFR", tcp=True)
    assert response.rcode() == dns.rcode.REFUSED
    assert hierarchy.total_queries() == 0


async def test_the_order_of_the_links_is_configurable(make_chain, hosts_file):
    hosts_file.write_text("192.0.2.45 www.home.test\n")
    chain = make_chain(order=["hosts", "authority", "cache", "recursive"])
    response, source = await ask(chain, "www.home.test.")
    assert (addresses(response), source) == (["192.0.2.45"], "hosts")


def test_it_rejects_an_unknown_link():
    with pytest.raises(ValueError):
        ResolverChain(ZoneCatalog(), ChainConfig(order=["authority", "bogus"]))


def test_it_rejects_a_bad_allow_list():
    with pytest.raises(ValueError):
        ResolverChain(ZoneCatalog(), ChainConfig(allow_recursion=["not-a-network"]))


async def test_it_forwards_when_forwarders_are_configured(make_chain):
    upstream = ScriptedServer("127.0.0.1", 0, forger)
    await upstream.start()
    try:
        order = ["authority", "cache", "forwarder"]
        chain = make_chain(forwarders=[f"127.0.0.1:{upstream.port}"], order=order)
        response, source = await ask(chain, "www.example.test.")
        assert (addresses(response), source) == (["192.0.2.77"], "forwarder")
        assert upstream.queries[0].flags & dns.flags.RD
    finally:
        await upstream.stop()


async def test_it_drops_a_runt_packet_and_answers_formerr_to_garbage(chain):
    assert chain.resolve(b"\x00\x01", tcp=False, client=LOOPBACK)[0] is None
    garbage = b"\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff"
    result, _ = chain.resolve(garbage, tcp=False, client=LOOPBACK)
    assert dns.message.from_wire(result).rcode() == dns.rcode.FORMERR


def mutations(packet: bytes, rng: random.Random) -> list[bytes]:
    """Copies of packet with a few random bytes changed, and random truncations."""
    out = []
    for _ in range(300):
        mutated = bytearray(packet)
        for _ in range(rng.randrange(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        out.append(bytes(mutated[: rng.randrange(len(mutated) + 1)]))
    return out


async def test_bad_input_never_raises(chain):
    rng = random.Random(1234)
    valid = dns.message.make_query("www.example.test.", "A", use_edns=0).to_wire()
    packets = [bytes(rng.randrange(256) for _ in range(rng.randrange(64))) for _ in range(300)]
    for packet in packets + mutations(valid, rng):
        for client in (LOOPBACK, OUTSIDER, "not an address"):
            result, source = chain.resolve(packet, tcp=False, client=client)
            if inspect.iscoroutine(result):
                result.close()  # a well-formed question: resolving it is tested elsewhere
            else:
                assert result is None or isinstance(result, bytes)
            assert source in ("authority", "hosts", "cache", "recursive")


# answers kept to send again (the hot path)


def at_once(chain: ResolverChain, query: dns.message.Message, client: str = LOOPBACK):
    query.id = (query.id + 1) % 65536  # the same question under a new ID
    kept = chain.at_once(query.to_wire(), client)
    # Nothing kept: None, or where a miss outside our zones was found (left to resolve()).
    return (dns.message.from_wire(kept[0]), kept[1]) if type(kept) is tuple else None


async def ask_with(chain, query: dns.message.Message, client: str):
    result, source = chain.resolve(query.to_wire(), tcp=False, client=client)
    if inspect.isawaitable(result):
        result = await result
    return dns.message.from_wire(result), source


async def test_an_answer_is_sent_again_as_it_was_for_the_same_kind_of_client(chain):
    query = dns.message.make_query("www.home.test.", "A")
    assert chain.at_once(query.to_wire(), LOOPBACK) is None  # nothing worked out yet
    first, _ = await ask_with(chain, query, LOOPBACK)
    again, source = at_once(chain, query)
    assert source == "authority" and again.id != first.id
    assert (again.answer, again.flags & dns.flags.RA) == (first.answer, dns.flags.RA)
    assert at_once(chain, query, OUTSIDER) is None  # an outsider's answer has no RA
    await ask_with(chain, query, OUTSIDER)
    outsider, _ = at_once(chain, query, OUTSIDER)
    assert not outsider.flags & dns.flags.RA


async def test_a_zone_change_drops_the_kept_answers(chain):
    query = dns.message.make_query("www.home.test.", "A")
    await ask_with(chain, query, LOOPBACK)
    chain.catalog.replace(
        zone_from_text(HOME_ZONE.replace("192.0.2.80", "192.0.2.81"), "home.test.")
    )
    assert at_once(chain, query) is None
    response, _ = await ask_with(chain, query, LOOPBACK)
    assert addresses(response) == ["192.0.2.81"]


async def test_a_kept_cached_answer_counts_its_ttls_down_until_it_expires(chain, clock):
    query = dns.message.make_query("www.example.test.", "A")
    await ask_with(chain, query, LOOPBACK)  # resolved, then cached
    await ask_with(chain, query, LOOPBACK)  # from the cache: kept
    kept, source = at_once(chain, query)
    assert source == "cache"
    clock.advance(1.0)
    assert at_once(chain, query)[0].answer[0].ttl == kept.answer[0].ttl - 1
    clock.advance(kept.answer[0].ttl)
    assert at_once(chain, query) is None


async def test_a_kept_cached_answer_is_sent_to_the_question_in_any_case(chain):
    query = dns.message.make_query("www.example.test.", "A")
    await ask_with(chain, query, LOOPBACK)
    await ask_with(chain, query, LOOPBACK)
    shaken = dns.message.make_query("WwW.Example.TEST.", "A")
    kept, source = at_once(chain, shaken)
    assert source == "cache" and kept.flags & dns.flags.RA
    assert kept.question[0].name.labels == shaken.question[0].name.labels  # its case echoed
    # Names in our zones are the authority's, never looked up among the cache's answers.
    ours = dns.message.make_query("WWW.home.test.", "A")
    await ask_with(chain, ours, LOOPBACK)
    assert at_once(chain, ours)[1] == "authority"


async def test_a_cache_flush_drops_the_kept_answers(chain):
    query = dns.message.make_query("www.example.test.", "A")
    await ask_with(chain, query, LOOPBACK)
    await ask_with(chain, query, LOOPBACK)
    chain.cache.flush()
    assert at_once(chain, query) is None


async def test_outsiders_never_get_a_kept_cache_answer_and_tcp_answers_are_not_kept(chain):
    query = dns.message.make_query("www.example.test.", "A")
    await ask_with(chain, query, LOOPBACK)
    await ask_with(chain, query, LOOPBACK)
    refused, _ = await ask_with(chain, query, OUTSIDER)
    assert refused.rcode() == dns.rcode.REFUSED
    assert at_once(chain, query, OUTSIDER)[0].rcode() == dns.rcode.REFUSED
    # ANY gets every RRset over TCP, one over UDP (RFC 8482): the TCP answer is not kept.
    tcp_only = dns.message.make_query("home.test.", "ANY")
    over_tcp = dns.message.from_wire(
        chain.resolve(tcp_only.to_wire(), tcp=True, client=LOOPBACK)[0]
    )
    over_udp, _ = at_once(chain, tcp_only)
    assert (len(over_tcp.answer), len(over_udp.answer)) == (2, 1)

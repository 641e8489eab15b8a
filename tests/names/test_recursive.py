"""Iterative resolution against a fake DNS tree on loopback (see hierarchy.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from dnsadmin.names import wire
from dnsadmin.names.answer import Kind
from dnsadmin.names.cache import Cache
from dnsadmin.names.recursive import (
    MAX_REFERRALS,
    MAX_SENDS,
    Recursive,
    classify,
    read_hints,
    remember,
)
from dnsadmin.names.upstream import MALFORMED, Question, Reply, Servers
from tests.names.hierarchy import (
    CHAINS,
    DEEP,
    DEEP_LEVELS,
    EVIL,
    EXAMPLE,
    FORGER,
    LIAR,
    MANY,
    MISASKER,
    OTHER,
    ROOT,
    SILENT,
    SILENT2,
    TLD,
    Clock,
    Hierarchy,
    deep_name,
)

A, MX, TXT, NS = dns.rdatatype.A, dns.rdatatype.MX, dns.rdatatype.TXT, dns.rdatatype.NS
CNAME = dns.rdatatype.CNAME


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def addresses(found) -> list[str]:
    return sorted(r.address for rrset in found.answer if rrset.rdtype == A for r in rrset)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def resolver(hierarchy: Hierarchy, clock: Clock) -> AsyncIterator[Recursive]:
    recursive = Recursive(
        Cache(clock=clock), hierarchy.hints, port=hierarchy.port, ipv6=False,
        query_timeout=0.3, deadline=2.0, clock=clock,
    )  # fmt: skip
    yield recursive
    await recursive.close()


async def test_it_resolves_a_name_from_the_root_down(resolver, hierarchy):
    found = await resolver.resolve(name("www.example.test."), A)
    assert found.rcode == wire.NOERROR
    assert addresses(found) == ["192.0.2.1"]
    assert [hierarchy.queries(a) for a in (ROOT, TLD, EXAMPLE)] == [1, 1, 1]


async def test_a_resolution_starts_no_task_of_its_own(resolver, hierarchy):
    # Each task is a handle or two the event loop runs: a cache miss costs none beyond the
    # caller's (an unfinished async generator once cost one, started to close it).
    loop = asyncio.get_running_loop()
    started = []
    loop.set_task_factory(lambda loop, coro: started.append(coro) or asyncio.Task(coro, loop=loop))
    try:
        await resolver.resolve(name("www.example.test."), A)
        await resolver.resolve(name("gone.example.test."), A)
        for _ in range(3):
            await asyncio.sleep(0)  # what the loop was asked to start meanwhile, started
    finally:
        loop.set_task_factory(None)
    assert [hierarchy.queries(a) for a in (ROOT, TLD, EXAMPLE)] == [1, 1, 2]
    assert started == []


async def test_it_answers_a_repeated_question_from_the_cache(resolver, hierarchy):
    await resolver.resolve(name("www.example.test."), A)
    before = hierarchy.total_queries()
    found = await resolver.resolve(name("WWW.Example.TEST."), A)
    assert addresses(found) == ["192.0.2.1"]
    assert hierarchy.total_queries() == before


async def test_it_starts_from_the_closest_zone_cut_it_knows(resolver, hierarchy):
    await resolver.resolve(name("www.example.test."), A)
    found = await resolver.resolve(name("www.other.test."), A)
    assert addresses(found) == ["192.0.2.2"]
    assert hierarchy.queries(ROOT) == 1
    assert hierarchy.queries(TLD) == 2


async def test_it_asks_again_once_the_ttl_has_run_out(resolver, hierarchy, clock):
    await resolver.resolve(name("www.example.test."), A)
    clock.advance(299)
    await resolver.resolve(name("www.example.test."), A)
    assert hierarchy.queries(EXAMPLE) == 1
    clock.advance(2)
    found = await resolver.resolve(name("www.example.test."), A)
    assert addresses(found) == ["192.0.2.1"]
    assert hierarchy.queries(EXAMPLE) == 2


async def test_it_follows_a_cname_into_another_zone(resolver):
    found = await resolver.resolve(name("alias.example.test."), A)
    assert found.rcode == wire.NOERROR
    assert [(r.name.to_text(), r.rdtype) for r in found.answer] == [
        ("alias.example.test.", dns.rdatatype.CNAME),
        ("www.other.test.", A),
    ]


async def test_it_resolves_the_addresses_of_glueless_name_servers(resolver):
    found = await resolver.resolve(name("host.glueless.test."), A)
    assert addresses(found) == ["192.0.2.3"]


async def test_it_gets_past_servers_that_refuse_or_stay_silent(resolver):
    found = await resolver.resolve(name("host.lame.test."), A)
    assert addresses(found) == ["192.0.2.4"]


async def test_it_prefers_servers_that_answer_over_those_that_timed_out(resolver, hierarchy):
    await resolver.resolve(name("host.lame.test."), A)
    silent_before = hierarchy.queries(SILENT)
    resolver.cache.flush()
    await resolver.resolve(name("host.lame.test."), A)
    assert hierarchy.queries(SILENT) == silent_before


async def test_it_retries_over_tcp_when_the_udp_answer_is_truncated(resolver):
    found = await resolver.resolve(name("big.example.test."), A)
    assert len(addresses(found)) == 100


async def test_it_gives_servfail_within_the_deadline_when_no_server_answers(hierarchy, clock):
    recursive = Recursive(
        Cache(clock=clock), hierarchy.hints, port=hierarchy.port, ipv6=False,
        query_timeout=30, deadline=1.0, clock=clock,
    )  # fmt: skip
    started = time.monotonic()
    found = await recursive.resolve(name("host.dead.test."), A)
    assert found.rcode == wire.SERVFAIL
    assert time.monotonic() - started < 1.9  # the per-query timeout alone would take 30 s
    # The deadline ended the wait, not the server's timeout: it is not backed off for it.
    assert not any(health.failures for health in recursive.servers.health.values())
    await recursive.close()


async def test_it_caches_a_failure_briefly(resolver, hierarchy, clock):
    await resolver.resolve(name("host.dead.test."), A)
    asked = hierarchy.queries(SILENT)
    found = await resolver.resolve(name("host.dead.test."), A)
    assert found.rcode == wire.SERVFAIL
    assert hierarchy.queries(SILENT) == asked
    clock.advance(6)
    await resolver.resolve(name("host.dead.test."), A)
    assert hierarchy.queries(SILENT) > asked


async def test_it_caches_nxdomain_for_every_type_of_the_name(resolver, hierarchy, clock):
    found = await resolver.resolve(name("nothing.example.test."), A)
    assert found.rcode == wire.NXDOMAIN
    [soa] = found.authority
    assert (soa.name, soa.rdtype) == (name("example.test."), dns.rdatatype.SOA)
    asked = hierarchy.queries(EXAMPLE)
    clock.advance(10)
    again = await resolver.resolve(name("nothing.example.test."), MX)
    assert again.rcode == wire.NXDOMAIN
    assert again.authority[0].ttl == 50  # min(SOA TTL 300, MINIMUM 60), 10 s later
    assert hierarchy.queries(EXAMPLE) == asked


async def test_it_caches_nodata_per_name_and_type(resolver, hierarchy):
    found = await resolver.resolve(name("www.example.test."), MX)
    assert (found.rcode, found.answer) == (wire.NOERROR, [])
    assert found.authority[0].rdtype == dns.rdatatype.SOA
    asked = hierarchy.queries(EXAMPLE)
    await resolver.resolve(name("www.example.test."), MX)
    assert hierarchy.queries(EXAMPLE) == asked
    await resolver.resolve(name("www.example.test."), TXT)
    assert hierarchy.queries(EXAMPLE) == asked + 1


async def test_it_sends_one_query_for_identical_questions_in_flight(resolver, hierarchy):
    answers = await asyncio.gather(
        *(resolver.resolve(name("www.example.test."), A) for _ in range(10))
    )
    assert all(addresses(found) == ["192.0.2.1"] for found in answers)
    assert [hierarchy.queries(a) for a in (ROOT, TLD, EXAMPLE)] == [1, 1, 1]


async def test_it_gives_servfail_for_a_cname_loop_across_zones(resolver, hierarchy):
    found = await resolver.resolve(name("loop.example.test."), A)
    assert found.rcode == wire.SERVFAIL
    assert hierarchy.queries(EXAMPLE) + hierarchy.queries(OTHER) <= 3


async def test_it_follows_eleven_cname_restarts(resolver):
    found = await resolver.resolve(name("c1.other.test."), A)
    assert addresses(found) == ["192.0.2.12"]
    assert len(found.answer) == 12


async def test_it_gives_up_after_eleven_cname_restarts(resolver):
    found = await resolver.resolve(name("c0.example.test."), A)
    assert found.rcode == wire.SERVFAIL


async def test_it_sends_at_most_32_queries_for_one_question(resolver, hierarchy):
    found = await resolver.resolve(name("host.many.test."), A)
    assert found.rcode == wire.SERVFAIL
    assert resolver.sent == MAX_SENDS
    assert hierarchy.total_queries() == MAX_SENDS
    # The root once, the TLD twice: its referral to forty servers is truncated over UDP, and
    # the retry over TCP counts against the limit too.
    assert hierarchy.queries(TLD) == 2
    assert hierarchy.queries(MANY[0]) == MAX_SENDS - 3


async def test_it_resolves_at_most_three_glueless_name_servers_per_referral(resolver, hierarchy):
    found = await resolver.resolve(name("host.nxns.test."), A)
    assert found.rcode == wire.SERVFAIL
    assert hierarchy.queries(OTHER) == 3  # ten glueless NS names, all NXDOMAIN


async def test_it_caches_nothing_outside_the_zone_of_the_server_asked(resolver, hierarchy):
    found = await resolver.resolve(name("www.evil.test."), A)
    assert addresses(found) == ["192.0.2.66"]
    cache = resolver.cache
    assert cache.rrset(name("www.example.test."), A) is None
    assert cache.rrset(name("ns.example.test."), A) is None
    assert cache.rrset(name("example.test."), NS) is None
    truth = await resolver.resolve(name("www.example.test."), A)
    assert addresses(truth) == ["192.0.2.1"]


async def test_it_ignores_forged_replies_and_takes_the_real_one(resolver, hierarchy):
    found = await resolver.resolve(name("www.forged.test."), A)
    assert addresses(found) == ["192.0.2.77"]
    assert addresses(resolver.cache.find(name("www.forged.test."), A)) == ["192.0.2.77"]
    assert len(hierarchy.scripted[FORGER].queries) == 1


async def test_it_ignores_a_reply_to_another_question_and_takes_the_real_one(resolver, hierarchy):
    found = await resolver.resolve(name("www.misasked.test."), A)
    assert addresses(found) == ["192.0.2.78"]
    assert len(hierarchy.scripted[MISASKER].queries) == 1
    assert resolver.cache.rrset(name("www.bank.test."), A) is None


async def test_it_follows_referrals_down_to_the_limit(resolver, hierarchy):
    # The root, test. and then DEEP_LEVELS - 1 levels: one referral short of the limit.
    deepest = DEEP_LEVELS - 1
    found = await resolver.resolve(dns.name.from_text("host", deep_name(deepest)), A)
    assert addresses(found) == ["192.0.2.99"]
    assert [hierarchy.queries(a) for a in DEEP] == [1] * (deepest + 1) + [0]


async def test_it_gives_up_beyond_the_referral_limit(resolver, hierarchy):
    found = await resolver.resolve(dns.name.from_text("host", deep_name(DEEP_LEVELS)), A)
    assert found.rcode == wire.SERVFAIL
    asked = [hierarchy.queries(a) for a in DEEP]
    assert sum(asked) == MAX_REFERRALS - 2 and asked[-1] == 0


async def test_it_resolves_glueless_name_servers_within_glueless_name_servers(resolver):
    found = await resolver.resolve(name("host.chain2.test."), A)  # two lookups deep
    assert addresses(found) == ["192.0.2.22"]


async def test_it_does_not_nest_glueless_lookups_deeper_than_the_limit(resolver, hierarchy):
    found = await resolver.resolve(name("host.chain1.test."), A)  # three lookups deep
    assert found.rcode == wire.SERVFAIL
    assert hierarchy.queries(CHAINS) == 0  # the glue of chain4.test is never reached


async def test_glue_is_not_an_answer_the_zones_own_servers_are_asked(resolver, hierarchy):
    await resolver.resolve(name("www.example.test."), A)  # glue for ns.example.test cached
    assert resolver.cache.rrset(name("ns.example.test."), A) is not None
    asked = hierarchy.queries(EXAMPLE)
    found = await resolver.resolve(name("ns.example.test."), A)
    assert addresses(found) == [EXAMPLE]
    assert hierarchy.queries(EXAMPLE) == asked + 1


async def test_an_nxdomain_without_authority_is_lame_and_the_next_server_is_asked(
    resolver, hierarchy
):
    resolver.servers.answered(LIAR, 0.001)  # the liar is the fastest: it is asked first
    found = await resolver.resolve(name("host.liar.test."), A)
    assert addresses(found) == ["192.0.2.5"]
    assert len(hierarchy.scripted[LIAR].queries) == 1


async def test_it_uses_a_fresh_id_and_source_port_per_query(resolver, hierarchy):
    await resolver.resolve(name("a.forged.test."), A)
    await resolver.resolve(name("b.forged.test."), A)
    scripted = hierarchy.scripted[FORGER]
    assert len({query.id for query in scripted.queries}) == 2
    assert len({port for _, port in scripted.sources}) == 2


async def test_it_sends_iterative_queries_without_rd(resolver, hierarchy):
    await resolver.resolve(name("www.evil.test."), A)
    [query] = hierarchy.scripted[EVIL].queries
    assert not query.flags & dns.flags.RD


def test_it_reads_the_iana_root_hints():
    hints = read_hints()
    assert len(hints) == 13
    assert hints[name("a.root-servers.net.")] == ["198.41.0.4", "2001:503:ba3e::2:30"]
    assert all(len(addresses) == 2 for addresses in hints.values())


def test_it_reads_root_hints_from_a_file(tmp_path: Path):
    path = tmp_path / "hints"
    path.write_text(f". 3600000 NS a.root-servers.test.\na.root-servers.test. 3600000 A {ROOT}\n")
    assert read_hints(path) == {name("a.root-servers.test."): [ROOT]}


@pytest.mark.parametrize(
    "text", ["a.root-servers.test. 3600000 A 127.0.0.2\n", ". 3600000 NS (unbalanced\n"]
)
def test_it_refuses_a_hints_file_without_root_servers(tmp_path: Path, text: str):
    path = tmp_path / "hints"
    path.write_text(text)
    with pytest.raises(ValueError):
        read_hints(path)


def response_to(qname: str, *, aa: bool = False, rcode: int = 0, **sections) -> dns.message.Message:
    """A response to qname/A with sections given as lists of (owner, type, rdata) triples."""
    response = dns.message.make_response(dns.message.make_query(qname, "A"))
    response.set_rcode(rcode)
    if aa:
        response.flags |= dns.flags.AA
    for section, records in sections.items():
        for owner, rdtype, rdata in records:
            getattr(response, section).append(dns.rrset.from_text(owner, 300, "IN", rdtype, rdata))
    return response


def test_a_referral_keeps_only_glue_inside_the_zone_of_the_server_asked():
    response = response_to(
        "www.example.test.",
        authority=[
            ("example.test.", "NS", "ns.example.test."),
            ("example.test.", "NS", "ns.evil."),
        ],
        additional=[("ns.example.test.", "A", "127.0.0.4"), ("ns.evil.", "A", "6.6.6.6")],
    )
    step = classify(response, name("test."), name("www.example.test."), A)
    assert step.kind is Kind.REFERRAL
    assert [rrset.name for rrset, _ in step.additional] == [name("ns.example.test.")]


@pytest.mark.parametrize(
    "cut", ["test.", "example.test.", "other.test.", "deeper.www.example.test."]
)
def test_a_referral_that_does_not_lead_down_towards_the_name_is_lame(cut):
    response = response_to("www.example.test.", authority=[(cut, "NS", "ns.evil.")])
    assert classify(response, name("example.test."), name("www.example.test."), A) is None


def test_a_negative_answer_proved_by_another_zones_soa_is_not_cached():
    soa = "ns.evil. hostmaster.evil. 1 1800 900 604800 86400"
    response = response_to("www.example.test.", aa=True, rcode=3, authority=[("evil.", "SOA", soa)])
    step = classify(response, name("example.test."), name("www.example.test."), A)
    assert (step.kind, step.authority) == (Kind.NXDOMAIN, [])


def test_answers_for_names_other_than_the_question_are_dropped():
    response = response_to(
        "www.example.test.", aa=True,
        answer=[("www.example.test.", "A", "192.0.2.1"), ("mail.example.test.", "A", "6.6.6.6")],
    )  # fmt: skip
    step = classify(response, name("example.test."), name("www.example.test."), A)
    assert [rrset.name for rrset in step.answer] == [name("www.example.test.")]


def test_a_cname_leaving_the_zone_is_followed_by_asking_the_targets_servers():
    response = response_to(
        "alias.example.test.", aa=True,
        answer=[("alias.example.test.", "CNAME", "www.bank.test."), ("www.bank.test.", "A", "6.6.6.6")],
    )  # fmt: skip
    step = classify(response, name("example.test."), name("alias.example.test."), A)
    assert (step.kind, step.target) == (Kind.ALIAS, name("www.bank.test."))
    assert [rrset.rdtype for rrset in step.answer] == [dns.rdatatype.CNAME]


@pytest.mark.parametrize("rcode", [dns.rcode.SERVFAIL, dns.rcode.REFUSED, dns.rcode.FORMERR])
def test_an_error_from_a_server_is_lame(rcode):
    response = response_to("www.example.test.", rcode=rcode)
    assert classify(response, name("example.test."), name("www.example.test."), A) is None


@pytest.mark.parametrize("aa, soa, step", [
    (False, False, None), (True, False, Kind.NXDOMAIN), (False, True, Kind.NXDOMAIN),
])  # fmt: skip
def test_an_nxdomain_needs_aa_or_the_zones_soa(aa, soa, step):
    record = ("example.test.", "SOA", "ns.example.test. hostmaster.example.test. 1 2 3 4 60")
    response = response_to(
        "www.example.test.", aa=aa, rcode=dns.rcode.NXDOMAIN, authority=[record] if soa else []
    )
    found = classify(response, name("example.test."), name("www.example.test."), A)
    assert (found.kind if found is not None else None) is step


def test_a_negative_answer_lives_no_longer_than_the_soa_minimum():
    soa = "ns.example.test. hostmaster.example.test. 1 1800 900 604800 60"
    response = response_to(
        "www.example.test.", aa=True, rcode=3, authority=[("example.test.", "SOA", soa)]
    )
    step = classify(response, name("example.test."), name("www.example.test."), A)
    assert step.authority[0].ttl == 60


def test_answers_passed_on_carry_the_ttl_the_cache_caps_them_at(clock):
    response = response_to(
        "www.example.test.", aa=True, answer=[("www.example.test.", "A", "192.0.2.1")]
    )
    step = classify(response, name("example.test."), name("www.example.test."), A)
    remember(step, Cache(max_ttl=100, clock=clock), name("www.example.test."), A, "recursive")
    assert step.answer[0].ttl == 100


def test_a_negative_answer_after_a_cname_is_cached_at_the_end_of_the_chain(clock):
    soa = "ns.example.test. hostmaster.example.test. 1 1800 900 604800 60"
    response = response_to(
        "alias.example.test.", aa=True,
        answer=[("alias.example.test.", "CNAME", "www.example.test.")],
        authority=[("example.test.", "SOA", soa)],
    )  # fmt: skip
    step = classify(response, name("example.test."), name("alias.example.test."), A)
    cache = Cache(clock=clock)
    remember(step, cache, name("alias.example.test."), A, "recursive")
    assert cache.find(name("www.example.test."), A).kind is Kind.NODATA
    found = cache.find(name("alias.example.test."), A)
    assert (found.kind, [rrset.rdtype for rrset in found.answer]) == (Kind.NODATA, [CNAME])


async def test_it_asks_the_parent_zone_for_ds_records(resolver, hierarchy):
    found = await resolver.resolve(name("example.test."), dns.rdatatype.DS)
    assert (found.rcode, found.answer) == (wire.NOERROR, [])
    assert found.authority[0].name == name("test.")
    assert hierarchy.queries(EXAMPLE) == 0


async def test_it_sheds_questions_beyond_its_limit_of_resolutions_in_flight(hierarchy, clock):
    recursive = Recursive(
        Cache(clock=clock), hierarchy.hints, port=hierarchy.port, ipv6=False,
        query_timeout=0.3, deadline=1.0, max_inflight=1, clock=clock,
    )  # fmt: skip
    slow = asyncio.ensure_future(recursive.resolve(name("host.dead.test."), A))
    await asyncio.sleep(0)
    shed = await recursive.resolve(name("www.example.test."), A)
    assert shed.rcode == wire.SERVFAIL
    await slow
    assert hierarchy.queries(EXAMPLE) == 0  # the shed question never went out
    found = await recursive.resolve(name("www.example.test."), A)
    assert addresses(found) == ["192.0.2.1"]  # shedding is not cached as a failure
    await recursive.close()


def test_servers_are_tried_fastest_first_and_those_that_timed_out_last(clock):
    servers = Servers(clock)
    servers.answered("slow", 0.5)
    servers.answered("fast", 0.01)
    servers.answered("dead", 0.001)
    servers.timed_out("dead")
    assert servers.order(["dead", "slow", "new", "fast", "fast"]) == ["fast", "new", "slow", "dead"]
    clock.advance(5)
    servers.answered("dead", 0.001)
    assert servers.order(["dead", "slow", "new", "fast"]) == ["fast", "dead", "new", "slow"]


def test_of_the_servers_backing_off_only_the_first_to_recover_is_tried(clock):
    servers = Servers(clock)
    servers.timed_out("long-dead")
    servers.timed_out("long-dead")
    servers.timed_out("dead")
    assert servers.order(["long-dead", "live", "dead"]) == ["live", "dead"]
    assert servers.order(["long-dead", "dead"]) == ["dead"]
    assert servers.order([]) == []


def test_a_server_that_keeps_timing_out_is_skipped_for_longer_each_time(clock):
    servers = Servers(clock)
    servers.answered("slow", 2.0)
    servers.timed_out("dead")
    servers.timed_out("dead")
    clock.advance(9)
    assert servers.order(["dead", "slow"]) == ["slow", "dead"]
    clock.advance(1)
    assert servers.order(["dead", "slow"]) == ["dead", "slow"]


async def test_a_dead_zone_costs_one_timeout_per_question_not_one_per_server(resolver, hierarchy):
    found = await resolver.resolve(name("host.dead.test."), A)
    assert found.rcode == wire.SERVFAIL
    assert [hierarchy.queries(a) for a in (SILENT, SILENT2)] == [1, 1]
    resolver.cache.flush()  # forget the failure, not the servers' health
    await resolver.resolve(name("host.dead.test."), A)
    assert hierarchy.queries(SILENT) + hierarchy.queries(SILENT2) == 3


def reply_texts(reply) -> tuple:
    """Return what the resolvers read of a reply, as comparable text."""
    sections = tuple(
        sorted((rrset.to_text(), rrset.ttl, rrset.covers) for rrset in section)
        for section in (reply.answer, reply.authority, reply.additional)
    )
    return reply.rcode(), reply.flags, sections


def reply_of(answer=(), authority=(), additional=(), rcode=0) -> dns.message.Message:
    """A response to www.example.test./A with sections given as master-file lines."""
    response = dns.message.make_response(dns.message.make_query("www.example.test.", "A"))
    response.flags |= dns.flags.AA
    response.use_edns(0, payload=1232)
    response.set_rcode(rcode)
    for section, lines in (
        ("answer", answer),
        ("authority", authority),
        ("additional", additional),
    ):
        for line in lines:
            owner, ttl, rdclass, rdtype, rdata = line.split(None, 4)
            rrset = dns.rrset.from_text(owner, int(ttl), rdclass, rdtype, rdata)
            getattr(response, section).append(rrset)
    return response


def test_a_reply_is_read_as_dnspython_reads_it():
    response = reply_of(
        answer=[
            "www.example.test. 300 IN CNAME host.example.test.",
            "host.example.test. 300 IN A 192.0.2.1",
            "host.example.test. 60 IN A 192.0.2.2",  # the same RRset: its lower TTL
            "host.example.test. 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 1 "
            "example.test. AAAA",
        ],
        authority=["example.test. 300 IN NS ns.example.test."],
        additional=["ns.example.test. 300 IN AAAA 2001:db8::53"],
    )
    data = response.to_wire()
    assert reply_texts(Reply.parse(data)) == reply_texts(dns.message.from_wire(data))


def test_a_reply_carries_its_extended_rcode():
    data = reply_of(rcode=dns.rcode.BADVERS).to_wire()
    assert Reply.parse(data).rcode() == dns.rcode.BADVERS


@pytest.mark.parametrize("cut", [10, 20, 40])
def test_a_cut_short_reply_does_not_parse(cut):
    data = reply_of(answer=["www.example.test. 60 IN A 192.0.2.1"]).to_wire()
    with pytest.raises(MALFORMED):
        Reply.parse(data[:-cut])


NEGATIVE = "example.test. 300 IN SOA ns.example.test. hostmaster.example.test. 1 2 3 4 60"


def test_a_record_seen_before_is_read_once_and_shared_in_any_reply():
    # The SOA's names are compressed against different questions in the two replies.
    first = reply_of(authority=[NEGATIVE], rcode=dns.rcode.NXDOMAIN)
    second = reply_of(authority=[NEGATIVE], rcode=dns.rcode.NXDOMAIN)
    second.question[0].name = name("a.much.longer.name.example.test.")
    one, two = (Reply.parse(message.to_wire()) for message in (first, second))
    assert one.authority[0][0] is two.authority[0][0]
    soa = two.authority[0][0]
    assert wire.rdata_wire(soa) == soa.to_wire()  # answers copy its bytes, uncompressed
    for message in (first, second):
        data = message.to_wire()
        assert reply_texts(Reply.parse(data)) == reply_texts(dns.message.from_wire(data))


def test_names_keep_their_case_and_records_equal_but_for_case_make_one():
    response = reply_of(
        authority=[
            "example.test. 300 IN NS NS.Example.TEST.",
            "example.test. 300 IN NS ns.example.test.",
        ]
    )
    data = response.to_wire()
    assert reply_texts(Reply.parse(data)) == reply_texts(dns.message.from_wire(data))


ANSWERED = [
    "www.example.test. 300 IN CNAME host.example.test.",
    "host.example.test. 300 IN A 192.0.2.1",
]


def test_a_reply_repeating_the_question_gives_its_owners_the_name_asked():
    data = reply_of(answer=ANSWERED).to_wire()
    question = Question.of(name("www.example.test."), A, recursion=False)
    assert question.repeated(data)
    reply = Reply.parse(data, question)
    assert reply.answer[0].name is question.name  # not read, nor made again
    assert reply_texts(reply) == reply_texts(dns.message.from_wire(data))


def test_a_reply_repeating_the_question_in_another_case_keeps_its_spelling():
    message = reply_of(answer=ANSWERED)
    message.question[0].name = name("WWW.Example.TEST.")
    message.answer[0].name = name("WWW.Example.TEST.")  # written as a pointer to it
    data = message.to_wire()
    question = Question.of(name("www.example.test."), A, recursion=False)
    assert question.matches(data, data[:2]) and not question.repeated(data)
    reply = Reply.parse(data, question)
    assert reply.answer[0].name.labels == (b"WWW", b"Example", b"TEST", b"")
    assert reply_texts(reply) == reply_texts(dns.message.from_wire(data))


def test_a_record_whose_names_do_not_fill_its_length_does_not_parse():
    data = bytearray(
        reply_of(answer=["www.example.test. 60 IN CNAME host.example.test."]).to_wire()
    )
    # One byte more in the CNAME's length than its name takes, and that byte appended.
    length_at = data.index(b"\x00\x05\x00\x01") + 8
    data[length_at + 1] += 1
    end = length_at + 2 + data[length_at + 1] - 1
    data[end:end] = b"\x00"
    with pytest.raises(MALFORMED):
        Reply.parse(bytes(data))

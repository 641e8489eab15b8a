"""The resolver cache: bytes in, bytes out, on an injected clock (no sockets, no sleeps)."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from dnsadmin.names.answer import Kind
from dnsadmin.names.cache import GLUE, MAX_FAILURE_TTL, Cache, CacheRecord
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import ChainConfig, ResolverChain
from tests.names.hierarchy import Clock

A, MX, NS = dns.rdatatype.A, dns.rdatatype.MX, dns.rdatatype.NS
SOA_TEXT = "ns.example.test. hostmaster.example.test. 1 1800 900 604800 60"


def rrset(owner: str, ttl: int, rdtype: str, *rdatas: str) -> dns.rrset.RRset:
    return dns.rrset.from_text(owner, ttl, "IN", rdtype, *rdatas)


def soa(ttl: int = 300, minimum: int = 60) -> dns.rrset.RRset:
    return rrset("example.test.", ttl, "SOA", SOA_TEXT.replace(" 60", f" {minimum}"))


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def answer(cache: Cache, query: bytes, *, tcp: bool = False) -> bytes | None:
    """The response of a chain whose only link is the cache; None when the cache cannot
    answer (the chain refuses then), as rundns gets it (the kept answers included)."""
    chain = ResolverChain(ZoneCatalog(), CACHE_ONLY, cache=cache)
    response, source = chain.resolve(query, tcp=tcp, client="127.0.0.1")
    return response if source == "cache" else None


CACHE_ONLY = ChainConfig(order=["cache"], forwarders=["127.0.0.1:9"])  # never asked


def ask(cache: Cache, qname: str, rdtype: str = "A", **kw) -> dns.message.Message | None:
    query = dns.message.make_query(qname, rdtype, **kw)
    response = answer(cache, query.to_wire())
    if response is None:
        return None
    parsed = dns.message.from_wire(response)
    assert parsed.id == query.id
    return parsed


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> Cache:
    return Cache(clock=clock)


def test_it_answers_a_cached_rrset_with_the_ttl_counted_down(cache, clock):
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    clock.advance(100)
    response = ask(cache, "www.example.test.")
    assert response.rcode() == dns.rcode.NOERROR
    assert not response.flags & dns.flags.AA
    [answer] = response.answer
    assert (answer.ttl, answer[0].address) == (200, "192.0.2.1")


def test_it_counts_down_the_ttls_of_an_answer_it_rendered_before(cache, clock):
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    cache.store_rrset(rrset("alias.example.test.", 100, "CNAME", "www.example.test."))
    assert [r.ttl for r in ask(cache, "alias.example.test.").answer] == [100, 300]
    clock.advance(40.5)
    assert [r.ttl for r in ask(cache, "alias.example.test.").answer] == [59, 259]


def test_it_stops_answering_when_the_ttl_has_run_out(cache, clock):
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    ask(cache, "www.example.test.")
    clock.advance(300)
    assert ask(cache, "www.example.test.") is None
    assert len(cache) == 0


def test_it_caps_ttls_at_a_day(cache, clock):
    cache.store_rrset(rrset("www.example.test.", 7 * 86400, "A", "192.0.2.1"))
    assert ask(cache, "www.example.test.").answer[0].ttl == 86400


def test_it_never_keeps_a_zero_ttl(cache):
    cache.store_rrset(rrset("www.example.test.", 0, "A", "192.0.2.1"))
    assert ask(cache, "www.example.test.") is None


def test_it_misses_a_name_it_does_not_know(cache):
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    assert ask(cache, "mail.example.test.") is None
    assert ask(cache, "www.example.test.", "MX") is None


def test_it_misses_a_cname_chain_whose_end_it_does_not_know(cache):
    cache.store_rrset(rrset("alias.example.test.", 300, "CNAME", "www.example.test."))
    assert ask(cache, "alias.example.test.") is None
    found = cache.find(name("alias.example.test."), A)
    assert (found.kind, found.target) == (Kind.ALIAS, name("www.example.test."))


def test_it_answers_nxdomain_for_every_type_with_the_soa(cache, clock):
    cache.store_negative(name("gone.example.test."), A, soa(), nxdomain=True)
    clock.advance(20)
    response = ask(cache, "gone.example.test.", "MX")
    assert response.rcode() == dns.rcode.NXDOMAIN
    [authority] = response.authority
    assert (authority.name, authority.rdtype, authority.ttl) == (name("example.test."), 6, 40)


def test_it_answers_nodata_for_the_one_type_only(cache):
    cache.store_negative(name("www.example.test."), MX, soa(), nxdomain=False)
    response = ask(cache, "www.example.test.", "MX")
    assert (response.rcode(), response.answer) == (dns.rcode.NOERROR, [])
    assert response.authority[0].rdtype == dns.rdatatype.SOA
    assert ask(cache, "www.example.test.", "TXT") is None


def test_it_keeps_a_negative_answer_for_the_soa_ttl_when_smaller_than_minimum(cache, clock):
    cache.store_negative(name("gone.example.test."), A, soa(ttl=30, minimum=600), nxdomain=True)
    clock.advance(29)
    assert ask(cache, "gone.example.test.") is not None
    clock.advance(1)
    assert ask(cache, "gone.example.test.") is None


def test_it_caps_negative_ttls_at_an_hour(cache):
    cache.store_negative(name("gone.example.test."), A, soa(86400, 86400), nxdomain=True)
    assert ask(cache, "gone.example.test.").authority[0].ttl == 3600


def test_data_replaces_a_negative_answer_for_the_name(cache):
    cache.store_negative(name("new.example.test."), A, soa(), nxdomain=True)
    cache.store_rrset(rrset("new.example.test.", 300, "A", "192.0.2.9"))
    assert ask(cache, "new.example.test.").rcode() == dns.rcode.NOERROR


def test_it_remembers_a_failure_for_five_seconds(cache, clock):
    cache.store_failure(name("broken.example.test."), A)
    assert ask(cache, "broken.example.test.").rcode() == dns.rcode.SERVFAIL
    clock.advance(5)
    assert ask(cache, "broken.example.test.") is None


def test_it_remembers_a_failure_for_five_minutes_at_most(cache, clock):
    cache.store_failure(name("broken.example.test."), A, ttl=86400)
    clock.advance(300)
    assert ask(cache, "broken.example.test.") is None


def test_it_evicts_the_oldest_entries_beyond_its_size(clock):
    cache = Cache(max_entries=2, clock=clock)
    for host in ("a", "b", "c"):
        cache.store_rrset(rrset(f"{host}.example.test.", 300, "A", "192.0.2.1"))
    assert ask(cache, "a.example.test.") is None
    assert ask(cache, "c.example.test.") is not None
    assert len(cache) == 2


def test_it_evicts_beyond_its_byte_budget(clock):
    cache = Cache(max_bytes=1000, clock=clock)
    for host in "abcdefghij":
        cache.store_rrset(rrset(f"{host}.example.test.", 300, "A", "192.0.2.1"))
    assert cache.positive.bytes <= 1000
    assert 0 < len(cache) < 10


def test_negative_answers_cannot_push_data_out(clock):
    cache = Cache(max_entries=10, max_negative_entries=2, clock=clock)
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    for i in range(100):
        cache.store_negative(name(f"random{i}.example.test."), A, soa(), nxdomain=True)
    assert ask(cache, "www.example.test.") is not None
    assert len(cache.negative.entries) == 2


def test_flush_forgets_everything(cache):
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    cache.store_negative(name("gone.example.test."), A, soa(), nxdomain=True)
    ask(cache, "www.example.test.")
    cache.flush()
    assert ask(cache, "www.example.test.") is None
    assert ask(cache, "gone.example.test.") is None


def test_delete_forgets_every_type_of_one_name(cache):
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    cache.store_rrset(rrset("www.example.test.", 300, "TXT", '"hi"'))
    cache.store_negative(name("www.example.test."), MX, soa(), nxdomain=False)
    cache.store_rrset(rrset("mail.example.test.", 300, "A", "192.0.2.2"))
    ask(cache, "www.example.test.")
    assert cache.delete("WWW.example.test.") == 3
    assert ask(cache, "www.example.test.") is None
    assert ask(cache, "mail.example.test.") is not None


def test_it_lists_its_entries_for_writing_behind(cache, clock):
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1", "192.0.2.2"))
    cache.store_negative(name("gone.example.test."), A, soa(), nxdomain=True)
    cache.store_failure(name("broken.example.test."), A)
    clock.advance(10)
    assert sorted(cache.entries(), key=lambda record: record.name) == [
        CacheRecord("gone.example.test.", "ANY", 50, "NXDOMAIN", "recursive", f"example.test. {SOA_TEXT}"),
        CacheRecord("www.example.test.", "A", 290, "", "recursive", "192.0.2.1\n192.0.2.2"),
    ]  # fmt: skip


def test_entries_written_behind_spell_names_and_records_as_dnspython_does(cache):
    owners = ["WWW.Example.test.", r"a\.b.example.test.", r"sp\032ace.example.test.", "_x._tcp.t."]
    for owner in owners:
        cache.store_rrset(rrset(owner, 300, "TXT", '"one two"', '"x\\"y"'))
    cache.store_negative(name(r"no\(pe.example.test."), MX, soa(), nxdomain=False)
    records = {record.name: record for record in cache.take_changes()}
    for owner in owners:
        texts = sorted(
            rdata.to_text() for rdata in rrset(owner, 300, "TXT", '"one two"', '"x\\"y"')
        )
        assert sorted(records[name(owner).to_text()].rdata.splitlines()) == texts
    negative = records[name(r"no\(pe.example.test.").to_text()]
    assert (negative.rdtype, negative.negative) == ("MX", "NODATA")
    assert negative.rdata == f"example.test. {SOA_TEXT}"


def test_it_hands_the_write_behind_only_what_changed_since_the_last_time(cache, clock):
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    cache.store_negative(name("gone.example.test."), A, soa(), nxdomain=True)
    cache.store_failure(name("broken.example.test."), A)
    assert sorted(record.name for record in cache.take_changes()) == [
        "gone.example.test.", "www.example.test.",
    ]  # fmt: skip
    assert cache.take_changes() == []
    cache.store_rrset(rrset("mail.example.test.", 300, "A", "192.0.2.25"))
    assert [record.name for record in cache.take_changes()] == ["mail.example.test."]
    fresh = Cache(clock=clock)
    fresh.load(cache.entries())  # from the database already: nothing to write back
    assert fresh.take_changes() == []


def test_a_burst_of_changes_is_handed_over_a_slice_at_a_time(cache):
    for number in range(5):
        cache.store_rrset(rrset(f"host{number}.example.test.", 300, "A", "192.0.2.1"))
    first = cache.take_changes(2)
    assert cache.changes_waiting == 3
    slices = [first, cache.take_changes(2), cache.take_changes(2)]
    assert [len(piece) for piece in slices] == [2, 2, 1] and cache.changes_waiting == 0
    assert len({record.name for piece in slices for record in piece}) == 5
    assert cache.take_changes(2) == []


def test_it_loads_the_entries_it_listed(cache, clock):
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1", "192.0.2.2"))
    cache.store_negative(name("www.example.test."), MX, soa(), nxdomain=False, source="forwarder")
    cache.store_negative(name("gone.example.test."), A, soa(), nxdomain=True)
    records = list(cache.entries())
    fresh = Cache(clock=clock)
    fresh.load([*records, CacheRecord("bad..name", "A", 300, "", "recursive", "nonsense")])
    assert sorted(fresh.entries(), key=repr) == sorted(records, key=repr)
    assert ask(fresh, "gone.example.test.", "TXT").rcode() == dns.rcode.NXDOMAIN


def test_it_names_the_closest_zone_cut_it_knows(cache):
    cache.store_rrset(rrset("test.", 3600, "NS", "ns.nic.test."))
    cache.store_rrset(rrset("example.test.", 3600, "NS", "ns.example.test."))
    assert cache.delegation(name("a.b.example.test.")).name == name("example.test.")
    assert cache.delegation(name("other.test.")).name == name("test.")
    assert cache.delegation(name("elsewhere.")) is None


def test_it_leaves_queries_of_other_classes_alone(cache):
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    assert ask(cache, "www.example.test.", rdclass="CH") is None


def test_it_echoes_the_question_and_edns_of_each_query(cache):
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    plain = ask(cache, "www.example.test.")
    with_edns = ask(cache, "www.example.test.", use_edns=0)
    assert (plain.edns, with_edns.edns) == (-1, 0)
    assert with_edns.question[0].name == name("www.example.test.")


def test_it_truncates_an_answer_too_big_for_udp(cache):
    addresses = [f"198.51.100.{i}" for i in range(1, 101)]
    cache.store_rrset(rrset("big.example.test.", 300, "A", *addresses))
    query = dns.message.make_query("big.example.test.", "A")
    udp = dns.message.from_wire(answer(cache, query.to_wire()))
    tcp = dns.message.from_wire(answer(cache, query.to_wire(), tcp=True))
    assert udp.flags & dns.flags.TC
    assert len(tcp.answer[0]) == 100


def test_an_empty_answer_to_any_is_not_nodata_for_each_type(cache):
    cache.store_negative(name("www.example.test."), dns.rdatatype.ANY, soa(), nxdomain=False)
    assert ask(cache, "www.example.test.", "A") is None


def test_it_never_answers_a_zone_transfer(cache):
    cache.store_negative(name("gone.example.test."), A, soa(), nxdomain=True)
    assert ask(cache, "gone.example.test.", "AXFR") is None
    assert ask(cache, "gone.example.test.", "ANY").rcode() == dns.rcode.NXDOMAIN


def test_a_failure_at_the_end_of_a_cname_chain_expires_with_the_failure(cache, clock):
    cache.store_rrset(rrset("alias.example.test.", 300, "CNAME", "broken.example.test."))
    cache.store_failure(name("broken.example.test."), A)
    assert ask(cache, "alias.example.test.").rcode() == dns.rcode.SERVFAIL
    clock.advance(5)
    assert ask(cache, "alias.example.test.") is None


def test_glue_is_kept_to_find_servers_but_never_answered(cache):
    cache.store_rrset(rrset("ns.example.test.", 300, "A", "192.0.2.53"), rank=GLUE)
    assert ask(cache, "ns.example.test.") is None
    assert cache.find(name("ns.example.test."), A) is None
    assert cache.addresses(name("ns.example.test.")) == ["192.0.2.53"]


def test_a_referrals_ns_set_is_a_zone_cut_but_not_an_answer(cache):
    cache.store_rrset(rrset("example.test.", 3600, "NS", "ns.example.test."), rank=GLUE)
    assert cache.delegation(name("www.example.test.")).name == name("example.test.")
    assert ask(cache, "example.test.", "NS") is None


def test_glue_does_not_replace_answer_data(cache):
    cache.store_rrset(rrset("ns.example.test.", 300, "A", "192.0.2.53"))
    cache.store_rrset(rrset("ns.example.test.", 300, "A", "6.6.6.6"), rank=GLUE)
    assert ask(cache, "ns.example.test.").answer[0][0].address == "192.0.2.53"
    assert cache.addresses(name("ns.example.test.")) == ["192.0.2.53"]


def test_answer_data_replaces_glue(cache):
    cache.store_rrset(rrset("ns.example.test.", 300, "A", "6.6.6.6"), rank=GLUE)
    cache.store_rrset(rrset("ns.example.test.", 300, "A", "192.0.2.53"))
    assert ask(cache, "ns.example.test.").answer[0][0].address == "192.0.2.53"


def test_glue_does_not_drop_a_negative_answer(cache):
    cache.store_negative(name("ns.example.test."), A, soa(), nxdomain=True)
    cache.store_rrset(rrset("ns.example.test.", 300, "A", "6.6.6.6"), rank=GLUE)
    assert ask(cache, "ns.example.test.").rcode() == dns.rcode.NXDOMAIN


def test_glue_is_not_written_behind(cache):
    cache.store_rrset(rrset("ns.example.test.", 300, "A", "192.0.2.53"), rank=GLUE)
    assert list(cache.entries()) == []


def test_an_nxdomain_supersedes_every_type_held_at_the_name(cache):
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    cache.store_rrset(rrset("www.example.test.", 300, "TXT", '"hi"'))
    cache.store_negative(name("www.example.test."), MX, soa(), nxdomain=False)
    assert ask(cache, "www.example.test.").rcode() == dns.rcode.NOERROR  # rendered, kept
    cache.store_negative(name("www.example.test."), A, soa(), nxdomain=True)
    for rdtype in ("A", "TXT", "MX"):
        assert ask(cache, "www.example.test.", rdtype).rcode() == dns.rcode.NXDOMAIN
    assert len(cache) == 1


def test_a_nodata_supersedes_the_data_of_its_type_only(cache):
    cache.store_rrset(rrset("www.example.test.", 300, "MX", "10 mail.example.test."))
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    assert ask(cache, "www.example.test.", "MX").answer
    cache.store_negative(name("www.example.test."), MX, soa(), nxdomain=False)
    response = ask(cache, "www.example.test.", "MX")
    assert (response.answer, response.authority[0].rdtype) == ([], dns.rdatatype.SOA)
    assert ask(cache, "www.example.test.").answer[0][0].address == "192.0.2.1"


def test_data_replaces_an_nxdomain_already_rendered(cache):
    cache.store_negative(name("new.example.test."), A, soa(), nxdomain=True)
    assert ask(cache, "new.example.test.").rcode() == dns.rcode.NXDOMAIN
    cache.store_rrset(rrset("new.example.test.", 300, "A", "192.0.2.9"))
    assert ask(cache, "new.example.test.").answer[0][0].address == "192.0.2.9"


def test_new_data_along_a_cname_chain_replaces_the_rendered_answer(cache):
    cache.store_rrset(rrset("alias.example.test.", 300, "CNAME", "www.example.test."))
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    assert ask(cache, "alias.example.test.").answer[1][0].address == "192.0.2.1"
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.2"))
    assert ask(cache, "alias.example.test.").answer[1][0].address == "192.0.2.2"
    cache.delete("www.example.test.")
    assert ask(cache, "alias.example.test.") is None


def test_rendered_answers_count_in_the_byte_budget(clock):
    cache = Cache(max_bytes=6000, clock=clock)
    for i in range(40):
        cache.store_rrset(rrset(f"host{i}.example.test.", 300, "A", "192.0.2.1"))
        assert ask(cache, f"host{i}.example.test.") is not None
    assert 0 < len(cache.answers.positive.entries) < 40
    assert cache.positive.bytes + cache.answers.bytes <= 6000
    assert cache.bytes == cache.positive.bytes + cache.answers.bytes


def test_rendered_negative_answers_cannot_push_rendered_data_out(clock):
    cache = Cache(max_entries=10, max_negative_entries=2, clock=clock)
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))
    ask(cache, "www.example.test.")
    for i in range(100):
        cache.store_negative(name(f"random{i}.example.test."), A, soa(), nxdomain=True)
        ask(cache, f"random{i}.example.test.")
    assert len(cache.answers.positive.entries) == 1
    assert len(cache.answers.negative.entries) == 2


def failure_hold(cache: Cache, clock: Clock, qname: str) -> int:
    """Seconds a failure just stored keeps being answered."""
    held = 0
    while ask(cache, qname) is not None:
        clock.advance(1)
        held += 1
    return held


def test_failures_in_a_row_are_held_twice_as_long_each_time_up_to_a_cap(cache, clock):
    holds = []
    for _ in range(8):
        cache.store_failure(name("broken.example.test."), A)
        holds.append(failure_hold(cache, clock, "broken.example.test."))
    assert holds == [5, 10, 20, 40, 80, 160, MAX_FAILURE_TTL, MAX_FAILURE_TTL]


def test_a_question_resolved_again_starts_its_failures_afresh(cache, clock):
    for _ in range(2):
        cache.store_failure(name("broken.example.test."), A)
        failure_hold(cache, clock, "broken.example.test.")
    cache.resolved(name("broken.example.test."), A)
    cache.store_failure(name("broken.example.test."), A)
    assert failure_hold(cache, clock, "broken.example.test.") == 5


def test_a_failure_long_after_the_last_one_is_held_briefly_again(cache, clock):
    cache.store_failure(name("broken.example.test."), A)
    clock.advance(5 + MAX_FAILURE_TTL + 1)
    cache.store_failure(name("broken.example.test."), A)
    assert failure_hold(cache, clock, "broken.example.test.") == 5


def test_a_popular_answer_is_counted_down_once_a_second(cache, clock):
    clock.advance(0.5)
    cache.store_rrset(rrset("www.example.test.", 300, "A", "192.0.2.1"))  # expires at 300.5
    query = dns.message.make_query("www.example.test.", "A").to_wire()

    def ttl() -> int:
        return dns.message.from_wire(answer(cache, query)).answer[0].ttl

    clock.advance(9.7)  # 10.2: 290.3 s left
    assert ttl() == ttl() == 290  # rendered, then counted down from the rendering
    clock.advance(0.6)  # 10.8: 289.7 left, but this second's answer is already counted
    assert ttl() == 290
    clock.advance(0.3)  # 11.1: a new second, counted again
    assert ttl() == 289

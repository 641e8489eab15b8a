"""Less work reading a cache miss's reply and waiting for it (issue 16): a negative answer's
SOA kept by the bytes that decide it, a reply's last OPT record told by its bytes once
accepted, the first asker of a question resolving without the coalescer's coroutine. Each
read, or answered, as before."""

from __future__ import annotations

import asyncio

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from dnsadmin.names import upstream
from dnsadmin.names.answer import Kind, Sections
from dnsadmin.names.cache import Cache
from dnsadmin.names.forwarder import Forwarder
from dnsadmin.names.upstream import Coalescer, Plain, Question, Reply

A = dns.rdatatype.A
SOA = "ns1.wired.test. hostmaster.wired.test. 1 3600 900 86400 120"
ELSEWHERE = "a.example. b.example. 1 2 3 4 5"  # names of another zone


def negative(
    qname: str, owner: str = "wired.test.", ttl: int = 600, edns: bool = True, soa: str = SOA
):
    """Return a question for qname asked wired and dnspython's NXDOMAIN reply to it, its
    SOA owned by owner (compressed as a server writes it)."""
    name = dns.name.from_text(qname)
    question = Question.of(name, A, recursion=True, edns=edns, wired=name.to_wire())
    response = dns.message.make_response(dns.message.from_wire(b"\0\1" + question.body))
    response.set_rcode(dns.rcode.NXDOMAIN)
    response.authority.append(dns.rrset.from_text(owner, ttl, "IN", "SOA", soa))
    return question, response.to_wire()


def read_twice(first, second, monkeypatch, *, kept: bool) -> Plain:
    """Read the first reply, then the second with the names read (kept) or not."""
    Plain.read(first[1], first[0])
    if kept:

        def refused(self, data, position):
            raise AssertionError("the SOA's names read again")

        monkeypatch.setattr(upstream._Asked, "read_labels", refused)
    return Plain.read(second[1], second[0])


def general_soa(question: Question, data: bytes) -> str:
    """Return the negative answer's SOA as read by Reply.parse, at the TTL classify gives it."""
    rrset = Reply.parse(data, question).authority[0]
    rrset.ttl = min(rrset.ttl, rrset[0].minimum)  # RFC 2308 3
    return rrset.to_text()


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(upstream, "_negatives", {})
    monkeypatch.setattr(upstream, "_tails", set())


def test_a_zones_soa_is_read_once_for_questions_of_one_shape_its_ttl_each_time(monkeypatch):
    first = negative("miss1.Wired.test.")
    second = negative("miss2.Wired.test.", ttl=90)  # the same length, another TTL
    general = general_soa(*second)
    plain = read_twice(first, second, monkeypatch, kept=True)
    assert plain.soa[0] == (b"Wired", b"test", b"")  # spelt as the second question spells it
    assert plain.ttl == 90
    assert plain.soa_rrset().to_text() == general


@pytest.mark.parametrize(
    ("other", "kept"),
    [
        ("miss22.Wired.test.", 2),  # another length: the pointers point elsewhere
        ("miss2.wired.test.", 2),  # the zone in another case: the owner is spelt so
        # Another zone, its owner's pointer the same; its rname points into its mname, not
        # at the question's name: read each time.
        ("miss2.other.test.", 1),
    ],
)
def test_a_soa_read_for_a_question_of_another_shape_is_read_anew(monkeypatch, other, kept):
    first = negative("miss1.Wired.test.")
    owner = "other.test." if "other" in other else "wired.test."
    second = negative(other, owner)
    plain = read_twice(first, second, monkeypatch, kept=False)
    assert plain.soa_rrset().to_text() == general_soa(*second)
    assert len(upstream._negatives) == kept


def test_a_soa_owned_by_the_question_itself_is_read_for_each_question(monkeypatch):
    # Its owner points at the question's first label, which differs from one to the next,
    # and the rest of the record is written alike in both.
    first = negative("wired.test.", "wired.test.", soa=ELSEWHERE)
    second = negative("wiree.test.", "wiree.test.", soa=ELSEWHERE)
    assert first[1][-40:] == second[1][-40:]
    plain = read_twice(first, second, monkeypatch, kept=False)
    assert upstream._negatives == {}
    assert plain.soa[0] == (b"wiree", b"test", b"")
    assert plain.soa_rrset().to_text() == general_soa(*second)


def test_a_soa_cut_short_is_not_plain_though_one_like_it_is_kept():
    first = negative("miss1.wired.test.", edns=False)
    Plain.read(first[1], first[0])
    question, data = negative("miss2.wired.test.", edns=False)
    assert Plain.read(data[:-1], question) is None  # for Reply.parse to refuse
    with pytest.raises(upstream.MALFORMED):
        Reply.parse(data[:-1], question)


def test_a_last_opt_record_accepted_once_is_accepted_again_by_its_bytes(monkeypatch):
    first = negative("miss1.wired.test.")
    Plain.read(first[1], first[0])

    def refused(data, position, count):
        raise AssertionError("the OPT record framed again")

    monkeypatch.setattr(upstream, "_framed", refused)
    question, data = negative("other.wired.test.")
    assert Plain.read(data, question).soa_rrset().to_text() == general_soa(question, data)


def test_an_opt_record_with_an_extended_rcode_is_never_taken_for_a_kept_one():
    question, data = negative("miss1.wired.test.")
    Plain.read(data, question)
    badvers = data[:-6] + b"\x01" + data[-5:]  # the OPT's TTL: extended rcode 1
    assert Plain.read(badvers, question) is None
    assert upstream._tails == {data[-11:]}


async def test_the_first_asker_of_a_question_resolves_it_without_the_coalescers_run(
    monkeypatch,
):
    async def never(self, *args):
        raise AssertionError("run() awaited by a lone asker")

    monkeypatch.setattr(Coalescer, "run", never)
    resolver = Forwarder(Cache(), ["127.0.0.1:9"])
    answer = Sections(Kind.NXDOMAIN)

    async def resolved(qname, qtype, deadline, wired):
        return answer

    monkeypatch.setattr(resolver, "_resolve", resolved)
    assert await resolver.resolve(dns.name.from_text("a.test."), A) is answer
    assert resolver._coalescer._inflight == {}


async def test_askers_waiting_on_a_first_asker_share_its_answer_or_its_error(monkeypatch):
    resolver = Forwarder(Cache(), ["127.0.0.1:9"])
    release = asyncio.Event()
    outcomes = [Sections(Kind.NXDOMAIN), LookupError("no answer")]
    calls = 0

    async def resolved(qname, qtype, deadline, wired):
        nonlocal calls
        calls += 1
        await release.wait()
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(resolver, "_resolve", resolved)
    qname = dns.name.from_text("a.test.")
    for _ in range(2):
        release.clear()
        askers = [asyncio.ensure_future(resolver.resolve(qname, A)) for _ in range(3)]
        await asyncio.sleep(0)
        release.set()
        results = await asyncio.gather(*askers, return_exceptions=True)
        assert len({id(result) for result in results}) == 1  # one outcome, shared
    assert calls == 2
    assert resolver._coalescer._inflight == {}

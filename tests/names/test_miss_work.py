"""The work a cache miss leaves out (issue 16): no coroutine for a free upstream slot, no
future for a question asked once, no name read for the OPT record of a reply, no search
for answers to retire at a name cached for the first time. Each with its outcome unchanged."""

from __future__ import annotations

import asyncio

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from dnsadmin.names import wire
from dnsadmin.names.cache import Cache, by_identity
from dnsadmin.names.upstream import (
    Coalescer,
    Overloaded,
    Question,
    Reply,
    Slots,
    Sockets,
    exchange,
)

A = dns.rdatatype.A
SOA = "example.test. 300 IN SOA ns.example.test. hostmaster.example.test. 1 2 3 4 60"


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def soa_rrset() -> dns.rrset.RRset:
    owner, ttl, _, _, rdata = SOA.split(None, 4)
    return dns.rrset.from_text(owner, int(ttl), "IN", "SOA", rdata)


async def test_a_free_slot_is_taken_at_once_and_a_full_one_waits_its_release():
    slots = Slots(1)
    assert slots.take()
    assert not slots.take()
    waiting = asyncio.ensure_future(slots.acquire())
    await asyncio.sleep(0)
    assert not waiting.done()
    slots.release()
    assert await waiting
    assert not slots.take()  # the waiter holds the slot now
    slots.release()
    assert slots.take()


class Answering(asyncio.DatagramProtocol):
    """A server on loopback answering every query with one A record."""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        response.answer.append(
            dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.7")
        )
        self.transport.sendto(response.to_wire(), addr)


async def test_an_exchange_with_free_slots_never_awaits_a_semaphore(monkeypatch):
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Answering, local_addr=("127.0.0.1", 0))
    sockets = Sockets(8)

    async def refused(self) -> bool:
        raise AssertionError("a free slot was awaited")

    monkeypatch.setattr(Slots, "acquire", refused)
    try:
        port = transport.get_extra_info("sockname")[1]
        question = Question.of(name("www.example.test."), A, recursion=False)
        deadline = loop.time() + 5.0
        reply = await exchange(question, "127.0.0.1", port, 2.0, lambda: None, sockets, deadline)
    finally:
        transport.close()
        sockets.close()
    assert [rdata.address for rdata in reply.answer[0]] == ["192.0.2.7"]
    assert sockets.queries._value == 8  # the slot was given back


async def test_askers_of_one_question_in_flight_share_one_resolution_with_its_arguments():
    coalescer: Coalescer[str] = Coalescer()
    started: list[tuple] = []
    release = asyncio.Event()

    async def start(first: str, second: int) -> str:
        started.append((first, second))
        await release.wait()
        return f"{first}{second}"

    askers = [asyncio.ensure_future(coalescer.run("key", start, "a", 1)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*askers) == ["a1"] * 3
    assert started == [("a", 1)]
    assert await coalescer.run("key", start, "b", 2) == "b2"  # no longer in flight
    assert started == [("a", 1), ("b", 2)]


async def test_when_the_asker_resolving_gives_up_a_waiting_one_resolves_again():
    coalescer: Coalescer[str] = Coalescer()
    calls = 0

    async def start() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(60)  # the first asker is cancelled meanwhile
        return "answer"

    first = asyncio.ensure_future(coalescer.run("key", start))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(coalescer.run("key", start))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == "answer"
    assert calls == 2
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_lone_asker_that_fails_leaves_nothing_in_flight():
    coalescer: Coalescer[str] = Coalescer()

    async def failing() -> str:
        raise LookupError("no answer")

    with pytest.raises(LookupError):
        await coalescer.run("key", failing)

    async def answering() -> str:
        return "answer"

    assert await coalescer.run("key", answering) == "answer"


async def test_askers_waiting_on_a_resolution_when_it_closes_are_told_it_is_overloaded():
    coalescer: Coalescer[str] = Coalescer()

    async def never() -> str:
        await asyncio.sleep(60)
        return "answer"

    first = asyncio.ensure_future(coalescer.run("key", never))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(coalescer.run("key", never))
    await asyncio.sleep(0)
    await coalescer.close()
    # Before: the waiter found the failed resolution still in flight and awaited it again,
    # forever, without yielding to the loop.
    with pytest.raises(Overloaded):
        await asyncio.wait_for(second, 5)
    first.cancel()


def test_a_ttl_with_its_top_bit_set_is_read_as_zero():
    query = dns.message.make_query("www.example.test.", "A")
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text("www.example.test.", 60, "IN", "A", "192.0.2.1"))
    data = bytearray(response.to_wire())
    ttl_at = data.index(bytes.fromhex("0000003c"))
    data[ttl_at : ttl_at + 4] = (1 << 31).to_bytes(4, "big")
    reply = Reply.parse(bytes(data), Question.of(name("www.example.test."), A, recursion=False))
    assert reply.answer[0].ttl == 0  # RFC 2181 8


def test_the_opt_record_of_a_reply_is_not_read_as_a_name(monkeypatch):
    query = dns.message.make_query("www.example.test.", "A", use_edns=0)
    response = dns.message.make_response(query)
    response.answer.append(dns.rrset.from_text("www.example.test.", 60, "IN", "A", "192.0.2.1"))
    response.set_rcode(dns.rcode.BADVERS)  # in the OPT record's extended bits
    data = response.to_wire()
    question = Question.of(name("www.example.test."), A, recursion=False)
    # The answer's owner is the question's, the OPT's the root: no name to read.
    reply = parsed_reading_no_name(monkeypatch, data, question)
    assert reply.rcode() == dns.rcode.BADVERS
    assert [rdata.address for rdata in reply.answer[0]] == ["192.0.2.1"]
    assert reply.additional == []


def test_a_name_cached_for_the_first_time_has_no_answers_looked_for(monkeypatch):
    cache = Cache()

    def forget(labels) -> int:
        raise AssertionError(f"answers looked for at {labels}")

    monkeypatch.setattr(cache.answers, "forget", forget)
    cache.store_rrset(dns.rrset.from_text("www.example.test.", 60, "IN", "A", "192.0.2.1"))
    soa = soa_rrset()
    cache.store_negative(name("gone.example.test."), A, soa, nxdomain=True)
    cache.store_negative(name("www.example.test."), dns.rdatatype.MX, soa, nxdomain=False)
    assert cache.find(name("www.example.test."), A).answer[0][0].address == "192.0.2.1"
    assert cache.find(name("gone.example.test."), A).kind.name == "NXDOMAIN"
    assert cache.find(name("www.example.test."), dns.rdatatype.MX).kind.name == "NODATA"


def test_an_nxdomain_still_drops_what_was_cached_at_the_name():
    cache = Cache()
    cache.store_rrset(dns.rrset.from_text("www.example.test.", 60, "IN", "A", "192.0.2.1"))
    soa = soa_rrset()
    cache.store_negative(name("www.example.test."), A, soa, nxdomain=True)
    assert cache.find(name("www.example.test."), A).kind.name == "NXDOMAIN"
    assert cache.rrset(name("www.example.test."), A) is None
    # ... and data after it drops the NXDOMAIN.
    cache.store_rrset(dns.rrset.from_text("www.example.test.", 60, "IN", "A", "192.0.2.2"))
    assert cache.find(name("www.example.test."), A).answer[0][0].address == "192.0.2.2"


def test_names_ending_in_the_question_are_taken_from_it_not_read_again(monkeypatch):
    query = dns.message.make_query("Gone.Example.test.", "A")
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.NXDOMAIN)
    response.authority.append(soa_rrset())  # its owner and both names point into the question
    data = response.to_wire()
    question = Question.of(name("Gone.Example.test."), A, recursion=False)
    reply = parsed_reading_no_name(monkeypatch, data, question)
    [soa] = reply.authority
    assert soa.to_text() == dns.message.from_wire(data).authority[0].to_text()
    assert soa.name.labels == (b"Example", b"test", b"")  # spelt as the question spells it


def test_a_name_too_long_through_a_pointer_into_the_question_does_not_parse():
    labels = (b"x" * 63, b"y" * 63, b"z" * 63, b"example", b"")
    question = Question.of(dns.name.Name(labels), A, recursion=False)
    apex = 12 + 3 * 64  # where "example." starts in the question
    mname = bytes([63]) + b"a" * 63 + b"\xc0\x0c"  # 64 bytes, then the question's 201: 265
    rdata = mname + b"\xc0\x0c" + bytes(20)
    record = apex.to_bytes(2, "big") + b"\x00\x06\x00\x01\x00\x00\x00\x3c"
    record = bytes([0xC0 | apex >> 8]) + record[1:] + len(rdata).to_bytes(2, "big") + rdata
    header = b"\x12\x34\x84\x03\x00\x01\x00\x00\x00\x01\x00\x00"
    data = header + question.body[10 : 10 + len(question.section)] + record
    assert question.repeated(data)
    with pytest.raises(dns.name.NameTooLong):
        Reply.parse(data, question)


def test_results_are_kept_by_the_identity_of_their_object_and_emptied_when_full():
    calls: list[dns.name.Name] = []

    def fold(thing: dns.name.Name) -> tuple:
        calls.append(thing)
        return tuple(label.lower() for label in thing.labels)

    folded = by_identity(fold, 2)
    www, again = name("WWW.example.test."), name("WWW.example.test.")
    assert folded(www) == folded(www) == (b"www", b"example", b"test", b"")
    assert calls == [www]
    assert folded(again) == folded(www) and calls == [www, again]  # equal, not the same
    folded(name("other.test."))  # a third object: the two kept before are let go
    folded(www)
    assert calls[-1] is www and len(calls) == 4


def parsed_reading_no_name(monkeypatch, data: bytes, question: Question) -> Reply:
    """Return the reply parsed from data, having checked that no name was read in it."""
    read: list[int] = []
    read_labels = wire.read_labels
    monkeypatch.setattr(
        wire, "read_labels", lambda data, at: read.append(at) or read_labels(data, at)
    )
    reply = Reply.parse(data, question)
    assert read == []
    return reply

"""The cheaper steps of a cache miss (issue 16) give what the steps they replace gave: a
question's name read with its parent's labels kept, a negative answer's SOA read with the
question's labels, names compared by their endings in one slice, the upstream slots taken
and given back without the semaphore's generator, entries new to the cache added without
a look for the old one."""

from __future__ import annotations

import asyncio
import itertools

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from dnsadmin.names import wire
from dnsadmin.names.cache import Cache
from dnsadmin.names.memo import question_end
from dnsadmin.names.render import labels_at
from dnsadmin.names.upstream import Plain, Question, Slots


def query(name: str) -> bytes:
    return dns.message.make_query(name, "A").to_wire()


@pytest.mark.parametrize(
    "names",
    [
        ["a.example.test.", "bb.example.test.", "ccc.Example.TEST.", "d.EXAMPLE.test."],
        ["x.y.example.test.", "example.test.", "z.example.test."],
        [".", "a.", "A.", "b."],
    ],
)
def test_a_question_name_is_read_as_its_labels_are_in_each_case(names):
    wire._parents.clear()
    for text in names * 2:  # the second time, every parent is kept
        data = query(text)
        end = question_end(data)
        name = wire.question_name(data, end)
        assert name.labels == labels_at(data, 12)[0] == dns.name.from_text(text).labels
        assert name == dns.name.from_text(text)


def test_a_question_name_past_255_bytes_is_refused():
    header, longest = b"\0\1\1\0\0\1" + bytes(6), b"\x3f" + b"a" * 63
    fits = header + longest * 3 + b"\x3d" + b"b" * 61 + b"\0" + b"\0\1\0\1"
    assert question_end(fits) == 12 + 255
    assert len(wire.question_name(fits, 12 + 255).labels) == 5
    over = header + longest * 3 + b"\x3e" + b"b" * 62 + b"\0" + b"\0\1\0\1"
    assert question_end(over) == 12 + 256
    assert wire.question_name(over, 12 + 256) is None


LABELS = [(), (b"",), (b"a", b""), (b"b", b""), (b"x", b"a", b""), (b"y", b"a", b"")]


def test_names_share_their_endings_as_counted_label_by_label():
    for name, other in itertools.product([*LABELS, (b"z", b"x", b"a", b"")], repeat=2):
        count = 0
        for mine, theirs in zip(reversed(name), reversed(other), strict=False):
            if mine != theirs:
                break
            count += 1
        assert wire._common(name, other) == count, (name, other)


@pytest.mark.parametrize("compressed", [True, False])
def test_a_negative_answer_reads_its_soa_names_through_the_question_or_written_out(compressed):
    qname = dns.name.from_text("Miss.Wired.test.")
    question = Question.of(qname, dns.rdatatype.A, recursion=True, wired=qname.to_wire())
    response = dns.message.make_response(dns.message.from_wire(b"\0\1" + question.body))
    response.set_rcode(dns.rcode.NXDOMAIN)
    soa = "ns1.wired.test. hostmaster.Wired.test. 1 3600 900 86400 120"
    response.authority.append(dns.rrset.from_text("wired.test.", 600, "IN", "SOA", soa))
    data = response.to_wire() if compressed else _uncompressed(response)
    plain = Plain.read(data, question)
    owner, kept, minimum = plain.soa
    general = dns.message.from_wire(data).authority[0]  # in the case the pointers give
    assert owner == general.name.labels and minimum == 120
    assert kept == dict.fromkeys(general) and next(iter(kept)).to_text() == general[0].to_text()
    assert plain.soa_rrset().to_text() == general.to_text().replace(" 600 ", " 120 ")


def _uncompressed(response: dns.message.Message) -> bytes:
    """Return the response with no name compressed (a server may write them so)."""
    data = response.to_wire(max_size=65535)
    header, question = data[:12], response.question[0]
    body = question.name.to_wire() + (1).to_bytes(2, "big") + (1).to_bytes(2, "big")
    for rrset in response.authority:
        for rdata in rrset:
            rdata_wire = rdata.to_wire()
            body += rrset.name.to_wire() + rrset.rdtype.to_bytes(2, "big")
            body += b"\0\1" + rrset.ttl.to_bytes(4, "big") + len(rdata_wire).to_bytes(2, "big")
            body += rdata_wire
    return header[:6] + b"\0\0\0\1\0\0" + body


async def test_a_slot_freed_by_a_cancelled_waiter_is_taken_and_given_back():
    slots = Slots(1)
    assert slots.take()
    waiting = asyncio.ensure_future(slots.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.sleep(0)
    slots.release()  # no live waiter: the slot is free again
    assert slots.take()
    assert not slots.take()
    slots.release()
    assert slots._value == 1


def test_addresses_stored_again_at_a_name_replace_the_entry_there():
    cache = Cache()
    name = dns.name.from_text("www.example.test.")
    cache.store_wired(name, dns.rdatatype.A, 300, (b"\xc0\0\2\1",))
    once = cache.positive.bytes
    cache.store_wired(name, dns.rdatatype.A, 300, (b"\xc0\0\2\2",))
    cache.store_wired(name, dns.rdatatype.AAAA, 300, (bytes(16),))
    assert len(cache.positive.entries) == 2
    added = cache.positive.entries[(tuple(map(bytes.lower, name.labels)), dns.rdatatype.AAAA)]
    assert cache.positive.bytes == once + added.size
    assert cache.addresses(name, (dns.rdatatype.A,)) == ["192.0.2.2"]


def test_a_name_error_stored_again_replaces_the_one_there():
    cache = Cache()
    name = dns.name.from_text("gone.example.test.")
    soa = dns.rrset.from_text(
        "example.test.", 300, "IN", "SOA", "ns1.example.test. h.example.test. 1 2 3 4 60"
    )
    cache.store_negative(name, dns.rdatatype.A, soa, nxdomain=True)
    once = cache.negative.bytes
    cache.store_negative(name, dns.rdatatype.AAAA, soa, nxdomain=True)
    assert len(cache.negative.entries) == 1 and cache.negative.bytes == once

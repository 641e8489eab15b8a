"""The kept answers' bounds (memo.Budget, memo.Templates) and the answers kept for names that
need not exist, by the rest of their name (Templates.below): byte for byte what the zones
answer, and never for a name that the first label decides otherwise."""

from __future__ import annotations

import random

import dns.message
import dns.rcode

from dnsadmin.names import authority
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.memo import UDP, AnswerMemo, Budget, Memo, Templates, question_end
from dnsadmin.names.zone import zone_from_text
from tests.names.zones import EXAMPLE_COM, authoritative, make_catalog

CLIENT = "192.0.2.1"


def memo(size: int = 100) -> Memo:
    return Memo(b"body", "authority", float("inf"), size=size)


def test_a_full_budget_drops_its_oldest_values_and_keeps_the_newest():
    budget = Budget(640, 1 << 30)
    for i in range(5000):
        budget.put(i, memo())
        assert len(budget.entries) <= 640
    kept = list(budget.entries)
    assert kept == list(range(5000 - len(kept), 5000))  # the newest, in order
    assert len(kept) >= 630  # a 64th of the budget dropped at a time, at most


def test_a_budget_of_bytes_is_never_exceeded():
    budget = Budget(1 << 20, 64_000)
    rng = random.Random(5)
    for i in range(3000):
        budget.put(i, memo(rng.randrange(50, 900)))
        assert budget.bytes <= 64_000
        assert budget.bytes == sum(value.size for value in budget.entries.values())
    assert 2999 in budget.entries


def test_a_value_bigger_than_the_budget_is_not_kept_and_drops_nothing():
    budget = Budget(100, 1000)
    budget.put("small", memo(10))
    budget.put("huge", memo(1001))
    assert list(budget.entries) == ["small"]


def named(*names: tuple[bytes, ...]) -> Memo:
    return Memo(b"body", "authority", float("inf"), names=names, size=100)


def test_a_name_one_value_depends_on_holds_its_key_alone_a_set_only_for_more():
    # (a set each cost every cached name 216 bytes and one more object for the collector)
    a, b = (b"a", b"example"), (b"b", b"example")
    budget = Budget(100, 1 << 20)
    budget.put(("a", 1), named(a))
    budget.put(("a", 1), named(a))  # kept again
    assert budget.by_name == {a: ("a", 1)}
    budget.put(("a", 28), named(a))
    budget.put(("ab", 1), named(a, b))
    assert budget.by_name == {a: {("a", 1), ("a", 28), ("ab", 1)}, b: ("ab", 1)}
    budget.pop(("a", 28))
    budget.pop(("ab", 1))
    assert budget.by_name == {a: ("a", 1)}
    budget.put(("ab", 1), named(a, b))
    assert budget.forget(b) == 1
    assert budget.forget(a) == 1
    assert budget.by_name == {} and budget.entries == {}


def test_the_names_index_follows_every_value_kept_dropped_and_forgotten():
    rng = random.Random(11)
    names = [(bytes([97 + i]), b"example") for i in range(6)]
    budget = Budget(40, 1 << 20)
    for _ in range(20_000):
        key = (rng.randrange(12), rng.randrange(4))
        action = rng.random()
        if action < 0.6:
            budget.put(key, named(*rng.choices(names, k=rng.randrange(1, 4))))  # (repeats too)
        elif action < 0.9:
            budget.pop(key)
        else:
            budget.forget(rng.choice(names))
        expected: dict = {}
        for kept, value in budget.entries.items():
            for labels in value.names:
                expected.setdefault(labels, set()).add(kept)
        assert {
            labels: held if type(held) is set else {held} for labels, held in budget.by_name.items()
        } == expected
        assert all(type(held) is not set or len(held) > 1 for held in budget.by_name.values())


def test_precomputed_bodies_stay_within_their_budget_and_give_way_to_an_answer_put():
    """A precomputed answer is kept as its body (memo.Bodies), counted in bytes and in number
    within a budget of its own; an answer put for the same question replaces it in both."""
    answers = AnswerMemo(64, 12_000, 16, 4_000)
    rng = random.Random(8)
    for i in range(500):
        query = dns.message.make_query(f"h{i}.Example.com.", "A")
        query.id = i
        wire = query.to_wire()
        end = question_end(wire)
        response = wire[:2] + b"\x85\x00" + wire[4:] + bytes(rng.randrange(10, 200))
        answers.put_body(UDP, wire, end, wire[12:end].lower(), response)
        bodies = answers.bodies
        assert len(bodies) <= 64 and bodies.bytes <= 12_000
        assert bodies.bytes == sum(
            len(body) + len(question) + 200 for _, question, body in bodies.order
        )
        assert len(answers) == len(bodies)
    assert answers.get(UDP, wire, float) == (response, "authority")
    answers.put(UDP, wire, response[:-1] + b"!", "authority", end=end)
    assert answers.get(UDP, wire, float)[0].endswith(b"!")
    assert len(answers) == len(bodies)  # the body out of the index, in the count till its turn
    assert len(answers.positive.entries) + len(answers.negative.entries) == 1
    for i in range(64):  # its turn comes: it goes, and nothing else with it
        query = dns.message.make_query(f"g{i}.example.com.", "A").to_wire()
        end = question_end(query)
        answers.put_body(UDP, query, end, query[12:end], query[:2] + b"\x85\x00" + query[4:])
    assert answers.get(UDP, wire, float)[0].endswith(b"!")
    assert len(answers) == len(bodies) + 1 and bodies.bytes == sum(
        len(body) + len(question) + 200 for _, question, body in bodies.order
    )
    answers.clear()
    assert (len(answers), answers.bytes) == (0, 0)


def test_templates_stay_within_their_bound():
    catalog = make_catalog()
    templates = Templates(max_entries=128)
    zone = catalog.by_wire[b"\x07example\x03com\x00"]
    for length in range(1, 60):  # one template per question length
        for rdtype in ("A", "AAAA", "TXT", "MX"):
            query = wire("x" * length + ".example.com.", rdtype)
            end = 12 + length + 14
            response = authority.answer(query, catalog)
            assert templates.put(0, query, end, ((zone, b"", ()), length + 1), response)
            assert len(templates.entries) <= 128 and len(templates.below) <= 128


def wire(name: str, rdtype: str, qid: int = 1) -> bytes:
    query = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
    query.id = qid
    return query.to_wire()


def first_then_kept(chain, catalog, first: str, other: str, rdtype: str = "A") -> bytes | None:
    """Work the answer to first out, then return the one kept for other (None if none is),
    checked byte for byte against what the zones answer."""
    chain.resolve(wire(first, rdtype), tcp=False, client=CLIENT)
    query = wire(other, rdtype, 77)
    found = chain.at_once(query, CLIENT)
    if found is not None:
        assert found[0] == authority.answer(query, catalog), other
    return None if found is None else found[0]


def test_a_name_error_is_kept_for_every_name_that_differs_in_its_first_label():
    catalog = make_catalog()
    chain = authoritative(catalog)
    assert first_then_kept(chain, catalog, "qqq.example.com.", "Rz9.ExAmple.COM.") is not None
    assert first_then_kept(chain, catalog, "q.b.c.example.com.", "Z.B.c.example.com.")
    assert chain.memory()["templates_below"] == 2
    assert chain.memory()["answers"] == 0  # nothing kept by name


ZZZ = """$TTL 300
@ IN SOA ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 300
@ IN NS ns1.example.com.
@ IN A 192.0.2.77
"""


def test_names_that_exist_or_start_another_zone_are_not_answered_as_a_name_error():
    catalog = make_catalog()
    catalog.replace(zone_from_text(ZZZ, "zzz.example.com."))
    chain = authoritative(catalog)
    for other, rdtype in (("www", "A"), ("www", "MX"), ("sub", "NS"), ("zzz", "SOA")):
        chain.resolve(wire("qqq.example.com.", rdtype), tcp=False, client=CLIENT)
        kept = chain.templates.below_name(
            0, wire(f"{other}.example.com.", rdtype), 12 + 17, f"\3{other}\7example\3com\0".encode(),
            catalog.by_wire,
        )  # fmt: skip
        assert kept is None, other
    for other in ("www", "zzz"):
        query = wire(f"{other}.example.com.", "A", 5)
        found = chain.at_once(query, CLIENT)
        if type(found) is not tuple:  # (an int: a miss outside our zones, for resolve())
            found = chain.resolve(query, tcp=False, client=CLIENT, outside=found)
        assert dns.message.from_wire(found[0]).rcode() == dns.rcode.NOERROR, other


def test_wildcard_answers_and_referrals_are_kept_by_name_once_they_come_back():
    catalog = make_catalog()
    chain = authoritative(catalog)
    for first, other in (("abcd.wild", "EfGh.wild"), ("abcd.sub", "wxyz.SUB")):
        for _ in range(2):  # from the template, then by name
            assert first_then_kept(chain, catalog, f"{first}.example.com.", f"{other}.example.com.")
    assert chain.memory()["answers"] == 2
    assert chain.memory()["templates_below"] == 0


def test_a_flood_asked_twice_keeps_nothing_and_pushes_no_answer_out():
    catalog = ZoneCatalog([zone_from_text(EXAMPLE_COM, "example.com.")])
    chain = authoritative(catalog)
    for name in ("www", "mail", "ns1", "0123456789"):  # the last one a name error
        chain.resolve(wire(f"{name}.example.com.", "A"), tcp=False, client=CLIENT)
    before = chain.memory()
    rng = random.Random(11)
    names = [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=10)) for _ in range(3000)
    ]
    for _ in range(2):
        for i, name in enumerate(names):
            query = wire(f"{name}.example.com.", "A", i)
            assert chain.at_once(query, CLIENT) is not None
    assert chain.memory() == before
    assert not chain._seen  # no question remembered either

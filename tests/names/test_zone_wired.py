"""Answers a zone precomputes when it is built (Zone.wired, as Knot does at load): byte for
byte what the zone answers, for exactly the questions they answer, kept in line by a patch,
bounded and reported, and answering questions in any case without keeping them by name."""

from __future__ import annotations

import random

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.zone
import pytest

from dnsadmin.names import authority, signer
from dnsadmin.names import zone as zone_module
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import ChainConfig, ResolverChain
from dnsadmin.names.memo import question_end
from dnsadmin.names.zone import WIRED_MAX, build_zone, patch_zone, zone_from_text
from tests.names.test_zone import record
from tests.names.validators import KeySet, policy
from tests.names.zones import EXAMPLE_COM, authoritative, make_catalog

CLIENT = "127.0.0.1"
TYPES = ("A", "AAAA", "TXT", "MX", "NS", "SOA", "SRV", "CNAME", "DS", "HINFO", "ANY")


def wire(name: str, rdtype: str, qid: int = 9, **kw) -> bytes:
    query = dns.message.make_query(name, rdtype, **kw)
    query.id = qid
    return query.to_wire()


def shaken(name: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c for c in name)


def wired(query: bytes, catalog: ZoneCatalog) -> bytes | None:
    end = question_end(query)
    name = query[12:end].lower()
    zone = authority.zone_of(name, catalog.by_wire)
    return None if zone is None else authority.wired_answer(query, end, name, zone, 0)


def owned(query: bytes, catalog: ZoneCatalog) -> bytes | None:
    """The answer owned_answer writes (the one-RRset answers the zones write directly)."""
    end = question_end(query)
    located = authority.locate(query, end, catalog)
    return located and authority.owned_answer(query, end, located)


def zone_names(text: str) -> list[str]:
    zone = dns.zone.from_text(text, "example.com.", relativize=False)
    names = {name.to_text() for name in zone.nodes}
    return sorted(names | {"nothere.example.com.", "x.sub.example.com.", "b.c.example.com."})


def test_every_question_a_precomputed_answer_answers_is_answered_byte_for_byte():
    catalog = make_catalog()
    rng = random.Random(7)
    answered = 0
    for name in zone_names(EXAMPLE_COM):
        for rdtype in TYPES:
            for options in ({}, {"use_edns": 0, "payload": 1232}, {"want_dnssec": True}):
                query = wire(shaken(name, rng), rdtype, **options)
                found = wired(query, catalog)
                # Exactly the questions owned_answer writes an answer for (but the big
                # RRset's, over WIRED_MAX), the same bytes.
                expected = None if name.startswith("big.") else owned(query, catalog)
                assert found == expected, (name, rdtype, options)
                if found is not None:
                    assert found == authority.answer(query, catalog)
                    answered += 1
    assert answered >= 12  # www A/AAAA/TXT, ns1 A, mail A, the glue-free addresses...


def test_names_behind_a_cut_beside_a_cname_or_with_big_rrsets_are_not_precomputed():
    zone = make_catalog().by_wire[b"\x07example\x03com\x00"]
    keys = {key[:-4] for key in zone.wired}
    origin = b"\x07example\x03com\x00"
    assert {b"\x03www" + origin, b"\x01a\x01b\x01c" + origin} <= keys  # deeper names too
    for name in (b"\x02ns\x03sub", b"\x03one", b"\x03big", b"\x03sub", b"\x02dn"):
        assert name + origin not in keys, name
    assert all(len(answer) <= WIRED_MAX for _, answer in zone.wired.values())
    # The big RRset is answered all the same, the long way.
    catalog = make_catalog()
    query = wire("big.example.com.", "A", use_edns=0, payload=1232)
    assert wired(query, catalog) is None
    assert len(dns.message.from_wire(authority.answer(query, catalog)).answer[0]) == 60


ROWS = [
    record("@", "SOA", "ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 300"),
    record("@", "NS", "ns1.example.com."),
    record("ns1", "A", "192.0.2.1"),
    record("www", "A", "192.0.2.10"),
    record("www", "AAAA", "2001:db8::10"),
    record("gone", "TXT", '"bye"'),
    record("a.b", "A", "192.0.2.5"),
]


@pytest.mark.parametrize("merged_past", [4096, 1])
def test_a_patched_zone_precomputes_what_a_zone_built_from_its_rows_does(monkeypatch, merged_past):
    # Changes kept beside the answers shared with the zone patched, or merged into a copy.
    monkeypatch.setattr(zone_module, "WIRED_CHANGES", merged_past)
    zone = build_zone("example.com.", ROWS)
    first = zone.wired
    changes = [
        # An address changed, a name added, one removed, an alias where data was.
        ([("www", 1)], [record("www", "A", "192.0.2.11")]),
        ([("new", 16)], [record("new", "TXT", '"fresh"')]),
        ([("gone", 16)], []),
        ([("www", 1), ("www", 28)], [record("www", "CNAME", "ns1.example.com.")]),
        # A delegation made: names below it answer no more (every answer worked out again).
        ([("b", 2)], [record("b", "NS", "ns1.example.com.")]),
    ]
    rows = list(ROWS)
    for serial, (changed, added) in enumerate(changes, start=2):
        zone = patch_zone(zone, changed, added, serial=serial)
        dropped = {(owner, rdtype) for owner, rdtype in changed}
        rows = [row for row in rows if (row[0], row[2]) not in dropped] + added
        rebuilt = build_zone("example.com.", rows, serial=serial)
        assert zone.precomputed() == rebuilt.wired, changed
    assert not any(key.startswith(b"\x01a\x01b") for key in zone.precomputed())
    # The delegation made the zone work its answers out again, the changes before it
    # were shared or merged.
    assert zone.wired is not first and not zone.wired_changes


def test_a_patch_shares_the_precomputed_answers_it_does_not_change():
    zone = build_zone("example.com.", ROWS)
    patched = patch_zone(zone, [("www", 1)], [record("www", "A", "192.0.2.11")], serial=2)
    assert patched.wired is zone.wired  # no copy of them all for one change
    query = wire("WWW.example.com.", "A")
    catalog = ZoneCatalog([patched])
    assert wired(query, catalog) == authority.answer(query, catalog)
    assert dns.message.from_wire(wired(query, catalog)).answer[0][0].address == "192.0.2.11"


def test_a_question_in_another_case_is_answered_without_being_kept_by_name():
    catalog = make_catalog()
    chain = authoritative(catalog)
    chain.resolve(wire("www.example.com.", "A"), tcp=False, client=CLIENT)  # the client known
    before = chain.memory()["answers"]
    for qid, name in enumerate(("WwW.ExAmple.COM.", "wWw.example.COM.", "MAIL.example.com.")):
        query = wire(name, "A", qid, use_edns=0)
        found = chain.at_once(query, CLIENT)
        assert found == (authority.answer(query, catalog), "authority")
        assert found[0][12 : question_end(query)] == query[12 : question_end(query)]
    assert chain.memory()["answers"] == before  # nothing kept: precomputed already
    chain.at_once(wire("mail.example.com.", "A"), CLIENT)  # lowercase: kept, one lookup then
    assert chain.memory()["answers"] == before + 1


def test_a_client_that_may_recurse_gets_the_same_answer_with_ra_set():
    catalog = make_catalog()
    chain = ResolverChain(catalog, ChainConfig(allow_recursion=(f"{CLIENT}/32",)))
    chain.resolve(wire("www.example.com.", "A"), tcp=False, client=CLIENT)
    query = wire("wWw.example.com.", "AAAA", 3)
    found = chain.at_once(query, CLIENT)
    assert found is not None and found[1] == "authority"
    assert found[0] == chain.resolve(query, tcp=False, client=CLIENT)[0]
    assert dns.message.from_wire(found[0]).flags & dns.flags.RA


def test_an_expired_zone_is_not_answered_from_its_precomputed_answers():
    catalog = make_catalog()
    zone = catalog.by_wire[b"\x07example\x03com\x00"]
    query = wire("www.example.com.", "A")
    assert wired(query, catalog) is not None
    zone.expired = True
    assert wired(query, catalog) is None
    assert dns.message.from_wire(authority.answer(query, catalog)).rcode() == dns.rcode.SERVFAIL


def test_a_signed_zone_lets_its_precomputed_answers_go():
    zone = zone_from_text(EXAMPLE_COM, "example.com.")
    assert zone.wired and zone.wired_bytes() > 0
    signer.sign_zone(zone, KeySet.new().keys, policy())
    assert zone.dnssec is not None
    assert not zone.wired and not zone.wired_changes and zone.wired_bytes() == 0
    query = wire("www.example.com.", "A")
    assert wired(query, ZoneCatalog([zone])) is None


def test_the_precomputed_answers_are_reported_and_bounded_by_the_zone():
    catalog = ZoneCatalog([zone_from_text(EXAMPLE_COM, "example.com.")])
    memory = authoritative(catalog).memory()
    zone = catalog.by_wire[b"\x07example\x03com\x00"]
    assert memory["precomputed"] == len(zone.wired) > 0
    assert memory["precomputed_bytes"] == zone.wired_bytes()
    rrsets = sum(1 for _ in zone.rrsets())
    assert memory["precomputed"] < rrsets  # at most one an RRset
    assert memory["precomputed_bytes"] <= memory["precomputed"] * (WIRED_MAX + 440)
    names = {key[:-4] for key in zone.wired}
    assert all(dns.name.from_wire(name, 0)[0].is_subdomain(zone.origin) for name in names)
    assert {int.from_bytes(key[-4:-2], "big") for key in zone.wired} <= {
        dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.TXT,
    }  # fmt: skip


def test_only_plain_standard_queries_are_answered_from_the_precomputed_answers():
    catalog = make_catalog()
    notify = dns.message.make_query("www.example.com.", "A")
    notify.set_opcode(dns.opcode.NOTIFY)
    cookie = dns.message.make_query(
        "www.example.com.", "A", use_edns=0, options=[dns.edns.GenericOption(10, b"8bytes!!")]
    )
    signed = dns.message.make_query("www.example.com.", "A")
    signed.use_tsig(dns.tsigkeyring.from_text({"k.": "c2VjcmV0c2VjcmV0"}), "k.")
    newer = dns.message.make_query("www.example.com.", "A", use_edns=1)
    for query in (notify, cookie, signed, newer):
        assert wired(query.to_wire(), catalog) is None, query
    chain = authoritative(catalog)
    chain.resolve(wire("www.example.com.", "A"), tcp=False, client=CLIENT)
    for query in (notify, signed, newer):
        found = chain.at_once(query.to_wire(), CLIENT)
        assert found is None or dns.message.from_wire(found[0]).rcode() != dns.rcode.NOERROR

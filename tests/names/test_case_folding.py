"""Kept answers whatever the case of the question ("0x20"), and answers kept by what decides
them (memo.Templates): the question is echoed byte for byte as the client wrote it, compression
still points at it, and a flood of unique names keeps nothing per name."""

from __future__ import annotations

import itertools
import random

import dns.message
import dns.name
import dns.rdatatype

from dnsadmin.names import authority, memo
from dnsadmin.names import chain as chain_module
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import AUTHORITATIVE, ResolverChain
from dnsadmin.names.zone import zone_from_text
from tests.names.test_differential import NAMES, TYPES, absolute
from tests.names.zones import EXAMPLE_COM, authoritative, make_catalog, rrsets_of

CLIENT = "192.0.2.1"
QUESTIONS = [
    ("www.example.com.", "A"),
    ("www.example.com.", "MX"),  # no data
    ("one.example.com.", "A"),  # a CNAME chain
    ("x.wild.example.com.", "TXT"),  # a wildcard
    ("nothere.example.com.", "A"),  # a name error
    ("x.b.c.example.com.", "A"),  # a name error below an empty non-terminal
    ("host.sub.example.com.", "A"),  # a referral from above
    ("_sip._udp.example.com.", "SRV"),
    ("mxsub.example.com.", "MX"),
    ("x.dn.example.com.", "A"),  # a DNAME substitution
]


def in_case(name: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)


def wire(name: str, rdtype: str, qid: int = 1) -> bytes:
    query = dns.message.make_query(name, rdtype, use_edns=0, payload=1232)
    query.id = qid
    return query.to_wire()


def worked_out(chain, query: bytes) -> bytes:
    return chain.resolve(query, tcp=False, client=CLIENT)[0]


def reference(catalog: ZoneCatalog, query: bytes) -> bytes:
    """Return the answer worked out from the zones, nothing kept."""
    return authority.answer(query, catalog)


def kept(chain, query: bytes) -> bytes | None:
    found = chain.at_once(query, CLIENT)
    return None if found is None else found[0]


def same_answer(one: bytes, other: bytes) -> bool:
    a, b = dns.message.from_wire(one), dns.message.from_wire(other)
    return (a.rcode(), a.flags, rrsets_of(a.answer), rrsets_of(a.authority)) == (
        b.rcode(), b.flags, rrsets_of(b.answer), rrsets_of(b.authority),
    )  # fmt: skip


def test_a_question_in_any_case_gets_the_answer_kept_and_its_own_case_back():
    rng = random.Random(7)
    catalog = make_catalog()
    chain = authoritative(catalog)
    for name, rdtype in QUESTIONS:
        for _ in range(2):  # a name error may be kept at the second sight only
            worked_out(chain, wire(name, rdtype))
        for qid in range(2, 6):
            query = wire(in_case(name, rng), rdtype, qid)
            response = kept(chain, query)
            assert response is not None, f"{name}/{rdtype} was not kept"
            end = memo.question_end(query)
            assert response[:2] == query[:2]
            assert response[12:end] == query[12:end]  # byte for byte, case included
            assert same_answer(response, reference(catalog, query))


def test_answers_owned_by_the_question_point_at_it_in_the_clients_case():
    chain = authoritative(make_catalog())
    worked_out(chain, wire("www.example.com.", "A"))
    response = kept(chain, wire("WwW.ExAmple.COM.", "A"))
    end = memo.question_end(wire("WwW.ExAmple.COM.", "A"))
    assert response[end + 4 : end + 6] == b"\xc0\x0c"  # the answer's owner is the question
    parsed = dns.message.from_wire(response)
    assert parsed.answer[0].name.to_text() == "WwW.ExAmple.COM."


def test_a_dname_substitution_is_answered_right_in_any_case():
    # The CNAME made copies the question's labels in the client's case: an answer to the
    # question in lowercase, asked first, is no answer to it in another case.
    catalog = make_catalog()
    chain = authoritative(catalog)
    for name in ("a.b.dn.example.com.", "a.b.dn.example.com.", "A.b.Dn.example.com.",
                 "a.B.DN.EXAMPLE.COM.", "A.B.dn.example.com.", "a.b.dn.example.com."):  # fmt: skip
        query = wire(name, "A")
        response = kept(chain, query) or worked_out(chain, query)
        cname = dns.message.from_wire(response).answer[1]
        assert cname.rdtype == dns.rdatatype.CNAME
        assert cname[0].target.to_text().startswith(name[:4] + "c.")  # the case too
        assert response == reference(catalog, query)
    # Kept all the same, for the very question (a resolver's, in lowercase) to come back.
    assert kept(chain, wire("a.b.dn.example.com.", "A")) is not None


def test_a_flood_of_unique_names_is_answered_without_keeping_anything_per_name():
    catalog = make_catalog()
    chain = authoritative(catalog)
    worked_out(chain, wire("warmup000.example.com.", "A"))
    before = chain.memory()
    rng = random.Random(3)
    for qid in range(2000):
        name = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=9)) + ".example.com."
        query = wire(in_case(name, rng), "A", qid)
        response = kept(chain, query)
        assert response is not None  # the name error of every name of that length
        assert same_answer(response, reference(catalog, query))
    assert chain.memory() == before
    assert before["templates"] == before["templates_below"] == 1 and before["answers"] == 0
    # A name that comes back is answered the same way: kept by name, a flood sent twice
    # would push out the answers that repeat.
    assert same_answer(kept(chain, query), reference(catalog, query))
    assert chain.memory() == before


def test_an_answer_that_depends_on_the_name_is_not_used_for_other_names():
    # The SOA names a server that does not exist: asking for that name compresses the SOA's
    # MNAME into the question, which another name of the same length must not inherit.
    text = """
$TTL 300
@ IN SOA ns0 hostmaster 1 7200 900 1209600 300
@ IN NS ns1.example.net.
www IN A 192.0.2.1
"""
    chain = authoritative(ZoneCatalog([zone_from_text(text, "example.org.")]))
    worked_out(chain, wire("ns0.example.org.", "A"))
    query = wire("abc.example.org.", "A", 9)
    response = kept(chain, query) or worked_out(chain, query)
    (soa,) = dns.message.from_wire(response).authority
    assert soa[0].mname == dns.name.from_text("ns0.example.org.")


def test_a_zone_change_drops_the_answers_kept_by_what_decides_them():
    catalog = make_catalog()
    chain = authoritative(catalog)
    worked_out(chain, wire("nothere.example.com.", "A"))
    assert kept(chain, wire("nowhere.example.com.", "A")) is not None
    catalog.replace(zone_from_text(EXAMPLE_COM + "nowhere IN A 192.0.2.7\n", "example.com."))
    query = wire("nowhere.example.com.", "A", 5)
    assert kept(chain, query) is None
    assert dns.message.from_wire(worked_out(chain, query)).answer[0][0].address == "192.0.2.7"


def test_a_first_answer_written_straight_from_the_zone_is_the_one_worked_out():
    # Among the questions: CNAMEs to a host of the zone (two), out of our zones (ext), to
    # another zone of ours (cross) and a chain of two (one -> two -> www), CNAMEs looping
    # (loop1), an SRV and an MX whose targets' addresses go in the additional section (in the
    # zone, or below a cut: none), the apex's NS with its glue, big answers that do not fit
    # in 600 bytes or without EDNS; each in lowercase and in random case, with DO set too.
    catalog = make_catalog()
    rng = random.Random(16)
    names = NAMES + ["loop1", "crossnx"]
    written = {"owned": 0, "data": 0}
    for name, rdtype in itertools.product(names, TYPES):
        for options in (
            {}, {"use_edns": 0, "payload": 1232}, {"use_edns": 0, "payload": 600},
            {"want_dnssec": True},
        ):  # fmt: skip
            for qname in (absolute(name), in_case(absolute(name), rng)):
                query = dns.message.make_query(qname, rdtype, **options).to_wire()
                end = memo.question_end(query)
                located = authority.locate(query, end, catalog)
                if not located:
                    continue
                reference = authority.answer(query, catalog)
                owned = authority.owned_answer(query, end, located)
                data = authority.data_answer(query, end, located, catalog)
                assert owned in (None, reference), f"{qname}/{rdtype} {options}"
                assert data in (None, reference), f"{qname}/{rdtype} {options}"
                written["owned"] += owned is not None
                written["data"] += data is not None
    assert written["owned"] > 40 and written["data"] > 200


def test_the_answers_written_straight_from_the_zone_cover_srv_mx_ns_and_aliases():
    catalog = make_catalog()
    covered = {
        ("_sip._udp", "SRV"): 3,  # the SRV record, www's A and AAAA in the additional section
        ("example.com.", "NS"): 3,  # the apex's two NS, ns1's address (ns2 is elsewhere)
        ("example.com.", "MX"): 2,  # the MX, mail's address
        ("mxsub", "MX"): 1,  # its target is below a zone cut: no address given
        ("ext", "A"): 1,  # the CNAME alone: its target is outside our zones
        ("two", "MX"): 1,  # www has no MX: answer() says NODATA, with the SOA
        ("example.com.", "SOA"): 1,
    }
    for (name, rdtype), records in covered.items():
        query = wire(in_case(absolute(name), random.Random(name)), rdtype)
        end = memo.question_end(query)
        located = authority.locate(query, end, catalog)
        written = authority.data_answer(query, end, located, catalog)
        if rdtype == "MX" and name == "two":
            assert written is None
            continue
        assert written == authority.answer(query, catalog), name
        parsed = dns.message.from_wire(written)
        assert sum(len(rrset) for rrset in parsed.answer + parsed.additional) == records, name
    for name, rdtype in [("one", "A"), ("cross", "A"), ("intosub", "A"), ("x.dn", "A")]:
        query = wire(absolute(name), rdtype)
        end = memo.question_end(query)
        located = authority.locate(query, end, catalog)
        assert authority.data_answer(query, end, located, catalog) is None, name


def test_answers_worked_out_in_full_at_once_are_bounded_each_second(monkeypatch):
    monkeypatch.setattr(chain_module, "WORKED_OUT_PER_SECOND", 3)
    now = [100.0]
    chain = ResolverChain(make_catalog(), AUTHORITATIVE, clock=lambda: now[0])
    chain.allows_recursion(CLIENT)
    # A CNAME chain, aliases into another zone of ours or into a delegation, and a DNAME
    # substitution are worked out in full: three this second, then the server's backlog.
    questions = [("one", "A"), ("cross", "A"), ("intosub", "A"), ("x.dn", "A")]
    found = [kept(chain, wire(f"{name}.example.com.", rdtype)) for name, rdtype in questions]
    assert [response is not None for response in found] == [True, True, True, False]
    now[0] += 1
    assert kept(chain, wire("x.dn.example.com.", "A")) is not None


ALIASES = """$TTL 300
@ IN SOA ns1 hostmaster 1 7200 900 1209600 300
@ IN NS ns1
@ IN A 192.0.2.9
ns1 IN A 192.0.2.1
a IN CNAME b
b IN A 192.0.2.2
c.d IN CNAME B
e IN CNAME x.y.deep
x.y.deep IN A 192.0.2.3
f.g IN CNAME g
g IN A 192.0.2.4
h IN CNAME @
i.j.k IN CNAME j.k
j.k IN A 192.0.2.5
Ex IN CNAME eX.Sub2
ex.sub2 IN A 192.0.2.6
"""


def test_an_alias_in_the_zone_is_written_as_worked_out_wherever_its_target_lies():
    # Targets beside the name, above it, below it, at the apex, one of the question's own
    # endings, spelled in another case: each compresses against the question differently.
    names = ("a", "c.d", "e", "f.g", "h", "i.j.k", "ex")
    assert_written_as_worked_out(ALIASES, names, "A", 1232, random.Random(7))


def assert_written_as_worked_out(text: str, names, rdtype: str, payload: int, rng) -> None:
    """Check that data_answer writes, for each name in random case, without EDNS, with a
    payload, and with DO, the bytes answer() works out."""
    catalog = ZoneCatalog([zone_from_text(text, "test.example.")])
    for name in names:
        for options in ({}, {"use_edns": 0, "payload": payload}, {"want_dnssec": True}):
            qname = in_case(f"{name}.test.example.", rng)
            query = dns.message.make_query(qname, rdtype, **options)
            query.id = rng.getrandbits(16)
            query = query.to_wire()
            end = memo.question_end(query)
            located = authority.locate(query, end, catalog)
            written = authority.data_answer(query, end, located, catalog)
            assert written is not None, qname
            assert written == authority.answer(query, catalog), f"{qname} {options}"


SERVICES = """$TTL 300
@ IN SOA ns1 hostmaster 1 7200 900 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.1
_a._tcp IN SRV 0 5 80 Host
host IN A 192.0.2.2
host IN AAAA 2001:db8::2
_b._tcp.host IN SRV 0 5 80 host
_b._tcp.host IN SRV 1 5 81 host
_c._tcp IN SRV 0 5 80 deep.er.host
deep.er.host IN AAAA 2001:db8::3
_d._tcp IN SRV 0 5 80 @
@ IN A 192.0.2.9
_f._tcp IN SRV 0 5 80 many
"""
SERVICES += "".join(f"many IN A 10.0.0.{i}\nmany IN AAAA 2001:db8::{i:x}\n" for i in range(30))


def test_an_srv_answer_is_written_as_worked_out_with_its_targets_addresses():
    # A target beside the name, one of the question's endings, below it, the apex; addresses
    # that fit in part only (the A records in 600 bytes, not the AAAA: left out, no TC).
    names = ("_a._tcp", "_b._tcp.host", "_c._tcp", "_d._tcp", "_f._tcp")
    assert_written_as_worked_out(SERVICES, names, "SRV", 600, random.Random(8))


MAIL = """$TTL 300
@ IN SOA ns1 hostmaster 1 7200 900 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.1
@ IN A 192.0.2.9
a IN MX 10 Host
host IN A 192.0.2.2
host IN AAAA 2001:db8::2
b.host IN MX 20 HOST
c IN MX 30 deep.er.host
deep.er.host IN AAAA 2001:db8::3
d IN MX 40 @
e IN MX 50 e
e IN A 192.0.2.5
f IN MX 60 many
"""
MAIL += "".join(f"many IN A 10.0.0.{i}\nmany IN AAAA 2001:db8::{i:x}\n" for i in range(30))


def test_an_mx_answer_is_written_as_worked_out_with_its_exchanges_addresses():
    # An exchange beside the name, one of the question's endings (in another case), below it,
    # the apex, the name itself; addresses that fit in part only (in 600 bytes).
    names = ("a", "b.host", "c", "d", "e", "f")
    assert_written_as_worked_out(MAIL, names, "MX", 600, random.Random(9))

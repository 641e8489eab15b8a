"""The cheap ways of the answers no kept question holds (issue 16): a name error right below a
zone's origin told by the zone from a kept one (``Templates.below_origin``), and a precomputed
answer kept case-folded once asked in any case (``AnswerMemo.put_body``): byte for byte
what the authority writes, the client's case echoed, and within the memo's budget."""

from __future__ import annotations

import random

import dns.message
import dns.rcode
import pytest

from dnsadmin.names import authority
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import AUTHORITATIVE, ChainConfig, ResolverChain
from dnsadmin.names.memo import UDP, question_end
from dnsadmin.names.zone import zone_from_text

CLIENT = "127.0.0.1"
ZONE = """$TTL 300
@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.1
host IN A 192.0.2.10
empty.host IN TXT "below"
alias IN CNAME host
sub IN NS ns1.sub
ns1.sub IN A 192.0.2.53
*.wild IN A 192.0.2.99
"""


def wire(name: str, rdtype: str = "A", qid: int = 9, **kw) -> bytes:
    query = dns.message.make_query(name, rdtype, **kw)
    query.id = qid
    return query.to_wire()


def shaken(name: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c for c in name)


def catalog_of(text: str = ZONE) -> ZoneCatalog:
    return ZoneCatalog([zone_from_text(text, "example.org.")])


def answered(chain: ResolverChain, query: bytes) -> bytes:
    """Return the chain's UDP answer to query the way the server gets it."""
    found = chain.at_once(query, CLIENT)
    if type(found) is not tuple:  # (an int: a miss outside our zones, for resolve())
        found = chain.resolve(query, tcp=False, client=CLIENT, outside=found)
    return found[0]


@pytest.fixture
def chain() -> ResolverChain:
    catalog = catalog_of()
    chain = ResolverChain(catalog, AUTHORITATIVE)
    chain.resolve(wire("host.example.org."), tcp=False, client=CLIENT)  # the client known
    return chain


def test_random_names_below_the_origin_get_the_kept_name_error_in_their_case(chain):
    rng = random.Random(7)
    first = wire("kq3v9x.example.org.")
    assert dns.message.from_wire(answered(chain, first)).rcode() == dns.rcode.NXDOMAIN
    for qid in range(40):
        label = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=6))
        query = wire(shaken(f"{label}.Example.ORG.", rng), qid=qid)
        response = chain.templates.below_origin(
            UDP, query, question_end(query), query[12 : question_end(query)].lower(),
            chain.catalog.by_wire[b"\x07example\x03org\x00"],
        )  # fmt: skip
        assert response == authority.answer(query, chain.catalog)
        assert response[12 : question_end(query)] == query[12 : question_end(query)]
        assert chain.at_once(query, CLIENT) == (response, "authority")
    assert chain.memory()["answers"] == 1  # the one kept for the client's first question


@pytest.mark.parametrize(
    "name, rdtype",
    [
        ("host.example.org.", "AAAA"),  # no data at a name that exists
        ("HOST.example.org.", "MX"),
        ("ns1.example.org.", "A"),  # data
        ("sub.example.org.", "A"),  # a zone cut
        ("wild.example.org.", "A"),  # an empty non-terminal above a wildcard
        ("alias.example.org.", "A"),  # a CNAME
    ],
)
def test_names_that_exist_are_not_taken_for_name_errors(chain, name, rdtype):
    zone = chain.catalog.by_wire[b"\x07example\x03org\x00"]
    length = len(name.split(".")[0])
    answered(chain, wire("z" * length + ".example.org.", rdtype))  # a name error kept
    for asked, error in ((name, False), ("y" * length + ".example.org.", True)):
        query = wire(asked, rdtype, qid=3)
        end = question_end(query)
        found = chain.templates.below_origin(UDP, query, end, query[12:end].lower(), zone)
        assert (found is not None) is error
        assert answered(chain, query) == authority.answer(query, chain.catalog)


def test_the_zone_tells_a_name_error_below_its_origin_as_its_decider_does():
    zones = {
        "plain": ZONE,
        "wildcard at the origin": ZONE + "* IN TXT any\n",
        "DNAME at the origin": ZONE.replace("alias IN CNAME host", "@ IN DNAME example.net."),
    }
    for text in zones.values():
        zone = next(iter(catalog_of(text).by_wire.values()))
        for label in (b"host", b"nothing", b"sub", b"wild", b"*", b"alias", b"ns1"):
            error = zone.decider((label,), 1) == (b"", ())
            assert zone.name_error_below_origin(label) is error, (text, label)


def test_a_wildcard_at_the_origin_answers_random_names_byte_for_byte():
    catalog = catalog_of(ZONE + "* IN A 192.0.2.7\n")
    chain = ResolverChain(catalog, AUTHORITATIVE)
    rng = random.Random(3)
    for qid in range(10):
        query = wire(shaken(f"r{qid}xyz.example.org.", rng), qid=qid)
        assert answered(chain, query) == authority.answer(query, catalog)


def test_precomputed_answers_are_kept_case_folded_and_echo_each_case():
    catalog = catalog_of()
    chain = ResolverChain(catalog, ChainConfig(allow_recursion=(f"{CLIENT}/32",)))
    chain.resolve(wire("host.example.org."), tcp=False, client=CLIENT)
    rng = random.Random(11)
    for qid in range(30):
        for name, rdtype in (("host.example.org.", "A"), ("alias.example.org.", "A")):
            query = wire(shaken(name, rng), rdtype, qid=qid, use_edns=0)
            response = answered(chain, query)
            # The authority's answer, RA set for a client that may recurse.
            expected = bytearray(authority.answer(query, catalog))
            expected[3] |= 0x80
            assert response == bytes(expected)
    # One each, whatever the case (and the first, without EDNS: another question).
    assert chain.memory()["answers"] == 3


def test_precomputed_answers_kept_stay_within_the_memo_budget():
    lines = [ZONE] + [f"h{i} IN A 10.0.{i >> 8}.{i & 255}" for i in range(400)]
    catalog = catalog_of("\n".join(lines) + "\n")
    chain = ResolverChain(catalog, ChainConfig(recursion=False, memo_entries=128))
    rng = random.Random(5)
    for i in range(400):
        query = wire(shaken(f"h{i}.example.org.", rng), qid=i)
        assert answered(chain, query) == authority.answer(query, catalog)
    assert 0 < chain.memory()["answers"] <= 128


@pytest.mark.parametrize("rdtype", ["A", "TXT"])
def test_a_name_error_whose_name_a_kept_one_wrote_in_part_is_written_as_for_itself(rdtype):
    """A kept name error writes the SOA's RNAME (hostmaster, no name of the zone) as its own
    label and a pointer to the zone's origin in the question; asked for hostmaster itself (a
    name as long: kept answers are by the question's length), the whole RNAME points at the
    question, in the client's case, as BIND writes it."""
    catalog = catalog_of()
    chain = ResolverChain(catalog, AUTHORITATIVE)
    for qid, name in enumerate(("randomname.example.org.", "randomtwo2.Example.ORG.")):
        query = wire(name, rdtype, qid=qid)
        assert answered(chain, query) == authority.answer(query, catalog)
    for qid, name in enumerate(("HostMaster.eXamPlE.org.", "hostmaster.example.org.")):
        query = wire(name, rdtype, qid=qid)
        expected = authority.answer(query, catalog)
        assert b"\x0ahostmaster" not in expected[question_end(query) :]  # all a pointer
        assert answered(chain, query) == expected, name
        assert answered(chain, query) == expected, name  # and once more, as kept


def test_a_wildcard_answer_whose_target_a_kept_one_wrote_in_part_is_written_as_for_itself():
    """As above for an answer kept by what decides it (a wildcard's): its MX target below
    the wildcard's parent is written in full as the question when the question is that name."""
    catalog = catalog_of(ZONE + "*.mx IN MX 10 mail.mx\n")
    chain = ResolverChain(catalog, AUTHORITATIVE)
    for qid, name in enumerate(
        ("abcd.mx.example.org.", "efgh.MX.example.ORG.", "Mail.mX.example.org.")
    ):
        query = wire(name, "MX", qid=qid)
        expected = authority.answer(query, catalog)
        assert answered(chain, query) == expected, name
        assert answered(chain, query) == expected, name
    assert b"\x04mail" not in expected[question_end(query) :]  # all a pointer


def test_an_answer_kept_by_what_decides_it_is_kept_as_a_body_once_asked_again():
    """No data at a name (and a wildcard's answer) come from a template; asked a second time,
    the answer is kept by its question case-folded as its body alone, in the budget of the
    answers without data (or with), and sent to the question in every case byte for byte."""
    catalog = catalog_of()
    chain = ResolverChain(catalog, AUTHORITATIVE)
    rng = random.Random(4)
    asked = (("host.example.org.", "MX"), ("abc.wild.example.org.", "A"))
    for qid in range(6):
        for name, rdtype in asked:
            query = wire(shaken(name, rng), rdtype, qid=qid)
            assert answered(chain, query) == authority.answer(query, catalog), (name, qid)
    answers = chain.answers
    assert (len(answers.negative_bodies), len(answers.bodies)) == (1, 1)
    assert len(answers.positive.entries) + len(answers.negative.entries) == 0


def test_no_data_at_a_name_that_exists_is_kept_at_its_first_answer_from_a_template():
    """No data at one of the zone's names is kept as its body the first time a template
    answers it (the zone's names bound them, as its precomputed answers); a wildcard's answer
    (any name below it) once asked again."""
    catalog = catalog_of()
    chain = ResolverChain(catalog, AUTHORITATIVE)
    for name, rdtype in (("host.example.org.", "MX"), ("abc.wild.example.org.", "A")):
        answered(chain, wire(name, rdtype))  # worked out, and the templates made
    answers = chain.answers
    for name, rdtype in (("HosT.example.org.", "MX"), ("XyZ.wild.example.org.", "A")):
        query = wire(name, rdtype, qid=9)
        assert answered(chain, query) == authority.answer(query, catalog), name
    assert (len(answers.negative_bodies), len(answers.bodies)) == (1, 0)
    query = wire("hOSt.example.org.", "MX", qid=10)
    assert chain.at_once(query, CLIENT) == (authority.answer(query, catalog), "authority")

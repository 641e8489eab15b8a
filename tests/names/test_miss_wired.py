"""Cache misses read and written at wire level (issue 16): a plain question for addresses
outside our zones skips the links (chain._plain_miss), its plain reply is read without
dnspython (upstream.Plain), cached as wire forms (Cache.store_wired) and written from them.
Against BIND forwarding and our own tree recursing, the answers, the cache's entries, the
write-behind's records and the later answers from the cache are those of the general path,
byte for byte."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from dnsadmin.names import authority, forwarder, recursive, wire
from dnsadmin.names.answer import Kind, Sections
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import ChainConfig, ResolverChain
from dnsadmin.names.recursive import Found, classify
from dnsadmin.names.upstream import MALFORMED, Plain, Question, Reply
from dnsadmin.names.zone import zone_from_text
from tests.names import zones
from tests.names.hierarchy import EXAMPLE, Hierarchy
from tests.names.zones import Bind

A, AAAA = dns.rdatatype.A, dns.rdatatype.AAAA
BIG = "\n".join(f"big A 192.0.2.{n}" for n in range(10, 50))  # 40 records: over 512 bytes
ZONE = f"""$TTL 300
@ SOA ns1 hostmaster 1 3600 900 86400 120
@ NS ns1
ns1 A 127.0.0.1
www A 192.0.2.1
www A 192.0.2.2
v6 AAAA 2001:db8::1
v6 AAAA ::ffff:192.0.2.7
short 30 A 192.0.2.3
gone 0 A 192.0.2.4
text TXT "hello"
alias CNAME www
mx MX 10 mail
_sip._udp SRV 10 5 5060 www
svc HTTPS 1 . alpn=h2
{BIG}
*.wild A 192.0.2.9
"""
QUESTIONS = [
    ("www.wired.test.", A),
    ("WwW.wIRed.TEST.", A),
    ("v6.wired.test.", AAAA),
    ("short.wired.test.", A),
    ("gone.wired.test.", A),
    ("nothing.wired.test.", A),
    ("NoThing.wired.test.", AAAA),
    ("text.wired.test.", A),
    ("alias.wired.test.", A),
    ("big.wired.test.", A),
    ("x1.wild.wired.test.", A),
    ("X2.Wild.wired.test.", AAAA),
    ("ns1.wired.test.", A),
    ("www.wired.test.", dns.rdatatype.TXT),
    ("mx.wired.test.", dns.rdatatype.MX),
    ("nothing.wired.test.", dns.rdatatype.MX),
    ("www.wired.test.", dns.rdatatype.HTTPS),
    ("svc.wired.test.", dns.rdatatype.HTTPS),
    ("_sip._udp.wired.test.", dns.rdatatype.SRV),
    ("x3.wild.wired.test.", dns.rdatatype.TXT),
    ("4.2.0.192.in-addr.arpa.", dns.rdatatype.PTR),  # refused by BIND: SERVFAIL
]
CLIENT = "127.0.0.1"


def queries(name: str, rdtype: int) -> list[bytes]:
    """Return the ways a client asks: without EDNS, with it (and a small payload size), with
    DNSSEC OK (never asked wired)."""
    plain = dns.message.make_query(name, rdtype, use_edns=False, id=11)
    edns = dns.message.make_query(name, rdtype, use_edns=0, payload=1232, id=12)
    small = dns.message.make_query(name, rdtype, use_edns=0, payload=512, id=13)
    dnssec = dns.message.make_query(name, rdtype, want_dnssec=True, id=14)
    return [query.to_wire() for query in (plain, edns, small, dnssec)]


async def ask(chain: ResolverChain, query: bytes, outside: int | None = None) -> bytes:
    result, _ = chain.resolve(query, tcp=False, client=CLIENT, outside=outside)
    return result if isinstance(result, bytes) else await result


async def served(chain: ResolverChain, query: bytes) -> bytes:
    """Return the answer as the server gets it: from the kept answers (at_once), or else
    from resolve() told what at_once found (a miss outside our zones, chain._outside_now)."""
    kept = chain.at_once(query, CLIENT)
    return kept[0] if type(kept) is tuple else await ask(chain, query, kept)


def general(chain: ResolverChain) -> ResolverChain:
    """Return chain made to take every miss down the links (no question asked wired)."""
    chain._wired = False
    return chain


async def compare(wired: ResolverChain, plain: ResolverChain, asked: list[bytes]) -> None:
    """Ask both chains the same questions, in turn; assert the same answers, the same cache
    entries, and the same answers again from their caches."""
    for query in asked:
        assert await served(wired, query) == await ask(plain, query), dns.message.from_wire(query)
    assert sorted(wired.cache.take_changes()) == sorted(plain.cache.take_changes())
    for query in asked:
        assert await served(wired, query) == await ask(plain, query), dns.message.from_wire(query)
    assert sorted(wired.cache.entries()) == sorted(plain.cache.entries())


@contextmanager
def found_kinds(module) -> Iterator[list[Kind]]:
    """Collect the kinds of the wired results (Found) the resolutions of module (forwarder,
    recursive) remember."""
    kinds: list[Kind] = []
    real = module.remember

    def remember(step, *args, **kwargs):
        if type(step) is Found:
            kinds.append(step.kind)
        return real(step, *args, **kwargs)

    with mock.patch.object(module, "remember", remember):
        yield kinds


def kept_as_wires(chain: ResolverChain) -> int:
    return sum(1 for entry in chain.cache.positive.entries.values() if entry.wires)


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    """BIND serving ZONE, its RRsets in one order (not turned round from one reply to the
    next, so that two resolvers asking in turn get the same replies)."""
    server = Bind(Path(tmp_path_factory.mktemp("named")), {"wired.test.": ZONE})
    fixed = "minimal-responses yes;\n    rrset-order {{ order none; }};"
    with mock.patch.object(
        zones, "NAMED_CONF", zones.NAMED_CONF.replace("minimal-responses yes;", fixed)
    ):
        server.start()
    yield server
    server.stop()


async def chains_made(config: ChainConfig, ipv6: bool = True) -> AsyncIterator:
    """Yield a maker of resolver chains of one configuration; close every one made after."""
    chains = []

    def make() -> ResolverChain:
        chains.append(ResolverChain(ZoneCatalog(), config))
        if not ipv6:  # the test hierarchy listens on IPv4 only
            chains[-1].upstream.ipv6 = False
        return chains[-1]

    yield make
    for chain in chains:
        await chain.close()


@pytest.fixture
async def forwarding(bind: Bind) -> AsyncIterator:
    async for make in chains_made(ChainConfig(forwarders=[f"127.0.0.1:{bind.port}"])):
        yield make


@pytest.mark.integration
async def test_forwarded_misses_are_answered_and_cached_as_by_the_general_path(forwarding):
    wired, plain = forwarding(), general(forwarding())
    asked = [query for name, rdtype in QUESTIONS for query in queries(name, rdtype)]
    with found_kinds(forwarder) as kinds:
        await compare(wired, plain, asked)
    assert {Kind.ANSWER, Kind.NXDOMAIN, Kind.NODATA} <= set(kinds)  # both halves read wired
    assert kept_as_wires(wired) >= 5  # www, v6, short, big, the wildcard's: read at wire level
    assert not kept_as_wires(plain)


@pytest.mark.integration
async def test_an_answer_too_big_for_the_client_is_truncated_as_before(forwarding):
    wired, plain = forwarding(), general(forwarding())
    query = queries("big.wired.test.", A)[0]  # no EDNS: 512 bytes
    response = await ask(wired, query)
    assert response == await ask(plain, query)
    assert dns.message.from_wire(response).flags & dns.flags.TC


@pytest.fixture
async def recursing(hierarchy: Hierarchy, tmp_path: Path) -> AsyncIterator:
    hints = hierarchy.write_hints(tmp_path / "hints")
    config = ChainConfig(root_hints=hints, port=hierarchy.port, query_timeout=0.3)
    async for make in chains_made(config, ipv6=False):
        yield make


@pytest.mark.integration
async def test_recursive_misses_are_answered_and_cached_as_by_the_general_path(recursing):
    wired, plain = recursing(), general(recursing())
    names = [
        ("www.example.test.", A),
        ("WWW.example.test.", AAAA),
        ("none.example.test.", A),
        ("alias.example.test.", A),
        ("www.other.test.", A),
        ("ns.example.test.", A),
        ("nowhere.test.", A),
        ("www.example.test.", dns.rdatatype.TXT),
        ("www.example.test.", dns.rdatatype.MX),
        ("none.example.test.", dns.rdatatype.HTTPS),
        ("big.example.test.", AAAA),  # NODATA, the name new to the cache: asked wired
    ]
    asked = [query for name, rdtype in names for query in queries(name, rdtype)]
    with found_kinds(recursive) as kinds:
        await compare(wired, plain, asked)
    assert {Kind.ANSWER, Kind.NXDOMAIN, Kind.NODATA} <= set(kinds)  # both halves read wired
    assert kept_as_wires(wired) > kept_as_wires(plain)


@pytest.mark.integration
async def test_a_question_asked_wired_and_not_at_once_is_resolved_once(recursing, hierarchy):
    chain = recursing()
    await ask(chain, queries("ns.example.test.", A)[1])  # the cut known: one query a name
    before = hierarchy.queries(EXAMPLE)
    qname = dns.name.from_text("www.example.test.")
    wired = ask(chain, queries("www.example.test.", A)[1])
    other = chain.upstream.resolve(qname, A)  # as a CNAME's target or a lookup asks it
    response, found = await asyncio.gather(wired, other)
    assert hierarchy.queries(EXAMPLE) == before + 1
    assert [r.to_text() for r in dns.message.from_wire(response).answer] == [
        "www.example.test. 300 IN A 192.0.2.1"
    ]
    assert [rrset.to_text() for rrset in found.answer] == ["www.example.test. 300 IN A 192.0.2.1"]


def reply(
    question: Question, *, rcode: int = 0, answer=(), authority=(), additional=(), case=None
) -> bytes:
    """Return the wire of a reply to question (compressed by dnspython, as a server does)."""
    query = dns.message.from_wire(b"\0\1" + question.body)
    if case is not None:
        query.question[0].name = dns.name.from_text(case)
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    sections = (response.answer, answer), (response.authority, authority)
    for section, texts in (*sections, (response.additional, additional)):
        for owner, ttl, rdtype, *rdatas in texts:
            section.append(dns.rrset.from_text(owner, ttl, "IN", rdtype, *rdatas))
    return response.to_wire()


SOA = ("wired.test.", 600, "SOA", "ns1.wired.test. hostmaster.wired.test. 1 3600 900 86400 120")
WWW = dns.name.from_text("www.wired.test.")


def asked(rdtype: int = A) -> Question:
    return Question.of(WWW, rdtype, recursion=True, edns=False, wired=WWW.to_wire())


def test_addresses_are_read_each_once_at_their_lowest_ttl():
    question = asked()
    data = reply(question, answer=[(WWW, 300, "A", "192.0.2.1", "192.0.2.2")])
    # The last record again, at TTL 100.
    twice = data[:7] + b"\3" + data[8:] + data[-16:-10] + (100).to_bytes(4, "big") + data[-6:]
    plain = Plain.read(twice, question)
    assert sorted(plain.wires) == [bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])]
    assert plain.ttl == 100 and plain.soa is None
    general = Reply.parse(twice, question).answer[0]
    assert plain.wires == tuple(rdata.to_wire() for rdata in general) and general.ttl == 100


def test_a_negative_answer_keeps_its_soa_at_the_negative_ttl():
    question = asked()
    plain = Plain.read(reply(question, rcode=dns.rcode.NXDOMAIN, authority=[SOA]), question)
    assert plain.rcode() == dns.rcode.NXDOMAIN and not plain.wires
    soa = plain.soa_rrset()
    assert soa.ttl == 120  # RFC 2308 3: min(600, MINIMUM)
    assert (
        soa.to_text()
        == "wired.test. 120 IN SOA ns1.wired.test. hostmaster.wired.test. 1 3600 900 86400 120"
    )


@pytest.mark.parametrize(
    "shape",
    ["cname", "other type", "truncated", "servfail", "nxdomain with data", "case", "two soas",
     "referral", "bad length", "badvers"],
)  # fmt: skip
def test_other_replies_are_not_plain(shape):
    question = asked()
    answers = {
        "cname": [(WWW, 300, "CNAME", "other.wired.test.")],
        "other type": [(WWW, 300, "TXT", "hello")],
        "nxdomain with data": [(WWW, 300, "A", "192.0.2.1")],
        "bad length": [(WWW, 300, "A", "192.0.2.1")],
    }
    authority = {
        "two soas": [SOA, ("other.test.", 60, "SOA", "a.test. b.test. 1 2 3 4 5")],
        "referral": [("wired.test.", 60, "NS", "ns1.wired.test.")],
        "servfail": [], "truncated": [SOA], "case": [SOA], "badvers": [SOA],
    }  # fmt: skip
    rcode = {"servfail": dns.rcode.SERVFAIL, "nxdomain with data": dns.rcode.NXDOMAIN}
    data = reply(
        question, rcode=rcode.get(shape, 0), answer=answers.get(shape, ()),
        authority=authority.get(shape, ()), case="WWW.wired.test." if shape == "case" else None,
    )  # fmt: skip
    if shape == "truncated":
        data = data[:2] + bytes([data[2] | 0x02]) + data[3:]
    if shape == "bad length":  # five bytes of address: for Reply.parse to refuse
        data = data[:-6] + b"\x00\x05" + data[-4:] + b"\x00"
    if shape == "badvers":
        message = dns.message.from_wire(data)
        message.use_edns(0)
        message.set_rcode(dns.rcode.BADVERS)
        data = message.to_wire()
    assert Plain.read(data, question) is None


@pytest.mark.parametrize("rcode", [dns.rcode.NXDOMAIN, dns.rcode.NOERROR])
def test_a_negative_plain_reply_is_classified_as_the_general_reply_is(rcode):
    question = asked()
    data = reply(question, rcode=rcode, authority=[SOA])
    found = classify(Plain.read(data, question), dns.name.root, WWW, A)
    assert type(found) is Found
    assert found.kind is (Kind.NXDOMAIN if rcode else Kind.NODATA)
    general = classify(Reply.parse(data, question), dns.name.root, WWW, A)
    sections = found.sections()
    assert (sections.kind, sections.answer) == (general.kind, [])
    assert [rrset.to_text() for rrset in sections.authority] == [
        rrset.to_text() for rrset in general.authority
    ]


GLUE = [("ns1.example.", 300, "A", "192.0.2.53")]


def bad_ns_label(data: bytes) -> bytes:
    """Return the reply with the NS record's name starting with a label of type 0x40."""
    at = data.rfind(b"\x03ns1\x07example\x00")
    return data[:at] + b"\x40" + data[at + 1 :]


def five_byte_glue(data: bytes) -> bytes:
    """Return the reply with its last record, an A, of five bytes."""
    return data[:-6] + b"\x00\x05" + data[-4:] + b"\x00"


@pytest.mark.parametrize(("glue", "spoil"), [((), bad_ns_label), (GLUE, five_byte_glue)])
def test_a_malformed_record_beside_the_answer_leaves_the_reply_to_the_general_reader(glue, spoil):
    question = asked()
    data = reply(
        question, answer=[(WWW, 300, "A", "192.0.2.1")],
        authority=[("wired.test.", 300, "NS", "ns1.example.")], additional=glue,
    )  # fmt: skip
    assert type(Plain.read(data, question)) is Plain  # whole, the NS set and glue read
    spoilt = spoil(data)
    with pytest.raises(MALFORMED):
        Reply.parse(spoilt, question)
    assert Plain.read(spoilt, question) is None


def test_an_soa_dnspython_refuses_is_refused_as_reply_parse_refuses_it():
    question = asked()
    data = bytearray(reply(question, rcode=dns.rcode.NXDOMAIN))
    data[9] = 1  # one record in the authority section, made here
    # The owner: one label of 18 pointers, each to the one before it, the first to the
    # question; the SOA's mname points at the last: 19 in a row, dnspython reads 16.
    label = len(data) + 1
    targets = [12] + [label + 2 * i for i in range(17)]
    chain = b"".join((0xC000 | target).to_bytes(2, "big") for target in targets)
    last = (0xC000 | label + 2 * 17).to_bytes(2, "big")
    rdata = last + b"\xc0\x0c" + struct.pack("!5I", 1, 2, 3, 4, 5)
    header = struct.pack("!HHIH", dns.rdatatype.SOA, 1, 600, len(rdata))
    data += bytes([len(chain)]) + chain + b"\0" + header + rdata
    with pytest.raises(MALFORMED):
        Reply.parse(bytes(data), question)
    with pytest.raises(MALFORMED):
        Plain.read(bytes(data), question)


def test_a_name_is_refused_once_longer_than_255_bytes_not_after_reading_it():
    assert len(wire.read_labels(b"\x01a" * 127 + b"\x00", 0)[0]) == 128  # 255 bytes
    with pytest.raises(dns.name.NameTooLong):
        wire.read_labels(b"\x01a" * 128 + b"\x00", 0)
    # Past 255 bytes it stops: the bad label at the end of 64 KB is never reached.
    with pytest.raises(dns.name.NameTooLong):
        wire.read_labels(b"\x01a" * 32000 + b"\x40", 0)
    # Through a pointer, the bytes before and after it count alike.
    joined = b"\x3f" + b"x" * 63 + b"\x3f" + b"y" * 63 + b"\x00" + b"\x3f" + b"z" * 63
    assert len(wire.read_labels(joined + b"\x3d" + b"w" * 61 + b"\xc0\x00", 129)[0]) == 5
    with pytest.raises(dns.name.NameTooLong):
        wire.read_labels(joined + b"\x3e" + b"w" * 62 + b"\xc0\x00", 129)


def test_a_reply_cut_short_cannot_be_read():
    question = asked()
    data = reply(question, rcode=dns.rcode.NXDOMAIN, authority=[SOA])
    with pytest.raises(MALFORMED):
        Plain.read(data[:-30], question)


# SOAs whose names share endings with the questions' in various ways, and questions of
# several lengths sharing them: each SOA record one object, so that the records written
# for one question (wire._soa_record) are found again for the next of the same shape.
NEGATIVE_SOAS = [
    ("Example.COM.", "NS1.example.com. Hostmaster.Example.com. 7 3600 900 86400 300"),
    ("example.com.", "ns.other.test. admin.other.test. 1 2 3 4 5"),
    ("example.com.", "a.b.example.com. b.example.com. 1 2 3 4 5"),
    ("b.example.com.", "ns.a.b.example.com. x.ns.a.b.example.com. 1 2 3 4 5"),
    (".", "a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400"),
]
NEGATIVE_QNAMES = [
    "miss1.example.com.",
    "miss22.example.com.",
    "MISS333.Example.Com.",
    "b.example.com.",
    "a.b.example.com.",
    "zz.a.b.example.com.",
    "ns.a.b.example.com.",
    "x.ns.a.b.example.com.",
    "y.x.ns.a.b.example.com.",
    "example.com.",
    "ns1.example.com.",
    "q.ns1.example.com.",
    "Other.Test.",
    "ns.other.test.",
    "w.admin.other.test.",
    "com.",
    "net.",
    "a.b.c.",
]


@pytest.mark.parametrize("soa", range(len(NEGATIVE_SOAS)))
def test_negative_answers_are_written_as_the_general_writer_writes_them(soa):
    owner, text = NEGATIVE_SOAS[soa]
    rrset = dns.rrset.from_text(owner, 300, "IN", "SOA", text)
    for kind in (Kind.NXDOMAIN, Kind.NODATA):
        sections = Sections(kind, [], [rrset])
        for qname in NEGATIVE_QNAMES * 2:  # the second time from the records kept
            for edns in (0, -1):
                query = wire.parse_query(
                    dns.message.make_query(qname, "A", use_edns=edns).to_wire()
                )
                direct = wire._write_negative(query, sections, False)
                authority = [wire.owned(rrset)]
                general = wire.write_response(query, Sections(kind, [], authority), False)
                assert direct == general, (qname, edns)


@pytest.mark.integration
async def test_a_name_that_became_ours_is_answered_by_our_zone_not_asked_upstream(forwarding):
    chain = forwarding()
    query = queries("www.wired.test.", A)[1]
    assert len(dns.message.from_wire(await ask(chain, query)).answer[0]) == 2  # BIND's
    outside = chain.at_once(query, CLIENT)
    assert type(outside) is int  # found outside our zones, left to resolve()
    ours = "$TTL 60\n@ SOA ns hostmaster 1 2 3 4 5\n@ NS ns\nwww A 198.51.100.1\n"
    chain.catalog.replace(zone_from_text(ours, "wired.test."))
    chain.cache.flush()
    response = dns.message.from_wire(await ask(chain, query, outside))  # told before the change
    assert response.flags & dns.flags.AA
    assert [rrset.to_text() for rrset in response.answer] == [
        "www.wired.test. 60 IN A 198.51.100.1"
    ]


@pytest.mark.integration
async def test_a_miss_found_outside_our_zones_at_once_is_not_looked_up_again(forwarding):
    chain, plain = forwarding(), general(forwarding())
    await ask(chain, queries("short.wired.test.", A)[1])  # the client known to may recurse
    query = queries("www.wired.test.", A)[1]
    outside = chain.at_once(query, CLIENT)
    assert type(outside) is int  # what the server keeps in the backlog job for resolve()
    with (
        mock.patch.object(chain, "_kept", side_effect=AssertionError("looked up again")),
        mock.patch.object(authority, "zone_of", side_effect=AssertionError("zones again")),
    ):
        answer = await ask(chain, query, outside)
    assert answer == await ask(plain, query)


def plain_queries() -> list[tuple[bytes, bool]]:
    """Return queries, and whether each is plain (wire.plain_query reads it)."""
    made = []
    for rdtype in ("A", "MX"):
        for edns, payload in ((-1, 0), (0, 512), (0, 1232), (0, 4096)):
            message = dns.message.make_query(
                "WwW.Example.test.", rdtype, use_edns=edns, payload=payload
            )
            made.append((message.to_wire(), True))
    dnssec = dns.message.make_query("www.example.test.", "A", want_dnssec=True)
    cookie = dns.message.make_query(
        "www.example.test.", "A", use_edns=0, options=[dns.edns.GenericOption(10, b"12345678")]
    )
    version = dns.message.make_query("www.example.test.", "A", use_edns=1)
    chaos = dns.message.make_query("www.example.test.", "A", rdclass="CH")
    notify = dns.message.make_query("www.example.test.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    made += [(m.to_wire(), False) for m in (dnssec, cookie, version, chaos, notify)]
    made.append((made[0][0] + b"\0", False))  # a byte after the message
    return made


@pytest.mark.parametrize(("query", "plain"), plain_queries())
def test_a_plain_query_is_read_as_parse_query_reads_it(query, plain):
    parsed = wire.plain_query(query, 12 + len(b"\3www\7example\4test\0"))
    if not plain:
        assert parsed is None
        return
    expected = wire.parse_query(query)
    expected.qname = None
    assert parsed == expected

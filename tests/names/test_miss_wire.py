"""Answers to cache misses written from the records' wire forms as the upstream reply held
them (wire.keep_wire), byte for byte as when dnspython renders every record again."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rrset
import pytest

from dnsadmin.names import wire
from dnsadmin.names.answer import Sections
from dnsadmin.names.recursive import classify
from dnsadmin.names.render import Records
from dnsadmin.names.upstream import Reply

ROOT = dns.name.root


def reply(qname: str, qtype: str, answer=(), authority=(), additional=(), *, nxdomain=False):
    """Return the wire of a reply (compressed by dnspython, as a server compresses it)."""
    query = dns.message.make_query(qname, qtype)
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA | dns.flags.RA
    if nxdomain:
        response.set_rcode(dns.rcode.NXDOMAIN)
    for section, texts in (
        (response.answer, answer), (response.authority, authority),
        (response.additional, additional),
    ):  # fmt: skip
        for owner, ttl, rdtype, *rdatas in texts:
            section.append(dns.rrset.from_text(owner, ttl, "IN", rdtype, *rdatas))
    return response.to_wire()


SOA = ("Example.COM.", 600, "SOA", "NS1.Example.com. Hostmaster.example.COM. 7 3600 900 86400 300")
REPLIES = {
    "address": ("www.example.com.", "A", [("www.example.com.", 300, "A", "192.0.2.1", "192.0.2.2")]),
    "mixed case": ("WwW.ExAmple.com.", "AAAA", [("WwW.ExAmple.com.", 60, "AAAA", "2001:db8::1")]),
    "text": ("t.example.com.", "TXT", [("t.example.com.", 30, "TXT", '"a b" "c"', '""')]),
    "chain": (
        "alias.example.com.", "A",
        [("alias.example.com.", 300, "CNAME", "Mid.example.com."),
         ("mid.example.com.", 300, "CNAME", "end.example.com."),
         ("end.example.com.", 20, "A", "192.0.2.9")],
    ),  # fmt: skip
    "servers": ("example.com.", "NS", [("example.com.", 300, "NS", "ns1.example.com.", "NS2.example.net.")]),
    "nodata": ("www.example.com.", "MX", [], [SOA]),
    "nxdomain": ("gone.example.com.", "A", [], [SOA]),
    "alias to nowhere": ("a.example.com.", "A", [("a.example.com.", 300, "CNAME", "b.example.com.")], [SOA]),
}  # fmt: skip


def rendered(query: wire.Query, sections: Sections, tcp: bool) -> bytes:
    """Return the response as written before: every record rendered again by dnspython."""

    def owned(rrset: dns.rrset.RRset) -> wire.Owned:
        return rrset.name, Records(rrset.rdtype, rrset.ttl, tuple(r.to_wire() for r in rrset))

    answer = [owned(rrset) for rrset in sections.answer]
    authority = [owned(rrset) for rrset in sections.authority]
    written = Sections(sections.kind, answer, authority, error=sections.error)
    return wire.write_response(query, written, tcp)


@pytest.mark.parametrize("edns", [True, False])
@pytest.mark.parametrize("tcp", [False, True])
@pytest.mark.parametrize("case", sorted(REPLIES))
def test_an_answer_from_a_reply_is_the_one_rendered_before(case, tcp, edns):
    qname, qtype, answer, *authority = REPLIES[case]
    data = reply(qname, qtype, answer, *authority, nxdomain=case == "nxdomain")
    name = dns.name.from_text(qname)
    found = classify(Reply.parse(data), ROOT, name, dns.rdatatype.from_text(qtype))
    client = dns.message.make_query(qname.swapcase(), qtype, use_edns=edns)
    query = wire.parse_query(client.to_wire())
    for rrset in found.answer + found.authority:
        rrset.ttl -= 7  # the TTLs the cache counts down, rewritten in the copied records
    written = wire.write_rrsets(query, found, tcp)
    assert written == rendered(query, found, tcp)
    response = dns.message.from_wire(written)  # compression pointers valid
    assert response.question[0].name.to_text() == qname.swapcase()
    for sent, held in ((response.answer, found.answer), (response.authority, found.authority)):
        assert [summary(rrset) for rrset in sent] == [summary(rrset) for rrset in held]


def summary(rrset: dns.rrset.RRset) -> tuple:
    """Return what a response must keep of an RRset: the owner, the TTL and the records in
    their order (names in any case: they may point at the client's question)."""
    return rrset.name, rrset.rdtype, rrset.ttl, list(rrset)


def test_the_copied_bytes_are_dnspythons_own_wire_forms():
    for qname, qtype, answer, *authority in REPLIES.values():
        parsed = Reply.parse(reply(qname, qtype, answer, *authority))
        for rrset in parsed.answer + parsed.authority:
            assert [wire.rdata_wire(r) for r in rrset] == [r.to_wire() for r in rrset]


def test_a_record_without_kept_bytes_is_rendered():
    rrset = dns.rrset.from_text("x.example.", 60, "IN", "MX", "10 Mail.example.")
    assert wire.owned(rrset)[1].wires == (rrset[0].to_wire(),)


@pytest.mark.parametrize("edns", [True, False])
def test_an_answer_at_the_size_limit_is_written_as_before(edns):
    # Around the 512 bytes of a client without EDNS (and our 1232 with it): the answer that
    # fits to the byte, and the one a byte longer, which is truncated.
    for owner in ("t.example.com.", "."):
        client = dns.message.make_query(owner, "TXT", use_edns=edns, payload=1232)
        query = wire.parse_query(client.to_wire())
        for length in range(420, 500) if not edns else range(1140, 1220):
            text = " ".join(
                ['"' + "x" * 255 + '"'] * (length // 256) + ['"' + "y" * (length % 256) + '"']
            )
            found = Sections(answer=[dns.rrset.from_text(owner, 60, "IN", "TXT", text)])
            assert wire.write_rrsets(query, found, False) == rendered(query, found, False)

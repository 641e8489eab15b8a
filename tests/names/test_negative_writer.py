"""Negative answers from the cache or upstream (one SOA in the authority section) written
directly (wire._write_negative), byte for byte as the general writer writes them."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rrset
import pytest

from dnsadmin.names import wire
from dnsadmin.names.answer import Kind, Sections

SOAS = {
    "zone": ("Example.COM.", "NS1.example.com. Hostmaster.Example.com. 7 3600 900 86400 300"),
    "root": (".", "a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400"),
    "names elsewhere": ("example.com.", "ns.other.test. admin.other.test. 1 2 3 4 5"),
    "servers at the question": ("example.com.", "gone.example.com. gone.example.com. 1 2 3 4 5"),
}
QNAMES = ("gone.example.com.", "GoNe.ExAmPle.CoM.", "example.com.", "a.b.c.d.example.com.")


def general(query: wire.Query, sections: Sections, tcp: bool) -> bytes:
    """Return the response as the general writer (MessageWriter) writes it."""
    authority = [wire.owned(rrset) for rrset in sections.authority]
    written = Sections(sections.kind, [], authority, error=sections.error)
    return wire.write_response(query, written, tcp)


def negative(soa: str, kind: Kind) -> Sections:
    owner, text = SOAS[soa]
    return Sections(kind, [], [dns.rrset.from_text(owner, 300, "IN", "SOA", text)])


@pytest.mark.parametrize("kind", [Kind.NXDOMAIN, Kind.NODATA])
@pytest.mark.parametrize("soa", sorted(SOAS))
@pytest.mark.parametrize("qname", QNAMES)
@pytest.mark.parametrize(("edns", "dnssec", "tcp"), [(0, False, False), (-1, False, False),
                                                     (0, True, False), (0, False, True)])  # fmt: skip
def test_a_negative_answer_is_written_directly_as_the_general_writer_would(
    kind, soa, qname, edns, dnssec, tcp
):
    client = dns.message.make_query(qname, "A", use_edns=edns, want_dnssec=dnssec)
    query = wire.parse_query(client.to_wire())
    sections = negative(soa, kind)
    direct = wire._write_negative(query, sections, tcp)
    assert direct is not None  # the direct path answered, not the general writer
    assert direct == general(query, sections, tcp) == wire.write_rrsets(query, sections, tcp)
    response = dns.message.from_wire(direct)  # every compression pointer lands on a name
    assert response.rcode() == (3 if kind is Kind.NXDOMAIN else 0)
    assert response.question[0].name.to_text() == qname
    # Names in any case: compressed, they point at the client's question.
    assert [rrset.to_text().lower() for rrset in response.authority] == [
        rrset.to_text().lower() for rrset in sections.authority
    ]


def test_a_negative_answer_that_does_not_fit_goes_to_the_general_writer():
    # A client without EDNS gets 512 bytes: a question and an SOA of long names overflow it.
    long = ".".join(["x" * 60] * 3)
    qname = f"{long}.example.com."
    soa = dns.rrset.from_text(
        "example.com.",
        300,
        "IN",
        "SOA",
        f"{'m' * 63}.{long}.test. {'r' * 63}.{long}.net. 1 2 3 4 5",
    )
    query = wire.parse_query(dns.message.make_query(qname, "A", use_edns=False).to_wire())
    sections = Sections(Kind.NXDOMAIN, [], [soa])
    assert wire._write_negative(query, sections, False) is None
    written = wire.write_rrsets(query, sections, False)
    assert written == general(query, sections, False)
    assert dns.message.from_wire(written).flags & dns.flags.TC


@pytest.mark.parametrize(
    "sections",
    [
        Sections(Kind.NXDOMAIN, [], []),  # no proof at all
        Sections(Kind.NODATA, [dns.rrset.from_text("gone.example.com.", 60, "IN", "CNAME", "x.")],
                 [dns.rrset.from_text(*SOAS["zone"][:1], 60, "IN", "SOA", SOAS["zone"][1])]),
        Sections(Kind.NXDOMAIN, [], [dns.rrset.from_text("example.com.", 60, "IN", "NS", "ns.")]),
    ],
)  # fmt: skip
def test_other_responses_are_left_to_the_general_writer(sections):
    query = wire.parse_query(dns.message.make_query("gone.example.com.", "A").to_wire())
    assert wire._write_negative(query, sections, False) is None

"""Negative answers written from the SOA record kept for the question's name but its first
label (wire._soa_quick): byte for byte as the general writer writes them, whatever the
first label, those the record's names end in included, in any order asked."""

from __future__ import annotations

import random

import dns.message
import dns.rrset
import pytest

from dnsadmin.names import wire
from dnsadmin.names.answer import Kind, Sections

SOAS = {
    "servers in the zone": ("example.com.", "ns1.example.com. hostmaster.Example.com. 7 1 2 3 4"),
    "servers elsewhere": ("Example.com.", "ns.other.test. admin.other.test. 1 2 3 4 5"),
    "servers below": ("example.com.", "a.b.example.com. b.example.com. 1 2 3 4 5"),
    "the root's": (".", "a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400"),
}
# First labels of the record's names, and others of their lengths.
FIRSTS = ("miss", "ns1", "NS1", "xy1", "b", "a", "x", "hostmaster", "Hostmastez", "admin")
QNAMES = [
    f"{first}.{rest}" for first in (*FIRSTS, "gone1")
    for rest in ("example.com.", "b.example.com.", "EXAMPLE.com.")
] + ["example.com.", "com.", "."]  # fmt: skip


def general(query: wire.Query, sections: Sections) -> bytes:
    authority = [wire.owned(rrset) for rrset in sections.authority]
    return wire.write_response(query, Sections(sections.kind, [], authority), False)


@pytest.mark.parametrize("soa", sorted(SOAS))
@pytest.mark.parametrize("seed", range(4))
def test_negative_answers_written_from_kept_records_are_the_general_writers(soa, seed):
    wire._soa_quick.clear()
    wire._soa_records.clear()
    owner, text = SOAS[soa]
    sections = Sections(Kind.NXDOMAIN, [], [dns.rrset.from_text(owner, 300, "IN", "SOA", text)])
    asked = QNAMES * 2
    random.Random(seed).shuffle(asked)
    for qname in asked:
        query = wire.parse_query(dns.message.make_query(qname, "A").to_wire())
        assert wire._write_negative(query, sections, False) == general(query, sections), qname


def test_a_question_of_a_kept_shape_compares_no_endings(monkeypatch):
    owner, text = SOAS["servers in the zone"]
    sections = Sections(Kind.NXDOMAIN, [], [dns.rrset.from_text(owner, 300, "IN", "SOA", text)])
    first, second = (
        wire.parse_query(dns.message.make_query(qname, "A").to_wire())
        for qname in ("miss1.example.com.", "miss2.example.com.")
    )
    wire._write_negative(first, sections, False)
    expected = general(second, sections)

    def refused(name, other):
        raise AssertionError("endings compared again")

    monkeypatch.setattr(wire, "_common", refused)
    assert wire._write_negative(second, sections, False) == expected

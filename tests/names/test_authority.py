"""The answer logic, bytes in and bytes out: RFC 1034 4.3.2, RFC 4592, RFC 6672, RFC 9471."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from dnsadmin.names import authority, memo
from dnsadmin.names.answer import MAX_CHAIN
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.zone import zone_from_text
from tests.names.zones import ask, rrsets_of

A, AAAA, CNAME, DNAME, NS, SOA, DS = (
    dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.CNAME, dns.rdatatype.DNAME,
    dns.rdatatype.NS, dns.rdatatype.SOA, dns.rdatatype.DS,
)  # fmt: skip

SOA_LINE = "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n"


def catalog_of(**zones: str) -> ZoneCatalog:
    """A catalog from origin=zone text pairs (origins written with _ for dots)."""
    return ZoneCatalog(
        [zone_from_text(text, origin.replace("_", ".") + ".") for origin, text in zones.items()]
    )


def answer_of(response: dns.message.Message) -> list[tuple[str, int, list[str]]]:
    return [
        (rrset.name.to_text(), rrset.rdtype, sorted(r.to_text() for r in rrset))
        for rrset in response.answer
    ]


def is_aa(response: dns.message.Message) -> bool:
    return bool(response.flags & dns.flags.AA)


def test_it_answers_authoritatively_for_a_name_in_the_zone(catalog):
    response = ask(catalog, "www.example.com.", "AAAA")
    assert response.rcode() == dns.rcode.NOERROR
    assert is_aa(response)
    assert answer_of(response) == [("www.example.com.", AAAA, ["2001:db8::10"])]
    assert response.authority == []


def test_it_echoes_the_question_name_with_its_exact_case(catalog):
    response = ask(catalog, "wWw.ExAmPlE.cOm.", "A")
    assert response.question[0].name.labels == (b"wWw", b"ExAmPlE", b"cOm", b"")
    assert answer_of(response)[0][2] == ["192.0.2.10"]


def test_it_follows_a_cname_chain_inside_the_zone(catalog):
    response = ask(catalog, "one.example.com.", "A")
    assert answer_of(response) == [
        ("one.example.com.", CNAME, ["two.example.com."]),
        ("two.example.com.", CNAME, ["www.example.com."]),
        ("www.example.com.", A, ["192.0.2.10"]),
    ]
    assert is_aa(response)


def test_it_answers_a_cname_query_with_the_cname_alone(catalog):
    response = ask(catalog, "one.example.com.", "CNAME")
    assert answer_of(response) == [("one.example.com.", CNAME, ["two.example.com."])]


def test_it_follows_a_cname_into_another_zone_of_the_catalog(catalog):
    response = ask(catalog, "cross.example.com.", "A")
    assert answer_of(response)[-1] == ("host.example.net.", A, ["203.0.113.7"])
    assert is_aa(response)


def test_the_rcode_of_a_chain_describes_its_last_name(catalog):
    # RFC 6604: NXDOMAIN for the target, with the target zone's SOA.
    response = ask(catalog, "crossnx.example.com.", "A")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert answer_of(response) == [("crossnx.example.com.", CNAME, ["missing.example.net."])]
    assert response.authority[0].name == dns.name.from_text("example.net.")


def test_it_stops_at_a_cname_that_leaves_every_zone(catalog):
    response = ask(catalog, "ext.example.com.", "A")
    assert response.rcode() == dns.rcode.NOERROR
    assert answer_of(response) == [("ext.example.com.", CNAME, ["www.elsewhere.test."])]
    assert response.authority == []


def test_it_stops_a_cname_loop_after_one_turn(catalog):
    response = ask(catalog, "loop1.example.com.", "A")
    assert response.rcode() == dns.rcode.NOERROR
    assert [rrset.name.to_text() for rrset in response.answer] == [
        "loop1.example.com.",
        "loop2.example.com.",
    ]


def test_it_bounds_the_length_of_a_cname_chain():
    links = "".join(f"c{i} IN CNAME c{i + 1}\n" for i in range(40)) + "c40 IN A 192.0.2.40\n"
    catalog = catalog_of(chain_test=SOA_LINE + links)
    response = ask(catalog, "c0.chain.test.", "A")
    assert response.rcode() == dns.rcode.NOERROR
    assert len(response.answer) == MAX_CHAIN
    assert all(rrset.rdtype == CNAME for rrset in response.answer)


def test_a_wildcard_answers_with_the_query_name_as_owner(catalog):
    response = ask(catalog, "Anything.wild.example.com.", "TXT")
    assert answer_of(response) == [
        ("Anything.wild.example.com.", dns.rdatatype.TXT, ['"wildcard"'])
    ]
    assert is_aa(response)


def test_a_wildcard_matches_several_labels(catalog):
    response = ask(catalog, "a.b.wild.example.com.", "A")
    assert answer_of(response) == [("a.b.wild.example.com.", A, ["192.0.2.99"])]


def test_a_wildcard_does_not_match_below_an_existing_name(catalog):
    # RFC 4592 2.2.1: deep.wild exists, so it is the closest encloser, and it has no wildcard.
    response = ask(catalog, "x.deep.wild.example.com.", "A")
    assert response.rcode() == dns.rcode.NXDOMAIN


def test_an_existing_name_beside_a_wildcard_is_answered_from_its_own_data(catalog):
    response = ask(catalog, "deep.wild.example.com.", "TXT")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []
    assert response.authority[0].rdtype == SOA


def test_a_wildcard_without_the_type_gives_nodata(catalog):
    response = ask(catalog, "x.wild.example.com.", "MX")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []
    assert [rrset.rdtype for rrset in response.authority] == [SOA]


def test_a_wildcard_cname_is_followed(catalog):
    response = ask(catalog, "x.wc.example.com.", "A")
    assert answer_of(response) == [
        ("x.wc.example.com.", CNAME, ["www.example.com."]),
        ("www.example.com.", A, ["192.0.2.10"]),
    ]


def test_it_answers_nodata_for_an_empty_non_terminal(catalog):
    for name in ("b.c.example.com.", "c.example.com.", "_udp.example.com."):
        response = ask(catalog, name, "A")
        assert response.rcode() == dns.rcode.NOERROR, name
        assert response.answer == []
        assert [rrset.rdtype for rrset in response.authority] == [SOA]


def test_it_answers_nxdomain_with_the_soa_at_its_negative_ttl(catalog):
    # RFC 2308 3: min(SOA TTL, SOA MINIMUM); example.com has 3600 and 600, example.net 600 and 60.
    for name, ttl in (("nothere.example.com.", 600), ("nothere.example.net.", 60)):
        response = ask(catalog, name, "A")
        assert response.rcode() == dns.rcode.NXDOMAIN
        assert is_aa(response)
        (soa,) = response.authority
        assert (soa.rdtype, soa.ttl) == (SOA, ttl)


def test_the_negative_ttl_is_the_soa_ttl_when_that_is_smaller():
    catalog = catalog_of(small_test="@ 30 IN SOA ns1 host 1 7200 900 1209600 600\n@ IN NS ns1\n")
    assert ask(catalog, "x.small.test.", "A").authority[0].ttl == 30


def test_it_answers_nodata_with_the_soa_for_a_missing_type(catalog):
    response = ask(catalog, "mail.example.com.", "AAAA")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []
    assert rrsets_of(response.authority) == {
        (
            "example.com.",
            SOA,
            600,
            frozenset({"ns1.example.com. hostmaster.example.com. 2024010101 7200 900 1209600 600"}),
        )
    }


def test_it_refers_below_a_zone_cut_with_ns_and_glue_and_no_aa(catalog):
    response = ask(catalog, "www.sub.example.com.", "A")
    assert response.rcode() == dns.rcode.NOERROR
    assert not is_aa(response)
    assert response.answer == []
    assert [(r.name.to_text(), r.rdtype) for r in response.authority] == [("sub.example.com.", NS)]
    glue = {(r.name.to_text(), r.rdtype) for r in response.additional}
    assert glue == {
        ("ns.sub.example.com.", A),
        ("ns.sub.example.com.", AAAA),
        ("ns1.example.com.", A),
    }


def test_it_refers_at_the_cut_itself(catalog):
    response = ask(catalog, "sub.example.com.", "NS")
    assert not is_aa(response)
    assert response.answer == []
    assert response.authority[0].name == dns.name.from_text("sub.example.com.")


def test_glue_below_a_cut_is_not_answered_authoritatively(catalog):
    response = ask(catalog, "ns.sub.example.com.", "A")
    assert not is_aa(response)
    assert response.answer == []


def test_glue_below_a_cut_is_not_additional_data_for_an_mx_target(catalog):
    # mxsub's exchange lives in the delegated child: its addresses there are the child's.
    response = ask(catalog, "mxsub.example.com.", "MX")
    assert is_aa(response) and response.additional == []
    mail = ask(catalog, "example.com.", "MX")
    assert {(r.name.to_text(), r.rdtype) for r in mail.additional} == {("mail.example.com.", A)}


def test_it_refers_to_out_of_zone_name_servers_without_glue(catalog):
    response = ask(catalog, "host.away.example.com.", "A")
    assert [r.rdtype for r in response.authority] == [NS]
    assert response.additional == []


def test_it_answers_ds_at_a_cut_from_the_parent_side(catalog):
    response = ask(catalog, "sub.example.com.", "DS")
    assert is_aa(response)
    assert [(r.name.to_text(), r.rdtype) for r in response.answer] == [("sub.example.com.", DS)]


def test_ds_for_a_child_zone_we_also_serve_comes_from_the_parent(catalog):
    catalog.replace(zone_from_text(SOA_LINE + "www IN A 192.0.2.7\n", "sub.example.com."))
    assert answer_of(ask(catalog, "www.sub.example.com.", "A")) == [
        ("www.sub.example.com.", A, ["192.0.2.7"])
    ]
    response = ask(catalog, "sub.example.com.", "DS")
    assert [(r.name.to_text(), r.rdtype) for r in response.answer] == [("sub.example.com.", DS)]


def test_referral_sets_tc_when_in_domain_glue_does_not_fit():
    # RFC 9471: the NS RRset fits in 512 bytes, but the in-domain glue does not.
    servers = "".join(
        f"deleg IN NS n{i}.deleg\nn{i}.deleg IN AAAA 2001:db8::{i}\nn{i}.deleg IN A 192.0.2.{i}\n"
        for i in range(20)
    )
    catalog = catalog_of(glue_test=SOA_LINE + servers)
    response = ask(catalog, "x.deleg.glue.test.", "A")
    assert response.flags & dns.flags.TC
    assert response.authority[0].rdtype == NS
    assert ask(catalog, "x.deleg.glue.test.", "A", tcp=True).flags & dns.flags.TC == 0


def test_referral_leaves_out_sibling_glue_that_does_not_fit_without_tc():
    servers = "".join(f"deleg IN NS n{i}\nn{i} IN AAAA 2001:db8::{i}\n" for i in range(20))
    catalog = catalog_of(glue_test=SOA_LINE + servers)
    response = ask(catalog, "x.deleg.glue.test.", "A")
    assert not response.flags & dns.flags.TC
    assert 0 < len(response.additional) < 20


def test_a_dname_substitutes_the_suffix_and_synthesizes_a_cname(catalog):
    response = ask(catalog, "a.b.dn.example.com.", "A")
    assert answer_of(response) == [
        ("dn.example.com.", DNAME, ["c.example.com."]),
        ("a.b.dn.example.com.", CNAME, ["a.b.c.example.com."]),
        ("a.b.c.example.com.", A, ["192.0.2.5"]),
    ]
    assert is_aa(response)
    # RFC 6672 3.1: the synthesized CNAME carries the DNAME's TTL.
    assert response.answer[1].ttl == response.answer[0].ttl == 1234


def test_a_dname_target_in_another_zone_is_followed(catalog):
    response = ask(catalog, "host.dnx.example.com.", "A")
    assert answer_of(response)[-1] == ("host.example.net.", A, ["203.0.113.7"])


def test_a_dname_query_at_the_owner_gets_the_dname_only(catalog):
    response = ask(catalog, "dn.example.com.", "DNAME")
    assert answer_of(response) == [("dn.example.com.", DNAME, ["c.example.com."])]


def test_a_dname_substitution_that_is_too_long_gives_yxdomain():
    target = ".".join(["t" * 60] * 3)
    catalog = catalog_of(long_test=SOA_LINE + f"dn IN DNAME {target}.\n")
    qname = ".".join(["q" * 50] * 3) + ".dn.long.test."
    response = ask(catalog, qname, "A")
    assert response.rcode() == dns.rcode.YXDOMAIN
    assert [r.rdtype for r in response.answer] == [DNAME]


def test_it_refuses_names_outside_every_zone(catalog):
    response = ask(catalog, "www.example.org.", "A")
    assert response.rcode() == dns.rcode.REFUSED
    assert not is_aa(response)
    assert response.question[0].name == dns.name.from_text("www.example.org.")


def test_it_refuses_classes_other_than_in(catalog):
    response = ask(catalog, "www.example.com.", "A", rdclass="CH")
    assert response.rcode() == dns.rcode.REFUSED


def test_any_is_answered_with_one_rrset(catalog):
    # RFC 8482 4.2: a single RRset of the name is a complete answer.
    response = ask(catalog, "www.example.com.", "ANY")
    assert is_aa(response)
    assert len(response.answer) == 1
    assert response.answer[0].rdtype in (A, AAAA, dns.rdatatype.TXT)


def test_any_for_an_empty_non_terminal_is_nodata(catalog):
    response = ask(catalog, "c.example.com.", "ANY")
    assert response.answer == []
    assert response.authority[0].rdtype == SOA


def test_a_question_is_located_in_the_closest_enclosing_zone_from_its_bytes():
    catalog = catalog_of(example=SOA_LINE, sub_example=SOA_LINE, net=SOA_LINE)

    def zone_of(name: str) -> str | None:
        query = dns.message.make_query(name, "A").to_wire()
        located = authority.locate(query, memo.question_end(query), catalog)
        return None if located is None else located.zone.origin.to_text()

    assert zone_of("a.b.SUB.Example.") == "sub.example."
    assert zone_of("sub.example.") == "sub.example."
    assert zone_of("xsub.example.") == "example."
    assert zone_of("example.") == "example."
    assert zone_of("example.org.") is None
    assert zone_of("nEt.") == "net."
    catalog.remove("sub.example.")
    assert zone_of("a.b.SUB.Example.") == "example."
    catalog.remove("net.")
    assert zone_of("net.") is None


ALIASES = """$TTL 300
@ IN SOA ns1 hostmaster 1 7200 900 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.1
ptr IN CNAME target
target IN PTR host.example.com.
target IN TXT "text"
top IN CNAME @
"""


def test_a_first_answer_through_an_alias_compresses_the_names_in_its_records():
    # The names inside a PTR or SOA record the alias leads to are compressed (RFC 1035
    # 4.1.4), by the fast writer as by the full one, byte for byte.
    catalog = ZoneCatalog([zone_from_text(ALIASES, "example.com.")])
    for name, rdtype in (("ptr", "PTR"), ("PtR", "TXT"), ("top", "SOA"), ("TOP", "NS")):
        query = dns.message.make_query(f"{name}.example.com.", rdtype)
        query.id = 7
        wire = query.to_wire()
        end = memo.question_end(wire)
        located = authority.locate(wire, end, catalog)
        written = authority.data_answer(wire, end, located, catalog)
        assert written is not None and written == authority.answer(wire, catalog), (name, rdtype)

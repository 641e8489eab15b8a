"""Message handling around the answer: header rules, EDNS(0), sizes, errors and the cache."""

from __future__ import annotations

import logging
import struct

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest

from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.zone import build_zone, zone_from_text
from tests.names.zones import EXAMPLE_COM, answer


def wire_query(qname="www.example.com.", rdtype="A", **kw) -> bytes:
    return dns.message.make_query(qname, rdtype, **kw).to_wire()


def parse(response: bytes) -> dns.message.Message:
    return dns.message.from_wire(response)


def header(qid: int, flags: int, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


QUESTION = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"
OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"  # root, OPT, 1232, version 0, no options


def test_it_sends_nothing_in_reply_to_a_response(catalog):
    query = bytearray(wire_query())
    query[2] |= 0x80
    assert answer(bytes(query), catalog) is None


def test_it_sends_nothing_in_reply_to_a_runt_packet(catalog):
    assert answer(b"\x12\x34\x01\x00\x00\x01", catalog) is None
    assert answer(b"", catalog) is None


@pytest.mark.parametrize(
    "packet",
    [
        header(0xBEEF, 0x0100) + b"\x03www\x07exa",  # question cut short
        header(0xBEEF, 0x0100) + b"\xc0\x0c\x00\x01\x00\x01",  # pointer to itself
        header(0xBEEF, 0x0100) + b"\xc0\x10\x00\x01\x00\x01",  # pointer forward
        header(0xBEEF, 0x0100) + b"\x40abc\x00\x00\x01\x00\x01",  # reserved label type
        header(0xBEEF, 0x0100, qd=0xFFFF) + QUESTION,  # huge QDCOUNT
        header(0xBEEF, 0x0100, qd=0),
    ],
)
def test_it_answers_formerr_echoing_the_id_for_unparseable_queries(catalog, packet):
    response = answer(packet, catalog)
    qid, flags = struct.unpack_from("!HH", response)
    assert qid == 0xBEEF
    assert flags & 0x8000
    assert flags & 0xF == dns.rcode.FORMERR
    assert parse(response).question == []


def test_formerr_includes_the_question_when_it_could_be_read(catalog):
    response = parse(answer(header(7, 0x0100, ar=1) + QUESTION + b"junk", catalog))  # cut short
    assert response.rcode() == dns.rcode.FORMERR
    assert response.question[0].name.to_text() == "www.example.com."


def test_it_answers_formerr_for_two_questions(catalog):
    response = parse(answer(header(7, 0x0100, qd=2) + QUESTION + QUESTION, catalog))
    assert response.rcode() == dns.rcode.FORMERR


@pytest.mark.parametrize("opcode", [dns.opcode.IQUERY, dns.opcode.STATUS, dns.opcode.NOTIFY, 6])
def test_it_answers_notimp_for_opcodes_other_than_query(catalog, opcode):
    packet = header(99, dns.opcode.to_flags(opcode)) + QUESTION
    response = parse(answer(packet, catalog))
    assert response.id == 99
    assert response.rcode() == dns.rcode.NOTIMP
    assert response.opcode() == opcode


def test_it_answers_notimp_for_update(catalog):
    update = dns.message.make_query("example.com.", "SOA")
    update.set_opcode(dns.opcode.UPDATE)
    assert parse(answer(update.to_wire(), catalog)).rcode() == dns.rcode.NOTIMP


def test_it_advertises_a_1232_byte_payload_over_edns(catalog):
    response = parse(answer(wire_query(use_edns=0, payload=4096), catalog))
    assert response.edns == 0
    assert response.payload == 1232


def test_it_answers_without_opt_a_query_without_opt(catalog):
    assert parse(answer(wire_query(), catalog)).edns == -1


def test_it_answers_badvers_to_edns_versions_above_zero(catalog):
    response = parse(answer(wire_query(use_edns=1), catalog))
    assert response.rcode() == dns.rcode.BADVERS
    assert response.edns == 0
    assert response.answer == []


def test_it_answers_formerr_to_two_opt_records(catalog):
    response = answer(header(5, 0x0100, ar=2) + QUESTION + OPT + OPT, catalog)
    assert parse(response).rcode() == dns.rcode.FORMERR


def test_it_answers_formerr_to_an_opt_outside_the_additional_section(catalog):
    response = answer(header(5, 0x0100, an=1) + QUESTION + OPT, catalog)
    assert parse(response).rcode() == dns.rcode.FORMERR


def test_it_copies_the_do_bit(catalog):
    assert parse(answer(wire_query(want_dnssec=True), catalog)).ednsflags & dns.flags.DO
    assert not parse(answer(wire_query(use_edns=0), catalog)).ednsflags & dns.flags.DO


def test_it_does_not_echo_unknown_edns_options(catalog):
    option = dns.edns.GenericOption(65001, b"secret")
    response = parse(answer(wire_query(use_edns=0, options=[option]), catalog))
    assert response.rcode() == dns.rcode.NOERROR
    assert response.options == ()


def test_it_copies_rd_and_cd(catalog):
    query = dns.message.make_query("www.example.com.", "A")
    query.flags |= dns.flags.CD
    response = parse(answer(query.to_wire(), catalog))
    assert response.flags & dns.flags.RD and response.flags & dns.flags.CD
    assert not response.flags & dns.flags.RA
    query.flags &= ~(dns.flags.RD | dns.flags.CD)
    response = parse(answer(query.to_wire(), catalog))
    assert not response.flags & (dns.flags.RD | dns.flags.CD)


def test_udp_answers_fit_in_512_bytes_without_edns(catalog):
    # 60 A records: about 1000 bytes.
    response = answer(wire_query("big.example.com."), catalog)
    assert len(response) <= 512
    parsed = parse(response)
    assert parsed.flags & dns.flags.TC
    assert parsed.answer == []  # RFC 2181 9: whole RRsets or nothing


def test_udp_answers_use_the_clients_edns_size(catalog):
    response = parse(answer(wire_query("big.example.com.", use_edns=0, payload=1232), catalog))
    assert not response.flags & dns.flags.TC
    assert len(response.answer[0]) == 60


def test_edns_sizes_below_512_count_as_512(catalog):
    response = answer(wire_query("www.example.com.", use_edns=0, payload=100), catalog)
    assert not parse(response).flags & dns.flags.TC


def test_udp_answers_never_exceed_our_advertised_size():
    records = "".join(f"many IN A 198.51.100.{i}\n" for i in range(1, 101))
    catalog = ZoneCatalog([zone_from_text(EXAMPLE_COM + records, "example.com.")])
    udp = answer(wire_query("many.example.com.", use_edns=0, payload=4096), catalog)
    assert len(udp) <= 1232
    assert parse(udp).flags & dns.flags.TC
    tcp = parse(answer(wire_query("many.example.com.", use_edns=0), catalog, tcp=True))
    assert not tcp.flags & dns.flags.TC
    assert len(tcp.answer[0]) == 100


def test_axfr_over_udp_is_a_format_error(catalog):
    response = parse(answer(wire_query("example.com.", "AXFR"), catalog))
    assert response.rcode() == dns.rcode.FORMERR


def test_ixfr_over_udp_gets_the_soa_alone_to_send_the_client_to_tcp(catalog):
    response = parse(answer(wire_query("example.com.", "IXFR"), catalog))
    assert response.rcode() == dns.rcode.NOERROR and not response.flags & dns.flags.AA
    assert [(r.name.to_text(), r.rdtype) for r in response.answer] == [
        ("example.com.", dns.rdatatype.SOA)
    ]


def test_ixfr_over_udp_below_the_apex_is_not_authoritative(catalog):
    response = parse(answer(wire_query("www.example.com.", "IXFR"), catalog))
    assert response.rcode() == dns.rcode.NOTAUTH


def test_transfers_are_never_served_by_answer(catalog):
    # Only the server, which knows the client's address, may run a transfer.
    response = parse(answer(wire_query("example.com.", "AXFR"), catalog, tcp=True))
    assert response.rcode() == dns.rcode.REFUSED
    assert response.answer == []


@pytest.mark.parametrize(
    ("rdtype", "rcode"),
    [(dns.rdatatype.OPT, dns.rcode.FORMERR), (dns.rdatatype.MAILB, dns.rcode.NOTIMP)],
)
def test_meta_types_are_not_looked_up(catalog, rdtype, rcode):
    assert parse(answer(wire_query("www.example.com.", rdtype), catalog)).rcode() == rcode


def test_an_exception_while_answering_becomes_servfail_with_the_question(caplog):
    soa = zone_from_text(EXAMPLE_COM, "example.com.").soa[0].to_wire()
    # A CNAME whose target is cut short: decoding it, to follow it, fails.
    broken = build_zone("broken.test.", [("@", 60, 6, soa), ("x", 60, 5, b"\x05ab")])
    catalog = ZoneCatalog([broken])
    with caplog.at_level(logging.ERROR, logger="dnsadmin.names.authority"):
        response = parse(answer(wire_query("x.broken.test."), catalog))
    assert response.rcode() == dns.rcode.SERVFAIL
    assert response.question[0].name.to_text() == "x.broken.test."
    assert "SERVFAIL" in caplog.text


def test_each_answer_carries_the_id_of_its_query(catalog):
    first = dns.message.make_query("www.example.com.", "A")
    second = dns.message.make_query("www.example.com.", "A")
    second.id = (first.id + 1) % 65536
    one, two = answer(first.to_wire(), catalog), answer(second.to_wire(), catalog)
    assert parse(one).id == first.id and parse(two).id == second.id
    assert one[2:] == two[2:]


def test_changing_a_zone_changes_the_answers(catalog):
    query = wire_query("www.example.com.")
    assert parse(answer(query, catalog)).answer[0][0].to_text() == "192.0.2.10"
    changed = EXAMPLE_COM.replace("192.0.2.10", "192.0.2.11")
    generation = catalog.generation
    catalog.replace(zone_from_text(changed, "example.com."))
    assert catalog.generation > generation
    assert parse(answer(query, catalog)).answer[0][0].to_text() == "192.0.2.11"

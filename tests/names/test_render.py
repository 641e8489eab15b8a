"""The message writer: name compression where RFC 3597 allows it, all-or-nothing RRsets."""

from __future__ import annotations

import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from dnsadmin.names.render import MessageWriter, Records

QNAME = dns.name.from_text("WwW.Example.COM.")
QUESTION = QNAME.to_wire() + b"\x00\x01\x00\x01"
ANSWER, AUTHORITY = 1, 2


def records(rdtype: str, *texts: str, ttl: int = 300) -> Records:
    kind = dns.rdatatype.from_text(rdtype)
    wires = tuple(dns.rdata.from_text(dns.rdataclass.IN, kind, t).to_wire() for t in texts)
    return Records(kind, ttl, wires)


def written(writer: MessageWriter) -> tuple[bytes, dns.message.Message]:
    wire = writer.finish(0x1234, 0x8400)
    return wire, dns.message.from_wire(wire)


def test_an_owner_equal_to_the_question_is_a_pointer_to_it():
    writer = MessageWriter(QUESTION, QNAME, 512)
    writer.add(ANSWER, dns.name.from_text("www.example.com."), records("A", "192.0.2.1"))
    wire, message = written(writer)
    assert wire[12 + len(QUESTION) :].startswith(b"\xc0\x0c")
    assert message.answer[0].name == QNAME
    assert message.question[0].name.labels == QNAME.labels


def test_names_inside_rfc_1035_types_are_compressed():
    writer = MessageWriter(QUESTION, QNAME, 512)
    writer.add(ANSWER, QNAME, records("MX", "10 mail.example.com."))
    wire, message = written(writer)
    assert b"\x07example" not in wire[12 + len(QUESTION) :]
    assert message.answer[0][0].exchange == dns.name.from_text("mail.example.com.")


def test_names_inside_newer_types_are_written_in_full():
    # RFC 3597 4 for SRV, RFC 6672 2.5 for DNAME: no compression inside their rdata.
    writer = MessageWriter(QUESTION, QNAME, 512)
    writer.add(ANSWER, QNAME, records("SRV", "1 2 3 www.example.com."))
    writer.add(ANSWER, QNAME, records("DNAME", "example.com."))
    wire, message = written(writer)
    assert wire.count(b"\x03www\x07example\x03com\x00") == 1
    assert wire.count(b"\x07example\x03com\x00") == 2
    assert [r.rdtype for r in message.answer] == [dns.rdatatype.SRV, dns.rdatatype.DNAME]


def test_an_rrset_that_does_not_fit_leaves_no_trace():
    writer = MessageWriter(QUESTION, QNAME, 200)
    too_big = records("NS", *(f"ns{i}.other.test." for i in range(30)))
    assert not writer.add(AUTHORITY, dns.name.from_text("other.test."), too_big)
    assert writer.add(AUTHORITY, dns.name.from_text("other.test."), records("NS", "a.other.test."))
    wire, message = written(writer)
    assert len(wire) <= 200
    assert [str(r[0]) for r in message.authority] == ["a.other.test."]
    assert message.answer == []


def test_a_message_larger_than_pointers_reach_stays_valid():
    writer = MessageWriter(QUESTION, QNAME, 65535)
    for i in range(1500):
        owner = dns.name.from_text(f"host{i}.example.com.")
        assert writer.add(ANSWER, owner, records("CNAME", f"target{i}.example.com."))
    wire, message = written(writer)
    assert len(wire) > 0x4000
    assert message.answer[-1][0].target == dns.name.from_text("target1499.example.com.")


def test_the_opt_record_goes_in_reserved_space():
    writer = MessageWriter(QUESTION, QNAME, 512)
    writer.reserve(11)
    writer.add_opt(1232, 0x8000)
    _, message = written(writer)
    assert message.payload == 1232
    assert message.ednsflags & 0x8000

"""Reading the question: for the listener (zone transfers) and the query log."""

from __future__ import annotations

import dns.message
import dns.name
import dns.rdatatype
import pytest

from dnsadmin.names.wire import question_text, question_type


@pytest.mark.parametrize(
    "name",
    [
        "www.example.com.",
        "WwW.Example.COM.",
        "_sip._udp.x-1.example.",
        ".",
        "a\\.b.example.",
        "\\200.example.",
        "sp\\032ace.example.",
        "\\..\\.\\..example.",  # labels of dots only: as many dots as joining labels
        "a.b\\.c.d\\@.example.",
    ],
)
def test_the_logged_question_reads_as_dnspython_writes_it(name):
    query = dns.message.make_query(name, "MX").to_wire()
    assert question_text(query) == (dns.name.from_text(name).to_text(), dns.rdatatype.MX)


def test_an_unreadable_question_is_logged_as_empty():
    query = dns.message.make_query("www.example.com.", "A").to_wire()
    assert question_text(query[:20]) == ("", 0)
    assert question_text(query[:12] + b"\xc0\x0c" + query[-4:]) == ("", 0)  # a pointer to itself
    assert question_text(query[:12] + b"\x50" + query[13:]) == ("", 0)  # an extended label type


def test_the_listener_spots_transfers_without_parsing_the_message():
    assert question_type(dns.message.make_query("example.", "AXFR").to_wire()) == 252
    assert question_type(dns.message.make_query("x.", "A").to_wire()) == dns.rdatatype.A
    assert question_type(b"\x00" * 12 + b"\xc0\x0c") == 0
    assert question_type(b"\x00" * 5) == 0

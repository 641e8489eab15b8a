"""The kept answers' lookup hands on a query's bytes as far as its first zero byte as the
name of its question, unchecked (memo.AnswerMemo.get): bytes that are not the name find no
answer by a lookup of names, and the chain checks them before it reads their labels, so that
such a query gets the general path's answer."""

from __future__ import annotations

import random
import struct

import dns.message
import dns.rcode

from dnsadmin.names import authority
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import OUTSIDE_SPAN, ChainConfig, ResolverChain
from dnsadmin.names.memo import question_end
from dnsadmin.names.zone import zone_from_text
from tests.names.zones import authoritative, make_catalog

CLIENT = "127.0.0.1"
EXAMPLE_COM = b"\7example\3com\0"


def raw_query(name: bytes, qtype: int = 1) -> bytes:
    """Return a standard query (RD set) for name, bytes taken as they are."""
    return struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", qtype, 1)


def rcode(response: bytes) -> int:
    return response[3] & 0xF


def keep_name_errors(chain: ResolverChain) -> None:
    """Have the chain keep name errors below example.com's origin (memo.Templates.below)."""
    for label in (b"a" * 63, b"b" * 63, b"zz", b"yy"):
        query = raw_query(bytes([len(label)]) + label + EXAMPLE_COM)
        chain.resolve(query, tcp=False, client=CLIENT)
        chain.at_once(query, CLIENT)
    assert chain.templates.below


def test_a_label_longer_than_63_bytes_is_formerr_not_a_name_error_below_the_origin():
    """A first "label" of 64 bytes before the origin walks to the zone; it is no name."""
    catalog = make_catalog()
    chain = authoritative(catalog)
    keep_name_errors(chain)
    query = raw_query(b"\x40" + b"c" * 64 + EXAMPLE_COM)
    assert chain.at_once(query, CLIENT) is None  # the general path's
    response, _ = chain.resolve(query, tcp=False, client=CLIENT)
    assert rcode(response) == dns.rcode.FORMERR


def test_a_length_past_the_end_of_the_name_is_formerr():
    catalog = make_catalog()
    chain = authoritative(catalog)
    query = raw_query(b"\x3fabc\0")
    assert chain.at_once(query, CLIENT) is None
    response, _ = chain.resolve(query, tcp=False, client=CLIENT)
    assert rcode(response) == dns.rcode.FORMERR


def answered(chain: ResolverChain, query: bytes) -> tuple[bytes, str]:
    """Return the chain's UDP answer to query the way the server gets it, and its source."""
    found = chain.at_once(query, CLIENT)
    if type(found) is tuple:
        return found
    return chain.resolve(query, tcp=False, client=CLIENT, outside=found)


def test_a_name_with_a_zero_byte_in_a_label_gets_the_zones_answer():
    catalog = make_catalog()
    chain = authoritative(catalog)
    keep_name_errors(chain)
    for label in (b"ab\0cd", b"A\0\0\1\0\1"):  # (the second: "type A, class IN" after a zero)
        query = raw_query(bytes([len(label)]) + label + EXAMPLE_COM)
        response, source = answered(chain, query)
        assert source == "authority"
        assert response == authority.answer(query, catalog)
        assert dns.message.from_wire(response).rcode() == dns.rcode.NXDOMAIN


def test_a_flood_of_random_names_with_a_zero_byte_in_a_label_is_answered_at_once():
    """Such names are read by their labels, and the name error kept below the origin
    answers them as it answers any random name there: not one the general path's."""
    catalog = make_catalog()
    chain = authoritative(catalog)
    rng = random.Random(7)
    for number in range(50):
        label = bytes(rng.choice(b"abcdefgh") for _ in range(8))
        label = label[:2] + b"\0" + label[3:]
        query = raw_query(b"\x08" + label + EXAMPLE_COM)
        kept = chain.at_once(query, CLIENT)
        if number:
            assert kept == (authority.answer(query, catalog), "authority")
        else:
            chain.resolve(query, tcp=False, client=CLIENT)  # (the first: worked out, and kept)


def test_a_name_in_our_zone_is_not_told_outside_them_for_a_zero_byte_in_a_label():
    """A client that may recurse: what at_once tells of a miss outside our zones (an int)
    spares resolve() the zones' lookup, so it is told of the question's name only."""
    soa = "$TTL 300\n@ IN SOA ns hm 1 7200 900 1209600 300\n@ IN NS ns\nns IN A 192.0.2.1\n"
    catalog = ZoneCatalog([zone_from_text(soa, "example.com.")])
    config = ChainConfig(allow_recursion=["127.0.0.0/8"], forwarders=["127.0.0.1"], port=9)
    chain = ResolverChain(catalog, config)
    chain.resolve(raw_query(b"\2ns" + EXAMPLE_COM), tcp=False, client=CLIENT)  # (client known)
    query = raw_query(b"\6A\0\0\1\0\1" + EXAMPLE_COM)
    assert type(chain.at_once(query, CLIENT)) is not int
    response, source = answered(chain, query)
    assert source == "authority"
    assert dns.message.from_wire(response).rcode() == dns.rcode.NXDOMAIN


def test_a_name_outside_our_zones_is_told_with_where_its_name_ends():
    """What at_once tells resolve() of a miss outside our zones (an int) says where the
    question's name ends: never the first zero byte's place, for a zero byte in a label."""
    soa = "$TTL 300\n@ IN SOA ns hm 1 7200 900 1209600 300\n@ IN NS ns\nns IN A 192.0.2.1\n"
    catalog = ZoneCatalog([zone_from_text(soa, "example.com.")])
    config = ChainConfig(allow_recursion=["127.0.0.0/8"], forwarders=["127.0.0.1"], port=9)
    chain = ResolverChain(catalog, config)
    chain.resolve(raw_query(b"\2ns" + EXAMPLE_COM), tcp=False, client=CLIENT)  # (client known)
    for name in (b"\6A\0\0\1\0\1\7example\3net\0", b"\3www\7example\3net\0"):
        query = raw_query(name)
        found = chain.at_once(query, CLIENT)
        assert type(found) is not int or found % OUTSIDE_SPAN == question_end(query), name
    assert type(found) is int  # (the plain name: told outside, where its name ends)

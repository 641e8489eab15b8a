"""A cache miss's first steps cut short: a name whose labels after the first were read before
is taken for a plain name from its first label alone (wire.known_name), a plain query is read
in one go (wire.plain_query), and what a resolution found is written as its records are."""

from __future__ import annotations

import gc
import weakref

import dns.message
import dns.name
import pytest

from dnsadmin.names import authority, wire
from dnsadmin.names.answer import Kind
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import OUTSIDE_SPAN, RA, ChainConfig, ResolverChain
from dnsadmin.names.memo import question_end
from dnsadmin.names.recursive import Found
from dnsadmin.names.render import Records
from dnsadmin.names.zone import zone_from_text

CLIENT = "127.0.0.1"
ZONE = "$TTL 300\n@ IN SOA ns hm 1 7200 900 1209600 300\n@ IN NS ns\nns IN A 192.0.2.1\n"
PARENT = b"\x07example\x03net\x00"
HEADER = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
TAIL = b"\x00\x01\x00\x01"  # A, IN


@pytest.fixture
def chain() -> ResolverChain:
    """A chain that forwards, our zone first, whose client may recurse and whose question
    names' parent (example.net.) was read before."""
    catalog = ZoneCatalog([zone_from_text(ZONE, "example.org.")])
    made = ResolverChain(catalog, ChainConfig(forwarders=["127.0.0.1:1"]))
    made.allows_recursion(CLIENT)
    known = HEADER + b"\x01x" + PARENT + TAIL
    assert wire.question_name(known, question_end(known)) is not None  # the parent kept
    return made


def test_a_plain_name_outside_our_zones_is_told_where_it_ends(chain):
    query = HEADER + b"\x01y" + PARENT + TAIL
    assert wire.known_name(query, 12, 12 + 2 + len(PARENT))
    outside = chain.at_once(query, CLIENT)
    assert outside == 12 + 2 + len(PARENT) + chain.catalog.generation * OUTSIDE_SPAN


@pytest.mark.parametrize(
    "query",
    [
        # a first length past 63, before a name read before: no label (question_end's 0)
        HEADER + b"\x40" + b"a" * 64 + PARENT + TAIL,
        HEADER + b"\x7f" + b"a" * 127 + PARENT + TAIL,
        # two questions
        HEADER[:4] + b"\x00\x02" + HEADER[6:] + b"\x01y" + PARENT + TAIL + b"\x01z" + PARENT + TAIL,
    ],
)
def test_a_name_after_a_first_byte_that_is_no_label_is_no_plain_name(chain, query):
    end = query.find(b"\0", 12) + 1
    assert query[end - len(PARENT) : end] == PARENT  # the rest is the name read before
    assert question_end(query) != end
    assert chain.at_once(query, CLIENT) is None  # the general path reads it


def test_a_name_whose_rest_was_not_read_is_walked():
    query = HEADER + b"\x01y\x07example\x04test\x00" + TAIL
    assert not wire.known_name(query, 12, question_end(query))  # walked by question_end then


@pytest.mark.parametrize(
    "tail",
    [
        b"\x01\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00",  # an OPT not owned by the root
        b"\x00\x00\x01\x04\xd0\x00\x00\x00\x00\x00\x00",  # an A record, not an OPT
        b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x04\x00\x0a\x00\x00",  # an option
    ],
)
def test_a_query_with_another_record_than_a_plain_opt_is_not_plain(tail):
    query = HEADER[:10] + b"\x00\x01" + b"\x01y" + PARENT + TAIL + tail
    assert wire.plain_query(query, question_end(query)) is None


def test_what_a_resolution_found_is_written_as_its_records_are():
    message = dns.message.make_query("Www.Example.NET.", "A", use_edns=0)
    query = message.to_wire()
    end = question_end(query)
    parsed = wire.plain_query(query, end)
    parsed.qname = wire.question_name(query, end)
    wires = (bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))
    found = Found(Kind.ANSWER, parsed.qname, 1, 300, wires, None, ())
    written = wire.write_answer(parsed, found, RA)
    assert written == wire.write_answer(parsed, Records(1, 300, wires), RA)
    assert dns.message.from_wire(written).answer[0].name == dns.name.from_text("www.example.net.")


def test_a_parent_found_outside_our_zones_is_looked_up_again_once_they_change():
    """authority.closest remembers the parents of names it found outside every zone, for the
    zones it looked in: a zone published since at the parent, or above it, holds its names."""
    catalog = ZoneCatalog([zone_from_text(ZONE, "example.org.")])
    name = b"\x01a" + PARENT
    for _ in range(2):  # the second time, the parent is remembered outside
        assert authority.closest(name, catalog.by_wire) == (None, 0)
    catalog.replace(zone_from_text(ZONE, "net."))
    zone, position = authority.closest(name, catalog.by_wire)
    assert (zone.origin, position) == (dns.name.from_text("net."), 2 + len(PARENT) - 5)
    catalog.replace(zone_from_text(ZONE, "example.net."))
    zone, position = authority.closest(name, catalog.by_wire)
    assert (zone.origin, position) == (dns.name.from_text("example.net."), 2)
    assert authority.closest(b"\x01b\x01a" + PARENT, catalog.by_wire)[1] == 4


def test_the_names_found_outside_go_with_the_zones_they_were_found_outside_of():
    """The parents remembered outside are the catalog's own, dropped with its zones when they
    change: nothing holds a replaced zone (a large one, reloaded whole) past its time."""
    catalog = ZoneCatalog([zone_from_text(ZONE, "example.org.")])
    replaced = weakref.ref(next(iter(catalog.by_wire.values())))
    assert authority.closest(b"\x01a" + PARENT, catalog.by_wire) == (None, 0)
    assert catalog.by_wire.outside == {PARENT}
    catalog.replace(zone_from_text(ZONE, "example.org."))
    gc.collect()
    assert replaced() is None and not catalog.by_wire.outside


@pytest.mark.parametrize(
    ("name", "found"),
    [
        (b"\x00", 0),  # the root
        (b"\x01a\x00", 0),
        (b"\x01b\x01a\x00", 0),
        (b"\x05ab", -1),  # a length past the end
        (b"\x01a\x05ab", -1),
        (b"\x01a\x01b\x05ab", -1),
        (b"", -1),
    ],
)
def test_names_outside_our_zones_are_found_so_the_second_time_too(name, found):
    zones = ZoneCatalog([zone_from_text(ZONE, "example.org.")]).by_wire
    assert authority.closest(name, zones) == authority.closest(name, zones) == (None, found)

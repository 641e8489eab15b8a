"""Differential test: BIND 9 and our server serve the same zones and must agree.

Compared: rcode, AA, TC, and the answer and authority sections as sets of RRsets. The additional
section is not compared: glue choice is a matter of policy (both include in-domain glue).

Left out on purpose: CNAME and DNAME chains that leave the zone for another zone we serve (we
follow them, per RFC 1034 4.3.2 step 3a; BIND 9.18 stops at the zone boundary), CNAME loops, and
ANY (RFC 8482 lets each server pick its answer). Those are covered in test_authority.py.
"""

from __future__ import annotations

import itertools
import random

import dns.flags
import dns.message
import dns.rrset
import pytest

from tests.names.zones import query_server, rrsets_of

pytestmark = pytest.mark.integration

NAMES = [
    "example.com.", "ns1", "mail", "www", "WwW", "one", "two", "ext",
    "x.wild", "a.b.wild", "*.wild", "deep.wild", "x.deep.wild", "wild", "a.b.c", "b.c", "c",
    "x.c", "x.b.c", "sub", "x.sub", "ns.sub", "y.ns.sub", "SUB", "away", "host.away", "dn",
    "x.dn", "a.b.dn", "host.dn", "missing.dn", "_sip._udp", "_udp", "big", "nothere", "x.wc",
    "y.x.wc", "wc", "host.example.net.", "nx.example.net.", "example.net.", "intosub", "mxsub",
]  # fmt: skip
TYPES = ["A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME", "DS", "SRV", "DNAME", "PTR"]


def absolute(name: str) -> str:
    return name if name.endswith(".") else f"{name}.example.com."


def summary(response: dns.message.Message) -> tuple:
    truncated = bool(response.flags & dns.flags.TC)
    if truncated:
        # BIND fills a truncated answer with the records that fit; we drop whole RRsets
        # (RFC 2181 9). Either way the client must retry over TCP, so only the header counts.
        return response.rcode(), bool(response.flags & dns.flags.AA), truncated
    return (
        response.rcode(),
        bool(response.flags & dns.flags.AA),
        truncated,
        rrsets_of(response.answer),
        rrsets_of(response.authority),
    )


def disagreements(ours: int, theirs: int, queries, *, tcp: bool = False) -> list[str]:
    found = []
    for query in queries:
        mine = summary(query_server(ours, query, tcp=tcp))
        reference = summary(query_server(theirs, query, tcp=tcp))
        if mine != reference:
            found.append(f"{query.question[0]}:\n  ours {mine}\n  BIND {reference}")
    return found


def test_it_agrees_with_bind_over_udp_with_edns(threaded_server, bind):
    queries = [
        dns.message.make_query(absolute(name), rdtype, use_edns=0, payload=1232)
        for name, rdtype in itertools.product(NAMES, TYPES)
    ]
    assert len(queries) > 400
    assert disagreements(threaded_server.port, bind.port, queries) == []


def test_it_agrees_with_bind_over_udp_without_edns(threaded_server, bind):
    # Without EDNS the 512-byte limit truncates the large RRset: both must set TC.
    queries = [
        dns.message.make_query(absolute(name), rdtype)
        for name, rdtype in itertools.product(["big", "www", "x.sub", "nothere", "one"], TYPES)
    ]
    assert disagreements(threaded_server.port, bind.port, queries) == []
    truncated = query_server(threaded_server.port, dns.message.make_query("big.example.com.", "A"))
    assert truncated.flags & dns.flags.TC


def test_it_agrees_with_bind_over_tcp(threaded_server, bind):
    queries = [
        dns.message.make_query(absolute(name), rdtype)
        for name, rdtype in itertools.product(["big", "www", "x.sub", "x.dn", "x.wc"], TYPES)
    ]
    assert disagreements(threaded_server.port, bind.port, queries, tcp=True) == []


def in_random_case(name: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)


def test_it_agrees_with_bind_on_the_same_questions_in_random_case(threaded_server, bind):
    # Resolvers ask in random case ("0x20"): each question twice (worked out, then from what
    # was kept, whose key is case-folded), each time in a new random case echoed as sent.
    rng = random.Random(32)
    pairs = list(itertools.product(NAMES, TYPES))
    for _ in range(2):
        queries = [
            dns.message.make_query(in_random_case(absolute(name), rng), rdtype, use_edns=0)
            for name, rdtype in pairs
        ]
        assert disagreements(threaded_server.port, bind.port, queries) == []
        for query in queries[::7]:
            echoed = query_server(threaded_server.port, query).question[0].name
            assert echoed.to_text() == query.question[0].name.to_text()


def ixfr(serial: int) -> dns.message.Message:
    query = dns.message.make_query("example.com.", "IXFR")
    soa = f"ns1.example.com. hostmaster.example.com. {serial} 7200 900 1209600 600"
    query.authority.append(dns.rrset.from_text("example.com.", 0, "IN", "SOA", soa))
    return query


def test_it_agrees_with_bind_on_transfer_requests(threaded_server, bind):
    # Over UDP an IXFR gets the SOA alone; over TCP a client behind gets the zone (the first
    # message is compared), a current one the SOA; other names and classes are not ours.
    udp = [ixfr(2024010100), ixfr(2024010101), dns.message.make_query("www.example.com.", "IXFR")]
    tcp = [*udp, dns.message.make_query("example.com.", "AXFR", rdclass="CH")]
    assert disagreements(threaded_server.port, bind.port, udp) == []
    assert disagreements(threaded_server.port, bind.port, tcp, tcp=True) == []

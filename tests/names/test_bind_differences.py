"""Odd but legal (or tolerated) queries, answered as BIND 9 answers them, asked of both.

Found by fuzzing rundns beside BIND: trailing bytes after a message, version.bind in class
CHAOS, TSIG and SIG(0) records in a plain query, a long chain of backward compression
pointers, an OPT record whose owner is written as a pointer. We follow BIND where no RFC
says otherwise.
"""

from __future__ import annotations

import socket
import struct

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import pytest

from dnsadmin.names.chain import ChainConfig, ResolverChain
from dnsadmin.names.server import DNSServer
from tests.dnsadmin.test_rundns import start_rundns, stop
from tests.names.zones import ThreadedServer

pytestmark = pytest.mark.integration

WWW = dns.name.from_text("www.example.com.").to_wire()
QUESTION = WWW + b"\x00\x01\x00\x01"  # www.example.com. A IN


def header(ident: int, arcount: int) -> bytes:
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, arcount)


def ask(port: int, query: bytes) -> dns.message.Message | None:
    """Return the reply to query over UDP, parsed leniently; None when nothing came back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(query, ("127.0.0.1", port))
        try:
            reply = sock.recv(65535)
        except TimeoutError:
            return None
    return dns.message.from_wire(reply, ignore_trailing=True, keyring=False)


def summary(reply: dns.message.Message | None) -> tuple:
    """Return what must agree: the rcode, the AA flag, the answer and whether EDNS came back."""
    if reply is None:
        return (None,)
    answer = sorted(rrset.to_text() for rrset in reply.answer)
    return dns.rcode.to_text(reply.rcode()), bool(reply.flags & 0x0400), answer, reply.edns


def pointer_chain(hops: int) -> bytes:
    """Return a query whose additional A record's owner is reached through hops compression
    pointers, each pointing back at the one before, the first at the question's name."""
    chain, previous = b"", 12
    base = 12 + len(QUESTION) + 11  # the first record's rdata: after its root owner and header
    for _ in range(hops):
        chain += struct.pack("!H", 0xC000 | previous)
        previous = base + len(chain) - 2
    holder = b"\x00" + struct.pack("!HHIH", dns.rdatatype.NULL, 1, 0, len(chain)) + chain
    record = struct.pack("!H", 0xC000 | previous) + struct.pack("!HHIH", 1, 1, 0, 4) + bytes(4)
    return header(0x2001, 2) + QUESTION + holder + record


def opt_owned_by_a_pointer() -> bytes:
    """Return a query whose OPT record's owner is a pointer to the question's root label."""
    root_label = 12 + len(WWW) - 1
    opt = struct.pack("!H", 0xC000 | root_label) + struct.pack("!HHIH", 41, 1232, 0, 0)
    return header(0x2002, 1) + QUESTION + opt


def sig0_query() -> bytes:
    """Return a query with a SIG(0) record (RFC 2931) by a key nobody knows."""
    signer = dns.name.from_text("key.example.com.").to_wire()
    rdata = struct.pack("!HBBIIIH", 0, 8, 0, 0, 2000000000, 1000000000, 12345) + signer
    rdata += bytes(64)
    sig = b"\x00" + struct.pack("!HHIH", dns.rdatatype.SIG, 255, 0, len(rdata)) + rdata
    return header(0x2003, 1) + QUESTION + sig


ODD_QUERIES = {
    "trailing bytes": header(0x2000, 0) + QUESTION + b"\x00\x00garbage",
    "200 backward pointers": pointer_chain(200),
    "OPT owner as a pointer": opt_owned_by_a_pointer(),
    "SIG(0) by an unknown key": sig0_query(),
}


@pytest.mark.parametrize("case", ODD_QUERIES)
def test_an_odd_query_is_answered_as_bind_answers_it(case, bind, threaded_server):
    query = ODD_QUERIES[case]
    theirs = ask(bind.port, query)
    assert theirs is not None and theirs.rcode() == dns.rcode.NOERROR  # BIND answers
    assert summary(ask(threaded_server.port, query)) == summary(theirs)


def version_query() -> bytes:
    return dns.message.make_query("VERSION.bind.", "TXT", "CH").to_wire()


def test_version_bind_is_answered_as_bind_answers_it(bind, threaded_server):
    theirs, mine = ask(bind.port, version_query()), ask(threaded_server.port, version_query())
    for reply in (theirs, mine):
        assert reply.rcode() == dns.rcode.NOERROR and reply.flags & 0x0400
        (rrset,) = reply.answer
        assert (rrset.rdclass, rrset.rdtype, rrset.ttl) == (dns.rdataclass.CH, 16, 0)
        assert rrset.name.to_text() == "VERSION.bind."
    assert mine.answer[0][0].strings == (b"rundns",)


def test_a_configured_version_is_answered_and_none_hides_it(catalog):
    for version, expected in (("my resolver 1.0", "NOERROR"), (None, "REFUSED")):
        threaded = ThreadedServer(catalog)
        threaded.server = DNSServer(ResolverChain(catalog, ChainConfig(version=version)))
        threaded.start()
        try:
            reply = ask(threaded.port, version_query())
        finally:
            threaded.stop()
        assert dns.rcode.to_text(reply.rcode()) == expected
        if version:
            assert reply.answer[0][0].strings == (version.encode(),)


def tsig_query() -> bytes:
    query = dns.message.make_query("www.example.com.", "A")
    keyring = dns.tsigkeyring.from_text({"unknown.key.": "c2VjcmV0c2VjcmV0c2VjcmV0"})
    query.use_tsig(keyring, keyname="unknown.key.")
    return query.to_wire()


def tsig_error(reply: dns.message.Message) -> tuple[str, int | None]:
    """Return the rcode and the TSIG record's error of a reply to a signed query."""
    tsig = reply.tsig[0] if reply.tsig else None
    return dns.rcode.to_text(reply.rcode()), tsig.error if tsig is not None else None


def test_a_query_signed_with_an_unknown_key_gets_notauth_badkey_as_from_bind(bind, worker_env):
    theirs = ask(bind.port, tsig_query())
    assert tsig_error(theirs) == ("NOTAUTH", dns.rcode.BADKEY)
    server = start_rundns(worker_env)
    try:
        assert tsig_error(ask(server.port, tsig_query())) == tsig_error(theirs)
    finally:
        stop(server)

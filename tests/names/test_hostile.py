"""Hostile input: whatever arrives, the listeners keep answering."""

from __future__ import annotations

import random
import socket
import struct

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from tests.names.zones import query_server

pytestmark = pytest.mark.integration

QUESTION = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"
OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"


def header(qd: int = 1, ar: int = 0, flags: int = 0x0100) -> bytes:
    return struct.pack("!HHHHHH", 0x4242, flags, qd, 0, 0, ar)


NASTY = [
    b"",
    b"\x00",
    header()[:11],
    header(),
    header() + b"\xc0\x0c\x00\x01\x00\x01",  # compression pointer to itself
    header() + b"\x01a\xc0\x0c\x00\x01\x00\x01",  # pointer loop through a label
    header(qd=0xFFFF) + QUESTION * 3,
    header(ar=3) + QUESTION + OPT * 3,
    header(ar=1) + QUESTION + OPT[:-1] + b"\x05",  # OPT rdata longer than the packet
    header(ar=1) + QUESTION + OPT[:-2] + b"\x00\x04\x00\x01\x00\x09",  # option overruns
    header() + b"\x3f" + b"a" * 63 + b"\x00\x00\x01",  # question cut in its type
    header(flags=0xFFFF) + QUESTION,  # every flag, response bit included
    header(flags=0x7800) + QUESTION,  # opcode 15
]


def still_answers(port: int) -> None:
    query = dns.message.make_query("www.example.com.", "A")
    # A flood may fill the socket buffer and the kernel then drops datagrams, ours included:
    # like any UDP client, retry.
    for _ in range(3):
        try:
            response = dns.query.udp(query, "127.0.0.1", port=port, timeout=2)
            break
        except dns.exception.Timeout:
            continue
    assert response.rcode() == dns.rcode.NOERROR


def send_udp(port: int, packets: list[bytes]) -> list[bytes]:
    replies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        for packet in packets:
            sock.sendto(packet, ("127.0.0.1", port))
            try:
                replies.append(sock.recv(65535))
            except TimeoutError:
                replies.append(b"")
    return replies


def test_malformed_udp_packets_get_formerr_or_nothing(threaded_server):
    replies = send_udp(threaded_server.port, NASTY)
    for packet, reply in zip(NASTY, replies, strict=True):
        if reply:
            assert reply[:2] == b"\x42\x42", packet
            assert reply[3] & 0xF in (dns.rcode.FORMERR, dns.rcode.NOTIMP), packet
    assert replies[0] == replies[1] == replies[2] == b""
    still_answers(threaded_server.port)


def test_random_bytes_do_not_stop_the_listener(threaded_server):
    rng = random.Random(20240101)
    packets = [rng.randbytes(rng.randrange(0, 600)) for _ in range(300)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in packets:
            sock.sendto(packet, ("127.0.0.1", threaded_server.port))
    still_answers(threaded_server.port)


def test_garbage_over_tcp_does_not_stop_the_listener(threaded_server):
    port = threaded_server.port
    for payload in (struct.pack("!H", len(NASTY[6])) + NASTY[6], b"\xff\xff" + b"x" * 10, b"\x00"):
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(payload)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(struct.pack("!H", len(NASTY[4])) + NASTY[4])
        length = struct.unpack("!H", sock.recv(2))[0]
        reply = sock.recv(length)
    assert reply[3] & 0xF == dns.rcode.FORMERR
    response = query_server(port, dns.message.make_query("www.example.com.", "A"), tcp=True)
    assert response.rcode() == dns.rcode.NOERROR

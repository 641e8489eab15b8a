"""A primary server on loopback that answers as a test tells it to, broken or hostile: the
SOA serial it claims over UDP, and the messages it sends for a transfer over TCP (cut off
after some, when asked)."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Sequence

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from tests.services import free_port

# A record as tests write it: owner, TTL, type, rdata text.
Line = tuple[str, int, str, str]


def soa_line(origin: str, serial: int, timers: str = "3600 900 604800 60") -> Line:
    return (origin, 300, "SOA", f"ns1.{origin} hostmaster.{origin} {serial} {timers}")


def zone_lines(origin: str, serial: int, *extra: Line) -> list[Line]:
    """An AXFR's records: the SOA, an apex NS and its address, ``extra``, the SOA again."""
    soa = soa_line(origin, serial)
    body = [(origin, 300, "NS", f"ns1.{origin}"), (f"ns1.{origin}", 300, "A", "192.0.2.53")]
    return [soa, *body, *extra, soa]


def messages(query: dns.message.Message, lines: Sequence[Line], per_message: int) -> list[bytes]:
    """The response messages carrying ``lines``, ``per_message`` records each."""
    out = []
    for start in range(0, max(len(lines), 1), per_message):
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        for name, ttl, rdtype, text in lines[start : start + per_message]:
            response.answer.append(dns.rrset.from_text(name, ttl, "IN", rdtype, text))
        out.append(response.to_wire())
    return out


class FakePrimary:
    """Answers SOA queries with ``serial`` and transfers with ``transfer(query)``'s lines,
    or with ``rcode`` for the query types in ``refuse``; ``cut_after`` messages, it closes
    the connection. ``queries`` records the transfer types asked for, in order."""

    def __init__(self, serial: int, transfer: Callable[[dns.message.Message], list[Line]]):
        self.serial = serial
        self.transfer = transfer
        self.refuse: dict[int, int] = {}  # query type: rcode
        self.cut_after: int | None = None
        self.per_message = 2
        self.queries: list[str] = []
        self.port = free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(8)
        self.threads = [
            threading.Thread(target=self.serve_udp, daemon=True),
            threading.Thread(target=self.serve_tcp, daemon=True),
        ]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FakePrimary:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.udp.close()
        self.tcp.close()

    def serve_udp(self) -> None:
        while True:
            try:
                data, client = self.udp.recvfrom(65535)
            except OSError:
                return
            query = dns.message.from_wire(data)
            name = query.question[0].name.to_text()
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            _, ttl, _, text = soa_line(name, self.serial)
            response.answer.append(dns.rrset.from_text(name, ttl, "IN", "SOA", text))
            self.udp.sendto(response.to_wire(), client)

    def serve_tcp(self) -> None:
        while True:
            try:
                connection, _ = self.tcp.accept()
            except OSError:
                return
            with connection:
                self.answer_transfer(connection)

    def answer_transfer(self, connection: socket.socket) -> None:
        length = struct.unpack("!H", connection.recv(2))[0]
        data = b""
        while len(data) < length:
            data += connection.recv(length - len(data))
        # A signed query is read, not checked, and answered unsigned: the fake has no key.
        query = dns.message.from_wire(data, keyring=lambda message, name: False)
        query.keyring = None
        rdtype = query.question[0].rdtype
        self.queries.append(dns.rdatatype.to_text(rdtype))
        if rdtype in self.refuse:
            response = dns.message.make_response(query)
            response.set_rcode(self.refuse[rdtype])
            replies = [response.to_wire()]
        else:
            replies = messages(query, self.transfer(query), self.per_message)
        for number, reply in enumerate(replies):
            if self.cut_after is not None and number == self.cut_after:
                return
            connection.sendall(struct.pack("!H", len(reply)) + reply)

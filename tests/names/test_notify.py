"""Outgoing NOTIFY (RFC 1996), against a small secondary made with dnspython."""

from __future__ import annotations

import asyncio
import socket

import dns.flags
import dns.message
import dns.opcode
import dns.rdatatype
import dns.rrset

from dnsadmin.names.notify import Target, notify, parse_target

SOA = dns.rrset.from_text(
    "example.org.", 3600, "IN", "SOA", "ns1.example.org. hostmaster.example.org. 7 1 1 1 1"
)


def test_a_target_is_an_address_with_an_optional_port():
    # The parsing itself is addresses.parse_address's (test_addresses.py).
    assert parse_target("[2001:db8::2]:5300") == Target("2001:db8::2", 5300)
    assert str(parse_target("2001:db8::2")) == "[2001:db8::2]:53"


class Secondary(asyncio.DatagramProtocol):
    """Acknowledges NOTIFY after ignoring the first ``deaf`` messages."""

    def __init__(self, deaf: int = 0) -> None:
        self.deaf = deaf
        self.received: list[dns.message.Message] = []

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        message = dns.message.from_wire(data)
        self.received.append(message)
        if len(self.received) > self.deaf:
            self.transport.sendto(dns.message.make_response(message).to_wire(), addr)


async def secondary(deaf: int = 0) -> tuple[Secondary, Target, asyncio.DatagramTransport]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: Secondary(deaf), local_addr=("127.0.0.1", 0), family=socket.AF_INET
    )
    return protocol, Target("127.0.0.1", transport.get_extra_info("sockname")[1]), transport


async def test_a_notify_names_the_zone_and_carries_the_new_soa():
    listener, target, transport = await secondary()
    try:
        assert await notify("example.org.", SOA, [target]) == {target: True}
    finally:
        transport.close()
    (message,) = listener.received
    assert message.opcode() == dns.opcode.NOTIFY
    assert message.flags & dns.flags.AA and not message.flags & dns.flags.RD
    assert (message.question[0].name.to_text(), message.question[0].rdtype) == (
        "example.org.", dns.rdatatype.SOA,
    )  # fmt: skip
    assert message.answer == [SOA]


async def test_a_notify_is_sent_again_until_it_is_acknowledged():
    listener, target, transport = await secondary(deaf=2)
    try:
        assert await notify("example.org.", SOA, [target], timeout=0.05) == {target: True}
    finally:
        transport.close()
    assert len(listener.received) == 3
    assert len({message.id for message in listener.received}) == 3


async def test_a_secondary_that_never_answers_is_given_up_on():
    listener, target, transport = await secondary(deaf=99)
    try:
        acked = await notify("example.org.", SOA, [target], timeout=0.02, attempts=3)
    finally:
        transport.close()
    assert acked == {target: False} and len(listener.received) == 3

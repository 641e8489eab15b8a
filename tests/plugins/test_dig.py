import asyncio

import dns.message
import dns.rcode
import dns.rrset
import pytest

from botadmin.infobot import PluginSetting
from botadmin.plugins.dig import Dig

ZONE = {
    ("example.test.", "A"): ["192.0.2.1", "192.0.2.2"],
    ("example.test.", "MX"): ["10 mail.example.test."],
}


class TinyDNS(asyncio.DatagramProtocol):
    """Answers from ZONE; NXDOMAIN outside example.test, NODATA inside; REFUSED for refused.test."""

    def connection_made(self, transport: asyncio.DatagramTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        response = dns.message.make_response(query)
        name, rdtype = question.name.to_text(), dns.rdatatype.to_text(question.rdtype)
        if name == "refused.test.":
            response.set_rcode(dns.rcode.REFUSED)
        elif (name, rdtype) in ZONE:
            response.answer.append(
                dns.rrset.from_text_list(name, 300, "IN", rdtype, ZONE[(name, rdtype)])
            )
        elif not name.endswith("example.test."):
            response.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def dns_server():
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(TinyDNS, local_addr=("127.0.0.1", 0))
    yield f"127.0.0.1:{transport.get_extra_info('sockname')[1]}"
    transport.close()


@pytest.fixture
async def net(network_factory, dns_server):
    return await network_factory(
        [Dig], [PluginSetting("dig", config={"server": dns_server, "timeout": 2})]
    )


async def test_it_answers_a_lookup_in_one_line(net):
    assert await net.say("ann", "#pub", "!dig example.test MX") == [
        "PRIVMSG #pub :example.test MX: 10 mail.example.test."
    ]


async def test_it_asks_for_addresses_by_default(net):
    [reply] = await net.say("ann", "#pub", "!dig example.test")
    assert reply == "PRIVMSG #pub :example.test A: 192.0.2.1, 192.0.2.2"


async def test_it_reports_a_name_that_does_not_exist(net):
    assert await net.say("ann", "#pub", "!dig nope.invalid AAAA") == [
        "PRIVMSG #pub :nope.invalid AAAA: no such name"
    ]


async def test_it_reports_no_data_and_refusal(net):
    assert (await net.say("ann", "#pub", "!dig example.test TXT"))[0].endswith("no TXT records")
    assert (await net.say("ann", "#pub", "!dig refused.test"))[0].endswith("refused the query")


async def test_it_rejects_a_bad_type_and_bad_usage(net):
    assert (await net.say("ann", "#pub", "!dig example.test NOTATYPE"))[0].startswith(
        "PRIVMSG #pub :example.test NOTATYPE: bad question"
    )
    assert await net.say("ann", "#pub", "!dig") == ["PRIVMSG #pub :Usage: dig NAME [TYPE]"]

"""Additional-section processing (RFC 1035 3.3.9, RFC 2782) and ANY over UDP and TCP."""

from __future__ import annotations

import dns.message
import dns.rdatatype

from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.zone import zone_from_text
from tests.names.zones import answer

ZONE = """\
$TTL 300
@    IN SOA ns1 hostmaster 1 7200 900 1209600 300
@    IN NS  ns1
@    IN MX  10 mail
@    IN MX  20 mail.example.net.
@    IN TXT "hello"
ns1  IN A   192.0.2.53
mail IN A   192.0.2.25
mail IN AAAA 2001:db8::25
_sip._tcp IN SRV 10 60 5060 sip
sip  IN A   192.0.2.5
"""


def ask(qname: str, rdtype: str, *, tcp: bool = False) -> dns.message.Message:
    catalog = ZoneCatalog([zone_from_text(ZONE, "example.org.")])
    query = dns.message.make_query(qname, rdtype)
    return dns.message.from_wire(answer(query.to_wire(), catalog, tcp=tcp))


def additional(response: dns.message.Message) -> set[tuple[str, str]]:
    return {
        (rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype)) for rrset in response.additional
    }


def test_an_mx_answer_carries_the_addresses_of_exchanges_in_the_zone():
    response = ask("example.org.", "MX")
    assert additional(response) == {("mail.example.org.", "A"), ("mail.example.org.", "AAAA")}


def test_srv_and_ns_answers_carry_their_targets_addresses():
    assert additional(ask("_sip._tcp.example.org.", "SRV")) == {("sip.example.org.", "A")}
    assert additional(ask("example.org.", "NS")) == {("ns1.example.org.", "A")}


def test_any_over_udp_is_one_rrset_and_over_tcp_every_rrset():
    assert len(ask("example.org.", "ANY").answer) == 1
    over_tcp = {
        dns.rdatatype.to_text(r.rdtype) for r in ask("example.org.", "ANY", tcp=True).answer
    }
    assert over_tcp == {"SOA", "NS", "MX", "TXT"}

"""AXFR over TCP: allowed to the transfer ACL only, SOA first and last, several messages."""

from __future__ import annotations

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.xfr
import dns.zone
import pytest

from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.transfer import transfer
from dnsadmin.names.zone import zone_from_text
from tests.names.zones import EXAMPLE_COM, ThreadedServer, make_catalog


def axfr_query(origin: str = "example.com.") -> bytes:
    return dns.message.make_query(origin, "AXFR").to_wire()


def test_an_allowed_client_gets_the_whole_zone(threaded_server):
    received = dns.zone.from_xfr(
        dns.query.xfr("127.0.0.1", "example.com.", port=threaded_server.port, timeout=5)
    )
    expected = dns.zone.from_text(EXAMPLE_COM, "example.com.")
    assert received == expected


@pytest.mark.integration
def test_transfers_are_refused_outside_the_acl():
    threaded = ThreadedServer(make_catalog(transfer_acl=("10.0.0.0/8", "::1/128")))
    threaded.start()
    try:
        with pytest.raises(dns.xfr.TransferError) as refused:
            list(dns.query.xfr("127.0.0.1", "example.com.", port=threaded.port, timeout=5))
    finally:
        threaded.stop()
    assert refused.value.rcode == dns.rcode.REFUSED


def test_a_transfer_of_a_zone_we_do_not_serve_is_notauth(catalog):
    (message,) = transfer(axfr_query("example.org."), catalog, "127.0.0.1")
    assert dns.message.from_wire(message).rcode() == dns.rcode.NOTAUTH


def test_a_large_zone_goes_out_in_several_messages_soa_first_and_last():
    hosts = "".join(f"host{i} IN A 10.0.{i // 256}.{i % 256}\n" for i in range(5000))
    catalog = ZoneCatalog(
        [zone_from_text(EXAMPLE_COM + hosts, "example.com.", transfer_acl=["127.0.0.0/8"])]
    )
    messages = [dns.message.from_wire(m) for m in transfer(axfr_query(), catalog, "127.0.0.1")]
    assert len(messages) > 1
    records = [rrset for message in messages for rrset in message.answer]
    assert records[0].rdtype == records[-1].rdtype == dns.rdatatype.SOA
    assert sum(len(r) for r in records if r.rdtype == dns.rdatatype.SOA) == 2
    assert sum(len(r) for r in records if r.rdtype == dns.rdatatype.A) >= 5000
    assert messages[0].question and not messages[1].question


def test_ixfr_is_answered_with_the_full_zone(catalog):
    query = dns.message.make_query("example.com.", "IXFR").to_wire()
    (wire,) = transfer(query, catalog, "127.0.0.1")
    message = dns.message.from_wire(wire, one_rr_per_rrset=True)
    assert message.answer[0].rdtype == message.answer[-1].rdtype == dns.rdatatype.SOA
    assert len(message.answer) > 3


@pytest.mark.parametrize("rdtype", ["AXFR", "IXFR"])
def test_a_transfer_in_another_class_is_not_authoritative(catalog, rdtype):
    query = dns.message.make_query("example.com.", rdtype, rdclass="CH").to_wire()
    (wire,) = transfer(query, catalog, "127.0.0.1")
    message = dns.message.from_wire(wire)
    assert message.rcode() == dns.rcode.NOTAUTH and message.answer == []


def ixfr_query(serial: int) -> bytes:
    query = dns.message.make_query("example.com.", "IXFR")
    soa = f"ns1.example.com. hostmaster.example.com. {serial} 7200 900 1209600 600"
    query.authority.append(dns.rrset.from_text("example.com.", 0, "IN", "SOA", soa))
    return query.to_wire()


@pytest.mark.parametrize("serial", [2024010101, 2024010102, 2024010101 + 2**31 - 1])
def test_ixfr_from_a_client_that_is_current_gets_the_soa_alone(catalog, serial):
    (wire,) = transfer(ixfr_query(serial), catalog, "127.0.0.1")
    message = dns.message.from_wire(wire)
    assert [r.rdtype for r in message.answer] == [dns.rdatatype.SOA]
    assert message.answer[0][0].serial == 2024010101


@pytest.mark.parametrize("serial", [2024010100, 1, 2024010101 + 2**31 + 1])
def test_ixfr_from_a_client_that_is_behind_gets_the_full_zone(catalog, serial):
    (wire,) = transfer(ixfr_query(serial), catalog, "127.0.0.1")
    assert len(dns.message.from_wire(wire).answer) > 3

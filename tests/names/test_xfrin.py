"""Incoming transfers: what a secondary accepts from a primary (names/xfrin.py). The checks
on a transfer's records, then the wire side against a scripted primary on loopback: AXFR,
IXFR change sets, IXFR refused (AXFR follows), a transfer cut off, TSIG."""

from __future__ import annotations

import asyncio

import dns.name
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.tsig
import pytest

from dnsadmin.names import xfrin
from dnsadmin.names.xfrin import Primary, TransferError, read_transfer
from tests.names.fake_primary import FakePrimary, soa_line, zone_lines

ORIGIN = dns.name.from_text("example.org.")


def records(*lines: tuple[str, int, str, str]) -> list[xfrin.Record]:
    return [
        (dns.name.from_text(name), ttl, dns.rdata.from_text("IN", rdtype, text))
        for name, ttl, rdtype, text in lines
    ]


def soa(serial: int) -> tuple[str, int, str, str]:
    return soa_line("example.org.", serial)


NS = ("example.org.", 300, "NS", "ns1.example.org.")
WWW = ("www.example.org.", 300, "A", "192.0.2.80")
NEW = ("new.example.org.", 300, "A", "192.0.2.7")


# the checks ----------------------------------------------------------------------------


def test_a_whole_zone_is_its_records_between_two_soas():
    result = read_transfer(ORIGIN, records(soa(5), NS, WWW, soa(5)), None)
    assert isinstance(result, xfrin.FullZone)
    assert (result.serial, result.soa_ttl, result.kind) == (5, 300, "AXFR")
    assert [(n.to_text(), r.rdtype) for n, _, r in result.records] == [
        ("example.org.", dns.rdatatype.NS),
        ("www.example.org.", dns.rdatatype.A),
    ]


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        ([NS, soa(5)], "does not start with the zone's SOA"),
        ([soa(5), NS, WWW], "does not end with the SOA it started with"),
        ([soa(5), NS, soa(6), WWW, soa(5)], "a second SOA inside the zone"),
        ([soa(5), NS, ("evil.example.net.", 300, "A", "192.0.2.1"), soa(5)],
         "evil.example.net. is outside the zone example.org."),
        ([soa(5), NS, ("sub.example.org.", 300, "SOA", ". . 1 2 3 4 5"), soa(5)],
         "an SOA at sub.example.org., below the zone's apex"),
    ],
)  # fmt: skip
def test_a_malformed_whole_zone_is_refused_saying_why(lines, says):
    with pytest.raises(TransferError, match=says):
        read_transfer(ORIGIN, records(*lines), None, "AXFR from 192.0.2.1")


def test_a_serial_that_is_not_newer_than_ours_is_refused():
    with pytest.raises(TransferError, match=r"offers serial 5, which is not newer than ours \(7\)"):
        read_transfer(ORIGIN, records(soa(5), NS, WWW, soa(5)), 7)
    # RFC 1982: 1 is newer than 4294967295, the serial having wrapped.
    assert read_transfer(ORIGIN, records(soa(1), NS, soa(1)), 2**32 - 1).serial == 1


def test_the_soa_alone_at_our_serial_means_up_to_date():
    assert read_transfer(ORIGIN, records(soa(7)), 7) == xfrin.UpToDate(7)


def test_an_incremental_answer_is_split_into_change_sets_leading_to_the_new_serial():
    lines = [soa(9), soa(7), WWW, soa(8), NEW, soa(8), soa(9), WWW, soa(9)]
    result = read_transfer(ORIGIN, records(*lines), 7)
    assert isinstance(result, xfrin.Increment) and result.serial == 9
    (first, second) = result.changes
    assert (first.old_serial, first.serial, second.old_serial, second.serial) == (7, 8, 8, 9)
    assert [n.to_text() for n, _, _ in first.removed] == ["www.example.org."]
    assert [n.to_text() for n, _, _ in first.added] == ["new.example.org."]
    assert (second.removed, [n.to_text() for n, _, _ in second.added]) == ([], ["www.example.org."])


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        ([soa(9), soa(6), WWW, soa(9), soa(9)], "a change set from serial 6, not 7"),
        ([soa(9), soa(7), WWW, soa(8), soa(9)], "do not lead to serial 9"),
        ([soa(9), soa(7), WWW, soa(9)], "a change set from 7 has no new SOA"),
        ([soa(9), soa(7), soa(6), soa(9)], "a change set from 7 back to 6"),
    ],
)
def test_change_sets_that_do_not_chain_from_our_serial_are_refused(lines, says):
    with pytest.raises(TransferError, match=says):
        read_transfer(ORIGIN, records(*lines), 7)


# on the wire ---------------------------------------------------------------------------


def fetch(primary: FakePrimary, serial: int | None, key=None):
    return asyncio.run(xfrin.fetch(ORIGIN, Primary.parse(primary.address), key, serial))


def whole_zone(*extra):
    return lambda query: zone_lines("example.org.", 10, *extra)


def test_a_whole_zone_in_several_messages_is_read_to_its_last_soa():
    with FakePrimary(10, whole_zone(WWW, NEW)) as primary:
        result = fetch(primary, None)
        assert asyncio.run(xfrin.soa_serial(ORIGIN, Primary.parse(primary.address))) == 10
    assert isinstance(result, xfrin.FullZone) and result.serial == 10
    assert len(result.records) == 4 and primary.queries == ["AXFR"]


def test_a_primary_refusing_ixfr_is_asked_for_axfr():
    with FakePrimary(10, whole_zone()) as primary:
        primary.refuse[dns.rdatatype.IXFR] = dns.rcode.NOTIMP
        result = fetch(primary, 7)
    assert primary.queries == ["IXFR", "AXFR"]
    assert isinstance(result, xfrin.FullZone) and result.serial == 10


def test_an_ixfr_answered_with_change_sets_is_an_increment():
    lines = [soa(10), soa(7), WWW, soa(10), NEW, soa(10)]
    with FakePrimary(10, lambda query: lines) as primary:
        result = fetch(primary, 7)
    assert isinstance(result, xfrin.Increment) and result.serial == 10
    assert primary.queries == ["IXFR"]


def test_a_transfer_cut_off_before_its_last_soa_is_worthless():
    with FakePrimary(10, whole_zone(WWW, NEW)) as primary:
        primary.cut_after = 2
        with pytest.raises(TransferError, match="cut off after 4 records, before its last SOA"):
            fetch(primary, None)


def test_a_refused_axfr_says_so():
    with FakePrimary(10, whole_zone()) as primary:
        primary.refuse[dns.rdatatype.AXFR] = dns.rcode.REFUSED
        with pytest.raises(TransferError, match="AXFR from 127.0.0.1:.* answered REFUSED"):
            fetch(primary, None)


def test_an_unsigned_answer_to_a_signed_transfer_is_refused():
    key = dns.tsig.Key("xfr.", b"0" * 32, dns.tsig.HMAC_SHA256)
    with FakePrimary(10, whole_zone()) as primary, pytest.raises(TransferError, match="not signed"):
        fetch(primary, None, key)


def test_a_silent_primary_is_reported_in_a_few_words():
    primary = Primary("127.0.0.1", 9)  # discard: nobody answers there
    with pytest.raises(TransferError, match="SOA query to 127.0.0.1:9: "):
        asyncio.run(xfrin.soa_serial(ORIGIN, primary, timeout=0.3))
    assert str(Primary.parse("[2001:db8::1]:5353")) == "[2001:db8::1]:5353"
    assert str(Primary.parse("192.0.2.1")) == "192.0.2.1"

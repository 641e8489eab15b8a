"""Zone transfers out: AXFR over TCP (allowed to the transfer ACL only, SOA first and last,
several messages) and IXFR from the zone's journal, condensed, or the full zone."""

from __future__ import annotations

import itertools
import random

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.xfr
import dns.zone
import pytest

from dnsadmin.names import journal, signer
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.journal import Journal, delta_between
from dnsadmin.names.transfer import transfer
from dnsadmin.names.zone import IN, Zone, build_zone, zone_from_text
from tests.names import test_signer_incremental as resigning
from tests.names.validators import KeySet, policy
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


def test_ixfr_of_a_zone_without_a_journal_is_answered_with_the_full_zone(catalog):
    query = dns.message.make_query("example.com.", "IXFR").to_wire()
    (wire,) = transfer(query, catalog, "127.0.0.1")
    message = dns.message.from_wire(wire, one_rr_per_rrset=True)
    assert message.answer[0].rdtype == message.answer[-1].rdtype == dns.rdatatype.SOA
    assert len(message.answer) > 3


@pytest.mark.parametrize("rdtype", ["AXFR", "IXFR"])
def test_an_expired_secondary_zone_is_not_transferred(catalog, rdtype):
    catalog.get(dns.name.from_text("example.com.")).expired = True
    query = dns.message.make_query("example.com.", rdtype).to_wire()
    (wire,) = transfer(query, catalog, "127.0.0.1")
    message = dns.message.from_wire(wire)
    assert message.rcode() == dns.rcode.SERVFAIL and message.answer == []


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


# IXFR from the journal ---------------------------------------------------------------

ORIGIN = "ixfr.test."
VERSION = """
$TTL 300
@    3600 IN SOA ns1 hostmaster {serial} 7200 900 1209600 600
@         IN NS  ns1
ns1       IN A   192.0.2.1
{body}
"""


def version_text(serial: int, body: str) -> str:
    return VERSION.format(serial=serial, body=body)


def changed_keys(old: str, new: str) -> set[tuple[str, int]]:
    """The RRsets (owner, type) whose records or TTL differ between two zone texts."""
    before, after = (dns.zone.from_text(text, ORIGIN) for text in (old, new))
    found = set()
    for name in set(before.nodes) | set(after.nodes):
        old_node, new_node = before.get_node(name), after.get_node(name)
        rdtypes = {r.rdtype for node in (old_node, new_node) if node for r in node.rdatasets}
        for rdtype in rdtypes:
            old_set = old_node.get_rdataset(IN, rdtype) if old_node else None
            new_set = new_node.get_rdataset(IN, rdtype) if new_node else None
            same = old_set == new_set and (old_set is None or old_set.ttl == new_set.ttl)
            if not same:
                found.add((name.to_text(), rdtype))
    return found


def journaled(texts: list[str]) -> Zone:
    """Serve texts one after the other, as the worker does; return the last with its journal."""
    zone = zone_from_text(texts[0], ORIGIN, transfer_acl=["127.0.0.1/32"])
    zone.journal = Journal(zone.serial)
    for old, new in itertools.pairwise(texts):
        following = zone_from_text(new, ORIGIN, transfer_acl=["127.0.0.1/32"])
        delta = delta_between(zone, following, changed_keys(old, new))
        following.journal = zone.journal.extended(delta)
        zone = following
    return zone


def ixfr_messages(zone: Zone, serial: int) -> list[dns.message.Message]:
    query = dns.message.make_query(ORIGIN, "IXFR")
    soa = f"ns1.{ORIGIN} hostmaster.{ORIGIN} {serial} 7200 900 1209600 600"
    query.authority.append(dns.rrset.from_text(ORIGIN, 0, "IN", "SOA", soa))
    wires = transfer(query.to_wire(), ZoneCatalog([zone]), "127.0.0.1")
    origin = dns.name.from_text(ORIGIN)
    return [dns.message.from_wire(w, xfr=True, origin=origin, one_rr_per_rrset=True) for w in wires]


def incremental(messages: list[dns.message.Message]) -> bool:
    """Tell an incremental answer (SOA, SOA, ...) from a full zone (SOA, other records...)."""
    records = [rrset for message in messages for rrset in message.answer]
    return len(records) > 1 and records[1].rdtype == dns.rdatatype.SOA


def applied(old: str, messages: list[dns.message.Message], serial: int) -> dns.zone.Zone:
    """Apply an IXFR answer to the client's copy with dnspython's IXFR reader."""
    copy = dns.zone.from_text(old, ORIGIN)
    inbound = dns.xfr.Inbound(copy, dns.rdatatype.IXFR, serial=serial)
    done = [inbound.process_message(message) for message in messages]
    assert done[-1] and not any(done[:-1])
    return copy


def test_an_ixfr_sends_only_what_changed_and_the_client_ends_up_with_our_zone():
    old = version_text(10, "www IN A 192.0.2.10\nwww IN A 192.0.2.11\nmail IN MX 10 www")
    new = version_text(11, "www IN A 192.0.2.10\nwww IN A 192.0.2.12\nftp IN CNAME www")
    messages = ixfr_messages(journaled([old, new]), 10)
    assert incremental(messages)
    records = [rrset for message in messages for rrset in message.answer]
    texts = [rrset.to_text() for rrset in records if rrset.rdtype != dns.rdatatype.SOA]
    # The record kept (192.0.2.10) is neither deleted nor added.
    assert sorted(texts) == sorted(
        ["ftp 300 IN CNAME www", "mail 300 IN MX 10 www", "www 300 IN A 192.0.2.11"]
        + ["www 300 IN A 192.0.2.12"]
    )
    assert applied(old, messages, 10) == dns.zone.from_text(new, ORIGIN)


def test_several_changes_are_condensed_into_one_difference():
    texts = [
        version_text(1, "a IN A 192.0.2.1\nb IN TXT one"),
        version_text(2, "a IN A 192.0.2.2\nb IN TXT one\ntemp IN A 192.0.2.9"),
        version_text(3, "a IN A 192.0.2.3\nb IN TXT one"),
        version_text(4, "a IN A 192.0.2.4\nb IN TXT two"),
    ]
    zone = journaled(texts)
    messages = ixfr_messages(zone, 1)
    records = [rrset for message in messages for rrset in message.answer]
    assert [r.rdtype for r in records].count(dns.rdatatype.SOA) == 4  # one delta, not three
    # temp came and went: it is not sent at all; a is sent once, as it was and as it is.
    assert not any(r.name.to_text() == "temp" for r in records)
    assert [r.to_text() for r in records if r.name.to_text() == "a"] == [
        "a 300 IN A 192.0.2.1",
        "a 300 IN A 192.0.2.4",
    ]
    for start in (1, 2, 3):
        result = applied(texts[start - 1], ixfr_messages(zone, start), start)
        assert result == dns.zone.from_text(texts[-1], ORIGIN)


def test_a_new_ttl_deletes_and_adds_the_whole_rrset():
    old = version_text(5, "www IN A 192.0.2.10\nwww IN A 192.0.2.11")
    new = version_text(6, "www 60 IN A 192.0.2.10\nwww 60 IN A 192.0.2.11")
    messages = ixfr_messages(journaled([old, new]), 5)
    www = [r for m in messages for r in m.answer if r.name.to_text() == "www"]
    assert [(r.ttl, r[0].address) for r in www] == [
        (300, "192.0.2.10"), (300, "192.0.2.11"), (60, "192.0.2.10"), (60, "192.0.2.11"),
    ]  # fmt: skip
    copy = applied(old, messages, 5)
    assert copy.find_rdataset("www", "A").ttl == 60 and copy == dns.zone.from_text(new, ORIGIN)


def test_a_settings_change_moves_the_soa_in_the_difference():
    old = version_text(7, "www IN A 192.0.2.10")
    new = old.replace("7 7200 900", "8 3600 900")
    messages = ixfr_messages(journaled([old, new]), 7)
    assert incremental(messages)
    assert applied(old, messages, 7).get_soa().refresh == 3600


@pytest.mark.parametrize("serial", [3, 2**31 + 10])
def test_a_client_older_than_the_journal_gets_the_full_zone(serial):
    texts = [version_text(s, f"www IN A 192.0.2.{s}") for s in (4, 5, 6)]
    messages = ixfr_messages(journaled(texts), serial)
    assert not incremental(messages)
    records = [rrset for message in messages for rrset in message.answer]
    assert records[0].rdtype == records[-1].rdtype == dns.rdatatype.SOA and len(records) == 5


def test_a_difference_larger_than_the_zone_is_sent_as_the_full_zone():
    old = version_text(1, "\n".join(f"h{i} IN A 192.0.2.{i}" for i in range(20)))
    new = version_text(2, "\n".join(f"h{i} IN A 198.51.100.{i}" for i in range(20)))
    assert not incremental(ixfr_messages(journaled([old, new]), 1))


# IXFR of a signed zone: its signatures and NSEC/NSEC3 records with the rest -----------


def ixfr_of(zone: Zone, serial: int) -> list[dns.message.Message]:
    """Return the messages answering an IXFR of zone from a client at serial."""
    query = dns.message.make_query(zone.origin, "IXFR")
    query.authority.append(dns.rrset.from_rdata(zone.origin, 0, zone.soa[0].replace(serial=serial)))
    wires = transfer(query.to_wire(), ZoneCatalog([zone]), "127.0.0.1")
    return [
        dns.message.from_wire(w, xfr=True, origin=zone.origin, one_rr_per_rrset=True) for w in wires
    ]


def axfr_copy(zone: Zone) -> dns.zone.Zone:
    """The zone a secondary holds after an AXFR of zone."""
    query = dns.message.make_query(zone.origin, "AXFR").to_wire()
    wires = transfer(query, ZoneCatalog([zone]), "127.0.0.1")
    return dns.zone.from_xfr(
        dns.message.from_wire(w, xfr=True, origin=zone.origin, one_rr_per_rrset=True) for w in wires
    )


def text_of(copy: dns.zone.Zone) -> list[str]:
    """Every record with its TTL, in order (dns.zone's == leaves TTLs out)."""
    return sorted(copy.to_text().splitlines())


@pytest.mark.parametrize("nsec3", [True, False], ids=["nsec3", "nsec"])
def test_a_signed_zone_re_signed_where_it_changed_is_sent_incrementally(nsec3):
    """Edits re-signed on their own (as the worker does): an IXFR from every serial served,
    applied by dnspython to that serial's copy, gives the AXFR of the zone now, signatures,
    NSEC/NSEC3 chain, DNSKEY and NSEC3PARAM included."""
    rng = random.Random(9 if nsec3 else 10)
    rows = resigning.first_rows()
    flat = [(owner, ttl, rdtype, w) for (owner, rdtype), rrs in rows.items() for ttl, w in rrs]
    served = build_zone(resigning.ORIGIN, flat, serial=1, transfer_acl=["127.0.0.1/32"])
    signer.sign_zone(served, resigning.KEYS.keys, policy(nsec3=nsec3))
    served.journal = Journal(served.serial)
    copies = {1: text_of(axfr_copy(served))}
    for serial in range(2, 16):
        keys = resigning.change(rng, rows)
        records = [(o, ttl, t, w) for (o, t) in keys for ttl, w in rows.get((o, t), [])]
        patched = signer.patch_signed(served, keys, records, serial=serial)
        patched.journal = served.journal  # as snapshot.next_journal leaves it
        owners = {owner for owner, _ in keys}
        signer.resign(patched, served, owners)
        journal.follow_resign(served, patched, owners)
        served = patched
        copies[serial] = text_of(axfr_copy(served))
    kinds = []
    for serial in range(1, 15):
        messages = ixfr_of(served, serial)
        kinds.append(incremental_answer(messages))
        copy = dns.zone.from_text("\n".join(copies[serial]), served.origin)
        inbound = dns.xfr.Inbound(copy, dns.rdatatype.IXFR, serial=serial)
        assert [inbound.process_message(m) for m in messages][-1]
        assert text_of(copy) == copies[15], serial
    # The recent serials get a difference (the oldest ones may be sent the smaller zone).
    assert all(kinds[-5:]), kinds
    changes = served.journal.deltas[-1].changes
    assert {rdtype for _, rdtype, _ in changes} >= {dns.rdatatype.RRSIG}
    assert ((), dns.rdatatype.RRSIG, dns.rdatatype.SOA) in changes  # the SOA's signature


def incremental_answer(messages: list[dns.message.Message]) -> bool:
    records = [rrset for message in messages for rrset in message.answer]
    return len(records) > 1 and records[1].rdtype == dns.rdatatype.SOA


def test_a_signed_zone_with_a_journal_of_its_records_only_is_not_served_from_it():
    """A journal left at an older serial (a zone signed whole starts afresh: snapshot.py)
    is not used: the client gets the zone."""
    keys = KeySet.new()
    old = version_text(1, "www IN A 192.0.2.10")
    zone = journaled([old, version_text(2, "www IN A 192.0.2.11")])
    zone.journal = Journal(1)
    signer.sign_zone(zone, keys.keys, policy())
    assert not incremental(ixfr_messages(zone, 1))


def test_the_journal_keeps_the_latest_deltas_within_its_bounds(monkeypatch):
    monkeypatch.setattr(journal, "MAX_DELTAS", 3)
    texts = [version_text(s, f"www IN A 192.0.2.{s}") for s in range(1, 7)]
    zone = journaled(texts)
    assert [d.serial_from for d in zone.journal.deltas] == [3, 4, 5]
    assert incremental(ixfr_messages(zone, 3)) and not incremental(ixfr_messages(zone, 2))


def test_random_edits_transfer_incrementally_from_every_serial_we_served():
    rng = random.Random(1995)
    owners = ["@", "a", "b", "c.d", "*.w"]
    rrsets: dict[tuple[str, str], tuple[int, set[str]]] = {}
    texts = []
    for serial in range(1, 31):
        for _ in range(rng.randint(1, 3)):
            key = (rng.choice(owners), rng.choice(["A", "TXT", "MX"]))
            ttl, values = rrsets.get(key, (300, set()))
            roll = rng.random()
            if roll < 0.2:
                ttl = rng.choice([60, 300, 900])
            elif roll < 0.4 and values:
                values.discard(rng.choice(sorted(values)))
            else:
                values.add(random_rdata(rng, key[1]))
            rrsets[key] = (ttl, values)
        body = "\n".join(
            f"{owner} {ttl} IN {rdtype} {value}"
            for (owner, rdtype), (ttl, values) in sorted(rrsets.items())
            for value in sorted(values)
        )
        texts.append(version_text(serial, body))
    zone = journaled(texts)
    final = dns.zone.from_text(texts[-1], ORIGIN)
    for serial in range(1, 30):
        messages = ixfr_messages(zone, serial)
        assert applied(texts[serial - 1], messages, serial) == final, serial


def random_rdata(rng: random.Random, rdtype: str) -> str:
    number = rng.randint(1, 6)
    return {"A": f"192.0.2.{number}", "TXT": f'"t{number}"', "MX": f"{number} mx{number}"}[rdtype]


def test_a_difference_too_large_for_one_message_goes_out_in_several():
    def hosts(changed: int) -> str:
        return "\n".join(
            f"h{i} IN TXT {'y' if i < changed else 'x'}{'x' * 200}" for i in range(1000)
        )

    old, new = version_text(1, hosts(0)), version_text(2, hosts(300))
    messages = ixfr_messages(journaled([old, new]), 1)
    assert len(messages) > 1 and incremental(messages)
    assert applied(old, messages, 1) == dns.zone.from_text(new, ORIGIN)

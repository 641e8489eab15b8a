"""The bits that tell a zone's labels right below its origin (Zone.may_hold_below): a name
that does not exist is told so by a bit, not a lookup in the zone's nodes, and a name that
exists is never told so, whether the zone was built or patched (names added, removed, empty
non-terminals made, the zone grown past its bits)."""

from __future__ import annotations

import random

import dns.rdata
import dns.rdataclass
import dns.rdatatype

from dnsadmin.names.zone import BELOW_BITS_MIN, Zone, build_zone, patch_zone

SOA = "ns1.example.com. hostmaster.example.com. 1 3600 900 86400 300"


def record(owner: str, rdtype: str, text: str) -> tuple[str, int, int, bytes]:
    rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), text)
    return owner, 300, rdata.rdtype, rdata.to_wire()


ROWS = [record("@", "SOA", SOA), record("@", "NS", "ns1.example.com."),
        record("ns1", "A", "192.0.2.1")]  # fmt: skip


class Counted(dict):
    """Nodes that count the lookups of a name in them."""

    looked = 0

    def __contains__(self, key) -> bool:
        Counted.looked += 1
        return super().__contains__(key)


def labels_below(zone: Zone) -> set[bytes]:
    return {key[0] for key in zone._nodes if len(key) == 1}


def assert_every_label_held(zone: Zone) -> None:
    for label in labels_below(zone):
        assert zone.may_hold_below(label), label
        assert not zone.name_error_below_origin(label), label


def test_a_random_subdomain_is_told_by_a_bit_not_a_lookup_in_the_nodes():
    rows = ROWS + [record(f"host{i}", "A", "192.0.2.7") for i in range(2000)]
    zone = build_zone("example.com.", rows)
    assert_every_label_held(zone)
    zone._nodes = Counted(zone._nodes)
    rng = random.Random(3)
    labels = [
        bytes(rng.choices(b"abcdefghijklmnopqrstuvwxyz0123456789", k=12)) for _ in range(2000)
    ]
    Counted.looked = 0
    assert all(zone.name_error_below_origin(label) for label in labels)
    # The wildcard's lookup, always the same (in memory), and a few labels whose bit is set.
    assert Counted.looked < 2000 + 200, Counted.looked


def test_the_bits_follow_the_patches_and_grow_with_the_zone():
    zone = build_zone("example.com.", ROWS)
    first, before = zone._below, bytes(zone._below)
    assert len(first) * 8 == BELOW_BITS_MIN
    serial = 2
    for batch in range(6):  # far more names than the first bits were made for
        added = [record(f"n{batch}-{i}", "TXT", '"x"') for i in range(100)]
        # A name two labels below the origin: its empty non-terminal is right below it.
        added.append(record(f"deep.ent{batch}", "A", "192.0.2.9"))
        changed = {(owner, rdtype) for owner, _, rdtype, _ in added}
        zone = patch_zone(zone, changed, added, serial=serial)
        serial += 1
        assert_every_label_held(zone)
        assert zone.may_hold_below(f"ent{batch}".encode())
    assert len(zone._below) > len(first)  # made afresh for the zone grown
    assert first == before  # (the zone patched keeps its own, as it is served meanwhile)


def test_a_name_removed_is_a_name_error_again():
    zone = build_zone("example.com.", ROWS + [record("gone", "TXT", '"bye"')])
    assert not zone.name_error_below_origin(b"gone")
    zone = patch_zone(zone, [("gone", dns.rdatatype.TXT)], [], serial=2)
    assert zone.name_error_below_origin(b"gone")  # its bit is left: the nodes tell
    assert_every_label_held(zone)


def test_a_wildcard_or_a_dname_at_the_origin_makes_no_name_an_error():
    for row in (record("*", "A", "192.0.2.3"), record("@", "DNAME", "example.net.")):
        zone = build_zone("example.com.", ROWS + [row])
        assert not zone.name_error_below_origin(b"nowhere")

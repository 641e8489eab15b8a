"""The Django side of an UPDATE: the zone's rows read under its lock, one change set written."""

from __future__ import annotations

import dns.name
import dns.rcode
import dns.rdatatype
import dns.update
import pytest
from asgiref.sync import async_to_sync

from dnsadmin import dnssec, snapshot, updates
from dnsadmin.changes import current_rrset, database
from dnsadmin.models import TsigKey, Zone, ZoneChange
from dnsadmin.names import update
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import ResolverChain

pytestmark = pytest.mark.django_db
ACME = dns.name.from_text("acme.")


@pytest.fixture
def acme(zone) -> TsigKey:
    key, _ = updates.add_key("acme")
    updates.add_rule(zone, key, "zonesub", types=["ANY"])
    return key


def send(build, zone_name: str = "example.org") -> int:
    message = dns.update.UpdateMessage(zone_name)
    build(message)
    return updates.apply_update(update.parse(message.to_wire()), ACME)


def test_a_zone_without_rules_refuses_and_a_stranger_zone_is_notauth(zone):
    assert send(lambda m: m.add("x", 60, "A", "192.0.2.1")) == dns.rcode.REFUSED
    assert send(lambda m: m.add("x", 60, "A", "192.0.2.1"), "example.net") == dns.rcode.NOTAUTH


def test_the_first_rule_matching_decides_in_the_order_the_rules_were_added(zone):
    """The policy is read with the zone's row, in its order: a deny before a grant wins."""
    key, _ = updates.add_key("acme")
    updates.add_rule(zone, key, "name", "locked", ["TXT"], grant=False)
    updates.add_rule(zone, key, "zonesub", types=["TXT"])
    assert send(lambda m: m.add("locked", 60, "TXT", '"no"')) == dns.rcode.REFUSED
    assert send(lambda m: m.add("open", 60, "TXT", '"yes"')) == dns.rcode.NOERROR
    assert send(lambda m: m.add("open", 60, "A", "192.0.2.1")) == dns.rcode.REFUSED


def test_an_update_is_one_change_set_attributed_to_the_key(zone, acme):
    serial = zone.serial

    def build(m):
        m.add("mail", 300, "A", "192.0.2.25")
        m.add("@", 300, "MX", "10 mail")
        m.delete("www", "A")

    assert send(build) == dns.rcode.NOERROR
    change = ZoneChange.objects.get(source="update")
    assert (change.serial_before, change.via) == (serial, "key acme")
    assert {(r.owner, r.rdtype, r.action) for r in change.rrsets.all()} == {
        ("mail", "A", "added"), ("@", "MX", "added"), ("www", "A", "removed"),
    }  # fmt: skip
    assert current_rrset(zone, "mail", "A")[0].ttl == 300


def test_a_greater_soa_serial_moves_the_zone_forward_and_its_fields_change(zone, acme):
    ahead = zone.serial + 1000
    soa = f"ns1 admin {ahead} 7200 900 1209600 60"
    assert send(lambda m: m.add("@", 300, "SOA", soa)) == dns.rcode.NOERROR
    zone.refresh_from_db()
    assert zone.serial > ahead and zone.contact == "admin.example.org." and zone.minimum == 60


def test_data_the_zone_rules_forbid_is_refused_and_nothing_changes(zone, acme):
    serial = zone.serial

    def build(m):
        m.add("sub", 300, "NS", "ns1.example.net.")
        m.add("host.sub", 300, "TXT", '"below a delegation"')

    assert send(build) == dns.rcode.REFUSED
    assert Zone.objects.get().serial == serial


def served_contents(zone) -> list[tuple]:
    """A served zone's RRsets, signatures cut to their headers (so the comparison holds however the key signs)."""
    found = []
    for name, records in zone.rrsets():
        wires = records.wires
        if records.rdtype == dns.rdatatype.RRSIG:
            wires = tuple(w[:18] for w in wires)
        found.append((name.to_text().lower(), records.rdtype, records.ttl, tuple(sorted(wires))))
    return sorted(found)


def serve(origin: str, previous=None):
    """Return the zone as a worker serves it: refreshed from the database, then signed."""
    zone = snapshot.refresh_zone(origin, previous)
    return async_to_sync(dnssec.signed_for_serving)(zone, previous)


UPDATES = [
    lambda m: m.add("a.b.new", 300, "A", "192.0.2.1"),
    lambda m: (m.add("txt", 300, "TXT", '"one"'), m.add("www", 300, "TXT", '"two"')),
    lambda m: m.replace("www", 600, "A", "192.0.2.81"),
    lambda m: m.delete("a.b.new"),
    lambda m: m.delete("txt", "TXT"),
]


@pytest.mark.parametrize("signing", [None, "nsec3", "nsec"])
def test_an_update_patches_the_zone_served_into_the_zone_built_from_its_rows(zone, acme, signing):
    """What a worker serves after an update it applied (patched from the change, re-signed
    where it changed, no database read) is what a full build and signing of the rows give."""
    if signing:
        dnssec.enable(zone, nsec3=signing == "nsec3")
    served = serve(zone.origin)
    for build in UPDATES:
        message = dns.update.UpdateMessage("example.org")
        build(message)
        rcode, applied = updates.update_zone(update.parse(message.to_wire()), ACME)
        assert rcode == dns.rcode.NOERROR and applied is not None
        patched = snapshot.patched_by(served, applied)
        patched = async_to_sync(dnssec.signed_for_serving)(patched, served)
        full = serve(zone.origin)
        assert patched.serial == full.serial == Zone.objects.get().serial
        assert served_contents(patched) == served_contents(full)
        # Another worker, which serves the zone from before, patches it from the history.
        assert served_contents(serve(zone.origin, served)) == served_contents(full)
        journal = patched.journal  # its size kept as it goes, not summed at each update
        assert journal.size == sum(delta.size for delta in journal.deltas)
        served = patched
    assert snapshot.patched_by(served, applied) is None  # not the zone it started from


def test_a_key_is_read_once_a_second_and_one_removed_stops_working(
    acme, monkeypatch, django_assert_num_queries
):
    keys = updates.StoredKeys()
    assert keys.get(ACME) is not None
    with django_assert_num_queries(0):  # a burst of updates reads the key once
        assert keys.get(ACME) is not None
    acme.delete()
    monkeypatch.setattr(updates, "KEY_KEPT_FOR", 0.0)  # the second has passed
    assert keys.get(ACME) is None


def replace_txt(old: str, new: str) -> bytes:
    message = dns.update.UpdateMessage("example.org")
    message.add("_acme-challenge", 60, "TXT", f'"{new}"')
    message.delete("_acme-challenge", "TXT", f'"{old}"')
    return message.to_wire()


def test_an_update_replacing_a_record_costs_a_few_plain_queries(
    zone, acme, django_assert_num_queries
):
    """The certbot-like update the bench sends: the zone (with whether it is a secondary
    and its policy) and the rows at its names are read in a query each; a row rewritten,
    the serial moved, the history entry and its RRset written; nothing else (the savepoint
    and its release are the test's transaction)."""
    assert send(lambda m: m.add("_acme-challenge", 60, "TXT", '"token 0"')) == dns.rcode.NOERROR
    with django_assert_num_queries(8):
        rcode, applied = updates.update_zone(update.parse(replace_txt("token 0", "token 1")), ACME)
    assert rcode == dns.rcode.NOERROR and applied.records[0][3] == b"\x07token 1"
    change = ZoneChange.objects.filter(source="update").order_by("-id").first()
    assert [(r.owner, r.rdtype, r.action) for r in change.rrsets.all()] == [
        ("_acme-challenge", "TXT", "changed")
    ]
    assert [r.rdata for r in current_rrset(zone, "_acme-challenge", "TXT")] == ['"token 1"']


def test_an_update_thread_keeps_its_sqlite_connection_from_one_update_to_the_next(zone, acme):
    """On SQLite (a file open and two PRAGMAs to open one again), where updates run in one
    thread, whose connection's page cache no other update thread's write empties; on
    PostgreSQL the connection goes back to its pool after each update (not done here: that
    would end the test's transaction) and two threads apply updates."""
    db = database()
    messages = updates.SignedMessages(ResolverChain(ZoneCatalog()))
    threads = messages.executor._max_workers
    assert threads == (1 if db.vendor == "sqlite" else updates.UPDATE_THREADS)
    if db.vendor != "sqlite":
        return
    used = []

    def replace(old: str, new: str) -> int:
        used.append(db.connection)
        return updates.update_zone(update.parse(replace_txt(old, new)), ACME)[0]

    assert send(lambda m: m.add("_acme-challenge", 60, "TXT", '"token 0"')) == dns.rcode.NOERROR
    for old in range(2):
        rcode = updates.keeping_connection(replace, f"token {old}", f"token {old + 1}")
        assert rcode == dns.rcode.NOERROR
    assert used[0] is used[1] is db.connection and not db.needs_rollback


def test_a_worker_that_serves_its_own_update_rings_only_other_processes(
    zone, acme, django_capture_on_commit_callbacks
):
    """Rung after commit, as any change, unless the worker applying the update serves it
    itself and its channel layer reaches no other process; a new SOA is rung all the same
    (a setting, which the worker reloads)."""
    assert send(lambda m: m.add("_acme-challenge", 60, "TXT", '"token 0"')) == dns.rcode.NOERROR
    for ring, old, new, rung in [(True, 0, 1, 1), (False, 1, 2, 0)]:
        with django_capture_on_commit_callbacks() as callbacks:
            request = update.parse(replace_txt(f"token {old}", f"token {new}"))
            assert updates.update_zone(request, ACME, ring=ring)[0] == dns.rcode.NOERROR
        assert len(callbacks) == rung
    soa = f"ns1 hostmaster {Zone.objects.get().serial + 10} 7200 900 1209600 300"
    with django_capture_on_commit_callbacks() as callbacks:
        request = update.parse(replace_txt("token 2", "token 3"))
        request.updates += update.parse(soa_update(soa)).updates
        assert updates.update_zone(request, ACME, ring=False)[0] == dns.rcode.NOERROR
    assert len(callbacks) == 1
    chain = ResolverChain(ZoneCatalog())
    assert updates.SignedMessages(chain).ring
    serving = updates.SignedMessages(chain, applied=lambda applied: None)
    assert serving.ring == updates.reaches_other_processes()


def soa_update(soa: str) -> bytes:
    message = dns.update.UpdateMessage("example.org")
    message.add("@", 300, "SOA", soa)
    return message.to_wire()

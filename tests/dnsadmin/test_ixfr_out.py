"""IXFR out from the zone's history: the journal the worker builds as it reloads a zone, and
what it answers from it (dnspython's IXRF reader plays the secondary)."""

from __future__ import annotations

from dataclasses import replace

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.update
import dns.xfr
import dns.zone
import pytest
from asgiref.sync import async_to_sync

from dnsadmin import dnssec, snapshot, updates
from dnsadmin.changes import (
    RecordData,
    RRsetEdit,
    apply_changes,
    change_settings,
    current_rrset,
    fingerprint,
)
from dnsadmin.models import Zone
from dnsadmin.names import update
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.transfer import transfer
from dnsadmin.names.zone import Zone as ServedZone
from dnsadmin.snapshot import chain_of_changes, refresh_served
from tests.dnsadmin.test_update_service import ACME, acme

__all__ = ["acme"]  # a fixture

pytestmark = pytest.mark.django_db
ORIGIN = "example.org."


@pytest.fixture(autouse=True)
def transferable(zone: Zone) -> None:
    change_settings(zone, {"transfer_acl": "127.0.0.1"})


def transferred(served: ServedZone, rdtype: str = "AXFR", serial: int | None = None):
    """Return the messages a transfer of the served zone answers (from serial, for IXFR)."""
    query = dns.message.make_query(ORIGIN, rdtype)
    if serial is not None:
        soa = served.soa[0].replace(serial=serial)
        query.authority.append(dns.rrset.from_rdata(ORIGIN, 0, soa))
    catalog = ZoneCatalog([served])
    wires = transfer(query.to_wire(), catalog, "127.0.0.1")
    origin = dns.name.from_text(ORIGIN)
    return [dns.message.from_wire(w, xfr=True, origin=origin, one_rr_per_rrset=True) for w in wires]


def copy_of(served: ServedZone) -> dns.zone.Zone:
    """The zone a secondary holds after an AXFR of served."""
    return dns.zone.from_xfr(transferred(served))


def updated(copy: dns.zone.Zone, served: ServedZone, serial: int) -> tuple[dns.zone.Zone, bool]:
    """Apply served's IXFR answer to a client's copy at serial; say whether it was incremental."""
    messages = transferred(served, "IXFR", serial)
    records = [rrset for message in messages for rrset in message.answer]
    inbound = dns.xfr.Inbound(copy, dns.rdatatype.IXFR, serial=serial)
    for message in messages:
        inbound.process_message(message)
    return copy, records[1].rdtype == dns.rdatatype.SOA


def edit(zone: Zone, owner: str, rdtype: str, *rdatas: str, ttl: int | None = None) -> None:
    records = current_rrset(zone, owner, rdtype)
    new = tuple(RecordData(rdata, ttl) for rdata in rdatas)
    apply_changes(zone, [RRsetEdit(owner, rdtype, new, fingerprint(records))])


def test_an_edit_is_sent_as_the_difference_and_the_copy_matches(zone):
    first = refresh_served(ORIGIN, None)
    copy = copy_of(first)
    edit(zone, "www", "A", "192.0.2.81", "192.0.2.82")
    edit(zone, "mail", "MX", "10 www")
    second = refresh_served(ORIGIN, first)
    edit(zone, "www", "A", "192.0.2.82")
    third = refresh_served(ORIGIN, second)
    assert [d.serial_to for d in third.journal.deltas] == [second.serial, third.serial]
    copy, incremental = updated(copy, third, first.serial)
    assert incremental and copy == copy_of(third)


def test_a_disabled_record_goes_out_as_a_deletion(zone):
    first = refresh_served(ORIGIN, None)
    records = current_rrset(zone, "www", "A")
    off = tuple(replace(r, enabled=False) for r in records)
    apply_changes(zone, [RRsetEdit("www", "A", off, fingerprint(records))])
    second = refresh_served(ORIGIN, first)
    copy, incremental = updated(copy_of(first), second, first.serial)
    assert incremental and copy.get_node("www") is None


def test_a_soa_setting_goes_out_as_the_new_soa(zone):
    first = refresh_served(ORIGIN, None)
    change_settings(zone, {"refresh": 3600, "contact": "dns.example.org."})
    second = refresh_served(ORIGIN, first)
    copy, incremental = updated(copy_of(first), second, first.serial)
    assert incremental and copy.get_soa().refresh == 3600 and copy == copy_of(second)


def test_a_new_default_ttl_starts_the_journal_again(zone):
    first = refresh_served(ORIGIN, None)
    change_settings(zone, {"default_ttl": 60})
    second = refresh_served(ORIGIN, first)
    assert second.journal.deltas == ()
    copy, incremental = updated(copy_of(first), second, first.serial)
    assert not incremental and copy.find_rdataset("www", "A").ttl == 60


def test_a_worker_that_missed_the_history_sends_the_full_zone(zone):
    first = refresh_served(ORIGIN, None)
    edit(zone, "www", "A", "192.0.2.99")
    zone.changes.all().delete()  # history pruned: what changed is not known any more
    second = refresh_served(ORIGIN, first)
    copy, incremental = updated(copy_of(first), second, first.serial)
    assert not incremental and copy == copy_of(second)


def test_a_zone_reloaded_at_the_same_serial_keeps_its_journal(zone):
    first = refresh_served(ORIGIN, None)
    edit(zone, "www", "A", "192.0.2.99")
    second = refresh_served(ORIGIN, first)
    Zone.objects.filter(pk=zone.pk).update(transfer_acl="127.0.0.1")  # no serial change
    again = refresh_served(ORIGIN, second)
    assert again.journal is second.journal and again.journal.deltas


@pytest.mark.parametrize(
    ("rows", "ids"),
    [
        ([(3, 11, 12), (2, 10, 11), (1, 9, 10)], [3, 2]),
        ([(4, 12, 13), (3, 11, 12), (2, 10, 11)], [3, 2]),  # 13 came after the zone was read
        ([(3, 11, 12), (1, 9, 10)], None),  # 10 → 11 is missing
        ([(3, 11, 12)], None),  # the history does not reach back to 10
    ],
)
def test_the_changes_between_two_serials_are_found_in_the_history(rows, ids):
    assert chain_of_changes(rows, 10, 12) == ids


class Racing:
    """Edits landing while a worker reads: refresh_zone commits one just after reading the
    zone, the first ``times`` times it runs."""

    def __init__(self, zone: Zone) -> None:
        self.zone, self.times, self.calls = zone, 0, 0
        self.real = snapshot.refresh_zone

    def __call__(self, origin: str, previous: ServedZone | None) -> ServedZone | None:
        served = self.real(origin, previous)
        self.calls += 1
        if self.calls <= self.times:
            edit(self.zone, "race", "TXT", f'"{self.calls}"')
        return served


@pytest.fixture
def racing(monkeypatch, zone) -> Racing:
    racing = Racing(zone)
    monkeypatch.setattr(snapshot, "refresh_zone", racing)
    return racing


def test_a_zone_read_while_a_change_lands_is_read_again(zone, racing):
    first = refresh_served(ORIGIN, None)
    edit(zone, "www", "A", "192.0.2.90")
    racing.times = racing.calls + 1
    second = refresh_served(ORIGIN, first)
    assert racing.calls == 3 and second.serial == Zone.objects.get().serial
    copy, incremental = updated(copy_of(first), second, first.serial)
    assert incremental and copy == copy_of(second)


def test_a_zone_never_read_between_changes_is_served_without_a_journal(zone, racing):
    first = refresh_served(ORIGIN, None)
    edit(zone, "www", "A", "192.0.2.90")
    racing.times = 100
    second = refresh_served(ORIGIN, first)
    assert second.journal is None
    copy, incremental = updated(copy_of(first), second, first.serial)
    assert not incremental
    racing.times = 0
    third = refresh_served(ORIGIN, second)
    assert third.journal.deltas == ()  # it starts again from a zone read whole


# signed zones: the journal follows the re-signing -------------------------------------


def serve(previous: ServedZone | None) -> ServedZone:
    """Return the zone as a worker serves it: refreshed with its journal, then signed."""
    served = refresh_served(ORIGIN, previous)
    return async_to_sync(dnssec.signed_for_serving)(served, previous)


def text_of(copy: dns.zone.Zone) -> list[str]:
    """Every record with its TTL (dns.zone's == leaves TTLs out)."""
    return sorted(copy.to_text().splitlines())


@pytest.mark.parametrize("nsec3", [True, False], ids=["nsec3", "nsec"])
def test_a_signed_zone_is_sent_incrementally_signatures_and_chain_included(zone, nsec3):
    dnssec.enable(zone, nsec3=nsec3)
    first = serve(None)
    copy = copy_of(first)
    edit(zone, "www", "A", "192.0.2.81", "192.0.2.82")
    edit(zone, "new.deep", "TXT", '"added"')  # a name and an empty non-terminal come
    second = serve(first)
    edit(zone, "www", "A", "192.0.2.82", ttl=60)
    edit(zone, "new.deep", "TXT")  # and go
    third = serve(second)
    assert third.dnssec is not None and [d.serial_to for d in third.journal.deltas] == [
        second.serial, third.serial,
    ]  # fmt: skip
    for start, served in ((first, copy), (second, copy_of(second))):
        updated_copy, incremental = updated(served, third, start.serial)
        assert incremental and text_of(updated_copy) == text_of(copy_of(third))
    # The name that came is in the chain of the second version, with its signatures.
    rdtypes = {r.rdtype for m in transferred(second, "IXFR", first.serial) for r in m.answer}
    assert dns.rdatatype.RRSIG in rdtypes
    assert (dns.rdatatype.NSEC3 if nsec3 else dns.rdatatype.NSEC) in rdtypes


def test_a_signed_zone_signed_whole_after_a_rollover_starts_its_journal_again(zone):
    dnssec.enable(zone)
    first = serve(None)
    edit(zone, "www", "A", "192.0.2.81")
    second = serve(first)
    dnssec.rollover(zone, "zsk")  # a new key published: the zone is signed whole
    third = serve(second)
    assert third.journal.deltas == ()
    copy, incremental = updated(copy_of(second), third, second.serial)
    assert not incremental and text_of(copy) == text_of(copy_of(third))


def test_an_update_a_worker_patched_into_a_signed_zone_extends_its_journal(zone, acme):
    """The worker that applied an RFC 2136 update serves it patched and re-signed without
    reading it back (snapshot.patched_by): its journal follows the re-signing too."""
    dnssec.enable(zone)
    first = serve(None)
    message = dns.update.UpdateMessage(ORIGIN)
    message.add("new", 300, "A", "192.0.2.1")
    message.delete("www", "A")
    rcode, applied = updates.update_zone(update.parse(message.to_wire()), ACME)
    assert rcode == dns.rcode.NOERROR
    patched = snapshot.patched_by(first, applied)
    patched = async_to_sync(dnssec.signed_for_serving)(patched, first)
    copy, incremental = updated(copy_of(first), patched, first.serial)
    assert incremental and text_of(copy) == text_of(copy_of(patched))

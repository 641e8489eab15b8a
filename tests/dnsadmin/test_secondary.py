"""Secondary zones on the Django side: the commands, the zone read-only but for transfers,
NOTIFY answered as BIND answers it, and hostile or broken primaries (a scripted one on
loopback): a transfer with records outside the zone, one cut off, one breaking the zone
rules, a lower serial. None of them changes anything, and the status says why."""

from __future__ import annotations

import asyncio
import datetime

import dns.flags
import dns.message
import dns.rcode
import dns.update
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from dnsadmin import secondary, updates
from dnsadmin.changes import ChangeError, add_record, change_settings
from dnsadmin.models import Record, SecondaryLease, SecondaryZone, Zone, ZoneChange
from dnsadmin.names.notify import notify_message
from dnsadmin.names.xfrin import Primary
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_update_nsupdate import manage
from tests.names.fake_primary import FakePrimary, soa_line, zone_lines

ORIGIN = "sec.test."
WWW = ("www.sec.test.", 300, "A", "192.0.2.80")


def whole_zone(serial: int, *extra):
    return lambda query: zone_lines(ORIGIN, serial, *extra)


def refresh() -> SecondaryZone:
    asyncio.run(secondary.refresh(ORIGIN))
    return SecondaryZone.objects.get(zone__origin=ORIGIN)


def records() -> set[tuple[str, str, str]]:
    return set(Record.objects.values_list("owner", "rdtype", "rdata"))


# the commands --------------------------------------------------------------------------


def test_the_commands_add_list_refresh_and_remove_a_secondary_zone(zone):
    manage("tsig", "add", "xfr")
    out = manage("zone", "add-secondary", ORIGIN, "--primary", "192.0.2.1",
                 "--primary", "[2001:db8::1]:5353", "--tsig", "xfr")  # fmt: skip
    assert out == f"{ORIGIN}: secondary of 192.0.2.1, [2001:db8::1]:5353 with key xfr.; " \
        "transfer requested\n"  # fmt: skip
    primary_line, secondary_line = manage("zone", "list").splitlines()
    assert primary_line == f"example.org.\tprimary\tserial {zone.serial}"
    words = secondary_line.split("\t")
    assert words[:5] == [ORIGIN, "secondary", "serial -", "not loaded yet",
                         "primaries 192.0.2.1 [2001:db8::1]:5353"]  # fmt: skip
    assert words[5:7] == ["last check -", "last transfer -"]
    assert words[7].startswith("next refresh 20") and words[8:] == ["expires -", "last error -"]
    assert manage("zone", "refresh", ORIGIN) == f"{ORIGIN}: refresh requested\n"
    assert manage("zone", "remove", ORIGIN) == f"{ORIGIN}: removed\n"
    assert not Zone.objects.filter(origin=ORIGIN).exists()
    assert ZoneChange.objects.filter(origin=ORIGIN, zone_deleted=True).count() == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["add-secondary", "example.org.", "--primary", "192.0.2.1"], "exists already"),
        (["add-secondary", ORIGIN, "--primary", "ns1.example"], "is not an IP address"),
        (["add-secondary", ORIGIN, "--primary", "192.0.2.1", "--tsig", "nope"],
         "No TSIG key named nope"),
        (["refresh", "example.org."], "example.org. is not a secondary zone"),
        (["remove", "example.org."], "example.org. is not a secondary zone"),
    ],
)  # fmt: skip
def test_the_commands_refuse_bad_input_saying_why(zone, args, says):
    with pytest.raises(CommandError, match=says):
        manage("zone", *args)
    assert Zone.objects.count() == 1


# read-only -----------------------------------------------------------------------------


@pytest.fixture
def loaded(transactional_db):
    """sec.test. from a scripted primary, transferred once (serial 10)."""
    secondary.add_secondary(ORIGIN, ["127.0.0.1:9"])
    with FakePrimary(10, whole_zone(10, WWW)) as primary:
        SecondaryZone.objects.update(primaries=primary.address)
        status = refresh()
        assert status.last_error == "" and not status.expired
        yield primary


def test_a_secondary_zones_data_is_written_by_transfers_only(loaded):
    zone = Zone.objects.get(origin=ORIGIN)
    with pytest.raises(ChangeError, match="sec.test. is a secondary zone: its records and SOA"):
        add_record(zone, "new", "A", "192.0.2.7")
    with pytest.raises(ChangeError, match="is a secondary zone"):
        change_settings(zone, {"refresh": 60})
    # What it serves to others stays its own: it can be a primary for further secondaries.
    change_settings(zone, {"transfer_acl": "192.0.2.0/24", "notify_targets": "192.0.2.9"})
    zone.refresh_from_db()
    assert (zone.serial, zone.transfer_acl) == (10, "192.0.2.0/24")


def test_an_update_to_a_secondary_zone_is_answered_notauth(loaded):
    message = dns.update.UpdateMessage(ORIGIN)
    message.add("new", 300, "A", "192.0.2.7")
    response, _ = updates.answer_update(message.to_wire(), "127.0.0.1")
    assert dns.message.from_wire(response).rcode() == dns.rcode.NOTAUTH
    assert ("new", "A", "192.0.2.7") not in records()


# NOTIFY --------------------------------------------------------------------------------


def notify(origin: str, client: str, key=None) -> dns.message.Message:
    message = notify_message(origin, None)
    if key is not None:
        message.use_tsig(key)
    response = secondary.answer_notify(message.to_wire(), client)
    if key is None:
        return dns.message.from_wire(response)
    return dns.message.from_wire(response, keyring=key, request_mac=message.mac)


def test_notify_from_a_primary_is_answered_and_asks_for_a_check_at_once(loaded):
    SecondaryZone.objects.update(next_refresh="2100-01-01T00:00:00Z")
    response = notify(ORIGIN, "127.0.0.1")
    assert response.rcode() == dns.rcode.NOERROR and response.flags & dns.flags.AA
    assert response.opcode() == dns.opcode.NOTIFY
    assert response.question[0].name.to_text() == ORIGIN
    assert SecondaryZone.objects.get().next_refresh.year < 2100


def test_notify_from_anyone_else_is_refused_and_for_other_zones_answered_as_bind_does(
    loaded, tmp_path
):
    SecondaryZone.objects.update(next_refresh="2100-01-01T00:00:00Z")
    assert notify(ORIGIN, "192.0.2.66").rcode() == dns.rcode.REFUSED
    assert notify("elsewhere.test.", "127.0.0.1").rcode() == dns.rcode.NOTAUTH
    (tmp_path / "example.org.zone").write_text(ZONE)
    call_command("loadzone", str(tmp_path / "example.org.zone"))
    primary_zone = notify("example.org.", "127.0.0.1")  # we are its primary: nothing to do
    assert primary_zone.rcode() == dns.rcode.NOERROR
    assert SecondaryZone.objects.get().next_refresh.year == 2100


def test_notify_for_a_keyed_secondary_must_be_signed_with_its_key(loaded):
    from dnsadmin.models import TsigKey
    from dnsadmin.updates import keyring

    manage("tsig", "add", "xfr")
    SecondaryZone.objects.update(tsig_key=TsigKey.objects.get())
    assert notify(ORIGIN, "127.0.0.1").rcode() == dns.rcode.REFUSED
    signed = notify(ORIGIN, "127.0.0.1", key=next(iter(keyring().values())))
    assert signed.rcode() == dns.rcode.NOERROR and signed.had_tsig


# hostile and broken primaries --------------------------------------------------------------


def test_an_ixfr_is_stored_change_set_by_change_set_with_the_primarys_serials(loaded):
    new = ("new.sec.test.", 300, "A", "192.0.2.7")
    lines = [soa_line(ORIGIN, 12), soa_line(ORIGIN, 10), WWW, soa_line(ORIGIN, 11), new,
             soa_line(ORIGIN, 11), new, soa_line(ORIGIN, 12), soa_line(ORIGIN, 12)]  # fmt: skip
    loaded.serial, loaded.transfer = 12, lambda query: lines
    status = refresh()
    assert (status.last_transfer_kind, status.last_error) == ("IXFR", "")
    changes = ZoneChange.objects.filter(origin=ORIGIN).order_by("id")
    assert [(c.serial_before, c.serial_after) for c in changes] == [(0, 10), (10, 11), (11, 12)]
    assert ("www", "A", "192.0.2.80") not in records() and (
        "new",
        "A",
        "192.0.2.7",
    ) not in records()


def test_a_change_set_that_does_not_fit_our_copy_brings_the_whole_zone(loaded):
    lines = [soa_line(ORIGIN, 11), soa_line(ORIGIN, 10), ("gone.sec.test.", 300, "A", "192.0.2.1"),
             soa_line(ORIGIN, 11), soa_line(ORIGIN, 11)]  # fmt: skip
    whole = zone_lines(ORIGIN, 11, ("other.sec.test.", 300, "A", "192.0.2.2"))
    loaded.serial = 11
    loaded.transfer = lambda query: (
        lines if query.question[0].rdtype == dns.rdatatype.IXFR else whole
    )
    status = refresh()
    assert loaded.queries[-2:] == ["IXFR", "AXFR"]
    assert (status.last_transfer_kind, status.last_error) == ("AXFR", "")
    assert ("other", "A", "192.0.2.2") in records() and ("www", "A", "192.0.2.80") not in records()


HOSTILE = {
    "records outside the zone": (
        dict(transfer=whole_zone(11, ("evil.example.net.", 300, "A", "192.0.2.66"))),
        "AXFR from 127.0.0.1:{port}: evil.example.net. is outside the zone sec.test.",
    ),
    "a transfer cut in the middle": (
        dict(transfer=whole_zone(11, ("a.sec.test.", 300, "A", "192.0.2.1")), cut_after=1),
        "AXFR from 127.0.0.1:{port}: cut off after 2 records, before its last SOA",
    ),
    "a lower serial": (
        dict(serial=9),
        "127.0.0.1:{port} has serial 9, which is older than ours (10)",
    ),
    "a transfer older than its SOA said": (
        dict(serial=11, transfer=whole_zone(9)),
        "AXFR from 127.0.0.1:{port}: offers serial 9, which is not newer than ours (10)",
    ),
    "data breaking the zone rules": (
        dict(
            transfer=whole_zone(
                11,
                ("www.sec.test.", 300, "CNAME", "ns1.sec.test."),
                ("www.sec.test.", 300, "TXT", '"and more"'),
            )
        ),
        "AXFR from 127.0.0.1:{port} (serial 11) breaks the zone rules: www.sec.test. has a CNAME",
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_or_broken_primary_changes_nothing_and_the_status_says_why(loaded, case):
    behaviour, says = HOSTILE[case]
    loaded.serial = behaviour.get("serial", 11)
    loaded.transfer = behaviour.get("transfer", loaded.transfer)
    loaded.cut_after = behaviour.get("cut_after")
    # The zone's IXFR is refused, so that AXFR carries the data of each case.
    loaded.refuse[dns.rdatatype.IXFR] = dns.rcode.NOTIMP
    before, history = records(), ZoneChange.objects.count()
    status = refresh()
    assert status.last_error.startswith(says.format(port=loaded.port))
    assert records() == before and ZoneChange.objects.count() == history
    assert Zone.objects.get(origin=ORIGIN).serial == 10
    assert not status.expired and status.next_refresh > status.last_check  # retried later


def test_a_zone_never_transferred_says_why_and_stays_unserved(transactional_db):
    secondary.add_secondary(ORIGIN, ["127.0.0.1:9"])
    with FakePrimary(11, whole_zone(11)) as primary:
        primary.cut_after = 0
        SecondaryZone.objects.update(primaries=primary.address)
        status = refresh()
    assert status.expired and "cut off after 0 records" in status.last_error
    facts = secondary.status(Zone.objects.get(origin=ORIGIN))
    assert (facts["state"], facts["serial"], facts["last_transfer"]) == (
        "not loaded yet",
        None,
        None,
    )


# the one transfer worker ------------------------------------------------------------------


def test_one_worker_holds_the_transfer_lease_until_it_lets_go_or_stops_renewing(db):
    assert not secondary.claim("a")  # no secondary zone: no lease needed
    secondary.add_secondary(ORIGIN, ["192.0.2.1"])
    assert secondary.claim("a") and not secondary.claim("b") and secondary.claim("a")
    secondary.release("a")
    assert secondary.claim("b") and not secondary.claim("a")
    SecondaryLease.objects.update(expires=timezone.now() - datetime.timedelta(seconds=1))
    assert secondary.claim("a")  # b stopped renewing: a takes over


def test_a_notify_arriving_during_a_check_asks_for_another_at_once(loaded):
    primary = Primary("127.0.0.1", loaded.port)
    started = timezone.now()
    secondary.request_refresh(ORIGIN)  # while the check runs
    secondary.succeeded(ORIGIN, "", primary, started)
    assert SecondaryZone.objects.get().next_refresh <= timezone.now()
    secondary.succeeded(ORIGIN, "", primary, timezone.now())
    later = SecondaryZone.objects.get().next_refresh - timezone.now()
    assert later > datetime.timedelta(minutes=59)  # the SOA's REFRESH, an hour


def test_a_new_soa_ttl_changes_no_other_records_ttl(loaded):
    _, _, _, text = soa_line(ORIGIN, 11)
    soa = (ORIGIN, 600, "SOA", text)
    body = zone_lines(ORIGIN, 11, WWW, ("www.sec.test.", 60, "A", "192.0.2.81"))[1:-1]
    loaded.serial, loaded.transfer = 11, lambda query: [soa, *body, soa]
    loaded.refuse[dns.rdatatype.IXFR] = dns.rcode.NOTIMP
    assert refresh().last_error == ""
    zone = Zone.objects.get(origin=ORIGIN)
    assert zone.default_ttl == 600  # the SOA's TTL
    ttls = dict(Record.objects.values_list("rdata", "ttl"))
    # Every record keeps the TTL sent; the two www A records share the lowest (RFC 2181 5.2).
    assert ttls == {"ns1.sec.test.": 300, "192.0.2.53": 300, "192.0.2.80": 60, "192.0.2.81": 60}

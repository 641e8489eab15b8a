"""DNSSEC keys, rollovers and what the operator is told, driven by an injected clock."""

from __future__ import annotations

import asyncio
import datetime

import dns.dnssec
import dns.message
import dns.name
import dns.rdata
import dns.rdatatype
import dns.rrset
import pytest
from django.core.management import CommandError, call_command

from dnsadmin import dnssec, snapshot
from dnsadmin.changes import add_record, create_zone
from dnsadmin.models import SigningKey, Zone, ZoneChange, ZoneSigning
from dnsadmin.names import authority, signer
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.zone import build_zone
from tests.names.validators import KeySet, policy

T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
ORIGIN = dns.name.from_text("example.org.")
SOA_WIRE = dns.rdata.from_text("IN", "SOA", "ns1.big. host.big. 1 7200 900 1209600 300").to_wire()


def served(zone, now):
    """Sign the zone as a DNS worker would at that moment; return the served zone."""
    built = snapshot.load_zone(zone.origin)
    plan = dnssec.signing_plan(zone.origin, now)
    if plan is not None:
        signer.sign_zone(built, plan.keys, plan.policy)
    return built


def apex(zone, now, rdtype):
    node = served(zone, now)._nodes[()]
    return node.get(rdtype)


def tags(zone, now, *, signing: bool | None = None):
    plan = dnssec.signing_plan(zone.origin, now)
    return {k.tag for k in plan.keys if signing is None or k.signing == signing}


def test_enabling_makes_a_ksk_and_a_zsk_sealed_and_bumps_the_serial_once(zone):
    serial = zone.serial
    dnssec.enable(zone, now=T0)
    zone.refresh_from_db()
    assert zone.serial != serial
    change = ZoneChange.objects.filter(source="dnssec").get()
    assert change.summary == "DNSSEC enabled (ecdsap256sha256, NSEC3)"
    keys = SigningKey.objects.filter(zone=zone)
    assert sorted(k.role for k in keys) == ["ksk", "zsk"]
    for key in keys:
        assert "PRIVATE KEY" not in key.private_sealed  # sealed, not PEM
    with pytest.raises(dnssec.DnssecError):
        dnssec.enable(zone, now=T0)


def test_a_signed_zone_validates_with_its_own_keys(zone):
    dnssec.enable(zone, algorithm="ed25519", nsec3=False, now=T0)
    built = served(zone, T0)
    query = dns.message.make_query("www.example.org.", "A", want_dnssec=True)
    response = dns.message.from_wire(authority.answer(query.to_wire(), ZoneCatalog([built])))
    a, sig = response.answer
    keys = dns.rrset.from_rdata_list(ORIGIN, 3600, list(built._nodes[()].get(dns.rdatatype.DNSKEY)))
    dns.dnssec.validate(a, sig, {ORIGIN: keys}, now=T0.timestamp())
    assert built._nodes[()].get(dns.rdatatype.NSEC) is not None


def test_ds_prints_sha256_ds_records_in_zone_file_syntax(zone, capsys):
    dnssec.enable(zone, now=T0)
    call_command("dnssec", "ds", "example.org")
    (line,) = capsys.readouterr().out.splitlines()
    origin, klass, rdtype, tag, algorithm, digest_type, digest = line.split()
    assert (origin, klass, rdtype, algorithm, digest_type) == (
        "example.org.",
        "IN",
        "DS",
        "13",
        "2",
    )
    ksk = SigningKey.objects.get(zone=zone, role="ksk")
    assert int(tag) == ksk.tag and len(digest) == 64


def test_status_says_what_each_key_does_and_never_shows_a_private_key(zone):
    dnssec.enable(zone, now=T0)
    found = dnssec.status(zone, T0)
    assert {k["role"]: k["state"] for k in found["keys"]} == {
        "ksk": "active, waiting for the parent's DS",
        "zsk": "active",
    }
    assert found["next_zsk_rollover"] == "2026-03-31T12:00:00+00:00"
    sealed = SigningKey.objects.first().private_sealed
    assert sealed not in repr(found) and "private" not in repr(found).lower()


def test_a_zsk_rollover_pre_publishes_then_swaps_then_removes(zone):
    dnssec.enable(zone, now=T0)
    (old,) = tags(zone, T0) - {SigningKey.objects.get(role="ksk").tag}
    dnssec.rollover(zone, "zsk", now=T0)
    new = SigningKey.objects.filter(role="zsk").exclude(tag=old).get()
    # Published, not signing, for the key set's TTL and margins.
    assert new.tag in tags(zone, T0, signing=False)
    later = new.active + datetime.timedelta(seconds=1)
    assert new.tag in tags(zone, later, signing=True) and old in tags(zone, later, signing=False)
    gone = SigningKey.objects.get(tag=old, role="zsk").removed
    assert old not in tags(zone, gone)
    with pytest.raises(dnssec.DnssecError):
        dnssec.rollover(zone, "zsk", now=T0)


def test_the_zsk_rolls_by_itself_when_its_lifetime_is_over(zone):
    dnssec.enable(zone, now=T0)
    assert dnssec.maintain(zone, T0 + datetime.timedelta(days=1)) == []
    done = dnssec.maintain(zone, T0 + datetime.timedelta(days=30))
    assert any(step.startswith("New ZSK") for step in done)
    assert SigningKey.objects.filter(role="zsk").count() == 2


def test_a_new_signing_period_starts_before_signatures_expire(zone):
    dnssec.enable(zone, now=T0)
    serial = ZoneSigning.objects.get().zone.serial
    week = T0 + dnssec.REFRESH
    assert dnssec.maintain(zone, week) == ["new signing period"]
    signing = ZoneSigning.objects.get()
    assert signing.period_start == week and signing.zone.serial != serial
    plan = dnssec.signing_plan(zone.origin, week)
    assert plan.policy.expiration == int((week + dnssec.VALIDITY).timestamp())


def test_a_ksk_rollover_offers_cds_and_waits_for_the_parents_ds(zone):
    dnssec.enable(zone, now=T0)
    dnssec.ds_seen(zone, now=T0)
    old = SigningKey.objects.get(role="ksk")
    assert apex(zone, T0, dns.rdatatype.CDS) is None
    dnssec.rollover(zone, "ksk", now=T0)
    new = SigningKey.objects.filter(role="ksk").exclude(pk=old.pk).get()
    cds = apex(zone, T0, dns.rdatatype.CDS)
    assert [r.key_tag for r in cds] == [new.tag]
    assert {new.tag, old.tag} <= tags(zone, T0, signing=True)  # double-KSK
    assert dnssec.status(zone, T0)["waiting_for_ds"] == [new.tag]
    with pytest.raises(dnssec.DnssecError):
        dnssec.rollover(zone, "ksk", now=T0)
    day = T0 + datetime.timedelta(days=1)
    dnssec.ds_seen(zone, now=day)
    assert apex(zone, day, dns.rdatatype.CDS) is None
    old.refresh_from_db()
    assert old.tag in tags(zone, day) and old.tag not in tags(zone, old.removed)


def test_disabling_keeps_signing_until_the_ds_is_gone_from_caches(zone):
    dnssec.enable(zone, now=T0)
    # The parent is ours and publishes no DS: gone from caches a DS TTL (a day) after seen gone.
    create_zone(Zone(origin="org.", primary_ns="ns1.org.", contact="hostmaster.org."))
    serial = zone.serial
    words = dnssec.disable(zone, now=T0)
    assert zone.serial != serial  # the workers publish the CDS delete
    assert "Remove its DS records at the registrar" in words
    (cds,) = apex(zone, T0, dns.rdatatype.CDS)  # RFC 8078 4: delete the DS, please
    (cdnskey,) = apex(zone, T0, dns.rdatatype.CDNSKEY)
    assert (cds.to_text(), cdnskey.to_text()) == ("0 0 0 00", "0 3 0 AA==")
    assert dnssec.maintain(zone, T0 + datetime.timedelta(hours=2)) == []
    assert dnssec.signing_plan(zone.origin, T0) is not None
    assert dnssec.maintain(zone, T0 + datetime.timedelta(days=2)) == ["went insecure"]
    assert dnssec.signing_plan(zone.origin, T0) is None
    assert not SigningKey.objects.exists()


def test_export_keys_writes_bind_key_files_that_only_the_owner_reads(zone, tmp_path, capsys):
    dnssec.enable(zone, now=T0)
    call_command("dnssec", "export-keys", "example.org.", str(tmp_path))
    privates = sorted(tmp_path.glob("Kexample.org.+013+*.private"))
    assert len(privates) == 2 and len(list(tmp_path.glob("*.key"))) == 2
    assert all(p.stat().st_mode & 0o077 == 0 for p in privates)
    assert "PrivateKey: " in privates[0].read_text()


def test_commands_say_what_is_wrong_in_words(zone):
    with pytest.raises(CommandError, match="not signed"):
        call_command("dnssec", "ds", "example.org.")
    with pytest.raises(CommandError, match="No zone"):
        call_command("dnssec", "status", "nowhere.test.")


def test_a_parent_zone_of_ours_publishing_the_ds_confirms_it(zone):
    child = create_zone(
        Zone(
            origin="sub.example.org.",
            primary_ns="ns1.example.org.",
            contact="hostmaster.example.org.",
        )
    )
    dnssec.enable(child, now=T0)
    assert dnssec.parent_view(child).nowhere()
    assert dnssec.maintain(child, T0) == []
    (line,) = dnssec.ds_lines(child, T0)
    add_record(zone, "sub", "NS", "ns1.example.org.")
    add_record(zone, "sub", "DS", line.split(" DS ")[1])
    assert not dnssec.parent_view(child).nowhere()
    done = dnssec.maintain(child, T0)
    assert (
        done and done[0].startswith("DS of KSK") and not dnssec.status(child, T0)["waiting_for_ds"]
    )
    assert dnssec.maintain(child, T0) == []


async def test_signing_a_large_zone_leaves_the_event_loop_turning():
    rows = [("@", 3600, dns.rdatatype.SOA, SOA_WIRE)]
    rows += [(f"h{i}", 300, dns.rdatatype.A, i.to_bytes(4, "big")) for i in range(3_000)]
    built = build_zone("big.", rows)
    keys = KeySet.new()
    plan = dnssec.Plan(keys.keys, policy())
    turns = 0
    signing = asyncio.create_task(dnssec.sign_off_loop(built, plan, None))
    while not signing.done():
        turns += 1
        await asyncio.sleep(0)
    await signing
    assert built.dnssec is not None and turns > 10  # a blocking signer leaves 1

"""IXFR out to a real secondary: BIND 9 with request-ixfr follows rundns incrementally, every
transfer signed with a TSIG key (the transfer ACL admits the key alone)."""

from __future__ import annotations

import difflib
import random
import re
import subprocess
from pathlib import Path

import dns.query
import dns.tsigkeyring
import dns.zone
import pytest
from django.core.management import call_command

from appliance.vault import unseal
from dnsadmin import dnssec
from dnsadmin.changes import RecordData, RRsetEdit, apply_changes, current_rrset, fingerprint
from dnsadmin.models import TsigKey, Zone
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_notify import serial_at
from tests.dnsadmin.test_rundns import start_rundns, stop, wait_for
from tests.dnsadmin.test_update_nsupdate import manage, shared_secrets_key
from tests.names.zones import NAMED_CONF
from tests.services import free_port

pytestmark = pytest.mark.integration
__all__ = ["shared_secrets_key"]  # a fixture

SECONDARY_ZONE = """
zone "example.org" {{
    type secondary;
    primaries {{ 127.0.0.1 port {primary} key xfr; }};
    file "example.org.secondary";
    request-ixfr yes;
    allow-transfer {{ 127.0.0.1; }};
}};
"""
# BIND's xfrin logs every transfer it completes, and at debug level 3 whether the answer was
# incremental ("got incremental response") or a full zone ("got nonincremental response").
TRANSFER_KIND = re.compile(r"transfer of 'example\.org/IN' from \S+: Transfer completed.*")


@pytest.fixture
def secondary_port() -> int:
    return free_port()


@pytest.fixture
def primary(shared_secrets_key, tmp_path, secondary_port):
    zone_file = tmp_path / "example.org.zone"
    zone_file.write_text(ZONE)
    call_command("loadzone", str(zone_file))
    (tmp_path / "xfr.key").write_text(manage("tsig", "add", "xfr"))
    Zone.objects.update(transfer_acl="key xfr", notify_targets=f"127.0.0.1:{secondary_port}")
    server = start_rundns(shared_secrets_key, "--no-recursion")
    yield server
    if server.process.poll() is None:
        stop(server)


@pytest.fixture
def bind_secondary(primary, secondary_port, tmp_path):
    conf = tmp_path / "secondary.conf"
    zones = SECONDARY_ZONE.format(primary=primary.port)
    keys = (tmp_path / "xfr.key").read_text()
    conf.write_text(keys + NAMED_CONF.format(directory=tmp_path, port=secondary_port, zones=zones))
    log_path = tmp_path / "secondary.log"
    with log_path.open("w") as log:
        command = ["named", "-g", "-d", "3", "-n", "1", "-c", str(conf)]
        named = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    yield log_path
    named.terminate()
    named.wait(15)


def axfr(port: int, keyring=None) -> dns.zone.Zone:
    transfer = dns.query.xfr("127.0.0.1", "example.org.", port=port, timeout=5, keyring=keyring)
    return dns.zone.from_xfr(transfer)


def random_edit(zone: Zone, rng: random.Random) -> None:
    """Add, delete or re-TTL a record at one of a few names, through the change service."""
    owner = rng.choice(["www", "mail", "a", "b.c", "deep.b.c"])
    rdtype = rng.choice(["A", "AAAA", "TXT"])
    records = current_rrset(zone, owner, rdtype)
    ttl = records[0].ttl if records else None
    values = {r.rdata for r in records}
    roll = rng.random()
    if roll < 0.25 and records:
        ttl = rng.choice([None, 60, 300, 7200])
    elif roll < 0.5 and records:
        values.discard(rng.choice(sorted(values)))
    else:
        number = rng.randint(1, 9)
        values.add(
            {"A": f"192.0.2.{number}", "AAAA": f"2001:db8::{number}", "TXT": f'"v{number}"'}[rdtype]
        )
    new = tuple(RecordData(value, ttl) for value in sorted(values))
    apply_changes(zone, [RRsetEdit(owner, rdtype, new, fingerprint(records))])


def transfers(log: Path) -> tuple[int, int, int]:
    """Count BIND's transfers completed, and the incremental and full answers it got."""
    text = log.read_text()
    return (
        len(TRANSFER_KIND.findall(text)),
        text.count("got incremental response"),
        text.count("got nonincremental response"),
    )


def settled(log: Path) -> bool:
    """Tell whether every transfer BIND started has been logged as completed."""
    done, incremental, full = transfers(log)
    return done == incremental + full


def test_bind_follows_every_edit_by_ixfr_and_ends_with_our_zone(
    primary, bind_secondary, secondary_port
):
    zone, log = Zone.objects.get(), bind_secondary
    assert wait_for(lambda: serial_at(secondary_port) == zone.serial, 20)
    assert wait_for(lambda: settled(log), 10)
    assert transfers(log) == (1, 0, 1), log.read_text()[-3000:]  # BIND's first copy: AXFR

    apply_changes(zone, [RRsetEdit("new", "A", (RecordData("192.0.2.7"),), fingerprint(()))])
    assert wait_for(lambda: serial_at(secondary_port) == zone.serial, 10)
    assert wait_for(lambda: settled(log), 10)
    assert transfers(log) == (2, 1, 1), log.read_text()[-3000:]

    rng = random.Random(1995)
    for round_ in range(5):
        for _ in range(10):
            random_edit(zone, rng)
        # Between rounds BIND catches up, so later IXFRs start from serials it held.
        assert wait_for(lambda: serial_at(secondary_port) == zone.serial, 20), round_
    key = TsigKey.objects.get()
    keyring = dns.tsigkeyring.from_text({"xfr": (key.algorithm, unseal(key.sealed_secret))})
    theirs, ours = axfr(secondary_port), axfr(primary.port, keyring)
    lines = [sorted(zone.to_text().splitlines()) for zone in (ours, theirs)]
    assert theirs == ours, "\n".join(difflib.unified_diff(*lines, lineterm=""))
    assert wait_for(lambda: settled(log), 10)
    done, incremental, full = transfers(log)
    # Every transfer after BIND's first (an AXFR: it had no copy) was incremental.
    assert done >= 7 and (incremental, full) == (done - 1, 1), log.read_text()[-5000:]
    text = log.read_text()
    assert text.count(": TSIG 'xfr'") >= done  # each transfer signed, and checked by BIND
    assert key.last_used is not None and "never used" not in manage("tsig", "list")


def test_bind_follows_edits_to_a_signed_zone_by_ixfr(primary, bind_secondary, secondary_port):
    """Signatures and NSEC3 records go out incrementally with the edits that changed them."""
    zone, log = Zone.objects.get(), bind_secondary
    dnssec.enable(zone)
    zone.refresh_from_db()
    assert wait_for(lambda: serial_at(secondary_port) == zone.serial, 20)
    assert wait_for(lambda: settled(log), 10)
    before = transfers(log)  # the copy before signing, then the zone signed whole
    edits = [
        ("new", "A", ("192.0.2.7",)),  # a name comes: the NSEC3 chain changes around it
        ("www", "A", ("192.0.2.80", "192.0.2.81")),
        ("new", "A", ()),  # and goes
    ]
    for owner, rdtype, values in edits:
        records = current_rrset(zone, owner, rdtype)
        new = tuple(RecordData(value) for value in values)
        apply_changes(zone, [RRsetEdit(owner, rdtype, new, fingerprint(records))])
        assert wait_for(lambda: serial_at(secondary_port) == zone.serial, 10), owner
    assert wait_for(lambda: settled(log), 10)
    done, incremental, full = transfers(log)
    assert done > before[0] and (incremental - before[1], full) == (done - before[0], before[2])
    key = TsigKey.objects.get()
    keyring = dns.tsigkeyring.from_text({"xfr": (key.algorithm, unseal(key.sealed_secret))})
    theirs, ours = axfr(secondary_port), axfr(primary.port, keyring)
    assert ours.get_rdataset("@", "NSEC3PARAM") is not None
    lines = [sorted(zone.to_text().splitlines()) for zone in (ours, theirs)]
    assert lines[0] == lines[1], "\n".join(difflib.unified_diff(*lines, lineterm=""))

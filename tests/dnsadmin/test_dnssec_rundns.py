"""`rundns --workers 2` serves a zone signed from the database's keys: a validating Unbound
says every answer is secure, before and after an edit, and dnssec-verify accepts the AXFR."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import dns.flags
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update
import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from appliance import vault
from dnsadmin import dnssec, updates
from dnsadmin.changes import add_record, change_settings
from dnsadmin.models import Zone
from tests.conftest import ROOT, clean_environment
from tests.dnsadmin.test_rundns import RunningDNS, wait_for
from tests.dnsadmin.test_rundns_workers import load_example_zone
from tests.names.validators import Unbound, axfr_text, delv, dnssec_verify
from tests.services import free_port

pytestmark = pytest.mark.integration
ORIGIN = "example.org."


@pytest.fixture
def secrets_key(monkeypatch):
    """One sealing key for the test and the workers it starts (as one appliance has)."""
    monkeypatch.setenv("APPLIANCE_SECRETS_KEY", Fernet.generate_key().decode())
    vault._fernet.cache_clear()
    yield
    vault._fernet.cache_clear()


@pytest.fixture
def signed_workers(secrets_key, worker_env, tmp_path):
    load_example_zone(tmp_path)
    zone = Zone.objects.get(origin=ORIGIN)
    change_settings(zone, {"transfer_acl": "127.0.0.1"})
    dnssec.enable(zone)
    port = free_port()
    env = {**worker_env, "APPLIANCE_SECRETS_KEY": os.environ["APPLIANCE_SECRETS_KEY"]}
    log = (tmp_path / "rundns.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rundns", "--workers", "2", "--port", str(port)],
        cwd=ROOT, env=clean_environment(env), stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    server = RunningDNS(process, port)
    # Both workers up (a worker stopped before it is would fail the exit code), and signing.
    logged = tmp_path / "rundns.log"
    assert wait_for(lambda: logged.read_text().count("serving 1 zones") == 2, 30)
    assert wait_for(lambda: "RRSIG" in server.dig("+dnssec", "www.example.org", "A"), 30)
    unbound = Unbound(tmp_path, port, zones=(ORIGIN,))
    unbound.start(dnssec.ds_lines(zone))
    yield server, unbound, zone
    unbound.stop()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=20)
    log.close()
    assert code == 0, (tmp_path / "rundns.log").read_text()[-3000:]


def secure(unbound: Unbound, name: str, rdtype: str = "A") -> tuple[int, bool]:
    response = unbound.ask(name, rdtype)
    return response.rcode(), bool(response.flags & dns.flags.AD)


def test_both_workers_serve_a_zone_that_validates_and_follows_edits(signed_workers, tmp_path):
    server, unbound, zone = signed_workers
    for _ in range(6):  # Unbound's random source ports spread these over both workers
        assert secure(unbound, "www.example.org.") == (dns.rcode.NOERROR, True), unbound.log()
        assert secure(unbound, "nx.example.org.") == (dns.rcode.NXDOMAIN, True)
        assert secure(unbound, "www.example.org.", "MX") == (dns.rcode.NOERROR, True)
    add_record(zone, "fresh", "A", "192.0.2.99")
    assert wait_for(lambda: secure(unbound, "fresh.example.org.") == (0, True), 10)
    done = dnssec_verify(tmp_path, ORIGIN, axfr_text(server.port, ORIGIN))
    assert done.returncode == 0, done.stderr


def test_updates_are_re_signed_where_they_land_and_the_zone_still_verifies(
    signed_workers, tmp_path
):
    """RFC 2136 updates (applied by one worker, which patches and re-signs the zone it serves;
    the other patches its own from the history) and a web edit, each re-signing only what it
    touched: new names and empty non-terminals, a name emptied, the SOA; then the AXFR from
    either worker passes dnssec-verify, and delv and Unbound validate what changed."""
    server, unbound, zone = signed_workers
    key, clause = updates.add_key("acme")
    updates.add_rule(zone, key, "zonesub", types=["A", "TXT"])
    secret = re.search(r'secret "([^"]+)"', clause).group(1)
    keyring = dns.tsigkeyring.from_text({"acme": ("hmac-sha256", secret)})

    def send(build) -> int:
        message = dns.update.UpdateMessage(ORIGIN, keyring=keyring)
        build(message)
        return dns.query.udp(message, "127.0.0.1", port=server.port, timeout=10).rcode()

    assert send(lambda m: m.add("a.new.deep", 300, "A", "192.0.2.61")) == dns.rcode.NOERROR
    assert send(lambda m: m.add("txt", 300, "TXT", '"one"')) == dns.rcode.NOERROR
    assert send(lambda m: m.replace("txt", 300, "TXT", '"two"')) == dns.rcode.NOERROR
    assert send(lambda m: m.delete("a.new.deep")) == dns.rcode.NOERROR
    add_record(zone, "web", "A", "192.0.2.62")
    serial = str(Zone.objects.get().serial)
    # Both workers serve the last serial: a query from each of several source ports (which
    # the kernel spreads over the workers) says so.
    assert wait_for(lambda: all(serial in server.short("example.org", "SOA") for _ in range(8)), 10)
    for _ in range(4):  # Unbound's random source ports spread these over both workers
        assert secure(unbound, "web.example.org.") == (0, True), unbound.log()
        assert secure(unbound, "txt.example.org.", "TXT") == (0, True), unbound.log()
        assert secure(unbound, "a.new.deep.example.org.") == (dns.rcode.NXDOMAIN, True)
        assert secure(unbound, "deep.example.org.") == (dns.rcode.NXDOMAIN, True)
    for _ in range(3):  # the worker that answers the transfer is the kernel's choice
        done = dnssec_verify(tmp_path, ORIGIN, axfr_text(server.port, ORIGIN))
        assert done.returncode == 0, done.stderr
    anchors = [line.replace(" IN DS ", " DS ") for line in dnssec.ds_lines(zone)]
    said = delv(server.port, anchors, tmp_path, "txt.example.org.", "TXT")
    assert "fully validated" in said and '"two"' in said, said


def test_the_status_command_names_the_keys(signed_workers, capsys):
    call_command("dnssec", "status", ORIGIN)
    out = capsys.readouterr().out
    assert "KSK" in out and "ZSK" in out and "waiting for the parent's DS" in out

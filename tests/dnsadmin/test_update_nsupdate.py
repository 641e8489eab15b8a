"""RFC 2136 updates from BIND's nsupdate, signed with keys made by `manage.py tsig add`."""

from __future__ import annotations

import io
import re
import socket
import subprocess
import time
from unittest import mock

import dns.message
import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update
import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from appliance import vault
from dnsadmin.models import Zone, ZoneChange
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_rundns import start_rundns, stop, wait_for

pytestmark = pytest.mark.integration


def manage(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def shared_secrets_key(worker_env, monkeypatch):
    """One vault key for the test and rundns, which unseals the keys the test made."""
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("APPLIANCE_SECRETS_KEY", key)
    vault._fernet.cache_clear()
    yield {**worker_env, "APPLIANCE_SECRETS_KEY": key}
    vault._fernet.cache_clear()


@pytest.fixture
def primary(shared_secrets_key, tmp_path):
    """example.org on rundns; key acme may change anything but SOA and NS, key scoped only
    the TXT records of _acme-challenge."""
    (tmp_path / "example.org.zone").write_text(ZONE)
    call_command("loadzone", str(tmp_path / "example.org.zone"))
    for name in ("acme", "scoped"):
        (tmp_path / f"{name}.key").write_text(manage("tsig", "add", name))
    manage("zone", "grant", "example.org", "acme", "zonesub")
    manage("zone", "grant", "example.org", "scoped", "name", "_acme-challenge", "TXT")
    server = start_rundns(shared_secrets_key, "--no-recursion")
    yield server
    if server.process.poll() is None:
        stop(server)


def nsupdate(server, key_file, *lines: str) -> subprocess.CompletedProcess:
    script = "\n".join([f"server 127.0.0.1 {server.port}", "zone example.org", *lines, "send", ""])
    command = ["nsupdate", *(["-k", str(key_file)] if key_file else []), "-t", "5"]
    return subprocess.run(command, input=script, capture_output=True, text=True, timeout=30)


def test_tsig_add_prints_a_bind_key_clause_that_named_checkconf_accepts(db, tmp_path):
    text = manage("tsig", "add", "acme", "--algorithm", "hmac-sha512")
    assert text.startswith('key "acme" {\n\talgorithm hmac-sha512;\n\tsecret "')
    (tmp_path / "named.conf").write_text(text)
    assert subprocess.run(["named-checkconf", str(tmp_path / "named.conf")]).returncode == 0
    listing = manage("tsig", "list")
    assert "acme.\thmac-sha512\tnever used\tno rules" in listing
    assert "secret" not in listing


def test_nsupdate_adds_replaces_deletes_a_value_and_a_name(primary, tmp_path):
    key = tmp_path / "acme.key"
    done = nsupdate(primary, key, "update add host.example.org 300 A 192.0.2.1",
                    "update add host.example.org 300 A 192.0.2.2")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(primary.short("host.example.org", "A").split()) == ["192.0.2.1", "192.0.2.2"]
    assert nsupdate(primary, key, "update delete host.example.org A 192.0.2.1").returncode == 0
    assert primary.short("host.example.org", "A") == "192.0.2.2"
    replace = ["update delete www.example.org A", "update add www.example.org 60 A 192.0.2.99"]
    assert nsupdate(primary, key, *replace).returncode == 0
    assert primary.dig("+noall", "+answer", "www.example.org", "A").split()[1] == "60"
    assert nsupdate(primary, key, "update delete host.example.org").returncode == 0
    # Served by the worker once it has heard the ring (within the usual second).
    assert wait_for(lambda: "NXDOMAIN" in primary.dig("host.example.org", "A"), 30)
    changes = ZoneChange.objects.filter(source="update")
    assert changes.count() == 4
    assert {change.author for change in changes} == {"update (key acme)"}
    assert "never used" not in manage("tsig", "list").splitlines()[0]


def test_a_scoped_grant_refuses_what_it_does_not_grant(primary, tmp_path):
    key = tmp_path / "scoped.key"
    allowed = nsupdate(primary, key, 'update add _acme-challenge.example.org 60 TXT "token"')
    assert allowed.returncode == 0, allowed.stderr
    for line in ('update add _acme-challenge.example.org 60 CAA 0 issue "ca.test"',
                 'update add other.example.org 60 TXT "token"',
                 "update delete www.example.org A"):  # fmt: skip
        refused = nsupdate(primary, key, line)
        assert "REFUSED" in refused.stderr, line
    assert primary.short("www.example.org", "A") == "192.0.2.80"


def test_a_failed_prerequisite_changes_nothing(primary, tmp_path):
    serial = Zone.objects.get().serial
    done = nsupdate(primary, tmp_path / "acme.key", "prereq nxdomain www.example.org",
                    "update add new.example.org 60 A 192.0.2.7")  # fmt: skip
    assert "YXDOMAIN" in done.stderr
    done = nsupdate(primary, tmp_path / "acme.key", "prereq yxrrset www.example.org A 192.0.2.1",
                    "update add new.example.org 60 A 192.0.2.7")  # fmt: skip
    assert "NXRRSET" in done.stderr
    assert Zone.objects.get().serial == serial
    assert primary.short("new.example.org", "A") == ""


def send(server, wire: bytes) -> dns.message.Message:
    """Send raw bytes and read the response without checking its TSIG."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(wire, ("127.0.0.1", server.port))
        data = sock.recv(65535)
    return dns.message.from_wire(data, keyring=False)


def update_wire(keyring=None, *, at: float | None = None) -> bytes:
    message = dns.update.UpdateMessage("example.org")
    message.add("intruder.example.org", 60, "A", "192.0.2.66")
    if keyring:
        message.use_tsig(keyring)
    with mock.patch("dns.renderer.time.time", return_value=at or time.time()):
        return message.to_wire()


def read_secret(key_file) -> str:
    return re.search(r'secret "([^"]+)"', key_file.read_text()).group(1)


def test_wrong_secrets_unknown_keys_unsigned_and_stale_updates_change_nothing(primary, tmp_path):
    serial = Zone.objects.get().serial
    wrong = dns.tsigkeyring.from_text({"acme": ("hmac-sha256", "c2VjcmV0c2VjcmV0c2VjcmV0")})
    unknown = dns.tsigkeyring.from_text({"nobody": ("hmac-sha256", "c2VjcmV0c2VjcmV0")})
    right = dns.tsigkeyring.from_text({"acme": ("hmac-sha256", read_secret(tmp_path / "acme.key"))})
    cases = {
        "BADSIG": update_wire(wrong),
        "BADKEY": update_wire(unknown),
        "BADTIME": update_wire(right, at=time.time() - 1000),
    }
    for error, wire in cases.items():
        response = send(primary, wire)
        assert response.rcode() == dns.rcode.NOTAUTH, error
        assert response.tsig[0].error == dns.rcode.from_text(error), error
    assert send(primary, update_wire()).rcode() == dns.rcode.REFUSED
    assert Zone.objects.get().serial == serial
    assert primary.short("intruder.example.org", "A") == ""
    response = dns.query.udp(dns.message.from_wire(update_wire(right), keyring=right),
                             "127.0.0.1", port=primary.port, timeout=5)  # fmt: skip
    assert response.rcode() == dns.rcode.NOERROR  # and its TSIG checked by dnspython


def test_a_signed_query_gets_a_signed_answer_even_when_the_unsigned_one_is_memoised(
    primary, tmp_path
):
    keyring = dns.tsigkeyring.from_text(
        {"acme": ("hmac-sha256", read_secret(tmp_path / "acme.key"))}
    )
    for _ in range(3):  # the first answer is kept; the next ones come from the memo
        plain = dns.message.make_query("example.org.", "SOA")
        plain.id = 4242
        assert not dns.query.udp(plain, "127.0.0.1", port=primary.port, timeout=5).had_tsig
    for _ in range(2):
        signed = dns.message.make_query("example.org.", "SOA")
        signed.id = 4242
        signed.use_tsig(keyring)
        answer = dns.query.udp(signed, "127.0.0.1", port=primary.port, timeout=5)
        assert answer.had_tsig and answer.answer  # dnspython checked its MAC

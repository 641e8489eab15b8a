"""The real use: certbot's RFC 2136 plugin answers DNS-01 challenges from pebble (an ACME test
CA resolving through rundns) and gets a wildcard certificate, the TXT records coming and going
through signed updates."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import call_command

from dnsadmin.models import RRsetChange, ZoneChange
from tests.dnsadmin.test_rundns import start_rundns, stop
from tests.dnsadmin.test_update_nsupdate import manage, read_secret, shared_secrets_key
from tests.services import free_port

pytestmark = pytest.mark.integration
__all__ = ["shared_secrets_key"]  # a fixture

ZONE = """\
$ORIGIN example.test.
$TTL 300
@    IN SOA ns1 hostmaster 2026010100 7200 900 1209600 300
     IN NS  ns1
ns1  IN A   127.0.0.1
@    IN A   127.0.0.1
"""


def self_signed(directory) -> tuple[str, str]:
    """A certificate for pebble's own HTTPS listener (certbot is told not to check it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1)).add_extension(san, critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "pebble.pem", directory / "pebble.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )  # fmt: skip
    )
    return str(cert_path), str(key_path)


def wait_listening(port: int, process) -> None:
    for _ in range(300):
        assert process.poll() is None, "pebble exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("pebble did not listen")


@pytest.fixture
def appliance(shared_secrets_key, tmp_path):
    (tmp_path / "example.test.zone").write_text(ZONE)
    call_command("loadzone", str(tmp_path / "example.test.zone"))
    (tmp_path / "acme.key").write_text(manage("tsig", "add", "acme"))
    manage("zone", "grant", "example.test", "acme", "name", "_acme-challenge", "TXT")
    server = start_rundns(shared_secrets_key, "--no-recursion")
    yield server
    stop(server)


@pytest.fixture
def pebble(appliance, tmp_path):
    """pebble, checking DNS-01 challenges by asking rundns."""
    cert, key = self_signed(tmp_path)
    port = free_port()
    config = {"pebble": {
        "listenAddress": f"127.0.0.1:{port}", "managementListenAddress": f"127.0.0.1:{free_port()}",
        "certificate": cert, "privateKey": key, "httpPort": free_port(), "tlsPort": free_port(),
        "ocspResponderURL": "", "externalAccountBindingRequired": False,
    }}  # fmt: skip
    (tmp_path / "pebble.json").write_text(json.dumps(config))
    env = {"PATH": "/usr/bin:/bin", "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    log = (tmp_path / "pebble.log").open("w")
    process = subprocess.Popen(
        ["pebble", "-config", str(tmp_path / "pebble.json"),
         "-dnsserver", f"127.0.0.1:{appliance.port}"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_listening(port, process)
        yield f"https://127.0.0.1:{port}/dir"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_certbot_gets_a_wildcard_certificate_through_rfc2136_updates(appliance, pebble, tmp_path):
    credentials = tmp_path / "rfc2136.ini"
    credentials.write_text(
        "dns_rfc2136_server = 127.0.0.1\n"
        f"dns_rfc2136_port = {appliance.port}\n"
        "dns_rfc2136_name = acme\n"
        f"dns_rfc2136_secret = {read_secret(tmp_path / 'acme.key')}\n"
        "dns_rfc2136_algorithm = HMAC-SHA256\n"
    )
    credentials.chmod(0o600)
    dirs = [f"--{kind}-dir={tmp_path / kind}" for kind in ("config", "work", "logs")]
    done = subprocess.run(
        ["certbot", "certonly", "--non-interactive", "--agree-tos", "-m", "ops@example.test",
         "--server", pebble, "--no-verify-ssl", "--dns-rfc2136",
         "--dns-rfc2136-credentials", str(credentials),
         "--dns-rfc2136-propagation-seconds", "1",
         "-d", "example.test", "-d", "*.example.test", "--cert-name", "example", *dirs],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    log = (tmp_path / "logs" / "letsencrypt.log").read_text() if done.returncode else ""
    assert done.returncode == 0, done.stderr + log[-4000:]
    pem = (tmp_path / "config" / "live" / "example" / "cert.pem").read_bytes()
    names = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert sorted(names.value.get_values_for_type(x509.DNSName)) == [
        "*.example.test", "example.test",
    ]  # fmt: skip
    assert appliance.short("_acme-challenge.example.test", "TXT") == ""
    history = ZoneChange.objects.filter(source="update").order_by("id")
    assert {change.author for change in history} == {"update (key acme)"}
    challenges = RRsetChange.objects.filter(change__in=history, owner="_acme-challenge")
    assert challenges.filter(before=[]).exists()  # they came
    assert challenges.filter(after=[]).exists()  # and went

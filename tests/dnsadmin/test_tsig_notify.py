"""A BIND 9 secondary tied to the appliance by a key: NOTIFY signed, AXFR signed, both checked
by BIND, and the transfer ACL admitting the key alone."""

from __future__ import annotations

import subprocess

import dns.message
import dns.query
import dns.rcode
import pytest
from django.core.management import call_command

from dnsadmin.changes import add_record
from dnsadmin.models import Zone
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_notify import ask, serial_at
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
}};
"""


@pytest.fixture
def primary(shared_secrets_key, tmp_path):
    (tmp_path / "example.org.zone").write_text(ZONE)
    call_command("loadzone", str(tmp_path / "example.org.zone"))
    (tmp_path / "xfr.key").write_text(manage("tsig", "add", "xfr"))
    port = free_port()
    Zone.objects.update(transfer_acl="key xfr", notify_targets=f"127.0.0.1:{port} key xfr")
    server = start_rundns(shared_secrets_key, "--no-recursion")
    server.secondary_port = port
    yield server
    stop(server)


def test_a_keyed_secondary_is_notified_and_transfers_with_the_key(primary, tmp_path):
    port = primary.secondary_port
    unsigned = dns.message.make_query("example.org.", "AXFR")
    response = dns.query.tcp(unsigned, "127.0.0.1", port=primary.port, timeout=5)
    assert response.rcode() == dns.rcode.REFUSED  # the ACL names a key, not an address
    conf = tmp_path / "secondary.conf"
    zones = SECONDARY_ZONE.format(primary=primary.port)
    keys = (tmp_path / "xfr.key").read_text()
    conf.write_text(keys + NAMED_CONF.format(directory=tmp_path, port=port, zones=zones))
    log_path = tmp_path / "secondary.log"
    named = subprocess.Popen(
        ["named", "-g", "-n", "1", "-c", str(conf)],
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        zone = Zone.objects.get()
        assert wait_for(lambda: serial_at(port) == zone.serial, 20), log_path.read_text()[-3000:]
        add_record(zone, "new", "A", "192.0.2.7")
        zone.refresh_from_db()
        assert wait_for(lambda: serial_at(port) == zone.serial, 10), log_path.read_text()[-3000:]
        assert [r.address for r in ask(port, "new.example.org.", "A").answer[0]] == ["192.0.2.7"]
        log = log_path.read_text()
        assert "/key xfr: received notify for zone 'example.org': TSIG 'xfr'" in log
        assert f"transferred serial {zone.serial}: TSIG 'xfr'" in log
    finally:
        named.terminate()
        named.wait(timeout=15)

"""NOTIFY from rundns to a real secondary: BIND 9 transfers the zone as soon as it changes."""

from __future__ import annotations

import subprocess

import dns.message
import dns.query
import pytest
from django.core.management import call_command

from dnsadmin.changes import add_record
from dnsadmin.models import Zone
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_rundns import start_rundns, stop, wait_for
from tests.names.zones import NAMED_CONF
from tests.services import free_port

pytestmark = pytest.mark.integration

SECONDARY_ZONE = """
zone "example.org" {{
    type secondary;
    primaries {{ 127.0.0.1 port {primary}; }};
    file "example.org.secondary";
}};
"""


def ask(port: int, name: str, rdtype: str) -> dns.message.Message | None:
    try:
        return dns.query.udp(
            dns.message.make_query(name, rdtype), "127.0.0.1", port=port, timeout=1
        )
    except (dns.exception.Timeout, OSError):
        return None


def serial_at(port: int) -> int | None:
    response = ask(port, "example.org.", "SOA")
    return response.answer[0][0].serial if response is not None and response.answer else None


@pytest.fixture
def secondary_port() -> int:
    return free_port()


@pytest.fixture
def primary(worker_env, tmp_path, secondary_port):
    zone_file = tmp_path / "example.org.zone"
    zone_file.write_text(ZONE)
    call_command("loadzone", str(zone_file))
    Zone.objects.update(transfer_acl="127.0.0.1", notify_targets=f"127.0.0.1:{secondary_port}")
    server = start_rundns(worker_env, "--no-recursion")
    yield server
    if server.process.poll() is None:
        stop(server)


def test_a_secondary_is_notified_and_transfers_the_new_serial(primary, secondary_port, tmp_path):
    port = secondary_port
    conf = tmp_path / "secondary.conf"
    zones = SECONDARY_ZONE.format(primary=primary.port)
    conf.write_text(NAMED_CONF.format(directory=tmp_path, port=port, zones=zones))
    log = (tmp_path / "secondary.log").open("w")
    named = subprocess.Popen(["named", "-g", "-n", "1", "-c", str(conf)], stdout=log, stderr=log)
    try:
        zone = Zone.objects.get()
        # The first transfer is BIND's own, at start; the SOA refresh (7200 s) is far off.
        assert wait_for(lambda: serial_at(port) == zone.serial, 20)
        add_record(zone, "new", "A", "192.0.2.7")
        zone.refresh_from_db()
        assert wait_for(lambda: serial_at(port) == zone.serial, 10), (
            tmp_path / "secondary.log"
        ).read_text()[-3000:]
        answer = ask(port, "new.example.org.", "A")
        assert [rdata.address for rdata in answer.answer[0]] == ["192.0.2.7"]
        assert "received notify for zone 'example.org'" in (tmp_path / "secondary.log").read_text()
    finally:
        named.terminate()
        named.wait(10)
        log.close()

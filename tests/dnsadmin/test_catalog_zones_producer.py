"""Knot DNS 3 and BIND 9 as secondaries of the appliance's catalog zone: a zone created in the
appliance is served by them, and a deleted one goes away, without their configuration being
touched."""

from __future__ import annotations

import subprocess
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest
from django.core.management import call_command

from dnsadmin.changes import create_zone, delete_zone
from dnsadmin.models import Zone
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_rundns import start_rundns, stop, wait_for
from tests.services import free_port

pytestmark = pytest.mark.integration
CATALOG = "catalog.invalid."

KNOT_CONF = """
server:
    listen: 127.0.0.1@{port}
    rundir: {directory}
database:
    storage: {directory}
remote:
  - id: appliance
    address: 127.0.0.1@{primary}
acl:
  - id: notify_from_appliance
    address: 127.0.0.1
    action: notify
template:
  - id: default
    storage: {directory}
  - id: member
    master: appliance
    acl: notify_from_appliance
    storage: {directory}
zone:
  - domain: {catalog}
    master: appliance
    acl: notify_from_appliance
    catalog-role: interpret
    catalog-template: member
log:
  - target: stderr
    any: info
"""

BIND_CONF = """
options {{
    directory "{directory}";
    pid-file "{directory}/named.pid";
    session-keyfile "{directory}/session.key";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    catalog-zones {{
        zone "catalog.invalid" default-primaries {{ 127.0.0.1 port {primary}; }}
            in-memory yes min-update-interval 1;
    }};
}};
controls {{ }};
zone "catalog.invalid" {{
    type secondary;
    primaries {{ 127.0.0.1 port {primary}; }};
    file "catalog.invalid.secondary";
}};
"""


@pytest.fixture
def bind_secondary(primary, secondary_port, tmp_path):
    """BIND 9 following the catalog (catalog-zones, RFC 9432), its members from rundns."""
    conf = tmp_path / "named.conf"
    conf.write_text(BIND_CONF.format(directory=tmp_path, port=secondary_port, primary=primary.port))
    log_path = tmp_path / "named.log"
    with log_path.open("w") as log:
        named = subprocess.Popen(
            ["named", "-g", "-n", "1", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
    yield log_path
    named.terminate()
    named.wait(15)


def served_by(port: int, origin: str) -> bool:
    """Tell whether the server at port answers origin's SOA with authority."""
    query = dns.message.make_query(origin, "SOA")
    try:
        response = dns.query.udp(query, "127.0.0.1", port=port, timeout=1)
    except (dns.exception.Timeout, OSError):
        return False
    return response.rcode() == dns.rcode.NOERROR and bool(response.flags & dns.flags.AA)


@pytest.fixture
def secondary_port() -> int:
    return free_port()


@pytest.fixture
def primary(worker_env, tmp_path, secondary_port):
    zone_file = tmp_path / "example.org.zone"
    zone_file.write_text(ZONE)
    call_command("loadzone", str(zone_file))
    Zone.objects.update(transfer_acl="127.0.0.1")
    env = {
        **worker_env,
        "DNS_CATALOG_ZONE": CATALOG,
        "DNS_CATALOG_TRANSFER": "127.0.0.1",
        "DNS_CATALOG_NOTIFY": f"127.0.0.1:{secondary_port}",
    }
    server = start_rundns(env, "--no-recursion")
    yield server
    if server.process.poll() is None:
        stop(server)


@pytest.fixture
def knot(primary, secondary_port, tmp_path):
    directory = tmp_path / "knot"
    directory.mkdir()
    conf = directory / "knot.conf"
    conf.write_text(
        KNOT_CONF.format(
            port=secondary_port, directory=directory, primary=primary.port, catalog=CATALOG
        )
    )
    log_path = directory / "knot.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(["knotd", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    yield log_path
    process.terminate()
    process.wait(15)


def test_knot_serves_a_new_zone_and_drops_a_deleted_one_by_the_catalog(
    primary, knot, secondary_port
):
    assert served_by(primary.port, CATALOG)  # the worker made the catalog at start
    follows_the_catalog(secondary_port, knot)


def test_bind_serves_a_new_zone_and_drops_a_deleted_one_by_the_catalog(
    primary, bind_secondary, secondary_port
):
    follows_the_catalog(secondary_port, bind_secondary)


def follows_the_catalog(secondary_port: int, log: Path) -> None:
    """Check that the secondary at secondary_port serves the zones our catalog lists, and
    only those, as they are created and deleted."""
    assert wait_for(lambda: served_by(secondary_port, "example.org."), 30), log.read_text()[-3000:]
    fresh = create_zone(
        Zone(origin="fresh.example.", primary_ns="ns1.fresh.example.",
             contact="dns.fresh.example.", transfer_acl="127.0.0.1")
    )  # fmt: skip
    # NOTIFY of the catalog brings it to Knot, which then transfers the new member.
    assert wait_for(lambda: served_by(secondary_port, "fresh.example."), 30), log.read_text()[
        -3000:
    ]

    delete_zone(fresh)
    assert wait_for(lambda: not served_by(secondary_port, "fresh.example."), 30), log.read_text()[
        -3000:
    ]
    assert served_by(secondary_port, "example.org.")

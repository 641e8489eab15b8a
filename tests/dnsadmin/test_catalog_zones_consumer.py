"""The appliance follows a catalog zone from BIND 9: it creates, transfers and removes the
member zones on its own."""

from __future__ import annotations

import subprocess

import dns.query
import dns.update
import pytest

from dnsadmin import catalogzones
from dnsadmin.models import SecondaryZone
from tests.dnsadmin.test_catalog_zones_producer import served_by
from tests.dnsadmin.test_rundns import start_rundns, stop, wait_for
from tests.names.zones import NAMED_CONF, wait_until_answering
from tests.services import free_port

pytestmark = pytest.mark.integration
CATALOG = "catalog.example."
MEMBERS = ("one.example.", "two.example.")

CATALOG_ZONE = """$TTL 3600
@ IN SOA invalid. invalid. 1 3600 600 86400 60
@ IN NS invalid.
version IN TXT "2"
{members}
"""
MEMBER_ZONE = """$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
@ IN NS ns1
ns1 IN A 192.0.2.1
www IN A 192.0.2.80
"""
# notify explicit: only the appliance hears of changes (the zones' NS names lead nowhere).
PRIMARY_ZONE = """
zone "{origin}" {{
    type primary;
    file "{origin}db";
    allow-transfer {{ 127.0.0.1; }};
    allow-update {{ 127.0.0.1; }};
    notify explicit;
    also-notify {{ 127.0.0.1 port {appliance}; }};
}};
"""


def member_ptr(origin: str) -> str:
    return f"{catalogzones.member_id(origin)}.zones"


@pytest.fixture
def appliance(worker_env):
    server = start_rundns(worker_env, "--no-recursion")
    yield server
    if server.process.poll() is None:
        stop(server)


@pytest.fixture
def bind_primary(appliance, tmp_path):
    """BIND 9 serving the catalog and its two members, NOTIFYing the appliance."""
    port = free_port()
    members = "\n".join(f"{member_ptr(origin)} IN PTR {origin}" for origin in MEMBERS)
    (tmp_path / f"{CATALOG}db").write_text(CATALOG_ZONE.format(members=members))
    for origin in MEMBERS:
        (tmp_path / f"{origin}db").write_text(MEMBER_ZONE)
    zones = "".join(
        PRIMARY_ZONE.format(origin=origin, appliance=appliance.port)
        for origin in (CATALOG, *MEMBERS)
    )
    conf = tmp_path / "named.conf"
    conf.write_text(NAMED_CONF.format(directory=tmp_path, port=port, zones=zones))
    log_path = tmp_path / "named.log"
    with log_path.open("w") as log:
        named = subprocess.Popen(
            ["named", "-g", "-n", "1", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
    query = dns.message.make_query(CATALOG, "SOA")
    wait_until_answering(named, port, query, lambda: log_path.read_text()[-2000:])
    yield port
    named.terminate()
    named.wait(15)


def test_members_of_a_bind_catalog_are_served_and_a_removed_one_goes(appliance, bind_primary):
    catalogzones.add_catalog(CATALOG, [f"127.0.0.1:{bind_primary}"])
    for origin in MEMBERS:
        assert wait_for(lambda origin=origin: served_by(appliance.port, origin), 30), origin
    assert set(SecondaryZone.objects.values_list("catalog", flat=True)) == {CATALOG}
    answer = dns.query.udp(
        dns.message.make_query("www.one.example.", "A"), "127.0.0.1", port=appliance.port
    )
    assert answer.answer[0][0].address == "192.0.2.80"

    # BIND drops a member (an update bumps its serial and NOTIFYs the appliance).
    update = dns.update.UpdateMessage(CATALOG)
    update.delete(f"{member_ptr('two.example.')}.{CATALOG}", "PTR")
    assert dns.query.tcp(update, "127.0.0.1", port=bind_primary, timeout=5).rcode() == 0
    assert wait_for(lambda: not served_by(appliance.port, "two.example."), 30)
    assert served_by(appliance.port, "one.example.")
    assert not SecondaryZone.objects.filter(zone__origin="two.example.").exists()

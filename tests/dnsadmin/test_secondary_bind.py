"""BIND 9 as primary, rundns as its secondary with a TSIG key: the first transfer, changes
brought by NOTIFY (the refresh timer is an hour) and by IXFR, removals, and expiry to
SERVFAIL with BIND stopped, then recovery when it is back."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.xfr
import dns.zone
import pytest

from dnsadmin.changes import change_settings
from dnsadmin.models import SecondaryZone, Zone, ZoneChange
from tests.dnsadmin.test_rundns import start_rundns, stop, wait_for
from tests.dnsadmin.test_update_nsupdate import manage, shared_secrets_key
from tests.names.zones import NAMED_CONF, Bind
from tests.services import free_port

pytestmark = pytest.mark.integration
__all__ = ["shared_secrets_key"]  # a fixture

ORIGIN = "sec.test."
ZONE = """\
$TTL 300
@    IN SOA ns1 hostmaster 100 {refresh} {retry} {expire} 60
     IN NS  ns1
ns1  IN A   192.0.2.53
www  IN A   192.0.2.80
mail IN MX  10 www
"""
HOUR = dict(refresh=3600, retry=3600, expire=1209600)
SHORT = dict(refresh=1, retry=1, expire=3)  # expires three seconds after BIND is gone

ZONE_CONF = """
zone "sec.test" {{
    type primary;
    file "sec.test";
    allow-transfer {{ key xfr; }};
    allow-update {{ key xfr; }};
    ixfr-from-differences yes;
    notify explicit;
    notify-delay 0;
    also-notify {{ 127.0.0.1 port {secondary} key xfr; }};
}};
"""


class KeyedBind(Bind):
    """BIND with the appliance's TSIG key, allowing transfers and updates with it alone and
    notifying the appliance's port."""

    def __init__(self, directory: Path, zone: str, key: str, secondary: int) -> None:
        super().__init__(directory, {"sec.test": zone})
        self.key, self.secondary = key, secondary

    def start(self) -> None:
        (self.directory / "sec.test").write_text(self.zones["sec.test"])
        conf = self.directory / "named.conf"
        zones = ZONE_CONF.format(secondary=self.secondary)
        text = NAMED_CONF.format(directory=self.directory, port=self.port, zones=zones)
        conf.write_text(self.key + text.replace("recursion no;", "recursion no; notify-rate 1000;"))
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                ["named", "-g", "-n", "1", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_until_answering()

    def update(self, key_file: Path, *lines: str) -> None:
        script = "\n".join([f"server 127.0.0.1 {self.port}", "zone sec.test", *lines, "send", ""])
        command = ["nsupdate", "-k", str(key_file), "-t", "5"]
        done = subprocess.run(command, input=script, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr


def make_setup(shared_secrets_key, tmp_path, timers, *options: str):
    key_file = tmp_path / "xfr.key"
    key_file.write_text(manage("tsig", "add", "xfr"))
    port = free_port()
    primary = KeyedBind(tmp_path, ZONE.format(**timers), key_file.read_text(), port)
    primary.start()
    added = manage("zone", "add-secondary", ORIGIN, "--primary", f"127.0.0.1:{primary.port}",
                   "--tsig", "xfr")  # fmt: skip
    assert added == f"{ORIGIN}: secondary of 127.0.0.1:{primary.port} with key xfr.; " \
        "transfer requested\n"  # fmt: skip
    server = start_rundns(shared_secrets_key, "--no-recursion", "--port", str(port), *options)
    return primary, server, key_file


@pytest.fixture
def setup(shared_secrets_key, tmp_path):
    # Two workers share the port: both serve the zone, the one holding the lease transfers it.
    primary, server, key_file = make_setup(shared_secrets_key, tmp_path, HOUR, "--workers", "2")
    yield primary, server, key_file
    stop(server)
    primary.stop()


def ask(port: int, name: str, rdtype: str = "A") -> dns.message.Message | None:
    try:
        query = dns.message.make_query(name, rdtype)
        return dns.query.udp(query, "127.0.0.1", port=port, timeout=1)
    except (dns.exception.Timeout, OSError):
        return None


def addresses(port: int, name: str) -> list[str]:
    response = ask(port, name)
    if response is None or not response.answer:
        return []
    return sorted(r.address for r in response.answer[0])


def rcode(port: int, name: str) -> int | None:
    response = ask(port, name)
    return response.rcode() if response is not None else None


def test_a_zone_from_bind_is_transferred_then_follows_it_by_notify_and_ixfr(setup):
    primary, server, key_file = setup
    assert wait_for(lambda: addresses(server.port, "www.sec.test.") == ["192.0.2.80"], 15)
    status = SecondaryZone.objects.get()
    assert status.last_transfer_kind == "AXFR" and status.last_error == ""
    assert status.tsig_key.last_used is not None  # the key signed the check and transfer
    zone = Zone.objects.get(origin=ORIGIN)
    assert zone.serial == 100 and zone.refresh == 3600  # the primary's, as it is
    # It is a primary for further secondaries: transfers out, and NOTIFY when its serial moves.
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    further = f"127.0.0.1:{listener.getsockname()[1]}"
    change_settings(zone, {"transfer_acl": "127.0.0.1", "notify_targets": further})

    primary.update(key_file, "update add new.sec.test 300 A 192.0.2.7")
    # Only a NOTIFY can bring it this soon: the refresh timer is an hour.
    assert wait_for(lambda: addresses(server.port, "new.sec.test.") == ["192.0.2.7"], 10)
    primary.update(key_file, "update delete www.sec.test A")
    assert wait_for(lambda: rcode(server.port, "www.sec.test.") == dns.rcode.NXDOMAIN, 10)

    zone.refresh_from_db()
    assert zone.serial == 102
    assert SecondaryZone.objects.get().last_transfer_kind == "IXFR"
    changes = list(ZoneChange.objects.filter(zone=zone).order_by("id"))
    changes = [c for c in changes if c.source == "transfer"]
    assert [c.via for c in changes] == [f"127.0.0.1:{primary.port}"] * 3
    assert [(c.serial_before, c.serial_after) for c in changes] == [
        (0, 100),
        (100, 101),
        (101, 102),
    ]
    assert changes[0].summary.startswith(f"AXFR from 127.0.0.1:{primary.port}, serial 100: ")
    assert changes[1].summary == (
        f"IXFR from 127.0.0.1:{primary.port}, serial 100 → 101: Added new A"
    )
    assert changes[2].summary.endswith(": Removed www A")
    # Each worker serves the new ACL from its next reconcile, which a loaded machine (SQLite's
    # one writer busy) can hold up for seconds; a client may reach either. So: eight transfers
    # in a row, each over a new connection, spread between the two.
    names = {"@", "ns1", "mail", "new"}
    assert wait_for(lambda: all(transferred_names(server.port) == names for _ in range(8)), 15)
    assert 102 in notified_serials(listener, 102)
    listener.close()
    # BIND says so too: the changes went out as IXFR, signed with the key.
    log = primary.log.read_text()
    assert log.count("transfer of 'sec.test/IN': AXFR started") == 1  # by one worker only
    assert (
        "(sec.test): transfer of 'sec.test/IN': IXFR started: TSIG xfr (serial 101 -> 102)" in log
    )


def test_a_secondary_zone_expires_to_servfail_without_its_primary_and_comes_back(
    shared_secrets_key, tmp_path
):
    primary, server, _ = make_setup(shared_secrets_key, tmp_path, SHORT)
    try:
        assert wait_for(lambda: addresses(server.port, "www.sec.test.") == ["192.0.2.80"], 15)
        primary.stop()
        assert wait_for(lambda: rcode(server.port, "www.sec.test.") == dns.rcode.SERVFAIL, 15)
        status = SecondaryZone.objects.get()
        assert status.expired
        assert status.last_error.startswith("expired: no primary answered within 3 s")
        failure = f"SOA query to 127.0.0.1:{primary.port}: no answer (timed out)"
        assert wait_for(lambda: SecondaryZone.objects.get().last_error == failure, 10)
        primary.start()
        assert wait_for(lambda: addresses(server.port, "www.sec.test.") == ["192.0.2.80"], 15)
        assert not SecondaryZone.objects.get().expired
    finally:
        stop(server)
        primary.stop()


def transferred_names(port: int) -> set[str] | None:
    """The names an AXFR from rundns carries (relative to the zone); None when refused."""
    try:
        copy = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", ORIGIN, port=port, timeout=5))
    except dns.xfr.TransferError:
        return None
    return {name.to_text() for name in copy.nodes}


def notified_serials(listener: socket.socket, wanted: int) -> set[int]:
    """The serials of the NOTIFYs received, until ``wanted`` is among them (or 10 s pass)."""
    serials: set[int] = set()
    listener.settimeout(0.5)
    deadline = time.monotonic() + 10
    while wanted not in serials and time.monotonic() < deadline:
        try:
            message = dns.message.from_wire(listener.recv(65535))
        except TimeoutError:
            continue
        if message.opcode() == dns.opcode.NOTIFY and message.answer:
            serials.add(message.answer[0][0].serial)
    return serials

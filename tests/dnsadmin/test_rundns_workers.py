"""`rundns --workers N` and several `rundns` on one database: each follows the web's edits."""

from __future__ import annotations

import datetime
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.query
import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from appliance.models import WorkerStatus
from dnsadmin.changes import add_record
from dnsadmin.models import Zone
from tests.appliance.test_pages import field, worker_row_html
from tests.conftest import ROOT, clean_environment
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_rundns import RunningDNS, start_rundns, stop, wait_for
from tests.services import free_port


def load_example_zone(folder) -> None:
    zone_file = folder / "example.org.zone"
    zone_file.write_text(ZONE)
    call_command("loadzone", str(zone_file))


@pytest.fixture
def two_workers(worker_env, tmp_path):
    load_example_zone(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rundns", "--workers", "2", "--port", str(port)],
        cwd=ROOT,
        env=clean_environment(worker_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RunningDNS(process, port)
    assert wait_for(lambda: server.short("www.example.org", "A") == "192.0.2.80", 30)
    yield server
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


def serials(server: RunningDNS, questions: int = 24) -> set[str]:
    """The serials answered to questions from as many source ports (spread over the workers)."""
    answers = (server.short("example.org", "SOA") for _ in range(questions))
    return {answer.split()[2] for answer in answers if answer}


def dns_statuses(since: datetime.datetime | None = None) -> dict[int, dict]:
    """Each DNS worker's reported details, by pid (only heartbeats after ``since``)."""
    beats = WorkerStatus.objects.filter(kind="dns")
    if since is not None:
        beats = beats.filter(last_seen__gt=since)
    return dict(beats.values_list("pid", "details"))


def test_two_workers_share_the_port_and_both_report_their_status(two_workers, user_client):
    assert len(serials(two_workers)) == 1  # 24 source ports: both workers answered some
    asked = timezone.now()
    # Heartbeats come every 5 s; the next ones count every query asked, and stay put.
    assert wait_for(lambda: len(dns_statuses(since=asked)) == 2, 15), dns_statuses()
    serial = Zone.objects.get().serial
    page = user_client.get("/").content.decode()
    for pid, status in dns_statuses().items():
        assert status["zones"] == 1 and status["serials"] == {"example.org.": serial}
        assert status["queries"] > 0
        row = worker_row_html(page, "dns", socket.gethostname(), pid)
        assert field(row, "serving") == (
            f"1 zone loaded, port {two_workers.port} example.org. serial {serial}"
        )
        assert field(row, "queries") == str(status["queries"])


def test_every_worker_answers_the_new_serial_after_an_edit(two_workers):
    zone = Zone.objects.get()
    add_record(zone, "edited", "A", "192.0.2.9")
    zone.refresh_from_db()
    assert wait_for(lambda: serials(two_workers) == {str(zone.serial)}, 30)


@dataclass(frozen=True)
class Propagation:
    """What carries a web edit to the DNS workers in this run, and how soon it must arrive."""

    carrier: str
    env: dict[str, str]
    within: float


def propagation() -> Propagation:
    if settings.REDIS_URL:
        # Reconciling once a minute leaves the zone.changed group event as the only way in
        # time, so a worker left out of the group fan-out fails instead of being hidden.
        return Propagation("zone.changed over Redis", {"RECONCILE_INTERVAL_MS": "60000"}, 0.1)
    # No cross-process layer: the reconcile (every 0.5 s by default) carries it, well within
    # the second the embedded default promises, the round's own work included.
    return Propagation("the default reconcile", {}, 1.0)


@pytest.fixture
def two_hosts(worker_env, tmp_path):
    """Two rundns processes on their own ports over one database, as on two hosts."""
    load_example_zone(tmp_path)
    env = {**worker_env, **propagation().env}
    servers = [start_rundns(env), start_rundns(env)]
    # The first heartbeat is sent after the worker joined its group: from then on it hears.
    pids = {server.process.pid for server in servers}
    assert wait_for(lambda: pids <= set(dns_statuses()), 15)
    yield servers
    for server in servers:
        assert stop(server) == 0


def soa_serial(port: int) -> int | None:
    query = dns.message.make_query("example.org.", "SOA")
    try:
        response = dns.query.udp(query, "127.0.0.1", port=port, timeout=0.2)
    except dns.exception.Timeout:
        return None
    return response.answer[0][0].serial if response.answer else None


def seconds_until_serial(ports: list[int], serial: int, since: float, limit: float) -> list:
    """For each port, seconds from ``since`` until it answered ``serial`` (None: not by limit)."""
    arrived: dict[int, float] = {}
    while len(arrived) < len(ports) and time.monotonic() - since < limit:
        for port in ports:
            if port not in arrived and soa_serial(port) == serial:
                arrived[port] = time.monotonic() - since
    return [arrived.get(port) for port in ports]


# The zone editor's "add an A record" form, applied now rather than queued in a batch.
NEW_RECORD = {
    "owner": "edited",
    "address": "192.0.2.9",
    "ttl": "",
    "comment": "",
    "enabled": "on",
    "action": "apply",
}


def test_each_worker_answers_a_web_edit_within_the_bound_of_this_run(two_hosts, staff_client):
    expected = propagation()
    zone = Zone.objects.get()
    ports = [server.port for server in two_hosts]
    assert {soa_serial(port) for port in ports} == {zone.serial}
    response = staff_client.post(f"/dns/zones/{zone.pk}/records/add/?type=A", NEW_RECORD)
    committed = time.monotonic()  # the view returned: its transaction has committed
    assert response.status_code == 302
    zone.refresh_from_db()
    took = seconds_until_serial(ports, zone.serial, committed, limit=max(3.0, 3 * expected.within))
    print(f"\npropagation by {expected.carrier}: {took} s (bound {expected.within} s)")
    assert all(t is not None and t <= expected.within for t in took), (
        f"with {expected.carrier} each worker must answer serial {zone.serial} within "
        f"{expected.within} s of the commit; took {took} s"
    )

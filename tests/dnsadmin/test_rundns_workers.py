"""`rundns --workers N`: processes sharing one port, each following the database."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from django.core.management import call_command

from appliance.models import WorkerStatus
from dnsadmin.models import Record, Zone
from tests.conftest import ROOT, clean_environment
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_rundns import RunningDNS, wait_for
from tests.services import free_port


@pytest.fixture
def two_workers(worker_env, tmp_path):
    zone_file = tmp_path / "example.org.zone"
    zone_file.write_text(ZONE)
    call_command("loadzone", str(zone_file))
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


def test_two_workers_share_the_port_and_both_report_their_status(two_workers):
    assert wait_for(lambda: WorkerStatus.objects.filter(kind="dns").count() == 2, 15)
    pids = set(WorkerStatus.objects.filter(kind="dns").values_list("pid", flat=True))
    assert len(pids) == 2
    status = WorkerStatus.objects.filter(kind="dns").first().details
    assert status["zones"] == 1 and "example.org." in status["serials"]


def test_every_worker_answers_the_new_serial_after_an_edit(two_workers):
    zone = Zone.objects.get()
    Record(zone=zone, owner="edited", rdtype="A", rdata="192.0.2.9").save()
    zone.refresh_from_db()
    assert wait_for(lambda: serials(two_workers) == {str(zone.serial)}, 5)

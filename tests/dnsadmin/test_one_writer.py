"""One writer: every way into a zone's data leaves the same history and bumps the serial once."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from dnsadmin.models import ApiToken, Zone, ZoneChange, next_serial
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_api import call
from tests.dnsadmin.test_zone_views import record_post, url

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
NEW = {"rdata": "192.0.2.77", "ttl": None, "enabled": True, "comment": ""}


def by_web_form(client, zone: Zone) -> None:
    client.post(url(zone, "records/add/?type=A"), record_post(owner="shape", address="192.0.2.77"))


def by_batch(client, zone: Zone) -> None:
    queued = record_post(action="queue", owner="shape", address="192.0.2.77")
    client.post(url(zone, "records/add/?type=A"), queued)
    client.post(url(zone, "pending/apply/"))


def by_api(client, zone: Zone) -> None:
    key = ApiToken.issue(client.user, "certbot")[1]
    record = {"owner": "shape", "type": "A", "rdata": "192.0.2.77"}
    call(client, "post", "/dns/api/zones/example.org./records/", key, record)


def by_web_import(client, zone: Zone) -> None:
    text = ZONE + "shape IN A 192.0.2.77\n"
    client.post(url(zone, "import/"), {"text": text, "mode": "merge", "apply": "1"})


def by_loadzone(client, zone: Zone) -> None:
    stdin, sys.stdin = sys.stdin, io.StringIO(ZONE + "shape IN A 192.0.2.77\n")
    try:
        call_command("loadzone", "-", "--merge", stdout=io.StringIO())
    finally:
        sys.stdin = stdin


def by_admin(client, zone: Zone) -> None:
    client.user.is_superuser = True
    client.user.save()
    fields = {"zone": zone.pk, "owner": "shape", "rdtype": "A", "ttl": "", "rdata": "192.0.2.77"}
    client.post("/admin/dnsadmin/record/add/", {**fields, "enabled": "on", "comment": ""})


# Each path, with the author the history must name: (username, source, via).
PATHS = {
    "web form": (by_web_form, ("staff", "web", "")),
    "batch": (by_batch, ("staff", "web", "")),
    "api": (by_api, ("staff", "api", "token certbot")),
    "web import": (by_web_import, ("staff", "import", "")),
    "loadzone": (by_loadzone, ("", "loadzone", "<stdin>")),
    "admin": (by_admin, ("staff", "admin", "")),
}


@pytest.mark.parametrize("path", PATHS)
def test_every_path_leaves_the_same_history_and_one_serial_bump(staff_client, zone, path):
    write, author = PATHS[path]
    history = set(ZoneChange.objects.values_list("pk", flat=True))
    serial = zone.serial
    write(staff_client, zone)
    (change,) = ZoneChange.objects.exclude(pk__in=history)
    zone.refresh_from_db()
    assert (change.username, change.source, change.via) == author
    assert (change.zone, change.origin) == (zone, "example.org.")
    assert change.serial_before == serial
    assert change.serial_after == zone.serial == next_serial(serial, timezone.now().date())
    rrsets = [(r.owner, r.rdtype, r.before, r.after) for r in change.rrsets.all()]
    assert rrsets == [("shape", "A", [], [NEW])]
    assert change.summary and change.rrsets.get().action == "added"


# What writes Record rows: creating, updating or deleting them, or a zone with them.
RECORD_WRITE = re.compile(
    r"Record\.objects\.(create|bulk_create|bulk_update|update|get_or_create|update_or_create)\b"
    r"|\brecords\b[^\n]*\.(delete|update|create|bulk_create)\("
    r"|\bRecord\(\s*zone="
    r"|\b(zone|locked)\.delete\(\)"
)
THE_WRITER = ROOT / "dnsadmin" / "changes.py"


def python_files() -> list[Path]:
    """List the project's code: everything but the tests and the migrations."""
    found = []
    for folder in ("appliance", "dnsadmin", "botadmin", "bench"):
        found += [p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts]
    return found


def test_nothing_but_the_change_service_writes_records():
    files = python_files()
    assert THE_WRITER in files and len(files) > 50
    writers = {
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        if path != THE_WRITER
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if RECORD_WRITE.search(line)
    }
    assert not writers, "Write records through dnsadmin.changes:\n" + "\n".join(sorted(writers))


def test_the_check_finds_a_writer():
    for line in (
        "Record.objects.bulk_create(rows)",
        "zone.records.filter(owner='x').delete()",
        "Record(zone=zone, owner='x', rdtype='A', rdata='192.0.2.1').save()",
        "zone.delete()",
    ):
        assert RECORD_WRITE.search(line), line
    assert RECORD_WRITE.search(THE_WRITER.read_text())

"""A big web import runs in the background: the page polls its progress as JSON, shows
the preview, applies it on request and says how it ended."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from dnsadmin import importjobs
from dnsadmin.changes import RecordData, RRsetEdit, apply_changes, import_zone
from dnsadmin.models import ImportJob, ZoneChange
from dnsadmin.zonefile import parse_zone_text
from tests.browser.conftest import browser, browser_page, signed_in  # noqa: F401 (fixtures)
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_zone_views import url

pytestmark = pytest.mark.django_db(transaction=True)

HOSTS = 2500  # more lines than importjobs.LARGE_LINES, more RRsets than a bulk write needs
BIG = ZONE + "".join(f"big{i} IN A 10.9.{i >> 8}.{i & 255}\n" for i in range(HOSTS))


def progress(client, zone, job: int) -> dict:
    response = client.get(url(zone, f"import/progress/?job={job}"))
    assert response.status_code == 200
    return response.json()


def wait_for(client, zone, job: int, *states: str) -> dict:
    """Poll the job's progress as the page does, with a generous deadline."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = progress(client, zone, job)
        if found["state"] in states:
            return found
        time.sleep(0.1)
    raise AssertionError(f"job {job} still {found} after 120 s")


def upload(client, zone, text: str, mode: str = "merge") -> int:
    """Post a zone file as the import form does; return the job it started."""
    file = SimpleUploadedFile("big.zone", text.encode())
    response = client.post(url(zone, "import/"), {"file": file, "mode": mode, "preview": "1"})
    assert response.status_code == 302, response.content[:500]
    return int(response["Location"].rsplit("job=", 1)[1])


def test_a_big_file_is_read_previewed_applied_in_the_background(staff_client, zone):
    job = upload(staff_client, zone, BIG)
    planned = wait_for(staff_client, zone, job, "planned", "failed")
    assert (
        planned["state"] == "planned" and planned["summary"] == f"{HOSTS} add, 0 change, 0 remove"
    )
    page = staff_client.get(url(zone, f"import/?job={job}")).content.decode()
    assert "Apply the import" in page and "big0 A" in page
    assert page.count('<tr class="add">') == importjobs.PREVIEW_ROWS
    assert "js/import_progress.js" in page and zone.records.count() == 3  # nothing written yet
    history = ZoneChange.objects.count()

    response = staff_client.post(url(zone, "import/"), {"job": job, "apply": "1"})
    assert response.status_code == 302
    staff_client.post(url(zone, "import/"), {"job": job, "apply": "1"})  # a second click
    done = wait_for(staff_client, zone, job, "done", "failed")
    assert done["message"].startswith(f"Imported (merge): {HOSTS} add"), done
    assert zone.records.filter(owner__startswith="big").count() == HOSTS
    change = ZoneChange.objects.order_by("-id").first()
    assert ZoneChange.objects.count() == history + 1
    assert (change.username, change.source, change.rrsets.count()) == ("staff", "import", HOSTS)
    assert ImportJob.objects.get(pk=job).text == ""  # the file is not kept once applied
    ending = staff_client.get(url(zone, f"import/?job={job}")).content.decode()
    assert "Imported (merge)" in ending and "Back to the zone" in ending


def test_a_broken_big_file_fails_naming_the_line(staff_client, zone):
    job = upload(staff_client, zone, BIG + "broken IN A 10.0.0.300\n")
    failed = wait_for(staff_client, zone, job, "failed", "planned")
    assert failed["state"] == "failed"
    assert f"big.zone:{len(BIG.splitlines()) + 1}:" in failed["message"]
    assert "broken IN A 10.0.0.300" in failed["message"]


def test_a_zone_changed_after_the_preview_is_not_overwritten(staff_client, zone):
    job = upload(staff_client, zone, BIG, mode="replace")
    wait_for(staff_client, zone, job, "planned")
    apply_changes(zone, [RRsetEdit("late", "A", (RecordData("192.0.2.9"),))])
    staff_client.post(url(zone, "import/"), {"job": job, "apply": "1"})
    failed = wait_for(staff_client, zone, job, "failed", "done")
    assert "changed since" in failed["message"] and zone.records.filter(owner="late").exists()


def test_the_progress_of_no_job_or_of_an_unknown_one(staff_client, zone):
    assert staff_client.get(url(zone, "import/progress/")).json() == {"state": "none"}
    assert staff_client.get(url(zone, "import/progress/?job=999999")).status_code == 404


@pytest.mark.browser
@pytest.mark.integration
def test_chromium_follows_a_big_import_to_its_end(signed_in, live_server):  # noqa: F811
    zone = import_zone(parse_zone_text(ZONE))[0]
    page = signed_in
    page.goto(f"{live_server.url}{url(zone, 'import/')}")
    big = {"name": "big.zone", "mimeType": "text/plain", "buffer": BIG.encode()}
    page.set_input_files("input[name=file]", files=[big])
    page.click("button[name=preview]")
    # The page polls the job's progress and loads itself again once the file is read.
    page.wait_for_selector("text=Apply the import", timeout=120_000)
    assert f"Preview: {HOSTS} add" in page.inner_text("main")
    page.click("button[name=apply]")
    page.wait_for_selector("#import-outcome", timeout=120_000)
    assert page.inner_text("#import-outcome").startswith(f"Imported (merge): {HOSTS} add")
    assert zone.records.filter(owner__startswith="big").count() == HOSTS

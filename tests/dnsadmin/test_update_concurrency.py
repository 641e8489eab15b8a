"""Updates arriving while the zone is edited in the web: both land, and the editor's
optimistic concurrency still catches a real conflict."""

from __future__ import annotations

import threading

import pytest

from dnsadmin.changes import (
    ConflictError,
    RecordData,
    RRsetEdit,
    add_record,
    apply_changes,
    current_rrset,
    fingerprint,
)
from dnsadmin.models import Zone, ZoneChange
from tests.dnsadmin.test_update_nsupdate import nsupdate, primary, shared_secrets_key

pytestmark = pytest.mark.integration
__all__ = ["primary", "shared_secrets_key"]  # fixtures

EACH = 15


def test_updates_and_web_edits_at_the_same_time_all_land(primary, tmp_path):
    zone = Zone.objects.get()
    before = ZoneChange.objects.count()
    script = [
        line
        for i in range(EACH)
        for line in (f'update add dyn.example.org 60 TXT "value {i}"', "send")
    ][:-1]  # nsupdate() sends the last one
    done = {}
    sender = threading.Thread(
        target=lambda: done.setdefault("run", nsupdate(primary, tmp_path / "acme.key", *script))
    )
    sender.start()
    for i in range(EACH):
        add_record(zone, f"web{i}", "A", f"192.0.2.{i + 1}")
    sender.join(60)
    assert done["run"].returncode == 0, done["run"].stderr
    assert len(current_rrset(zone, "dyn", "TXT")) == EACH
    assert all(current_rrset(zone, f"web{i}", "A") for i in range(EACH))
    assert ZoneChange.objects.count() - before == 2 * EACH  # one serial bump each
    assert len(primary.short("dyn.example.org", "TXT").splitlines()) == EACH


def test_the_editor_still_sees_a_conflict_an_update_made(primary, tmp_path):
    zone = Zone.objects.get()
    seen = fingerprint(current_rrset(zone, "www", "A"))  # the editor opens www A
    done = nsupdate(primary, tmp_path / "acme.key", "update add www.example.org 3600 A 192.0.2.81")
    assert done.returncode == 0, done.stderr
    edit = RRsetEdit("www", "A", (RecordData("192.0.2.99"),), expected=seen)
    with pytest.raises(ConflictError) as caught:
        apply_changes(zone, [edit], source="web")
    current = {record.rdata for record in caught.value.conflicts[0].current}
    assert current == {"192.0.2.80", "192.0.2.81"}

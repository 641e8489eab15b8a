"""A big file's rows are written many to a statement, and its history still serves IXFR."""

from __future__ import annotations

import pytest

from dnsadmin.changes import change_settings, import_zone
from dnsadmin.models import Record, RRsetChange, Zone
from dnsadmin.zonefile import parse_zone_text
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_ixfr_out import ORIGIN, copy_of, updated

pytestmark = pytest.mark.django_db
HOSTS = "".join(f"h{i} IN A 10.0.{i >> 8}.{i & 255}\n" for i in range(500))


def test_rows_are_written_in_statements_of_many_and_the_rest(monkeypatch):
    # Batches of two statements: 2 x 99 records (ten values each), 2 x 199 history rows (five)
    monkeypatch.setattr("dnsadmin.changes.INSERT_STATEMENTS", 2)
    seen = []
    zone, change = import_zone(
        parse_zone_text(ZONE + HOSTS), progress=lambda done, total: seen.append((done, total))
    )
    rows = set(Record.objects.filter(zone=zone).values_list("owner", "rdtype", "rdata"))
    hosts = {(f"h{i}", "A", f"10.0.{i >> 8}.{i & 255}") for i in range(500)}
    assert len(rows) == 503 and hosts <= rows
    assert RRsetChange.objects.filter(change=change).count() == 503
    total = 503 + 503  # records, then a history row per RRset
    assert [done for done, _ in seen] == [198, 396, 503, 503 + 398, total]
    assert {whole for _, whole in seen} == {total}


def test_a_bulk_replace_leaves_the_history_ixfr_is_sent_from(zone, monkeypatch):
    from dnsadmin.snapshot import refresh_served

    monkeypatch.setattr("dnsadmin.changes.BULK_RRSETS", 0)  # the bulk path for a small file
    change_settings(zone, {"transfer_acl": "127.0.0.1"})
    first = refresh_served(ORIGIN, None)
    copy = copy_of(first)
    text = ZONE.replace("192.0.2.80", "192.0.2.81") + HOSTS
    import_zone(parse_zone_text(text), mode="replace", via="bulk.zone")
    assert Zone.objects.get().changes.first().summary.startswith("Loaded (bulk.zone) (replace)")
    second = refresh_served(ORIGIN, first)
    copy, incremental = updated(copy, second, first.serial)
    assert incremental and copy == copy_of(second)

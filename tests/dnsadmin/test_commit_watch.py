"""rundns serves a change committed by another process at once, not at its next reconcile."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from dnsadmin import cachesync, snapshot
from dnsadmin.changes import add_record
from dnsadmin.models import QueryLogEntry, Zone
from dnsadmin.names.cache import Cache
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.worker import Commits, DNSWorker
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_rundns import start_rundns, stop, wait_for


def reading_worker(commits: Commits | None) -> DNSWorker:
    """Return a worker with what read_changes uses: no listener, no zone served yet."""
    worker = DNSWorker.__new__(DNSWorker)
    worker.commits, worker.mark = commits, None
    worker.catalog, worker.versions, worker.catalog_due = ZoneCatalog(), {}, False
    worker.reload_lock, worker.cache_lock = asyncio.Lock(), asyncio.Lock()
    worker.zone_locks = defaultdict(asyncio.Lock)
    worker.chain = SimpleNamespace(cache=Cache())
    worker.last_command = 0
    return worker


def log_a_query() -> None:
    QueryLogEntry.objects.create(
        time=timezone.now(),
        client="192.0.2.1",
        name="www.example.org.",
        rdtype="A",
        rcode="NOERROR",
        source="authority",
        latency_ms=0.1,
    )


def test_commits_by_other_connections_are_seen(transactional_db, tmp_path):
    commits = Commits.of_database()
    if connection.vendor != "sqlite":
        assert commits is None  # the channel layer rings there
        return
    try:
        assert not commits.moved()
        path = tmp_path / "example.org.zone"
        path.write_text(ZONE)
        call_command("loadzone", str(path))  # committed by Django's connection
        assert commits.moved()
        assert not commits.moved()  # seen once
        Zone.objects.count()  # a read commits nothing
        assert not commits.moved()
    finally:
        commits.close()


@pytest.mark.integration
def test_a_change_is_served_long_before_the_next_reconcile(worker_env, tmp_path):
    """With the reconcile ten minutes away, an edit and a new zone, committed by this process
    (on SQLite no channel layer reaches rundns from here), are served within seconds."""
    path = tmp_path / "example.org.zone"
    path.write_text(ZONE)
    call_command("loadzone", str(path))
    server = start_rundns({**worker_env, "RECONCILE_INTERVAL_MS": "600000"})
    try:
        assert server.short("www.example.org.", "A") == "192.0.2.80"
        add_record(Zone.objects.get(), "new", "A", "192.0.2.99")
        assert wait_for(lambda: server.short("new.example.org.", "A") == "192.0.2.99", 20)
        other = tmp_path / "example.net.zone"
        other.write_text(ZONE.replace("example.org.", "example.net."))
        call_command("loadzone", str(other))
        assert wait_for(lambda: server.short("www.example.net.", "A") == "192.0.2.80", 20)
    finally:
        stop(server)


@contextmanager
def followed_commits(tmp_path: Path) -> Iterator[tuple[Commits, Callable[[], None]]]:
    """Yield the commits a worker follows and a way to tell them a write was committed: on
    SQLite, the database's own (its writes move them); elsewhere, where rundns follows none,
    those of a file of their own, moved by hand, so that what is read after a commit (the
    data_mark's gate, which reads the database in use) is tested there too."""
    commits = Commits.of_database()
    if commits is not None:
        try:
            yield commits, lambda: None
        finally:
            commits.close()
        return
    other = sqlite3.connect(tmp_path / "signal.sqlite3", isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE t (x)")
    commits = Commits(tmp_path / "signal.sqlite3")
    try:
        yield commits, lambda: other.execute("INSERT INTO t VALUES (1)")
    finally:
        commits.close()
        other.close()


def test_commits_that_change_no_zone_and_no_cache_command_are_not_read(
    transactional_db, monkeypatch, tmp_path
):
    reads = []
    zone_versions = snapshot.zone_versions
    monkeypatch.setattr(snapshot, "zone_versions", lambda: reads.append(1) or zone_versions())
    with followed_commits(tmp_path) as (commits, committed):
        worker = reading_worker(commits)
        commits.moved()  # the signal file's making, elsewhere than SQLite
        asyncio.run(worker.read_changes())  # as the reconcile reads
        assert not commits.moved()  # its own look taken
        log_a_query()
        log_a_query()
        committed()
        asyncio.run(worker.read_committed(commits))
        assert len(reads) == 1
        cachesync.delete("www.example.org.")  # a cache command: read at once
        committed()
        asyncio.run(worker.read_committed(commits))
        assert len(reads) == 2
        assert worker.last_command == cachesync.last_command_id()
        log_a_query()
        committed()
        asyncio.run(worker.read_committed(commits))
        assert len(reads) == 2


def test_a_cache_command_read_twice_at_once_is_applied_once(transactional_db, caplog):
    cachesync.delete("www.example.org.")
    worker = reading_worker(None)

    async def read_twice() -> None:
        await asyncio.gather(worker.apply_cache_commands(), worker.apply_cache_commands())

    with caplog.at_level(logging.INFO, logger="dnsadmin.worker"):
        asyncio.run(read_twice())
    applied = [r for r in caplog.records if r.getMessage().startswith("cache: delete")]
    assert len(applied) == 1
    assert worker.last_command == cachesync.last_command_id()


def test_a_first_look_that_finds_the_database_locked_is_taken_again(tmp_path):
    path = tmp_path / "locked.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("CREATE TABLE t (x)")
        # Held exclusively: every other connection's read is refused (SQLITE_BUSY).
        writer.execute("PRAGMA locking_mode=EXCLUSIVE")
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("INSERT INTO t VALUES (1)")
        commits = Commits(path)
        try:
            assert not commits.moved()  # locked: unknown yet
            writer.execute("COMMIT")
            writer.execute("PRAGMA locking_mode=NORMAL")
            writer.execute("SELECT * FROM t").fetchall()  # lets the exclusive lock go
            assert commits.moved()  # the first look: what was committed before is unknown
            assert not commits.moved()
            writer.execute("INSERT INTO t VALUES (2)")
            assert commits.moved()
        finally:
            commits.close()
    finally:
        writer.close()

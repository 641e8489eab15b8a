"""rundns serves a change committed by another process at once, not at its next reconcile."""

from __future__ import annotations

import asyncio
import logging
import os
import select
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import dns.name
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from inotify_simple import INotify
from inotify_simple import flags as inotify_flags

from dnsadmin import cachesync, catalogzones, secondary, snapshot
from dnsadmin.changes import add_record, delete_zone
from dnsadmin.models import QueryLogEntry, Zone
from dnsadmin.names.cache import Cache
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.worker import COMMIT_LOOK_EVERY, COMMIT_SETTLE, Commits, DNSWorker
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_rundns import start_rundns, stop, wait_for


def reading_worker(commits: Commits | None) -> DNSWorker:
    """Return a worker with what read_changes uses: no listener, no zone served yet."""
    worker = DNSWorker.__new__(DNSWorker)
    worker.commits, worker.mark, worker.left_behind = commits, None, set()
    worker.catalog, worker.versions, worker.catalog_due = ZoneCatalog(), {}, False
    worker.reload_lock, worker.cache_lock = asyncio.Lock(), asyncio.Lock()
    worker.zone_locks, worker.background = defaultdict(asyncio.Lock), set()
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
def followed_commits() -> Iterator[Commits | None]:
    """Yield the commits a worker follows: None where it follows none (the channel layer
    rings rundns there, and the reconcile reads every round)."""
    commits = Commits.of_database()
    if commits is None:
        assert connection.vendor != "sqlite"
        yield None
        return
    try:
        yield commits
    finally:
        commits.close()


def load_zone(tmp_path: Path, origin: str) -> None:
    """Load the test zone as origin, as an operator would (committed by Django's connection)."""
    path = tmp_path / f"{origin}zone"
    path.write_text(ZONE.replace("example.org.", origin))
    call_command("loadzone", str(path))


def counted_reads(monkeypatch) -> list:
    """Return a list that grows by one at every read of the zones' versions."""
    reads = []
    zone_versions = snapshot.zone_versions
    monkeypatch.setattr(snapshot, "zone_versions", lambda: reads.append(1) or zone_versions())
    return reads


def test_commits_that_change_no_zone_and_no_cache_command_are_not_read(
    transactional_db, monkeypatch
):
    reads = counted_reads(monkeypatch)
    with followed_commits() as commits:
        if commits is None:
            return
        worker = reading_worker(commits)
        asyncio.run(worker.read_changes())  # as the reconcile reads
        assert not commits.moved()  # its own look taken
        log_a_query()
        log_a_query()
        asyncio.run(worker.read_committed(commits))
        assert len(reads) == 1
        cachesync.delete("www.example.org.")  # a cache command: read at once
        asyncio.run(worker.read_committed(commits))
        assert len(reads) == 2
        assert worker.last_command == cachesync.last_command_id()
        log_a_query()
        asyncio.run(worker.read_committed(commits))
        assert len(reads) == 2


def test_a_round_reads_the_zones_again_only_once_they_changed(
    transactional_db, monkeypatch, tmp_path
):
    """On SQLite the reconcile reads the data's mark on the connection it follows the commits
    with, and nothing more while the mark is the one read in full; everywhere else (no
    commits followed) it reads every round."""
    load_zone(tmp_path, "example.org.")
    reads = counted_reads(monkeypatch)
    with followed_commits() as commits:
        worker = reading_worker(commits)
        asyncio.run(worker.read_changes())
        asyncio.run(worker.read_changes())
        log_a_query()  # a commit, of nothing read_changes reads
        asyncio.run(worker.read_changes())
        assert len(reads) == (1 if commits else 3)
        add_record(Zone.objects.get(), "new", "A", "192.0.2.99")
        asyncio.run(worker.read_changes())
        assert len(reads) == (2 if commits else 4)
        served = worker.catalog.get(dns.name.from_text("example.org."))
        assert served.serial == Zone.objects.get().serial
        Zone.objects.update(enabled=False)  # (its update time unchanged: its row is gone)
        asyncio.run(worker.read_changes())
        assert worker.catalog.get(dns.name.from_text("example.org.")) is None


def test_a_zone_that_could_not_be_loaded_is_tried_again_next_round(
    transactional_db, monkeypatch, tmp_path
):
    load_zone(tmp_path, "example.org.")
    reads = counted_reads(monkeypatch)
    with followed_commits() as commits:
        worker = reading_worker(commits)
        reload = DNSWorker.reload
        failures = [1]

        async def failing_once(self, origin):
            if failures:
                return not failures.pop()
            return await reload(self, origin)

        monkeypatch.setattr(DNSWorker, "reload", failing_once)
        asyncio.run(worker.read_changes())
        assert worker.catalog.get(dns.name.from_text("example.org.")) is None
        asyncio.run(worker.read_changes())  # nothing committed since
        assert worker.catalog.get(dns.name.from_text("example.org.")) is not None
        assert len(reads) == 2
        asyncio.run(worker.read_changes())
        assert len(reads) == (2 if commits else 3)


def test_a_catalog_not_brought_in_line_is_tried_again_next_round(
    transactional_db, monkeypatch, tmp_path
):
    load_zone(tmp_path, "example.org.")
    calls = []
    sync = catalogzones.sync

    def failing_once():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the catalog zone could not be written")
        return sync()

    monkeypatch.setattr(catalogzones, "sync", failing_once)
    with followed_commits() as commits:
        worker = reading_worker(commits)
        asyncio.run(worker.read_changes())  # a zone more: the catalog is due
        assert worker.catalog_due
        asyncio.run(worker.read_changes())  # nothing committed since
        assert len(calls) == 2
        assert not worker.catalog_due


def test_a_zone_left_behind_then_deleted_is_not_read_for_again(
    transactional_db, monkeypatch, tmp_path
):
    load_zone(tmp_path, "example.org.")
    reads = counted_reads(monkeypatch)

    async def failing(self, origin):
        return False

    monkeypatch.setattr(DNSWorker, "reload", failing)
    with followed_commits() as commits:
        worker = reading_worker(commits)
        asyncio.run(worker.read_changes())
        assert worker.left_behind == {"example.org."}
        delete_zone(Zone.objects.get())
        asyncio.run(worker.read_changes())
        assert not worker.left_behind
        asyncio.run(worker.read_changes())
        assert len(reads) == (2 if commits else 3)


def test_a_commit_made_as_the_follower_reads_the_mark_is_read_at_its_next_look(
    transactional_db, monkeypatch, tmp_path
):
    load_zone(tmp_path, "example.org.")
    with followed_commits() as commits:
        if commits is None:
            return
        worker = reading_worker(commits)
        asyncio.run(worker.read_changes())
        mark = Commits.mark

        def mark_then_commit(self):
            read = mark(self)
            monkeypatch.setattr(Commits, "mark", mark)  # once
            # From another connection, as another process would.
            edit = threading.Thread(target=add_then_close, args=("new", "192.0.2.99"))
            edit.start()
            edit.join()
            return read

        monkeypatch.setattr(Commits, "mark", mark_then_commit)
        log_a_query()  # a commit the follower sees: it reads the mark
        asyncio.run(worker.read_committed(commits))
        asyncio.run(worker.read_committed(commits))  # its next look
        served = worker.catalog.get(dns.name.from_text("example.org."))
        assert served.serial == Zone.objects.get().serial


def add_then_close(name: str, address: str) -> int:
    """Add name at address; return the zone's serial (from a thread: another connection)."""
    try:
        add_record(Zone.objects.get(), name, "A", address)
        return Zone.objects.get().serial
    finally:
        connection.close()


def test_a_read_that_fails_part_way_leaves_no_mark_the_data_may_come_back_to(
    transactional_db, monkeypatch, tmp_path
):
    load_zone(tmp_path, "example.org.")
    origin = dns.name.from_text("example.org.")
    with followed_commits() as commits:
        worker = reading_worker(commits)
        asyncio.run(worker.read_changes())
        Zone.objects.update(enabled=False)  # (its update time left alone)
        apply = DNSWorker.apply_cache_commands

        async def failing(self):
            monkeypatch.setattr(DNSWorker, "apply_cache_commands", apply)  # once
            raise RuntimeError("the database went away")

        monkeypatch.setattr(DNSWorker, "apply_cache_commands", failing)
        with pytest.raises(RuntimeError):
            asyncio.run(worker.read_changes())
        assert worker.catalog.get(origin) is None  # reloaded before it failed
        Zone.objects.update(enabled=True)  # the data as it was last read in full
        asyncio.run(worker.read_changes())
        assert worker.catalog.get(origin) is not None


def test_the_mark_is_read_again_only_once_something_was_committed(transactional_db, tmp_path):
    load_zone(tmp_path, "example.org.")
    with followed_commits() as commits:
        if commits is None:
            return
        statements = []
        commits.connection.set_trace_callback(statements.append)
        mark = commits.mark()
        assert commits.mark() == mark
        assert sum("dnsadmin_zone" in statement for statement in statements) == 1
        log_a_query()
        assert commits.mark() == mark
        assert sum("dnsadmin_zone" in statement for statement in statements) == 2


def test_the_looks_in_the_event_loop_leave_no_read_open(transactional_db, tmp_path):
    """A statement left open on the connection would hold its view of the database where it
    was: it would read the same mark for ever, and no checkpoint could empty the log."""
    for number in range(3):  # several rows, so a read not taken to its end stays open
        load_zone(tmp_path, f"example{number}.org.")
    with followed_commits() as commits:
        if commits is None:
            return
        mark = commits.mark()
        assert len(mark[0]) == 3
        assert commits.has_secondaries() is False
        log_a_query()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, _, _ = cursor.fetchone()
        assert busy == 0
        add_record(Zone.objects.get(origin="example1.org."), "new", "A", "192.0.2.99")
        assert commits.mark() != mark


def test_transfers_take_no_lease_while_there_is_no_secondary_zone(monkeypatch):
    claims = []
    monkeypatch.setattr(secondary, "claim", lambda holder: claims.append(holder) or False)
    answers = [False, None, True]
    transfers = secondary.Transfers("here", has_secondaries=lambda: answers.pop(0))
    for _ in range(3):
        asyncio.run(transfers.round())
    assert claims == ["here", "here"]  # not when it was told there is none


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
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
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


def following(worker: DNSWorker, commits: Commits, then) -> object:
    """Run the worker's follower while the coroutine function then runs; return its result."""

    async def run():
        task = asyncio.create_task(worker.follow_commits(commits))
        try:
            return await then()
        finally:
            task.cancel()

    return asyncio.run(run())


async def edited_and_served(worker: DNSWorker, address: str) -> bool:
    """Add www2 at address from another connection (as another process would); tell whether
    the worker serves the zone's new serial within ten seconds."""
    serial = await asyncio.to_thread(add_then_close, "www2", address)
    origin = dns.name.from_text("example.org.")
    for _ in range(200):
        zone = worker.catalog.get(origin)
        if zone is not None and zone.serial == serial:
            return True
        await asyncio.sleep(0.05)
    return False


def test_the_follower_looks_at_the_commits_when_the_database_is_written_only(
    transactional_db, monkeypatch, tmp_path
):
    """Woken by inotify, not every COMMIT_LOOK_EVERY: an idle worker takes no look (it took
    twenty a second), nor for the other files of the database's folder."""
    load_zone(tmp_path, "example.org.")
    with followed_commits() as commits:
        if commits is None:
            return
        assert commits.watch is not None  # (Linux: CI's machine has inotify)
        worker = reading_worker(commits)
        asyncio.run(worker.read_changes())
        looks = []
        moved = Commits.moved
        monkeypatch.setattr(Commits, "moved", lambda self: looks.append(1) or moved(self))

        async def then():
            await asyncio.sleep(0.1)  # (a write queued before the follower began: one look)
            idle = len(looks)
            await asyncio.sleep(0.3)
            quiet = len(looks) - idle
            return quiet, await edited_and_served(worker, "192.0.2.99")

        quiet, served = following(worker, commits, then)
        assert quiet == 0
        assert served


def test_writes_to_the_other_files_of_the_database_folder_wake_no_one(transactional_db):
    """Not even to be told apart: the bot's journal, beside the database, is written for every
    message, and a wakeup costs what twenty idle seconds do."""
    with followed_commits() as commits:
        if commits is None:
            return
        neighbour = Path(connection.settings_dict["NAME"]).with_suffix(".neighbour")
        try:
            neighbour.write_text("made")  # (its making is seen: the folder is watched for that)
            commits.watch.written_to()
            with neighbour.open("a") as journal:
                for _ in range(5):
                    journal.write("a line\n")
                    journal.flush()
            readable, _, _ = select.select([commits.watch.fileno()], [], [], 0)
            assert not readable
            log_a_query()
            readable, _, _ = select.select([commits.watch.fileno()], [], [], 5)
            assert readable and commits.watch.written_to()
        finally:
            neighbour.unlink(missing_ok=True)


def without_inotify(monkeypatch) -> None:
    """Have every inotify instance refused, as past the user's share of them."""

    def refused(*args, **kwargs):
        raise OSError(24, "Too many open files")

    monkeypatch.setattr("dnsadmin.worker.INotify", refused)


def test_without_inotify_the_follower_looks_every_so_often(transactional_db, monkeypatch, tmp_path):
    load_zone(tmp_path, "example.org.")
    without_inotify(monkeypatch)
    with followed_commits() as commits:
        if commits is None:
            return
        assert commits.watch is None
        worker = reading_worker(commits)
        asyncio.run(worker.read_changes())

        async def then():
            return await edited_and_served(worker, "192.0.2.98")

        assert following(worker, commits, then)


async def woken_then_looked(commits: Commits) -> None:
    """Commit from another connection, wait for the watch to tell, and look (the follower's)."""
    await asyncio.to_thread(log_from_elsewhere)
    await commits.written()
    commits.moved()


def test_a_write_not_seen_as_a_commit_yet_is_looked_at_again_a_while_later(
    transactional_db, monkeypatch
):
    """A commit is written to the log, then published in the shared memory a look reads: the
    look a write wakes may come in between, so written() returns a while later then."""
    with followed_commits() as commits:
        if commits is None:
            return
        commits.moved()
        slept = []
        sleep = asyncio.sleep

        async def counted_sleep(seconds):
            slept.append(seconds)
            await sleep(0)

        async def woken_by_a_commit() -> list:
            slept.clear()
            await woken_then_looked(commits)
            return list(slept)

        async def then():
            monkeypatch.setattr(asyncio, "sleep", counted_sleep)
            seen = await woken_by_a_commit()
            monkeypatch.setattr(Commits, "read", lambda self: self.version)  # not published yet
            return seen, await woken_by_a_commit()

        seen, not_seen = asyncio.run(then())
        assert seen == [COMMIT_SETTLE]
        assert not_seen == [COMMIT_SETTLE, COMMIT_LOOK_EVERY]


def log_from_elsewhere() -> None:
    try:
        log_a_query()
    finally:
        connection.close()


def counting_sleeps(monkeypatch) -> list:
    """Make asyncio.sleep return at once; return the list of the seconds asked."""
    slept, sleep = [], asyncio.sleep

    async def counted(seconds):
        slept.append(seconds)
        await sleep(0)

    monkeypatch.setattr(asyncio, "sleep", counted)
    return slept


def test_without_inotify_the_follower_waits_between_looks(transactional_db, monkeypatch):
    without_inotify(monkeypatch)
    with followed_commits() as commits:
        slept = counting_sleeps(monkeypatch)
        if commits is None:
            return
        asyncio.run(commits.written())
        assert slept == [COMMIT_LOOK_EVERY]


def test_a_write_whose_commit_cannot_be_read_yet_is_looked_at_after_the_settle_only(
    transactional_db, monkeypatch
):
    """A look that fails says yes (the follower's look will tell): no second wait."""
    with followed_commits() as commits:
        if commits is None:
            return
        commits.moved()
        log_from_elsewhere()  # (its events wait in the watch's queue)

        def locked(self):
            raise sqlite3.OperationalError("database is locked")

        async def then():
            slept = counting_sleeps(monkeypatch)
            monkeypatch.setattr(Commits, "read", locked)
            await commits.written()
            return slept

        assert asyncio.run(then()) == [COMMIT_SETTLE]


def test_a_write_is_one_wakeup_and_one_made_between_two_waits_wakes_the_next(transactional_db):
    with followed_commits() as commits:
        if commits is None:
            return
        commits.moved()

        async def then():
            await woken_then_looked(commits)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(commits.written(), 1)  # (nothing written since)
            await asyncio.to_thread(log_from_elsewhere)  # (as the follower looks, say)
            await asyncio.sleep(0.2)  # (the loop reads the events meanwhile)
            await asyncio.wait_for(commits.written(), 10)

        asyncio.run(then())


def events_read(commits: Commits, monkeypatch, *events: tuple[int, int, str]) -> bool:
    """Return what the watch tells of events (wd, mask, name), -1 for its folder's wd."""
    watch = commits.watch
    made = [
        SimpleNamespace(wd=watch.folder_watch if wd == -1 else wd, mask=mask, cookie=0, name=name)
        for wd, mask, name in events
    ]
    monkeypatch.setattr(watch.inotify, "read", lambda timeout: made)
    return watch.written_to()


def test_the_watch_tells_writes_to_the_database_files_and_lost_events(
    transactional_db, monkeypatch
):
    with followed_commits() as commits:
        if commits is None:
            return
        watch = commits.watch
        name = Path(connection.settings_dict["NAME"]).name
        assert not events_read(commits, monkeypatch)
        assert not events_read(commits, monkeypatch, (-1, inotify_flags.CREATE, f"{name}.log"))
        assert events_read(commits, monkeypatch, (watch.folder_watch + 1, inotify_flags.MODIFY, ""))
        assert events_read(commits, monkeypatch, (-1, inotify_flags.Q_OVERFLOW, ""))
        # (a rollback journal deleted: the commit of a database not in WAL mode)
        assert events_read(commits, monkeypatch, (-1, inotify_flags.DELETE, f"{name}-journal"))
        watched = []
        monkeypatch.setattr(watch, "_watch_file", watched.append)
        assert events_read(commits, monkeypatch, (-1, inotify_flags.MOVED_TO, f"{name}-wal"))
        assert watched == [f"{name}-wal"]  # made anew: its writes are watched from now on


def test_events_that_cannot_be_read_wake_no_one(transactional_db, monkeypatch):
    def unreadable(timeout):
        raise OSError(9, "Bad file descriptor")

    with followed_commits() as commits:
        if commits is None:
            return
        monkeypatch.setattr(commits.watch.inotify, "read", unreadable)
        assert not commits.watch.written_to()


def test_close_leaves_no_reader_nor_inotify_fd(transactional_db):
    with followed_commits() as commits:
        if commits is None:
            return

        async def then():
            waiting = asyncio.create_task(commits.written())
            await asyncio.sleep(0)
            fd = commits.watch.fileno()
            waiting.cancel()
            commits.close()
            return fd, asyncio.get_running_loop().remove_reader(fd)

        fd, reader_left = asyncio.run(then())
        assert not reader_left
        assert not is_inotify(fd)


def is_inotify(fd: int) -> bool:
    try:
        return "inotify" in os.readlink(f"/proc/self/fd/{fd}")
    except FileNotFoundError:
        return False


def test_a_folder_that_cannot_be_watched_leaves_no_inotify_instance(transactional_db, monkeypatch):
    closed = []

    def no_watch(*args):
        raise OSError(28, "No space left on device")  # (past fs.inotify.max_user_watches)

    monkeypatch.setattr(INotify, "add_watch", no_watch)
    close = INotify.close
    monkeypatch.setattr(INotify, "close", lambda self: closed.append(1) or close(self))
    with followed_commits() as commits:
        if commits is None:
            return
        assert commits.watch is None
        assert closed == [1]


def test_a_database_named_through_a_symlink_is_watched_where_it_is(transactional_db, tmp_path):
    """SQLite writes the log beside the file the link names: that is the one watched."""
    if connection.vendor != "sqlite":
        return
    link = tmp_path / "db.sqlite3"
    link.symlink_to(Path(connection.settings_dict["NAME"]).resolve())
    commits = Commits(link)
    try:
        commits.moved()

        async def then():
            await asyncio.to_thread(log_from_elsewhere)
            await asyncio.wait_for(commits.written(), 10)

        asyncio.run(then())
    finally:
        commits.close()


def test_commits_to_a_database_not_in_wal_mode_are_followed(tmp_path):
    """Its commits write the database and delete the rollback journal."""
    path = tmp_path / "rollback.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        writer.execute("CREATE TABLE t (x)")
        commits = Commits(path)
        try:
            commits.moved()

            async def then():
                await asyncio.to_thread(writer.execute, "INSERT INTO t VALUES (1)")
                await asyncio.wait_for(commits.written(), 10)
                return commits.moved()

            assert asyncio.run(then())
        finally:
            commits.close()
    finally:
        writer.close()

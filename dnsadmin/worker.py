"""The DNS worker: the engine's server, fed from the database and told of changes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import socket
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path

import dns.name
import dns.rdatatype
import dns.rrset
from channels.db import database_sync_to_async
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet
from inotify_simple import INotify
from inotify_simple import flags as inotify_flags

from appliance.control import DNS_GROUP
from appliance.worker import WorkerConsumer
from dnsadmin import cachesync, catalogzones, dnssec, querylog, secondary, snapshot
from dnsadmin.models import SecondaryZone, serial_gt
from dnsadmin.names import notify
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import ChainConfig, ResolverChain
from dnsadmin.names.cookies import Cookies
from dnsadmin.names.rrl import RateLimiter
from dnsadmin.names.server import DNSServer
from dnsadmin.names.zone import precompute_served
from dnsadmin.querylog import QueryRecorder
from dnsadmin.updates import Applied, SignedMessages, note_used
from dnsadmin.updates import keyring as keyring_of

logger = logging.getLogger(__name__)
PRUNE_EVERY = 60.0  # seconds between query log prunes (a flood fills it fast)
CACHE_WRITE_EVERY = 10.0  # seconds between cache write-behinds
PATCH_IN_LOOP = 20_000  # names: a zone up to this size is patched on the event loop
origin_name = functools.lru_cache(maxsize=1024)(dns.name.from_text)  # for each update
CACHE_WRITE_BATCH = 2000  # entries written per round at most (the rest go in the next)
GC_YOUNG = 50_000  # new objects between collections of the youngest generation (700 by default)
COMMIT_LOOK_EVERY = 0.05  # seconds between looks at SQLite's count of commits (Commits)
COMMIT_SETTLE = 0.01  # seconds from a write to the database's files to the look (Commits.written)
COMMIT_BURST_LOOKS = 20  # looks at most (a reconcile interval) for a burst of commits to end


class DNSWorker(WorkerConsumer):
    """One `rundns` process: listeners, the zone catalog, the cache, and reconciliation."""

    group = DNS_GROUP

    async def startup(self) -> None:
        """Load the zones and the cache written behind, then listen."""
        options = self.scope["options"]
        self.reconcile_interval = options.get("reconcile_interval", self.reconcile_interval)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.catalog = ZoneCatalog()
        self.versions: snapshot.Versions = {}
        self.reload_lock = asyncio.Lock()
        self.cache_lock = asyncio.Lock()  # cache commands applied once each, in order
        # Held while one zone is replaced: by a reload, or by an update this worker applied.
        self.zone_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.background: set[asyncio.Task] = set()  # NOTIFYs sent, reloads due
        self.catalog_due = True  # the catalog zone is to be brought in line with the zones
        # Counted from before the zones are read: a commit made meanwhile is read again.
        self.commits = Commits.of_database()
        # Run by the lease holder only.
        self.transfers = secondary.Transfers(
            self.name, has_secondaries=self.commits.has_secondaries if self.commits else None
        )
        self.mark: tuple | None = None  # the data's mark when last read in full (Commits.mark)
        self.left_behind: set[str] = set()  # zones not served at their version: load failed
        await self.reload_zones()
        # Answer from the start as fast as later: every zone's answers precomputed first (as
        # BIND and Knot load a zone whole before answering from it). A zone changed later is
        # served at once and precomputes them in the background (serve).
        for origin in list(self.versions):
            await precompute_served(functools.partial(self.catalog.get, origin_name(origin)))
        self.chain = ResolverChain(self.catalog, options.get("resolver") or ChainConfig())
        await self.restore_cache()
        self.recorder = QueryRecorder()
        self.retention_days = options.get("query_log_days", 7)
        self.max_log_entries = options.get("query_log_max_entries")
        loop = asyncio.get_running_loop()
        self.next_prune, self.next_cache_write = loop.time(), loop.time() + CACHE_WRITE_EVERY
        self.server = DNSServer(
            self.chain, on_query=self.recorder,
            log_per_second=options.get("query_log_per_second", 1000),
            messages=SignedMessages(
                self.chain, applied=self.serve_applied, locks=self.served_zone_lock
            ),
            tcp_write_timeout=options.get("tcp_write_timeout", 10.0),
            rate_limiter=rate_limiter(options.get("rate_limits")),
            cookies=Cookies(options["cookie_secrets"]) if options.get("cookie_secrets") else None,
        )  # fmt: skip
        # What was loaded (Django, the zones, the cache restored) lives as long as the worker:
        # full collections need not walk it again (gc.freeze). A cache miss makes a few dozen
        # objects, many kept in the cache: collecting the young ones every 700 new objects
        # took a tenth of a miss's CPU. Done before serving: the collection pauses the process.
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG, 10, 10)
        await self.server.start(
            options["addresses"], options["port"], reuse_port=options.get("reuse_port", False)
        )
        self.transfers.start()
        if self.commits is not None:
            self.in_background(self.follow_commits(self.commits))
        logger.info(
            "serving %d zones on %s port %d",
            len(self.versions),
            ", ".join(options["addresses"]),
            self.server.port,
        )

    async def reconcile(self) -> None:
        """Write what the worker learnt behind, then read what changed in the database: a
        write that waited for another writer (a big import holds SQLite's one write lock
        for seconds) ends when that commits, and what it committed is read at once, not a
        period later."""
        await self.write_behind()
        await dnssec.maintain_now_and_then()
        await self.read_changes()

    async def read_changes(self) -> None:
        """Reload the zones that changed and apply the cache commands recorded since.

        On SQLite, nothing is read when the data's mark is the one last read in full: it
        holds every version zone_versions gives and the last cache command, so the reads
        would change nothing (each costs the worker a connection of its own, a millisecond
        or two, twice a second)."""
        mark = None
        if self.commits is not None:
            # Looked at first, then the mark: what commits from now on is seen at the next
            # look (even when the mark misses it), and what is read here needs no second
            # read. The mark (read before the data: an older mark costs a read more, never
            # one less) tells the next look which commits changed nothing read here.
            self.commits.moved()
            mark = self.commits.mark()
            if mark is not None and mark == self.mark:
                return
            # None until read in full: a read that fails part way, its zones reloaded, must
            # not leave a mark the data may come back to (a zone disabled, then enabled again
            # by an update that leaves its update time alone).
            self.mark = None
        await self.reload_zones()
        await self.apply_cache_commands()
        # Kept once read in full only: a zone not loaded or a catalog not brought in line is
        # read again next round.
        if self.commits is not None and not (self.left_behind or self.catalog_due):
            self.mark = mark

    async def follow_commits(self, commits: Commits) -> None:
        """Read what changed as soon as a commit to the SQLite database is seen (no channel
        layer rings this process from another there: a zone loaded or edited would wait for
        the next reconcile, half a second on average). The reconcile stays the fallback."""
        while True:
            await commits.written()
            try:
                await self.read_committed(commits)
            except Exception:
                logger.exception("changes seen committed could not be read; reconciling later")

    async def read_committed(self, commits: Commits) -> None:
        """Read what changed when a commit was made since the last look and it changed the
        zones or the cache commands: most commits write the query log, the cache or a
        heartbeat (this worker's, the bot's, the web's), which the data's mark tells."""
        if not commits.moved():
            return
        # Read once a burst of commits is over (an import, edits in a row): a zone read while
        # its changes go on is read again, and past READ_ATTEMPTS served without its journal
        # (snapshot.refresh_served), which would cost its secondaries a full transfer.
        for _ in range(COMMIT_BURST_LOOKS):
            await asyncio.sleep(COMMIT_LOOK_EVERY)
            if not commits.moved():
                break
        await self.read_changes()

    async def reload_zones(self) -> None:
        """Reload zones whose serial or settings changed; drop deleted or disabled ones."""
        async with self.reload_lock:
            current = await database_sync_to_async(snapshot.zone_versions)()
            self.left_behind.intersection_update(current)
            for origin in self.versions.keys() - current.keys():
                self.catalog.remove(origin)
                logger.info("zone %s removed", origin)
            changed = [o for o, version in current.items() if self.versions.get(o) != version]
            for origin in changed:
                async with self.zone_locks[origin]:
                    # An update this worker applied may have served the version meanwhile.
                    done = self.versions.get(origin) == current[origin]
                    loaded = done or await self.reload(origin)
                if loaded:
                    self.left_behind.discard(origin)
                else:
                    # Not loaded: the version served stays, so the next reconcile tries again.
                    self.left_behind.add(origin)
                    if origin in self.versions:
                        current[origin] = self.versions[origin]
                    else:
                        del current[origin]
            if current.keys() != self.versions.keys():
                self.catalog_due = True
            self.versions = current
        if changed or self.catalog_due:
            await self.sync_catalogs(changed)

    async def sync_catalogs(self, changed: list[str]) -> None:
        """List the zones served in our catalog zone, and follow the catalogs among the
        zones changed (catalogzones.py)."""
        try:
            due = self.catalog_due
            made = await database_sync_to_async(catalogzones.sync)() if due else None
            followed = await database_sync_to_async(catalogzones.consume)(changed, due)
        except Exception:
            logger.exception("catalog zones could not be brought in line; trying again")
            self.catalog_due = True
            return
        self.catalog_due = False
        if made is not None or followed:
            await self.reload_zones()  # serve them now, not at the next reconcile

    async def reload(self, origin: str) -> bool:
        """Serve the zone's current rows, and notify its secondaries when its serial moved;
        False if it could not be loaded."""
        try:
            previous = self.catalog.get(origin_name(origin))
            zone = await database_sync_to_async(snapshot.refresh_served)(origin, previous)
            if zone is not None:
                zone = await dnssec.signed_for_serving(zone, previous)
        except Exception:
            logger.exception("zone %s could not be loaded; still serving the previous data", origin)
            return False
        if zone is None:
            self.catalog.remove(origin)
            return True
        self.serve(zone)
        logger.info("zone %s loaded, serial %s", origin, zone.serial)
        before = self.versions.get(origin)
        if before is not None and before[0] != zone.serial:
            await self.notify_secondaries(origin, zone)
        return True

    def serve(self, zone) -> None:
        """Serve zone at once, and make the answers it precomputes in the background when
        it is served without them (names.zone.precompute_served)."""
        self.catalog.replace(zone)
        if zone.wire_due is not None:
            origin = zone.origin  # not zone: the task must not keep it once replaced
            # freeze: made after start's gc.freeze, the answers join what it froze.
            making = precompute_served(lambda: self.catalog.get(origin), freeze=True)
            self.in_background(making)

    def served_zone_lock(self, origin: str) -> contextlib.AbstractAsyncContextManager:
        """Return the lock of a zone this worker serves (none for a name it does not: an
        update naming it changes nothing served, and any name may come in a packet)."""
        return self.zone_locks[origin] if origin in self.versions else contextlib.nullcontext()

    async def serve_applied(self, applied: Applied) -> None:
        """Serve what an update this worker applied changed, patched into the zone it serves
        (and re-signed there) without reading it back; the ring (if any) and the reconcile
        then find the zone current. When the zone served is not the one the update started
        from, it is reloaded as for any change, once the zone's lock is released. Called with
        that lock held (SignedMessages)."""
        origin = applied.origin
        previous = self.catalog.get(origin_name(origin))
        try:
            if previous is not None and len(previous) > PATCH_IN_LOOP:
                zone = await asyncio.to_thread(snapshot.patched_by, previous, applied)
            else:  # a copy of the zone's index of names: cheaper than a trip to a thread
                zone = snapshot.patched_by(previous, applied)
            if zone is None or origin not in self.versions:
                self.in_background(self.reload_zones())  # what the ring would start
                return
            zone = await dnssec.signed_for_serving(zone, previous)
        except Exception:
            logger.exception("zone %s could not be patched; it is reloaded instead", origin)
            self.in_background(self.reload_zones())
            return
        self.serve(zone)
        self.versions[origin] = applied.version
        logger.info("zone %s updated, serial %s", origin, zone.serial)
        await self.notify_secondaries(origin, zone)

    async def notify_secondaries(self, origin: str, zone) -> None:
        """Tell the zone's secondaries about the new serial (RFC 1996), in the background."""
        targets = getattr(zone, "notify_targets", None)
        if targets is None:
            targets = await database_sync_to_async(snapshot.notify_targets)(origin)
        if not targets:
            return
        soa = dns.rrset.from_rdata_list(zone.origin, zone.soa.ttl, list(zone.soa))
        keyring = await database_sync_to_async(keyring_of)() if any(t.key for t in targets) else {}
        self.in_background(notify_noted(zone.origin, soa, targets, keyring))

    def in_background(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    # the cache ----------------------------------------------------------------------

    async def restore_cache(self) -> None:
        """Load the cache the workers wrote behind before this one started."""
        # The command id first: a flush landing between the two reads is applied once more
        # at the next reconcile, rather than missed.
        self.last_command = await database_sync_to_async(cachesync.last_command_id)()
        records = await database_sync_to_async(cachesync.load_snapshot)()
        self.chain.cache.load(records)
        if records:
            logger.info("cache: %d entries restored", len(records))

    async def apply_cache_commands(self) -> None:
        """Apply the flushes and deletes recorded from the web since the last one applied
        (one call at a time: follow_commits and the reconcile may both be reading)."""
        async with self.cache_lock:
            commands = await database_sync_to_async(cachesync.commands_after)(self.last_command)
            for command_id, action, name in commands:
                if action == "flush":
                    self.chain.cache.flush()
                else:
                    self.chain.cache.delete(name)
                self.last_command = command_id
                logger.info("cache: %s %s", action, name)

    # events from the web ------------------------------------------------------------

    async def dispatch(self, message: dict) -> None:
        """Hand an event to its handler; a zone.changed one without closing the database
        connections first (Channels does that for every event, in a trip to its database
        thread): an update this worker applies may ring it too, and what the handler reads
        from the database goes through database_sync_to_async, which closes them."""
        if message.get("type") == "zone.changed":
            await self.zone_changed(message)
        else:
            await super().dispatch(message)

    async def zone_changed(self, message: dict) -> None:
        origin = message.get("origin", "")
        if origin in self.zone_locks:
            # An update this worker is applying rings before it serves what it changed.
            async with self.zone_locks[origin]:
                served = self.versions.get(origin)
            if served_already(served, message.get("serial"), message.get("updated")):
                return
        await self.reload_zones()

    async def cache_flush(self, message: dict) -> None:
        await self.apply_cache_commands()

    async def cache_delete(self, message: dict) -> None:
        await self.apply_cache_commands()

    async def secondary_refresh(self, message: dict) -> None:
        self.transfers.wake()

    # written behind -----------------------------------------------------------------

    async def write_behind(self, final: bool = False) -> None:
        """Write the queries answered since the last round; now and then the cache, and
        prune the query log."""
        drained = self.recorder.drain(self.server.stats.answered)
        if drained.entries or drained.stats:
            await database_sync_to_async(querylog.write)(drained)
        now = asyncio.get_running_loop().time()
        if final or now >= self.next_cache_write:
            # The snapshot and the last command applied to it, taken together: commands
            # recorded since then win over the snapshot in the database.
            entries = self.chain.cache.take_changes(None if final else CACHE_WRITE_BATCH)
            applied = self.last_command
            # A backlog is written a slice every round until it is gone, then every 10 s.
            waiting = self.chain.cache.changes_waiting
            self.next_cache_write = now + (0 if waiting else CACHE_WRITE_EVERY)
            await database_sync_to_async(cachesync.write_snapshot)(entries, self.name, applied)
        if now >= self.next_prune:
            self.next_prune = now + PRUNE_EVERY
            await database_sync_to_async(querylog.prune)(
                self.retention_days, max_entries=self.max_log_entries
            )

    async def shutdown(self) -> None:
        """Stop listening, finish the resolutions in flight and write everything behind."""
        server = getattr(self, "server", None)
        for task in getattr(self, "background", ()):
            task.cancel()
        if getattr(self, "commits", None) is not None:
            self.commits.close()
        if hasattr(self, "transfers"):
            await self.transfers.stop()
        if server is not None:
            await server.stop()
            await self.chain.close()
            await self.write_behind(final=True)

    def status(self) -> dict:
        """Return the zones, serials, port and counts the dashboard shows."""
        server = getattr(self, "server", None)
        stats = server.stats if server else None
        return {
            "zones": len(self.versions),
            "serials": {origin: serial for origin, (serial, _) in self.versions.items()},
            "port": server.port if server else None,
            "queries": sum(stats.answered.values()) if stats else 0,
            "cache_entries": len(self.chain.cache) if hasattr(self, "chain") else 0,
            # Answers from our zones kept to send again, within ChainConfig's memo budget.
            "kept_answers": self.chain.memory() if hasattr(self, "chain") else {},
            "rate_limited": dict(stats.rate_limited) if stats else {},
            "shed": stats.shed if stats else 0,
            "upstream_dropped": self.upstream_dropped(),
            **self.counters(),
        }

    def upstream_dropped(self) -> int:
        """Return how many upstream replies were dropped (late, stray or forged)."""
        upstream = getattr(getattr(self, "chain", None), "upstream", None)
        return upstream.sockets.dropped if upstream is not None else 0

    def counters(self) -> dict:
        """Return the counts since this worker started that /metrics exports: answers by
        transport, zone transfers served (unsigned and signed) and received (by the lease
        holder, failures too), updates by outcome."""
        server = getattr(self, "server", None)
        if server is None:
            return {}
        messages = server.messages
        transfers = server.stats.transfers + (messages.transfers if messages else Counter())
        return {
            "by_transport": dict(server.stats.by_transport),
            "transfers_out": {dns.rdatatype.to_text(t): n for t, n in transfers.items()},
            "transfers_in": dict(self.transfers.received),
            "updates": dict(messages.updates) if messages else {},
        }


class Commits:
    """The commits made to the SQLite database since the last look, by any connection (the
    worker's own writes too), seen through PRAGMA data_version on a connection of its own: a
    read of the write-ahead log's shared memory, a few microseconds, which never waits for a
    lock (a busy database reads as no change; the reconcile catches up).

    The reads the worker makes every round to learn whether there is more to read go through
    that connection too, in the event loop (``mark``, ``has_secondaries``): a few small reads,
    where each trip to Django's database thread opened a connection, a millisecond or more
    (SQLite parses the whole schema again), which made most of what an idle worker cost. Each
    read is taken to its end at once: a statement left open would hold the connection's view
    of the database where it was.

    The follower looks when the database's files are written (``written``: inotify on them,
    DatabaseWrites), not every COMMIT_LOOK_EVERY: twenty looks a second, each a wakeup of the event
    loop, made half of what an idle worker cost. Without inotify (another system, or the
    user's share of inotify instances used up) it looks that often, as before."""

    def __init__(self, path: Path) -> None:
        path = path.resolve()
        # mode=rw: never create the file; timeout 0: never wait in the event loop.
        self.connection = sqlite3.connect(
            f"{path.as_uri()}?mode=rw", uri=True, timeout=0, isolation_level=None
        )
        self.watch = DatabaseWrites.of(path)
        self.woken: asyncio.Event | None = None  # set by the watch's events (_on_events)
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop reading the watch
        self.version: int | None = None  # unknown until a read succeeds (moved)
        # The last mark read, and the data_version it was read at: read again only once
        # that moved (a read of every enabled zone, some milliseconds for thousands).
        self.marked: tuple[int, tuple] | None = None
        # The queries as Django writes them (the same filters and columns as its reads).
        self.queries = {
            "zones": _sql(snapshot.version_rows()),
            "last_command": _sql(cachesync.last_command()),
            "secondaries": _sql(SecondaryZone.objects.values_list("pk")[:1]),
        }
        self.moved()

    @classmethod
    def of_database(cls) -> Commits | None:
        """Return the commits of the default database when it is an SQLite file, else None
        (PostgreSQL: the channel layer rings, and the reconcile reads)."""
        db = connections[DEFAULT_DB_ALIAS]
        name = str(db.settings_dict.get("NAME") or "")
        if db.vendor != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
            return None
        try:
            return cls(Path(name))
        except sqlite3.Error:
            logger.warning("commits to %s cannot be followed; reconciling only", name)
            return None

    def read(self) -> int:
        return self.connection.execute("PRAGMA data_version").fetchone()[0]

    def _version(self) -> int | None:
        """Return data_version now; None when the database cannot be read at once."""
        try:
            return self.read()
        except sqlite3.Error:
            return None

    async def written(self) -> None:
        """Return once the database's files were written since the last call, a moment after
        (COMMIT_SETTLE); COMMIT_LOOK_EVERY later without a watch. A commit is written to the
        log before it is published in the shared memory a look reads (an mmap, whose writes
        inotify does not see): when the write is not a commit seen yet (a writer held up
        between the two, or a checkpoint), a look more is due a while later. A commit
        published later still is seen at the next write of any connection, or at the
        reconcile."""
        if self.watch is None:
            await asyncio.sleep(COMMIT_LOOK_EVERY)
            return
        if self.woken is None:
            self.woken, self.loop = asyncio.Event(), asyncio.get_running_loop()
            self.loop.add_reader(self.watch.fileno(), self._on_events)
        await self.woken.wait()
        self.woken.clear()
        await asyncio.sleep(COMMIT_SETTLE)
        if not self._ahead():
            await asyncio.sleep(COMMIT_LOOK_EVERY)

    def _ahead(self) -> bool:
        """Tell whether a commit was made since the last look, without taking the look
        (moved); yes when that cannot be read (the look will tell)."""
        version = self._version()
        return version is None or version != self.version

    def _on_events(self) -> None:
        if self.watch.written_to():
            self.woken.set()

    def moved(self) -> bool:
        """Tell whether a commit was made since the last look (yes after the first look
        that succeeds, when none did before: what was committed meanwhile is unknown)."""
        version = self._version()
        if version is None:
            return False
        moved, self.version = version != self.version, version
        return moved

    def mark(self) -> tuple | None:
        """Return a mark of what read_changes reads, which a change to it moves: the version
        of every enabled zone (snapshot.zone_versions's rows) and the last cache command's
        id; None when the database cannot be read at once."""
        version = self._version()  # (first: a commit made meanwhile moves it again)
        if version is None:
            return None
        if self.marked is not None and self.marked[0] == version:
            return self.marked[1]
        zones, command = self._rows("zones"), self._rows("last_command")
        if zones is None or command is None:
            return None
        mark = (tuple(zones), tuple(command))
        self.marked = version, mark
        return mark

    def has_secondaries(self) -> bool | None:
        """Tell whether any secondary zone is recorded; None when that cannot be read at once."""
        rows = self._rows("secondaries")
        return None if rows is None else bool(rows)

    def _rows(self, query: str) -> list | None:
        try:
            return self.connection.execute(self.queries[query]).fetchall()
        except sqlite3.Error:
            return None

    def close(self) -> None:
        if self.watch is not None:
            if self.loop is not None and not self.loop.is_closed():
                self.loop.remove_reader(self.watch.fileno())
            self.watch.close()
        self.connection.close()


class DatabaseWrites:
    """inotify on the files an SQLite commit writes: the write-ahead log, or the database and
    its rollback journal (a database not in WAL mode). The files themselves are watched, not
    their folder, whose other files (the bot's journal, a line for every message) would wake
    the worker for nothing, each wakeup costing about what twenty idle seconds do; the folder
    is watched for those files being made anew (to watch the new ones) or deleted only."""

    def __init__(self, path: Path) -> None:
        self.folder = path.parent
        self.names = {path.name, f"{path.name}-wal", f"{path.name}-journal"}
        self.inotify = INotify(nonblocking=True)
        try:
            self.folder_watch = self.inotify.add_watch(self.folder, IN_FOLDER)
        except OSError:
            self.inotify.close()
            raise
        for name in self.names:
            self._watch_file(name)

    @classmethod
    def of(cls, path: Path) -> DatabaseWrites | None:
        """Return the watch of the database at path (resolved); None where there is none to
        be had (the follower then looks at the commits every so often)."""
        try:
            return cls(path)
        except (OSError, AttributeError) as error:  # (AttributeError: a libc without inotify)
            logger.info(
                "%s cannot be watched (%s; past fs.inotify.max_user_instances?): "
                "commits are looked for every %ss", path, error, COMMIT_LOOK_EVERY,
            )  # fmt: skip
            return None

    def fileno(self) -> int:
        return self.inotify.fileno()

    def written_to(self) -> bool:
        """Read the events waiting; tell whether one is a write to the database's files, one
        of them made anew (watched from now on) or deleted, or events lost (the queue
        overflowed)."""
        try:
            events = self.inotify.read(timeout=0)
        except OSError:
            return False
        written = False
        for event in events:
            if event.wd != self.folder_watch or event.mask & inotify_flags.Q_OVERFLOW:
                written = True
            elif event.name in self.names:
                self._watch_file(event.name)
                written = True
        return written

    def _watch_file(self, name: str) -> None:
        with contextlib.suppress(OSError):  # not there (yet): its making is watched
            self.inotify.add_watch(self.folder / name, inotify_flags.MODIFY)

    def close(self) -> None:
        self.inotify.close()


# What the folder is watched for: the files made anew, and the rollback journal's deletion
# (the commit of a database not in WAL mode).
IN_FOLDER = inotify_flags.CREATE | inotify_flags.MOVED_TO | inotify_flags.DELETE


def _sql(queryset: QuerySet) -> str:
    """Return the SQL Django runs for queryset, one without parameters."""
    sql, parameters = queryset.query.sql_with_params()
    if parameters:
        raise ValueError(f"a query read in the event loop takes no parameters: {sql}")
    return sql


async def notify_noted(origin: dns.name.Name, soa, targets: list, keyring: dict, **options) -> None:
    """Send NOTIFY to targets (notify.notify, with options), then note the use of the keys
    that signed one a target acknowledged (its answer's TSIG checked): once per round, not
    per attempt."""
    acknowledged = await notify.notify(origin, soa, targets, keyring=keyring, **options)
    used = {target.key for target, ok in acknowledged.items() if ok and target.key}
    if used:
        await database_sync_to_async(note_used)(used)


def rate_limiter(limits) -> RateLimiter | None:
    """Return the rate limiter for the limits rundns read from the settings; None when off."""
    return RateLimiter(limits) if limits is not None and limits.enabled else None


def served_already(served: tuple | None, serial: int | None, updated: float | None) -> bool:
    """Tell whether a ring's version (serial and time of change) is the one served, or older."""
    if served is None or serial is None:
        return False
    return (serial, updated) == served or serial_gt(served[0], serial)

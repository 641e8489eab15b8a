"""The DNS worker: the engine's server, fed from the database and told of changes."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import dns.name
import dns.rrset
from channels.db import database_sync_to_async

from appliance.control import DNS_GROUP
from appliance.worker import WorkerConsumer
from dnsadmin import cachesync, dnssec, querylog, snapshot
from dnsadmin.names import notify
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import ChainConfig, ResolverChain
from dnsadmin.names.server import DNSServer
from dnsadmin.querylog import QueryRecorder
from dnsadmin.updates import SignedMessages
from dnsadmin.updates import keyring as keyring_of

logger = logging.getLogger(__name__)
PRUNE_EVERY = 600.0  # seconds between query log prunes
CACHE_WRITE_EVERY = 10.0  # seconds between cache write-behinds
CACHE_WRITE_BATCH = 2000  # entries written per round at most (the rest go in the next)


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
        self.notifying: set[asyncio.Task] = set()
        await self.reload_zones()
        self.chain = ResolverChain(self.catalog, options.get("resolver") or ChainConfig())
        await self.restore_cache()
        self.recorder = QueryRecorder()
        self.retention_days = options.get("query_log_days", 7)
        loop = asyncio.get_running_loop()
        self.next_prune, self.next_cache_write = loop.time(), loop.time() + CACHE_WRITE_EVERY
        self.server = DNSServer(
            self.chain, on_query=self.recorder,
            log_per_second=options.get("query_log_per_second", 1000),
            messages=SignedMessages(self.chain),
        )  # fmt: skip
        await self.server.start(
            options["addresses"], options["port"], reuse_port=options.get("reuse_port", False)
        )
        logger.info(
            "serving %d zones on %s port %d",
            len(self.versions),
            ", ".join(options["addresses"]),
            self.server.port,
        )

    async def reconcile(self) -> None:
        """Read what changed in the database, then write what the worker learnt behind."""
        await self.read_changes()
        await dnssec.maintain_now_and_then()
        await self.write_behind()

    async def read_changes(self) -> None:
        """Reload the zones that changed and apply the cache commands recorded since."""
        await self.reload_zones()
        await self.apply_cache_commands()

    async def reload_zones(self) -> None:
        """Reload zones whose serial or settings changed; drop deleted or disabled ones."""
        async with self.reload_lock:
            current = await database_sync_to_async(snapshot.zone_versions)()
            for origin in self.versions.keys() - current.keys():
                self.catalog.remove(origin)
                logger.info("zone %s removed", origin)
            changed = [o for o, version in current.items() if self.versions.get(o) != version]
            for origin in changed:
                if not await self.reload(origin):
                    # Not loaded: the version served stays, so the next reconcile tries again.
                    if origin in self.versions:
                        current[origin] = self.versions[origin]
                    else:
                        del current[origin]
            self.versions = current

    async def reload(self, origin: str) -> bool:
        """Serve the zone's current rows, and notify its secondaries when its serial moved;
        False if it could not be loaded."""
        try:
            previous = self.catalog.get(dns.name.from_text(origin))
            zone = await database_sync_to_async(snapshot.refresh_zone)(origin, previous)
            if zone is not None:
                zone = await dnssec.signed_for_serving(zone, previous)
        except Exception:
            logger.exception("zone %s could not be loaded; still serving the previous data", origin)
            return False
        if zone is None:
            self.catalog.remove(origin)
            return True
        self.catalog.replace(zone)
        logger.info("zone %s loaded, serial %s", origin, zone.serial)
        before = self.versions.get(origin)
        if before is not None and before[0] != zone.serial:
            await self.notify_secondaries(origin, zone)
        return True

    async def notify_secondaries(self, origin: str, zone) -> None:
        """Tell the zone's secondaries about the new serial (RFC 1996), in the background."""
        targets = getattr(zone, "notify_targets", None)
        if targets is None:
            targets = await database_sync_to_async(snapshot.notify_targets)(origin)
        if not targets:
            return
        soa = dns.rrset.from_rdata_list(zone.origin, zone.soa.ttl, list(zone.soa))
        keyring = await database_sync_to_async(keyring_of)() if any(t.key for t in targets) else {}
        task = asyncio.create_task(notify.notify(zone.origin, soa, targets, keyring=keyring))
        self.notifying.add(task)
        task.add_done_callback(self.notifying.discard)

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
        """Apply the flushes and deletes recorded from the web since the last one applied."""
        commands = await database_sync_to_async(cachesync.commands_after)(self.last_command)
        for command_id, action, name in commands:
            if action == "flush":
                self.chain.cache.flush()
            else:
                self.chain.cache.delete(name)
            self.last_command = command_id
            logger.info("cache: %s %s", action, name)

    # events from the web ------------------------------------------------------------

    async def zone_changed(self, message: dict) -> None:
        await self.reload_zones()

    async def cache_flush(self, message: dict) -> None:
        await self.apply_cache_commands()

    async def cache_delete(self, message: dict) -> None:
        await self.apply_cache_commands()

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
            await database_sync_to_async(querylog.prune)(self.retention_days)

    async def shutdown(self) -> None:
        """Stop listening, finish the resolutions in flight and write everything behind."""
        server = getattr(self, "server", None)
        for task in getattr(self, "notifying", ()):
            task.cancel()
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
        }

"""The DNS worker: the engine's server, fed from the database and told of changes."""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async

from appliance.control import DNS_GROUP
from appliance.worker import WorkerConsumer
from dnsadmin import querylog, snapshot
from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.server import DNSServer
from dnsadmin.querylog import QueryRecorder

logger = logging.getLogger(__name__)
PRUNE_EVERY = 600.0  # seconds


class DNSWorker(WorkerConsumer):
    """One `rundns` process: listeners, the zone catalog, and reconciliation."""

    group = DNS_GROUP

    async def startup(self) -> None:
        options = self.scope["options"]
        self.reconcile_interval = options.get("reconcile_interval", self.reconcile_interval)
        self.catalog = ZoneCatalog()
        self.versions: snapshot.Versions = {}
        self.reload_lock = asyncio.Lock()
        await self.reconcile()
        self.recorder = QueryRecorder(options.get("query_log_per_second", 1000))
        self.retention_days = options.get("query_log_days", 7)
        self.next_prune = 0.0
        self.server = DNSServer(self.catalog, on_query=self.recorder)
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
        """Reload zones whose serial or settings changed; drop deleted or disabled ones."""
        async with self.reload_lock:
            current = await database_sync_to_async(snapshot.zone_versions)()
            for origin in self.versions.keys() - current.keys():
                self.catalog.remove(origin)
                logger.info("zone %s removed", origin)
            changed = [o for o, version in current.items() if self.versions.get(o) != version]
            for origin in changed:
                await self.reload(origin)
            self.versions = current
        if hasattr(self, "recorder"):
            await self.write_behind()

    async def write_behind(self) -> None:
        """Write the queries answered since the last round; prune old ones now and then."""
        drained = self.recorder.drain()
        if drained.entries or drained.stats:
            await database_sync_to_async(querylog.write)(drained)
        if drained.dropped:
            logger.debug("query log: %d entries over the per-second cap", drained.dropped)
        loop = asyncio.get_running_loop()
        if loop.time() >= self.next_prune:
            self.next_prune = loop.time() + PRUNE_EVERY
            await database_sync_to_async(querylog.prune)(self.retention_days)

    async def reload(self, origin: str) -> None:
        try:
            zone = await database_sync_to_async(snapshot.load_zone)(origin)
        except Exception:
            logger.exception("zone %s could not be loaded; still serving the previous data", origin)
            return
        if zone is None:
            self.catalog.remove(origin)
        else:
            self.catalog.replace(zone)
            logger.info("zone %s loaded, serial %s", origin, zone.serial)

    async def zone_changed(self, message: dict) -> None:
        await self.reconcile()

    async def shutdown(self) -> None:
        server = getattr(self, "server", None)
        if server is not None:
            await server.stop()
            await self.write_behind()

    def status(self) -> dict:
        server = getattr(self, "server", None)
        stats = server.stats if server else None
        return {
            "zones": len(self.versions),
            "serials": {origin: serial for origin, (serial, _) in self.versions.items()},
            "port": server.port if server else None,
            "queries": sum(stats.by_rcode.values()) if stats else 0,
        }

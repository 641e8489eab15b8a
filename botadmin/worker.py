"""The bot worker: the engine's Bot, configured from the database and told of changes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
from pathlib import Path

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from appliance.control import BOT_GROUP
from appliance.worker import WorkerConsumer
from botadmin import bridge, leases, policy
from botadmin.infobot.bot import Bot
from botadmin.infobot.config import Timing
from botadmin.infobot.logwriter import LogJournal, LogRecord
from botadmin.infobot.zonefeed import ZoneChangeFeed
from botadmin.live import log_group
from botadmin.models import OutboundMessage
from botadmin.zonefeed import DatabaseZoneChangeFeed

logger = logging.getLogger(__name__)
EXPIRY_PERIOD = datetime.timedelta(days=1)


class BotWorker(WorkerConsumer):
    """One `runbot` process (or shard): every enabled network it is given."""

    group = BOT_GROUP
    reconcile_interval = 2.0

    async def startup(self) -> None:
        self.only = self.scope["options"].get("networks") or None
        plugins = bridge.discover_plugins()
        await database_sync_to_async(bridge.register_plugins)(plugins)
        self.holder = f"{self.scope['host']}:{self.scope['pid']}"
        self.lease_seconds = self.scope["options"].get("lease_seconds", 15.0)
        # Each round renews the leases: several a lease, so one slow round loses none.
        self.reconcile_interval = min(type(self).reconcile_interval, self.lease_seconds / 3)
        self.config = await self.load_config()
        self.published: asyncio.Queue[LogRecord] = asyncio.Queue(maxsize=10000)
        self.publisher = asyncio.create_task(self.publish_forever())
        self.zone_feed = DatabaseZoneChangeFeed()
        self.bot = Bot(
            *self.config,
            storage=bridge.DatabaseStorage(),
            seen=bridge.DatabaseSeenStore(),
            ignores=bridge.DatabaseIgnoreStore(),
            optouts=bridge.DatabaseOptOutStore(),
            log_sink=bridge.DatabaseLogSink(),
            publish=self.publish,
            plugins=plugins,
            components={ZoneChangeFeed: self.zone_feed},
            timing=Timing(log_interval=settings.BOT_LOG_INTERVAL_MS / 1000),
            # Lines received but not yet stored survive a crash, for the next start.
            journal=LogJournal.claim(journal_path(self.only)),
        )
        await self.bot.start()
        logger.info("bot started on %s", ", ".join(n.name for n in self.config[0]) or "no network")

    async def reconcile(self) -> None:
        """Catch up with the database: the configuration, then what the web asked to say."""
        await self.reload_config()
        await self.send_pending()
        await self.expire_daily()

    async def expire_daily(self) -> None:
        """Delete the lines past their channel's retention: at start, then once a day."""
        now = timezone.now()
        if now < getattr(self, "next_expiry", now):
            return
        self.next_expiry = now + EXPIRY_PERIOD
        try:
            deleted = await database_sync_to_async(policy.expire)(now)
        except Exception:
            logger.exception("could not delete the lines past their retention")
            return
        if deleted:
            logger.info("retention: deleted %d log lines", deleted)

    async def reload_config(self) -> None:
        """Renew this shard's leases and apply the networks and plugin settings if changed."""
        config = await self.load_config()
        if config != self.config:
            self.config = config
            await self.bot.apply_config(*config)
            logger.info("configuration reloaded")

    async def load_config(self) -> tuple[list, list]:
        return await database_sync_to_async(load_config)(self.only, self.holder, self.lease_seconds)

    async def bot_reload(self, message: dict) -> None:
        await self.reload_config()

    async def zone_changed(self, message: dict) -> None:
        # The doorbell: zone news goes out now rather than at the plugin's next poll.
        await self.zone_feed.ring()

    async def irc_say(self, message: dict) -> None:
        await self.send_pending()

    async def send_pending(self) -> None:
        """Say what the web asked for on the networks this worker is connected to."""
        connected = [name for name, status in self.bot.status().items() if status.connected]
        if not connected:
            return
        for network, channel, text in await database_sync_to_async(claim_outbound)(connected):
            try:
                await self.bot.say(network, channel, text)
            except Exception:
                logger.exception("could not say %r in %s on %s", text, channel, network)

    async def shutdown(self) -> None:
        bot = getattr(self, "bot", None)
        if bot is not None:
            await bot.stop()
            await database_sync_to_async(leases.release)(self.holder)
        if getattr(self, "publisher", None):
            self.publisher.cancel()

    def status(self) -> dict:
        bot = getattr(self, "bot", None)
        if bot is None:
            return {}
        return {
            "networks": {name: dataclasses.asdict(s) for name, s in bot.status().items()},
            "plugin_errors": bot.host.errors(),  # exceptions caught from each plugin, for /metrics
        }

    def publish(self, record: LogRecord) -> None:
        """Queue a new line for the live tails; the log writer calls this, so it never blocks."""
        # When full, live tails fall back to reading the database by cursor.
        with contextlib.suppress(asyncio.QueueFull):
            self.published.put_nowait(record)

    async def publish_forever(self) -> None:
        while True:
            record = await self.published.get()
            try:
                await self.channel_layer.group_send(
                    log_group(record.network, record.channel),
                    {
                        "type": "log.line",
                        "network": record.network,
                        "channel": record.channel,
                        "time": record.time.isoformat(),
                        "nick": record.nick,
                        "kind": record.kind,
                        "text": record.text,
                        "msgid": record.msgid or "",
                    },
                )
            except Exception:
                logger.warning("could not publish a log line", exc_info=True)


def journal_path(only: list[str] | None) -> Path:
    """Name one journal per shard; processes sharing one get numbered files (LogJournal.claim)."""
    shard = "-".join(sorted(only)) if only else "all"
    return Path(settings.VAR_DIR) / f"bot-journal-{shard}.jsonl"


def load_config(only: list[str] | None, holder: str, lease_seconds: float) -> tuple[list, list]:
    """Return the networks this shard may serve and holds the lease of, and the plugin settings."""
    networks = bridge.load_networks(only)
    held = leases.claim([network.name for network in networks], holder, lease_seconds)
    return [n for n in networks if n.name in held], bridge.load_plugin_settings()


def claim_outbound(networks: list[str]) -> list[tuple[str, str, str]]:
    """Take the pending lines for these networks; each is claimed once, by one worker.

    Lines older than OutboundMessage.MAX_AGE are left unsent: a bot that was down for an
    hour should not come back saying stale things.
    """
    since = timezone.now() - OutboundMessage.MAX_AGE
    pending = OutboundMessage.objects.filter(
        sent=None, created__gte=since, network__name__in=networks
    ).select_related("network")
    claimed = []
    for message in pending:
        if OutboundMessage.objects.filter(pk=message.pk, sent=None).update(sent=timezone.now()):
            claimed.append((message.network.name, message.channel, message.text))
    return claimed

"""The bot worker: the engine's Bot, configured from the database and told of changes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging

from channels.db import database_sync_to_async

from appliance.control import BOT_GROUP
from appliance.worker import WorkerConsumer
from botadmin import bridge
from botadmin.infobot.bot import Bot
from botadmin.infobot.host import discover
from botadmin.infobot.logwriter import LogRecord
from botadmin.live import log_group
from botadmin.models import Plugin

logger = logging.getLogger(__name__)


class BotWorker(WorkerConsumer):
    """One `runbot` process (or shard): every enabled network it is given."""

    group = BOT_GROUP
    reconcile_interval = 2.0

    async def startup(self) -> None:
        self.only = self.scope["options"].get("networks") or None
        plugins = discover()
        await database_sync_to_async(register_plugins)(plugins)
        self.config = await database_sync_to_async(load_config)(self.only)
        self.published: asyncio.Queue[LogRecord] = asyncio.Queue(maxsize=10000)
        self.publisher = asyncio.create_task(self.publish_forever())
        self.bot = Bot(
            *self.config,
            storage=bridge.DatabaseStorage(),
            seen=bridge.DatabaseSeenStore(),
            ignores=bridge.DatabaseIgnoreStore(),
            log_sink=bridge.DatabaseLogSink(),
            publish=self.publish,
            plugins=plugins,
        )
        await self.bot.start()
        logger.info("bot started on %s", ", ".join(n.name for n in self.config[0]) or "no network")

    async def reconcile(self) -> None:
        config = await database_sync_to_async(load_config)(self.only)
        if config != self.config:
            self.config = config
            await self.bot.apply_config(*config)
            logger.info("configuration reloaded")

    async def bot_reload(self, message: dict) -> None:
        await self.reconcile()

    async def irc_say(self, message: dict) -> None:
        if message.get("network") in self.bot.connections:
            await self.bot.say(message["network"], message["channel"], message["text"])

    async def shutdown(self) -> None:
        bot = getattr(self, "bot", None)
        if bot is not None:
            await bot.stop()
        if getattr(self, "publisher", None):
            self.publisher.cancel()

    def status(self) -> dict:
        bot = getattr(self, "bot", None)
        if bot is None:
            return {}
        return {"networks": {name: dataclasses.asdict(s) for name, s in bot.status().items()}}

    def publish(self, record: LogRecord) -> None:
        """Called by the log writer for each new line; must never block the bot."""
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


def load_config(only: list[str] | None) -> tuple[list, list]:
    return bridge.load_networks(only), bridge.load_plugin_settings()


def register_plugins(plugins: list) -> None:
    """Record the discovered plugins, so the web can enable them per scope."""
    names = []
    for plugin in plugins:
        names.append(plugin.name)
        schema = [
            {"name": s.name, "type": s.type.__name__, "default": s.default, "help": s.help}
            for s in plugin.settings
        ]
        Plugin.objects.update_or_create(
            name=plugin.name,
            defaults={
                "description": plugin.description(),
                "module": plugin.__module__,
                "settings_schema": schema,
                "available": True,
            },
        )
    Plugin.objects.exclude(name__in=names).update(available=False)

"""The façade ``manage.py runbot`` drives: networks, plugins, logging, on one loop."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Protocol

from .config import DEFAULT_TIMING, ChannelConfig, NetworkConfig, PluginSetting, Timing
from .connection import Connection, NetworkStatus
from .host import PluginHost
from .logwriter import LogJournal, LogRecord, LogSink, LogWriter, Publish, Redaction
from .plugin import Plugin
from .privacy import OptOuts, OptOutStore, Privacy
from .session import Event
from .stores import IgnoreStore, SeenStore, Storage

log = logging.getLogger(__name__)


class Networks(Protocol):
    """The component plugins ask for to see which links are up (the Bot itself)."""

    def status(self) -> dict[str, NetworkStatus]: ...


class Bot:
    def __init__(
        self,
        networks: list[NetworkConfig],
        plugin_settings: list[PluginSetting],
        *,
        storage: Storage,
        seen: SeenStore,
        ignores: IgnoreStore,
        log_sink: LogSink,
        plugins: list[type[Plugin]],
        publish: Publish | None = None,
        timing: Timing = DEFAULT_TIMING,
        ssl_context: ssl.SSLContext | None = None,
        journal: LogJournal | None = None,
        components: dict[type, object] | None = None,
        optouts: OptOutStore | None = None,
    ) -> None:
        self.timing = timing
        self.ssl_context = ssl_context
        self.plugin_settings = list(plugin_settings)
        self.writer = LogWriter(log_sink, publish, timing.log_batch, timing.log_interval, journal)
        self.connections: dict[str, Connection] = {}
        self._configs = {n.name: n for n in networks}
        self._tasks: set[asyncio.Task] = set()
        self.optouts = OptOuts(optouts)
        self.host = PluginHost(
            plugins,
            # Extra components (e.g. the zone news feed) are the caller's to give.
            {
                Storage: storage,
                SeenStore: seen,
                IgnoreStore: ignores,
                Networks: self,
                OptOutStore: self.optouts,
            }
            | (components or {}),
            say=self._say,
            nick=self._nick,
            channel_config=self._channel_config,
            timing=timing,
            privacy=self.privacy,
        )

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        self.writer.start()
        await self.host.apply(self.plugin_settings)
        for config in self._configs.values():
            self._connect(config)

    async def stop(self, message: str = "shutting down") -> None:
        await asyncio.gather(*(c.stop(message) for c in self.connections.values()))
        self.connections.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.host.stop()
        await self.writer.stop()

    async def apply_config(
        self, networks: list[NetworkConfig], plugin_settings: list[PluginSetting]
    ) -> None:
        """Reconcile with new settings: connect, disconnect, join, part, reload plugins."""
        wanted = {n.name: n for n in networks}
        for name in set(self.connections) - set(wanted):
            await self.connections.pop(name).stop("removed from the configuration")
        for name, config in wanted.items():
            current = self.connections.get(name)
            if current and current.config.link_settings() != config.link_settings():
                await self.connections.pop(name).stop("reconfigured")
                current = None
            if current is None:
                self._connect(config)
            else:
                current.update(config)
        self._configs = wanted
        for name, config in wanted.items():
            self.optouts.settle(name, config.privacy)
        self.plugin_settings = list(plugin_settings)
        await self.host.apply(self.plugin_settings)

    def _connect(self, config: NetworkConfig) -> None:
        connection = Connection(config, self._on_event, self.timing, self.ssl_context)
        self.connections[config.name] = connection
        connection.start()

    # -- the web's view and voice ----------------------------------------------------

    def status(self) -> dict[str, NetworkStatus]:
        return {name: c.status() for name, c in self.connections.items()}

    async def say(self, network: str, channel: str, text: str) -> None:
        await self._say(network, channel, text, "PRIVMSG")

    async def _say(self, network: str, target: str, text: str, command: str) -> None:
        connection = self.connections.get(network)
        if connection is None:
            raise KeyError(f"no such network: {network}")
        connection.say(target, text, command)

    def _nick(self, network: str) -> str | None:
        connection = self.connections.get(network)
        return connection.session.nick if connection else None

    def _channel_config(self, network: str, channel: str) -> ChannelConfig | None:
        config = self._configs.get(network)
        return config.channel(channel) if config else None

    def privacy(self, network: str) -> Privacy:
        """Return what may be kept and repeated on network: the policy's, with opt-outs since."""
        config = self._configs.get(network)
        return self.optouts.apply(network, config.privacy if config else Privacy())

    # -- events ---------------------------------------------------------------------

    def _on_event(self, network: str, event: Event) -> None:
        if event.kind == "redact":
            self.writer.redact(Redaction(network, event.target, event.msgid or ""))
            return
        if self.privacy(network).keeps(event.nick, event.kind, event.text):
            self._log(network, event)
        if not event.own:
            task = asyncio.create_task(self.host.dispatch(network, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _log(self, network: str, event: Event) -> None:
        for channel in event.channels:
            config = self._channel_config(network, channel)
            if config is not None and config.logged:
                self.writer.add(self._record(network, channel, event))

    @staticmethod
    def _record(network: str, channel: str, event: Event) -> LogRecord:
        return LogRecord(
            network=network,
            channel=channel,
            time=event.time,
            nick=event.nick,
            kind=event.kind,
            text=event.text,
            account=event.account,
            msgid=event.msgid,
        )

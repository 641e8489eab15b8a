"""Database-backed implementations of the bot engine's storage interfaces.

The engine (botadmin.infobot) knows only the protocols in infobot.stores and
infobot.logwriter; these classes keep its data in the Django models. Every call
runs the ORM in a worker thread, never on the bot's event loop.
"""

from __future__ import annotations

import importlib
import logging
from collections import Counter
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import DataError, IntegrityError, transaction
from django.db.models import Q

from botadmin import policy
from botadmin.infobot.config import ChannelConfig, NetworkConfig, PluginSetting
from botadmin.infobot.host import discover, plugins_in
from botadmin.infobot.logwriter import LogRecord, Redaction
from botadmin.infobot.plugin import Plugin
from botadmin.infobot.protocol import fold
from botadmin.infobot.stores import IgnoreEntry, SeenEntry, StaleVersion, Stored
from botadmin.models import Channel, Ignore, LogLine, Network, Seen, StoredValue
from botadmin.models import Plugin as PluginRow
from botadmin.models import PluginSetting as PluginSettingRow

log = logging.getLogger(__name__)


class DatabaseStorage:
    """The Storage component: versioned JSON values in StoredValue.

    The bot awaits it on its event loop: each call runs in a worker thread that closes
    stale connections around it. A web view (through async_to_sync) passes in_request:
    the calls then run in the request's own thread, where that closing would come in the
    middle of the request, or of its transaction.
    """

    def __init__(self, in_request: bool = False) -> None:
        self._run = sync_to_async if in_request else database_sync_to_async

    async def get(self, plugin: str, key: str) -> Stored | None:
        return await self._run(self._get)(plugin, key)

    async def put(self, plugin: str, key: str, value: Any, version: int = 0) -> int:
        return await self._run(self._put)(plugin, key, value, version)

    @staticmethod
    def _get(plugin: str, key: str) -> Stored | None:
        row = StoredValue.objects.filter(plugin=plugin, key=key).first()
        return Stored(row.value, row.version) if row else None

    @staticmethod
    def _put(plugin: str, key: str, value: Any, version: int) -> int:
        if version == 0:
            try:
                with transaction.atomic():
                    StoredValue.objects.create(plugin=plugin, key=key, value=value, version=1)
            except IntegrityError:
                raise StaleVersion(f"{plugin}/{key} exists already") from None
            return 1
        updated = StoredValue.objects.filter(plugin=plugin, key=key, version=version).update(
            value=value, version=version + 1
        )
        if not updated:
            raise StaleVersion(f"{plugin}/{key}: version {version} is stale")
        return version + 1


class DatabaseSeenStore:
    @database_sync_to_async
    def get(self, network: str, nick: str) -> SeenEntry | None:
        row = Seen.objects.filter(network__name=network, nick=fold(nick)).first()
        if row is None:
            return None
        return SeenEntry(
            network, row.display_nick, row.channel, row.time, row.text, row.kind, row.public
        )

    @database_sync_to_async
    def public(self, network: str, nick: str) -> SeenEntry | None:
        row = Network.objects.filter(name=network).first()
        sighting = Seen.objects.public_sighting(row, nick) if row else None
        if sighting is None:
            return None
        seen = sighting.seen
        return SeenEntry(
            network, seen.display_nick, sighting.channel.name, seen.time, seen.text, seen.kind
        )

    @database_sync_to_async
    def put(self, entries: list[SeenEntry]) -> None:
        networks = dict(Network.objects.values_list("name", "id"))
        with transaction.atomic():
            for entry in entries:
                if entry.network not in networks:
                    continue
                Seen.objects.update_or_create(
                    network_id=networks[entry.network],
                    nick=fold(entry.nick),
                    defaults={
                        "display_nick": entry.nick,
                        "channel": entry.channel,
                        "public": entry.public,
                        "time": entry.time,
                        "kind": entry.kind,
                        "text": entry.text,
                    },
                )


class DatabaseOptOutStore:
    @database_sync_to_async
    def put(self, network: str, nick: str, out: bool) -> None:
        row = Network.objects.filter(name=network).first()
        if row is not None:
            policy.opt_out(row, nick, out)


class DatabaseIgnoreStore:
    @database_sync_to_async
    def load(self) -> list[IgnoreEntry]:
        rows = Ignore.objects.select_related("network")
        return [
            IgnoreEntry(
                row.mask,
                row.network.name if row.network else None,
                row.channel or None,
                row.expires,
                row.added_by,
            )
            for row in rows
        ]

    @database_sync_to_async
    def add(self, entry: IgnoreEntry) -> None:
        network = Network.objects.filter(name=entry.network).first() if entry.network else None
        with transaction.atomic():
            self._same_scope(entry).delete()
            Ignore.objects.create(
                mask=entry.mask,
                network=network,
                channel=entry.channel or "",
                expires=entry.expires,
                added_by=entry.added_by,
            )

    @database_sync_to_async
    def remove(self, entry: IgnoreEntry) -> bool:
        deleted, _ = self._same_scope(entry).delete()
        return bool(deleted)

    @staticmethod
    def _same_scope(entry: IgnoreEntry):
        network = Q(network=None) if entry.network is None else Q(network__name=entry.network)
        return Ignore.objects.filter(
            network, mask__iexact=entry.mask, channel__iexact=entry.channel or ""
        )


class DatabaseLogSink:
    """Writes batches of log lines to their channels.

    Channel ids are remembered once found. A channel not found is looked up again
    on its next line (it may have been added since); a remembered one deleted since
    makes the batch fail its foreign key, and then everything is looked up again.
    """

    def __init__(self) -> None:
        self._channels: dict[tuple[str, str], int] = {}

    @database_sync_to_async
    def write(self, records: list[LogRecord]) -> None:
        try:
            with transaction.atomic():
                LogLine.objects.bulk_create(self._rows(records), batch_size=500)
        except (IntegrityError, DataError):
            # Retrying this batch would fail forever and hold up every line after it:
            # store what can be stored, line by line, and drop the rest.
            log.warning("a batch of %d log lines failed; storing them one by one", len(records))
            self._channels.clear()
            self._write_each(self._rows(records))

    def _rows(self, records: list[LogRecord]) -> list[LogLine]:
        rows: list[tuple[LogLine, bool]] = []
        unknown = Counter[tuple[str, str]]()
        for record in records:
            channel_id = self._channel_id(record.network, record.channel)
            if channel_id is None:
                unknown[(record.network, record.channel)] += 1
                continue
            row = LogLine(
                channel_id=channel_id,
                time=record.time,
                nick=record.nick,
                account=record.account or "",
                kind=record.kind,
                text=record.text,
                msgid=record.msgid or "",
            )
            rows.append((row, record.replayed))
        for (network, channel), count in unknown.items():
            log.warning("%d log lines dropped: no channel %s on %s", count, channel, network)
        stored = _stored_already([row for row, replayed in rows if replayed])
        return [row for row, replayed in rows if not (replayed and _identity(row) in stored)]

    @database_sync_to_async
    def redact(self, redactions: list[Redaction]) -> None:
        """Delete the lines the server redacted (IRCv3 REDACT), found by channel and msgid."""
        for redaction in redactions:
            channel_id = self._channel_id(redaction.network, redaction.channel)
            if channel_id is not None and redaction.msgid:
                LogLine.objects.filter(channel_id=channel_id, msgid=redaction.msgid).delete()

    @staticmethod
    def _write_each(rows: list[LogLine]) -> None:
        for row in rows:
            try:
                with transaction.atomic():
                    LogLine.objects.bulk_create([row])
            except (IntegrityError, DataError):
                log.warning("log line dropped: it cannot be stored: %r", row.text, exc_info=True)

    def _channel_id(self, network: str, channel: str) -> int | None:
        key = (network, fold(channel))
        if key not in self._channels:
            row = Channel.objects.filter(network__name=network, name__iexact=channel).first()
            if row is None:
                return None
            self._channels[key] = row.pk
        return self._channels[key]


def _identity(row: LogLine) -> tuple:
    return (row.channel_id, row.time, row.nick, row.kind, row.text)


def _stored_already(rows: list[LogLine]) -> set[tuple]:
    """Find which of these replayed lines the run that died had stored before dying."""
    if not rows:
        return set()
    found = LogLine.objects.filter(
        channel_id__in={row.channel_id for row in rows}, time__in={row.time for row in rows}
    ).values_list("channel_id", "time", "nick", "kind", "text")
    return set(found)


def load_networks(only: list[str] | None = None) -> list[NetworkConfig]:
    """Enabled networks with their enabled channels, as the engine's configuration."""
    networks = Network.objects.filter(enabled=True).prefetch_related(
        "channels", "redactions", "optouts"
    )
    if only:
        networks = networks.filter(name__in=only)
    return [network_config(network) for network in networks]


def network_config(network: Network) -> NetworkConfig:
    """Build a network's engine configuration; what its plugins may reveal is the policy's."""
    channels = [
        ChannelConfig(c.name, c.key or None, policy.published(c), policy.logged(c), c.entry_notice)
        for c in network.channels.all()
        if c.enabled
    ]
    return NetworkConfig(
        name=network.name,
        host=network.host,
        port=network.port,
        tls=network.tls,
        nick=network.nick,
        sasl_account=network.sasl_account or None,
        sasl_password=network.sasl_password or None,
        channels=channels,
        privacy=policy.bot_privacy(network),
    )


def discover_plugins() -> list[type[Plugin]]:
    """The built-in plugins and those installed packages declare (entry points)."""
    import botadmin.plugins

    return discover([botadmin.plugins])


def register_plugins(plugins: list[type[Plugin]]) -> None:
    """Record the discovered plugins, so the web and ``manage.py bot`` can configure them
    per scope (the bot does it at start; the command line without it)."""
    names = []
    for plugin in plugins:
        names.append(plugin.name)
        PluginRow.objects.update_or_create(
            name=plugin.name,
            defaults={
                "description": plugin.description(),
                "module": plugin.__module__,
                "settings_schema": [s.schema() for s in plugin.settings],
                "available": True,
            },
        )
    PluginRow.objects.exclude(name__in=names).update(available=False)


def plugin_problems(plugin: PluginRow, config: dict) -> list[str]:
    """Ask a plugin what is wrong with config, given the bot's channels and what is public."""
    module = _module(plugin.module)
    found = plugins_in(module) if module is not None else []
    cls = next((c for c in found if c.name == plugin.name), None)
    if cls is None:
        return []
    networks = {n.name: network_config(n) for n in Network.objects.prefetch_related(
        "channels", "redactions", "optouts"
    )}  # fmt: skip

    def channel(network: str, name: str) -> ChannelConfig | None:
        config = networks.get(network)
        return config.channel(name) if config else None

    return cls.setting_problems(config) or cls.problems(cls.defaults() | config, channel)


def _module(name: str):
    try:
        return importlib.import_module(name)
    except Exception:
        log.warning("plugin module %s does not import; its settings are not checked", name)
        return None


def load_plugin_settings() -> list[PluginSetting]:
    rows = PluginSettingRow.objects.select_related("network", "channel")
    return [
        PluginSetting(
            row.plugin,
            row.enabled,
            row.config,
            row.network.name if row.network else None,
            row.channel.name if row.channel else None,
        )
        for row in rows
    ]

"""The plugin host: discovery, loading by scope, component lookup and dispatch."""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any, TypeVar

from .config import DEFAULT_TIMING, ChannelConfig, PluginSetting, Timing
from .plugin import CommandInfo, Discriminating, Incoming, Plugin
from .privacy import Privacy
from .protocol import fold
from .scheduler import LOOP_CLOCK, Clock, Scheduler
from .session import Event
from .throttle import FloodGuard, Verdict

log = logging.getLogger(__name__)
T = TypeVar("T")
ENTRY_POINT_GROUP = "appliance.botplugins"

Say = Callable[[str, str, str, str], Awaitable[None]]  # network, target, text, command


def discover(
    packages: Iterable[ModuleType] = (), group: str = ENTRY_POINT_GROUP
) -> list[type[Plugin]]:
    """Find the plugins in packages' modules and installed entry points.

    The application passes its built-in plugin packages in; the engine names none. A
    module or entry point that fails to import is logged and skipped.
    """
    found: dict[str, type[Plugin]] = {}
    for module in _modules_of(packages):
        for cls in plugins_in(module):
            found.setdefault(cls.name, cls)
    for ep in entry_points(group=group):
        try:
            loaded = ep.load()
        except Exception:
            log.exception("plugin entry point %s failed to import; skipped", ep.name)
            continue
        for cls in plugins_in(loaded) if inspect.ismodule(loaded) else [loaded]:
            if isinstance(cls, type) and issubclass(cls, Plugin):
                found.setdefault(cls.name, cls)
    return sorted(found.values(), key=lambda cls: cls.name)


def _modules_of(packages: Iterable[ModuleType]) -> Iterator[ModuleType]:
    for package in packages:
        prefix = f"{package.__name__}."
        for info in pkgutil.iter_modules(package.__path__, prefix):
            try:
                yield importlib.import_module(info.name)
            except Exception:
                log.exception("plugin module %s failed to import; skipped", info.name)


def plugins_in(module: Any) -> list[type[Plugin]]:
    return [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Plugin)
        and obj is not Plugin
        and obj.__module__ == module.__name__
    ]


class _Context:
    """A plugin's view of the host (the PluginContext protocol)."""

    def __init__(self, host: PluginHost, name: str) -> None:
        self.host = host
        self.name = name
        self.scheduler = Scheduler(name, host.clock)

    def component(self, interface: type[T]) -> T | None:
        if interface is Scheduler:
            return self.scheduler  # type: ignore[return-value]  # the plugin's own: cancelled on unload
        return self.host.component(interface)

    def commands(self, network: str, channel: str | None) -> list[CommandInfo]:
        return self.host.commands(network, channel)

    def settings(self, network: str | None, channel: str | None) -> dict[str, Any]:
        return self.host.effective(self.name, network, channel)[1]

    def privacy(self, network: str) -> Privacy:
        return self.host.privacy(network)

    def channel(self, network: str, channel: str) -> ChannelConfig | None:
        return self.host.channel_config(network, channel)

    async def say(self, network: str, target: str, text: str) -> None:
        await self.host.say(network, target, text, "PRIVMSG")


class PluginHost:
    def __init__(
        self,
        classes: list[type[Plugin]],
        components: dict[type, object],
        say: Say,
        nick: Callable[[str], str | None],
        channel_config: Callable[[str, str], ChannelConfig | None],
        timing: Timing = DEFAULT_TIMING,
        prefix: str = "!",
        clock: Clock = LOOP_CLOCK,
        privacy: Callable[[str], Privacy] = lambda network: Privacy(),
    ) -> None:
        self.classes = {cls.name: cls for cls in classes}
        self.clock = clock  # the plugins' schedulers' time
        self.components = components
        self.say = say
        self.nick = nick
        self.channel_config = channel_config
        self.privacy = privacy
        self.prefix = prefix
        self.flood = FloodGuard(timing.flood_commands, timing.flood_window, timing.flood_penalty)
        self.loaded: dict[str, Plugin] = {}
        self.plugin_settings: list[PluginSetting] = []
        # Exceptions caught from each plugin (for /metrics); its scheduled jobs' are counted
        # by its scheduler, added here when it is unloaded.
        self.failures: Counter[str] = Counter()

    # -- settings and lifecycle ---------------------------------------------------

    def effective(self, name: str, network: str | None, channel: str | None) -> tuple[bool, dict]:
        """Return (enabled, config) for a scope: the most specific setting wins, configs overlay."""
        scoped = sorted(
            (
                s
                for s in self.plugin_settings
                if s.plugin == name and s.applies_to(network, channel)
            ),
            key=lambda s: s.specificity,
        )
        cls = self.classes.get(name)
        enabled = scoped[-1].enabled if scoped else bool(cls and cls.enabled_by_default)
        config: dict[str, Any] = {}
        for setting in scoped:
            config |= setting.config
        return enabled, config

    def _wanted(self, name: str) -> bool:
        """Loaded if enabled globally or in any narrower scope."""
        mine = [s for s in self.plugin_settings if s.plugin == name]
        return self.effective(name, None, None)[0] or any(s.enabled for s in mine)

    def _configs(self, name: str) -> list[tuple[str, str, dict]]:
        """List every scope's config for a plugin, in a stable order: what a reload compares.

        Scopes without config are left out: they change no effective config.
        """
        return sorted(
            (
                (s.network or "", fold(s.channel or ""), s.config)
                for s in self.plugin_settings
                if s.plugin == name and s.config
            ),
            key=lambda scoped: scoped[:2],
        )

    async def apply(self, settings: list[PluginSetting]) -> None:
        before = {name: self._configs(name) for name in self.loaded}
        self.plugin_settings = list(settings)
        for name in self.classes:
            if self._wanted(name) and name not in self.loaded:
                await self._load(name)
            elif not self._wanted(name) and name in self.loaded:
                await self._unload(name)
            elif name in before and before[name] != self._configs(name):
                await self._reconfigure(name)

    async def _reconfigure(self, name: str) -> None:
        plugin = self.loaded[name]
        if type(plugin).configure is Plugin.configure:
            log.info("plugin %s: settings changed; reloading it", name)
            await self._unload(name)
            await self._load(name)
            return
        try:
            await plugin.configure()
        except Exception:
            self.failures[name] += 1
            log.exception("plugin %s failed to apply its new settings", name)

    async def _load(self, name: str) -> None:
        plugin = self.classes[name](_Context(self, name))
        try:
            await plugin.setup()
        except Exception:
            self.failures[name] += 1
            log.exception("plugin %s failed to set up; not loaded", name)
            return
        self.loaded[name] = plugin
        for kind, period, attr in plugin.handlers():
            if kind == "every":
                plugin.context.scheduler.every(period, getattr(plugin, attr))

    async def _unload(self, name: str) -> None:
        plugin = self.loaded.pop(name)
        try:
            await plugin.teardown()
        except Exception:
            self.failures[name] += 1
            log.exception("plugin %s failed to tear down", name)
        plugin.context.scheduler.cancel_all()
        self.failures[name] += plugin.context.scheduler.failures

    async def stop(self) -> None:
        for name in list(self.loaded):
            await self._unload(name)

    def errors(self) -> dict[str, int]:
        """Return the exceptions caught from each plugin since the bot started."""
        running = Counter({n: p.context.scheduler.failures for n, p in self.loaded.items()})
        return dict(self.failures + running)

    # -- components ----------------------------------------------------------------

    def component(self, interface: type[T]) -> T | None:
        if interface in self.components:
            return self.components[interface]  # type: ignore[return-value]
        for plugin in self.loaded.values():
            if interface in plugin.provides:
                return plugin  # type: ignore[return-value]
        return None

    def commands(self, network: str, channel: str | None) -> list[CommandInfo]:
        return [
            CommandInfo(plugin.name, name, text)
            for plugin in self._active(network, channel)
            for name, text in plugin.command_help().items()
        ]

    def _active(self, network: str, channel: str | None) -> list[Plugin]:
        return [p for n, p in self.loaded.items() if self.effective(n, network, channel)[0]]

    # -- dispatch --------------------------------------------------------------------

    async def dispatch(self, network: str, event: Event) -> None:
        if event.own:
            return
        for channel in event.channels or (None,):
            incoming = self._incoming(network, event, channel)
            ignored = self._ignored(incoming)
            await self._observe(incoming, ignored)
            if event.kind == "message" and not ignored:
                await self._handle_message(incoming)

    def _incoming(self, network: str, event: Event, channel: str | None) -> Incoming:
        config = self.channel_config(network, channel) if channel else None
        target = channel or event.nick

        async def reply(text: str) -> None:
            await self.say(network, target, text, "PRIVMSG")

        async def notice(text: str) -> None:
            await self.say(network, event.nick, text, "NOTICE")

        return Incoming(
            network=network,
            channel=channel,
            nick=event.nick,
            mask=event.mask,
            text=event.text,
            kind=event.kind,
            time=event.time,
            account=event.account,
            # Unconfigured channels count as private: revealing nothing is the safe side.
            public=config.public if config else channel is None,
            _reply=reply,
            _notice=notice,
        )

    async def _observe(self, msg: Incoming, ignored: bool) -> None:
        # The ignoring plugin itself still sees everything (its own bookkeeping);
        # the channel log is the Bot's, written before dispatch, ignored or not.
        watchers = self._active(msg.network, msg.channel)
        if not self.privacy(msg.network).keeps(msg.nick, msg.kind, msg.text):
            # Off the record, or an opted-out nick: no plugin remembers or repeats it.
            watchers = []
        if ignored:
            watchers = [p for p in watchers if p is self.component(Discriminating)]
        for plugin in watchers:
            for kind, kinds, attr in plugin.handlers():
                if kind == "on" and msg.kind in kinds:
                    await self._call(plugin, attr, msg)

    async def _handle_message(self, msg: Incoming) -> None:
        parsed = self._command(msg)
        if parsed is not None:
            await self._run_command(msg, *parsed)
            return
        for plugin in self._active(msg.network, msg.channel):
            for kind, pattern, attr in plugin.handlers():
                match = pattern.search(msg.text) if kind == "rule" else None
                if match:
                    await self._call(plugin, attr, msg, match)

    def _command(self, msg: Incoming) -> tuple[str, str] | None:
        """Return (name, args) for ``!name args``, ``botnick: name args`` or a query line."""
        text = msg.text.strip()
        nick = self.nick(msg.network) or ""
        addressed = (
            re.match(rf"{re.escape(nick)}[:,]\s*(.+)", text, re.IGNORECASE) if nick else None
        )
        if text.startswith(self.prefix):
            text = text[len(self.prefix) :]
        elif addressed:
            text = addressed[1]
        elif msg.channel is not None:
            return None
        name, _, args = text.partition(" ")
        return (name.lower(), args.strip()) if name else None

    def _ignored(self, msg: Incoming) -> bool:
        discriminating = self.component(Discriminating)
        if discriminating is None:
            return False
        try:
            return discriminating.is_ignored(msg.source)
        except Exception:
            log.exception("ignore check failed; not ignoring")
            return False

    async def _run_command(self, msg: Incoming, name: str, args: str) -> None:
        handler = self._find_command(msg, name)
        if handler is None:
            return
        verdict = self.flood.check(f"{msg.network} {fold(msg.mask)}", time.monotonic())
        if verdict is Verdict.WARN:
            await msg.notice(
                f"You sent too many commands; ignoring you for {self.flood.penalty:.0f} seconds."
            )
        if verdict is Verdict.ALLOW:
            await self._call(*handler, msg, args)

    def _find_command(self, msg: Incoming, name: str) -> tuple[Plugin, str] | None:
        for plugin in self._active(msg.network, msg.channel):
            for kind, value, attr in plugin.handlers():
                if kind == "command" and value == name:
                    return plugin, attr
        return None

    async def _call(self, plugin: Plugin, attr: str, *args: Any) -> None:
        try:
            await getattr(plugin, attr)(*args)
        except Exception:
            # One plugin's bug must not take the bot or the other plugins down.
            self.failures[plugin.name] += 1
            log.exception("plugin %s failed in %s", plugin.name, attr)

"""What a plugin is: a small class with declared handlers, settings and components.

class Hello(Plugin):
    '''Greets people.'''

    @command("hello")
    async def hello(self, msg: Incoming, args: str) -> None:
        '''hello: says hello back.'''
        await msg.reply(f"hello {msg.nick}")
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    from .config import ChannelConfig
    from .privacy import Privacy
    from .scheduler import Scheduler

T = TypeVar("T")
Reply = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Setting:
    """A declared setting, enough for the web to build a form field."""

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    minimum: float | None = None  # for int and float settings, inclusive
    maximum: float | None = None
    # Further checks of a set value: the problem in words, or "" when it is fine.
    check: Callable[[Any], str] | None = field(default=None, compare=False)

    def problem(self, value: Any) -> str:
        """Say what is wrong with value for this setting ("" when nothing), before the bot
        meets it: a bad value saved is a confusing error in a channel later."""
        numeric = self.type in (int, float)
        fits = isinstance(value, self.type) and not (self.type is int and isinstance(value, bool))
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            fits = True
        if not fits:
            return f"{self.name}: expected {SETTING_TYPES.get(self.type, self.type.__name__)}"
        if numeric and self.minimum is not None and value < self.minimum:
            return f"{self.name}: at least {self.minimum:g}, not {value}"
        if numeric and self.maximum is not None and value > self.maximum:
            return f"{self.name}: at most {self.maximum:g}, not {value}"
        detail = self.check(value) if self.check else ""
        return f"{self.name}: {detail}" if detail else ""

    def schema(self) -> dict[str, Any]:
        """Describe the setting for the web's forms (JSON: no Python objects)."""
        described = {"name": self.name, "type": self.type.__name__, "default": self.default}
        described["help"] = self.help
        for bound in ("minimum", "maximum"):
            if getattr(self, bound) is not None:
                described[bound] = getattr(self, bound)
        return described


SETTING_TYPES = {
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "an object",
}


@dataclass(frozen=True)
class Source:
    """Who said something, where: what ignore rules match on."""

    network: str
    channel: str | None
    mask: str
    account: str | None = None


class Discriminating(Protocol):
    def is_ignored(self, source: Source) -> bool: ...


@dataclass
class Incoming:
    """A line (or other event) delivered to a handler, with a way to answer it."""

    network: str
    channel: str | None  # None for a private message
    nick: str
    mask: str
    text: str
    kind: str
    time: datetime
    account: str | None = None
    public: bool = True  # the channel's configured public flag
    _reply: Reply | None = field(default=None, repr=False)
    _notice: Reply | None = field(default=None, repr=False)

    @property
    def source(self) -> Source:
        return Source(self.network, self.channel, self.mask, self.account)

    async def reply(self, text: str) -> None:
        """Answer where the line came from: the channel, or the user in private."""
        if self._reply is not None:
            await self._reply(text)

    async def notice(self, text: str) -> None:
        """Tell the user alone."""
        if self._notice is not None:
            await self._notice(text)


@dataclass(frozen=True)
class CommandInfo:
    plugin: str
    name: str
    help: str


class PluginContext(Protocol):
    """What the host gives each plugin instance."""

    scheduler: Scheduler

    def component(self, interface: type[T]) -> T | None: ...

    def commands(self, network: str, channel: str | None) -> list[CommandInfo]: ...

    def settings(self, network: str | None, channel: str | None) -> dict[str, Any]: ...

    def privacy(self, network: str) -> Privacy:
        """What may be repeated on network: redacted nicks, opt-outs, the off-record marker."""

    def channel(self, network: str, channel: str) -> ChannelConfig | None:
        """A configured channel (public? logged?), or None."""

    async def say(self, network: str, target: str, text: str) -> None: ...


def command(name: str) -> Callable:
    """Handle ``!name args`` (or ``botnick: name args``); the docstring is its help."""
    return _mark("command", name)


def rule(pattern: str, flags: int = re.IGNORECASE) -> Callable:
    """Handle any channel or private message matching pattern (handler gets the match)."""
    return _mark("rule", re.compile(pattern, flags))


def on(*kinds: str) -> Callable:
    """Observe every event of these kinds (message, action, join, quit, ...)."""
    return _mark("on", kinds)


def every(period: float) -> Callable:
    """Run the method every period seconds while the plugin is loaded."""
    return _mark("every", period)


def _mark(kind: str, value: Any) -> Callable:
    def decorate(func: Callable) -> Callable:
        func.__dict__.setdefault("_infobot", []).append((kind, value))
        return func

    return decorate


class Plugin:
    """Base class; subclass it, declare handlers with the decorators above."""

    name: ClassVar[str] = ""
    settings: ClassVar[tuple[Setting, ...]] = ()
    provides: ClassVar[tuple[type, ...]] = ()
    enabled_by_default: ClassVar[bool] = True
    _handlers: ClassVar[list[tuple[str, Any, str]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__.lower()
        cls._handlers = cls._find_handlers()

    def __init__(self, context: PluginContext) -> None:
        self.context = context

    @classmethod
    def description(cls) -> str:
        return inspect.getdoc(cls).splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def command_help(cls) -> dict[str, str]:
        """Map each command's name to its help text (its docstring), for !help and the web."""
        return {
            value: inspect.getdoc(getattr(cls, attr)) or ""
            for kind, value, attr in cls._handlers
            if kind == "command"
        }

    @classmethod
    def handlers(cls) -> list[tuple[str, Any, str]]:
        """List (kind, value, method name) for every declared handler."""
        return cls._handlers

    @classmethod
    def _find_handlers(cls) -> list[tuple[str, Any, str]]:
        found = []
        for attr, member in inspect.getmembers(cls, inspect.isfunction):
            for kind, value in member.__dict__.get("_infobot", ()):
                found.append((kind, value, attr))
        return found

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {s.name: s.default for s in cls.settings}

    @classmethod
    def setting_problems(cls, config: dict[str, Any]) -> list[str]:
        """Check each set value against its declared type, range and check."""
        declared = {s.name: s for s in cls.settings}
        found = [
            declared[name].problem(value)
            for name, value in config.items()
            if name in declared and value is not None
        ]
        return [problem for problem in found if problem]

    @classmethod
    def problems(
        cls, config: dict[str, Any], channel: Callable[[str, str], ChannelConfig | None]
    ) -> list[str]:
        """Say what is wrong with a configuration before it is saved; none by default.

        ``config`` is the defaults overlaid with the settings to save; ``channel`` finds a
        configured channel (network, name), to check against what is public.
        """
        return []

    def config(self, network: str | None, channel: str | None = None) -> dict[str, Any]:
        """Declared defaults overlaid with the most specific configured values."""
        return self.defaults() | self.context.settings(network, channel)

    async def setup(self) -> None:
        """Prepare the plugin when it is loaded (before any handler)."""

    async def teardown(self) -> None:
        """Clean up when the plugin is unloaded; its scheduled jobs are cancelled after."""

    async def configure(self) -> None:
        """Apply the plugin's settings, changed while it is loaded.

        ``config()`` always reads the current settings; override this to refresh what
        ``setup`` derived from them. A plugin that does not override it is reloaded
        instead: ``teardown``, then ``setup`` on a fresh instance.
        """

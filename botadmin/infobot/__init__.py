"""The IRC bot engine: connections, plugin host, components, scheduler, log writer.

Imports no Django (directly or not), and names no plugin package: the application
passes its plugins in (``discover(packages)``). The Django side adapts its models to
the protocols defined in ``stores``, ``logwriter`` and ``zonefeed``.
"""

from .bot import Bot, Networks
from .config import ChannelConfig, NetworkConfig, PluginSetting, Timing
from .connection import NetworkStatus
from .host import discover
from .logwriter import LogRecord, LogSink, MemoryLogSink, Redaction
from .plugin import (
    CommandInfo,
    Discriminating,
    Incoming,
    Plugin,
    Setting,
    Source,
    command,
    every,
    on,
    rule,
)
from .privacy import MemoryOptOutStore, OptOutStore, Privacy
from .scheduler import DAILY, HOURLY, LOOP_CLOCK, MINUTELY, WEEKLY, Clock, Scheduler
from .stores import (
    IgnoreEntry,
    IgnoreStore,
    MemoryIgnoreStore,
    MemorySeenStore,
    MemoryStorage,
    SeenEntry,
    SeenStore,
    StaleVersion,
    Storage,
    Stored,
)

__all__ = [
    "DAILY", "HOURLY", "LOOP_CLOCK", "MINUTELY", "WEEKLY",
    "Bot", "ChannelConfig", "Clock", "CommandInfo", "Discriminating", "IgnoreEntry", "IgnoreStore",
    "Incoming", "LogRecord", "LogSink", "MemoryIgnoreStore", "MemoryLogSink", "MemoryOptOutStore",
    "MemorySeenStore", "MemoryStorage", "NetworkConfig", "NetworkStatus", "Networks", "OptOutStore",
    "Plugin", "PluginSetting", "Privacy", "Redaction", "Scheduler",
    "SeenEntry", "SeenStore", "Setting", "Source", "StaleVersion", "Storage", "Stored", "Timing",
    "command", "discover", "every", "on", "rule",
]  # fmt: skip

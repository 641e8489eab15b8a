"""Configuration the bot is built from: plain dataclasses, filled by the Django side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .privacy import Privacy
from .protocol import fold


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    key: str | None = None
    # A private channel's text is never revealed in another channel (see the seen plugin).
    public: bool = True
    logged: bool = True
    # Said in the channel (as a NOTICE) each time the bot joins: "this channel is logged…".
    entry_notice: str = ""


@dataclass(frozen=True)
class NetworkConfig:
    name: str
    host: str
    port: int = 6697
    tls: bool = True
    nick: str = "infobot"
    sasl_account: str | None = None
    sasl_password: str | None = None
    channels: list[ChannelConfig] = field(default_factory=list)
    username: str = "infobot"
    realname: str = "appliance infobot"
    privacy: Privacy = field(default_factory=Privacy)

    def channel(self, name: str) -> ChannelConfig | None:
        folded = fold(name)
        return next((c for c in self.channels if fold(c.name) == folded), None)

    def link_settings(self) -> tuple:
        """Return what forces a reconnect when it changes (channels only need JOIN/PART)."""
        return (self.host, self.port, self.tls, self.nick, self.sasl_account, self.sasl_password)


@dataclass(frozen=True)
class PluginSetting:
    """One scope's settings for a plugin: global when network is None, channel when set."""

    plugin: str
    enabled: bool = True
    config: dict[str, Any] = field(default_factory=dict)
    network: str | None = None
    channel: str | None = None

    @property
    def specificity(self) -> int:
        return (self.network is not None) + (self.channel is not None)

    def applies_to(self, network: str | None, channel: str | None) -> bool:
        if self.network is not None and self.network != network:
            return False
        if self.channel is None:
            return True
        return channel is not None and fold(self.channel) == fold(channel)


@dataclass(frozen=True)
class Timing:
    """Knobs with production defaults; tests shrink them."""

    reconnect_base: float = 2.0
    reconnect_cap: float = 300.0
    ping_interval: float = 90.0
    ping_timeout: float = 60.0
    rejoin_delay: float = 5.0
    burst: int = 4
    rate: float = 1.0
    flood_commands: int = 5
    flood_window: float = 10.0
    flood_penalty: float = 60.0
    log_batch: int = 200
    log_interval: float = 0.5


DEFAULT_TIMING = Timing()

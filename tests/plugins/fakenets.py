"""Several fake networks around one plugin host, for plugins that span networks.

Like the engine's Bot, it logs every line in a channel (the bot's own included, made
from what it sends, as the connection does) and dispatches all but the bot's own; the
bot's status per network comes from the sessions, so a network is "not ready" until it
registered and joined. No sockets: IRC lines in, the lines the bot would send out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from botadmin.infobot import (
    ChannelConfig,
    IgnoreStore,
    MemoryIgnoreStore,
    MemorySeenStore,
    MemoryStorage,
    NetworkConfig,
    Networks,
    NetworkStatus,
    PluginSetting,
    SeenStore,
    Storage,
)
from botadmin.infobot.host import PluginHost
from botadmin.infobot.protocol import decode, parse
from botadmin.infobot.session import Event, Session


@dataclass
class FakeLink:
    session: Session
    sent: list[str] = field(default_factory=list)  # PRIVMSG/NOTICE lines written
    log: list[tuple[str, str, str, str]] = field(default_factory=list)  # channel, nick, kind, text


class FakeNetworks:
    """Networks by name, each with its channels; ``up`` registers and joins one."""

    def __init__(
        self,
        channels: dict[str, list[str]],
        plugins: list,
        settings: list[PluginSetting],
        components: dict | None = None,
        nick: str = "bot",
        private: tuple[str, ...] = (),
    ) -> None:
        """``private`` lists the channels ("network/#channel") that are not public."""
        self.nick = nick
        self.configs = {
            name: NetworkConfig(name, "127.0.0.1", 6667, False, nick, channels=[
                ChannelConfig(c, public=f"{name}/{c}" not in private) for c in names
            ])
            for name, names in channels.items()
        }  # fmt: skip
        self.links = {name: FakeLink(Session(config)) for name, config in self.configs.items()}
        self.storage = MemoryStorage()
        self.host = PluginHost(
            plugins,
            {
                Storage: self.storage,
                SeenStore: MemorySeenStore(),
                IgnoreStore: MemoryIgnoreStore(),
                Networks: self,
            }
            | (components or {}),
            say=self._say,
            nick=lambda network: self.links[network].session.nick,
            channel_config=self.channel_config,
            privacy=lambda network: self.configs[network].privacy,
        )
        self.settings = settings

    async def start(self, *up: str) -> None:
        await self.host.apply(self.settings)
        for name in up:
            await self.up(name)

    def channel_config(self, network: str, channel: str) -> ChannelConfig | None:
        config = self.configs.get(network)
        return config.channel(channel) if config else None

    def plugin(self, name: str):
        return self.host.loaded[name]

    # -- the Networks component ----------------------------------------------------

    def status(self) -> dict[str, NetworkStatus]:
        return {
            name: NetworkStatus(
                name,
                link.session.registered,
                link.session.nick if link.session.registered else None,
                None,
                None,
                link.session.channels(),
            )
            for name, link in self.links.items()
        }

    # -- lines in and out ------------------------------------------------------------

    async def up(self, network: str, joined: list[str] | None = None) -> None:
        """Register on network and join its channels (or only ``joined``)."""
        link = self.links[network]
        link.session = Session(self.configs[network])
        link.session.start()
        for line in (f":srv 001 {self.nick} :hi", f":srv 376 {self.nick} :end"):
            await self.feed(network, line)
        names = [c.name for c in self.configs[network].channels] if joined is None else joined
        for channel in names:
            await self.feed(network, f":{self.nick}!u@bot.host JOIN {channel}")

    def down(self, network: str) -> None:
        """Lose the link: a fresh, unregistered session, as after a reconnect."""
        self.links[network].session = Session(self.configs[network])

    async def feed(self, network: str, line: str) -> None:
        link = self.links[network]
        for event in link.session.receive(parse(decode(line.encode()))):
            if self.configs[network].privacy.keeps(event.nick, event.kind, event.text):
                self._log(link, event)
            if not event.own:
                await self.host.dispatch(network, event)
        self._take(link)

    async def say(self, network: str, who: str, channel: str, text: str) -> None:
        await self.feed(network, f":{who}!{who}@{who}.example PRIVMSG {channel} :{text}")

    async def act(self, network: str, who: str, channel: str, text: str) -> None:
        await self.say(network, who, channel, f"\x01ACTION {text}\x01")

    async def _say(self, network: str, target: str, text: str, command: str) -> None:
        link = self.links[network]  # KeyError for an unknown network, as the Bot raises
        link.session.say(target, text, command)
        self._take(link)

    def _take(self, link: FakeLink) -> None:
        for out in link.session.take_output():
            own = link.session.own_event(out.line)
            if own is not None:
                link.sent.append(out.line)
                self._log(link, own)

    @staticmethod
    def _log(link: FakeLink, event: Event) -> None:
        for channel in event.channels:
            link.log.append((channel, event.nick, event.kind, event.text))

    def texts(self, network: str) -> list[str]:
        """Return what the bot said on network, as text."""
        return [line.split(" :", 1)[1] for line in self.links[network].sent]

    async def stop(self) -> None:
        await self.host.stop()

"""A fake network for plugin tests: IRC bytes in, the lines the bot would send out."""

from __future__ import annotations

import pytest

from botadmin.infobot import (
    ChannelConfig,
    IgnoreStore,
    MemoryIgnoreStore,
    MemoryOptOutStore,
    MemorySeenStore,
    MemoryStorage,
    NetworkConfig,
    OptOutStore,
    PluginSetting,
    SeenStore,
    Storage,
    Timing,
)
from botadmin.infobot.host import PluginHost
from botadmin.infobot.privacy import OptOuts
from botadmin.infobot.protocol import decode, parse
from botadmin.infobot.scheduler import LOOP_CLOCK, Clock
from botadmin.infobot.session import Session

CHANNELS = [ChannelConfig("#pub"), ChannelConfig("#priv", public=False)]
OPERATOR = "boss!b@admin.example"


class FakeNetwork:
    def __init__(
        self,
        plugins: list,
        settings: list[PluginSetting],
        timing: Timing,
        clock: Clock = LOOP_CLOCK,
    ) -> None:
        self.config = NetworkConfig("testnet", "127.0.0.1", 6667, False, "bot", channels=CHANNELS)
        self.session = Session(self.config)
        self.seen, self.ignores, self.storage = (
            MemorySeenStore(),
            MemoryIgnoreStore(),
            MemoryStorage(),
        )
        self.settings = settings
        # As the Bot does: opt-outs said on IRC apply on top of the configured privacy.
        self.optouts = OptOuts(MemoryOptOutStore())
        self.host = PluginHost(
            plugins,
            {
                SeenStore: self.seen,
                IgnoreStore: self.ignores,
                Storage: self.storage,
                OptOutStore: self.optouts,
            },
            say=self._say,
            nick=lambda network: self.session.nick,
            channel_config=lambda network, channel: self.config.channel(channel),
            timing=timing,
            clock=clock,
            privacy=lambda network: self.optouts.apply(network, self.config.privacy),
        )

    async def _say(self, network: str, target: str, text: str, command: str) -> None:
        self.session.say(target, text, command)

    async def start(self) -> None:
        await self.host.apply(self.settings)
        self.session.start()
        for line in (":srv 001 bot :hi", ":srv 376 bot :end", ":bot!u@bot.host JOIN #pub"):
            await self.feed(line.encode())
        await self.feed(b":bot!u@bot.host JOIN #priv")

    async def feed(self, raw: bytes) -> list[str]:
        for event in self.session.receive(parse(decode(raw))):
            await self.host.dispatch("testnet", event)
        return [out.line for out in self.session.take_output()]

    async def say(self, who: str, target: str, text: str) -> list[str]:
        """Have ``who`` say text; return the lines the bot sends in answer."""
        mask = who if "!" in who else f"{who}!{who}@{who}.example"
        return await self.feed(f":{mask} PRIVMSG {target} :{text}".encode())


@pytest.fixture
async def network_factory():
    made: list[FakeNetwork] = []

    async def make(
        plugins: list, settings: list[PluginSetting] = (), clock: Clock = LOOP_CLOCK, **timing
    ) -> FakeNetwork:
        network = FakeNetwork(plugins, list(settings), Timing(**timing), clock)
        await network.start()
        made.append(network)
        return network

    yield make
    for network in made:
        await network.host.stop()


@pytest.fixture
def http_service():
    """Serve real HTTP on 127.0.0.1 for the plugins that reach out (see httpfake)."""
    from tests.plugins.httpfake import running

    with running() as service:
        yield service

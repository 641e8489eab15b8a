"""relay: links channels across networks, whatever they are called on each side.

Loops are cut three ways: the bot never sees its own lines (the engine does not
dispatch them), lines of other relay bots (by nick) are skipped, and so are lines that
look relayed (``<nick@net> ...`` or ``* nick@net ...``). Each line reaches every other
endpoint of its link group once, however the links are drawn (a triangle included).
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable

from botadmin.infobot import ChannelConfig, Incoming, Networks, Plugin, Setting, on
from botadmin.infobot.protocol import MAX_LINE_BYTES, fold, split_text

log = logging.getLogger(__name__)
RELAYED = re.compile(r"^(<[^\s<>]+@[^\s<>]+> |\* [^\s@]+@\S+ )")
MEMBERSHIP = ("join", "part", "quit", "nick", "kick")
NICK_ROOM = 30  # when our nick is not known yet
USER_HOST_ROOM = 1 + 10 + 1 + 63  # "~user@host": ident length 10, host name label cap 63

Endpoint = tuple[str, str]  # network, folded channel


def parse_endpoint(text: str) -> tuple[str, str] | None:
    """Split "libera/#dev" into ("libera", "#dev"); None when it is not of that form."""
    network, sep, channel = str(text).partition("/")
    return (network, channel) if sep and network and channel else None


def link_groups(links: list[list[str]]) -> dict[Endpoint, dict[Endpoint, str]]:
    """Map each endpoint to its peers (the others reachable through any chain of links), with the
    channel name as configured, so a line goes to each peer once."""
    names: dict[Endpoint, str] = {}
    adjacent: dict[Endpoint, set[Endpoint]] = {}
    for link in links:
        ends = [e for e in map(parse_endpoint, link) if e is not None]
        keys = [(network, fold(channel)) for network, channel in ends]
        names.update(zip(keys, (channel for _, channel in ends), strict=True))
        for key in keys:
            adjacent.setdefault(key, set()).update(keys)
    return {
        key: {peer: names[peer] for peer in _reach(key, adjacent) if peer != key}
        for key in adjacent
    }


def _reach(start: Endpoint, adjacent: dict[Endpoint, set[Endpoint]]) -> set[Endpoint]:
    seen, todo = {start}, [start]
    while todo:
        for peer in adjacent[todo.pop()] - seen:
            seen.add(peer)
            todo.append(peer)
    return seen


def private_leaks(
    links: list, allowed: list, channel: Callable[[str, str], ChannelConfig | None]
) -> list[tuple[str, str]]:
    """List the (private, public) endpoint pairs a configuration would relay, not allowed.

    A target that is not one of the bot's channels counts as public: nothing says its
    log is not. An unknown source is not flagged: the bot is not there to hear it.
    """
    names = {
        (network, fold(name)): f"{network}/{name}"
        for link in links
        for network, name in filter(None, map(parse_endpoint, link))
    }
    ok = link_groups(allowed)
    leaks = []
    for source, peers in sorted(link_groups(links).items()):
        here = channel(source[0], names[source].split("/", 1)[1])
        if here is None or here.public:
            continue
        for peer, name in sorted(peers.items()):
            there = channel(peer[0], name)
            if (there is None or there.public) and peer not in ok.get(source, {}):
                leaks.append((names[source], names[peer]))
    return leaks


def relayed_lines(msg: Incoming, budget: int) -> list[str]:
    """Word msg as the other side sees it: a long message is cut so each piece names its origin.

    Otherwise the connection would cut it, and the pieces after the first would read
    as the bot's own words (and another relay bot would relay them on).
    """
    who = f"{msg.nick}@{msg.network}"
    prefix = {"message": f"<{who}> ", "action": f"* {who} "}.get(msg.kind)
    if prefix is None:
        return [membership(msg, who)]
    room = budget - len(prefix.encode())
    return [prefix + piece for piece in split_text(msg.text, room)]


def membership(msg: Incoming, who: str) -> str:
    return {
        "join": f"* {who} has joined {msg.channel}",
        "part": f"* {who} has left {msg.channel}" + (f" ({msg.text})" if msg.text else ""),
        "quit": f"* {who} has quit" + (f" ({msg.text})" if msg.text else ""),
        "nick": f"* {who} is now known as {msg.text}",
        "kick": f"* {who} has kicked {msg.text.strip()}",
    }[msg.kind]


def text_budget(nick: str | None, channel: str) -> int:
    """Count the bytes of text a PRIVMSG to channel carries once the server adds our prefix.

    The plugin does not know the user and host the server shows for the bot, so it
    assumes the longest usual ones; a piece cut a little short costs nothing.
    """
    prefix = len(f":{nick or 'x' * NICK_ROOM}!".encode()) + USER_HOST_ROOM + 1
    return MAX_LINE_BYTES - 2 - prefix - len(f"PRIVMSG {channel} :".encode())


class Relay(Plugin):
    """Relays channels between networks."""

    settings = (
        Setting("links", list, [], 'Linked channels, e.g. [["libera/#dev", "oftc/#project-dev"]].'),
        Setting(
            "membership", bool, False, "Also relay joins, parts, quits, kicks and nick changes."
        ),
        Setting(
            "other_bots", list, [], "Nicks of other relay bots, whose lines are never relayed."
        ),
        Setting("ignore_relayed", bool, True, "Skip lines that look relayed (<nick@net> ...)."),
        Setting(
            "queue_limit",
            int,
            50,
            "Lines held per channel while it is not joined (oldest dropped).",
            0,
            10000,
        ),
        Setting(
            "retry_interval",
            float,
            2.0,
            "Seconds between two tries to deliver held lines.",
            0.1,
            3600,
        ),
        Setting(
            "private_to_public",
            list,
            [],
            "Links allowed to carry a private channel's lines into a public one (and so into "
            'its published log), e.g. [["libera/#staff", "oftc/#project"]]. Others are refused.',
        ),
    )

    @classmethod
    def problems(
        cls, config: dict, channel: Callable[[str, str], ChannelConfig | None]
    ) -> list[str]:
        return [
            f"{source} is private and {target} is public (or not one of the bot's "
            f"channels): relaying would publish {source}'s lines there. List the pair in "
            "private_to_public to allow it."
            for source, target in private_leaks(
                config["links"], config["private_to_public"], channel
            )
        ]

    async def setup(self) -> None:
        config = self.config(None)
        self.limit = max(0, int(config["queue_limit"]))
        self.held: dict[Endpoint, deque[tuple[str, str]]] = {}
        self.refused: set[tuple[Endpoint, Endpoint]] = set()
        self.context.scheduler.every(float(config["retry_interval"]), self.deliver_held)

    @on("message", "action", *MEMBERSHIP)
    async def relay(self, msg: Incoming) -> None:
        config = self.config(None)
        peers = link_groups(config["links"]).get((msg.network, fold(msg.channel or "")))
        if not peers or not self.wanted(msg, config):
            return
        for (network, _), channel in sorted(peers.items()):
            if not self.may_carry(msg, network, channel, config):
                continue
            for text in relayed_lines(msg, text_budget(self.own_nick(network), channel)):
                await self.send(network, channel, text)

    def may_carry(self, msg: Incoming, network: str, channel: str, config: dict) -> bool:
        """Refuse to carry a private channel's lines into a public one, unless allowed."""
        target = self.context.channel(network, channel)
        if msg.public or (target is not None and not target.public):
            return True
        source = (msg.network, fold(msg.channel or ""))
        peer = (network, fold(channel))
        if peer in link_groups(config["private_to_public"]).get(source, {}):
            return True
        if (source, peer) not in self.refused:
            self.refused.add((source, peer))
            log.warning(
                "relay: refused to carry %s/%s, a private channel, into %s/%s, which is "
                "public or not configured: its lines would be published there. List the "
                "pair in the relay's private_to_public setting to allow it.",
                msg.network, msg.channel, network, channel,
            )  # fmt: skip
        return False

    def wanted(self, msg: Incoming, config: dict) -> bool:
        if msg.kind in MEMBERSHIP and not config["membership"]:
            return False
        nick = fold(msg.nick)
        if nick == fold(self.own_nick(msg.network) or "") and msg.kind in MEMBERSHIP:
            return False  # our own joins on reconnect are no news to the other side
        if nick in {fold(str(n)) for n in config["other_bots"]}:
            return False
        if not self.context.privacy(msg.network).repeatable(msg.nick, msg.kind, msg.text):
            return False  # a redacted nick's words are not published through another channel
        return not (config["ignore_relayed"] and RELAYED.match(msg.text))

    def own_nick(self, network: str) -> str | None:
        networks = self.context.component(Networks)
        status = networks.status().get(network) if networks else None
        return status.nick if status else None

    def ready(self, network: str, channel: str) -> bool:
        """Registered on network and in channel; without a Networks component, assume so."""
        networks = self.context.component(Networks)
        if networks is None:
            return True
        status = networks.status().get(network)
        return bool(status and status.connected and fold(channel) in map(fold, status.channels))

    async def send(self, network: str, channel: str, text: str) -> None:
        # Held per channel: one channel the bot cannot join must not hold back the
        # others of its network.
        key = (network, fold(channel))
        if self.held.get(key) or not self.ready(network, channel):
            self.hold(key, channel, text)
            return
        await self.say(network, channel, text)

    def hold(self, key: Endpoint, channel: str, text: str) -> None:
        held = self.held.get(key)
        if held is None:
            if self.limit == 0:
                log.warning("relay: %s/%s is not ready; dropped a line", key[0], channel)
                return
            log.warning("relay: %s/%s is not ready; holding lines for it", key[0], channel)
            held = self.held[key] = deque()
        elif len(held) >= self.limit:
            log.warning("relay: %s/%s still not ready; dropped its oldest held line", *key)
            held.popleft()
        held.append((channel, text))

    async def deliver_held(self) -> None:
        for key, held in list(self.held.items()):
            while held and self.ready(key[0], held[0][0]):
                channel, text = held.popleft()
                await self.say(key[0], channel, text)
            if not held:
                del self.held[key]
                log.info("relay: %s/%s is ready again; held lines delivered", *key)

    async def say(self, network: str, channel: str, text: str) -> None:
        try:
            await self.context.say(network, channel, text)
        except Exception:
            log.exception("relay: could not send to %s/%s", network, channel)

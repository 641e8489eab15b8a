"""The client side of one IRC session as a state machine, sans I/O.

Feed it parsed lines (``receive``), take the lines it wants sent (``take_output``) and
the events it saw. CAP LS 302, SASL PLAIN, ISUPPORT, nick collisions, membership
tracking (for quit/nick logging) and CTCP VERSION/PING all live here, so they are tested
with lines in and lines out; the asyncio layer (connection.py) only moves bytes and keeps
the clock.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from irc import ctcp
from irc.client import NickMask

from .config import NetworkConfig
from .protocol import MAX_LINE_BYTES, Message, fold, is_channel, parse, server_time, split_text

VERSION = "appliance infobot 0.1"
WANTED_CAPS = {
    "server-time",
    "message-tags",
    "multi-prefix",
    "account-tag",
    "echo-message",
    # REDACT: a message deleted on the server is deleted from the log too.
    "draft/message-redaction",
}
# Servers announce the host they show us as; until we saw it, assume the longest one.
MAX_HOST_LEN = 63


@dataclass(frozen=True)
class Event:
    """Something seen in a channel or a private message, as plugins and the log see it."""

    kind: str  # message, action, notice, join, part, quit, nick, topic, kick, mode, redact
    nick: str
    mask: str
    target: str  # the channel, or our nick for a private message
    text: str
    time: datetime
    channels: tuple[str, ...] = ()
    account: str | None = None
    msgid: str | None = None
    own: bool = False
    victim: str | None = None

    @property
    def channel(self) -> str | None:
        return self.target if is_channel(self.target) else None


@dataclass
class Outgoing:
    line: str
    # Protocol upkeep (PONG, CAP, NICK) skips the flood queue; chatter goes through it.
    urgent: bool = False


@dataclass
class Session:
    config: NetworkConfig
    nick: str = ""
    registered: bool = False
    ready: bool = False
    caps: set[str] = field(default_factory=set)
    last_error: str | None = None
    mask: NickMask | None = None
    output: list[Outgoing] = field(default_factory=list)
    _offered: dict[str, str] = field(default_factory=dict)
    _prefixes: str = "@+"
    _bot_mode: str | None = None
    _user_modes: str = ""
    _members: dict[str, dict[str, str]] = field(default_factory=dict)
    _channel_names: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        self.nick = self.config.nick
        self._send("CAP LS 302")
        self._send(f"NICK {self.nick}")
        self._send(f"USER {self.config.username} 0 * :{self.config.realname}")

    def take_output(self) -> list[Outgoing]:
        out, self.output = self.output, []
        return out

    def receive(self, msg: Message) -> list[Event]:
        handler: Callable[[Message], list[Event] | None] | None = getattr(
            self, f"_on_{msg.command.lower()}", None
        )
        return (handler(msg) or []) if handler else []

    # -- outgoing -----------------------------------------------------------------

    def _send(self, line: str) -> None:
        self.output.append(Outgoing(line, urgent=True))

    def _queue(self, line: str) -> None:
        self.output.append(Outgoing(line))

    def say(self, target: str, text: str, command: str = "PRIVMSG") -> None:
        for piece in split_text(text, self.text_budget(command, target)):
            self._queue(f"{command} {target} :{piece}")

    def text_budget(self, command: str, target: str) -> int:
        """Count the bytes left for text once the server prefixes ":nick!user@host " to our line."""
        if self.mask and self.mask.userhost:
            prefix = len(self.mask.encode()) + 2
        else:
            prefix = len(f":{self.nick}!~{self.config.username}@ ".encode()) + MAX_HOST_LEN
        return MAX_LINE_BYTES - 2 - prefix - len(f"{command} {target} :".encode())

    def join_all(self) -> None:
        for channel in self.config.channels:
            self.join(channel.name, channel.key)

    def join(self, channel: str, key: str | None = None) -> None:
        self._queue(f"JOIN {channel} {key}" if key else f"JOIN {channel}")

    def part(self, channel: str) -> None:
        self._queue(f"PART {channel}")

    def own_event(self, line: str) -> Event | None:
        """Make the event for a PRIVMSG/NOTICE we just wrote, unless echo-message returns it."""
        msg = parse(line)
        if msg is None or msg.command not in ("PRIVMSG", "NOTICE") or "echo-message" in self.caps:
            return None
        mask = self.mask or NickMask(f"{self.nick}!{self.config.username}@")
        msg = Message(msg.command, msg.params, mask, {})
        return next(iter(self._text_events(msg, own=True)), None)

    # -- capability negotiation and SASL -----------------------------------------

    def _on_cap(self, msg: Message) -> None:
        sub = msg.param(1).upper()
        if sub == "LS":
            self._cap_ls(msg)
        elif sub == "ACK":
            self.caps.update(msg.params[-1].split())
            if "sasl" in self.caps and not self.registered:
                self._send("AUTHENTICATE PLAIN")
            else:
                self._cap_end()
        elif sub == "NAK":
            self._cap_end()
        elif sub == "DEL":
            self.caps.difference_update(msg.params[-1].split())

    def _cap_ls(self, msg: Message) -> None:
        for item in msg.params[-1].split():
            name, _, value = item.partition("=")
            self._offered[name] = value
        if msg.param(2) == "*":  # 302 multiline: more LS lines follow
            return
        wanted = WANTED_CAPS & self._offered.keys()
        if self._wants_sasl():
            wanted.add("sasl")
        if wanted and not self.registered:
            self._send(f"CAP REQ :{' '.join(sorted(wanted))}")
        else:
            self._cap_end()

    def _wants_sasl(self) -> bool:
        if not (self.config.sasl_account and self.config.sasl_password):
            return False
        if not self.config.tls:
            self.last_error = "SASL is configured but refused: the link is not TLS"
            return False
        mechanisms = self._offered.get("sasl", None)
        return mechanisms is not None and (not mechanisms or "PLAIN" in mechanisms.split(","))

    def _cap_end(self) -> None:
        if not self.registered:
            self._send("CAP END")

    def _on_authenticate(self, msg: Message) -> None:
        if msg.param(0) != "+":
            return
        account, password = self.config.sasl_account or "", self.config.sasl_password or ""
        payload = base64.b64encode(f"{account}\0{account}\0{password}".encode()).decode()
        # IRCv3 SASL: 400-byte chunks, and a lone "+" if the last chunk was exactly 400.
        chunks = [payload[i : i + 400] for i in range(0, len(payload), 400)]
        if len(chunks[-1]) == 400:
            chunks.append("+")
        for chunk in chunks:
            self._send(f"AUTHENTICATE {chunk}")

    def _on_903(self, msg: Message) -> None:
        self._cap_end()

    def _sasl_failed(self, msg: Message) -> None:
        self.last_error = f"SASL failed: {msg.params[-1] if msg.params else msg.command}"
        self._cap_end()

    _on_902 = _on_904 = _on_905 = _on_906 = _on_907 = _on_908 = _sasl_failed

    # -- registration -------------------------------------------------------------

    def _on_001(self, msg: Message) -> None:
        self.registered = True
        self.nick = msg.param(0, self.nick)

    def _on_004(self, msg: Message) -> None:
        self._user_modes = msg.param(3)

    def _on_005(self, msg: Message) -> None:
        for token in msg.params[1:-1]:
            name, _, value = token.partition("=")
            if name == "PREFIX" and ")" in value:
                self._prefixes = value.split(")", 1)[1]
            elif name == "BOT" and value:
                self._bot_mode = value

    def _on_376(self, msg: Message) -> None:
        """End of MOTD: the registration burst is over, so ISUPPORT is complete."""
        if self.ready:
            return
        self.ready = True
        mode = self._bot_mode or ("B" if "B" in self._user_modes else None)
        if mode:
            self._send(f"MODE {self.nick} +{mode}")
        self.join_all()

    _on_422 = _on_376

    def _on_433(self, msg: Message) -> None:
        if not self.registered:
            self.nick = f"{msg.param(1, self.nick)}_"
            self._send(f"NICK {self.nick}")

    def _on_ping(self, msg: Message) -> None:
        self._send(f"PONG :{msg.param(0)}")

    def _on_error(self, msg: Message) -> None:
        self.last_error = msg.param(0, "ERROR")

    # -- membership ---------------------------------------------------------------

    def channels(self) -> list[str]:
        return sorted(self._channel_names.values())

    def _is_me(self, nick: str | None) -> bool:
        return nick is not None and fold(nick) == fold(self.nick)

    def _channels_of(self, nick: str) -> tuple[str, ...]:
        key = fold(nick)
        return tuple(self._channel_names[c] for c, who in self._members.items() if key in who)

    def _on_353(self, msg: Message) -> None:
        members = self._members.get(fold(msg.param(2)))
        if members is None:
            return  # a NAMES reply for a channel we are not in
        for entry in msg.params[-1].split():
            nick = entry.lstrip(self._prefixes)
            members[fold(nick)] = nick

    def _event(self, msg: Message, kind: str, target: str, text: str, **extra: Any) -> Event:
        return Event(
            kind=kind,
            nick=msg.nick or "",
            mask=str(msg.source or ""),
            target=target,
            text=text,
            time=server_time(msg.tags),
            channels=extra.pop("channels", (target,) if is_channel(target) else ()),
            account=msg.tags.get("account"),
            msgid=msg.tags.get("msgid"),
            **extra,
        )

    def _on_join(self, msg: Message) -> list[Event]:
        channel = msg.param(0)
        if self._is_me(msg.nick):
            self.mask = msg.source
            self._channel_names[fold(channel)] = channel
            self._members[fold(channel)] = {}
            self._announce_logging(channel)
        if fold(channel) in self._members:
            self._members[fold(channel)][fold(msg.nick or "")] = msg.nick or ""
        return [self._event(msg, "join", channel, "")]

    def _announce_logging(self, channel: str) -> None:
        configured = self.config.channel(channel)
        if configured is not None and configured.entry_notice.strip():
            self.say(channel, configured.entry_notice.strip(), "NOTICE")

    def _leave(self, channel: str, nick: str) -> None:
        if self._is_me(nick):
            self._members.pop(fold(channel), None)
            self._channel_names.pop(fold(channel), None)
        else:
            self._members.get(fold(channel), {}).pop(fold(nick), None)

    def _on_part(self, msg: Message) -> list[Event]:
        channel = msg.param(0)
        self._leave(channel, msg.nick or "")
        return [self._event(msg, "part", channel, msg.param(1))]

    def _on_kick(self, msg: Message) -> list[Event]:
        channel, victim = msg.param(0), msg.param(1)
        self._leave(channel, victim)
        return [self._event(msg, "kick", channel, f"{victim} {msg.param(2)}", victim=victim)]

    def _on_quit(self, msg: Message) -> list[Event]:
        nick = msg.nick or ""
        channels = self._channels_of(nick)
        for channel in channels:
            self._leave(channel, nick)
        return [self._event(msg, "quit", "", msg.param(0), channels=channels)]

    def _on_nick(self, msg: Message) -> list[Event]:
        old, new = msg.nick or "", msg.param(0)
        channels = self._channels_of(old)
        for channel in channels:
            members = self._members[fold(channel)]
            members.pop(fold(old), None)
            members[fold(new)] = new
        if self._is_me(old):
            self.nick = new
            self.mask = NickMask(f"{new}!{self.mask.userhost}") if self.mask else None
        return [self._event(msg, "nick", "", new, channels=channels)]

    def _on_topic(self, msg: Message) -> list[Event]:
        return [self._event(msg, "topic", msg.param(0), msg.param(1))]

    def _on_mode(self, msg: Message) -> list[Event]:
        if not is_channel(msg.param(0)):
            return []
        return [self._event(msg, "mode", msg.param(0), " ".join(msg.params[1:]))]

    def _on_redact(self, msg: Message) -> list[Event]:
        """IRCv3 draft/message-redaction: ``REDACT <target> <msgid> [:reason]``."""
        target, msgid = msg.param(0), msg.param(1)
        if not is_channel(target) or not msgid:
            return []
        event = self._event(msg, "redact", target, msg.param(2))
        return [replace(event, msgid=msgid)]

    # -- messages and CTCP --------------------------------------------------------

    def _on_privmsg(self, msg: Message) -> list[Event]:
        own = self._is_me(msg.nick) and "echo-message" in self.caps
        return self._text_events(msg, own=own)

    _on_notice = _on_privmsg

    def _text_events(self, msg: Message, own: bool) -> list[Event]:
        target, text = msg.param(0), msg.param(1)
        if not msg.source or "!" not in msg.source:
            return []  # server notices are neither logged nor dispatched
        events = []
        for part in ctcp.dequote(text) if text.startswith(ctcp.DELIMITER) else [text]:
            if isinstance(part, str):
                kind = "notice" if msg.command == "NOTICE" else "message"
                events.append(self._event(msg, kind, target, part, own=own))
            elif part[0] == "ACTION":
                events.append(self._event(msg, "action", target, part[-1], own=own))
            elif msg.command == "PRIVMSG" and not own:
                self._ctcp_reply(msg.nick or "", part)
        return events

    def _ctcp_reply(self, nick: str, request: tuple[str, ...]) -> None:
        replies = {"VERSION": VERSION, "PING": request[-1] if len(request) > 1 else ""}
        if request[0] in replies:
            self._queue(f"NOTICE {nick} :\x01{request[0]} {replies[request[0]]}\x01")

"""One network's link: asyncio streams around the sans-I/O Session.

Why not ``irc.client_aio``: its AioConnection has no scheduler usable on the loop, a
throttle that sleeps (blocking the loop), strict decoding on the asyncio path and no
SASL, and it hides the registration burst we need for CAP LS 302. Working around all of
that took more code than this module, so the link is a plain ``asyncio.open_connection``
and ``irc`` contributes what it does well: message, tag, nickmask and CTCP parsing
(used in protocol.py and session.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import DEFAULT_TIMING, NetworkConfig, Timing
from .protocol import decode, fold, parse
from .scheduler import Scheduler
from .session import Event, Session
from .throttle import TokenBucket

log = logging.getLogger(__name__)
READ_LIMIT = 16384  # 8191 bytes of tags + 512 of message, with room to spare
PING_TOKEN = "infobot-watchdog"
OnEvent = Callable[[str, Event], None]


class LinkDead(ConnectionError):
    """The server stopped answering PINGs."""


@dataclass(frozen=True)
class NetworkStatus:
    name: str
    connected: bool
    nick: str | None
    last_error: str | None
    lag: float | None
    channels: list[str] = field(default_factory=list)


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential, capped, with "equal jitter" so many bots do not reconnect in step."""
    ceiling = min(cap, base * 2**attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class Connection:
    def __init__(
        self,
        config: NetworkConfig,
        on_event: OnEvent,
        timing: Timing = DEFAULT_TIMING,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self.on_event = on_event
        self.timing = timing
        self.ssl_context = ssl_context
        self.session = Session(config)
        self.queue: deque[str] = deque()  # survives reconnects: nothing said is dropped
        self.bucket = TokenBucket(timing.burst, timing.rate)
        self.scheduler = Scheduler(f"network {config.name}")
        self.last_error: str | None = None
        self.lag: float | None = None
        self.connected = False
        self._wake = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._probe_at: float | None = None
        self._ping_at: float | None = None

    @property
    def name(self) -> str:
        return self.config.name

    def status(self) -> NetworkStatus:
        up = self.connected and self.session.registered
        return NetworkStatus(
            self.name,
            up,
            self.session.nick if up else None,
            self.session.last_error or self.last_error,
            self.lag,
            self.session.channels() if up else [],
        )

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"irc-{self.name}")

    async def stop(self, message: str = "shutting down") -> None:
        self._stopping = True
        self.scheduler.cancel_all()
        if self._writer is not None and self.connected:
            self._write(f"QUIT :{message}")
            # The server acknowledges QUIT by closing the link; give it a moment.
            await asyncio.wait({self._task}, timeout=2.0)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            self.session = Session(self.config)
            try:
                await self._session_once()
            except (OSError, EOFError, TimeoutError, ssl.SSLError) as exc:
                if self._stopping:
                    break
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("%s: link lost: %s", self.name, self.last_error)
            except Exception as exc:
                # A bug of ours must cost one session, not the network for good.
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("%s: session failed", self.name)
            if self.session.registered:
                attempt = 0
            if self._stopping:
                break
            await asyncio.sleep(
                backoff(attempt, self.timing.reconnect_base, self.timing.reconnect_cap)
            )
            attempt += 1

    async def _session_once(self) -> None:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                self.config.host,
                self.config.port,
                ssl=(self.ssl_context or ssl.create_default_context()) if self.config.tls else None,
                limit=READ_LIMIT,
            ),
            timeout=30,
        )
        self._writer, self.connected = writer, True
        self._probe_at = self._ping_at = None
        sender = asyncio.create_task(self._drain(writer))
        try:
            self.session.start()
            self._flush_session()
            await self._read_loop(reader)
        finally:
            self.connected, self._writer = False, None
            sender.cancel()
            writer.close()

    # -- reading ------------------------------------------------------------------

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        while True:
            idle = self.timing.ping_timeout if self._probe_at else self.timing.ping_interval
            try:
                raw = await asyncio.wait_for(reader.readline(), idle)
            except TimeoutError:
                if self._probe_at is not None:
                    raise LinkDead(f"no reply to PING within {idle:.0f}s") from None
                self._probe_at = self._ping_at = loop.time()
                self._write(f"PING :{PING_TOKEN}")
                continue
            except ValueError:
                continue  # an over-long line was discarded by the reader; carry on
            if not raw:
                raise EOFError(self.session.last_error or "server closed the connection")
            self._probe_at = None
            self._receive(raw)

    def _receive(self, raw: bytes) -> None:
        try:
            msg = parse(decode(raw.rstrip(b"\r\n")))
            if msg is None:
                return
            if msg.command == "PONG" and self._ping_at is not None:
                self.lag, self._ping_at = asyncio.get_running_loop().time() - self._ping_at, None
            events = self.session.receive(msg)
            self._flush_session()
        except Exception:
            log.exception("%s: could not handle line %r", self.name, raw)
            return
        for event in events:
            self._after(event)

    def _after(self, event: Event) -> None:
        if event.kind == "kick" and fold(event.victim or "") == fold(self.session.nick):
            self.scheduler.later(self.timing.rejoin_delay, lambda: self._rejoin(event.target))
        try:
            self.on_event(self.name, event)
        except Exception:
            log.exception("%s: event handler failed", self.name)

    async def _rejoin(self, channel: str) -> None:
        configured = self.config.channel(channel)
        if configured is not None and self.session.registered:
            self.session.join(configured.name, configured.key)
            self._flush_session()

    # -- writing ------------------------------------------------------------------

    def _flush_session(self) -> None:
        for out in self.session.take_output():
            if out.urgent:
                self._write(out.line)
            else:
                self.queue.append(out.line)
                self._wake.set()

    def say(self, target: str, text: str, command: str = "PRIVMSG") -> None:
        self.session.say(target, text, command)
        self._flush_session()

    async def _drain(self, writer: asyncio.StreamWriter) -> None:
        """Send queued lines through the token bucket without ever blocking the loop."""
        loop = asyncio.get_running_loop()
        while True:
            while not (self.queue and self.session.registered):
                self._wake.clear()
                await self._wake.wait()
            delay = self.bucket.delay(loop.time())
            if delay > 0:
                await asyncio.sleep(delay)
            if self.queue:
                self._write(self.queue.popleft())
            try:
                await writer.drain()
            except ConnectionError:
                return  # the read loop notices the dead link and reconnects

    def _write(self, line: str) -> None:
        if self._writer is None:
            return
        self._writer.write(line.encode("utf-8") + b"\r\n")
        own = self.session.own_event(line)
        if own is not None:
            self._after(own)

    # -- reconfiguration -----------------------------------------------------------

    def update(self, config: NetworkConfig) -> None:
        """Adopt new channel settings: JOIN what was added, PART what was removed."""
        old = {fold(c.name) for c in self.config.channels}
        new = {fold(c.name) for c in config.channels}
        self.config = config
        self.session.config = config
        for channel in config.channels:
            if fold(channel.name) not in old and self.session.registered:
                self.session.join(channel.name, channel.key)
        for channel in self.session.channels():
            if fold(channel) in old - new:
                self.session.part(channel)
        self._flush_session()

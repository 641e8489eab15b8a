"""The asyncio UDP and TCP listeners: they move bytes between sockets and the resolver chain.

The chain (chain.py) answers synchronously (bytes or None) on the fast path, or returns an
awaitable that the server awaits in a task, which is how TCP answers can complete out of order
(RFC 7766 6.2.1.1). Zone transfers go to transfer.py, which needs the client's address.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from . import authority, transfer, wire
from .chain import ResolverChain, Result

log = logging.getLogger(__name__)

UDP_BATCH = 64  # datagrams read per wakeup: fewer trips through the event loop under load
MAX_UDP = 65535
BIND_ATTEMPTS = 20
UDP_RECEIVE_BUFFER = 4 << 20


class QueryListener(Protocol):
    """Told of answered queries, for the query log. It runs on the packet path, so it gets the
    raw query and leaves reading the question to whoever keeps the entry (wire.question_text).
    """

    def __call__(
        self, client: str, query: bytes, rcode: int, source: str, latency: float, transport: str
    ) -> None: ...


class SignedHandler(Protocol):
    """Answers UPDATEs and TSIG-signed messages (dnsadmin.updates.SignedMessages)."""

    def claims(self, query: bytes) -> bool: ...

    def respond(self, query: bytes, client: str, tcp: bool) -> Awaitable[list[bytes]]: ...


@dataclass
class ServerStats:
    """Answers counted by source and rcode, and by transport; what was dropped."""

    answered: Counter[tuple[str, int]] = field(default_factory=Counter)  # (source, rcode)
    by_transport: Counter[str] = field(default_factory=Counter)
    dropped: int = 0  # responses the kernel would not take, and TCP connections over the cap
    tcp_connections: int = 0

    @property
    def by_rcode(self) -> Counter[int]:
        """Return the answers counted by rcode alone."""
        counts: Counter[int] = Counter()
        for (_, rcode), count in self.answered.items():
            counts[rcode] += count
        return counts


class DNSServer:
    """The UDP and TCP listeners in front of a resolver chain.

    on_query hears of at most log_per_second answered queries a second (all of them are
    counted in stats), so that a flood costs the query log nothing.
    """

    def __init__(
        self,
        chain: ResolverChain,
        *,
        tcp_idle_timeout: float = 10.0,
        max_tcp_connections: int = 200,
        on_query: QueryListener | None = None,
        log_per_second: int = 1000,
        messages: SignedHandler | None = None,
    ) -> None:
        self.chain = chain
        self.messages = messages  # UPDATEs and TSIG-signed messages, off the fast path
        self.tcp_idle_timeout = tcp_idle_timeout
        self.max_tcp_connections = max_tcp_connections
        self.on_query = on_query
        self.log_per_second = log_per_second if on_query is not None else 0
        self.log_budget = self.log_per_second  # what on_query may still hear this second
        self.stats = ServerStats()
        self.port = 0
        self.sockets: list[socket.socket] = []
        self._udp: list[socket.socket] = []
        self._tcp_servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task] = set()  # answers still being resolved
        self._connections: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, addresses: list[str], port: int, *, reuse_port: bool = False) -> None:
        """Listen on UDP and TCP on every address; port 0 picks one free port for all."""
        self._loop = asyncio.get_running_loop()
        if self.log_per_second:
            self._refill_log_budget()
        for address in addresses:
            udp, tcp = _bind_pair(address, port, reuse_port)
            port = udp.getsockname()[1]
            self._udp.append(udp)
            self.sockets += [udp, tcp]
            self._loop.add_reader(udp.fileno(), self._on_udp_readable, udp)
            server = await asyncio.start_server(self._on_tcp, sock=tcp)
            self._tcp_servers.append(server)
        self.port = port

    def _refill_log_budget(self) -> None:
        self.log_budget = self.log_per_second
        self._refill = self._loop.call_later(1.0, self._refill_log_budget)

    async def stop(self) -> None:
        """Stop listening, let answers in flight finish, then close every connection."""
        if self.log_per_second:
            self._refill.cancel()
        for udp in self._udp:
            self._loop.remove_reader(udp.fileno())
            udp.close()
        for server in self._tcp_servers:
            server.close()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.tcp_idle_timeout)
        pending = self._tasks | self._connections
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for server in self._tcp_servers:
            await server.wait_closed()
        self._udp.clear()
        self._tcp_servers.clear()

    def _answer(self, query: bytes, tcp: bool, client: str) -> tuple[Result, str]:
        try:
            return self.chain.resolve(query, tcp=tcp, client=client)
        except Exception:
            # A resolver bug must cost one answer, never the listener.
            log.exception("resolver chain failed")
            return authority.failure(query, wire.SERVFAIL, tcp=tcp), "error"

    async def _settle(self, query: bytes, pending: Awaitable[bytes | None], tcp: bool):
        try:
            return await pending
        except Exception:
            log.exception("resolver failed")
            return authority.failure(query, wire.SERVFAIL, tcp=tcp)

    # UDP

    def _on_udp_readable(self, sock: socket.socket) -> None:
        at_once = self.chain.at_once
        for _ in range(UDP_BATCH):
            try:
                query, client = sock.recvfrom(MAX_UDP)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # e.g. an ICMP error reported on the socket
            started = time.perf_counter() if self.log_budget else 0.0
            try:
                kept = at_once(query, client[0])
            except Exception:
                log.exception("answering from kept answers failed")  # the full path still works
                kept = None
            if kept is not None:
                self._send_udp(sock, kept[0], client)
                self._account(query, kept[0], client, "udp", kept[1], started)
                continue
            if self.messages is not None and self.messages.claims(query):
                pending = self._first(self.messages.respond(query, client[0], False))
                self._spawn(self._finish_udp(sock, query, client, pending, "authority", started))
                continue
            result, source = self._answer(query, False, client[0])
            if isinstance(result, bytes):
                self._send_udp(sock, result, client)
                self._account(query, result, client, "udp", source, started)
            elif result is not None:
                self._spawn(self._finish_udp(sock, query, client, result, source, started))

    def _send_udp(self, sock: socket.socket, response: bytes, client) -> None:
        try:
            sock.sendto(response, client)
        except OSError:
            self.stats.dropped += 1  # a full send buffer: UDP may drop, the client retries

    async def _finish_udp(self, sock, query, client, pending, source, started) -> None:
        response = await self._settle(query, pending, False)
        if response is not None and sock.fileno() >= 0:
            self._send_udp(sock, response, client)
            self._account(query, response, client, "udp", source, started)

    # TCP (RFC 7766)

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.stats.tcp_connections >= self.max_tcp_connections:
            self.stats.dropped += 1
            writer.close()
            return
        self.stats.tcp_connections += 1
        task = asyncio.current_task()
        self._connections.add(task)
        try:
            await self._serve_connection(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away or idled out: nothing to answer
        except Exception:
            log.exception("TCP connection from %s failed", writer.get_extra_info("peername"))
        finally:
            self.stats.tcp_connections -= 1
            self._connections.discard(task)
            writer.close()

    async def _serve_connection(self, reader, writer: asyncio.StreamWriter) -> None:
        client = writer.get_extra_info("peername")
        while True:
            async with asyncio.timeout(self.tcp_idle_timeout):
                length = int.from_bytes(await reader.readexactly(2), "big")
                query = await reader.readexactly(length)
            if self.messages is not None and self.messages.claims(query):
                for message in await self.messages.respond(query, client[0], True):
                    await self._send_tcp(writer, message)
                continue
            if wire.question_type(query) in transfer.TRANSFER_TYPES:
                await self._send_transfer(query, client, writer)
                continue
            started = time.perf_counter() if self.log_budget else 0.0
            result, source = self._answer(query, True, client[0])
            if isinstance(result, bytes):
                await self._send_tcp(writer, result)
                self._account(query, result, client, "tcp", source, started)
            elif result is not None:
                # Pipelining: later queries are read and answered while this one resolves.
                self._spawn(self._finish_tcp(writer, query, client, result, source, started))

    async def _send_tcp(self, writer: asyncio.StreamWriter, response: bytes) -> None:
        writer.write(len(response).to_bytes(2, "big") + response)
        await writer.drain()

    async def _finish_tcp(self, writer, query, client, pending, source, started) -> None:
        response = await self._settle(query, pending, True)
        if response is not None and not writer.is_closing():
            await self._send_tcp(writer, response)
            self._account(query, response, client, "tcp", source, started)

    async def _send_transfer(self, query: bytes, client, writer: asyncio.StreamWriter) -> None:
        started = time.perf_counter() if self.log_budget else 0.0
        last = None
        for message in transfer.transfer(query, self.chain.catalog, client[0]):
            await self._send_tcp(writer, message)
            last = message
        if last is not None:
            self._account(query, last, client, "tcp", "authority", started)

    @staticmethod
    async def _first(responses: Awaitable[list[bytes]]) -> bytes | None:
        return next(iter(await responses), None)

    # bookkeeping

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _account(self, query, response, client, transport, source, started) -> None:
        rcode = response[3] & 0xF
        stats = self.stats
        stats.answered[source, rcode] += 1
        stats.by_transport[transport] += 1
        if not self.log_budget or not started:
            return  # over this second's budget, or it was when the query came in
        self.log_budget -= 1
        try:
            latency = time.perf_counter() - started
            self.on_query(client[0], query, rcode, source, latency, transport)
        except Exception:
            log.exception("on_query callback failed")


def _bind_pair(address: str, port: int, reuse_port: bool) -> tuple[socket.socket, socket.socket]:
    """Return a UDP and a TCP socket on one address and port (a free one when port is 0)."""
    for _ in range(BIND_ATTEMPTS if port == 0 else 1):
        udp = _socket(address, port, socket.SOCK_DGRAM, reuse_port)
        try:
            tcp = _socket(address, udp.getsockname()[1], socket.SOCK_STREAM, reuse_port)
        except OSError:
            udp.close()
            if port:
                raise
            continue  # the UDP port is taken for TCP: draw another
        return udp, tcp
    raise OSError(f"no port free for both UDP and TCP on {address}")


def _socket(address: str, port: int, kind: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, kind)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        else:
            # Bursts queue in the kernel while Python works; the kernel caps this at rmem_max.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setblocking(False)
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    return sock

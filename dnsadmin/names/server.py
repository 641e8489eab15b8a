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
from collections import Counter, deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from . import authority, batchio, drive, rrl, transfer, wire
from .chain import ResolverChain, Result
from .cookies import MALFORMED, Cookie, Cookies
from .rrl import RateLimiter, Verdict

log = logging.getLogger(__name__)

UDP_BATCH = 1024  # datagrams read per wakeup at most: the socket is drained before other work
# UDP queries the kept answers could not answer wait in a backlog for the full resolver path,
# worked on for BACKLOG_SLICE seconds between two reads of the sockets. Resolutions (upstream
# work) then start at most STARTS_PER_TURN at a time, at most MAX_RESOLVING under way: each
# costs the event loop work when its replies come in, and unbounded that work would starve
# the reading of the sockets, where the kept answers are. Both are taken in the order they came
# while the oldest has waited less than FIRST_COME seconds: a client waits on each, and under a
# steady load (a client keeping so many questions in flight) none may starve behind newer ones.
# Under overload the newest are served first (the oldest are the likeliest to have been given
# up on, or retried): past UDP_BACKLOG queries or WAITING resolutions, or MAX_WAIT seconds of
# waiting, the oldest are shed.
UDP_BACKLOG = 4096
FIRST_COME = 0.5
BACKLOG_SLICE = 0.001
# A resolution finished this long after the sockets were last read reads them again at once:
# under a storm of questions that need upstream work, the event loop's turns fill up with
# replies coming in, and the kept answers waiting in the socket must not queue behind them.
READ_EVERY = 0.001
# 32, not 4 or 16: the upstream queries and the answers of a turn go out together, and four
# a turn cost a cache miss 10-15 us more CPU in turns and wakeups (bench/cache/misses.py), 16
# a few more than 32, while the kept answers still go out between two turns of 32 under a
# storm (bench/storm/run.py: the probe answered in full beside the forwarded storm).
STARTS_PER_TURN = 32
MAX_RESOLVING = 200
WAITING = 1024
MAX_WAIT = 1.0
MAX_UDP = 65535
BIND_ATTEMPTS = 20
UDP_RECEIVE_BUFFER = 4 << 20
OPT_LAST = b"\x00\x00\x29"  # a root owner and TYPE OPT, 11 bytes before an option-less end


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
    tcp_evicted: int = 0  # connections closed to make room for a new client
    rate_limited: Counter[str] = field(default_factory=Counter)  # "dropped", "slipped" (RRL)
    shed: int = 0  # UDP queries dropped unanswered from a full backlog, the oldest first
    transfers: Counter[int] = field(default_factory=Counter)  # served whole, by AXFR/IXFR

    @property
    def by_rcode(self) -> Counter[int]:
        """Return the answers counted by rcode alone."""
        counts: Counter[int] = Counter()
        for (_, rcode), count in self.answered.items():
            counts[rcode] += count
        return counts


@dataclass(eq=False, slots=True)
class _Connection:
    """One TCP client: when it last moved (a query read, a reply taken), and its answers."""

    writer: asyncio.StreamWriter
    active: float  # event loop time
    resolving: int = 0  # answers being resolved: the connection waits on us, not the client
    replies: set[asyncio.Task] = field(default_factory=set)  # answers not yet sent


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
        tcp_write_timeout: float = 10.0,
        max_tcp_connections: int = 200,
        on_query: QueryListener | None = None,
        log_per_second: int = 1000,
        messages: SignedHandler | None = None,
        rate_limiter: RateLimiter | None = None,
        cookies: Cookies | None = None,
        udp_backlog: int = UDP_BACKLOG,
        max_resolving: int = MAX_RESOLVING,
    ) -> None:
        self.chain = chain
        self.rrl = rate_limiter  # UDP answers to clients without a valid server cookie
        self.cookies = cookies
        # (batchio.Batches, query, client, cookie, started) waiting for the full path, oldest first
        self._backlog: deque[tuple] = deque(maxlen=udp_backlog)
        self._turn: asyncio.Handle | None = None  # the next round of backlog work
        self._in_turn = False  # (see _take_turn)
        self._read_at = 0.0  # when the UDP sockets were last read (perf_counter)
        self.max_resolving = max_resolving
        self._resolving = 0  # UDP resolutions under way
        self._waiting: deque[tuple] = deque(maxlen=WAITING)  # resolutions not yet started
        # The answers of the full path to send at the end of this turn, by listener.
        self._replies: dict[batchio.Batches, list[tuple[bytes, tuple]]] = {}
        self.messages = messages  # UPDATEs and TSIG-signed messages, off the fast path
        self.tcp_idle_timeout = tcp_idle_timeout
        self.tcp_write_timeout = tcp_write_timeout  # for the client to take a reply
        self.max_tcp_connections = max_tcp_connections
        self.on_query = on_query
        self.log_per_second = log_per_second if on_query is not None else 0
        self.log_budget = self.log_per_second  # what on_query may still hear this second
        self.stats = ServerStats()
        self.port = 0
        self.sockets: list[socket.socket] = []
        self._udp: list[batchio.Batches] = []
        self._tcp_servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task] = set()  # answers still being resolved
        self._runs: set[drive.Run] = set()  # ... over UDP, from the backlog (_start_waiting)
        self._connections: dict[asyncio.Task, _Connection] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self, addresses: list[str], port: int, *, reuse_port: bool = False) -> None:
        """Listen on UDP and TCP on every address; port 0 picks one free port for all."""
        self._loop = asyncio.get_running_loop()
        if self.log_per_second:
            self._refill_log_budget()
        for address in addresses:
            udp, tcp = _bind_pair(address, port, reuse_port)
            port = udp.getsockname()[1]
            batches = batchio.wrap(udp, MAX_UDP)
            self._udp.append(batches)
            self.sockets += [udp, tcp]
            self._loop.add_reader(udp.fileno(), self._on_udp_readable, batches)
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
        if self._turn is not None:
            self._turn.cancel()
        self._backlog.clear()
        while self._waiting:
            _close(self._waiting.pop())
        self._send_replies()  # the full path's answers of this turn, while they can go out
        for udp in self._udp:
            self._loop.remove_reader(udp.fileno())
            udp.close()
        for server in self._tcp_servers:
            server.close()
        if self._tasks or self._runs:
            finishing = self._tasks | {run.finished() for run in self._runs}
            await asyncio.wait(finishing, timeout=self.tcp_idle_timeout)
        for run in list(self._runs):
            run.cancel()
        ending = {run.finished() for run in self._runs}  # (one awaiting a future: a turn on)
        pending = self._tasks | self._connections.keys()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, *ending, return_exceptions=True)
        for server in self._tcp_servers:
            await server.wait_closed()
        self._udp.clear()
        self._tcp_servers.clear()

    def _answer(self, query: bytes, tcp: bool, client: str) -> tuple[Result, str]:
        """Return the response to query and its source (a UDP query, its cookie taken out
        as it was read, goes to _resolve_query straight: see _take_turn)."""
        if tcp and self.cookies is not None and query[10:12] != b"\0\0":
            return self._answer_with_cookie(query, client)
        return self._resolve_query(query, tcp, client)

    def _resolve_query(
        self, query: bytes, tcp: bool, client: str, outside: int | None = None
    ) -> tuple[Result, str]:
        """Return the response to query and its source; outside: what at_once told of it."""
        try:
            return self.chain.resolve(query, tcp=tcp, client=client, outside=outside)
        except Exception:
            # A resolver bug must cost one answer, never the listener.
            log.exception("resolver chain failed")
            return authority.failure(query, wire.SERVFAIL, tcp=tcp), "error"

    def _answer_with_cookie(self, query: bytes, client: str) -> tuple[Result, str]:
        """Answer a TCP query without its cookie, then put our cookie in (UDP queries have
        theirs taken out as they are read); FORMERR for a malformed one, as from BIND."""
        taken = self.cookies.take(query, client)
        if taken is MALFORMED:
            return authority.failure(query, wire.FORMERR, tcp=True), "authority"
        query, cookie = taken
        result, source = self._resolve_query(query, True, client)
        if cookie is None or result is None:
            return result, source
        if isinstance(result, bytes):
            return self.cookies.add(result, cookie, tcp=True), source
        return self._cookie_later(result, cookie), source

    async def _cookie_later(self, pending: Awaitable[bytes | None], cookie: Cookie):
        response = await pending
        return None if response is None else self.cookies.add(response, cookie, tcp=True)

    async def _settle(self, query: bytes, pending: Awaitable[bytes | None], tcp: bool):
        try:
            return await pending
        except Exception:
            log.exception("resolver failed")
            return authority.failure(query, wire.SERVFAIL, tcp=tcp)

    # UDP

    def _on_udp_readable(self, udp: batchio.Batches) -> None:
        """Answer what the kept answers can at once; queue the rest for the full path.

        Reading never waits behind resolution: under a flood of questions that need work (a
        random-subdomain storm), the kept answers (our zones' and the cache's) keep their
        latency, and the work is done in slices between reads, the oldest shed past a bound.
        The socket is read a batch of datagrams per system call, and the kept answers of a
        batch go out together in one (batchio.py): on loopback the calls cost more than the
        work on a kept answer.
        """
        receive, size = udp.receive, udp.size
        read = 0
        while read < UDP_BATCH:
            # Every datagram of a batch was queued in the kernel by now: one clock reading
            # stands for their arrival (for the query log's latency and the backlog's staleness).
            started = self._read_at = time.perf_counter()
            batch = receive()
            if batch:
                self._answer_batch(udp, batch, started)
            read += len(batch)
            if len(batch) < size:
                break  # the socket is drained
        if self._backlog and self._turn is None and not self._in_turn:
            self._take_turn()

    def _answer_batch(self, udp: batchio.Batches, batch: list[tuple], started: float) -> None:
        """Answer a batch of datagrams from the kept answers, sent together; queue the rest.

        This runs for every datagram, so what it needs is bound to locals once a batch, and a
        kept answer to a client neither rate-limited nor with a cookie goes straight to the
        batch's replies.
        """
        at_once = self.chain.at_once
        backlog = self._backlog
        cookies = self.cookies
        direct = self.rrl is None  # kept answers need no RRL verdict
        answered = self.stats.answered
        replies: list[tuple[bytes, tuple]] = []  # (response, client) to send
        sources: list[str] = []  # of each reply, "" for a slipped one (not counted)
        logs: list[tuple] = []  # (index in replies, query, client, source) for on_query
        try:
            for query, client in batch:
                cookie = None
                if (
                    cookies is not None
                    and query[10:12] != b"\0\0"
                    # EDNS without options, last (dnsperf -D, most stubs): no cookie to take out,
                    # so no signature to keep it for either (what Cookies.take checks first).
                    and (query[-11:-8] != OPT_LAST or query[-2:] != b"\0\0")
                    and not self._signed(query)
                ):
                    taken = self._take_cookie(udp, query, client, started)
                    if taken is None:
                        continue
                    query, cookie = taken
                try:
                    kept = at_once(query, client[0])
                except Exception:
                    log.exception("answering from kept answers failed")  # the full path still works
                    kept = None
                if type(kept) is tuple:
                    response, source = kept
                    if not direct or cookie is not None:
                        response, source = self._release(response, client[0], cookie, source)
                        if response is None:
                            continue
                    replies.append((response, client))
                    sources.append(source)
                    if source:  # counted now, uncounted if the kernel does not take it
                        answered[source, response[3] & 0xF] += 1
                        if self.log_budget:
                            self.log_budget -= 1
                            logs.append((len(replies) - 1, query, client, source))
                    continue
                if self._signed(query):
                    pending = self._first(self.messages.respond(query, client[0], False))
                    self._spawn(self._finish_udp(udp, query, client, pending, "authority", started))
                    continue
                if len(backlog) == backlog.maxlen:
                    self.stats.shed += 1
                # kept: None, or what the chain found of a miss outside our zones (resolve()).
                backlog.append((udp, query, client, cookie, started, kept))
        finally:
            # Should a datagram raise, the answers worked out before it still go out (the
            # event loop logs the error, and the listener reads on).
            if replies:
                self._send_batch(udp, replies, sources, logs, started)

    def _send_batch(self, udp, replies: list, sources: list, logs: list, started) -> None:
        """Send the kept answers of a batch; those the kernel would not take (a full send
        buffer: UDP may drop, the client retries) count as dropped, not as answered or logged."""
        refused = udp.send(replies)
        stats = self.stats
        counted = len(sources) - sources.count("")
        for index in refused:
            stats.dropped += 1
            if sources[index]:
                counted -= 1
                key = sources[index], replies[index][0][3] & 0xF
                stats.answered[key] -= 1
                if not stats.answered[key]:
                    del stats.answered[key]  # counted in this batch only
        if counted:
            stats.by_transport["udp"] += counted
        for index, query, client, source in logs:
            if index not in refused:
                self._tell(query, replies[index][0], client, "udp", source, started)

    def _signed(self, query: bytes) -> bool:
        return self.messages is not None and self.messages.claims(query)

    def _take_cookie(self, udp, query: bytes, client, started) -> tuple[bytes, Cookie] | None:
        """Return the query without its COOKIE option and the cookie; None when the option
        was malformed, which is answered FORMERR here (as BIND, no cookie in it)."""
        taken = self.cookies.take(query, client[0])
        if taken is not MALFORMED:
            return taken
        error = authority.failure(query, wire.FORMERR)
        if error is not None:
            self._reply_udp(udp, query, error, client, None, "authority", started)
        return None

    def _on_turn(self) -> None:
        self._turn = None
        self._take_turn()

    def _take_turn(self) -> None:
        """Answer queued queries for a slice of time and start a few resolutions, then let the
        sockets be read again (another turn is due if work remains).

        Not within itself: a resolution started in a turn takes its first step at once, and
        one that ends there (an error, a question shared with another) reads the sockets
        (READ_EVERY), whose backlog waits for the next turn rather than nesting one here:
        under a storm, turns within turns would run as deep as the stack goes."""
        self._in_turn = True
        try:
            self._turn_slice()
        finally:
            self._in_turn = False

    def _turn_slice(self) -> None:
        backlog = self._backlog
        now = time.perf_counter()
        deadline, stale, late = now + BACKLOG_SLICE, now - MAX_WAIT, now - FIRST_COME
        while backlog and backlog[0][4] < stale:
            backlog.popleft()
            self.stats.shed += 1
        while backlog:
            job = backlog.popleft() if backlog[0][4] >= late else backlog.pop()
            udp, query, client, cookie, started, outside = job
            # (_answer's, for UDP: its cookie was taken out as it was read)
            result, source = self._resolve_query(query, False, client[0], outside)
            if isinstance(result, bytes):
                self._reply_udp(udp, query, result, client, cookie, source, started)
            elif result is not None:
                self._wait((udp, query, client, result, source, started, cookie))
            if time.perf_counter() >= deadline:
                break
        self._start_waiting(stale, late)
        startable = self._waiting and self._resolving < self.max_resolving
        if (backlog or startable) and self._turn is None:
            self._turn = self._loop.call_soon(self._on_turn)

    def _wait(self, job: tuple) -> None:
        waiting = self._waiting
        if len(waiting) == waiting.maxlen:
            self._shed(waiting.popleft())
        waiting.append(job)

    def _start_waiting(self, stale: float, late: float) -> None:
        """Start a few of the waiting resolutions, in the order they came unless the oldest
        arrived before late, else the newest first; shed those that arrived before stale
        (perf_counter times)."""
        waiting = self._waiting
        while waiting and waiting[0][5] < stale:
            self._shed(waiting.popleft())
        starts = STARTS_PER_TURN
        while waiting and starts and self._resolving < self.max_resolving:
            job = waiting.popleft() if waiting[0][5] >= late else waiting.pop()
            self._resolving += 1
            starts -= 1
            # A Run, not a Task: a Task costs twice as much (drive.py). It says itself
            # when it ends (_resolved).
            run = drive.Run(self._finish_udp(*job, resolving=True))
            self._runs.add(run)
            run.step()

    def _resolved(self) -> None:
        """Count the resolution of the Run stepping now as ended (the last it does)."""
        self._runs.discard(drive.current)
        self._resolving -= 1
        if self._waiting and self._turn is None:
            self._turn = self._loop.call_soon(self._on_turn)

    def _shed(self, job: tuple) -> None:
        self.stats.shed += 1
        _close(job)

    def _reply_udp(self, udp, query, response, client, cookie, source, started) -> None:
        """Send response unless the rate limits drop it (or send it slipped), with the
        client's cookie; count it."""
        if cookie is not None or self.rrl is not None:  # (else _release lets it go as it is)
            response, source = self._release(response, client[0], cookie, source)
        if response is None or udp.fileno() < 0:
            return  # dropped, or the server stopped meanwhile
        self._send_udp(udp, response, client)
        if source:
            self._account(query, response, client, "udp", source, started)

    def _release(self, response: bytes, client: str, cookie: Cookie | None, source: str):
        """Return the response as it goes out (None when the rate limits drop it, slipped, or
        with the client's cookie) and its source, none for a slipped answer."""
        try:
            response, source = self._limited(response, client, cookie, source)
            if response is not None and cookie is not None:
                response = self.cookies.add(response, cookie)
        except Exception:
            log.exception("rate limiting or cookies failed")  # the answer still goes out
        return response, source

    def _limited(self, response: bytes, client: str, cookie: Cookie | None, source: str):
        """Return what the rate limits let through (None when dropped) and its source, none
        for a slipped answer (not counted as an answer)."""
        if self.rrl is None or (cookie is not None and cookie.valid):
            return response, source
        verdict = self.rrl.check(client, response)
        if verdict is Verdict.SEND:
            return response, source
        if verdict is Verdict.DROP:
            self.stats.rate_limited["dropped"] += 1
            return None, source
        self.stats.rate_limited["slipped"] += 1
        return rrl.slipped(response, cookie is not None), ""

    def _send_udp(self, udp: batchio.Batches, response: bytes, client) -> None:
        """Send response with the others of this turn of the event loop (_send_replies)."""
        replies = self._replies.get(udp)
        if replies is None:
            if not self._replies:
                self._loop.call_soon(self._send_replies)
            replies = self._replies[udp] = []
        replies.append((response, client))

    def _send_replies(self) -> None:
        """Send the answers of the full path made since the last call, a batch a listener:
        a client on this machine is woken once for them all, where a datagram sent alone
        costs a wakeup (18 µs of CPU on a virtual machine, a quarter of a cache miss)."""
        replies, self._replies = self._replies, {}
        for udp, batch in replies.items():
            # The refused: a full send buffer, UDP may drop, the client retries; or all, the
            # listener closed by stop() meanwhile.
            self.stats.dropped += len(udp.send(batch)) if udp.fileno() >= 0 else len(batch)

    async def _finish_udp(
        self, udp, query, client, pending, source, started, cookie=None, *, resolving=False
    ):
        """Send the response pending resolves to; resolving: one of the resolutions counted
        (_start_waiting), told ended (_resolved) however it ends."""
        try:
            try:
                # pending awaited here, not in _settle: a coroutine less for every cache miss.
                response = await pending
            except Exception:
                log.exception("resolver failed")
                response = authority.failure(query, wire.SERVFAIL, tcp=False)
            if response is not None:
                self._reply_udp(udp, query, response, client, cookie, source, started)
            if time.perf_counter() - self._read_at >= READ_EVERY:
                self._read_now()
        finally:
            if resolving:
                self._resolved()

    def _read_now(self) -> None:
        """Read the UDP sockets between two resolutions (see READ_EVERY)."""
        for udp in self._udp:
            if udp.fileno() >= 0:  # not closed by stop()
                self._on_udp_readable(udp)

    # TCP (RFC 7766)

    async def _on_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= self.max_tcp_connections and not self._evict():
            self.stats.dropped += 1
            writer.close()
            return
        task = asyncio.current_task()
        connection = self._connections[task] = _Connection(writer, self._loop.time())
        self.stats.tcp_connections = len(self._connections)
        finished = False
        try:
            await self._serve_connection(reader, connection)
            finished = True
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away, idled out or did not take its replies in time
        except Exception:
            log.exception("TCP connection from %s failed", writer.get_extra_info("peername"))
        finally:
            self._connections.pop(task, None)
            self.stats.tcp_connections = len(self._connections)
            self._close(writer, finished)

    def _evict(self) -> bool:
        """Close the connection that has waited on its client longest (idle between queries,
        or not taking its replies) to make room for a new one; False if all wait on us.

        A server full of clients that hold their slots must still take new ones (RFC 7766
        6.2.3: close idle connections under pressure, the oldest first).
        """
        waiting = [(c.active, t) for t, c in self._connections.items() if not c.resolving]
        if not waiting:
            return False
        _, task = min(waiting, key=lambda pair: pair[0])
        connection = self._connections.pop(task)
        connection.writer.transport.abort()
        task.cancel()
        self.stats.tcp_evicted += 1
        return True

    def _close(self, writer: asyncio.StreamWriter, finished: bool) -> None:
        """Close after the replies still buffered are sent; a client that does not take them
        within the write timeout (or one being dropped) does not keep its socket."""
        transport = writer.transport
        writer.close()
        if transport.get_write_buffer_size():
            if finished:
                self._loop.call_later(self.tcp_write_timeout, transport.abort)
            else:
                transport.abort()

    async def _serve_connection(self, reader, connection: _Connection) -> None:
        writer = connection.writer
        client = writer.get_extra_info("peername")
        while True:
            try:
                async with asyncio.timeout(self.tcp_idle_timeout):
                    length = int.from_bytes(await reader.readexactly(2), "big")
                    query = await reader.readexactly(length)
            except asyncio.IncompleteReadError:
                break  # end of input, maybe a half-close: the answers pending are still owed
            connection.active = self._loop.time()
            if self.messages is not None and self.messages.claims(query):
                for message in await self.messages.respond(query, client[0], True):
                    await self._send_tcp(connection, message)
                continue
            if wire.question_type(query) in transfer.TRANSFER_TYPES:
                await self._send_transfer(query, client, connection)
                continue
            started = time.perf_counter() if self.log_budget else 0.0
            result, source = self._answer(query, True, client[0])
            if isinstance(result, bytes):
                await self._send_tcp(connection, result)
                self._account(query, result, client, "tcp", source, started)
            elif result is not None:
                # Pipelining: later queries are read and answered while this one resolves.
                connection.resolving += 1
                reply = self._finish_tcp(connection, query, client, result, source, started)
                task = self._spawn(reply)
                connection.replies.add(task)
                task.add_done_callback(connection.replies.discard)
        if connection.replies:
            await asyncio.wait(set(connection.replies), timeout=self.tcp_idle_timeout)

    async def _send_tcp(self, connection: _Connection, response: bytes) -> None:
        writer = connection.writer
        writer.write(len(response).to_bytes(2, "big") + response)
        async with asyncio.timeout(self.tcp_write_timeout):
            await writer.drain()
        connection.active = self._loop.time()

    async def _finish_tcp(self, connection, query, client, pending, source, started) -> None:
        try:
            response = await self._settle(query, pending, True)
        finally:
            connection.resolving -= 1
        if response is None or connection.writer.is_closing():
            return
        try:
            await self._send_tcp(connection, response)
        except (ConnectionError, TimeoutError):
            connection.writer.transport.abort()  # the client does not take its replies
            return
        self._account(query, response, client, "tcp", source, started)

    async def _send_transfer(self, query: bytes, client, connection: _Connection) -> None:
        started = time.perf_counter() if self.log_budget else 0.0
        last = None
        for message in transfer.transfer(query, self.chain.catalog, client[0]):
            await self._send_tcp(connection, message)
            last = message
        if last is not None:
            self._account(query, last, client, "tcp", "authority", started)
            if last[3] & 0xF == wire.NOERROR:
                self.stats.transfers[wire.question_type(query)] += 1

    @staticmethod
    async def _first(responses: Awaitable[list[bytes]]) -> bytes | None:
        return next(iter(await responses), None)

    # bookkeeping

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _account(self, query, response, client, transport, source, started) -> None:
        stats = self.stats
        stats.answered[source, response[3] & 0xF] += 1
        stats.by_transport[transport] += 1
        if self.log_budget and started:  # not over this second's budget (nor when it came)
            self._log(query, response, client, transport, source, started)

    def _log(self, query, response, client, transport, source, started) -> None:
        """Tell on_query of an answer, within this second's budget (the caller checked it)."""
        self.log_budget -= 1
        self._tell(query, response, client, transport, source, started)

    def _tell(self, query, response, client, transport, source, started) -> None:
        """Tell on_query of an answer (its share of the budget taken)."""
        try:
            latency = time.perf_counter() - started
            self.on_query(client[0], query, response[3] & 0xF, source, latency, transport)
        except Exception:
            log.exception("on_query callback failed")


def _close(job: tuple) -> None:
    """Close a resolution that will never be awaited (the chain's are coroutines)."""
    pending = job[3]
    if asyncio.iscoroutine(pending):
        pending.close()


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

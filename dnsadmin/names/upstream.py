"""Talking to other servers: one exchange, server health, and coalescing of identical questions.

Every exchange uses a fresh socket (so a fresh random source port from the kernel) and a fresh
random ID; dnspython accepts a reply only from the address and port asked, with the same ID and
question, and keeps waiting past anything else until the timeout (RFC 5452 9.1).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode

from . import wire

UNREACHABLE_ERRORS = (dns.exception.DNSException, OSError, EOFError, ValueError)

INITIAL_RTT = 0.1  # seconds assumed for a server never asked, so every server gets tried
MAX_RTT = 10.0
RTT_WEIGHT = 0.3  # how much one new sample moves the estimate (BIND's SRTT smoothing)
BACKOFF = 5.0  # seconds a server that timed out is skipped (but for one probe)
MAX_BACKOFF = 300.0
MAX_SERVERS = 10_000

T = TypeVar("T")
S = TypeVar("S", bound=Hashable)


class Unreachable(Exception):
    """No server gave a usable reply."""


class BadReply(dns.exception.DNSException):
    """A reply that is not the response to our query."""


@dataclass(slots=True)
class Health:
    srtt: float = INITIAL_RTT
    down_until: float = 0.0
    failures: int = 0


@dataclass
class Servers:
    """Per-server round-trip estimates and backoff: ask the fastest, skip the recently dead."""

    clock: Callable[[], float] = time.monotonic
    health: dict[Hashable, Health] = field(default_factory=dict)

    def order(self, servers: Iterable[S]) -> list[S]:
        """Return the servers (addresses, or (address, port) pairs) to try, distinct, fastest first.

        Of those backing off only one is tried, last, as a probe (the one whose backoff ends
        first): a zone whose servers are dead costs one timeout per question, not one per
        server, and a server back from the dead is found again.
        """
        now = self.clock()
        unique = list(dict.fromkeys(servers))
        live = sorted((s for s in unique if self._down_until(s) <= now), key=self._srtt)
        down = [server for server in unique if self._down_until(server) > now]
        return live + [min(down, key=self._down_until)] if down else live

    def _srtt(self, address: Hashable) -> float:
        health = self.health.get(address)
        return INITIAL_RTT if health is None else health.srtt

    def _down_until(self, address: Hashable) -> float:
        health = self.health.get(address)
        return 0.0 if health is None else health.down_until

    def answered(self, address: Hashable, rtt: float) -> None:
        health = self._get(address)
        health.srtt += RTT_WEIGHT * (rtt - health.srtt)
        health.failures = 0
        health.down_until = 0.0

    def timed_out(self, address: Hashable) -> None:
        """Double the estimate and back off exponentially while the server stays silent."""
        health = self._get(address)
        health.srtt = min(health.srtt * 2, MAX_RTT)
        health.failures += 1
        backoff = min(BACKOFF * 2 ** (health.failures - 1), MAX_BACKOFF)
        health.down_until = self.clock() + backoff

    def _get(self, address: Hashable) -> Health:
        health = self.health.get(address)
        if health is None:
            if len(self.health) >= MAX_SERVERS:
                del self.health[next(iter(self.health))]
            health = self.health[address] = Health()
        return health


def make_query(
    qname: dns.name.Name, qtype: int, *, recursion: bool, edns: bool = True
) -> dns.message.Message:
    """Return a query with a fresh random ID, EDNS with our payload size (unless told) and RD
    as asked."""
    query = dns.message.make_query(
        qname, qtype, use_edns=0 if edns else False, payload=wire.OUR_PAYLOAD
    )
    if not recursion:
        query.flags &= ~dns.flags.RD
    return query


async def exchange(
    query: dns.message.Message, address: str, port: int, timeout: float,
    spend: Callable[[], None],
) -> dns.message.Message:  # fmt: skip
    """Return the reply of address to query, retried over TCP when truncated and without EDNS when
    the server does not know it (RFC 6891 7: it answers FORMERR).

    spend is called before each send, so every retry counts against the caller's limits.
    """
    response = await _exchange(query, address, port, timeout, spend)
    if response.rcode() == dns.rcode.FORMERR and query.edns >= 0:
        question = query.question[0]
        recursion = bool(query.flags & dns.flags.RD)
        plain = make_query(question.name, question.rdtype, recursion=recursion, edns=False)
        response = await _exchange(plain, address, port, timeout, spend)
    return response


async def _exchange(
    query: dns.message.Message, address: str, port: int, timeout: float,
    spend: Callable[[], None],
) -> dns.message.Message:  # fmt: skip
    spend()
    response = await dns.asyncquery.udp(
        query, address, timeout, port, ignore_unexpected=True, ignore_errors=True
    )
    if response.flags & dns.flags.TC:
        spend()
        response = await dns.asyncquery.tcp(query, address, timeout, port)
        if not query.is_response(response):
            raise BadReply(f"{address} answered another question over TCP")
    return response


class Overloaded(Exception):
    """Too many distinct questions are being resolved already."""


class Coalescer(Generic[T]):
    """One resolution per distinct question in flight; later askers share its outcome.

    At most limit distinct questions are in flight, as BIND's recursive-clients: a flood of
    random names must not turn into an unbounded number of tasks and sockets.
    """

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._inflight: dict[Hashable, asyncio.Task[T]] = {}

    def run(self, key: Hashable, start: Callable[[], Awaitable[T]]) -> Awaitable[T]:
        """Return the shared outcome of start() for key; raise Overloaded when over the limit."""
        task = self._inflight.get(key)
        if task is None:
            if len(self._inflight) >= self.limit:
                raise Overloaded(f"{self.limit} resolutions in flight")
            task = asyncio.ensure_future(start())
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        # shield: one asker giving up (its client went away) must not cancel the others' answer.
        return asyncio.shield(task)

    async def close(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

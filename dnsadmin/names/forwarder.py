"""Forwarding: recursive queries (RD=1) to configured resolvers instead of iterating ourselves.

The forwarders are trusted for every name, so the root is their bailiwick; their replies still
pass the same checks as any upstream reply (address, port, ID, question) and the same scrubbing
of records that are not on the CNAME chain of the question. A reply whose chain stops short of
the data is continued by asking the forwarders for its end, as a restart would.
"""

from __future__ import annotations

import asyncio
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable, Sequence

import dns.name

from .addresses import parse_address
from .answer import Kind, Sections
from .cache import Cache
from .recursive import DEADLINE, Upstream, classify, follow_chain, remember
from .upstream import UNREACHABLE_ERRORS, Question, Unreachable, exchange

QUERY_TIMEOUT = 2.0  # a forwarder recurses itself: give it longer than one authoritative hop

Address = tuple[str, int]


class Forwarder(Upstream):
    """Resolves every question through the forwarders, fastest first, caching the answers."""

    source = "forwarder"

    def __init__(
        self,
        cache: Cache,
        forwarders: Sequence[str | Address],
        *,
        deadline: float = DEADLINE,
        query_timeout: float = QUERY_TIMEOUT,
        max_inflight: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not forwarders:
            raise ValueError("no forwarders")
        super().__init__(
            cache, deadline=deadline, query_timeout=query_timeout, max_inflight=max_inflight,
            clock=clock,
        )  # fmt: skip
        self.forwarders = list(
            dict.fromkeys(f if isinstance(f, tuple) else parse_address(f) for f in forwarders)
        )

    def _resolve(
        self, qname: dns.name.Name, qtype: int, deadline: float, wired: bytes
    ) -> Awaitable[Sections]:
        # A name the cache knows nothing of is forwarded at once, _forward following the
        # chain its answer leaves open: no follow_chain coroutine for most cache misses.
        step = self.cache.find(qname, qtype)
        if step is None:
            return self._forward(qname, qtype, deadline, wired, chain=True)
        return self._chain(qname, qtype, deadline, wired, step)

    def _chain(
        self, qname: dns.name.Name, qtype: int, deadline: float, wired: bytes, step: Sections
    ) -> Awaitable[Sections]:
        """Return follow_chain from qname's own step (from the cache, or forwarded)."""
        return follow_chain(
            self.cache, qname, qtype,
            lambda name: self._forward(name, qtype, deadline, wired if name is qname else b""),
            step,
        )  # fmt: skip

    async def _forward(
        self, qname: dns.name.Name, qtype: int, deadline: float, wired: bytes = b"",
        chain: bool = False,
    ) -> Sections:  # fmt: skip
        """Return the first usable reply of the forwarders, fastest first, classified, having
        cached what it proves; asked wired (Question.wired: wired is qname's wire form), if
        told; with chain, on along the CNAME chain the reply leaves open (_resolve)."""
        question = Question.of(qname, qtype, recursion=True, wired=wired)
        if len(self.forwarders) > 1:
            step = await self._first_usable(question, qname, qtype, deadline)
        else:
            step = await self._asked(question, qname, qtype, deadline, self.forwarders[0])
        if step is None:
            raise Unreachable(f"no forwarder answered {qname}")
        remember(step, self.cache, qname, qtype, self.source)
        if chain and step.kind is Kind.ALIAS:
            return await self._chain(qname, qtype, deadline, wired, step)
        return step

    async def _asked(
        self, question: Question, qname: dns.name.Name, qtype: int, deadline: float,
        server: Address,
    ) -> Sections | None:  # fmt: skip
        """Return the reply of one forwarder, classified; None when it is not usable (no reply
        within its query timeout, a lame one, a referral)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            response = await exchange(
                question, *server, self.query_timeout, self._count, self.sockets, deadline
            )
        except UNREACHABLE_ERRORS:
            self.servers.timed_out(server)
            return None
        self.servers.answered(server, loop.time() - started)
        step = classify(response, dns.name.root, qname, qtype)
        return step if step is not None and step.kind is not Kind.REFERRAL else None

    async def _first_usable(
        self, question: Question, qname: dns.name.Name, qtype: int, deadline: float
    ) -> Sections | None:
        """Return the first usable reply of the forwarders, fastest first (Servers.order),
        each asked in turn once the one before has had its share of what is left of the
        deadline, and still listened to: a silent first forwarder leaves the others their
        turn within the deadline, and a slow one that answers is not cut short (as resolvers
        ask the next server without dropping the query sent). A forwarder still awaited when
        one asked after it answers is slower than that one: it counts as timed out, and is
        asked after the others next time."""
        loop = asyncio.get_running_loop()
        waiting = list(self.servers.order(self.forwarders))
        asked: dict[asyncio.Task, Address] = {}
        try:
            while waiting or asked:
                if waiting:
                    server = waiting.pop(0)
                    ask = self._asked(question, qname, qtype, deadline, server)
                    asked[loop.create_task(ask)] = server
                turn = (deadline - loop.time()) / (len(waiting) + 1) if waiting else None
                done, _ = await asyncio.wait(asked, timeout=turn, return_when=FIRST_COMPLETED)
                for task in done:
                    step = task.result()  # (a failure of the resolution's own ends it)
                    if step is not None:
                        for earlier, server in asked.items():  # (in the order asked)
                            if earlier is task:
                                break
                            self.servers.timed_out(server)
                        return step
                    del asked[task]
            return None
        finally:
            for task in asked:
                task.cancel()

    def _count(self) -> None:
        self.sent += 1

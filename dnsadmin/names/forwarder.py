"""Forwarding: recursive queries (RD=1) to configured resolvers instead of iterating ourselves.

The forwarders are trusted for every name, so the root is their bailiwick; their replies still
pass the same checks as any upstream reply (address, port, ID, question) and the same scrubbing
of records that are not on the CNAME chain of the question. A reply whose chain stops short of
the data is continued by asking the forwarders for its end, as a restart would.
"""

from __future__ import annotations

import asyncio
import time
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
        cached what it proves (one coroutine for all of them: each more cost every cache miss
        a microsecond); asked wired (Question.wired: wired is qname's wire form), if told;
        with chain, on along the CNAME chain the reply leaves open (_resolve)."""
        question = Question.of(qname, qtype, recursion=True, wired=wired)
        loop = asyncio.get_running_loop()
        # One forwarder, the rule, is asked live or probed alike (Servers.order): not ordered.
        servers = self.forwarders
        order = servers if len(servers) < 2 else self.servers.order(servers)
        for tried, server in enumerate(order):
            started = loop.time()
            untried = len(order) - tried
            # A forwarder waited for no longer than its share of what is left of the deadline:
            # a silent first one must leave the others their turn (with the whole of it, a
            # deadline of QUERY_TIMEOUT or less never reached the second).
            timeout = self.query_timeout
            if untried > 1:
                timeout = min(timeout, (deadline - started) / untried)
            try:
                response = await exchange(
                    question, *server, timeout, self._count, self.sockets, deadline
                )
            except UNREACHABLE_ERRORS:
                self.servers.timed_out(server)
                continue
            self.servers.answered(server, loop.time() - started)
            step = classify(response, dns.name.root, qname, qtype)
            if step is not None and step.kind is not Kind.REFERRAL:
                remember(step, self.cache, qname, qtype, self.source)
                if chain and step.kind is Kind.ALIAS:
                    return await self._chain(qname, qtype, deadline, wired, step)
                return step
        raise Unreachable(f"no forwarder answered {qname}")

    def _count(self) -> None:
        self.sent += 1

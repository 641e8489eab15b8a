"""Forwarding: recursive queries (RD=1) to configured resolvers instead of iterating ourselves.

The forwarders are trusted for every name, so the root is their bailiwick; their replies still
pass the same checks as any upstream reply (address, port, ID, question) and the same scrubbing
of records that are not on the CNAME chain of the question. A reply whose chain stops short of
the data is continued by asking the forwarders for its end, as a restart would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

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
        self.forwarders = [f if isinstance(f, tuple) else parse_address(f) for f in forwarders]

    async def _resolve(self, qname: dns.name.Name, qtype: int, deadline: float) -> Sections:
        async def forward(name: dns.name.Name) -> Sections:
            step = await self._ask(name, qtype, deadline)
            remember(step, self.cache, name, qtype, self.source)
            return step

        return await follow_chain(self.cache, qname, qtype, forward)

    async def _ask(self, qname: dns.name.Name, qtype: int, deadline: float) -> Sections:
        for address, port in self.servers.order(self.forwarders):
            step = await self._send(address, port, qname, qtype, deadline)
            if step is not None and step.kind is not Kind.REFERRAL:
                return step
        raise Unreachable(f"no forwarder answered {qname}")

    async def _send(
        self, address: str, port: int, qname: dns.name.Name, qtype: int, deadline: float
    ) -> Sections | None:
        question = Question.of(qname, qtype, recursion=True)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            response = await exchange(
                question, address, port, self.query_timeout, self._count, self.sockets, deadline
            )
        except UNREACHABLE_ERRORS:
            self.servers.timed_out((address, port))
            return None
        self.servers.answered((address, port), loop.time() - started)
        return classify(response, dns.name.root, qname, qtype)

    def _count(self) -> None:
        self.sent += 1

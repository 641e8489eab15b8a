"""Forwarding: recursive queries (RD=1) to configured resolvers instead of iterating ourselves.

The forwarders are trusted for every name, so the root is their bailiwick; their replies still
pass the same checks as any upstream reply (address, port, ID, question) and the same scrubbing
of records that are not on the CNAME chain of the question. A reply whose chain stops short of
the data is continued by asking the forwarders for its end, as a restart would.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable, Sequence

import dns.name

from . import wire
from .cache import Cache, Found
from .recursive import DEADLINE, Classified, Step, classify, follow_chain, within_deadline
from .upstream import (
    UNREACHABLE_ERRORS,
    Coalescer,
    Overloaded,
    Servers,
    Unreachable,
    exchange,
    make_query,
)
from .zone import lower_labels

QUERY_TIMEOUT = 2.0  # a forwarder recurses itself: give it longer than one authoritative hop

Address = tuple[str, int]


def parse_forwarder(text: str, default_port: int = 53) -> Address:
    """'ADDR', 'ADDR:PORT', '[V6ADDR]:PORT' or a bare IPv6 address, as (address, port)."""
    text = text.strip()
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else default_port
    elif text.count(":") == 1:
        address, port_text = text.split(":")
        port = int(port_text)
    else:
        address, port = text, default_port
    ipaddress.ip_address(address)  # a ValueError for a name or a typo, at configuration time
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {text!r}")
    return address, port


class Forwarder:
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
        self.cache = cache
        self.forwarders = [f if isinstance(f, tuple) else parse_forwarder(f) for f in forwarders]
        self.deadline = deadline
        self.query_timeout = query_timeout
        self.servers = Servers(clock)
        self.sent = 0
        self._coalescer: Coalescer[Found] = Coalescer(max_inflight)

    async def resolve(self, qname: dns.name.Name, qtype: int) -> Found:
        key = (lower_labels(qname), qtype)
        try:
            pending = self._coalescer.run(key, lambda: self._resolve(qname, qtype))
        except Overloaded:
            return Found(rcode=wire.SERVFAIL)  # shed load; not cached, unlike a failure
        return await pending

    async def close(self) -> None:
        await self._coalescer.close()

    async def _resolve(self, qname: dns.name.Name, qtype: int) -> Found:
        async def forward(name: dns.name.Name) -> Found:
            step = await self._ask(name, qtype)
            step.remember(self.cache, qtype, self.source)
            return step.found()

        async def resolve() -> Found:
            return await follow_chain(self.cache, qname, qtype, forward)

        return await within_deadline(self.cache, qname, qtype, self.deadline, resolve)

    async def _ask(self, qname: dns.name.Name, qtype: int) -> Classified:
        for address, port in self.servers.order(self.forwarders):
            step = await self._send(address, port, qname, qtype)
            if step is not None and step.step not in (Step.LAME, Step.REFERRAL):
                return step
        raise Unreachable(f"no forwarder answered {qname}")

    async def _send(
        self, address: str, port: int, qname: dns.name.Name, qtype: int
    ) -> Classified | None:
        query = make_query(qname, qtype, recursion=True)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            response = await exchange(query, address, port, self.query_timeout, self._count)
        except UNREACHABLE_ERRORS:
            self.servers.timed_out((address, port))
            return None
        self.servers.answered((address, port), loop.time() - started)
        return classify(response, dns.name.root, qname, qtype)

    def _count(self) -> None:
        self.sent += 1

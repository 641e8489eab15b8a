"""What a cache miss costs the server's turns and the upstream queries (issue 16): a turn
starts 32 resolutions, and the random bytes of query IDs come from a buffer read as a
stream, in the count asked across its refills."""

from __future__ import annotations

import asyncio
import time

from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import AUTHORITATIVE, ResolverChain
from dnsadmin.names.server import DNSServer
from dnsadmin.names.upstream import _Random


async def test_a_turn_starts_32_of_the_resolutions_waiting():
    server = DNSServer(ResolverChain(ZoneCatalog(), AUTHORITATIVE))
    loop = server._loop = asyncio.get_running_loop()
    now = time.perf_counter()
    for _ in range(40):
        # (listener, query, client, pending, source, started, cookie), as _take_turn makes
        # them: resolutions that never end here.
        server._wait((None, b"", ("127.0.0.1", 53), loop.create_future(), "forwarder", now, None))
    server._start_waiting(now - 1.0, now - 0.5)
    assert server._resolving == 32
    assert len(server._waiting) == 8
    server._waiting.clear()
    assert len(server._runs) == 32  # each under way (stepped at once), awaiting its resolution
    ending = [run.finished() for run in server._runs]
    for run in list(server._runs):
        run.cancel()
    await asyncio.gather(*ending)
    assert server._resolving == 0
    assert not server._runs


def test_random_bytes_come_in_the_count_asked_across_refills():
    source = _Random()
    taken = [source.take(3) for _ in range(3000)]  # 9,000 bytes: two buffers and more
    assert {len(chunk) for chunk in taken} == {3}
    assert len(set(taken)) > 2900  # not the same bytes again after a refill

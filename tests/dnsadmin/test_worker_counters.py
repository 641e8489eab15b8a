"""What a DNS worker reports of its upstream side (exported by /metrics)."""

import pytest

from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import ChainConfig, ResolverChain
from dnsadmin.worker import DNSWorker


@pytest.mark.parametrize("recursion", [True, False])
async def test_the_worker_reports_the_upstream_replies_its_sockets_dropped(recursion):
    worker = DNSWorker.__new__(DNSWorker)  # its counts only: no listener, no database
    assert worker.upstream_dropped() == 0  # before startup made its chain
    worker.chain = ResolverChain(ZoneCatalog(), ChainConfig(recursion=recursion))
    try:
        if recursion:
            worker.chain.upstream.sockets.dropped += 3  # as three forged replies leave it
        assert worker.upstream_dropped() == (3 if recursion else 0)
    finally:
        await worker.chain.close()

"""Fixtures for the DNS engine tests: the test zones, our server, BIND 9 as a reference, and
a tree of servers to recurse through."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.server import DNSServer
from tests.names.hierarchy import Hierarchy, start_hierarchy
from tests.names.zones import Bind, ThreadedServer, make_catalog, serve


@pytest.fixture
def catalog() -> ZoneCatalog:
    """example.com. and example.net., transfers allowed to 127.0.0.1 only."""
    return make_catalog()


@pytest.fixture
def threaded_server(catalog: ZoneCatalog) -> Iterator[ThreadedServer]:
    """Our server in a thread on an ephemeral port of 127.0.0.1 (for blocking clients)."""
    threaded = ThreadedServer(catalog, tcp_idle_timeout=2.0)
    threaded.start()
    yield threaded
    threaded.stop()


@pytest.fixture
async def loop_server(catalog: ZoneCatalog) -> AsyncIterator[DNSServer]:
    """Our server in the test's own event loop (for asyncio clients such as dig subprocesses)."""
    ours = serve(catalog, tcp_idle_timeout=2.0)
    await ours.start(["127.0.0.1"], 0)
    yield ours
    await ours.stop()


@pytest.fixture(scope="module")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    """BIND 9 serving the same zones, started once per module (it takes a second to start)."""
    reference = Bind(Path(tmp_path_factory.mktemp("named")))
    reference.start()
    yield reference
    reference.stop()


@pytest.fixture
async def hierarchy() -> AsyncIterator[Hierarchy]:
    """The fake DNS tree on loopback (tests/names/hierarchy.py), started for one test."""
    tree = await start_hierarchy()
    yield tree
    await tree.stop()

"""`rundns` resolving for allowed clients through a fake DNS tree on loopback, with its cache."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time

import pytest
from asgiref.sync import sync_to_async

from dnsadmin import cachesync
from dnsadmin.models import CacheEntry, QueryLogEntry
from tests.conftest import ROOT, clean_environment
from tests.names.hierarchy import start_hierarchy

pytestmark = pytest.mark.integration


@pytest.fixture
async def hierarchy():
    tree = await start_hierarchy()
    yield tree
    await tree.stop()


@pytest.fixture
async def resolving_rundns(hierarchy, worker_env, tmp_path):
    hints = hierarchy.write_hints(tmp_path / "root.hints")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "manage.py", "rundns", "--port", "0", "--root-hints", str(hints),
        "--upstream-port", str(hierarchy.port), cwd=ROOT, env=clean_environment(worker_env),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    port = None
    async with asyncio.timeout(30):
        while port is None:
            line = (await process.stderr.readline()).decode()
            assert line, "rundns exited before serving"
            if match := re.search(r"serving \d+ zones on .* port (\d+)", line):
                port = int(match.group(1))
    drain = asyncio.create_task(process.stderr.read())  # keep the pipe from filling up
    yield process, port
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 20)
    drain.cancel()


async def dig(port: int, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "dig", "@127.0.0.1", "-p", str(port), "+time=5", "+tries=1", *args,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    return out.decode()


async def sources(name: str) -> list[str]:
    rows = QueryLogEntry.objects.filter(name=name).order_by("time", "id")
    return [row.source async for row in rows]


async def eventually(check, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.1)


@pytest.mark.django_db(transaction=True)
async def test_an_allowed_client_gets_a_recursive_answer_then_a_cached_one(resolving_rundns):
    process, port = resolving_rundns
    first = await dig(port, "www.example.test", "A")
    assert "status: NOERROR" in first and " ra" in first.split("flags:")[1].split(";")[0]
    assert re.search(r"www\.example\.test\.\s+\d+\s+IN\s+A\s", first)
    await dig(port, "www.example.test", "A")

    async def logged_twice() -> bool:
        return len(await sources("www.example.test.")) == 2

    await eventually(logged_twice)
    assert await sources("www.example.test.") == ["recursive", "cache"]

    process.send_signal(signal.SIGTERM)  # a stopping worker writes its cache behind
    await asyncio.wait_for(process.wait(), 20)
    assert await CacheEntry.objects.filter(name="www.example.test.", rdtype="A").aexists()


@pytest.mark.django_db(transaction=True)
async def test_a_flush_from_the_web_empties_the_running_workers_cache(resolving_rundns):
    _, port = resolving_rundns
    await dig(port, "www.example.test", "A")
    await sync_to_async(cachesync.flush)()
    await asyncio.sleep(1.5)  # the embedded default: the worker reads the flush on reconcile
    await dig(port, "www.example.test", "A")

    async def logged_twice() -> bool:
        return len(await sources("www.example.test.")) == 2

    await eventually(logged_twice)
    assert await sources("www.example.test.") == ["recursive", "recursive"]

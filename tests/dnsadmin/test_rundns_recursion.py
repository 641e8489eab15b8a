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
from tests.names.hierarchy import EXAMPLE, start_hierarchy
from tests.names.hierarchy import ROOT as ROOT_SERVER

pytestmark = pytest.mark.integration


@pytest.fixture
async def hierarchy():
    tree = await start_hierarchy()
    yield tree
    await tree.stop()


@pytest.fixture
async def start_rundns(hierarchy, worker_env, tmp_path):
    """Start rundns resolving through the fake tree, with extra options; stopped at the end."""
    started = []

    async def start(*options: str) -> tuple[asyncio.subprocess.Process, int]:
        hints = hierarchy.write_hints(tmp_path / "root.hints")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "manage.py", "rundns", "--port", "0", "--root-hints", str(hints),
            "--upstream-port", str(hierarchy.port), *options, cwd=ROOT,
            env=clean_environment(worker_env), stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        port = None
        async with asyncio.timeout(30):
            while port is None:
                line = (await process.stderr.readline()).decode()
                assert line, "rundns exited before serving"
                if match := re.search(r"serving \d+ zones on .* port (\d+)", line):
                    port = int(match.group(1))
        # Keep the pipe from filling up.
        started.append((process, asyncio.create_task(process.stderr.read())))
        return process, port

    yield start
    for process, drain in started:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 20)
        drain.cancel()


@pytest.fixture
async def resolving_rundns(start_rundns):
    return await start_rundns()


async def stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)  # a stopping worker writes its cache behind
    await asyncio.wait_for(process.wait(), 20)


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


async def logged(name: str, times: int) -> list[str]:
    """The sources of the answers to name, once the query log has them all."""

    async def complete() -> bool:
        return len(await sources(name)) >= times

    await eventually(complete)
    return await sources(name)


def answered(output: str, name: str, address: str) -> bool:
    return (
        re.search(rf"{re.escape(name)}\s+\d+\s+IN\s+A\s+{re.escape(address)}", output) is not None
    )


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

    await stop(process)
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


@pytest.mark.django_db(transaction=True)
async def test_a_restarted_worker_answers_from_the_cache_it_wrote_behind(start_rundns, hierarchy):
    process, port = await start_rundns()
    assert answered(await dig(port, "www.example.test", "A"), "www.example.test.", "192.0.2.1")
    await stop(process)
    asked = hierarchy.total_queries()
    _, port = await start_rundns()
    again = await dig(port, "www.example.test", "A")
    assert answered(again, "www.example.test.", "192.0.2.1")
    assert await logged("www.example.test.", 2) == ["recursive", "cache"]
    assert hierarchy.total_queries() == asked


@pytest.mark.django_db(transaction=True)
async def test_a_delete_from_the_web_forgets_one_name_in_the_running_worker(resolving_rundns):
    _, port = resolving_rundns
    for name in ("www.example.test", "www.other.test"):
        await dig(port, name, "A")
    await sync_to_async(cachesync.delete)("www.example.test")
    await asyncio.sleep(1.5)  # the embedded default: the worker reads the delete on reconcile
    for name in ("www.example.test", "www.other.test"):
        await dig(port, name, "A")
    assert await logged("www.example.test.", 2) == ["recursive", "recursive"]
    assert await logged("www.other.test.", 2) == ["recursive", "cache"]


@pytest.mark.django_db(transaction=True)
async def test_with_a_forwarder_it_forwards_instead_of_iterating(start_rundns, hierarchy):
    _, port = await start_rundns("--forwarder", f"{EXAMPLE}:{hierarchy.port}")
    assert answered(await dig(port, "www.example.test", "A"), "www.example.test.", "192.0.2.1")
    assert await logged("www.example.test.", 1) == ["forwarder"]
    assert hierarchy.queries(ROOT_SERVER) == 0


@pytest.mark.django_db(transaction=True)
async def test_it_answers_from_a_hosts_file(start_rundns, hierarchy, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("192.0.2.44 printer.lan\n")
    _, port = await start_rundns("--hosts-file", str(hosts))
    assert answered(await dig(port, "printer.lan", "A"), "printer.lan.", "192.0.2.44")
    assert await logged("printer.lan.", 1) == ["hosts"]
    assert hierarchy.total_queries() == 0


@pytest.mark.django_db(transaction=True)
async def test_without_recursion_it_refuses_names_outside_its_zones(start_rundns, hierarchy):
    _, port = await start_rundns("--no-recursion")
    output = await dig(port, "www.example.test", "A")
    assert "status: REFUSED" in output
    assert " ra" not in output.split("flags:")[1].split(";")[0]
    assert hierarchy.total_queries() == 0

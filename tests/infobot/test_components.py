import asyncio

import pytest

from botadmin.infobot import DAILY, HOURLY, MINUTELY, WEEKLY, MemoryStorage, Scheduler, StaleVersion
from tests.infobot.fakeclock import FakeClock


async def test_storage_versions_each_put_and_rejects_a_stale_one():
    storage = MemoryStorage()
    assert await storage.get("quotes", "k") is None
    version = await storage.put("quotes", "k", {"n": 1})
    assert version == 1
    assert await storage.put("quotes", "k", {"n": 2}, version=1) == 2
    with pytest.raises(StaleVersion):
        await storage.put("quotes", "k", {"n": 3}, version=1)
    with pytest.raises(StaleVersion):
        await storage.put("quotes", "k", {"n": 3})
    stored = await storage.get("quotes", "k")
    assert (stored.value, stored.version) == ({"n": 2}, 2)


async def test_storage_keeps_plugins_apart_and_hands_out_copies():
    storage = MemoryStorage()
    await storage.put("a", "k", [1])
    await storage.put("b", "k", [2])
    (await storage.get("a", "k")).value.append(99)
    assert (await storage.get("a", "k")).value == [1]
    assert (await storage.get("b", "k")).value == [2]


def test_the_period_constants_are_in_seconds():
    assert (MINUTELY, HOURLY, DAILY, WEEKLY) == (60, 3600, 86400, 604800)


async def test_a_periodic_job_repeats_and_survives_its_own_failures():
    clock, runs = FakeClock(), []

    async def job() -> None:
        runs.append(clock.now)
        raise RuntimeError("flaky")

    scheduler = Scheduler("test", clock)
    scheduler.every(10, job, delay=1)
    await clock.advance(30)
    assert runs == [1, 11, 21]
    scheduler.cancel_all()
    await clock.advance(100)
    assert runs == [1, 11, 21]


async def test_a_job_runs_once_later_and_cancelled_jobs_never_run():
    clock, runs = FakeClock(), []

    async def job() -> None:
        runs.append(clock.now)

    scheduler = Scheduler("test", clock)
    scheduler.later(5, job)
    cancelled = Scheduler("other", clock)
    cancelled.later(1, job)
    cancelled.every(1, job)
    await clock.advance(0)
    cancelled.cancel_all()
    await clock.advance(4.9)
    assert runs == []
    await clock.advance(1000)
    assert (runs, clock.waiting) == ([5], 0)


async def test_the_scheduler_waits_on_the_loop_by_default():
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    Scheduler("test").later(0, job)
    await asyncio.wait_for(ran.wait(), 5)

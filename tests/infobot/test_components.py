import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from botadmin.infobot import DAILY, HOURLY, MINUTELY, WEEKLY, MemoryStorage, Scheduler, StaleVersion


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
    runs = []

    async def job() -> None:
        runs.append(1)
        raise RuntimeError("flaky")

    scheduler = Scheduler("test")
    scheduler.every(0.02, job)
    await asyncio.sleep(0.15)
    scheduler.cancel_all()
    assert len(runs) >= 3


async def test_a_job_runs_once_later_and_cancelled_jobs_never_run():
    runs = []

    async def job() -> None:
        runs.append("ran")

    scheduler = Scheduler("test")
    scheduler.later(0.01, job)
    cancelled = Scheduler("other")
    cancelled.later(0.01, job)
    cancelled.every(0.01, job)
    cancelled.cancel_all()
    await asyncio.sleep(0.1)
    assert runs == ["ran"]


def test_the_engine_and_every_plugin_import_without_django():
    code = (
        "import sys, pkgutil, importlib, botadmin.infobot, botadmin.plugins\n"
        "for info in pkgutil.iter_modules(botadmin.plugins.__path__, 'botadmin.plugins.'):\n"
        "    importlib.import_module(info.name)\n"
        "assert 'django' not in sys.modules, [m for m in sys.modules if m.startswith('django')]\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

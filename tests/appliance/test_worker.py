"""The worker runtime: events from the group, periodic reconcile, clean shutdown."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap

import pytest
from channels.layers import get_channel_layer

from appliance.models import WorkerStatus
from appliance.worker import WorkerConsumer, run_worker, worker_scope
from tests.conftest import ROOT, clean_environment


class Recorder(WorkerConsumer):
    """A tiny worker kind that writes down what happened to it."""

    group = "test.control"
    reconcile_interval = 0.05
    heartbeat_interval = 0.05
    seen: list[str] = []
    ready: asyncio.Event

    async def startup(self) -> None:
        self.seen.append("startup")

    async def reconcile(self) -> None:
        self.seen.append("reconcile")
        Recorder.ready.set()

    async def shutdown(self) -> None:
        self.seen.append("shutdown")

    async def zone_changed(self, message: dict) -> None:
        self.seen.append(f"zone.changed {message['origin']}")

    def status(self) -> dict:
        return {"zones": 3}


@pytest.fixture
def recorder():
    Recorder.seen = []
    Recorder.ready = asyncio.Event()
    return Recorder


@pytest.mark.django_db(transaction=True)
async def test_a_worker_hears_group_events_reconciles_and_shuts_down(recorder):
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(recorder, worker_scope("test"), stop=stop))
    await asyncio.wait_for(recorder.ready.wait(), 5)
    await get_channel_layer().group_send(
        "test.control", {"type": "zone.changed", "origin": "example.org."}
    )
    for _ in range(100):
        if "zone.changed example.org." in recorder.seen:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(worker, 5)
    assert recorder.seen[0] == "startup"
    assert "zone.changed example.org." in recorder.seen
    assert recorder.seen[-1] == "shutdown"


@pytest.mark.django_db(transaction=True)
async def test_a_worker_reports_its_heartbeat(recorder):
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(recorder, worker_scope("test"), stop=stop))
    await asyncio.wait_for(recorder.ready.wait(), 5)
    for _ in range(100):
        if await WorkerStatus.objects.filter(kind="test").aexists():
            break
        await asyncio.sleep(0.02)
    status = await WorkerStatus.objects.aget(kind="test")
    assert status.details == {"zones": 3}
    assert status.is_alive and status.seen_ago.endswith(" s ago")
    stop.set()
    await asyncio.wait_for(worker, 5)
    # Stopped cleanly: it leaves the dashboard (a worker that dies stays, as not seen).
    assert not await WorkerStatus.objects.filter(kind="test").aexists()


class Flaky(WorkerConsumer):
    reconcile_interval = 0.01
    heartbeat_interval = 3600
    rounds = 0

    async def reconcile(self) -> None:
        Flaky.rounds += 1
        if Flaky.rounds == 1:
            raise RuntimeError("database went away")


@pytest.mark.django_db(transaction=True)
async def test_a_failing_reconcile_is_logged_and_retried(caplog):
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(Flaky, worker_scope("flaky"), stop=stop))
    for _ in range(200):
        if Flaky.rounds >= 3:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(worker, 5)
    assert Flaky.rounds >= 3
    assert "reconcile failed" in caplog.text


class Broken(WorkerConsumer):
    async def startup(self) -> None:
        raise OSError("address already in use")


@pytest.mark.django_db(transaction=True)
async def test_a_failing_startup_reaches_the_caller():
    with pytest.raises(OSError, match="address already in use"):
        await asyncio.wait_for(run_worker(Broken, worker_scope("broken")), 5)


WORKER_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys
    os.environ['DJANGO_SETTINGS_MODULE'] = 'tests.settings'
    import django; django.setup()
    from appliance.worker import WorkerConsumer, run_worker, worker_scope

    class Quiet(WorkerConsumer):
        heartbeat_interval = 3600
        async def startup(self):
            print('started', flush=True)
        async def shutdown(self):
            print('drained', flush=True)

    asyncio.run(run_worker(Quiet, worker_scope('quiet')))
    print('exited', flush=True)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_sigterm_and_sigint_drain_the_worker_and_exit_cleanly(signum, worker_env):
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER_SCRIPT,
        cwd=ROOT,
        env=clean_environment(worker_env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        first = await asyncio.wait_for(process.stdout.readline(), 20)
    except TimeoutError:
        process.kill()
        raise AssertionError((await process.communicate())[1].decode()) from None
    assert first.strip() == b"started"
    process.send_signal(signum)
    out, err = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 0, err.decode()
    assert out.split() == [b"drained", b"exited"]


class Counting(WorkerConsumer):
    """A worker whose reconciles are counted, every 10 ms."""

    reconcile_interval = 0.01
    reconciles = 0

    async def reconcile(self) -> None:
        Counting.reconciles += 1
        if Counting.reconciles == 3:
            Counting.enough.set()


@pytest.mark.django_db(transaction=True)
async def test_a_heartbeat_that_fails_at_once_is_not_retried_without_a_pause(monkeypatch):
    attempts = []

    async def refused(scope, details):
        attempts.append(scope)
        await asyncio.sleep(0)
        raise OSError("database is locked")  # as a database refusing writes fails

    monkeypatch.setattr("appliance.worker.heartbeat", refused)
    Counting.reconciles, Counting.enough = 0, asyncio.Event()
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(Counting, worker_scope("counting"), stop=stop))
    try:
        await asyncio.wait_for(Counting.enough.wait(), 10)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)
    # Retried a heartbeat interval (5 s) on, not at once, over and over, before any reconcile.
    assert len(attempts) == 1

"""The runtime shared by the long-running workers (`rundns`, `runbot`).

A worker is a Channels consumer: ``run_worker`` runs one ``WorkerConsumer`` as
an ASGI application, so control events sent by the web to the worker's group
(``zone.changed``, ``cache.flush``, ``bot.reload``, ``irc.say``…) arrive as
ordinary consumer handler calls. Because the channel layer is a doorbell, not a
mailbox (messages can be lost, and on the embedded default there is no
cross-process layer at all), the consumer also reconciles from the database on
a short period. SIGTERM and SIGINT make it drain and return.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from typing import Any, ClassVar

from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from django.utils import timezone

logger = logging.getLogger(__name__)

START = {"type": "worker.start"}
STOP = {"type": "worker.stop"}


class WorkerConsumer(AsyncConsumer):
    """Base class of a worker kind; subclasses set ``group`` and override the hooks.

    Control events are dispatched by Channels to methods named after their type
    (``zone.changed`` → ``zone_changed``). ``startup`` runs before the worker
    joins its group, ``reconcile`` every ``reconcile_interval`` seconds, and
    ``shutdown`` once when the worker stops.
    """

    group: ClassVar[str] = ""
    reconcile_interval: ClassVar[float] = 1.0
    heartbeat_interval: ClassVar[float] = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reconciler: asyncio.Task | None = None

    async def startup(self) -> None:
        """Load state and open listeners; called once before events arrive."""

    async def reconcile(self) -> None:
        """Bring the worker in line with the database (the lost-message fallback)."""

    async def shutdown(self) -> None:
        """Drain and close; called once when the worker stops."""

    def status(self) -> dict:
        """Report what the dashboard shows about this worker (zones loaded, networks…)."""
        return {}

    async def worker_start(self, message: dict) -> None:
        await self.startup()
        if self.group and self.channel_layer is not None:
            await self.channel_layer.group_add(self.group, self.channel_name)
        self._reconciler = asyncio.create_task(self._reconcile_forever())

    async def worker_stop(self, message: dict) -> None:
        if self._reconciler is not None:
            self._reconciler.cancel()
            await asyncio.gather(self._reconciler, return_exceptions=True)
        if self.group and self.channel_layer is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        await self.shutdown()
        # A worker that stops cleanly leaves the dashboard; one that dies shows as not seen.
        await _forget_heartbeat(self.scope)
        raise StopConsumer()

    async def _reconcile_forever(self) -> None:
        loop = asyncio.get_running_loop()
        next_heartbeat = loop.time()
        while True:
            try:
                if loop.time() >= next_heartbeat:
                    # Due again a period on, written or not: a heartbeat that fails at once (a
                    # database refusing writes) must not be retried in a loop with no pause.
                    next_heartbeat = loop.time() + self.heartbeat_interval
                    await heartbeat(self.scope, self.status())
                await asyncio.sleep(self.reconcile_interval)
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A database hiccup must not stop the worker: the next round retries.
                logger.exception("%s: reconcile failed", type(self).__name__)


@database_sync_to_async
def heartbeat(scope: dict, details: dict) -> None:
    from appliance.models import WorkerStatus

    WorkerStatus.objects.update_or_create(
        kind=scope["kind"],
        host=scope["host"],
        pid=scope["pid"],
        defaults={"last_seen": timezone.now(), "details": details},
    )


@database_sync_to_async
def _forget_heartbeat(scope: dict) -> None:
    from appliance.models import WorkerStatus

    WorkerStatus.objects.filter(kind=scope["kind"], host=scope["host"], pid=scope["pid"]).delete()


def worker_scope(kind: str, **options: Any) -> dict:
    return {
        "type": "worker",
        "kind": kind,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "options": options,
    }


async def run_worker(
    consumer_class: type[WorkerConsumer],
    scope: dict,
    *,
    stop: asyncio.Event | None = None,
) -> None:
    """Run one worker until SIGTERM/SIGINT (or ``stop`` is set), then drain it."""
    stop = stop or asyncio.Event()
    inbox: asyncio.Queue[dict] = asyncio.Queue()
    inbox.put_nowait(START)
    with _signals_set(stop):
        application = consumer_class.as_asgi()
        consumer = asyncio.create_task(application(scope, inbox.get, _no_send))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not consumer.done():
            inbox.put_nowait(STOP)
            await consumer
        stopper.cancel()
        consumer.result()  # a crash in startup surfaces to the command


async def _no_send(message: dict) -> None:
    raise RuntimeError(f"a worker has no client to send to: {message.get('type')}")


class _signals_set:
    """Context manager: SIGTERM and SIGINT set ``stop`` instead of killing the loop."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.installed: list[signal.Signals] = []

    def __enter__(self) -> _signals_set:
        loop = asyncio.get_running_loop()
        for signum in self.SIGNALS:
            try:
                loop.add_signal_handler(signum, self._request_stop, signum)
            except (RuntimeError, ValueError):
                continue  # not the main thread (e.g. under a test runner thread)
            self.installed.append(signum)
        return self

    def _request_stop(self, signum: int) -> None:
        logger.info("received %s, stopping", signal.Signals(signum).name)
        self.stop.set()

    def __exit__(self, *exc_info: object) -> None:
        loop = asyncio.get_running_loop()
        for signum in self.installed:
            loop.remove_signal_handler(signum)

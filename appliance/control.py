"""Sending control events from the web to the workers.

The channel layer is a doorbell: a lost event only delays the change until the
workers' next reconcile from the database, so failures are logged, not raised.
"""

from __future__ import annotations

import asyncio
import logging
import os

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

DNS_GROUP = "dns.control"
BOT_GROUP = "bot.control"


def ring(group: str | tuple[str, ...], event_type: str, **payload: object) -> None:
    """Tell every worker in ``group`` (or in each of several groups, in one trip to the
    channel layer) about an event, best effort."""
    layer = get_channel_layer()
    if layer is None:
        return
    groups = (group,) if isinstance(group, str) else group
    message = {"type": event_type, **payload}

    async def send() -> None:
        try:
            for name in groups:
                await layer.group_send(name, message)
        except Exception:
            logger.warning(
                "could not send %s to %s; workers will reconcile", event_type, group,
                exc_info=True,
            )  # fmt: skip

    loop = running_loop_of_thread()
    if loop is None:
        try:
            async_to_sync(send)()
        except RuntimeError:
            # Called from code an event loop runs in its own thread (a test driving a
            # browser, a coroutine calling sync code): ring from that loop instead.
            _keep(asyncio.get_running_loop().create_task, send)
        return
    # From a thread an event loop runs sync code in (a request, an RFC 2136 update in
    # rundns): hand the bell to that loop rather than wait for it to be rung.
    loop.call_soon_threadsafe(_keep, loop.create_task, send)


_ringing: set[asyncio.Task] = set()  # rung in the background: kept until done


def _keep(create_task, send) -> None:
    task = create_task(send())
    _ringing.add(task)
    task.add_done_callback(_ringing.discard)


def running_loop_of_thread() -> asyncio.AbstractEventLoop | None:
    """Return the event loop that handed this thread sync work (asgiref's sync_to_async),
    when it runs in this process; None elsewhere (a command, a test)."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    same_process = getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) == os.getpid()
    return loop if loop is not None and same_process and loop.is_running() else None

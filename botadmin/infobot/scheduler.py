"""Periodic and delayed jobs on the running loop, cancelled together on unload.

irc's own scheduler is thread-based, so the bot keeps its own on asyncio. Its time comes
from a Clock (the loop's by default), so tests can move time on instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

MINUTELY = 60.0
HOURLY = 3600.0
DAILY = 86400.0
WEEKLY = 604800.0

Job = Callable[[], Awaitable[None]]


class Clock(Protocol):
    """Time as the scheduler waits on it."""

    async def sleep(self, seconds: float) -> None:
        """Return once seconds have passed on this clock."""


class LoopClock:
    """The event loop's own time."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


LOOP_CLOCK = LoopClock()


class Scheduler:
    """One per plugin: ``cancel_all`` at teardown stops every job it started."""

    def __init__(self, owner: str = "", clock: Clock = LOOP_CLOCK) -> None:
        self.owner = owner
        self.clock = clock
        self._tasks: set[asyncio.Task] = set()
        self.failures = 0  # jobs that raised

    def every(self, period: float, job: Job, *, delay: float | None = None) -> asyncio.Task:
        """Run job every period seconds (first run after ``delay``, default one period)."""
        return self._spawn(self._repeat(period, job, period if delay is None else delay))

    def later(self, delay: float, job: Job) -> asyncio.Task:
        """Run job once, delay seconds from now."""
        return self._spawn(self._once(delay, job))

    def cancel_all(self) -> None:
        """Cancel every job started here, running or waiting."""
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _repeat(self, period: float, job: Job, delay: float) -> None:
        await self.clock.sleep(delay)
        while True:
            await self._run(job)
            await self.clock.sleep(period)

    async def _once(self, delay: float, job: Job) -> None:
        await self.clock.sleep(delay)
        await self._run(job)

    async def _run(self, job: Job) -> None:
        try:
            await job()
        except Exception:
            # A failing job must neither kill its schedule nor the bot.
            self.failures += 1
            log.exception("scheduled job %r of %s failed", job, self.owner or "bot")

"""A clock for the bot's scheduler that moves only when a test moves it."""

from __future__ import annotations

import asyncio
import heapq
import itertools

# Loop turns given to woken jobs to run up to their next wait; the jobs in these tests
# await nothing but the clock (and in-memory stores), so a few turns are ample.
SETTLE_TURNS = 20


class FakeClock:
    """Sleepers wake in deadline order as ``advance`` moves time past their deadlines."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._order = itertools.count()

    async def sleep(self, seconds: float) -> None:
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), wake))
        await wake

    @property
    def waiting(self) -> int:
        """Count the sleepers not cancelled: jobs still scheduled."""
        return sum(1 for *_, wake in self._sleepers if not wake.done())

    async def advance(self, seconds: float) -> None:
        """Move time on by seconds, letting every job due meanwhile run, in order."""
        target = self.now + seconds
        await settle()  # jobs just started reach their first wait
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, wake = heapq.heappop(self._sleepers)
            self.now = deadline
            if not wake.done():
                wake.set_result(None)
                await settle()
        self.now = target


async def settle() -> None:
    for _ in range(SETTLE_TURNS):
        await asyncio.sleep(0)

"""Channel logging: records, the sink interface and a batching writer task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LogRecord:
    network: str
    channel: str
    time: datetime
    nick: str
    kind: str
    text: str
    account: str | None = None
    msgid: str | None = None


class LogSink(Protocol):
    async def write(self, records: list[LogRecord]) -> None:
        """Store a batch; raise to have the whole batch retried later."""


Publish = Callable[[LogRecord], None]


class MemoryLogSink:
    """A LogSink kept in a list, for tests and for running without a database."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    async def write(self, records: list[LogRecord]) -> None:
        self.records.extend(records)


class LogWriter:
    """Buffers records and writes them in batches, on size or every ``interval`` seconds.

    A failing sink keeps its batch pending: received lines are retried, never dropped.
    """

    def __init__(
        self,
        sink: LogSink,
        publish: Publish | None = None,
        batch_size: int = 200,
        interval: float = 0.5,
    ) -> None:
        self.sink = sink
        self.publish = publish
        self.batch_size = batch_size
        self.interval = interval
        self.pending: list[LogRecord] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False

    def add(self, record: LogRecord) -> None:
        self.pending.append(record)
        if self.publish is not None:
            try:
                self.publish(record)
            except Exception:
                log.exception("log publish hook failed")
        if len(self.pending) >= self.batch_size:
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="infobot-log-writer")

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> bool:
        """Write everything pending; False (records kept) if the sink failed."""
        while self.pending:
            batch = self.pending[: self.batch_size]
            try:
                await self.sink.write(batch)
            except Exception:
                log.exception("log sink failed; %d lines kept for retry", len(self.pending))
                return False
            del self.pending[: len(batch)]
        return True

    async def stop(self) -> None:
        if self._task is not None:
            # Not cancelled: a batch cancelled mid-write may still commit in its thread,
            # and writing it again here would store it twice.
            self._stopping = True
            self._wake.set()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if not await self.flush():
            log.error("log sink still failing at shutdown; %d lines lost", len(self.pending))

"""Channel logging: records, the sink interface and a batching writer task."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
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


class LogJournal:
    """The lines received but not yet stored, in a file, so a crash loses none of them.

    Each line is appended (and handed to the OS) when it arrives; after every
    stored batch the file is rewritten with what is still pending. A process
    that dies between the two leaves the lines for the next start to replay.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def replay(self) -> list[LogRecord]:
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                fields = json.loads(line)
                records.append(
                    LogRecord(**{**fields, "time": datetime.fromisoformat(fields["time"])})
                )
            except (ValueError, TypeError, KeyError):
                log.warning("journal %s: skipping a damaged line", self.path)
        return records

    def append(self, record: LogRecord) -> None:
        self._file.write(_journal_line(record))
        self._file.flush()

    def rewrite(self, pending: list[LogRecord]) -> None:
        self._file.close()
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text("".join(map(_journal_line, pending)), encoding="utf-8")
        temporary.replace(self.path)
        self._file = self.path.open("a", encoding="utf-8")

    def close(self) -> None:
        self._file.close()


def _journal_line(record: LogRecord) -> str:
    return json.dumps({**asdict(record), "time": record.time.isoformat()}) + "\n"


class LogWriter:
    """Buffers records and writes them in batches, on size or every ``interval`` seconds.

    A failing sink keeps its batch pending: received lines are retried, never dropped;
    with a journal they also survive a crash of the process.
    """

    def __init__(
        self,
        sink: LogSink,
        publish: Publish | None = None,
        batch_size: int = 200,
        interval: float = 0.5,
        journal: LogJournal | None = None,
    ) -> None:
        self.sink = sink
        self.publish = publish
        self.batch_size = batch_size
        self.interval = interval
        self.journal = journal
        self.pending: list[LogRecord] = journal.replay() if journal else []
        if self.pending:
            log.info("replaying %d log lines left by the last run", len(self.pending))
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False

    def add(self, record: LogRecord) -> None:
        self.pending.append(record)
        if self.journal is not None:
            self.journal.append(record)
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
            if self.journal is not None:
                self.journal.rewrite(self.pending)
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
            kept = "kept in the journal" if self.journal else "lost"
            log.error("log sink still failing at shutdown; %d lines %s", len(self.pending), kept)
        if self.journal is not None:
            self.journal.close()

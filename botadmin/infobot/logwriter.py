"""Channel logging: records, the sink interface and a batching writer task."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from .protocol import fold

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
    # Read back from a journal: the run that died may have stored it just before.
    replayed: bool = False


@dataclass(frozen=True)
class Redaction:
    """The server deleted a message: the logged line with this msgid goes too."""

    network: str
    channel: str
    msgid: str


class LogSink(Protocol):
    async def write(self, records: list[LogRecord]) -> None:
        """Store a batch; raise to have the whole batch retried later.

        Only raise for failures worth retrying (a database down or locked): records
        that can never be stored are to be dropped, with a log line, so one of them
        does not hold up every line after it. Replayed records already stored are
        skipped, so a replay stores each line once.
        """

    async def redact(self, redactions: list[Redaction]) -> None:
        """Delete the stored lines with these msgids (IRCv3 REDACT); raise to retry."""


# Called after each stored batch, once per channel in it, with that channel's last line:
# a live tail woken by it reads the database and must find the lines already there.
Publish = Callable[[LogRecord], None]


class MemoryLogSink:
    """A LogSink kept in a list, for tests and for running without a database."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    async def write(self, records: list[LogRecord]) -> None:
        stored = {replace(r, replayed=False) for r in self.records}
        self.records.extend(
            r for r in records if not (r.replayed and replace(r, replayed=False) in stored)
        )

    async def redact(self, redactions: list[Redaction]) -> None:
        gone = {(r.network, fold(r.channel), r.msgid) for r in redactions}
        self.records = [
            r for r in self.records if (r.network, fold(r.channel), r.msgid) not in gone
        ]


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
        self._lock: int | None = None

    @classmethod
    def claim(cls, path: Path) -> LogJournal:
        """Take the first of path, path-2, path-3 … that no live process holds, and lock it.

        Several processes on a host may be given the same path (two runbot shards
        with the same networks): each keeps its own file, so none rewrites away
        another's pending lines, and a restart takes over the file of a dead one
        (the kernel drops a dead process's lock). Other dead ones' files are
        adopted as well, so their lines need not wait for as many restarts.
        """
        for candidate in _numbered(path):
            lock = _try_lock(candidate)
            if lock is not None:
                break
        journal = cls(candidate)
        journal._lock = lock
        for sibling in _siblings(path):
            if sibling != candidate:
                journal._adopt(sibling)
        return journal

    def _adopt(self, path: Path) -> None:
        lock = _try_lock(path)
        if lock is None:
            return  # alive: its lines are its own
        try:
            orphan = LogJournal(path)
            records = orphan.replay()
            orphan.close()
            for record in records:
                self.append(record)
            # Once they are in our file; dying in between only replays them twice,
            # and replayed lines already stored are skipped.
            path.unlink()
        finally:
            os.close(lock)
        if records:
            log.info("journal %s: adopted %d lines from %s", self.path, len(records), path)

    def replay(self) -> list[LogRecord]:
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                fields = json.loads(line)
                time = datetime.fromisoformat(fields["time"])
                records.append(LogRecord(**{**fields, "time": time, "replayed": True}))
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
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def _journal_line(record: LogRecord) -> str:
    fields = {k: v for k, v in asdict(record).items() if k != "replayed"}
    return json.dumps({**fields, "time": record.time.isoformat()}) + "\n"


def _numbered(path: Path) -> Iterator[Path]:
    yield path
    n = 2
    while True:
        yield path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1


def _siblings(path: Path) -> list[Path]:
    """Return the journals _numbered has made for path, that exist."""
    pattern = re.compile(rf"{re.escape(path.stem)}(-\d+)?{re.escape(path.suffix)}")
    if not path.parent.is_dir():
        return []
    return sorted(p for p in path.parent.iterdir() if pattern.fullmatch(p.name))


def _try_lock(journal: Path) -> int | None:
    """Lock the journal's lock file (not the journal: rewrite replaces it) exclusively."""
    journal.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(journal.with_name(journal.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


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
        # Applied after the pending lines are stored: the line redacted may be among them.
        self.redactions: list[Redaction] = []
        if self.pending:
            log.info("replaying %d log lines left by the last run", len(self.pending))
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False

    def add(self, record: LogRecord) -> None:
        self.pending.append(record)
        if self.journal is not None:
            self.journal.append(record)
        if len(self.pending) >= self.batch_size:
            self._wake.set()

    def redact(self, redaction: Redaction) -> None:
        self.redactions.append(redaction)
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
            self._announce(batch)
            if self.journal is not None:
                self.journal.rewrite(self.pending)
        return await self._apply_redactions()

    async def _apply_redactions(self) -> bool:
        if not self.redactions:
            return True
        batch = list(self.redactions)
        try:
            await self.sink.redact(batch)
        except Exception:
            log.exception("log sink failed to redact; %d redactions kept for retry", len(batch))
            return False
        del self.redactions[: len(batch)]
        self._announce(
            [LogRecord(r.network, r.channel, datetime.now(UTC), "", "redact", "", msgid=r.msgid)
             for r in batch]
        )  # fmt: skip
        return True

    def _announce(self, stored: list[LogRecord]) -> None:
        """Ring once per channel for a stored batch, not once per line: a reader needs one."""
        if self.publish is None:
            return
        last = {(record.network, record.channel): record for record in stored}
        for record in last.values():
            try:
                self.publish(record)
            except Exception:
                log.exception("log publish hook failed")

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

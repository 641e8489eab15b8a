import asyncio
from datetime import UTC, datetime

from botadmin.infobot.logwriter import LogRecord, LogWriter, MemoryLogSink


def record(text: str) -> LogRecord:
    return LogRecord("net", "#a", datetime.now(UTC), "ann", "message", text)


class FlakySink(MemoryLogSink):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def write(self, records: list[LogRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("database is locked")
        await super().write(records)


async def test_it_flushes_on_its_interval():
    sink = MemoryLogSink()
    writer = LogWriter(sink, interval=0.05)
    writer.start()
    writer.add(record("one"))
    await asyncio.sleep(0.3)
    assert [r.text for r in sink.records] == ["one"]
    await writer.stop()


async def test_it_flushes_as_soon_as_a_batch_is_full():
    sink = MemoryLogSink()
    writer = LogWriter(sink, batch_size=3, interval=3600)
    writer.start()
    for text in "abc":
        writer.add(record(text))
    await asyncio.sleep(0.05)
    assert [r.text for r in sink.records] == ["a", "b", "c"]
    await writer.stop()


async def test_it_keeps_lines_while_the_sink_fails_and_writes_them_later_in_order():
    sink = FlakySink(failures=2)
    writer = LogWriter(sink)
    writer.add(record("one"))
    assert not await writer.flush()
    writer.add(record("two"))
    assert not await writer.flush()
    assert await writer.flush()
    assert [r.text for r in sink.records] == ["one", "two"]


async def test_it_flushes_what_is_pending_when_stopped():
    sink = MemoryLogSink()
    writer = LogWriter(sink, interval=3600)
    writer.start()
    writer.add(record("last words"))
    await writer.stop()
    assert [r.text for r in sink.records] == ["last words"]


async def test_it_publishes_each_line_and_survives_a_failing_hook():
    seen = []

    def publish(rec: LogRecord) -> None:
        seen.append(rec.text)
        raise RuntimeError("websocket gone")

    writer = LogWriter(MemoryLogSink(), publish)
    writer.add(record("a"))
    writer.add(record("b"))
    assert seen == ["a", "b"]
    assert len(writer.pending) == 2


class ThreadedSink(MemoryLogSink):
    """Writes from a thread, as the database sink does: a write, once begun, completes."""

    async def write(self, records: list[LogRecord]) -> None:
        def slow_write() -> None:
            import time

            time.sleep(0.2)
            self.records.extend(records)

        await asyncio.to_thread(slow_write)


async def test_stopping_during_a_write_stores_each_line_once():
    sink = ThreadedSink()
    writer = LogWriter(sink, batch_size=2, interval=0.01)
    writer.start()
    for text in ("one", "two", "three"):
        writer.add(record(text))
    await asyncio.sleep(0.05)  # the first batch is being written
    await writer.stop()
    assert [r.text for r in sink.records] == ["one", "two", "three"]


async def test_lines_received_before_a_crash_are_replayed_from_the_journal(tmp_path):
    from botadmin.infobot.logwriter import LogJournal

    failing = FlakySink(failures=1000)  # the database is down when the process dies
    crashed = LogWriter(failing, journal=LogJournal(tmp_path / "journal.jsonl"))
    for text in ("one", "two"):
        crashed.add(record(text))
    assert not await crashed.flush()
    del crashed  # no stop(): the process died

    sink = MemoryLogSink()
    writer = LogWriter(sink, journal=LogJournal(tmp_path / "journal.jsonl"))
    writer.start()
    writer.add(record("three"))
    await writer.stop()
    assert [r.text for r in sink.records] == ["one", "two", "three"]
    assert sink.records[0].time.tzinfo is not None
    assert (tmp_path / "journal.jsonl").read_text() == ""


async def test_a_stored_line_is_not_replayed(tmp_path):
    from botadmin.infobot.logwriter import LogJournal

    sink = MemoryLogSink()
    writer = LogWriter(sink, journal=LogJournal(tmp_path / "journal.jsonl"))
    writer.add(record("stored"))
    assert await writer.flush()
    assert LogWriter(sink, journal=LogJournal(tmp_path / "journal.jsonl")).pending == []

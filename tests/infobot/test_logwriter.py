import asyncio
from dataclasses import replace
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


async def test_it_publishes_only_once_the_sink_has_stored_the_batch():
    sink = FlakySink(failures=1)
    stored_when_rung: list[tuple[str, list[str]]] = []

    def publish(rec: LogRecord) -> None:
        # What a live tail woken now would read from the database.
        stored_when_rung.append((rec.text, [r.text for r in sink.records]))

    writer = LogWriter(sink, publish)
    writer.add(record("a"))
    writer.add(record("b"))
    assert stored_when_rung == []
    assert not await writer.flush()  # not stored: nothing to ring for
    assert stored_when_rung == []
    assert await writer.flush()
    assert stored_when_rung == [("b", ["a", "b"])]


async def test_it_rings_once_per_channel_per_batch_and_survives_a_failing_hook():
    rung = []

    def publish(rec: LogRecord) -> None:
        rung.append((rec.channel, rec.text))
        raise RuntimeError("websocket gone")

    sink = MemoryLogSink()
    writer = LogWriter(sink, publish)
    for channel, text in [("#a", "1"), ("#b", "2"), ("#a", "3")]:
        writer.add(replace(record(text), channel=channel))
    assert await writer.flush()
    assert rung == [("#a", "3"), ("#b", "2")]
    assert [r.text for r in sink.records] == ["1", "2", "3"]


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


def test_two_live_processes_given_one_journal_name_keep_separate_files(tmp_path):
    from botadmin.infobot.logwriter import LogJournal

    first = LogJournal.claim(tmp_path / "journal.jsonl")
    second = LogJournal.claim(tmp_path / "journal.jsonl")
    second.append(record("second's"))
    second.rewrite([])  # second stored its lines: first's pending ones must not go with them
    first.append(record("first's"))
    assert (first.path.name, second.path.name) == ("journal.jsonl", "journal-2.jsonl")
    assert [r.text for r in first.replay()] == ["first's"]
    first.close()
    second.close()


def test_a_restart_takes_over_dead_processes_journals(tmp_path):
    from botadmin.infobot.logwriter import LogJournal

    dead = [LogJournal.claim(tmp_path / "journal.jsonl") for _ in range(3)]
    for journal, text in zip(dead, ("one", "two", "three"), strict=True):
        journal.append(record(text))
        journal.close()  # as the kernel does for a killed process
    restarted = LogJournal.claim(tmp_path / "journal.jsonl")
    writer = LogWriter(MemoryLogSink(), journal=restarted)
    assert [r.text for r in writer.pending] == ["one", "two", "three"]
    assert all(r.replayed for r in writer.pending)
    assert sorted(p.name for p in tmp_path.glob("*.jsonl")) == ["journal.jsonl"]
    restarted.close()

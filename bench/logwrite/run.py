"""Log writing: received lines per second the bot stores in the database.

    .venv/bin/python bench/logwrite/run.py [--lines 50000] [--db PATH]

Feeds the bot's real log writer (botadmin.infobot.logwriter.LogWriter) with
the database sink `runbot` uses (botadmin.bridge.DatabaseLogSink) on a fresh
SQLite database, at the rate lines arrive, and measures how many lines a
second reach the database and whether the writer kept up (nothing left
pending at the end). --db writes into a copy of a database made by
bench/logs/run.py --db PATH instead: the same channel with a million lines
and their search index already there. Target: at least 2,000 lines per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def setup(database: Path) -> None:
    os.environ.update(
        DATABASE_URL=f"sqlite:///{database}",
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="appliance.settings",
        APPLIANCE_VAR_DIR=str(database.parent),
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from botadmin.models import Channel, Network

    network, _ = Network.objects.get_or_create(name="bench", defaults={"host": "127.0.0.1"})
    Channel.objects.get_or_create(network=network, name="#bench")


async def feed(lines: int) -> tuple[float, int]:
    from botadmin.bridge import DatabaseLogSink
    from botadmin.infobot.logwriter import LogRecord, LogWriter

    writer = LogWriter(DatabaseLogSink())
    writer.start()
    started = time.perf_counter()
    for number in range(lines):
        writer.add(
            LogRecord(
                "bench",
                "#bench",
                datetime.now(UTC),
                f"nick{number % 50}",
                "message",
                f"line {number} of the benchmark, with some words in it",
                None,
                f"msg{number}",
            )
        )
        if number % 100 == 0:
            await asyncio.sleep(0)  # the IRC reader yields to the loop between reads
    await writer.stop()
    return time.perf_counter() - started, len(writer.pending)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--db", type=Path, help="a copy of this database (bench/logs --db)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "logs.sqlite3"
        if args.db:
            shutil.copyfile(args.db, database)
        setup(database)
        from botadmin.models import LogLine

        before = LogLine.objects.count()
        elapsed, pending = asyncio.run(feed(args.lines))
        stored = LogLine.objects.count() - before
    if before:
        print(f"written beside {before:,} lines already in the channel")
    rate = stored / elapsed
    print(f"lines received: {args.lines}, stored: {stored}, left pending: {pending}")
    print(f"elapsed: {elapsed:.2f} s -> {rate:,.0f} lines/s written")
    print(
        f"target: 2,000 lines/s -> {'met' if rate >= 2000 and stored == args.lines else 'NOT met'}"
    )


if __name__ == "__main__":
    main()

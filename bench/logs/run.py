"""Log pages on a big channel: a day page and search answers over a million lines.

    .venv/bin/python bench/logs/run.py [--lines 1000000] [--days 200] [--repeat 7] [--db PATH]

Builds (or, with --db pointing at an existing file, reuses) a SQLite database on the
embedded default settings, with one channel holding --lines lines spread over --days days,
inserted in bulk through the same triggers that keep the FTS5 index in sync. Then it times
requests through Django's test Client (the whole view, template included) and prints the
median of --repeat runs in ms, against the 200 ms target.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET_MS = 200
START = datetime(2024, 1, 1, tzinfo=UTC)
BATCH = 20_000


def configure(database: Path) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "appliance.settings",
            "DATABASE_URL": f"sqlite:///{database}",
            "SECRET_KEY": "bench-only-" + "x" * 50,
            "SECURE_SSL_REDIRECT": "0",
            "APPLIANCE_ENV_FILE": os.devnull,
            "APPLIANCE_VAR_DIR": str(database.parent),
            "LOG_LEVEL": "ERROR",
        }
    )
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    # Production serves hashed static names from the manifest that collectstatic writes.
    call_command("collectstatic", interactive=False, verbosity=0)


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(size)]


def rows(channel_id: int, count: int, days: int, rng: random.Random):
    words = vocabulary(rng)
    nicks = [f"user{i}" for i in range(300)]
    step = timedelta(days=days) / count
    for i in range(count):
        text = " ".join(rng.choices(words, k=rng.randint(3, 14)))
        if i % 100_000 == 0:
            text += " needle in the haystack"
        yield (
            channel_id,
            (START + step * i).isoformat(" "),
            rng.choice(nicks),
            "",
            "message",
            text,
            "",
        )


def populate(count: int, days: int) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from botadmin.models import Channel, Network

    call_command("migrate", verbosity=0)
    network = Network.objects.create(name="bench", host="irc.example.org")
    channel = Channel.objects.create(network=network, name="#bench")
    generated = rows(channel.pk, count, days, random.Random(1))
    started = time.perf_counter()
    sql = (
        "INSERT INTO botadmin_logline (channel_id, time, nick, account, kind, text, msgid) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)"
    )
    for done in range(0, count, BATCH):
        batch = [next(generated) for _ in range(min(BATCH, count - done))]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"inserted {count} lines in {time.perf_counter() - started:.1f} s", flush=True)


def median_ms(client, url: str, repeat: int) -> float:
    timings = []
    for _ in range(repeat + 1):  # the first run warms caches and is not counted
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(timings[1:])


def measure(days: int, repeat: int) -> list[tuple[str, float]]:
    from django.test import Client

    from botadmin.models import LogLine
    from botadmin.views.days import PAGE_SIZE

    client = Client(HTTP_HOST="localhost")
    last_page = -(-LogLine.objects.count() // days // PAGE_SIZE)
    middle = (START + timedelta(days=days // 2)).date().isoformat()
    cases = [
        ("day page (first page)", f"/logs/bench/bench/{middle}/"),
        ("day page (last page)", f"/logs/bench/bench/{middle}/?page={last_page}"),
        ("channel page (today)", "/logs/bench/bench/"),
        ("search: common word", "/logs/search/?network=bench&channel=bench&q=" + common_word()),
        ("search: rare phrase", '/logs/search/?network=bench&q="needle in the haystack"'),
        ("search: nick and word", "/logs/search/?network=bench&q=nick:user7+" + common_word()),
        ("search: no match", "/logs/search/?network=bench&q=zzzzzzzzzz"),
    ]
    return [(name, median_ms(client, url, repeat)) for name, url in cases]


def common_word() -> str:
    return vocabulary(random.Random(1))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--db", type=Path, help="reuse this database if it exists")
    args = parser.parse_args()
    if args.db:
        run(args.db, args)
        return
    # Without --db the database (and the static files) go with the temporary directory.
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as tmp:
        run(Path(tmp) / "logs.sqlite3", args)


def run(database: Path, args: argparse.Namespace) -> None:
    fresh = not database.exists()
    configure(database.resolve())
    if fresh:
        populate(args.lines, args.days)
    print(f"database {database} ({database.stat().st_size / 1e6:.0f} MB)")
    for name, ms in measure(args.days, args.repeat):
        verdict = "ok" if ms < TARGET_MS else "SLOW"
        print(f"{name:28} {ms:8.1f} ms  (target < {TARGET_MS} ms: {verdict})")


if __name__ == "__main__":
    main()

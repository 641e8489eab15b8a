"""Loading: 100,000 records from the database into a serving `rundns`.

    .venv/bin/python bench/loading/run.py [--records 100000]

Fills a fresh SQLite database (a temporary file) with one zone of N records
through the change service, as loadzone does (timed too), then starts `manage.py rundns` on it and times how long it takes from the
process start until it says it is serving, and how long the zone build
itself takes in-process; prints both and the server's resident memory.
Target: under 3 seconds for 100,000 records.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def setup_django(database: Path) -> None:
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


def fill(records: int) -> float:
    """Load one zone of ``records`` records as loadzone does; return how long that took."""
    from dnsadmin.changes import import_zone
    from dnsadmin.zonefile import parse_zone_text

    lines = [
        "$ORIGIN load.example.",
        "$TTL 3600",
        "@ IN SOA ns1 hostmaster 1 3600 900 1209600 3600",
        "@ IN NS ns1",
    ]
    lines += [
        f"host{i} 300 IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(records - 1)
    ]
    started = time.perf_counter()
    import_zone(parse_zone_text("\n".join(lines) + "\n"), via="bench")
    return time.perf_counter() - started


def time_build() -> float:
    from dnsadmin import snapshot
    from dnsadmin.models import Zone

    started = time.perf_counter()
    snapshot.served_zone(Zone.objects.get())
    return time.perf_counter() - started


def time_rundns(database: Path) -> tuple[float, int]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "DEBUG": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rundns", "--port", "0"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stderr:
            if re.search(r"serving \d+ zones", line):
                elapsed = time.perf_counter() - started
                return elapsed, rss_kib(process.pid)
        raise SystemExit("rundns exited before serving")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "load.sqlite3"
        setup_django(database)
        loaded = fill(args.records)
        build = time_build()
        startup, rss = time_rundns(database)
    print(f"records: {args.records}")
    print(f"import through the change service (parse, rules, rows, history): {loaded:.2f} s")
    print(f"zone build from the database (in-process): {build:.2f} s")
    print(f"rundns start to serving (process start, Django setup, load, listen): {startup:.2f} s")
    print(f"rundns resident memory while serving: {rss / 1024:.0f} MiB")
    print(f"target: under 3 s -> {'met' if startup < 3 else 'NOT met'}")


if __name__ == "__main__":
    main()

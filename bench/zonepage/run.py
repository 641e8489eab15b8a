"""The zone page of a big zone: first, middle and last page, a filter, and the export.

    .venv/bin/python bench/zonepage/run.py [--records 100000]

Fills a fresh SQLite database (a temporary file) with one zone of N records through the
change service, then asks the web pages through Django's test client, signed in as staff,
and prints each page's time, cold (first view after a change) and warm, and its ratio to
the admin's change list of the same records (the reference: one SQL page). Target: every
zone page under 200 ms for 100,000 records.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "loading"))

from run import fill, setup_django  # noqa: E402 (bench/loading/run.py)


def timed(client, path: str, repeat: int = 3) -> tuple[float, float]:
    """Return (first, median of the rest) in milliseconds for GET path."""
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        response = client.get(path)
        if response.streaming:  # the whole download, not only its start
            b"".join(response.streaming_content)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return times[0], statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(Path(tmp) / "bench.sqlite3")
        from django.contrib.auth import get_user_model
        from django.test import Client

        from dnsadmin.models import Zone

        fill(args.records)
        zone = Zone.objects.get()
        user = get_user_model().objects.create_user("bench", is_staff=True, is_superuser=True)
        client = Client(SERVER_NAME="localhost")
        client.force_login(user)
        base = f"/dns/zones/{zone.pk}/"
        last = (args.records + 249) // 250
        reference = timed(client, f"/admin/dnsadmin/record/?zone__id__exact={zone.pk}")[1]
        print(f"{args.records} records; admin change list (reference): {reference:.0f} ms")
        for label, path in [
            ("page 1", base),
            ("middle page", f"{base}?page={last // 2}"),
            ("last page", f"{base}?page={last}"),
            ("filter host12*", f"{base}?name=host12*"),
            ("filter data 10.0.3.7", f"{base}?name=10.0.3.7"),
            ("export", f"{base}export/"),
        ]:
            cold, warm = timed(client, path)
            print(f"{label:24} cold {cold:7.0f} ms  warm {warm:7.0f} ms  ({warm / reference:.1f}x)")


if __name__ == "__main__":
    main()

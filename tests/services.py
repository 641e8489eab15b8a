"""Run a command against throwaway PostgreSQL and Redis servers on loopback.

    python tests/services.py -- python -m pytest -m scaleout

Starts a PostgreSQL cluster (initdb into a temporary folder, trust on loopback)
and a Redis server, each on a free port, exports DATABASE_URL and REDIS_URL to
the command, and stops both afterwards whatever the command did. `make test`
uses it for the suite's second run; the Debian packages come from `make test`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A loopback port free for both UDP and TCP right now (DNS servers want both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise SystemExit(f"PostgreSQL's {name} is missing: install the Debian package postgresql")
    return found[-1]


def as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; run it as the package's postgres user."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def wait_until(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not start within {seconds:.0f} s")


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def postgresql(folder: Path):
    data, port = folder / "pgdata", free_port()
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        as_postgres(
            [
                postgres_bin("initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    server = subprocess.Popen(
        as_postgres(
            [
                postgres_bin("postgres"),
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-k",
                str(folder),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: accepts(port), 30, "PostgreSQL")
        yield f"postgres://postgres@127.0.0.1:{port}/appliance"
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextmanager
def redis(folder: Path):
    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: accepts(port), 15, "Redis")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=15)


def main(argv: list[str]) -> int:
    if "--" not in argv:
        raise SystemExit(__doc__)
    command = argv[argv.index("--") + 1 :]
    with tempfile.TemporaryDirectory(prefix="appliance-services-") as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o755)
        with postgresql(folder) as database_url, redis(folder) as redis_url:
            env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
            print(f"services: DATABASE_URL={database_url} REDIS_URL={redis_url}", flush=True)
            return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

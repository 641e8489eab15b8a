"""manage.py rundns: serve every zone in the database over UDP and TCP."""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from appliance.worker import run_worker, worker_scope
from dnsadmin.worker import DNSWorker


def address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


class Command(BaseCommand):
    help = "Serve every enabled zone in the database over UDP and TCP (default 127.0.0.1:5300)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--address",
            action="append",
            type=address,
            dest="addresses",
            help="listen on this IPv4 or IPv6 address (repeatable)",
        )
        parser.add_argument("--port", type=int, default=5300)
        parser.add_argument(
            "--workers", type=int, default=1, help="processes sharing the port with SO_REUSEPORT"
        )
        parser.add_argument(
            "--reuse-port",
            action="store_true",
            help=("bind with SO_REUSEPORT so that several rundns processes can share the port"),
        )

    def handle(
        self,
        *args,
        addresses: list[str] | None,
        port: int,
        workers: int,
        reuse_port: bool,
        **options,
    ) -> None:
        addresses = addresses or ["127.0.0.1"]
        if not 0 <= port <= 65535:
            raise CommandError(f"--port must be between 0 and 65535, not {port}")
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if workers > 1:
            self.run_several(workers, addresses, port)
            return
        scope = worker_scope(
            "dns",
            addresses=addresses,
            port=port,
            reuse_port=reuse_port,
            reconcile_interval=settings.RECONCILE_INTERVAL,
        )
        try:
            asyncio.run(run_worker(DNSWorker, scope))
        except OSError as error:
            raise CommandError(f"cannot listen on port {port}: {error}") from None

    def run_several(self, workers: int, addresses: list[str], port: int) -> None:
        """Fork ``workers`` processes on one port; stop them all on SIGTERM/SIGINT."""
        argv = [sys.executable, sys.argv[0], "rundns", "--port", str(port), "--reuse-port"]
        for item in addresses:
            argv += ["--address", item]
        children = [subprocess.Popen(argv) for _ in range(workers)]

        def forward(signum: int, frame: object) -> None:
            for child in children:
                child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        codes = [child.wait() for child in children]
        if any(codes):
            raise CommandError(f"a DNS worker failed (exit codes {codes})")

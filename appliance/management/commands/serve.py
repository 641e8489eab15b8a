"""Run the web server and every worker in one foreground command (`make run`)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from django.core.management import get_commands
from django.core.management.base import BaseCommand

# Workers started when their command exists; later parts of the project add theirs.
WORKER_COMMANDS = ("rundns", "runbot")
RESTART_DELAYS = (1, 2, 5, 10, 30)


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    failures: int = 0
    restart_at: float = 0.0
    started_at: float = field(default=0.0)

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv)
        self.started_at = time.monotonic()

    def reap(self, now: float) -> int | None:
        """Exit code if the child just died (and schedule its restart), else None."""
        if self.process is None or self.process.poll() is None:
            return None
        code = self.process.returncode
        self.process = None
        # A child that ran for a minute had a transient failure: reset its backoff.
        self.failures = 0 if now - self.started_at > 60 else self.failures + 1
        self.restart_at = now + RESTART_DELAYS[min(self.failures, len(RESTART_DELAYS) - 1)]
        return code


class Command(BaseCommand):
    help = "Start daphne and every worker (rundns, runbot), restart them when they die; Ctrl-C stops all."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bind", default="127.0.0.1", help="address for the web server")
        parser.add_argument("--port", type=int, default=8000, help="port for the web server")

    def handle(self, *args, bind: str, port: int, **options) -> None:
        children = self.children(bind, port)
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for child in children:
            child.start()
        self.stdout.write(
            f"Serving on http://{bind}:{port}/ ({', '.join(c.name for c in children)})"
        )
        while not stopping:
            self.supervise(children)
            time.sleep(0.5)
        self.stop_all(children)

    def children(self, bind: str, port: int) -> list[Child]:
        manage = [sys.executable, "manage.py"]
        web = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            bind,
            "-p",
            str(port),
            "appliance.asgi:application",
        ]
        available = get_commands()
        workers = [Child(name, [*manage, name]) for name in WORKER_COMMANDS if name in available]
        return [Child("web", web), *workers]

    def supervise(self, children: list[Child]) -> None:
        now = time.monotonic()
        for child in children:
            code = child.reap(now)
            if code is not None:
                self.stderr.write(
                    f"{child.name} exited with {code}; restarting in {child.restart_at - now:.0f}s"
                )
            elif child.process is None and now >= child.restart_at:
                child.start()

    def stop_all(self, children: list[Child]) -> None:
        running = [child.process for child in children if child.process is not None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        self.stdout.write("Stopped.")

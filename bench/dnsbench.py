"""What the DNS benchmarks share: the bench zone, query files, servers under test, dnsperf.

Every benchmark runs our server (`manage.py rundns` on a fresh SQLite database) and a reference
(BIND 9, Unbound) in the same run, one at a time, alternating rounds so that load from elsewhere
on a shared machine falls on both, and prints each server's figures as a ratio to the reference
of the same round.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shlex
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
ORIGIN = "bench.example."
NAMES = 10_000
READY = re.compile(r"serving \d+ zones? on ")


def zone_text() -> str:
    lines = [
        "$TTL 300",
        "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300",
        "@ IN NS ns1",
        "ns1 IN A 192.0.2.1",
        "sub IN NS ns1.sub",
        "sub IN NS ns.elsewhere.example.",
        "ns1.sub IN A 192.0.2.53",
        "*.wild IN A 192.0.2.99",
    ]
    for i in range(NAMES):
        kind = i % 5
        if kind == 0:
            lines.append(f"h{i} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
            lines.append(f"h{i} IN AAAA 2001:db8::{i:x}")
        elif kind == 1:
            lines.append(f"h{i} IN MX 10 h{i - 1}")
        elif kind == 2:
            lines.append(f'h{i} IN TXT "host number {i}"')
        elif kind == 3:
            lines.append(f"h{i} IN CNAME h{i - 3}")
        else:
            lines.append(f"_sip._udp.h{i} IN SRV 10 5 5060 h{i - 4}")
            lines.append(f"h{i} IN A 10.9.{i >> 8 & 255}.{i & 255}")
    return "\n".join(lines) + "\n"


def question(rng: random.Random) -> tuple[str, str]:
    """Return one question of the mix, and its kind (what the authority answers)."""
    i = rng.randrange(NAMES)
    roll = rng.random()
    base = i - i % 5
    if roll < 0.45:
        return f"h{base}.{ORIGIN} {rng.choice(['A', 'AAAA'])}", "positive"
    if roll < 0.55:
        return f"h{base + 1}.{ORIGIN} MX", "positive"
    if roll < 0.60:
        return f"h{base + 2}.{ORIGIN} TXT", "positive"
    if roll < 0.70:
        return f"h{base + 3}.{ORIGIN} A", "cname"
    if roll < 0.75:
        return f"_sip._udp.h{base + 4}.{ORIGIN} SRV", "positive"
    if roll < 0.85:
        return f"nx{i}.{ORIGIN} A", "nxdomain"
    if roll < 0.90:
        return f"h{base}.{ORIGIN} TXT", "nodata"
    if roll < 0.95:
        return f"x{i}.wild.{ORIGIN} A", "wildcard"
    return f"host{i}.sub.{ORIGIN} A", "referral"


def queries(count: int = 20_000, seed: int = 1, kinds: Sequence[str] | None = None) -> str:
    """Return dnsperf input: the mix of positive, CNAME, NXDOMAIN, NODATA, wildcard and
    referral questions, or only the given kinds of it."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < count:
        text, kind = question(rng)
        if kinds is None or kind in kinds:
            out.append(text)
    return "\n".join(out) + "\n"


def unique_lines(text: str) -> str:
    """Return each question once, in first-seen order (one pass warms a cache)."""
    return "\n".join(dict.fromkeys(text.splitlines())) + "\n"


def free_port() -> int:
    """Return a port free for UDP and TCP on 127.0.0.1 (servers bind both)."""
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


def pinned(cpus: str | None, command: list[str]) -> list[str]:
    return ["taskset", "-c", cpus, *command] if cpus else command


def named_conf(directory: Path, port: int, zone_file: Path, stats_port: int) -> str:
    """Return the configuration of BIND as the bench zone's authoritative server, its
    counters on HTTP."""
    return f"""
statistics-channels {{ inet 127.0.0.1 port {stats_port} allow {{ 127.0.0.1; }}; }};
options {{
    directory "{directory}";
    pid-file "{directory}/named-{port}.pid";
    session-keyfile "{directory}/session-{port}.key";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    minimal-responses yes;
    dnssec-validation no;
}};
controls {{ }};
zone "{ORIGIN}" {{ type primary; file "{zone_file}"; }};
"""


def named_command(conf: Path, threads: int) -> list[str]:
    return ["named", "-g", "-n", str(threads), "-c", str(conf)]


def bind_server(work: Path, name: str, cpus: str | None, threads: int = 1) -> Server:
    """Return BIND 9 serving the bench zone file (work/zone) with ``threads`` threads."""
    port, stats_port = free_port(), free_port()
    conf = work / f"named-{port}.conf"
    conf.write_text(named_conf(work, port, work / "zone", stats_port))
    command = pinned(cpus, named_command(conf, threads))
    return Server(name, command, port, stats_port=stats_port)


def bind_queries(server: Server) -> int:
    """Return the queries BIND has received so far, from its statistics channel."""
    url = f"http://127.0.0.1:{server.stats_port}/xml/v3/server"
    with urllib.request.urlopen(url, timeout=5) as response:
        tree = ElementTree.parse(response)
    counter = tree.find(".//counters[@type='opcode']/counter[@name='QUERY']")
    return int(counter.text) if counter is not None and counter.text else 0


def knot_conf(directory: Path, port: int, zone_file: Path) -> str:
    """Return the configuration of Knot DNS serving the bench zone with one UDP, one TCP and
    one background worker (a single core's worth), nothing written back to disk."""
    return f"""
server:
    rundir: "{directory}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{directory}"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "{directory}"
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off
zone:
  - domain: {ORIGIN}
    file: "{zone_file}"
"""


def knot_server(work: Path, name: str, cpus: str | None) -> Server:
    """Return Knot DNS (knotd) serving the bench zone file (work/zone)."""
    port = free_port()
    directory = work / f"knot-{port}"
    directory.mkdir()
    conf = directory / "knot.conf"
    conf.write_text(knot_conf(directory, port, work / "zone"))
    return Server(name, pinned(cpus, ["knotd", "-c", str(conf)]), port)


def rss(process: subprocess.Popen) -> int:
    """Return the resident memory, in bytes, of a server's process group (its workers too)."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        with suppress(OSError, ValueError):
            if os.getpgid(int(status.parent.name)) != process.pid:
                continue
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def unbound_conf(directory: Path, port: int, upstream_port: int) -> str:
    """Return the configuration of Unbound as the reference cache: one thread, no validation,
    no logging, forwarding every name to the bench's authoritative server on loopback (which
    Unbound by default refuses to query, hence do-not-query-localhost)."""
    return f"""
server:
    num-threads: 1
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{directory}"
    pidfile: "{directory}/unbound-{port}.pid"
    use-syslog: no
    logfile: ""
    verbosity: 0
    module-config: "iterator"
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@{upstream_port}
"""


def unbound_server(work: Path, cpus: str | None, upstream: Server) -> Server:
    port = free_port()
    conf = work / f"unbound-{port}.conf"
    conf.write_text(unbound_conf(work, port, upstream.port))
    return Server("unbound", pinned(cpus, ["unbound", "-d", "-c", str(conf)]), port)


# dnsperf -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    qps: float
    latency: float  # seconds, average
    lost: int
    rcodes: str  # dnsperf's "Response codes" line: a fast server of errors shows there
    upstream: int | None = None  # queries a resolver sent upstream meanwhile (cache misses)

    def __str__(self) -> str:
        misses = "" if self.upstream is None else f"; {self.upstream} sent upstream"
        return (
            f"{self.qps:.0f} q/s, {self.latency * 1000:.3f} ms average, {self.lost} lost; "
            f"{self.rcodes}{misses}"
        )


@dataclass(frozen=True)
class Load:
    """How dnsperf drives a server: its cores, clients (sockets), threads, queries in flight."""

    cpus: str | None
    clients: int = 4
    threads: int = 1
    outstanding: int = 200

    def arguments(self) -> list[str]:
        return ["-c", str(self.clients), "-T", str(self.threads), "-q", str(self.outstanding)]


def dnsperf(port: int, query_file: Path, load: Load, *, seconds: int = 0) -> Measurement:
    """Run dnsperf for ``seconds``, or once through the file when seconds is 0."""
    limit = ["-l", str(seconds)] if seconds else ["-n", "1"]
    command = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(query_file)]
    out = subprocess.run(
        pinned(load.cpus, [*command, *limit, *load.arguments()]),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return Measurement(
        qps=float(_field(out, r"Queries per second:\s+([\d.]+)")),
        latency=float(_field(out, r"Average Latency \(s\):\s+([\d.]+)")),
        lost=int(_field(out, r"Queries lost:\s+(\d+)")),
        rcodes=_field(out, r"Response codes:\s+(.*)"),
    )


def _field(output: str, pattern: str) -> str:
    found = re.search(pattern, output)
    if found is None:
        raise RuntimeError(f"dnsperf printed no {pattern!r}:\n{output}")
    return found.group(1).strip()


# servers -------------------------------------------------------------------------------


@dataclass
class Server:
    """One server under test, started fresh for each measurement.

    ready_lines: how many "serving N zones" lines rundns must log (one per worker) before it
    counts as ready; 0 for servers that only have to answer. warm_file: questions asked once
    before measuring (a resolver's cache). settle: waited for after warming, until the server
    is in its steady state. load: how dnsperf drives it, when not the bench's default.
    stats_port: BIND's statistics channel.
    """

    name: str
    command: list[str]
    port: int
    env: dict[str, str] | None = None
    ready_lines: int = 0
    warm_file: Path | None = None
    settle: Callable[[], None] | None = None
    load: Load | None = None
    stats_port: int | None = None
    startup_times: list[float] = field(default_factory=list)


def of_tree(server: Server, tree: Path, name: str) -> Server:
    """Return server (rundns) as another source tree runs it (`git archive REV | tar -x -C
    TREE`, its .venv linked): that tree's manage.py, on a port of its own, named name."""
    port = free_port()
    own = str(ROOT / "manage.py")
    command = [str(tree / "manage.py") if part == own else part for part in server.command]
    command[command.index("--port") + 1] = str(port)
    return replace(server, name=name, command=command, port=port, startup_times=[])


def cpu_seconds(pid: int) -> float:
    """Return the CPU time a process has used (user and system), all its threads together."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cache_written_behind(database: Path, timeout: float = 90.0) -> Callable[[], None]:
    """Return a settle step for rundns: wait until its cache is written behind (the
    row count has held still for 2 s), which it does a slice at a time after a cold start."""

    def settle() -> None:
        started = time.monotonic()
        count, since = -1, started
        while time.monotonic() - started < timeout:
            with sqlite3.connect(database) as db:
                now = db.execute("SELECT COUNT(*) FROM dnsadmin_cacheentry").fetchone()[0]
            if now != count:
                count, since = now, time.monotonic()
            elif count and time.monotonic() - since >= 2:
                break
            time.sleep(0.5)
        print(
            f"    settled: {count} cache entries written behind in {time.monotonic() - started:.1f} s"
        )

    return settle


@contextmanager
def running(server: Server, work: Path) -> Iterator[subprocess.Popen]:
    """Run the server until answering; stop it with its whole process group afterwards.

    A new session, so that workers forked by `rundns --workers N` are stopped with it and
    nothing else on the (shared) machine is touched.
    """
    log = work / f"{server.name}.log"
    started = time.monotonic()
    with log.open("w") as stderr:
        process = subprocess.Popen(
            server.command, cwd=work, env=server.env, stdout=subprocess.DEVNULL,
            stderr=stderr, start_new_session=True,
        )  # fmt: skip
    try:
        wait_ready(server, process, log)
        server.startup_times.append(time.monotonic() - started)
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # Forked workers may outlive their parent by a moment: the group goes with certainty.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_ready(server: Server, process: subprocess.Popen, log: Path, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {process.returncode}:\n{tail(log)}")
        logged = len(READY.findall(log.read_text(errors="replace")))
        if logged >= server.ready_lines and answers(server.port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{server.name} did not come up:\n{tail(log)}")


def answers(port: int) -> bool:
    probe = subprocess.run(
        ["dig", "@127.0.0.1", "-p", str(port), f"ns1.{ORIGIN}", "A", "+time=1", "+tries=1"],
        capture_output=True,
        text=True,
    )
    return "status: NOERROR" in probe.stdout


def tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# the Django site behind rundns ---------------------------------------------------------


class Site:
    """A fresh SQLite database as an operator would set it up: with the bench zone loaded
    from zone_file, or with no zone at all (a resolver, answering from its cache).
    ``database_url``: an empty database elsewhere (PostgreSQL) to use instead of SQLite."""

    def __init__(self, work: Path, zone_file: Path | None, database_url: str | None = None) -> None:
        self.work = work
        self.database = work / "bench.sqlite3"
        self.base_env = {
            key: value for key, value in os.environ.items() if not key.startswith("REDIS")
        }
        self.base_env.update(
            DATABASE_URL=database_url or f"sqlite:///{self.database}",
            DEBUG="1",
            APPLIANCE_VAR_DIR=str(work),
            DJANGO_SETTINGS_MODULE="appliance.settings",
        )
        self.manage(["migrate", "--noinput", "-v", "0"])
        self.loadzone_seconds: float | None = None
        if zone_file is not None:
            started = time.monotonic()
            self.manage(["loadzone", str(zone_file), "--origin", ORIGIN])
            self.loadzone_seconds = time.monotonic() - started

    def manage(self, arguments: list[str]) -> None:
        subprocess.run(
            [PYTHON, "manage.py", *arguments], cwd=ROOT, env=self.base_env, check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip

    def env(self, **overrides: str) -> dict[str, str]:
        return {**self.base_env, **overrides}

    def rundns(self, port: int, *options: str) -> list[str]:
        """Return the command line; manage.py's path is absolute (servers run in the work dir)."""
        return [PYTHON, str(ROOT / "manage.py"), "rundns", "--port", str(port), *options]


def rundns_servers(
    site: Site,
    cpus: str | None,
    workers: int = 1,
    options: Sequence[str] = (),
    label: str = "rundns",
) -> list[Server]:
    """Return rundns as an operator gets it (query log capped at 1000 entries/s) and with
    the log off, named ``label`` and ``label``-nolog."""
    options = [*options, "--workers", str(workers)] if workers > 1 else list(options)
    servers = []
    for name, per_second in ((label, "1000"), (f"{label}-nolog", "0")):
        port = free_port()
        servers.append(
            Server(
                name, pinned(cpus, site.rundns(port, *options)), port,
                env=site.env(QUERY_LOG_MAX_PER_SECOND=per_second), ready_lines=workers,
            )
        )  # fmt: skip
    return servers


def prepare(
    work: Path, *, load_zone: bool = True, kinds: Sequence[str] | None = None,
    database_url: str | None = None,
) -> Site:  # fmt: skip
    """Write under work the zone file, the query mix (only ``kinds`` of it if given) and a
    database (SQLite, or the empty one at ``database_url``), with the zone loaded unless told
    otherwise."""
    (work / "zone").write_text(zone_text())
    (work / "queries").write_text(queries(kinds=kinds))
    return Site(work, work / "zone" if load_zone else None, database_url)


def single_core_servers(
    site: Site, cores: tuple[str, str], *, standalone: bool = False
) -> list[Server]:
    """Return benchmark 1's contenders: ours pinned to the first core and BIND 9 (one thread) to the
    second, dnsperf on the other one; the engine's standalone runner (no Django) if asked."""
    ours, theirs = cores
    servers = rundns_servers(site, ours)
    if standalone:
        port = free_port()
        command = [
            PYTHON,
            "-m",
            "dnsadmin.names",
            "serve",
            "--zone",
            f"{ORIGIN}={site.work / 'zone'}",
        ]
        servers.append(
            Server("standalone", pinned(ours, [*command, "--port", str(port)]), port,
                   env=site.env(PYTHONPATH=str(ROOT)))
        )  # fmt: skip
    for server in servers:
        server.load = Load(theirs)
    bind = bind_server(site.work, "bind", theirs)
    bind.load = Load(ours)
    return [*servers, bind]


# rounds and the report -----------------------------------------------------------------


def options(doc: str, cores: str) -> argparse.ArgumentParser:
    """Return the options every DNS bench takes: its docstring's first line, a measurement's length,
    the rounds and the two cores (``cores`` says what each is for)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of a measurement")
    parser.add_argument("--rounds", type=int, default=2, help="report each server's median")
    parser.add_argument("--cores", type=core_pair, default=("0", "1"), help=f"{cores} (0,1)")
    return parser


def core_pair(text: str) -> tuple[str, str]:
    first, comma, second = text.partition(",")
    if not (first.isdigit() and comma and second.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not two cores, as in 0,1")
    return first, second


@contextmanager
def workspace(prefix: str) -> Iterator[Path]:
    """Yield a temporary directory for a bench's files, databases and server logs."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


Measure = Callable[[Server], Measurement]


def throughput(
    work: Path, query_file: Path, seconds: int, load: Load, upstream: Server | None = None
) -> Measure:
    """Start the server, warm it if it has a warm file, and drive it for ``seconds`` with its
    own load or else ``load``; with an upstream (BIND), count what reached it meanwhile."""

    def measure(server: Server) -> Measurement:
        driving = server.load or load
        with running(server, work):
            if server.warm_file is not None:
                # Gently, so that warming measures nothing and loses nothing.
                warming = Load(driving.cpus, clients=1, outstanding=20)
                print(f"    warming: {dnsperf(server.port, server.warm_file, warming)}")
            if server.settle is not None:
                server.settle()
            if upstream is None:
                return dnsperf(server.port, query_file, driving, seconds=seconds)
            before = bind_queries(upstream)
            result = dnsperf(server.port, query_file, driving, seconds=seconds)
            return replace(result, upstream=bind_queries(upstream) - before)

    return measure


def rounds(servers: Sequence[Server], count: int, measure: Measure) -> dict[str, list]:
    """Measure each server once per round, rounds one after the other."""
    results: dict[str, list[Measurement]] = {server.name: [] for server in servers}
    for number in range(1, count + 1):
        for server in servers:
            print(f"round {number}, {server.name}: {shlex.join(server.command)}", flush=True)
            result = measure(server)
            print(f"    {result}", flush=True)
            results[server.name].append(result)
    return results


def report(title: str, results: dict[str, list[Measurement]], reference: str) -> dict:
    """Print a table of medians and of ratios to the reference of the same round (a round's
    servers ran seconds apart, under similar outside load); returns the median ratios."""
    print(f"\n{title}")
    print(f"{'server':<18}{'q/s':>10}{'avg ms':>10}   ratio to {reference} (median; rounds)")
    medians = {}
    for name, runs in results.items():
        ratios = [run.qps / ref.qps for run, ref in zip(runs, results[reference], strict=True)]
        medians[name] = statistics.median(ratios)
        median_qps = statistics.median(run.qps for run in runs)
        median_ms = statistics.median(run.latency for run in runs) * 1000
        each = ", ".join(f"{ratio:.2f}" for ratio in ratios)
        print(f"{name:<18}{median_qps:>10.0f}{median_ms:>10.3f}   {medians[name]:.2f} ({each})")
    return medians


def startup_report(site: Site, servers: Sequence[Server]) -> None:
    if site.loadzone_seconds is not None:
        print(f"\nloadzone (zone file into SQLite): {site.loadzone_seconds:.2f} s")
    for server in servers:
        if server.startup_times:
            times = ", ".join(f"{seconds:.2f}" for seconds in server.startup_times)
            print(f"{server.name}: process start to answering: {times} s")

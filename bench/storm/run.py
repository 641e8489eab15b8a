"""A random-subdomain storm with a legitimate client beside it (issue 16): rundns against BIND 9.

    .venv/bin/python bench/storm/run.py [--seconds 10] [--rounds 1] [--rate 15000] [--probe 200]
        [--storm zone|forwarded|both]

A storm process offers --rate queries a second for unique random names, each new so that no
kept answer helps, sent at that rate whatever comes back (dnsperf slows down when answers stop
coming), while a probe in this process asks --probe queries a second for a few names of our
zone, as a legitimate client would (each asked once before the storm: a client's usual names).
Two storms: ``zone``, names under our own zone (every one an NXDOMAIN worked out from the
zone), and ``forwarded``, names under a victim domain that another BIND serves on loopback,
which the server under test forwards to (the water-torture attack on resolvers: every question
costs an upstream exchange). An answer counts when it comes within a second. The server under
test is pinned to the first of --cores; the storm, the probe and the upstream BIND to the
second. Printed for each server: how much of the storm it answered, and the probe's answer rate
and latency (average, median, 99th percentile). Target: the probe answered >= 99% by rundns.

rundns is measured as an operator gets it (query log on, at most 1000 entries a second), BIND 9
as `named -n 1` serving the same zone (and forwarding the rest), in the same run, one after
the other. On a shared machine the figures are noisy: compare the servers within a round.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import select
import socket
import statistics
import string
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dnsbench  # noqa: E402

PROBE_NAMES = 20  # names that exist, asked in turn: a client's usual few
TIMEOUT = 1.0  # seconds an answer may take to still count
STORM_SOCKETS = 4  # source ports the storm comes from, as dnsperf's clients
RCODES = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}


@dataclass(frozen=True)
class Probe:
    sent: int
    latencies: list[float]  # seconds, of the answers received

    @property
    def answered(self) -> float:
        return len(self.latencies) / self.sent if self.sent else 0.0

    @property
    def average(self) -> float:
        return statistics.fmean(self.latencies) if self.latencies else float("nan")

    def __str__(self) -> str:
        if not self.latencies:
            return f"probe: 0 of {self.sent} answered"
        ordered = sorted(self.latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"probe: {self.answered:.2%} of {self.sent} answered, "
            f"{statistics.fmean(ordered) * 1000:.2f} ms average, "
            f"{statistics.median(ordered) * 1000:.2f} ms median, {p99 * 1000:.2f} ms p99"
        )


@dataclass(frozen=True)
class Storm:
    sent: int
    answered: int  # within TIMEOUT
    rcodes: dict[str, int]
    seconds: float

    def __str__(self) -> str:
        share = self.answered / self.sent if self.sent else 0.0
        codes = ", ".join(f"{name} {count}" for name, count in sorted(self.rcodes.items()))
        return (
            f"storm: {self.sent / self.seconds:.0f} q/s offered, {share:.1%} answered "
            f"within {TIMEOUT:.0f} s ({codes})"
        )


@dataclass(frozen=True)
class Result:
    storm: Storm
    probe: Probe

    def __str__(self) -> str:
        return f"{self.storm}\n    {self.probe}"


VICTIM = "victim.example."


def wire_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p for p in name.encode().split(b".") if p) + b"\0"


def send_storm(port: int, origin: str, rate: int, seconds: float, cpu: str, out) -> None:
    """Offer rate questions a second for new random names under origin for seconds, from a
    few sockets, whatever comes back; send a Storm down out."""
    os.sched_setaffinity(0, {int(cpu)})
    rng = random.Random(7)
    letters = (string.ascii_lowercase + string.digits).encode()
    tail = wire_name(origin) + b"\0\1\0\1"
    header = b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(STORM_SOCKETS)]
    for sock in socks:
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
    sent_at: dict[tuple[int, int], float] = {}
    answered, rcodes, sent = 0, Counter(), 0
    start = time.monotonic()
    total = int(rate * seconds)
    while True:
        now = time.monotonic()
        due = min(total, int((now - start) * rate))
        while sent < due:
            label = bytes(rng.choices(letters, k=12))
            index, qid = sent % STORM_SOCKETS, (sent // STORM_SOCKETS) & 0xFFFF
            socks[index].send(qid.to_bytes(2, "big") + header + b"\x0c" + label + tail)
            sent_at[index, qid] = now
            sent += 1
        for index, sock in enumerate(socks):
            while True:
                try:
                    response = sock.recv(4096)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                asked = sent_at.pop((index, int.from_bytes(response[:2], "big")), None)
                if asked is not None and time.monotonic() - asked <= TIMEOUT:
                    answered += 1
                    rcode = response[3] & 0xF
                    rcodes[RCODES.get(rcode, str(rcode))] += 1
        if sent >= total and now > start + seconds + TIMEOUT:
            break
        select.select(socks, [], [], 0.001)
    for sock in socks:
        sock.close()
    out.send(Storm(sent, answered, dict(rcodes), seconds))


def upstream_server(work: Path, cpus: str) -> dnsbench.Server:
    """Return BIND 9 serving the victim's zone, which the forwarded storm asks about (and the
    bench zone, which the readiness check asks)."""
    port = dnsbench.free_port()
    zone = work / "victim.zone"
    zone.write_text(
        "$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n@ IN NS ns1\n"
        "ns1 IN A 192.0.2.1\n"
    )
    conf = work / f"named-{port}.conf"
    conf.write_text(
        f"""
options {{
    directory "{work}";
    pid-file "{work}/named-{port}.pid";
    session-keyfile "{work}/session-{port}.key";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
}};
controls {{ }};
zone "{VICTIM}" {{ type primary; file "{zone}"; }};
zone "{dnsbench.ORIGIN}" {{ type primary; file "{work / "zone"}"; }};
"""
    )
    command = dnsbench.pinned(cpus, dnsbench.named_command(conf, 1))
    return dnsbench.Server("upstream", command, port)


def forwarding_bind(work: Path, cpus: str, upstream: dnsbench.Server) -> dnsbench.Server:
    """Return BIND 9 serving the bench zone and forwarding every other name to upstream."""
    server = dnsbench.bind_server(work, "bind", cpus)
    conf = Path(server.command[-1])
    forwarding = (
        "recursion yes;\n    allow-recursion { 127.0.0.1; };\n"
        f"    forwarders {{ 127.0.0.1 port {upstream.port}; }};\n    forward only;"
    )
    conf.write_text(conf.read_text().replace("recursion no;", forwarding))
    return server


def probe_queries() -> list[bytes]:
    """Return the probe's questions (names that exist), without their IDs."""
    questions = []
    for i in range(PROBE_NAMES):
        name = f"h{i * 5}.{dnsbench.ORIGIN}".encode()
        labels = b"".join(bytes([len(label)]) + label for label in name.split(b".") if label)
        questions.append(b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\0\0\1\0\1")
    return questions


def probe(port: int, rate: int, seconds: float) -> Probe:
    """Ask rate questions a second for seconds; return how many were answered, how fast."""
    questions = probe_queries()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    interval = 1.0 / rate
    start = time.monotonic()
    total = int(rate * seconds)
    sent = 0
    while True:
        now = time.monotonic()
        if sent < total and now >= start + sent * interval:
            qid = sent & 0xFFFF
            sent_at[qid] = now
            sock.send(qid.to_bytes(2, "big") + questions[sent % len(questions)])
            sent += 1
            continue
        if sent >= total and (not sent_at or now > start + seconds + TIMEOUT):
            break
        wait = start + sent * interval - now if sent < total else 0.05
        readable, _, _ = select.select([sock], [], [], max(0.0, wait))
        while readable:
            try:
                response = sock.recv(4096)
            except BlockingIOError:
                break
            asked = sent_at.pop(int.from_bytes(response[:2], "big"), None)
            if asked is not None and time.monotonic() - asked <= TIMEOUT:
                latencies.append(time.monotonic() - asked)
    sock.close()
    return Probe(total, latencies)


def measure(work: Path, origin: str, rate: int, probe_rate: int, seconds: int):
    """Return the measurement of one server: the storm from another process, the probe here."""

    def run(server: dnsbench.Server) -> Result:
        cpu = server.load.cpus if server.load else "0"
        with dnsbench.running(server, work):
            probe(server.port, probe_rate, PROBE_NAMES / probe_rate)  # its names asked before
            receiving, sending = multiprocessing.Pipe(duplex=False)
            flood = multiprocessing.Process(
                target=send_storm, args=(server.port, origin, rate, seconds, cpu, sending)
            )
            flood.start()
            time.sleep(1.0)  # the storm under way before the probe starts
            probed = probe(server.port, probe_rate, seconds - 2)
            storm_result = receiving.recv()
            flood.join()
        return Result(storm_result, probed)

    return run


def contenders(site: dnsbench.Site, cores, upstream: dnsbench.Server | None):
    """Return rundns and BIND on the first core, forwarding to upstream when there is one."""
    ours, theirs = cores
    options = ["--forwarder", f"127.0.0.1:{upstream.port}"] if upstream else []
    rundns = dnsbench.rundns_servers(site, ours, options=options)[0]
    if upstream is None:
        bind = dnsbench.bind_server(site.work, "bind", ours)
    else:
        bind = forwarding_bind(site.work, ours, upstream)
    for server in (rundns, bind):
        server.load = dnsbench.Load(theirs)
    return [rundns, bind]


def storm(site: dnsbench.Site, args, kind: str) -> dict[str, list[Result]]:
    """Measure both servers under one kind of storm, --rounds times."""
    work = site.work
    origin = VICTIM if kind == "forwarded" else dnsbench.ORIGIN
    run = measure(work, origin, args.rate, args.probe, args.seconds)
    with contextlib.ExitStack() as stack:
        upstream = None
        if kind == "forwarded":
            upstream = upstream_server(work, args.cores[1])
            stack.enter_context(dnsbench.running(upstream, work))
        servers = contenders(site, args.cores, upstream)
        results: dict[str, list[Result]] = {server.name: [] for server in servers}
        for number in range(1, args.rounds + 1):
            for server in servers:
                print(f"{kind} storm, round {number}, {server.name}", flush=True)
                result = run(server)
                print(f"    {result}", flush=True)
                results[server.name].append(result)
    return results


def report(kind: str, args, results: dict[str, list[Result]]) -> None:
    print(f"\n{kind} storm at {args.rate} q/s offered, probe at {args.probe} q/s")
    print(f"{'server':<10}{'storm answered':>16}{'probe answered':>16}{'probe avg ms':>14}")
    for name, runs in results.items():
        storm_share = statistics.median(r.storm.answered / max(1, r.storm.sent) for r in runs)
        answered = statistics.median(r.probe.answered for r in runs)
        latency = statistics.median(r.probe.average for r in runs)
        print(f"{name:<10}{storm_share:>16.1%}{answered:>16.2%}{latency * 1000:>14.2f}")


def main() -> None:
    parser = dnsbench.options(__doc__, "server,storm and probe")
    parser.set_defaults(rounds=1)
    parser.add_argument("--rate", type=int, default=15_000, help="storm queries a second")
    parser.add_argument("--probe", type=int, default=200, help="probe queries a second")
    parser.add_argument("--storm", choices=("zone", "forwarded", "both"), default="both")
    args = parser.parse_args()
    kinds = ("zone", "forwarded") if args.storm == "both" else (args.storm,)
    os.sched_setaffinity(0, {int(args.cores[1])})  # the probe beside the storm
    with dnsbench.workspace("bench-storm-") as work:
        site = dnsbench.prepare(work)
        results = {kind: storm(site, args, kind) for kind in kinds}
    for kind in kinds:
        report(kind, args, results[kind])
    print("target: the probe answered >= 99% by rundns")


if __name__ == "__main__":
    main()

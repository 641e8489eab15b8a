"""Authoritative throughput: our server against BIND 9 on the same zone, driven by dnsperf.

    .venv/bin/python bench/authoritative/run.py [--seconds 10] [--server-cmd "CMD {zone} {port}"]

Each server is pinned to its own core with taskset (ours on the first of --cores, BIND on the
second) and measured alone, dnsperf running on the other core. Prints queries per second,
average latency and the ratio ours/BIND.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "bench.example."
NAMES = 10_000


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


def queries(count: int = 20_000, seed: int = 1) -> str:
    """A mix of positive, CNAME, NXDOMAIN, NODATA, wildcard and referral questions."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        i = rng.randrange(NAMES)
        roll = rng.random()
        base = i - i % 5
        if roll < 0.45:
            out.append(f"h{base}.{ORIGIN} {rng.choice(['A', 'AAAA'])}")
        elif roll < 0.55:
            out.append(f"h{base + 1}.{ORIGIN} MX")
        elif roll < 0.60:
            out.append(f"h{base + 2}.{ORIGIN} TXT")
        elif roll < 0.70:
            out.append(f"h{base + 3}.{ORIGIN} A")
        elif roll < 0.75:
            out.append(f"_sip._udp.h{base + 4}.{ORIGIN} SRV")
        elif roll < 0.85:
            out.append(f"nx{i}.{ORIGIN} A")
        elif roll < 0.90:
            out.append(f"h{base}.{ORIGIN} TXT")
        elif roll < 0.95:
            out.append(f"x{i}.wild.{ORIGIN} A")
        else:
            out.append(f"host{i}.sub.{ORIGIN} A")
    return "\n".join(out) + "\n"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def named_conf(directory: Path, port: int) -> str:
    return f"""
options {{
    directory "{directory}";
    pid-file "{directory}/named.pid";
    session-keyfile "{directory}/session.key";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    minimal-responses yes;
    dnssec-validation no;
}};
controls {{ }};
zone "{ORIGIN}" {{ type primary; file "zone"; }};
"""


def wait_for(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    """Until the server answers over UDP (dig), or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        probe = subprocess.run(
            ["dig", "@127.0.0.1", "-p", str(port), f"ns1.{ORIGIN}", "A", "+time=1", "+tries=1"],
            capture_output=True,
            text=True,
        )
        if "status: NOERROR" in probe.stdout:
            return
        time.sleep(0.2)
    raise RuntimeError("server did not come up")


def dnsperf(port: int, query_file: Path, seconds: int, core: int) -> tuple[float, float]:
    out = subprocess.run(
        ["taskset", "-c", str(core), "dnsperf", "-s", "127.0.0.1", "-p", str(port),
         "-d", str(query_file), "-l", str(seconds), "-c", "4", "-q", "200"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    qps = float(re.search(r"Queries per second:\s+([\d.]+)", out).group(1))
    latency = float(re.search(r"Average Latency \(s\):\s+([\d.]+)", out).group(1))
    lost = re.search(r"Queries lost:\s+(\d+)", out).group(1)
    print(f"    dnsperf: {qps:.0f} q/s, {latency * 1000:.3f} ms average, {lost} lost")
    return qps, latency


def measure(
    name: str, command: list[str], port: int, work: Path, args, client_core: int
) -> tuple[float, float]:
    print(f"{name}: {shlex.join(command)}")
    process = subprocess.Popen(
        command, cwd=work, stdout=subprocess.DEVNULL, stderr=(work / f"{name}.log").open("w")
    )
    try:
        wait_for(port, process)
        return dnsperf(port, work / "queries", args.seconds, client_core)
    finally:
        process.terminate()
        process.wait(timeout=10)


def commands(args, work: Path, ours_port: int) -> tuple[list[str], list[str], int, int]:
    """Both servers' command lines, pinned: ours to the first of --cores, BIND to the second."""
    template = args.server_cmd or (
        f"{sys.executable} -m dnsadmin.names serve --zone {{origin}}={{zone}} --port {{port}}"
    )
    ours = shlex.split(template.format(zone=work / "zone", origin=ORIGIN, port=ours_port))
    ours_core, bind_core = (int(core) for core in args.cores.split(","))
    bind = ["named", "-g", "-n", "1", "-c", str(work / "named.conf")]
    return (
        ["taskset", "-c", str(ours_core), *ours],
        ["taskset", "-c", str(bind_core), *bind],
        ours_core,
        bind_core,
    )


def compare(args, work: Path) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    ours_port, bind_port = free_port(), free_port()
    (work / "named.conf").write_text(named_conf(work, bind_port))
    ours_cmd, bind_cmd, ours_core, bind_core = commands(args, work, ours_port)
    ours, bind = [], []
    for _ in range(args.rounds):
        # One server at a time, dnsperf on the other core; rounds alternate, so load from
        # elsewhere on a shared machine falls on both.
        ours.append(measure("ours", ours_cmd, ours_port, work, args, client_core=bind_core))
        bind.append(measure("bind", bind_cmd, bind_port, work, args, client_core=ours_core))
    return ours, bind


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="report each server's median")
    parser.add_argument("--server-cmd", help="our server; {zone}, {origin}, {port} filled in")
    parser.add_argument("--cores", default="0,1", help="ours,BIND: each server's core")
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = str(ROOT)
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        work = Path(tmp)
        (work / "zone").write_text(zone_text())
        (work / "queries").write_text(queries())
        ours_runs, bind_runs = compare(args, work)
    ours, bind = statistics.median_low(ours_runs), statistics.median_low(bind_runs)
    # Each round's ratio compares runs made a few seconds apart, under similar outside load.
    ratios = [o[0] / b[0] for o, b in zip(ours_runs, bind_runs, strict=True)]
    print(f"\n{'server':<8}{'q/s':>12}{'avg latency ms':>18}   (median of {args.rounds})")
    print(f"{'ours':<8}{ours[0]:>12.0f}{ours[1] * 1000:>18.3f}")
    print(f"{'BIND 9':<8}{bind[0]:>12.0f}{bind[1] * 1000:>18.3f}")
    print(f"ratio ours/BIND: {statistics.median(ratios):.2f} (rounds: ", end="")
    print(", ".join(f"{ratio:.2f}" for ratio in ratios) + ")")


if __name__ == "__main__":
    main()

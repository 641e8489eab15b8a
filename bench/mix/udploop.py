"""The UDP path of DNSServer per datagram, in process, without the network (issue 16).

    .venv/bin/python bench/mix/udploop.py [--hosts 5000] [--queries 200000] [--batch 16]
        [--rounds 5] [--questions mix|lower|random|unique] [--against /tmp/old/server.py]
        [--root DIR] [--against-root DIR] [--profile first|second] [--flood N]
        [--recursion] [--worker-gc]

Feeds the mix of mixzone.py (random case, 30% unique nonexistent names) to the server's UDP
reader through a socket stand-in that hands out prepared datagrams in batches of --batch and
takes the responses, with the query log listening as in rundns. Prints µs per datagram for the
first pass (fresh server: answers worked out) and the second (kept answers), median of the
rounds (and the best second pass: the least disturbed on a shared machine), and the CPU time
per datagram beside them (less disturbed by other work on the machine than the elapsed time).
--questions picks the questions as run.py's parts do: the mix (the default), the zone's
questions in lowercase or in random case, or unique nonexistent names only. --flood N sends N
more unique nonexistent names between the passes (not counted), so that the second pass is
the one after a random-subdomain flood, and prints the growth of the resident memory.

With --against, the server.py given (e.g. HEAD's, from `git archive`) is measured in the same
rounds, interleaved. --root measures the engine (dnsadmin.names) of another checkout instead
of this one's; with --against-root DIR, this checkout's engine and DIR's are each measured in
a fresh process per round, interleaved (e.g. DIR from `git archive HEAD dnsadmin bench | tar
-x -C DIR`). --profile first|second prints cProfile's view of that pass instead.
--recursion serves with rundns's default chain (recursion on, the loopback client allowed to
use it: dnsperf's case in run.py) instead of our zones alone; --worker-gc sets the collector as
the DNS worker does before serving (what was loaded frozen, the young generation collected
every dnsadmin.worker.GC_YOUNG new objects).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import importlib.util
import os
import pstats
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path


def engine_root(argv: list[str]) -> Path:
    """Return the checkout whose engine is measured: --root's, read before it is imported."""
    if "--root" in argv[:-1]:
        return Path(argv[argv.index("--root") + 1]).resolve()
    return Path(__file__).resolve().parents[2]


sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(engine_root(sys.argv)))

import dns.message  # noqa: E402
import mixzone  # noqa: E402
from fakesocket import Datagrams  # noqa: E402

from dnsadmin.names import server as current  # noqa: E402
from dnsadmin.names.catalog import ZoneCatalog  # noqa: E402
from dnsadmin.names.chain import AUTHORITATIVE, ChainConfig, ResolverChain  # noqa: E402
from dnsadmin.names.zone import zone_from_text  # noqa: E402


def load_server_module(path: Path):
    """Import another server.py as a module of the dnsadmin.names package."""
    spec = importlib.util.spec_from_file_location("dnsadmin.names._measured_server", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def wire_queries(lines: list[str]) -> list[bytes]:
    rng = random.Random(3)
    out = []
    for line in lines:
        name, rdtype = line.split()
        query = dns.message.make_query(name, rdtype)
        query.id = rng.getrandbits(16)
        out.append(query.to_wire())
    return out


async def one_pass(server, queries: list[bytes], batch: int) -> float:
    """Feed every query; return µs per datagram (with the event loop's turns between batches)."""
    sock = Datagrams(queries, batch)
    started = time.perf_counter()
    while sock.refill():
        server._on_udp_readable(sock)
        await asyncio.sleep(0)
    while server._backlog or server._tasks or server._runs or server._waiting:
        await asyncio.sleep(0)
    elapsed = time.perf_counter() - started
    if sock.sent < len(queries) * 0.99:
        raise RuntimeError(f"only {sock.sent} of {len(queries)} answered")
    return elapsed / len(queries) * 1e6


def flood_queries(count: int) -> list[bytes]:
    """Return count queries for unique random names right below the zone's origin, spliced
    into one query's bytes (dnspython would take minutes to make a million)."""
    rng = random.Random(18)
    query = wire_queries([f"{'x' * 12}.{mixzone.ORIGIN} A"])[0]
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789"
    return [query[:13] + bytes(rng.choices(alphabet, k=12)) + query[25:] for _ in range(count)]


GC_YOUNG = 50_000  # dnsadmin.worker's (not imported: it needs Django)


def serving(module, zone_text: str, on_query, args: argparse.Namespace):
    """Return a fresh server of module for the zone, its chain and collector set as asked."""
    catalog = ZoneCatalog([zone_from_text(zone_text, mixzone.ORIGIN)])
    config = ChainConfig() if args.recursion else AUTHORITATIVE
    server = module.DNSServer(
        ResolverChain(catalog, config), on_query=on_query, log_per_second=1000
    )
    server._loop = asyncio.get_running_loop()
    server._refill_log_budget()
    if args.worker_gc:
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG, 10, 10)
    return server


async def measure(
    module, zone_text: str, queries: list[bytes], args: argparse.Namespace,
    flood: list[bytes] = (),
) -> tuple[float, ...]:  # fmt: skip
    """Return µs per datagram for a fresh server's first and second pass (after the flood,
    if any), elapsed then CPU."""
    batch = args.batch
    log: list = []
    server = serving(module, zone_text, lambda *event: log.append(event), args)
    try:
        passes = []
        for number in range(2):
            if number and flood:
                before = resident()
                await one_pass(server, flood, batch)
                print(
                    f"RSS +{(resident() - before) / 2**20:.1f} MB after the flood", file=sys.stderr
                )
            cpu = time.process_time()
            elapsed = await one_pass(server, queries, batch)
            passes.append((elapsed, (time.process_time() - cpu) / len(queries) * 1e6))
        return passes[0][0], passes[1][0], passes[0][1], passes[1][1]
    finally:
        server._refill.cancel()


def resident() -> int:
    """Return the process's resident memory in bytes."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def questions(kind: str, count: int, hosts: int) -> list[str]:
    """Return count question lines of a part of run.py: the mix, the zone's questions in
    lowercase or random case (over and over, in a random order), or unique nonexistent names."""
    if kind == "mix":
        return mixzone.mix(count, hosts=hosts)
    if kind == "unique":
        return mixzone.mix(count, seed=17, case=False, unique_share=1.0, hosts=hosts)
    rng = random.Random(16)
    known = mixzone.known_questions(hosts)
    rng.shuffle(known)
    lines = (known * (count // len(known) + 1))[:count]
    return lines if kind == "lower" else [mixzone.random_case(line, rng) for line in lines]


def in_another_process(root: Path, args: argparse.Namespace) -> tuple[float, ...]:
    """Return one round's figures (see measure) for the engine of root, in a fresh process."""
    command = [
        sys.executable, __file__, "--root", str(root), "--rounds", "1", "--machine",
        "--hosts", str(args.hosts), "--queries", str(args.queries), "--batch", str(args.batch),
        "--questions", args.questions, "--flood", str(args.flood),
        *(["--recursion"] if args.recursion else []), *(["--worker-gc"] if args.worker_gc else []),
    ]  # fmt: skip
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    print(done.stderr, end="", file=sys.stderr)
    output = done.stdout
    return tuple(float(figure) for figure in output.split()[-4:])


async def profile(module, zone_text: str, queries: list[bytes], args: argparse.Namespace) -> None:
    batch, first = args.batch, args.profile == "first"
    server = serving(module, zone_text, lambda *event: None, args)
    if not first:
        await one_pass(server, queries, batch)
    profiler = cProfile.Profile()
    profiler.enable()
    await one_pass(server, queries, batch)
    profiler.disable()
    server._refill.cancel()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--questions", choices=("mix", "lower", "random", "unique"), default="mix")
    parser.add_argument("--against", type=Path, help="another server.py, measured alongside")
    parser.add_argument("--root", type=Path, help="measure the engine of this checkout")
    parser.add_argument("--against-root", type=Path, help="another checkout, measured alongside")
    parser.add_argument("--machine", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", choices=("first", "second"), help="profile this pass")
    parser.add_argument("--flood", type=int, default=0, help="unique names between the passes")
    parser.add_argument("--recursion", action="store_true", help="rundns's default chain")
    parser.add_argument("--worker-gc", action="store_true", help="the worker's collector")
    args = parser.parse_args()
    if args.against_root:
        here = Path(__file__).resolve().parents[2]
        compare(
            {
                "current": lambda: in_another_process(here, args),
                "against": lambda: in_another_process(args.against_root, args),
            },
            args.rounds,
        )
        return
    zone_text = mixzone.zone_text(args.hosts)
    queries = wire_queries(questions(args.questions, args.queries, args.hosts))
    if args.profile:
        module = load_server_module(args.against) if args.against else current
        asyncio.run(profile(module, zone_text, queries, args))
        return
    modules = {"current": current}
    if args.against:
        modules["against"] = load_server_module(args.against)
    runs = {
        name: lambda module=module: asyncio.run(
            measure(module, zone_text, queries, args, flood_queries(args.flood))
        )
        for name, module in modules.items()
    }
    if args.machine:
        print(*runs["current"]())
        return
    compare(runs, args.rounds)


def compare(runs: dict, rounds: int) -> None:
    """Run each contender once a round, interleaved; print each round and the medians."""
    results: dict[str, list[tuple[float, ...]]] = {name: [] for name in runs}
    for number in range(rounds):
        for name, run in runs.items():
            figures = run()
            results[name].append(figures)
            first, second, first_cpu, second_cpu = figures
            print(
                f"round {number + 1} {name}: {first:.2f} / {second:.2f} µs "
                f"(CPU {first_cpu:.2f} / {second_cpu:.2f})",
                flush=True,
            )
    for name, each in results.items():
        first, second, first_cpu, second_cpu = (
            statistics.median(f) for f in zip(*each, strict=True)
        )
        best = min(figures[1] for figures in each)
        print(
            f"{name:<8} first pass {first:.2f} µs/datagram, second pass {second:.2f} "
            f"(median of {len(each)}; best second pass {best:.2f}); "
            f"CPU {first_cpu:.2f} / {second_cpu:.2f}"
        )


if __name__ == "__main__":
    main()

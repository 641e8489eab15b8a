"""The UDP path of DNSServer per datagram, in process, without the network (issue 16).

    .venv/bin/python bench/mix/udploop.py [--hosts 5000] [--queries 200000] [--batch 16]
        [--rounds 5] [--against /tmp/old/server.py] [--profile first|second]

Feeds the mix of mixzone.py (random case, 30% unique nonexistent names) to the server's UDP
reader through a socket stand-in that hands out prepared datagrams in batches of --batch and
takes the responses, with the query log listening as in rundns. Prints µs per datagram for the
first pass (fresh server: answers worked out) and the second (kept answers), median of the
rounds (and the best second pass: the least disturbed on a shared machine); with --against, the server.py given (e.g. HEAD's, from `git archive`) is measured in
the same rounds, interleaved. --profile first|second prints cProfile's view of that pass instead.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import dns.message  # noqa: E402
import mixzone  # noqa: E402

from dnsadmin.names import server as current  # noqa: E402
from dnsadmin.names.catalog import ZoneCatalog  # noqa: E402
from dnsadmin.names.chain import AUTHORITATIVE, ResolverChain  # noqa: E402
from dnsadmin.names.zone import zone_from_text  # noqa: E402

CLIENT = ("127.0.0.1", 40000)


class Datagrams:
    """A UDP socket stand-in: recvfrom hands out the next prepared query (BlockingIOError at
    the end of a batch, as a drained socket), sendto counts the responses."""

    def __init__(self, queries: list[bytes], batch: int) -> None:
        self.queries, self.batch = queries, batch
        self.next = self.end = 0
        self.sent = 0

    def refill(self) -> bool:
        self.end = min(self.next + self.batch, len(self.queries))
        return self.next < self.end

    def recvfrom(self, size: int) -> tuple[bytes, tuple[str, int]]:
        if self.next >= self.end:
            raise BlockingIOError
        self.next += 1
        return self.queries[self.next - 1], CLIENT

    def sendto(self, data: bytes, address) -> int:
        self.sent += 1
        return len(data)

    def fileno(self) -> int:
        return 1_000_000  # never a real descriptor: only compared with 0


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
    while server._backlog or server._tasks or server._waiting:
        await asyncio.sleep(0)
    elapsed = time.perf_counter() - started
    if sock.sent < len(queries) * 0.99:
        raise RuntimeError(f"only {sock.sent} of {len(queries)} answered")
    return elapsed / len(queries) * 1e6


async def measure(module, zone_text: str, queries: list[bytes], batch: int) -> tuple[float, float]:
    """Return µs per datagram for a fresh server's first and second pass."""
    catalog = ZoneCatalog([zone_from_text(zone_text, mixzone.ORIGIN)])
    log: list = []
    server = module.DNSServer(
        ResolverChain(catalog, AUTHORITATIVE),
        on_query=lambda *event: log.append(event),
        log_per_second=1000,
    )
    server._loop = asyncio.get_running_loop()
    server._refill_log_budget()
    try:
        return (await one_pass(server, queries, batch), await one_pass(server, queries, batch))
    finally:
        server._refill.cancel()


async def profile(module, zone_text: str, queries: list[bytes], batch: int, first: bool) -> None:
    catalog = ZoneCatalog([zone_from_text(zone_text, mixzone.ORIGIN)])
    server = module.DNSServer(
        ResolverChain(catalog, AUTHORITATIVE), on_query=lambda *event: None, log_per_second=1000
    )
    server._loop = asyncio.get_running_loop()
    server._refill_log_budget()
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
    parser.add_argument("--against", type=Path, help="another server.py, measured alongside")
    parser.add_argument("--profile", choices=("first", "second"), help="profile this pass")
    args = parser.parse_args()
    zone_text = mixzone.zone_text(args.hosts)
    queries = wire_queries(mixzone.mix(args.queries, hosts=args.hosts))
    if args.profile:
        module = load_server_module(args.against) if args.against else current
        asyncio.run(profile(module, zone_text, queries, args.batch, args.profile == "first"))
        return
    modules = {"current": current}
    if args.against:
        modules["against"] = load_server_module(args.against)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in modules}
    for number in range(args.rounds):
        for name, module in modules.items():
            first, second = asyncio.run(measure(module, zone_text, queries, args.batch))
            results[name].append((first, second))
            print(f"round {number + 1} {name}: {first:.2f} / {second:.2f} µs", flush=True)
    for name, each in results.items():
        first = statistics.median(f for f, _ in each)
        second = statistics.median(s for _, s in each)
        best = min(s for _, s in each)
        print(
            f"{name:<8} first pass {first:.2f} µs/datagram, second pass {second:.2f} "
            f"(median of {len(each)}; best second pass {best:.2f})"
        )


if __name__ == "__main__":
    main()

"""CPU per datagram of the UDP path of rundns on this bench's question mix, in process (issue 12).

    .venv/bin/python bench/authoritative/hitloop.py [--against TREE] [--do] [--log 1000]
        [--rounds 3] [--passes 5] [--batch 64]

The repeated-question benchmark (run.py) is bound by what one core does per datagram, and a
ratio to BIND on a shared machine is noise; this measures that work alone. Each tree (this
checkout, and with --against another one: the worktree of an older commit, `git worktree add`)
builds its chain and server as its rundns does (DNS cookies on and the signed-message claims
where the tree has them), in a process of its own; the 20,000 questions of dnsbench.queries
(with the DO bit: --do, from the zone signed) are fed through a socket stand-in in batches of
--batch, enough passes to keep every answer, then --passes timed ones. Printed per round, the
trees interleaved: process time per datagram (µs) of the kept-answer passes, median and best.
The kernel's share (recvfrom, sendto: most of a query's cost on loopback) is not in it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from fakesocket import Datagrams  # noqa: E402  (before the tree measured is on the path)


def child(args: argparse.Namespace) -> None:
    """Measure the tree this process imports from (sys.path set by main)."""
    os.environ.update(DJANGO_SETTINGS_MODULE="appliance.settings", DEBUG="1")
    import django

    django.setup()
    import dns.message
    import dnsbench

    queries = []
    for number, line in enumerate(dnsbench.queries().splitlines()):
        name, rdtype = line.split()
        query = dns.message.make_query(name, rdtype, want_dnssec=args.do)
        query.id = number & 0xFFFF
        queries.append(query.to_wire())
    server = make_server(dnsbench, args)
    print(" ".join(f"{figure:.3f}" for figure in asyncio.run(passes(server, queries, args))))


def make_server(dnsbench, args: argparse.Namespace):
    from dnsadmin.names import server as module
    from dnsadmin.names.catalog import ZoneCatalog
    from dnsadmin.names.chain import ResolverChain
    from dnsadmin.names.zone import zone_from_text
    from dnsadmin.querylog import QueryRecorder

    zone = zone_from_text(dnsbench.zone_text(), dnsbench.ORIGIN)
    if args.do:
        sign(zone)
    catalog = ZoneCatalog([zone])
    logging = {"on_query": QueryRecorder(), "log_per_second": args.log}
    if not hasattr(module, "UDP_BACKLOG"):  # before the one-writer refactor (f88d919)
        return module.DNSServer(catalog, router=ResolverChain(catalog), **logging)
    from dnsadmin.names.chain import ChainConfig
    from dnsadmin.names.cookies import Cookies
    from dnsadmin.updates import SignedMessages

    chain = ResolverChain(catalog, ChainConfig())
    cookies = Cookies([bytes(16)])
    return module.DNSServer(chain, messages=SignedMessages(chain), cookies=cookies, **logging)


def sign(zone) -> None:
    from dnsadmin.names import signer

    keys = []
    for ksk in (True, False):
        private = signer.new_private_key(signer.ECDSAP256SHA256)
        dnskey = signer.make_dnskey(private, signer.ECDSAP256SHA256, ksk=ksk)
        keys.append(signer.ZoneKey(dnskey, private, ksk=ksk, zsk=not ksk))
    now = int(time.time())
    signer.sign_zone(zone, keys, signer.Policy(now - 3600, now + 14 * 86400))


async def passes(server, queries: list[bytes], args) -> tuple[float, float]:
    """Return µs per datagram of the kept-answer passes: median and best."""
    server._loop = asyncio.get_running_loop()
    for _ in range(4):  # a name error is kept once asked twice; a fast feed sheds some
        await one_pass(server, queries, args.batch)
    times = []
    for _ in range(args.passes):
        server.log_budget = server.log_per_second  # refilled every second in rundns
        times.append(await one_pass(server, queries, args.batch))
    return statistics.median(times), min(times)


async def one_pass(server, queries: list[bytes], batch: int) -> float:
    sock = Datagrams(queries, batch)
    started = time.process_time()
    while sock.refill():
        server._on_udp_readable(sock)
        await asyncio.sleep(0)
    while getattr(server, "_backlog", None) or server._tasks or getattr(server, "_runs", None):
        await asyncio.sleep(0)
    return (time.process_time() - started) / len(queries) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", type=Path, help="another checkout, measured alongside")
    parser.add_argument("--do", action="store_true", help="DO=1 questions, the zone signed")
    parser.add_argument("--log", type=int, default=0, help="query log entries a second")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)  # the child's
    args = parser.parse_args()
    if args.tree:
        sys.path[:0] = [str(args.tree), str(args.tree / "bench")]
        child(args)
        return
    trees = {"this": ROOT, **({"against": args.against.resolve()} if args.against else {})}
    options = ["--log", str(args.log), "--passes", str(args.passes), "--batch", str(args.batch)]
    options += ["--do"] if args.do else []
    results: dict[str, list[list[float]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="hitloop-") as var:
        env = {**os.environ, "APPLIANCE_VAR_DIR": var}  # the settings' secret key file
        for number in range(1, args.rounds + 1):
            for name, tree in trees.items():
                command = [sys.executable, __file__, "--tree", str(tree), *options]
                out = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
                figures = [float(figure) for figure in out.stdout.split()[-2:]]
                results[name].append(figures)
                print(
                    f"round {number} {name:<8} kept answers {figures[0]:.2f} µs/datagram "
                    f"(best {figures[1]:.2f})", flush=True,
                )  # fmt: skip
    for name, rounds in results.items():
        kept = statistics.median(r[0] for r in rounds)
        print(f"{name:<8} {trees[name]}: kept answers {kept:.2f} µs/datagram (median of rounds)")


if __name__ == "__main__":
    main()

"""CPU per cache miss in-process (issue 16), A/B against another source tree, interleaved.

    .venv/bin/python bench/cache/miss_cpu.py [--names 20000] [--rounds 3]
        [--mode forwarding|recursion] [--tree TREE] [--baseline TREE] [--profile OUT]
        [--cores 0,1] [--opcodes]

BIND 9 on loopback serves the root zone and the bench zone (as bench/cache/misses.py sets it
up) on the second core. Each round starts a fresh Python process per source tree, pinned to
the first core, that builds the resolver chain without Django (a forwarder to BIND, or
recursion from root hints naming BIND), asks every question once, 200 at a time, through
ResolverChain.resolve as the server does, and hands the new cache entries to the
write-behind (Cache.take_changes, as the worker does every round) without writing them.
It prints the process's CPU time per question: the resolver's own cost of a miss, without
the listener, the query log or the database; the median and the least of the rounds (a
shared machine only ever adds to it), and the ratio baseline/current of each round, the
two trees measured one after the other. --tree measures another tree than this one (say,
the last commit with only some files changed); --profile writes a cProfile of its first run.
--opcodes counts the Python opcodes a question runs instead (sys.settrace, after the first
hundred questions, a tenth of the names is enough): slow, but the same on a busy machine as
on an idle one, where CPU time on a shared machine is not.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dnsbench  # noqa: E402

HERE = Path(__file__).resolve()
CONCURRENT = 200
WRITE_EVERY = 2000  # questions between two take_changes(), as a worker's round would take


def child(args: argparse.Namespace) -> None:
    """Resolve the questions with the tree's engine; print the CPU seconds they took."""
    sys.path.insert(0, str(args.tree))
    import dns.message

    from dnsadmin.names.catalog import ZoneCatalog
    from dnsadmin.names.chain import ChainConfig, ResolverChain

    if args.mode == "forwarding":
        config = ChainConfig(forwarders=[f"127.0.0.1:{args.port}"])
    else:
        config = ChainConfig(root_hints=args.hints, port=args.port)
    lines = Path(args.questions).read_text().splitlines()
    queries = [
        dns.message.make_query(*line.split(), use_edns=0, id=n & 0xFFFF).to_wire()
        for n, line in enumerate(lines)
    ]

    async def drive() -> float:
        chain = ResolverChain(ZoneCatalog(), config)
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 10, 10)  # as the worker sets it (GC_YOUNG)
        pending = iter(enumerate(queries))
        answered = 0
        if args.opcodes:  # the first questions (the root's referral) asked before counting
            for _, (_, query) in zip(range(WARM), pending, strict=False):
                result, _ = chain.resolve(query, tcp=False, client="127.0.0.1")
                if not isinstance(result, bytes):
                    result = await result
                answered += result is not None and result[3] & 0xF in (0, 3)

        async def client() -> None:
            nonlocal answered
            for number, query in pending:
                result, _ = chain.resolve(query, tcp=False, client="127.0.0.1")
                if not isinstance(result, bytes):
                    result = await result
                if result is not None and result[3] & 0xF in (0, 3):
                    answered += 1
                if number % WRITE_EVERY == 0:
                    chain.cache.take_changes()

        started = time.process_time()
        if args.opcodes:
            sys.settrace(_count_opcodes)
        await asyncio.gather(*(client() for _ in range(CONCURRENT)))
        chain.cache.take_changes()
        sys.settrace(None)
        used = _opcodes[0] if args.opcodes else time.process_time() - started
        await chain.close()
        if answered != len(queries):
            raise SystemExit(f"{len(queries) - answered} questions not answered")
        return used

    if args.profile:
        import cProfile

        profile = cProfile.Profile()
        used = profile.runcall(asyncio.run, drive())
        profile.dump_stats(args.profile)
    else:
        used = asyncio.run(drive())
    counted = len(queries) - WARM if args.opcodes else len(queries)
    print(json.dumps({"per_question": used / counted}))


WARM = 100  # questions asked before opcodes are counted
_opcodes = [0]


def _count_opcodes(frame, event, arg):
    """Count the opcodes of every frame from now on (sys.settrace)."""
    frame.f_trace_opcodes = True
    return _count_opcode


def _count_opcode(frame, event, arg):
    if event == "opcode":
        _opcodes[0] += 1
    return _count_opcode


def measure(args: argparse.Namespace, tree: Path, work: Path, port: int, profile: str = ""):
    command = [
        dnsbench.PYTHON, str(HERE), "--child", "--tree", str(tree), "--port", str(port),
        "--mode", args.mode, "--questions", str(work / "unique"), "--hints",
        str(work / "root.hints"),
    ]  # fmt: skip
    if profile:
        command += ["--profile", profile]
    if args.opcodes:
        command.append("--opcodes")
    output = subprocess.run(
        dnsbench.pinned(args.cores[0], command), check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.splitlines()[-1])["per_question"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", choices=("forwarding", "recursion"), default="forwarding")
    parser.add_argument("--baseline", type=Path, help="another source tree, measured too")
    parser.add_argument("--profile", help="write a cProfile of this tree's first run here")
    parser.add_argument("--cores", type=dnsbench.core_pair, default=("0", "1"))
    parser.add_argument("--opcodes", action="store_true", help="count opcodes, not CPU time")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, default=dnsbench.ROOT, help="the tree measured")
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--questions", help=argparse.SUPPRESS)
    parser.add_argument("--hints", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    sys.path.insert(0, str(HERE.parent))
    import misses

    scale, unit = (1, "opcodes") if args.opcodes else (1e6, "us")
    trees = {"current": args.tree.resolve()}
    if args.baseline is not None:
        trees["baseline"] = args.baseline.resolve()
    with dnsbench.workspace("bench-miss-cpu-") as work:
        (work / "zone").write_text(dnsbench.zone_text())
        (work / "unique").write_text(misses.unique_questions(args.names))
        (work / "root.hints").write_text(misses.ROOT_HINTS)
        upstream = misses.authority(work, args.cores[1])
        results: dict[str, list[float]] = {name: [] for name in trees}
        with dnsbench.running(upstream, work):
            for number in range(args.rounds):
                for name, tree in trees.items():
                    profile = args.profile if number == 0 and name == "current" else ""
                    results[name].append(measure(args, tree, work, upstream.port, profile))
                    print(f"round {number + 1} {name}: {results[name][-1] * scale:.1f} {unit}")
    what = "Python opcodes" if args.opcodes else "CPU"
    print(f"{args.mode}, {args.names} unique names, {what} per question, of {args.rounds} rounds:")
    for name, runs in results.items():
        median, least = statistics.median(runs) * scale, min(runs) * scale
        print(f"  {name:<10}{median:8.1f} {unit} median{least:8.1f} {unit} least")
    if "baseline" in results:
        ratios = [b / c for c, b in zip(results["current"], results["baseline"], strict=True)]
        rounds = " ".join(f"{ratio:.2f}" for ratio in ratios)
        print(f"  baseline/current {statistics.median(ratios):.2f} (each round: {rounds})")


if __name__ == "__main__":
    main()

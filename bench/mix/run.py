"""The public-facing mix (issue 16): rundns against BIND 9 and Knot DNS when no cache can help.

    .venv/bin/python bench/mix/run.py [--seconds 10] [--rounds 1] [--flood 1000000]

The zone of mixzone.py (50,000 hosts, about 118,000 records) goes through `manage.py loadzone`
into a fresh SQLite database for `rundns` (as an operator gets it); BIND 9 (`named -n 1`) and
Knot DNS (`knotd`, one UDP, one TCP and one background worker) serve the same zone file. Each
server runs on the second of --cores (rundns on the first) and dnsperf on the other core, and
is measured in one run, in this order, with the same query files:

- the mix: every name of the zone asked in turn (in random order, random case) with 30% of
  unique random names that do not exist, on a fresh server, then again;
- split up: the zone's questions in lowercase; the same in random case; unique nonexistent
  names only; a flood of --flood more unique nonexistent names (sent once, as fast as the
  server takes them); the lowercase questions again.

Prints q/s with ratios to BIND of the same round for each part, the servers' CPU time per
query answered in each part (their process group's, from /proc: less disturbed than q/s by
other work on a shared machine), and the lowercase q/s and the resident memory (of the whole
process group) before and after the floods.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
from contextlib import suppress
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dnsbench  # noqa: E402
import mixzone  # noqa: E402

MIX_LINES = 600_000  # more than a fast server answers in 10 s: unique names stay unique
UNIQUE_LINES = 400_000
PHASES = (
    ("mix (fresh server)", "mix"),
    ("mix again", "mix"),
    ("lowercase", "lower"),
    ("random case", "random"),
    ("unique nonexistent", "unique"),
    ("lowercase after the floods", "lower"),
)
BEFORE, AFTER = "lowercase", "lowercase after the floods"
TICKS = os.sysconf("SC_CLK_TCK")


def write_queries(work: Path, flood: int) -> dict[str, Path]:
    """Write the query files of every part; return them by name."""
    rng = random.Random(16)
    known = mixzone.known_questions()
    rng.shuffle(known)
    texts = {
        "mix": mixzone.mix(MIX_LINES),
        "lower": known,
        "random": [mixzone.random_case(line, rng) for line in known],
        "unique": mixzone.mix(UNIQUE_LINES, seed=17, case=False, unique_share=1.0),
        "flood": mixzone.mix(flood, seed=18, case=False, unique_share=1.0),
    }
    files = {}
    for name, lines in texts.items():
        files[name] = work / f"queries-{name}"
        files[name].write_text("\n".join(lines) + "\n")
    return files


def servers(site: dnsbench.Site, cores: tuple[str, str]) -> list[dnsbench.Server]:
    """Return rundns (query log as shipped) on the first core, BIND and Knot on the second,
    each driven by dnsperf from the other core."""
    ours, theirs = cores
    rundns = dnsbench.rundns_servers(site, ours)[0]
    rundns.load = dnsbench.Load(theirs)
    bind = dnsbench.bind_server(site.work, "bind", theirs)
    knot = dnsbench.knot_server(site.work, "knot", theirs)
    bind.load = knot.load = dnsbench.Load(ours)
    return [rundns, bind, knot]


def measure(server: dnsbench.Server, work: Path, files: dict[str, Path], seconds: int) -> dict:
    """Run the parts on one fresh server; return the measurements by part, and its memory."""
    results: dict = {}
    with dnsbench.running(server, work) as process:
        for label, name in PHASES:
            if label == AFTER:
                flood = dnsbench.dnsperf(server.port, files["flood"], server.load)
                print(f"    flood: {flood}", flush=True)
                results["rss after"] = dnsbench.rss(process)
            user, system = group_cpu(process.pid)
            results[label] = dnsbench.dnsperf(
                server.port, files[name], server.load, seconds=seconds
            )
            answered = results[label].qps * seconds
            user_after, system_after = group_cpu(process.pid)
            system = (system_after - system) / answered * 1e6
            results[f"{label} cpu"] = (user_after - user) / answered * 1e6 + system
            print(
                f"    {label}: {results[label]}; {results[f'{label} cpu']:.1f} µs CPU/query "
                f"({system:.1f} in the kernel)"
            )
            if label == BEFORE:
                results["rss before"] = dnsbench.rss(process)
    return results


def group_cpu(group: int) -> tuple[float, float]:
    """Return the CPU time the processes of a group have used in user mode and in the
    kernel (seconds)."""
    user = system = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, ValueError):
            text = stat.read_text()
            fields = text[text.rindex(")") + 2 :].split()
            if int(fields[2]) == group:  # after the state, the parent: the group is third
                user += int(fields[11])  # utime, then stime (in ticks)
                system += int(fields[12])
    return user / TICKS, system / TICKS


def report(runs: dict[str, list[dict]]) -> None:
    for label, _ in PHASES:
        dnsbench.report(label, {name: [r[label] for r in each] for name, each in runs.items()},
                        "bind")  # fmt: skip
        cpu = (f"{name} {statistics.median(r[f'{label} cpu'] for r in each):.1f}"
               for name, each in runs.items())  # fmt: skip
        print("CPU per query answered (µs, median): " + ", ".join(cpu))
    print("\nbefore/after the floods (lowercase questions; resident memory of the server)")
    for name, each in runs.items():
        before = statistics.median(r[BEFORE].qps for r in each)
        after = statistics.median(r[AFTER].qps for r in each)
        rss_before = statistics.median(r["rss before"] for r in each) / 2**20
        rss_after = statistics.median(r["rss after"] for r in each) / 2**20
        print(
            f"{name:<10}{before:>10.0f} -> {after:.0f} q/s ({after / before - 1:+.0%}); "
            f"RSS {rss_before:.0f} -> {rss_after:.0f} MB"
        )


def main() -> None:
    parser = dnsbench.options(__doc__, "rundns,BIND and Knot: the servers' cores")
    parser.set_defaults(rounds=1)
    parser.add_argument("--flood", type=int, default=1_000_000, help="unique names in the flood")
    args = parser.parse_args()
    with dnsbench.workspace("bench-mix-") as work:
        (work / "zone").write_text(mixzone.zone_text())
        files = write_queries(work, args.flood)
        site = dnsbench.Site(work, work / "zone")
        contenders = servers(site, args.cores)
        runs: dict[str, list[dict]] = {server.name: [] for server in contenders}
        for number in range(1, args.rounds + 1):
            for server in contenders:
                print(f"round {number}, {server.name}", flush=True)
                runs[server.name].append(measure(server, work, files, args.seconds))
    report(runs)
    dnsbench.startup_report(site, contenders)


if __name__ == "__main__":
    main()

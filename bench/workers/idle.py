"""What an idle DNS worker costs: `manage.py rundns` with nothing to answer, against BIND 9.

    .venv/bin/python bench/workers/idle.py [--seconds 10] [--rounds 2] [--cores 0,1]
        [--baseline TREE]

A worker answering nothing still goes to the database: it reconciles every second, follows
the commits to the SQLite file, writes its query log and heartbeat. What that takes is taken
from answering once queries come (CPU a second, the same under load). Each server serves the
bench zone (rundns as an operator gets it, from a fresh SQLite database; BIND, `named -n 1`,
from the zone file) on the first of --cores, starts fresh each round, settles for 3 s, then
its CPU time (user and system, all its threads) over --seconds is read from /proc. Prints
each one's milliseconds of CPU a second, the median of the rounds. --baseline runs the rundns
of another source tree too (`git archive HEAD | tar -x -C TREE`), for a before and after in
the same run, with the ratio of the two.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dnsbench  # noqa: E402

SETTLE = 3.0  # seconds after start before measuring: the first reconcile and heartbeat done


def idle_ms_per_second(server: dnsbench.Server, work: Path, seconds: int) -> float:
    """Return the server's CPU time a second while it answers nothing, in milliseconds."""
    with dnsbench.running(server, work) as process:
        time.sleep(SETTLE)
        used = dnsbench.cpu_seconds(process.pid)
        time.sleep(seconds)
        return (dnsbench.cpu_seconds(process.pid) - used) / seconds * 1000


def main() -> None:
    parser = dnsbench.options(__doc__, "the servers, unused")
    parser.add_argument("--baseline", type=Path, help="another source tree's rundns, measured too")
    args = parser.parse_args()
    core = args.cores[0]
    with dnsbench.workspace("bench-idle-") as work:
        site = dnsbench.prepare(work)
        rundns = dnsbench.rundns_servers(site, core)[0]
        servers = [rundns]
        if args.baseline is not None:
            servers.append(dnsbench.of_tree(rundns, args.baseline.resolve(), "rundns-base"))
        servers.append(dnsbench.bind_server(work, "bind", core))
        figures: dict[str, list[float]] = {server.name: [] for server in servers}
        for number in range(args.rounds):
            for server in servers:
                figures[server.name].append(idle_ms_per_second(server, work, args.seconds))
                print(f"round {number + 1}, {server.name}: {figures[server.name][-1]:.1f} ms/s")
        print("idle: CPU a second (median of the rounds)")
        medians = {name: statistics.median(each) for name, each in figures.items()}
        for name, median in medians.items():
            print(f"{name:<14}{median:>8.1f} ms")
        if args.baseline is not None:
            print(f"rundns/rundns-base: {medians['rundns'] / medians['rundns-base']:.2f}")


if __name__ == "__main__":
    main()

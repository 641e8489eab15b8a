"""Two cores (issue 9): `manage.py rundns --workers 2` against BIND 9 with two threads.

    .venv/bin/python bench/workers/run.py [--seconds 10] [--rounds 2] [--cores 0,1]

The bench zone and query mix of bench/authoritative. On two cores: `rundns --workers 2`
(processes sharing the port with SO_REUSEPORT) and `named -n 2`, each allowed on both of
--cores, with dnsperf on the same two cores, since a two-core machine has no third one for the
client: 16 sockets, so that SO_REUSEPORT spreads them over both workers, and one thread (with
a second, dnsperf only took time from the servers: both got fewer answers). In the same run and
the same rounds, the one-core comparison of bench/authoritative (rundns and `named -n 1`
pinned to a core each, dnsperf on the other), so that the two ratios meet the same outside
load. Prints both tables and whether the two-core ratio is at least the one-core ratio.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dnsbench  # noqa: E402


def two_core_servers(site: dnsbench.Site, cpus: str) -> list[dnsbench.Server]:
    servers = dnsbench.rundns_servers(site, cpus, workers=2, label="rundns-w2")
    return [*servers, dnsbench.bind_server(site.work, "bind-n2", cpus, threads=2)]


def main() -> None:
    parser = dnsbench.options(__doc__, "the two cores")
    args = parser.parse_args()
    both_cores = ",".join(args.cores)
    with dnsbench.workspace("bench-workers-") as work:
        site = dnsbench.prepare(work)
        one_core = dnsbench.single_core_servers(site, args.cores)
        two_cores = two_core_servers(site, both_cores)
        both = dnsbench.Load(both_cores, clients=16, threads=1, outstanding=200)
        measure = dnsbench.throughput(work, work / "queries", args.seconds, both)
        results = dnsbench.rounds([*two_cores, *one_core], args.rounds, measure)
    two = dnsbench.report(
        "two cores: rundns --workers 2 and named -n 2, dnsperf beside them",
        {server.name: results[server.name] for server in two_cores},
        "bind-n2",
    )
    one = dnsbench.report(
        "one core each (as bench/authoritative)",
        {server.name: results[server.name] for server in one_core},
        "bind",
    )
    print()
    for scaled, single in (("rundns-w2", "rundns"), ("rundns-w2-nolog", "rundns-nolog")):
        verdict = "not worse" if two[scaled] >= one[single] else "WORSE"
        print(f"{scaled}/bind-n2 {two[scaled]:.2f}, {single}/bind {one[single]:.2f}: {verdict}")
    dnsbench.startup_report(site, [*two_cores, *one_core])


if __name__ == "__main__":
    main()

"""Cache hits (issue 4): `manage.py rundns` against Unbound, both forwarding to one BIND 9.

    .venv/bin/python bench/cache/run.py [--seconds 10] [--rounds 2] [--cores 0,1]

BIND 9 (`named -n 1`) serves the bench zone as the authoritative upstream. `rundns` runs on a
database without zones, forwarding to BIND (`--forwarder`), so it answers from its cache;
Unbound (one thread, no DNSSEC validation, no logging) forwards every name to the same BIND.
Each resolver is pinned to the first of --cores; dnsperf and BIND share the second (BIND is
idle once the caches are warm). Every measurement starts a fresh resolver, asks each question
of the query file once to warm its cache (rundns then writes the new entries behind to its
database, a slice at a time, which is waited for: hits are measured in the steady state),
then drives it with the file: the bench mix without
referrals (a forwarder would chase them to addresses that do not exist). rundns is measured
with its query log as shipped and off. Prints queries per second, average latency, how many
queries still reached BIND while measuring (cache misses), and the ratios rundns/Unbound
(target: at least 0.5).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dnsbench  # noqa: E402

# What the authority answers by itself, so that a forwarder gets a final answer to cache.
CACHEABLE = ("positive", "cname", "nxdomain", "nodata", "wildcard")


def main() -> None:
    parser = dnsbench.options(__doc__, "resolver,client: the cores used")
    args = parser.parse_args()
    resolver_core, client_core = args.cores
    with dnsbench.workspace("bench-cache-") as work:
        site = dnsbench.prepare(work, load_zone=False, kinds=CACHEABLE)
        warm = work / "warm"
        warm.write_text(dnsbench.unique_lines((work / "queries").read_text()))
        upstream = dnsbench.bind_server(work, "authority", client_core)
        with dnsbench.running(upstream, work):
            forward = ["--forwarder", f"127.0.0.1:{upstream.port}"]
            servers = [
                *dnsbench.rundns_servers(site, resolver_core, options=forward),
                dnsbench.unbound_server(work, resolver_core, upstream),
            ]
            for server in servers:
                server.warm_file = warm
            for server in servers[:-1]:  # rundns: measured once its cache is written behind
                server.settle = dnsbench.cache_written_behind(site.database)
            load = dnsbench.Load(client_core)
            measure = dnsbench.throughput(work, work / "queries", args.seconds, load, upstream)
            results = dnsbench.rounds(servers, args.rounds, measure)
    title = "cache hits, resolver on one core (target rundns/unbound >= 0.5)"
    dnsbench.report(title, results, "unbound")
    dnsbench.startup_report(site, servers)


if __name__ == "__main__":
    main()

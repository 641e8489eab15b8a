"""Authoritative throughput (issue 3): `manage.py rundns` against BIND 9 on the same zone.

    .venv/bin/python bench/authoritative/run.py [--seconds 10] [--rounds 2] [--standalone]

The bench zone (10,000 names) goes through `manage.py loadzone` into a fresh SQLite database,
and `rundns` serves it pinned to the first of --cores while dnsperf runs on the second; BIND 9
(`named -n 1`) serves the zone file pinned to the second core, dnsperf on the first. rundns is
measured as an operator gets it (query log on, at most 1000 entries a second) and with
QUERY_LOG_MAX_PER_SECOND=0; --standalone adds the engine's runner without Django
(`python -m dnsadmin.names serve`). Prints queries per second, average latency, the ratios
rundns/BIND (target: at least 0.5) and how long loadzone and rundns's start took. On a shared
machine the ratio is noise; hitloop.py measures the CPU per datagram of the same question mix.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dnsbench  # noqa: E402


def main() -> None:
    parser = dnsbench.options(__doc__, "ours,BIND: each server's core")
    parser.add_argument("--standalone", action="store_true", help="also the engine's runner")
    args = parser.parse_args()
    with dnsbench.workspace("bench-auth-") as work:
        site = dnsbench.prepare(work)
        servers = dnsbench.single_core_servers(site, args.cores, standalone=args.standalone)
        measure = dnsbench.throughput(work, work / "queries", args.seconds, dnsbench.Load(None))
        results = dnsbench.rounds(servers, args.rounds, measure)
    dnsbench.report("authoritative, one core each (target rundns/bind >= 0.5)", results, "bind")
    dnsbench.startup_report(site, servers)


if __name__ == "__main__":
    main()

"""Cache misses (issue 16): `manage.py rundns` against Unbound when every name is asked once.

    .venv/bin/python bench/cache/misses.py [--names 40000] [--rounds 2] [--cores 0,1]
        [--mode forwarding|recursion|both] [--baseline TREE]

BIND 9 (`named -n 1`) on loopback is the authoritative side: the root zone, delegating
bench.example. to itself, and the bench zone. The questions are unique: half of them names
under the bench zone's wildcard (an answer), half names that do not exist (NXDOMAIN), so no
answer is ever in a cache. Each resolver, pinned to the first of --cores (dnsperf and BIND
share the second), starts fresh and is driven once through the file, in two modes:

- forwarding: rundns `--forwarder`, Unbound `forward-zone` to BIND;
- recursion: rundns from root hints naming BIND, Unbound with BIND as the root's stub.

Prints queries per second, average latency and what reached BIND, with the ratios
rundns/Unbound of the same round (target: at least 0.5), then each resolver's CPU time per
question and the ratio Unbound/resolver of that (the same target, steadier on a busy machine).
--baseline runs the rundns of another source tree too (`git archive HEAD | tar -x -C TREE`),
as "rundns-MODE-base", for a before/after in the same run. rundns writes its new cache entries
behind to the database every 10 s: a run shorter than that (10,000 names on an idle machine)
leaves that share of a miss's cost out; 40,000 names take it in.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dnsbench  # noqa: E402

ROOT_ZONE = f"""$TTL 86400
. IN SOA a.root-servers.test. hostmaster.test. 1 7200 900 1209600 300
. IN NS a.root-servers.test.
a.root-servers.test. IN A 127.0.0.1
{dnsbench.ORIGIN} IN NS ns1.{dnsbench.ORIGIN}
ns1.{dnsbench.ORIGIN} IN A 127.0.0.1
"""
ROOT_HINTS = ". 3600000 NS a.root-servers.test.\na.root-servers.test. 3600000 A 127.0.0.1\n"


def unique_questions(count: int) -> str:
    """Return count questions, each asked once: wildcard answers and nonexistent names."""
    lines = []
    for number in range(count):
        if number % 2:
            lines.append(f"m{number}.wild.{dnsbench.ORIGIN} A")
        else:
            lines.append(f"miss{number}.{dnsbench.ORIGIN} A")
    return "\n".join(lines) + "\n"


def authority(work: Path, cpus: str) -> dnsbench.Server:
    """Return BIND serving the root zone and the bench zone on one loopback port."""
    port, stats_port = dnsbench.free_port(), dnsbench.free_port()
    (work / "root.zone").write_text(ROOT_ZONE)
    conf = work / f"named-{port}.conf"
    text = dnsbench.named_conf(work, port, work / "zone", stats_port)
    conf.write_text(text + f'zone "." {{ type primary; file "{work / "root.zone"}"; }};\n')
    return dnsbench.Server(
        "authority", dnsbench.pinned(cpus, dnsbench.named_command(conf, 1)), port,
        stats_port=stats_port,
    )  # fmt: skip


def unbound(work: Path, cpus: str, upstream: dnsbench.Server, mode: str) -> dnsbench.Server:
    """Return Unbound forwarding to BIND, or iterating with BIND as the root's server."""
    server = dnsbench.unbound_server(work, cpus, upstream)
    conf = Path(server.command[-1])
    if mode == "recursion":
        text = conf.read_text().replace("forward-zone:", "stub-zone:")
        conf.write_text(text.replace("forward-addr:", "stub-addr:"))
    server.name = f"unbound-{mode}"
    return server


def contenders(
    site: dnsbench.Site, work: Path, cpus: str, upstream: dnsbench.Server, mode: str,
    baseline: Path | None = None,
) -> list[dnsbench.Server]:  # fmt: skip
    """Return rundns (query log on and off), the baseline's rundns if given, and Unbound."""
    if mode == "forwarding":
        options = ["--forwarder", f"127.0.0.1:{upstream.port}"]
    else:
        hints = work / "root.hints"
        hints.write_text(ROOT_HINTS)
        options = ["--root-hints", str(hints), "--upstream-port", str(upstream.port)]
    ours = dnsbench.rundns_servers(site, cpus, options=options, label=f"rundns-{mode}")
    if baseline is not None:
        ours.append(dnsbench.of_tree(ours[0], baseline, f"rundns-{mode}-base"))
    return [*ours, unbound(work, cpus, upstream, mode)]


class Cold:
    """Measure a resolver from a cold start, once through the unique questions: q/s from
    dnsperf, what reached BIND, and the resolver's CPU time per question (user and system,
    from /proc), which a shared machine's load disturbs less than q/s. rundns gets a fresh
    database each time: what one run wrote behind (its cache) must not warm the next."""

    def __init__(self, work: Path, questions: Path, load: dnsbench.Load, upstream) -> None:
        self.work, self.questions, self.load, self.upstream = work, questions, load, upstream
        self.cpu: dict[str, list[float]] = {}

    def __call__(self, server: dnsbench.Server) -> dnsbench.Measurement:
        if server.name.startswith("rundns"):
            folder = Path(tempfile.mkdtemp(prefix="site-", dir=self.work))
            fresh = dnsbench.Site(folder, None)
            server.env = {**server.env, **{k: fresh.base_env[k] for k in FRESH}}
        with dnsbench.running(server, self.work) as process:
            asked, used = dnsbench.bind_queries(self.upstream), dnsbench.cpu_seconds(process.pid)
            result = dnsbench.dnsperf(server.port, self.questions, self.load)
            used = dnsbench.cpu_seconds(process.pid) - used
            sent = dnsbench.bind_queries(self.upstream) - asked
        per_question = used / len(self.questions.read_text().splitlines())
        self.cpu.setdefault(server.name, []).append(per_question)
        print(f"    {per_question * 1e6:.0f} us CPU per question")
        return replace(result, upstream=sent)

    def report(self, reference: str) -> None:
        print(f"{'server':<26}{'us CPU/question':>16}   ratio {reference}/server (median)")
        for name, runs in self.cpu.items():
            ratio = statistics.median(
                ref / run for run, ref in zip(runs, self.cpu[reference], strict=True)
            )
            print(f"{name:<26}{statistics.median(runs) * 1e6:>16.0f}   {ratio:.2f}")


FRESH = ("DATABASE_URL", "APPLIANCE_VAR_DIR")


def main() -> None:
    parser = dnsbench.options(__doc__, "resolver,client: the cores used")
    parser.add_argument("--names", type=int, default=40_000, help="questions, each asked once")
    parser.add_argument(
        "--mode", choices=("forwarding", "recursion", "both"), default="both",
        help="how the resolvers reach BIND",
    )  # fmt: skip
    parser.add_argument("--outstanding", type=int, default=200, help="dnsperf -q per client")
    parser.add_argument("--baseline", type=Path, help="another source tree's rundns, measured too")
    args = parser.parse_args()
    resolver_core, client_core = args.cores
    modes = ("forwarding", "recursion") if args.mode == "both" else (args.mode,)
    with dnsbench.workspace("bench-misses-") as work:
        site = dnsbench.prepare(work, load_zone=False)
        questions = work / "unique"
        questions.write_text(unique_questions(args.names))
        upstream = authority(work, client_core)
        with dnsbench.running(upstream, work):
            load = dnsbench.Load(client_core, outstanding=args.outstanding)
            for mode in modes:
                servers = contenders(site, work, resolver_core, upstream, mode, args.baseline)
                measure = Cold(work, questions, load, upstream)
                results = dnsbench.rounds(servers, args.rounds, measure)
                title = f"cache misses, {mode}, resolver on one core (target rundns/unbound >= 0.5)"
                dnsbench.report(title, results, f"unbound-{mode}")
                measure.report(f"unbound-{mode}")


if __name__ == "__main__":
    main()

"""Loading: a 100,000-record zone file into the database and answered by a running `rundns`.

    .venv/bin/python bench/loading/run.py [--records 100000] [--rounds 2] [--base DIR]

End to end, as an operator does it: a fresh SQLite database (a temporary file), `rundns`
serving it, then `manage.py loadzone FILE` of a generated zone of N records (A, AAAA,
CNAME, MX, TXT, SRV, a delegation with glue, a wildcard); timed from the start of loadzone
until rundns answers the file's last name with its data (polled every 20 ms). BIND 9 in the
same run: `named-checkzone` of the same file, and `named` from its start until it answers
the same question. Target: loadzone to answered in 5 s or less for 100,000 records.

Also timed, in-process: the parse alone, the zone build of rundns from the rows (the zone is
served then) and the making of its precomputed answers that follows in the background; and
rundns' start (process start to serving the zone) with its resident memory. The machine may
be shared: each round runs ours and BIND's one after the other, so outside load falls on both,
and the CPU time loadzone and rundns used is printed beside the wall time. ``--base DIR``: a
tree of another version (``git worktree add DIR COMMIT``, or ``git archive COMMIT | tar -x
-C DIR``) loaded the same way in every round, interleaved with this one, for a before/after
from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dnsbench import PYTHON, cpu_seconds, free_port, stop  # noqa: E402 (bench/dnsbench.py)

ORIGIN = "load.example."
READY = re.compile(r"serving \d+ zones? on ")


def setup_django(database: Path) -> None:
    os.environ.update(
        DATABASE_URL=f"sqlite:///{database}",
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="appliance.settings",
        APPLIANCE_VAR_DIR=str(database.parent),
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(records: int) -> float:
    """Load one zone of ``records`` A records as loadzone does; return how long that took."""
    from dnsadmin.changes import import_zone
    from dnsadmin.zonefile import parse_zone_text

    lines = [
        f"$ORIGIN {ORIGIN}",
        "$TTL 3600",
        "@ IN SOA ns1 hostmaster 1 3600 900 1209600 3600",
        "@ IN NS ns1",
    ]
    lines += [
        f"host{i} 300 IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(records - 1)
    ]
    started = time.perf_counter()
    import_zone(parse_zone_text("\n".join(lines) + "\n"), via="bench")
    return time.perf_counter() - started


def zone_file(records: int) -> tuple[str, str, str]:
    """Return a zone file of about ``records`` records in the common types and spellings,
    with the name and address of its last record (asked until answered)."""
    lines = [
        f"$ORIGIN {ORIGIN}",
        "$TTL 3600",
        "@ IN SOA ns1 hostmaster ( 2026120601 ; serial",
        "          7200 900 1209600 300 )",
        "@ IN NS ns1",
        "  IN NS ns2",
        "  IN MX 10 mail",
        '  IN TXT "v=spf1 mx -all"',
        "ns1 IN A 192.0.2.1",
        "ns2 IN A 192.0.2.2",
        "mail IN A 192.0.2.25",
        "sub IN NS ns.sub",
        "ns.sub IN A 192.0.2.53",
        "*.wild 300 IN A 192.0.2.99",
    ]
    i = 0
    while len(lines) < records - 1:
        name = f"h{i}"
        kind = i % 6
        if kind == 0:
            lines.append(f"{name} 300 IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
            lines.append(f"     300 IN AAAA 2001:db8::{i >> 16:x}:{i & 0xFFFF:x}")
        elif kind == 1:
            lines.append(f"{name} IN CNAME h{i - 1}")
        elif kind == 2:
            lines.append(f"{name} IN MX 10 mail.{ORIGIN}")
        elif kind == 3:
            lines.append(f'{name} IN TXT "host {i}" "second string"')
        elif kind == 4:
            lines.append(f"_sip._udp.{name} IN SRV 10 5 5060 h{i - 4}")
        else:
            lines.append(f'{name} IN CAA 0 issue "ca.example.net"  ; a comment')
        i += 1
    last, address = f"last.{ORIGIN}", "198.51.100.7"
    lines.append(f"last IN A {address}")
    return "\n".join(lines) + "\n", last, address


def answered(port: int, name: str, address: str) -> bool:
    query = dns.message.make_query(name, dns.rdatatype.A)
    try:
        response = dns.query.udp(query, "127.0.0.1", port=port, timeout=0.2)
    except (dns.exception.Timeout, OSError):
        return False
    return any(address in rrset.to_text() for rrset in response.answer)


def wait_answered(
    port: int, name: str, address: str, failed: Callable[[], bool], timeout: float = 300.0
) -> None:
    deadline = time.monotonic() + timeout
    while not answered(port, name, address):
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} not answered on port {port} within {timeout} s")
        if failed():
            raise SystemExit(f"the server or the loader failed before {name} was answered")
        time.sleep(0.02)


def django_env(database: Path) -> dict[str, str]:
    """The environment of our commands: the embedded default on ``database``, authoritative
    only (without it, every poll before the zone is served starts a recursive lookup of the
    name, which fails slowly offline and costs rundns CPU that has nothing to do with loading)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REDIS")}
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        DEBUG="1",
        APPLIANCE_VAR_DIR=str(database.parent),
        DJANGO_SETTINGS_MODULE="appliance.settings",
        DNS_RECURSION="0",
    )
    return env


def start_rundns(
    env: dict[str, str], work: Path, root: Path = ROOT
) -> tuple[subprocess.Popen, int, float]:
    """Start rundns (of the tree ``root``); return it, its port and its time from process
    start to serving. The machine is shared: a port found free may be taken meanwhile, and
    then another is tried."""
    for _ in range(5):
        try:
            return start_rundns_once(env, work, root)
        except PortTaken:
            continue
    raise SystemExit("no free port for rundns")


class PortTaken(Exception):
    pass


def start_rundns_once(
    env: dict[str, str], work: Path, root: Path
) -> tuple[subprocess.Popen, int, float]:
    port, log = free_port(), work / "rundns.log"
    started = time.perf_counter()
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [PYTHON, str(root / "manage.py"), "rundns", "--port", str(port)],
            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
        )  # fmt: skip
    while not READY.search(log.read_text(errors="replace")):
        if process.poll() is not None:
            if "Address already in use" in log.read_text():
                raise PortTaken
            raise SystemExit(f"rundns exited:\n{log.read_text()[-2000:]}")
        time.sleep(0.02)
    return process, port, time.perf_counter() - started


def time_loadzone(
    work: Path, path: Path, last: str, address: str, root: Path = ROOT
) -> dict[str, float]:
    """Time loadzone (of the tree ``root``) into a fresh database that a running rundns
    serves, until answered."""
    database = work / f"load-{time.monotonic_ns()}.sqlite3"
    env = django_env(database)
    manage = [PYTHON, str(root / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
    server, port, _ = start_rundns(env, work, root)
    try:
        time.sleep(1.5)  # rundns settles (its first reconcile) before the clock starts
        server_cpu = cpu_seconds(server.pid)
        started = time.perf_counter()
        loader = subprocess.Popen(
            [*manage, "loadzone", str(path)], env=env, stdout=subprocess.DEVNULL
        )
        waiter, ended = watch_exit(loader)
        wait_answered(port, last, address, lambda: ended.get("code", 0) != 0)
        total = time.perf_counter() - started
        waiter.join()
        if ended["code"] != 0:
            raise SystemExit(f"loadzone failed with {ended['code']}")
        in_database = ended["at"] - started
        server_cpu = cpu_seconds(server.pid) - server_cpu
        loader_cpu = ended["cpu"]
    finally:
        stop(server)
    restarted, _, startup = start_rundns(env, work, root)
    at_rest(restarted.pid)  # the answers it precomputes once serving are made: counted too
    rss = rss_kib(restarted.pid)
    stop(restarted)
    database.unlink()
    return {
        "answered": total,
        "in_database": in_database,
        "cpu": loader_cpu + server_cpu,
        "loader_cpu": loader_cpu,
        "server_cpu": server_cpu,
        "startup": startup,
        "rss": rss,
    }


def watch_exit(process: subprocess.Popen) -> tuple[threading.Thread, dict[str, float]]:
    """Note when a process exits, its exit code and CPU time, from a thread (the main one
    polls DNS meanwhile); only that thread waits for it."""
    ended: dict[str, float] = {}

    def wait() -> None:
        _, status, usage = os.wait4(process.pid, 0)
        ended["at"] = time.perf_counter()
        ended["cpu"] = usage.ru_utime + usage.ru_stime
        ended["code"] = process.returncode = os.waitstatus_to_exitcode(status)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    return waiter, ended


def time_bind(work: Path, path: Path, last: str, address: str) -> dict[str, float]:
    """Time named-checkzone of the file, and named from its start until it answers."""
    started = time.perf_counter()
    subprocess.run(["named-checkzone", "-q", ORIGIN, str(path)], check=True)
    checked = time.perf_counter() - started
    port = free_port()
    conf = work / "named.conf"
    conf.write_text(
        f"""
options {{
    directory "{work}";
    pid-file "{work}/named.pid";
    session-keyfile "{work}/session.key";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
}};
controls {{ }};
zone "{ORIGIN}" {{ type primary; file "{path}"; }};
"""
    )
    started = time.perf_counter()
    named = subprocess.Popen(
        ["named", "-g", "-n", "1", "-c", str(conf)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_answered(port, last, address, lambda: named.poll() not in (None, 0))
        loaded = time.perf_counter() - started
    finally:
        stop(named)
    return {"checkzone": checked, "named": loaded}


def time_in_process(text: str, work: Path) -> dict[str, float]:
    """Time the parse alone, rundns' zone build from the rows (served then), and the making
    of its precomputed answers that follows in the background, in this process."""
    setup_django(work / "inprocess.sqlite3")
    from dnsadmin import snapshot
    from dnsadmin.changes import import_zone
    from dnsadmin.models import Zone
    from dnsadmin.names.zone import precompute_served
    from dnsadmin.zonefile import parse_zone_text

    started = time.perf_counter()
    parsed = parse_zone_text(text)
    parse = time.perf_counter() - started
    started = time.perf_counter()
    import_zone(parsed, via="bench")
    write = time.perf_counter() - started
    started = time.perf_counter()
    served = snapshot.served_zone(Zone.objects.get())
    build = time.perf_counter() - started
    started = time.perf_counter()
    asyncio.run(precompute_served(lambda: served))
    precomputed = time.perf_counter() - started
    return {"parse": parse, "write": write, "build": build, "precomputed": precomputed}


def at_rest(pid: int, timeout: float = 30.0) -> None:
    """Wait until a process uses next to no CPU for a few tenths of a second; warn when it
    still does after timeout seconds (what is measured then includes that work)."""
    deadline = time.monotonic() + timeout
    used = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = cpu_seconds(pid)
        if now - used < 0.03:
            return
        used = now
    print(
        f"warning: process {pid} still busy after {timeout:.0f} s; measured anyway", file=sys.stderr
    )


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--base", type=Path, help="a tree of another version, loaded in the same rounds"
    )
    args = parser.parse_args()
    trees = {"this tree": ROOT} | ({f"base {args.base}": args.base} if args.base else {})
    with tempfile.TemporaryDirectory(prefix="bench-loading-") as tmp:
        work = Path(tmp)
        text, last, address = zone_file(args.records)
        path = work / "load.zone"
        path.write_text(text)
        ours: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        theirs = []
        for number in range(1, args.rounds + 1):
            # Each round in the other order: a trend in the outside load falls on both trees.
            order = list(trees.items())[:: 1 if number % 2 else -1]
            for name, root in order:
                ours[name].append(time_loadzone(work, path, last, address, root))
                print(f"round {number}, {name}: {describe_round(ours[name][-1])}", flush=True)
            theirs.append(time_bind(work, path, last, address))
            print(
                f"round {number}, BIND: named-checkzone {theirs[-1]['checkzone']:.2f} s, "
                f"named start to answered {theirs[-1]['named']:.2f} s",
                flush=True,
            )
        inside = time_in_process(text, work)
    print(f"\nrecords in the file: {len(text.splitlines()) - 2} lines, about {args.records}")
    named = median(theirs, "named")
    for name, runs in ours.items():
        print(f"{name}:")
        summarise(runs, named)
    print(f"BIND named-checkzone of the file:                {median(theirs, 'checkzone'):.2f} s")
    print(f"BIND named, start to answered:                   {named:.2f} s")
    print(
        f"in-process (this tree): parse {inside['parse']:.2f} s, write {inside['write']:.2f} s, "
        f"rundns zone build {inside['build']:.2f} s (served then; its precomputed answers "
        f"made in the background after, {inside['precomputed']:.2f} s)"
    )
    answered_in = median(ours["this tree"], "answered")
    print(f"target: 5 s or less -> {'met' if answered_in <= 5 else 'NOT met'}")


def median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def describe_round(run: dict[str, float]) -> str:
    return (
        f"answered {run['answered']:.2f} s (loadzone exited at {run['in_database']:.2f} s); "
        f"CPU loadzone {run['loader_cpu']:.2f} s, rundns {run['server_cpu']:.2f} s"
    )


def summarise(runs: list[dict[str, float]], named: float) -> None:
    """Print one tree's medians: wall time, CPU time, rundns' start and memory."""
    answered_in = median(runs, "answered")
    print(f"  loadzone, file to answered by a running rundns: {answered_in:.2f} s (median)")
    print(
        f"  of which loadzone's process (start, parse, write): {median(runs, 'in_database'):.2f} s"
    )
    print(
        f"  CPU time used meanwhile by loadzone and rundns: {median(runs, 'cpu'):.2f} s "
        f"(loadzone {median(runs, 'loader_cpu'):.2f} s, rundns {median(runs, 'server_cpu'):.2f} s;"
        " about the wall time on an idle machine, which a loaded one stretches)"
    )
    print(f"  ratio to named's load: {answered_in / named:.1f}x")
    print(
        f"  rundns start to serving the zone: {median(runs, 'startup'):.2f} s, "
        f"resident memory {median(runs, 'rss') / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()

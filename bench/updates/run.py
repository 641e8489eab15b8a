"""Dynamic updates (issue 14): TSIG-signed RFC 2136 updates per second, `rundns` against BIND 9.

    .venv/bin/python bench/updates/run.py [--seconds 10] [--rounds 2] [--cores 0,1] [--names 100]
        [--database sqlite|postgresql|both] [--signed]

One client sends, one after the other over UDP, updates that each add a TXT record and delete
the one the previous update added (one add/delete pair per update), signed with a key made by
`manage.py tsig add` and granted by `manage.py zone grant`. rundns (on a fresh database holding
the bench zone's mix cut to --names names, query log as shipped, DEBUG off as in production:
SQLite, the embedded default, and/or PostgreSQL, started for the run as tests/services.py
starts it, without fsync) and BIND 9 (`named -n 1`, the same zone file and key, an equivalent update-policy) are pinned to
the first core, the client to the second. With --signed, rundns signs the zone (`manage.py
dnssec enable`) and re-signs what each update changes. Every answer must be NOERROR. Prints
updates per second and the ratio rundns/BIND (target: at least 0.5 on the embedded default).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update
import psycopg
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import dnsbench  # noqa: E402

from tests import services  # noqa: E402

NAME = f"_acme-challenge.{dnsbench.ORIGIN}"


def make_key(site: dnsbench.Site) -> str:
    """Make the key through manage.py; grant it the zone's TXT records; return its clause."""
    made = subprocess.run(
        [dnsbench.PYTHON, "manage.py", "tsig", "add", "bench"], cwd=dnsbench.ROOT,
        env=site.base_env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    site.manage(["zone", "grant", dnsbench.ORIGIN, "bench", "zonesub", "TXT"])
    return made.stdout


def bind_server(work: Path, cpus: str, clause: str) -> dnsbench.Server:
    """BIND 9 with the key and `update-policy { grant bench zonesub TXT; }` on a copy of the
    zone file (it writes a journal beside it)."""
    server = dnsbench.bind_server(work, "bind", cpus)
    conf = Path(server.command[-1])
    shutil.copy(work / "zone", work / "zone.bind")
    text = conf.read_text().replace(
        f'file "{work / "zone"}"; }};',
        f'file "{work / "zone.bind"}"; update-policy {{ grant bench zonesub TXT; }}; }};',
    )
    conf.write_text(clause + text)
    return server


def client(port: int, keyring, seconds: int) -> dnsbench.Measurement:
    """Send updates for ``seconds``, each one waiting for the answer to the one before."""
    sent, failed, latency = 0, 0, 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        update = dns.update.UpdateMessage(dnsbench.ORIGIN, keyring=keyring)
        update.add(NAME, 60, "TXT", f'"token {sent}"')
        if sent:
            update.delete(NAME, "TXT", f'"token {sent - 1}"')
        started = time.monotonic()
        response = dns.query.udp(update, "127.0.0.1", port=port, timeout=5)
        latency += time.monotonic() - started
        sent += 1
        failed += response.rcode() != dns.rcode.NOERROR
    rate = sent / seconds
    return dnsbench.Measurement(rate, latency / max(sent, 1), failed, f"{failed} not NOERROR")


def cpu_seconds(group: int) -> float:
    """Return the CPU time (user and system) the processes of a process group used so far."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def databases(work: Path, which: str) -> Iterator[dict[str, str | None]]:
    """Yield the databases to run rundns on, by label: SQLite (None) and/or an empty
    PostgreSQL database on a server started for the run."""
    if which == "sqlite":
        yield {"rundns": None}
        return
    folder = work / "postgresql"
    folder.mkdir()
    os.chmod(work, 0o755)  # the server runs as the postgres user
    with services.postgresql(folder) as url:
        create_database(url)
        found = {"rundns-pg": url}
        yield {"rundns": None, **found} if which == "both" else found


def create_database(url: str, timeout: float = 30.0) -> None:
    """Create the database url names, once its server has finished starting."""
    server, name = url.rsplit("/", 1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def site_for(work: Path, label: str, url: str | None, signed: bool) -> tuple[dnsbench.Site, str]:
    """Return a database with the bench zone, its key and grant (and signed, if asked) for
    one rundns, and the key's clause."""
    folder = work / label
    folder.mkdir()
    shutil.copy(work / "zone", folder / "zone")
    site = dnsbench.Site(folder, folder / "zone", url)
    clause = make_key(site)
    if signed:
        site.manage(["dnssec", "enable", dnsbench.ORIGIN])
    return site, clause


def main() -> None:
    parser = dnsbench.options(__doc__, "servers,client: the servers' core and the client's")
    parser.add_argument(
        "--names", type=int, default=100, help="names in the zone (the bench zone's mix; 100)"
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--signed", action="store_true", help="rundns signs the zone")
    args = parser.parse_args()
    dnsbench.NAMES = args.names
    ours, theirs = args.cores
    os.environ["APPLIANCE_SECRETS_KEY"] = Fernet.generate_key().decode()
    with dnsbench.workspace("bench-updates-") as work, databases(work, args.database) as urls:
        (work / "zone").write_text(dnsbench.zone_text())
        servers, keyrings = [], {}
        for label, url in urls.items():
            site, clause = site_for(work, label, url, args.signed)
            server = dnsbench.rundns_servers(site, ours, label=label)[0]
            # As in production: DEBUG off (Django then keeps no log of every query).
            server.env = {**server.env, "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50)}
            secret = re.search(r'secret "([^"]+)"', clause).group(1)
            keyrings[label] = dns.tsigkeyring.from_text({"bench": ("hmac-sha256", secret)})
            servers.append(server)
        servers.append(bind_server(work, ours, clause))
        keyrings["bind"] = keyrings[label]

        def measure(server: dnsbench.Server) -> dnsbench.Measurement:
            with dnsbench.running(server, work) as process:
                os.sched_setaffinity(0, {int(theirs)})
                used = cpu_seconds(process.pid)
                result = client(server.port, keyrings[server.name], args.seconds)
                used = cpu_seconds(process.pid) - used
            # CPU per update: what the machine's other load changes least.
            each = used / max(result.qps * args.seconds, 1) * 1000
            return replace(result, rcodes=f"{result.rcodes}; {each:.2f} ms CPU per update")

        results = dnsbench.rounds(servers, args.rounds, measure)
    signed = ", rundns signing" if args.signed else ""
    title = f"signed updates, one client, {args.names} names{signed} (target rundns/bind >= 0.5)"
    dnsbench.report(title, results, "bind")


if __name__ == "__main__":
    main()

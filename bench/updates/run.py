"""Dynamic updates (issue 14): TSIG-signed RFC 2136 updates per second, `rundns` against BIND 9.

    .venv/bin/python bench/updates/run.py [--seconds 10] [--rounds 2] [--cores 0,1] [--names 100]

One client sends, one after the other over UDP, updates that each add a TXT record and delete
the one the previous update added (one add/delete pair per update), signed with a key made by
`manage.py tsig add` and granted by `manage.py zone grant`. rundns (on a fresh SQLite database
holding the bench zone's mix cut to --names names, query log as shipped) and BIND 9 (`named -n 1`, the same zone file and
key, an equivalent update-policy) are pinned to the first core, the client to the second.
Every answer must be NOERROR. Prints updates per second and the ratio rundns/BIND (target: at
least 0.5 on the embedded default).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dns.query
import dns.rcode
import dns.tsigkeyring
import dns.update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dnsbench  # noqa: E402

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


def main() -> None:
    parser = dnsbench.options(__doc__, "servers,client: the servers' core and the client's")
    parser.add_argument(
        "--names", type=int, default=100, help="names in the zone (the bench zone's mix; 100)"
    )
    args = parser.parse_args()
    dnsbench.NAMES = args.names
    ours, theirs = args.cores
    with dnsbench.workspace("bench-updates-") as work:
        site = dnsbench.prepare(work)
        clause = make_key(site)
        secret = re.search(r'secret "([^"]+)"', clause).group(1)
        keyring = dns.tsigkeyring.from_text({"bench": ("hmac-sha256", secret)})
        rundns = dnsbench.rundns_servers(site, ours)[0]
        servers = [rundns, bind_server(work, ours, clause)]

        def measure(server: dnsbench.Server) -> dnsbench.Measurement:
            with dnsbench.running(server, work):
                os.sched_setaffinity(0, {int(theirs)})
                return client(server.port, keyring, args.seconds)

        results = dnsbench.rounds(servers, args.rounds, measure)
    title = f"signed updates, one client, {args.names} names (target rundns/bind >= 0.5)"
    dnsbench.report(title, results, "bind")


if __name__ == "__main__":
    main()

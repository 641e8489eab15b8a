"""DNSSEC (issue 13): signing speed against dnssec-signzone, and DO=1 answers against BIND 9.

    .venv/bin/python bench/signing/run.py [--seconds 10] [--rounds 2] [--records 100000]

1. Signing a zone of --records records from scratch (ECDSA P-256, a KSK and a ZSK, NSEC3 with
   no extra iterations and no salt): names/signer.py in this process on the first core, and
   `dnssec-signzone -n 1` pinned to the same core with the same keys (BIND's files, as
   `manage.py dnssec export-keys` writes them). Target: ours/dnssec-signzone time <= 1.
2. The bench zone (10,000 names) loaded into SQLite and signed with `manage.py dnssec enable`;
   `rundns` signs it from the database and serves it, BIND 9 (`named -n 1`) serves the same zone
   signed by dnssec-signzone with the exported keys; dnsperf sends the usual query mix with the
   DO bit set (-D). Target: rundns/BIND >= 1.0.
3. With --after-change N: the bench zone signed in `rundns` (on the first core); N times, an
   RFC 2136 update (TSIG) adds a TXT record, and the client (second core) asks for it with DO
   set until the answer carries it with its RRSIG: the time from sending the update to that
   signed answer (median and worst). --tree runs another checkout's rundns (an older one, to
   compare: `git archive HEAD | tar -x -C DIR`).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsigkeyring
import dns.update
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import dnsbench  # noqa: E402
from authoritative.build_zone import records  # noqa: E402

from dnsadmin.names import signer  # noqa: E402
from dnsadmin.names.zone import build_zone  # noqa: E402

ALGORITHM = signer.ECDSAP256SHA256
RRSIG = dns.rdatatype.RRSIG


@dataclass(frozen=True)
class DoLoad(dnsbench.Load):
    """dnsperf with the DNSSEC OK bit on every query."""

    def arguments(self) -> list[str]:
        return [*super().arguments(), "-D"]


def key_files(directory: Path, origin: str, keys: list[signer.ZoneKey]) -> list[str]:
    """Write the keys as BIND's K*.key/K*.private files; return their stems."""
    directory.mkdir(exist_ok=True)
    stems = []
    for key in keys:
        stem = directory / f"K{origin}+{ALGORITHM:03d}+{key.tag:05d}"
        Path(f"{stem}.key").write_text(f"{origin} 3600 IN DNSKEY {key.dnskey.to_text()}\n")
        Path(f"{stem}.private").write_text(signer.bind_private_text(key.private, ALGORITHM))
        stems.append(str(stem))
    return stems


def dnssec_signzone(cpu: str, origin: str, zone: Path, out: Path, stems: list[str]) -> float:
    """Sign zone (its DNSKEYs included) with dnssec-signzone on one core; return seconds."""
    command = ["dnssec-signzone", "-n", "1", "-o", origin, "-3", "-", "-H", "0", "-x"]
    started = time.perf_counter()
    subprocess.run(
        dnsbench.pinned(cpu, [*command, "-f", str(out), str(zone), *stems]),
        check=True, capture_output=True, cwd=zone.parent,
    )  # fmt: skip
    return time.perf_counter() - started


def new_keys() -> list[signer.ZoneKey]:
    made = []
    for ksk in (True, False):
        private = signer.new_private_key(ALGORITHM)
        dnskey = signer.make_dnskey(private, ALGORITHM, ksk=ksk)
        made.append(signer.ZoneKey(dnskey, private, ksk=ksk, zsk=not ksk))
    return made


def zone_file_text(rows, origin: str, keys: list[signer.ZoneKey]) -> str:
    lines = [f"$ORIGIN {origin}"]
    for owner, ttl, rdtype, wire in rows:
        rdata = dns.rdata.from_wire(dns.rdataclass.IN, rdtype, wire, 0, len(wire))
        lines.append(f"{owner} {ttl} IN {dns.rdatatype.to_text(rdtype)} {rdata.to_text()}")
    lines += [f"@ 3600 IN DNSKEY {key.dnskey.to_text()}" for key in keys]
    return "\n".join(lines) + "\n"


def signing_speed(work: Path, count: int, cpu: str) -> None:
    origin = "big."
    rows = records(count)
    rows.append(("@", 3600, dns.rdatatype.NS, dns.name.from_text("ns1.big.").to_wire()))
    keys = new_keys()
    zone_file = work / "big.zone"
    zone_file.write_text(zone_file_text(rows, origin, keys))
    stems = key_files(work / "keys", origin, keys)
    os.sched_setaffinity(0, {int(cpu)})
    now = int(time.time())
    policy = signer.Policy(now - 3600, now + 14 * 86400, jitter=86400)
    started = time.perf_counter()
    zone = build_zone(origin, rows)
    built = time.perf_counter() - started
    signed = signer.sign_zone(zone, keys, policy)
    ours = time.perf_counter() - started - built
    signatures = sum(len(sig.wires) for sig in signed.sigs.values())
    theirs = dnssec_signzone(cpu, origin, zone_file, work / "big.signed", stems)
    print(f"\nsigning {len(rows)} records ({len(zone)} names, {signatures} signatures), one core")
    print(f"  build_zone {built:.2f} s; signer.sign_zone {ours:.2f} s")
    print(f"  dnssec-signzone -n 1: {theirs:.2f} s")
    print(f"  ratio ours/dnssec-signzone (time, target <= 1): {ours / theirs:.2f}")


def answers_with_do(work: Path, args) -> None:
    key = Fernet.generate_key().decode()
    os.environ["APPLIANCE_SECRETS_KEY"] = key
    site = dnsbench.prepare(work)
    site.manage(["dnssec", "enable", dnsbench.ORIGIN])
    site.manage(["dnssec", "export-keys", dnsbench.ORIGIN, str(work / "keys")])
    stems = sorted(str(p)[: -len(".key")] for p in (work / "keys").glob("*.key"))
    bind_dir = work / "bind"
    bind_dir.mkdir()
    unsigned = bind_dir / "unsigned"
    dnskeys = "".join(Path(f"{stem}.key").read_text() for stem in stems)
    unsigned.write_text((work / "zone").read_text() + dnskeys)
    dnssec_signzone(args.cores[1], dnsbench.ORIGIN, unsigned, bind_dir / "zone", stems)
    ours, theirs = args.cores
    servers = dnsbench.rundns_servers(site, ours)
    for server in servers:
        server.load = DoLoad(theirs)
    bind = dnsbench.bind_server(bind_dir, "bind", theirs)
    bind.load = DoLoad(ours)
    measure = dnsbench.throughput(work, work / "queries", args.seconds, DoLoad(None))
    results = dnsbench.rounds([*servers, bind], args.rounds, measure)
    dnsbench.report("DO=1 answers, signed zone, one core each (target >= 1.0)", results, "bind")
    dnsbench.startup_report(site, servers)


def signed_answer_after_change(work: Path, args) -> None:
    """Time from an update sent to the first signed answer that carries it (part 3)."""
    os.environ["APPLIANCE_SECRETS_KEY"] = Fernet.generate_key().decode()
    site = dnsbench.prepare(work)
    made = subprocess.run(
        [dnsbench.PYTHON, "manage.py", "tsig", "add", "bench"], cwd=dnsbench.ROOT,
        env=site.base_env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    site.manage(["zone", "grant", dnsbench.ORIGIN, "bench", "zonesub", "TXT"])
    site.manage(["dnssec", "enable", dnsbench.ORIGIN])
    secret = re.search(r'secret "([^"]+)"', made.stdout).group(1)
    keyring = dns.tsigkeyring.from_text({"bench": ("hmac-sha256", secret)})
    ours, theirs = args.cores
    server = dnsbench.rundns_servers(site, ours)[0]
    times = []
    with dnsbench.running(server, work):
        os.sched_setaffinity(0, {int(theirs)})
        signed_answer(server.port, f"ns1.{dnsbench.ORIGIN}", "A", 60.0)
        for number in range(args.after_change):
            name = f"change{number}.{dnsbench.ORIGIN}"
            update = dns.update.UpdateMessage(dnsbench.ORIGIN, keyring=keyring)
            update.add(name, 60, "TXT", f'"change {number}"')
            started = time.perf_counter()
            response = dns.query.udp(update, "127.0.0.1", port=server.port, timeout=10)
            if response.rcode() != dns.rcode.NOERROR:
                raise RuntimeError(f"update {number}: {dns.rcode.to_text(response.rcode())}")
            signed_answer(server.port, name, "TXT", 30.0)
            times.append(time.perf_counter() - started)
    print(
        f"\nfrom an update sent to its signed answer, {dnsbench.NAMES} names, {len(times)} changes"
    )
    print(f"  median {statistics.median(times) * 1000:.1f} ms, worst {max(times) * 1000:.1f} ms")


def signed_answer(port: int, name: str, rdtype: str, timeout: float) -> None:
    """Ask (DO set) until the answer holds the RRset of name and its RRSIG."""
    query = dns.message.make_query(name, rdtype, want_dnssec=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = dns.query.udp(query, "127.0.0.1", port=port, timeout=2).answer
        if {rrset.rdtype for rrset in answer} >= {dns.rdatatype.from_text(rdtype), RRSIG}:
            return
        time.sleep(0.001)
    raise RuntimeError(f"no signed answer for {name} {rdtype} within {timeout} s")


def main() -> None:
    parser = dnsbench.options(__doc__, "ours,BIND: each server's core")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--skip-answers", action="store_true", help="signing speed only")
    parser.add_argument("--after-change", type=int, default=0, metavar="N", help="part 3 only")
    parser.add_argument("--tree", type=Path, help="the checkout whose rundns part 3 runs")
    args: argparse.Namespace = parser.parse_args()
    if args.after_change:
        dnsbench.ROOT = args.tree.resolve() if args.tree else dnsbench.ROOT
        with dnsbench.workspace("bench-change-") as work:
            signed_answer_after_change(work, args)
        return
    with dnsbench.workspace("bench-signing-") as work:
        signing_speed(work, args.records, args.cores[0])
    if not args.skip_answers:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        with dnsbench.workspace("bench-do-") as work:
            answers_with_do(work, args)


if __name__ == "__main__":
    main()

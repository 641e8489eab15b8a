"""Response rate limiting (issue 16): a spoofed-source-style flood against rundns and BIND 9.

    .venv/bin/python bench/rrl/run.py [--seconds 10] [--rounds 1] [--flood 2000] [--legit 100]
        [--limit 10]

Both servers serve the bench zone plus one large answer (a TXT RRset of about 1 KB) with rate
limiting on: --limit responses a second, slip 2, a 15 s window (rundns through the
DNS_RRL_* settings, BIND through its rate-limit options). A flood of --flood queries a second
for the large answer comes from 127.0.1.x (fifty loopback addresses, as a spoofed victim's
network would), while a legitimate client on 127.0.2.1 asks --legit queries a second for
fifty names of the zone. Printed for each server: the flood's full answers a second (held to --limit), its
slipped (truncated) answers, what was dropped, the bytes sent back for each byte received
(the amplification left; over a window the flood is owed nothing, as from BIND), and the legitimate client's answer rate and latency (target:
everything answered). The server is pinned to the first of --cores, the clients (this
process) to the second; figures from a shared machine are noisy.
"""

from __future__ import annotations

import os
import select
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dnsbench  # noqa: E402

BIG = f"big.{dnsbench.ORIGIN}"
FLOOD_SOURCES = [f"127.0.1.{i}" for i in range(1, 51)]
LEGIT_SOURCE = "127.0.2.1"
TC = 0x02  # in the third header byte
GRACE = 1.0
A, TXT = 1, 16
LEGIT_NAMES = 50


@dataclass
class Stream:
    """One client's queries and what came back."""

    rate: int
    sent: int = 0
    full: int = 0
    slipped: int = 0
    bytes_in: int = 0  # what the server received from it
    bytes_out: int = 0  # what it sent back
    latencies: list[float] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        return self.sent - self.full - self.slipped


def big_zone(work: Path) -> Path:
    """Write the bench zone with a large answer added; return its path."""
    strings = " ".join(f'"{i:02d}{"x" * 60}"' for i in range(16))
    path = work / "zone"
    path.write_text(dnsbench.zone_text() + f"big IN TXT {strings}\n")
    return path


def question(name: str, rdtype: int) -> bytes:
    """Return a query without its ID, with EDNS (a 4096-byte payload)."""
    labels = b"".join(bytes([len(p)]) + p for p in name.encode().split(b".") if p)
    opt = b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00"
    header = b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01"
    return header + labels + b"\x00" + rdtype.to_bytes(2, "big") + b"\x00\x01" + opt


def client_socket(source: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.setblocking(False)
    return sock


def drive(port: int, seconds: float, flood: Stream, legit: Stream) -> None:
    """Send both streams at their rates for seconds; count what comes back."""
    big = question(BIG, TXT)
    # The legitimate client asks for its usual names, each well within the limit.
    usual = [question(f"h{i * 5}.{dnsbench.ORIGIN}", A) for i in range(LEGIT_NAMES)]
    floods = [client_socket(source) for source in FLOOD_SOURCES]
    legit_sock = client_socket(LEGIT_SOURCE)
    sockets = [*floods, legit_sock]
    sent_at: dict[int, float] = {}
    start = time.monotonic()
    deadline = start + seconds
    while True:
        now = time.monotonic()
        due = False
        for stream, sock in ((flood, None), (legit, legit_sock)):
            if now < deadline and now >= start + stream.sent / stream.rate:
                qid = stream.sent & 0xFFFF
                target = sock or floods[stream.sent % len(floods)]
                if stream is legit:
                    sent_at[qid] = now
                body = usual[stream.sent % len(usual)] if stream is legit else big
                message = qid.to_bytes(2, "big") + body
                target.sendto(message, ("127.0.0.1", port))
                stream.sent += 1
                stream.bytes_in += len(message)
                due = True
        if due:
            continue
        if now >= deadline + GRACE:
            break
        next_send = min(start + s.sent / s.rate for s in (flood, legit))
        wait = max(0.0, min(next_send, deadline + GRACE) - now)
        readable, _, _ = select.select(sockets, [], [], wait)
        for sock in readable:
            stream = legit if sock is legit_sock else flood
            while True:
                try:
                    response = sock.recv(65535)
                except BlockingIOError:
                    break
                stream.bytes_out += len(response)
                if response[2] & TC:
                    stream.slipped += 1
                else:
                    stream.full += 1
                if stream is legit:
                    asked = sent_at.pop(int.from_bytes(response[:2], "big"), None)
                    if asked is not None:
                        stream.latencies.append(time.monotonic() - asked)
    for sock in sockets:
        sock.close()


def report_line(name: str, seconds: float, flood: Stream, legit: Stream) -> str:
    amplification = flood.bytes_out / flood.bytes_in if flood.bytes_in else 0.0
    latency = statistics.fmean(legit.latencies) * 1000 if legit.latencies else float("nan")
    return (
        f"{name:<8}{flood.sent / seconds:>8.0f}{flood.full / seconds:>8.1f}"
        f"{flood.slipped / seconds:>9.1f}{flood.dropped / seconds:>9.1f}{amplification:>8.2f}"
        f"{legit.full / legit.sent:>10.1%}{latency:>9.2f}"
    )


def rate_limited_bind(work: Path, cpus: str, limit: int) -> dnsbench.Server:
    server = dnsbench.bind_server(work, "bind", cpus)
    conf = Path(server.command[-1])
    limits = f"rate-limit {{ responses-per-second {limit}; slip 2; window 15; }};"
    conf.write_text(conf.read_text().replace("recursion no;", f"recursion no;\n    {limits}"))
    return server


def main() -> None:
    parser = dnsbench.options(__doc__, "server,clients")
    parser.set_defaults(rounds=1)
    parser.add_argument("--flood", type=int, default=2000, help="flood queries a second")
    parser.add_argument("--legit", type=int, default=100, help="legitimate queries a second")
    parser.add_argument("--limit", type=int, default=10, help="responses a second allowed")
    args = parser.parse_args()
    ours, theirs = args.cores
    os.sched_setaffinity(0, {int(theirs)})
    rows = []
    with dnsbench.workspace("bench-rrl-") as work:
        (work / "queries").write_text("")
        site = dnsbench.Site(work, big_zone(work))
        rundns = dnsbench.rundns_servers(site, ours)[0]
        rundns.env = site.env(
            DNS_RRL_RESPONSES_PER_SECOND=str(args.limit), DNS_RRL_SLIP="2", DNS_RRL_WINDOW="15"
        )
        servers = [rundns, rate_limited_bind(work, ours, args.limit)]
        for number in range(1, args.rounds + 1):
            for server in servers:
                print(f"round {number}, {server.name}", flush=True)
                flood, legit = Stream(args.flood), Stream(args.legit)
                with dnsbench.running(server, work):
                    drive(server.port, args.seconds, flood, legit)
                rows.append(report_line(server.name, args.seconds, flood, legit))
                print(f"    {rows[-1]}", flush=True)
    print(f"\nflood of {args.flood} q/s from 127.0.1.x for a ~1 KB answer, limit {args.limit}/s")
    print(f"{'server':<8}{'flood':>8}{'full/s':>8}{'slipped':>9}{'dropped':>9}{'ampl.':>8}")
    print(f"{'':<8}{'q/s':>8}{'':>8}{'/s':>9}{'/s':>9}{'':>8}{'legit ok':>10}{'avg ms':>9}")
    for row in rows:
        print(row)
    print(f"target: full answers to the flood <= {args.limit}/s, the legitimate client's all")


if __name__ == "__main__":
    main()

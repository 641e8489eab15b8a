"""The public-facing mix of issue 16: a zone of 50,000 hosts and the questions asked of it.

The zone (about 118,000 records): every host has an A record, three in five an AAAA, three in
ten a TXT, three in ten an alias (``w<i>``, a CNAME to the host), one in six a SIP SRV record;
plus a delegation (``sub``, with glue) and a wildcard (``*.wild``). The questions go evenly
over every name and type the zone answers (data, NODATA, CNAME, SRV, referral, wildcard), each
name in random upper/lower case (as resolvers do, "0x20"), with a share of unique random names
that do not exist (a "random subdomain" flood).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

ORIGIN = "bench.example."
HOSTS = 50_000


def zone_text(hosts: int = HOSTS) -> str:
    """Return the zone file of the mix."""
    lines = [
        "$TTL 300",
        "@ 3600 IN SOA ns1 hostmaster 1 7200 900 1209600 300",
        "@ IN NS ns1",
        "ns1 IN A 192.0.2.1",
        "sub IN NS ns1.sub",
        "sub IN NS ns.elsewhere.example.",
        "ns1.sub IN A 192.0.2.53",
        "*.wild IN A 192.0.2.99",
        '*.wild IN TXT "wildcard"',
    ]
    for i in range(hosts):
        lines.append(f"h{i} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
        if i % 5 < 3:
            lines.append(f"h{i} IN AAAA 2001:db8::{i:x}")
        if i % 10 < 3:
            lines.append(f'h{i} IN TXT "host number {i}"')
        if i % 10 >= 7:
            lines.append(f"w{i} IN CNAME h{i}")
        if i % 6 == 0:
            lines.append(f"_sip._udp.h{i} IN SRV 10 5 5060 h{i}")
    return "\n".join(lines) + "\n"


def known_questions(hosts: int = HOSTS) -> list[str]:
    """Return each question about the zone's names once: "name type" lines, lowercase."""
    out = [f"ns1.{ORIGIN} A", f"{ORIGIN} SOA", f"{ORIGIN} NS"]
    for i in range(hosts):
        host = f"h{i}.{ORIGIN}"
        out += [f"{host} A", f"{host} AAAA"]  # NODATA for two in five
        if i % 10 < 3:
            out.append(f"{host} TXT")
        if i % 10 >= 7:
            out.append(f"w{i}.{ORIGIN} A")
        if i % 6 == 0:
            out.append(f"_sip._udp.{host} SRV")
        if i % 25 == 0:
            out.append(f"x{i}.sub.{ORIGIN} A")  # a referral
            out.append(f"x{i}.wild.{ORIGIN} {'A' if i % 2 else 'TXT'}")  # a wildcard
    return out


def random_case(text: str, rng: random.Random) -> str:
    """Return the name of a question line with each letter's case flipped at random."""
    name, _, rdtype = text.partition(" ")
    bits = rng.getrandbits(len(name))
    flipped = "".join(c.upper() if bits >> i & 1 else c for i, c in enumerate(name))
    return f"{flipped} {rdtype}"


def unique_nonexistent(rng: random.Random) -> Iterator[str]:
    """Yield questions for random names that do not exist, each once (in practice)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    while True:
        label = "".join(rng.choices(alphabet, k=12))
        yield f"{label}.{ORIGIN} {rng.choice(['A', 'AAAA'])}"


def mix(count: int, *, seed: int = 16, case: bool = True, unique_share: float = 0.3,
        hosts: int = HOSTS) -> list[str]:  # fmt: skip
    """Return count question lines: the known questions in a random order, over and over,
    in random case if ``case``, with ``unique_share`` of unique nonexistent names among them."""
    rng = random.Random(seed)
    known = known_questions(hosts)
    order: list[str] = []
    nonexistent = unique_nonexistent(rng)
    out = []
    for _ in range(count):
        if rng.random() < unique_share:
            line = next(nonexistent)
        else:
            if not order:
                order = known[:]
                rng.shuffle(order)
            line = order.pop()
        out.append(random_case(line, rng) if case else line)
    return out

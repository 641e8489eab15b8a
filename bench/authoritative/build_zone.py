"""How long build_zone takes for a zone of 100,000 records (the Django side loads zones so).

.venv/bin/python bench/authoritative/build_zone.py [--records 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import dns.rdata
import dns.rdataclass
import dns.rdatatype

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dnsadmin.names.zone import build_zone  # noqa: E402

IN = dns.rdataclass.IN


def records(count: int) -> list[tuple[str, int, int, bytes]]:
    """Yield rows as the database hands them over: owner text, TTL, type, rdata wire."""
    soa = dns.rdata.from_text(IN, dns.rdatatype.SOA, "ns1.big. host.big. 1 7200 900 1209600 300")
    rows = [("@", 3600, dns.rdatatype.SOA, soa.to_wire())]
    for i in range(count - 1):
        if i % 2:
            rows.append((f"h{i}.g{i % 100}", 300, dns.rdatatype.A, (i).to_bytes(4, "big")))
        else:
            text = f'"record {i}"'
            rdata = dns.rdata.from_text(IN, dns.rdatatype.TXT, text)
            rows.append((f"t{i}", 300, dns.rdatatype.TXT, rdata.to_wire()))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    rows = records(args.records)
    started = time.perf_counter()
    zone = build_zone("big.", rows)
    elapsed = time.perf_counter() - started
    print(f"build_zone: {len(rows)} records, {len(zone)} names in {elapsed:.2f} s")


if __name__ == "__main__":
    main()

"""Response rate limiting (RRL), as BIND's ``rate-limit``: what a spoofed-source flood gets.

Each response sent over UDP is classified by what it says (its rcode and counts, read from the
bytes) and charged to a bucket keyed like BIND's: the client's network (a /24 for IPv4, a /56
for IPv6), the kind of response, and for answers the question's name and type, for negative
answers and referrals the zone (the owner of the authority section's first record). A bucket
holds a second's worth of responses and refills at its rate; a client over its rate owes up to
``window`` seconds of responses before it is answered again. A limited response is dropped,
except every ``slip``-th, which is sent truncated (TC=1, no records) so that a real client
retries over TCP, where nothing is limited; a client that sent a DNS cookie gets BADCOOKIE
instead, so that it retries with the server cookie it is handed (RFC 7873 5.2.3), as from
BIND. Errors are never slipped, as in BIND: a truncated error invites nothing.

The caller decides who is limited at all: TCP never, clients with a valid server cookie never
(as NSD), exempt networks never (``RateLimiter.exempt``).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from .addresses import allowed, networks

HEADER_FLAGS_TC = 0x02  # in the third header byte
HEADER_FLAGS_AA = 0x04
NOERROR, NXDOMAIN = 0, 3
BADCOOKIE = 23  # RFC 7873: an extended rcode, 7 in the header and 1 in the OPT's TTL
OPT_TYPE = b"\x00\x29"
NS_TYPE = b"\x00\x02"
MAX_HOPS = 32  # compression pointers followed in one name: more is a loop
MAX_EXEMPT_REMEMBERED = 4096


class Kind(Enum):
    """What a response says, as BIND sorts responses for its limits."""

    ANSWER = "responses"
    NODATA = "nodata"
    NXDOMAIN = "nxdomains"
    REFERRAL = "referrals"
    ERROR = "errors"


class Verdict(Enum):
    SEND = 0
    DROP = 1
    SLIP = 2


@dataclass(frozen=True)
class RateLimits:
    """BIND's rate-limit options; a rate of 0 does not limit (all zero: RRL off).

    nxdomains, nodata, referrals and errors take the responses rate when left as None, as in
    BIND. window: seconds over which a client's excess is remembered; slip: every slip-th
    limited response is sent truncated (0: none, 1: all); exempt: networks never limited;
    max_entries: buckets kept (the idle, then the oldest, go first).
    """

    responses_per_second: int = 0
    nxdomains_per_second: int | None = None
    nodata_per_second: int | None = None
    referrals_per_second: int | None = None
    errors_per_second: int | None = None
    window: int = 15
    slip: int = 2
    ipv4_prefix: int = 24
    ipv6_prefix: int = 56
    exempt: Sequence[str] = ()
    max_entries: int = 20_000

    def rate(self, kind: Kind) -> int:
        """Return the responses a second allowed for a kind of response."""
        own = {
            Kind.NXDOMAIN: self.nxdomains_per_second,
            Kind.NODATA: self.nodata_per_second,
            Kind.REFERRAL: self.referrals_per_second,
            Kind.ERROR: self.errors_per_second,
        }.get(kind)
        return self.responses_per_second if own is None else own

    @property
    def enabled(self) -> bool:
        return any(self.rate(kind) for kind in Kind)


class RateLimiter:
    """The buckets, and the verdict on each response; time comes from clock (seconds)."""

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.monotonic):
        if limits.window < 1 or limits.slip < 0 or limits.max_entries < 1:
            raise ValueError("rate limiting needs a window of 1 s or more, a slip of 0 or more")
        if not (0 <= limits.ipv4_prefix <= 32 and 0 <= limits.ipv6_prefix <= 128):
            raise ValueError("rate limiting prefix lengths are 0-32 (IPv4) and 0-128 (IPv6)")
        self.limits = limits
        self.clock = clock
        self.rates = {kind: limits.rate(kind) for kind in Kind}
        self._exempt_networks = networks(limits.exempt)
        self._exempt: dict[str, bool] = {}
        self._shift4 = 32 - limits.ipv4_prefix
        self._shift6 = 128 - limits.ipv6_prefix
        # key -> [balance, last seen, slip count]; in insertion order, for eviction
        self.buckets: dict[tuple, list] = {}

    def exempt(self, client: str) -> bool:
        """Tell whether client is in an exempt network (remembered per address)."""
        found = self._exempt.get(client)
        if found is None:
            found = allowed(client, self._exempt_networks) if self._exempt_networks else False
            if len(self._exempt) >= MAX_EXEMPT_REMEMBERED:
                self._exempt.clear()
            self._exempt[client] = found
        return found

    def check(self, client: str, response: bytes) -> Verdict:
        """Charge response, about to be sent to client, to its bucket; say what to do."""
        kind, name, qtype = classify(response)
        rate = self.rates[kind]
        if not rate or self.exempt(client):
            return Verdict.SEND
        key = (kind, self.prefix(client), name, qtype)
        return self._charge(key, rate, kind is not Kind.ERROR)

    def prefix(self, client: str) -> int:
        """Return the network a client address counts in (its address's first prefix bits)."""
        if ":" in client:
            packed = socket.inet_pton(socket.AF_INET6, client.partition("%")[0])
            return (1 << 128) | int.from_bytes(packed, "big") >> self._shift6
        return int.from_bytes(socket.inet_aton(client), "big") >> self._shift4

    def _charge(self, key: tuple, rate: int, may_slip: bool) -> Verdict:
        now = self.clock()
        bucket = self.buckets.get(key)
        window = self.limits.window
        if bucket is None:
            if len(self.buckets) >= self.limits.max_entries:
                self._evict(now)
            bucket = self.buckets[key] = [float(rate), now, 0]
        else:
            age = now - bucket[1]
            if age > 0:
                # Credit what was earned since; an entry idle for a window starts afresh.
                balance = bucket[0] + rate * age if age <= window else rate
                if balance >= rate:
                    balance, bucket[2] = rate, 0
                bucket[0], bucket[1] = balance, now
        bucket[0] -= 1
        if bucket[0] >= 0:
            return Verdict.SEND
        bucket[0] = max(bucket[0], -window * rate)
        return self._slip(bucket) if may_slip else Verdict.DROP

    def _slip(self, bucket: list) -> Verdict:
        """Slip the first limited response and every slip-th after it (BIND's count)."""
        slip = self.limits.slip
        if not slip:
            return Verdict.DROP
        count = bucket[2]
        bucket[2] = 0 if count + 1 >= slip else count + 1
        return Verdict.SLIP if count == 0 else Verdict.DROP

    def _evict(self, now: float) -> None:
        """Make room: drop the buckets idle for a window (they hold nothing a new one would
        not), else the oldest."""
        window = self.limits.window
        idle = [key for key, bucket in self.buckets.items() if now - bucket[1] > window]
        for key in idle:
            del self.buckets[key]
        if not idle:
            del self.buckets[next(iter(self.buckets))]


def classify(response: bytes) -> tuple[Kind, bytes, int]:
    """Return what response says, and the name and type its bucket is keyed by: the question
    for answers and NODATA, the zone for NXDOMAIN and referrals, nothing for errors."""
    rcode = response[3] & 0xF
    if rcode not in (NOERROR, NXDOMAIN) or response[4:6] != b"\x00\x01":
        return Kind.ERROR, b"", 0
    try:
        qname, position = name_at(response, 12)
        qtype = int.from_bytes(response[position : position + 2], "big")
        if rcode == NOERROR and response[6:8] != b"\x00\x00":
            return Kind.ANSWER, qname, qtype
        if response[8:10] == b"\x00\x00":
            return (Kind.NXDOMAIN if rcode else Kind.NODATA), qname, qtype
        zone, end = name_at(response, position + 4)
    except (IndexError, ValueError):
        return Kind.ERROR, b"", 0
    if rcode == NXDOMAIN:
        return Kind.NXDOMAIN, zone, 0
    # A referral: not authoritative, NS records in the authority section (a cache's NODATA
    # has its SOA there).
    if not response[2] & HEADER_FLAGS_AA and response[end : end + 2] == NS_TYPE:
        return Kind.REFERRAL, zone, 0
    return Kind.NODATA, qname, qtype


def name_at(message: bytes, position: int) -> tuple[bytes, int]:
    """Return the name at position in wire form, lower-cased and with its compression
    pointers followed, and the position after it in the message."""
    parts = []
    end = -1
    for _ in range(MAX_HOPS):
        while True:
            length = message[position]
            if length >= 0xC0:
                if end < 0:
                    end = position + 2
                position = (length & 0x3F) << 8 | message[position + 1]
                break
            if length > 63:
                raise ValueError("unknown label type")
            if length == 0:
                parts.append(b"\x00")
                return b"".join(parts).lower(), (position + 1 if end < 0 else end)
            parts.append(message[position : position + length + 1])
            position += length + 1
    raise ValueError("compression loop")


def slipped(response: bytes, cookie: bool) -> bytes:
    """Return the small answer sent instead of a limited one: truncated and empty, the
    rcode kept (BIND's slip), or BADCOOKIE for a client that sent a cookie."""
    _, end = name_at(response, 12)
    question = response[12 : end + 4]
    has_opt = len(response) >= end + 15 and response[-11:-8] == b"\x00" + OPT_TYPE
    opt = response[-11:] if has_opt else b""
    flags = response[2] | HEADER_FLAGS_TC
    rcode = response[3] & 0xF
    if cookie and opt:
        # BADCOOKIE's upper bits go in the OPT TTL's first byte, the lower in the header.
        flags = response[2] & ~(HEADER_FLAGS_AA | HEADER_FLAGS_TC) & 0xFF
        rcode = BADCOOKIE & 0xF
        opt = opt[:5] + bytes([BADCOOKIE >> 4]) + opt[6:]
    header = response[:2] + bytes([flags, (response[3] & 0xF0) | rcode])
    counts = b"\x00\x01\x00\x00\x00\x00" + (b"\x00\x01" if opt else b"\x00\x00")
    return header + counts + question + opt

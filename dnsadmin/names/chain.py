"""The resolver chain: authority, hosts file, cache, then recursion or forwarding.

As Twisted Names chained its resolvers, each query goes down the links in a configurable order
and the first that knows answers; the answer carries the name of the link that produced it, for
the query log and the statistics.

Only clients in the allow-list (loopback by default) get anything but our own zones: the others
get REFUSED with RA clear, as from BIND with allow-recursion and allow-query-cache at their
defaults. Allowed clients see RA set on every response. A query with RD clear from an allowed
client is answered from the hosts file and the cache only; on a miss it gets a referral to the
closest zone cut in the cache, like BIND, or REFUSED when the cache knows no cut at all (we do
not prime the root, so BIND's referral to the root has no counterpart).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import dns.rdataclass
import dns.rdatatype

from . import authority, wire
from .authority import NOT_MINE, NotMine
from .cache import ADDRESS_TYPES, NOT_CACHED, Cache, Found, owned, render
from .catalog import ZoneCatalog
from .forwarder import Forwarder
from .hosts import Hosts
from .recursive import ROOT_HINTS, Recursive, read_hints

log = logging.getLogger(__name__)

Result = bytes | None | NotMine | Awaitable[bytes | None]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_ORDER = ("authority", "hosts", "cache", "recursive")
DEFAULT_ALLOW = ("127.0.0.0/8", "::1/128")
RA = 0x80  # in the fourth header byte
RD = 0x0100
MAX_CLIENTS_REMEMBERED = 4096
MAX_KEPT = 100_000  # answers kept per kind of client
FOREVER = float("inf")  # an authoritative answer stays right until the zones change


def networks(cidrs: Sequence[str]) -> list[Network]:
    """The allow-list; a ValueError names the bad entry, for the operator."""
    return [ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs]


class ResolverChain:
    """The links behind the listeners, configured as rundns and the settings expose them.

    catalog: our zones (the authority link); recursion: off leaves only the authority;
    allow_recursion: CIDRs of the clients that may use anything but the authority;
    forwarders: "ADDR[:PORT]" resolvers to forward to instead of iterating from root_hints;
    hosts_file: an /etc/hosts style file; order: the links, "forwarder" being another name for
    "recursive"; port: the port of the servers iterated over (53 except in tests);
    query_timeout: seconds per upstream query when iterating; deadline: seconds per question;
    max_inflight: distinct questions resolved at once, beyond which SERVFAIL sheds the load.
    """

    def __init__(
        self,
        catalog: ZoneCatalog | None = None,
        *,
        recursion: bool = True,
        allow_recursion: Sequence[str] = DEFAULT_ALLOW,
        forwarders: Sequence[str] = (),
        hosts_file: Path | str | None = None,
        root_hints: Path | str = ROOT_HINTS,
        order: Sequence[str] = DEFAULT_ORDER,
        port: int = 53,
        cache: Cache | None = None,
        deadline: float = 4.0,
        query_timeout: float = 1.0,
        max_inflight: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        order = ["recursive" if link == "forwarder" else link for link in order]
        unknown = set(order) - set(DEFAULT_ORDER)
        if unknown:
            raise ValueError(f"unknown resolvers in the order: {', '.join(sorted(unknown))}")
        self.catalog = catalog
        self.recursion = recursion
        self.allowed = networks(allow_recursion)
        self.cache = cache if cache is not None else Cache(clock=clock)
        self.hosts = Hosts(hosts_file, clock=clock) if hosts_file else None
        timing = {"deadline": deadline, "max_inflight": max_inflight, "clock": clock}
        self.upstream = self._upstream(forwarders, root_hints, port, query_timeout, timing)
        self.order = [link for link in order if self._present(link)]
        self._clients: dict[str, bool] = {}
        self._zones = catalog if catalog is not None else ZoneCatalog()  # for its generation
        self._forget_kept()

    def _upstream(
        self, forwarders: Sequence[str], root_hints: Path | str, port: int,
        query_timeout: float, timing: dict,
    ) -> Recursive | Forwarder:  # fmt: skip
        if forwarders:
            return Forwarder(self.cache, forwarders, **timing)
        hints = read_hints(root_hints)
        return Recursive(self.cache, hints, port=port, query_timeout=query_timeout, **timing)

    def _present(self, link: str) -> bool:
        if link == "authority":
            return self.catalog is not None
        if link == "hosts":
            return self.hosts is not None
        return self.recursion

    async def close(self) -> None:
        """Cancel the resolutions still in flight."""
        await self.upstream.close()

    def allows_recursion(self, client: str) -> bool:
        allowed = self._clients.get(client)
        if allowed is None:
            allowed = self._check(client)
            if len(self._clients) >= MAX_CLIENTS_REMEMBERED:
                self._clients.clear()
            self._clients[client] = allowed
        return allowed

    def _check(self, client: str) -> bool:
        if not self.recursion:
            return False
        try:
            address = ipaddress.ip_address(client.split("%", 1)[0])
        except ValueError:
            return False
        return any(address in network for network in self.allowed)

    def resolve(self, query: bytes, *, tcp: bool, client: str) -> tuple[Result, str]:
        """The response to query from client, and the name of the link that produced it."""
        allowed = self.allows_recursion(client)
        parsed: wire.Query | None = None
        for link in self.order:
            until = 0.0  # how long the answer may be sent again as it is (0: not at all)
            if link == "authority":
                result, until = authority.answer_or_pass(query, self.catalog, tcp=tcp), FOREVER
            elif not allowed:
                continue
            elif link == "cache":
                # Before any parsing: a repeated question is a dict lookup in the cache.
                result, until = self.cache.answer_until(query, tcp=tcp) or (NOT_MINE, 0.0)
            else:
                parsed = parsed or wire.parse_query(query)
                result = self._resolve(link, query, parsed, tcp)
            if result is not NOT_MINE:
                result, source = _flagged(result, allowed), self._source(link, parsed)
                if until and not tcp and type(result) is bytes:
                    self._keep(query, allowed, result, until, source)
                return result, source
        result = authority.refused(query, tcp=tcp)
        if not allowed and not tcp and type(result) is bytes:
            self._keep(query, allowed, result, FOREVER, "authority")  # theirs until zones change
        return result, "authority"

    # answers kept to send again

    def at_once(self, query: bytes, client: str) -> tuple[bytes, str] | None:
        """The UDP answer worked out before for the same question from the same kind of client,
        while it stays right: no parsing, no rendering, one dict lookup (the hot path)."""
        if self._zones.generation != self._kept_zones or self.cache.generation != self._kept_cache:
            self._forget_kept()
            return None
        allowed = self._clients.get(client)
        if allowed is None:
            return None
        kept = self._kept[allowed].get(query[2:])
        if kept is None:
            return None
        body, until, source = kept
        if until < FOREVER and until <= self.cache.clock():
            return None
        return query[:2] + body, source

    def _keep(self, query: bytes, allowed: bool, response: bytes, until: float, source: str):
        kept = self._kept[allowed]
        if len(kept) >= MAX_KEPT:
            kept.clear()  # a flood of distinct names must not grow it without bound
        kept[query[2:]] = (response[2:], until, source)

    def _forget_kept(self) -> None:
        self._kept = ({}, {})  # by whether the client may recurse (RA, the cache)
        self._kept_zones, self._kept_cache = self._zones.generation, self.cache.generation

    def _source(self, link: str, parsed: wire.Query | None) -> str:
        if link != "recursive":
            return link
        if parsed is not None and not parsed.flags & RD:
            return "cache"  # a referral made of cached NS records
        return self.upstream.source

    def _resolve(self, link: str, query: bytes, parsed: wire.Query | None, tcp: bool) -> Result:
        if parsed is None:
            return None
        if parsed.rcode:
            return wire.error(parsed, parsed.rcode, wire.TCP_LIMIT if tcp else parsed.udp_limit())
        if parsed.qclass != dns.rdataclass.IN or parsed.qtype in NOT_CACHED:
            return NOT_MINE
        if link == "hosts":
            found = self.hosts.find(parsed.qname, parsed.qtype)
            return NOT_MINE if found is None else render(parsed, found, tcp=tcp)
        if not parsed.flags & RD:
            return self._referral(parsed, tcp)
        return self._recurse(parsed, tcp)

    def _referral(self, parsed: wire.Query, tcp: bool) -> bytes | NotMine:
        cut = self.cache.delegation(parsed.qname)
        if cut is None:
            return NOT_MINE
        limit = wire.TCP_LIMIT if tcp else parsed.udp_limit()
        glue = [
            (owned(rrset), False)
            for rdata in cut
            for rrset in (self.cache.rrset(rdata.target, t) for t in ADDRESS_TYPES)
            if rrset is not None
        ]
        sections = wire.Sections(authority=[owned(cut)], additional=glue)
        return wire.render(parsed, sections, limit)

    async def _recurse(self, parsed: wire.Query, tcp: bool) -> bytes:
        try:
            found = await self.upstream.resolve(parsed.qname, parsed.qtype)
        except Exception:
            # A resolver bug costs this answer (and is logged), never the server.
            log.exception("resolution of %s/%s failed", parsed.qname, parsed.qtype)
            found = Found(wire.SERVFAIL)
        return _with_ra(render(parsed, found, tcp=tcp))


def _flagged(result: Result, allowed: bool) -> Result:
    if not allowed or type(result) is not bytes:
        return result  # responses being resolved set RA themselves once rendered
    return _with_ra(result)


def _with_ra(response: bytes) -> bytes:
    return response[:3] + bytes([response[3] | RA]) + response[4:]

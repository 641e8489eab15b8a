"""Ask the parent's own servers for a zone's DS records, as BIND's checkds does.

Each server is asked directly (recursion not desired, no cache in between; TCP when the UDP
answer is truncated) and must answer with authority: a referral or a refusal is not an
answer about the parent's DS. When no parental agents are configured, the parent zone's
name servers are found through a resolver (the host's, which is the appliance's own chain).
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from dnsadmin.names.addresses import parse_address

TIMEOUT = 3.0  # seconds for one server's answer, and for finding the parent's servers


class ParentUnknown(Exception):
    """The parent's servers could not be found (the message says why)."""


@dataclass(frozen=True)
class Answer:
    """What one parent server said: its DS rdatas (wire form) and their TTL, or why not."""

    server: str
    ds: frozenset[bytes] | None  # None: no usable answer (see error)
    ttl: int = 0
    error: str = ""


@dataclass(frozen=True)
class ParentView:
    """What every parent server said about the zone's DS at one moment (or, in problem, why
    the parent's servers could not be found)."""

    answers: tuple[Answer, ...]
    problem: str = ""

    @property
    def reachable(self) -> bool:
        return bool(self.answers) and all(a.ds is not None for a in self.answers)

    def everywhere(self, accepted: set[bytes]) -> bool:
        """Tell whether every parent server publishes one of these DS (one key's digests)."""
        return self.reachable and all(a.ds & accepted for a in self.answers)

    def nowhere(self) -> bool:
        """Tell whether every parent server answered, none with any DS for the zone."""
        return self.reachable and not any(a.ds for a in self.answers)

    @property
    def ttl(self) -> int:
        return max((a.ttl for a in self.answers if a.ds), default=0)

    def errors(self) -> list[str]:
        found = [f"{a.server}: {a.error}" for a in self.answers if a.ds is None]
        return [self.problem, *found] if self.problem else found


def ask(origin: str, server: str, timeout: float = TIMEOUT) -> Answer:
    """Ask one server (``ADDR[:PORT]``) for the DS records at origin, with RD clear."""
    host, port = parse_address(server)
    name = dns.name.from_text(origin)
    query = dns.message.make_query(name, dns.rdatatype.DS)
    query.flags &= ~dns.flags.RD
    try:
        response, _ = dns.query.udp_with_fallback(query, host, timeout=timeout, port=port)
    except dns.exception.Timeout:
        return Answer(server, None, error="no answer (timed out)")
    except (OSError, dns.exception.DNSException) as error:
        return Answer(server, None, error=f"no answer ({error})")
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return Answer(server, None, error=f"answered {dns.rcode.to_text(rcode)}")
    if not response.flags & dns.flags.AA:
        return Answer(server, None, error="is not authoritative for the parent zone")
    rrset = response.get_rrset(
        response.answer, name, dns.rdataclass.IN, dns.rdatatype.DS
    )  # fmt: skip
    if rrset is None:
        return Answer(server, frozenset())
    return Answer(server, frozenset(r.to_wire() for r in rrset), rrset.ttl)


def look(origin: str, servers: list[str], timeout: float = TIMEOUT) -> ParentView:
    """Ask every server; return what each said."""
    return ParentView(tuple(ask(origin, server, timeout) for server in servers))


def parent_servers(origin: str, resolver: dns.resolver.Resolver | None = None) -> list[str]:
    """Find the addresses of the parent zone's name servers through a resolver."""
    name = dns.name.from_text(origin)
    if name == dns.name.root:
        raise ParentUnknown("the root zone has no parent")
    try:
        resolver = resolver or dns.resolver.Resolver()
        resolver.lifetime = TIMEOUT
        parent = dns.resolver.zone_for_name(name.parent(), resolver=resolver)
        hosts = sorted(r.target for r in resolver.resolve(parent, "NS"))
        found = []
        for host in hosts:
            for rdtype in ("A", "AAAA"):
                try:
                    found += sorted(r.address for r in resolver.resolve(host, rdtype))
                except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                    continue
    except dns.exception.DNSException as error:
        raise ParentUnknown(f"could not find the parent's name servers ({error})") from None
    if not found:
        raise ParentUnknown(f"the parent zone {parent} has no name server addresses")
    return [f"[{a}]:53" if ":" in a else a for a in dict.fromkeys(found)]

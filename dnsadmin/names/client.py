"""Asynchronous DNS client: one lookup function per record type, in the manner of Twisted Names.

Every ``lookup_*`` coroutine returns a :class:`Result` holding the answer, authority and additional
sections of the response as dnspython RRsets, and raises a :class:`DNSError` subclass when the
server says the name does not exist (:class:`NoSuchName`), has no record of that type
(:class:`NoData`), refuses (:class:`Refused`), fails (:class:`ServerFailure`), rejects the query
(:class:`FormatError`), or when nobody answers in time (:class:`Timeout`). ``blocking`` holds the
same functions for scripts that have no event loop::

    from dnsadmin.names import client

    result = client.blocking.lookup_mail_exchange("example.com")
    for mx in sorted(result.records, key=lambda mx: mx.preference):
        print(mx.preference, mx.exchange)

Resolution is dnspython's stub resolver (search list, ndots, retries, TC -> TCP); this module adds
an optional hosts file, the ANY and AXFR queries that dnspython's resolver refuses, and the mapping
of outcomes to exceptions. It imports no Django.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol, TypeVar

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.reversename
import dns.rrset
import dns.xfr
import dns.zone

from .addresses import parse_address
from .hosts import HostsData, parse_hosts
from .wire import OUR_PAYLOAD

SYSTEM_RESOLV_CONF = "/etc/resolv.conf"


class DNSError(Exception):
    """A lookup failed; ``result`` holds the server's response when there was one."""

    def __init__(self, message: str, result: Result | None = None) -> None:
        super().__init__(message)
        self.result = result


class NoSuchName(DNSError):
    """The name does not exist (NXDOMAIN)."""


class NoData(DNSError):
    """The name has no record of the asked type (NOERROR with no answer, or a referral)."""


class Refused(DNSError):
    """The server refused to answer (REFUSED)."""


class ServerFailure(DNSError):
    """The server could not answer (SERVFAIL)."""


class FormatError(DNSError):
    """The server could not understand the query, or sent a response we cannot (FORMERR)."""


class Timeout(DNSError):
    """No server answered within the time allowed."""


_RCODE_ERRORS: dict[int, type[DNSError]] = {
    dns.rcode.NXDOMAIN: NoSuchName,
    dns.rcode.SERVFAIL: ServerFailure,
    dns.rcode.REFUSED: Refused,
    dns.rcode.FORMERR: FormatError,
}

# Types whose answer is every record found rather than one RRset at the canonical name.
_WHOLE_ANSWER_TYPES = frozenset({dns.rdatatype.ANY, dns.rdatatype.AXFR})


@dataclass(frozen=True)
class Result:
    """The outcome of one query: the response's sections, typed.

    ``name`` is the name asked (after the search list), ``canonical_name`` where CNAMEs and
    DNAMEs led. ``response`` is the raw message (``None`` when the hosts file answered or for a
    zone transfer) and ``server`` the ``(address, port)`` that answered, when known (dnspython
    does not say which server denied a name).
    """

    name: dns.name.Name
    rdtype: dns.rdatatype.RdataType
    answers: list[dns.rrset.RRset]
    canonical_name: dns.name.Name
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    additional: list[dns.rrset.RRset] = field(default_factory=list)
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    response: dns.message.Message | None = None
    server: tuple[str, int] | None = None

    @property
    def records(self) -> list[dns.rdata.Rdata]:
        """Return the records that answer the question, after following CNAMEs and DNAMEs."""
        if self.rdtype in _WHOLE_ANSWER_TYPES:
            return [rdata for rrset in self.answers for rdata in rrset]
        return [
            rdata
            for rrset in self.answers
            if rrset.name == self.canonical_name and rrset.rdtype == self.rdtype
            for rdata in rrset
        ]


def _from_hosts(hosts: HostsData, qname: dns.name.Name, rdtype: int) -> Result | None:
    """Return the hosts file's answer to an A, AAAA or PTR question, or None to ask the DNS."""
    texts = hosts.lookup(qname, rdtype)
    if not texts:
        return None
    # TTL 0: the file may change at any time, so nobody should keep the answer.
    rrset = dns.rrset.from_text_list(qname, 0, dns.rdataclass.IN, rdtype, texts)
    return Result(name=qname, rdtype=rdtype, answers=[rrset], canonical_name=qname)


@dataclass(frozen=True)
class Resolver:
    """A configured stub resolver: dnspython's, plus the hosts file consulted before it."""

    stub: dns.asyncresolver.Resolver
    hosts: HostsData | None = None

    @property
    def servers(self) -> list[tuple[str, int]]:
        """Return the (address, port) of each name server, in the order they are tried."""
        return [(ns.answer_nameserver(), ns.answer_port()) for ns in self.stub.nameservers]


def _nameserver(server: tuple[str, int] | str) -> dns.nameserver.Do53Nameserver:
    address, port = parse_address(server) if isinstance(server, str) else server
    return dns.nameserver.Do53Nameserver(address, port)


def create_resolver(
    servers: list[tuple[str, int]] | list[str] | None = None,
    resolv_conf: str | None = None,
    hosts: str | None = None,
    timeout: float = 5.0,
) -> Resolver:
    """Build a resolver.

    ``servers`` (``(address, port)`` pairs or ``"ADDR[:PORT]"`` strings) replace the name servers
    of ``resolv_conf``, whose search list, ndots and per-try timeout still apply. With neither,
    the system's /etc/resolv.conf is read; with servers alone, names are not searched. ``hosts``
    is an /etc/hosts-style file consulted first for A, AAAA and PTR questions. ``timeout`` bounds
    each lookup as a whole, retries included.

    Raises DNSError when the resolv.conf cannot be read or names no server, ValueError for a
    malformed server address, and OSError when the hosts file cannot be read.
    """
    if servers is not None and not servers:
        raise ValueError("servers must name at least one server")
    from_file = servers is None or resolv_conf is not None
    try:
        stub = dns.asyncresolver.Resolver(resolv_conf or SYSTEM_RESOLV_CONF, configure=from_file)
    except dns.resolver.NoResolverConfiguration as error:
        raise DNSError(f"unusable resolver configuration: {error}") from error
    stub.use_search_by_default = from_file
    if servers is None:
        servers = [(str(address), stub.port) for address in stub.nameservers]
    # Nameserver objects, not bare addresses, so that each server keeps its own port.
    stub.nameservers = [_nameserver(server) for server in servers]
    stub.lifetime = timeout
    stub.timeout = min(stub.timeout, timeout)
    # Bigger answers come back truncated and are retried over TCP.
    stub.use_edns(0, 0, OUR_PAYLOAD)
    table = parse_hosts(Path(hosts).read_text()) if hosts else None
    return Resolver(stub, table)


_default_resolver: Resolver | None = None


def get_default_resolver() -> Resolver:
    """Return the resolver the module functions use when given none: the system's, made on
    first use."""
    global _default_resolver
    if _default_resolver is None:
        _default_resolver = create_resolver()
    return _default_resolver


def set_default_resolver(resolver: Resolver | None) -> None:
    """Make ``resolver`` the default; None goes back to the system's on next use."""
    global _default_resolver
    _default_resolver = resolver


def _parse_name(name: str) -> dns.name.Name:
    # Without a trailing dot the name stays relative, so that the search list may apply.
    if not name:
        raise ValueError("empty domain name (the root is '.')")
    try:
        return dns.name.from_text(name, origin=None)
    except dns.exception.DNSException as error:
        raise ValueError(f"bad domain name {name!r}: {error}") from error


def _parse_type(rdtype: str | int) -> dns.rdatatype.RdataType:
    try:
        return dns.rdatatype.RdataType.make(rdtype)
    except (ValueError, dns.exception.DNSException) as error:
        raise ValueError(f"bad record type {rdtype!r}") from error


def _result(response: dns.message.Message, server: tuple[str, int] | None) -> Result:
    try:
        canonical_name = response.canonical_name()
    except dns.exception.DNSException as error:
        raise FormatError(f"unusable response from {server}: {error}") from error
    question = response.question[0]
    return Result(
        name=question.name,
        rdtype=question.rdtype,
        answers=list(response.answer),
        authority=list(response.authority),
        additional=list(response.additional),
        rcode=response.rcode(),
        canonical_name=canonical_name,
        response=response,
        server=server,
    )


def _checked(result: Result) -> Result:
    """Return a result that answers its question; raise the matching DNSError otherwise."""
    question = f"{result.name} {dns.rdatatype.to_text(result.rdtype)}"
    if result.rcode != dns.rcode.NOERROR:
        error = _RCODE_ERRORS.get(result.rcode, DNSError)
        raise error(f"{question}: {dns.rcode.to_text(result.rcode)}", result)
    if not result.records:
        raise NoData(f"{question}: no such record", result)
    return result


def _answered_failure(resolver: Resolver, error: dns.resolver.NoNameservers) -> Result:
    """Return the response that best says why every server failed: the last with an error
    rcode."""
    # dnspython names the server by its text form, e.g. "Do53:127.0.0.1@53".
    servers = {
        str(ns): (ns.answer_nameserver(), ns.answer_port()) for ns in resolver.stub.nameservers
    }
    for server, _tcp, _port, _why, response in reversed(error.kwargs.get("errors", [])):
        if response is not None and response.rcode() != dns.rcode.NOERROR:
            return _result(response, servers.get(server))
    raise DNSError(str(error))


def _nxdomain(error: dns.resolver.NXDOMAIN) -> Result:
    # With a search list every candidate name was denied; report the last one tried, as dig does.
    responses = error.responses()
    tried = [qname for qname in error.qnames() if qname in responses]
    if not tried:
        raise NoSuchName(str(error)) from error
    return _result(responses[tried[-1]], None)


async def _resolve(
    resolver: Resolver, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, timeout: float | None
) -> Result:
    try:
        answer = await resolver.stub.resolve(
            qname, rdtype, raise_on_no_answer=False, lifetime=timeout
        )
    except dns.resolver.NXDOMAIN as error:
        return _nxdomain(error)
    except dns.resolver.NoNameservers as error:
        return _answered_failure(resolver, error)
    except dns.exception.Timeout as error:
        raise Timeout(str(error)) from error
    except dns.resolver.YXDOMAIN as error:
        raise DNSError(f"{qname}: name too long after DNAME substitution") from error
    return _result(answer.response, (answer.nameserver, answer.port))


async def _ask_each_server(resolver: Resolver, request: dns.message.Message) -> Result:
    """Send ``request`` to each server in turn until one gives a definite answer.

    ANY goes over TCP: RFC 8482 servers answer it with one RRset over UDP, all over TCP.
    """
    failures: list[Result] = []
    last_error: Exception | None = None
    over_tcp = request.question[0].rdtype == dns.rdatatype.ANY
    for address, port in resolver.servers:
        try:
            if over_tcp:
                response = await dns.asyncquery.tcp(
                    request, address, timeout=resolver.stub.timeout, port=port
                )
            else:
                response, _ = await dns.asyncquery.udp_with_fallback(
                    request, address, timeout=resolver.stub.timeout, port=port
                )
        except (OSError, dns.exception.DNSException) as error:
            last_error = error
            continue
        result = _result(response, (address, port))
        if result.rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return result
        failures.append(result)
    if failures:
        return failures[-1]
    if isinstance(last_error, dns.exception.Timeout):
        raise Timeout(f"no answer from {resolver.servers}") from last_error
    raise DNSError(f"no server answered: {last_error}") from last_error


async def _query_directly(
    resolver: Resolver, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, timeout: float | None
) -> Result:
    """Ask for ANY, which dnspython's resolver declines, without the search list."""
    request = dns.message.make_query(qname.derelativize(dns.name.root), rdtype)
    request.use_edns(resolver.stub.edns, resolver.stub.ednsflags, resolver.stub.payload)
    try:
        async with asyncio.timeout(timeout if timeout is not None else resolver.stub.lifetime):
            return await _ask_each_server(resolver, request)
    except TimeoutError as error:
        raise Timeout(f"{qname}: no answer in time") from error


async def query(
    name: str,
    rdtype: str | int = "A",
    *,
    resolver: Resolver | None = None,
    timeout: float | None = None,
) -> Result:
    """Ask for the ``rdtype`` records of ``name``; the hosts file first for A, AAAA and PTR.

    ``timeout`` overrides the resolver's for this lookup. Raises ValueError for a malformed name
    or type, and a DNSError subclass when there is no answer.
    """
    resolver = resolver or get_default_resolver()
    qname, qtype = _parse_name(name), _parse_type(rdtype)
    if dns.rdatatype.is_metatype(qtype) and qtype != dns.rdatatype.ANY:
        raise ValueError(f"{rdtype} is not a question (zone transfers go through lookup_zone())")
    if resolver.hosts and (
        local := _from_hosts(resolver.hosts, qname.derelativize(dns.name.root), qtype)
    ):
        return local
    if qtype == dns.rdatatype.ANY:
        return _checked(await _query_directly(resolver, qname, qtype, timeout))
    return _checked(await _resolve(resolver, qname, qtype, timeout))


class Lookup(Protocol):
    """The signature every ``lookup_*`` function shares."""

    def __call__(
        self, name: str, *, resolver: Resolver | None = None, timeout: float | None = None
    ) -> Coroutine[Any, Any, Result]: ...


def _lookup(function_name: str, rdtype: str, what: str) -> Lookup:
    async def lookup(
        name: str, *, resolver: Resolver | None = None, timeout: float | None = None
    ) -> Result:
        return await query(name, rdtype, resolver=resolver, timeout=timeout)

    lookup.__name__ = lookup.__qualname__ = function_name
    lookup.__doc__ = f"Look up the {what} ({rdtype} records) of ``name``."
    return lookup


lookup_address = _lookup("lookup_address", "A", "IPv4 addresses")
lookup_ipv6_address = _lookup("lookup_ipv6_address", "AAAA", "IPv6 addresses")
lookup_mail_exchange = _lookup("lookup_mail_exchange", "MX", "mail exchangers")
lookup_nameservers = _lookup("lookup_nameservers", "NS", "name servers")
lookup_canonical_name = _lookup("lookup_canonical_name", "CNAME", "canonical name")
lookup_authority = _lookup("lookup_authority", "SOA", "start of authority")
lookup_text = _lookup("lookup_text", "TXT", "text strings")
lookup_service = _lookup("lookup_service", "SRV", "service locations")
lookup_naptr = _lookup("lookup_naptr", "NAPTR", "naming authority pointers")
lookup_host_info = _lookup("lookup_host_info", "HINFO", "host information")
lookup_responsibility = _lookup("lookup_responsibility", "RP", "responsible persons")
lookup_afsdb = _lookup("lookup_afsdb", "AFSDB", "AFS database servers")
lookup_caa = _lookup("lookup_caa", "CAA", "certification authority authorizations")
lookup_tlsa = _lookup("lookup_tlsa", "TLSA", "TLS certificate associations")
lookup_sshfp = _lookup("lookup_sshfp", "SSHFP", "SSH key fingerprints")
lookup_ds = _lookup("lookup_ds", "DS", "delegation signers")
lookup_dnskey = _lookup("lookup_dnskey", "DNSKEY", "DNSSEC public keys")
lookup_svcb = _lookup("lookup_svcb", "SVCB", "service bindings")
lookup_https = _lookup("lookup_https", "HTTPS", "HTTPS service bindings")
lookup_uri = _lookup("lookup_uri", "URI", "URIs")
lookup_dname = _lookup("lookup_dname", "DNAME", "subtree redirection")
lookup_all_records = _lookup("lookup_all_records", "ANY", "records of every type")


def _pointer_name(name: str) -> str:
    """Return the in-addr.arpa or ip6.arpa name of an IP address; any other name as it is."""
    try:
        return dns.reversename.from_address(name).to_text()
    except (ValueError, dns.exception.SyntaxError):
        return name


async def lookup_pointer(
    name: str, *, resolver: Resolver | None = None, timeout: float | None = None
) -> Result:
    """Look up the PTR records of ``name``, which may also be an IPv4 or IPv6 address."""
    return await query(_pointer_name(name), "PTR", resolver=resolver, timeout=timeout)


def _zone_rrsets(zone: dns.zone.Zone) -> list[dns.rrset.RRset]:
    rrsets = []
    for owner, rdataset in zone.iterate_rdatasets():
        rrset = dns.rrset.RRset(owner, rdataset.rdclass, rdataset.rdtype, rdataset.covers)
        rrset.update(rdataset)
        rrsets.append(rrset)
    # The zone's SOA comes first, as in the transfer itself.
    return sorted(rrsets, key=lambda rrset: rrset.rdtype != dns.rdatatype.SOA)


async def lookup_zone(
    name: str, *, resolver: Resolver | None = None, timeout: float | None = None
) -> Result:
    """Transfer the zone ``name`` (AXFR over TCP) from the resolver's first server.

    ``answers`` holds every RRset of the zone, its SOA first.
    """
    resolver = resolver or get_default_resolver()
    origin = _parse_name(name).derelativize(dns.name.root)
    address, port = resolver.servers[0]
    zone = dns.zone.Zone(origin, relativize=False)
    lifetime = timeout if timeout is not None else resolver.stub.lifetime
    try:
        await dns.asyncquery.inbound_xfr(address, zone, port=port, lifetime=lifetime)
    except dns.xfr.TransferError as error:
        raise _RCODE_ERRORS.get(error.rcode, DNSError)(f"{origin} AXFR: {error}") from error
    except dns.exception.Timeout as error:
        raise Timeout(f"{origin} AXFR: no answer in time") from error
    except (OSError, dns.exception.DNSException) as error:
        raise DNSError(f"{origin} AXFR: {error}") from error
    return Result(
        name=origin,
        rdtype=dns.rdatatype.AXFR,
        answers=_zone_rrsets(zone),
        canonical_name=origin,
        server=(address, port),
    )


def _most_telling(errors: Iterable[BaseException]) -> BaseException:
    # NoData for one address family says nothing of the other; any other failure says more.
    errors = list(errors)
    return next((error for error in errors if not isinstance(error, NoData)), errors[0])


async def get_host_by_name(
    name: str, *, resolver: Resolver | None = None, timeout: float | None = None
) -> list[str]:
    """Return the IPv4 then IPv6 addresses of ``name``, asked for at once (A and AAAA, not ANY)."""
    outcomes = await asyncio.gather(
        lookup_address(name, resolver=resolver, timeout=timeout),
        lookup_ipv6_address(name, resolver=resolver, timeout=timeout),
        return_exceptions=True,
    )
    addresses = [
        rdata.address
        for outcome in outcomes
        if isinstance(outcome, Result)
        for rdata in outcome.records
    ]
    if addresses:
        return addresses
    raise _most_telling(outcome for outcome in outcomes if isinstance(outcome, BaseException))


T = TypeVar("T")


def _blocking(function: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(function(*args, **kwargs))
        raise RuntimeError(f"blocking.{function.__name__}() inside an event loop: await it")

    return run


# The same API for code without an event loop: client.blocking.lookup_address("example.com").
blocking = SimpleNamespace(
    **{
        name: _blocking(function)
        for name, function in list(globals().items())
        if not name.startswith("_") and inspect.iscoroutinefunction(function)
    }
)

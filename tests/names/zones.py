"""Test zones and helpers shared by the DNS engine tests (fixtures are in conftest.py)."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query

from dnsadmin.names.catalog import ZoneCatalog
from dnsadmin.names.chain import AUTHORITATIVE, ResolverChain
from dnsadmin.names.server import DNSServer
from dnsadmin.names.zone import zone_from_text
from tests.services import free_port

BIG_RRSET = "\n".join(f"big IN A 198.51.100.{i}" for i in range(1, 61))

EXAMPLE_COM = f"""
$TTL 300
@        3600 IN SOA ns1 hostmaster 2024010101 7200 900 1209600 600
@             IN NS    ns1
@             IN NS    ns2.example.net.
@             IN MX    10 mail
ns1           IN A     192.0.2.1
mail          IN A     192.0.2.25
www           IN A     192.0.2.10
www           IN AAAA  2001:db8::10
www           IN TXT   "hello"
one           IN CNAME two
two           IN CNAME www
ext           IN CNAME www.elsewhere.test.
cross         IN CNAME host.example.net.
crossnx       IN CNAME missing.example.net.
loop1         IN CNAME loop2
loop2         IN CNAME loop1
*.wild        IN A     192.0.2.99
*.wild        IN TXT   "wildcard"
deep.wild     IN A     192.0.2.98
*.wc          IN CNAME www
a.b.c         IN A     192.0.2.5
sub           IN NS    ns.sub
sub           IN NS    ns1
sub           IN DS    12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE31B5D3E1C8A8F5B5C1D2E3F4
ns.sub        IN A     192.0.2.53
ns.sub        IN AAAA  2001:db8::53
away          IN NS    ns.elsewhere.test.
dn       1234 IN DNAME c.example.com.
dnx           IN DNAME example.net.
_sip._udp     IN SRV   10 5 5060 www
intosub       IN CNAME host.sub
mxsub         IN MX    10 ns.sub
{BIG_RRSET}
"""

EXAMPLE_NET = """
$TTL 120
@        600 IN SOA ns1.example.com. hostmaster.example.com. 7 7200 900 1209600 60
@            IN NS ns1.example.com.
host         IN A  203.0.113.7
"""

ZONES = {"example.com.": EXAMPLE_COM, "example.net.": EXAMPLE_NET}


def make_catalog(transfer_acl: tuple[str, ...] = ("127.0.0.1/32",)) -> ZoneCatalog:
    return ZoneCatalog(
        [zone_from_text(text, origin, transfer_acl=transfer_acl) for origin, text in ZONES.items()]
    )


def authoritative(catalog: ZoneCatalog) -> ResolverChain:
    """The chain production runs, configured to answer from our zones alone."""
    return ResolverChain(catalog, AUTHORITATIVE)


def serve(catalog: ZoneCatalog, **kw) -> DNSServer:
    """Our server (not started) answering from the catalog's zones alone."""
    return DNSServer(authoritative(catalog), **kw)


def answer(query: bytes, catalog: ZoneCatalog, *, tcp: bool = False) -> bytes | None:
    """Our response to query, bytes in and bytes out, from a client on loopback."""
    result, _ = authoritative(catalog).resolve(query, tcp=tcp, client="127.0.0.1")
    return result


def ask(catalog: ZoneCatalog, qname: str, rdtype: str = "A", *, tcp: bool = False, **kw):
    """Our answer, parsed, to a query built by dnspython."""
    query = dns.message.make_query(qname, rdtype, **kw)
    return dns.message.from_wire(answer(query.to_wire(), catalog, tcp=tcp))


def rrsets_of(section) -> set[tuple[str, int, int, frozenset[str]]]:
    """A section as comparable RRsets: order and case do not matter.

    Case is folded in rdata too: name compression may borrow the query's case (0x20).
    """
    return {
        (
            rrset.name.to_text().lower(),
            rrset.rdtype,
            rrset.ttl,
            frozenset(r.to_text().lower() for r in rrset),
        )
        for rrset in section
    }


def query_server(port: int, query: dns.message.Message, *, tcp: bool = False):
    if tcp:
        return dns.query.tcp(query, "127.0.0.1", port=port, timeout=5)
    return dns.query.udp(query, "127.0.0.1", port=port, timeout=5)


class ThreadedServer:
    """Our DNSServer running in its own event loop thread, for synchronous clients."""

    def __init__(self, catalog: ZoneCatalog, **kw) -> None:
        self.server = serve(catalog, **kw)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> None:
        self.thread.start()
        start = self.server.start(["127.0.0.1"], 0)
        asyncio.run_coroutine_threadsafe(start, self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


NAMED_CONF = """
options {{
    directory "{directory}";
    pid-file "{directory}/named.pid";
    session-keyfile "{directory}/session.key";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    minimal-responses yes;
    dnssec-validation no;
}};
controls {{ }};
{zones}
"""


def wait_until_answering(
    process: subprocess.Popen, port: int, query: dns.message.Message, log, seconds: float = 30
) -> None:
    """Wait until a server we started answers query on loopback; say why if it never does."""
    name = process.args[0]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log()}")
        try:
            dns.query.udp(query, "127.0.0.1", port=port, timeout=0.3)
            return
        except (dns.exception.Timeout, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not answer: {log()}")


class Bind:
    """BIND 9 (named -g) serving ZONES from directory on an ephemeral port."""

    def __init__(self, directory: Path, zones: dict[str, str] | None = None) -> None:
        self.directory = directory
        self.zones = zones or ZONES  # origin: master-file text
        self.port = free_port()
        self.log = directory / "named.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        zones = []
        for origin, text in self.zones.items():
            (self.directory / origin).write_text(text)
            zones.append(f'zone "{origin}" {{ type primary; file "{origin}"; }};')
        conf = self.directory / "named.conf"
        conf.write_text(
            NAMED_CONF.format(directory=self.directory, port=self.port, zones="\n".join(zones))
        )
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                ["named", "-g", "-n", "1", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_until_answering()

    def _wait_until_answering(self) -> None:
        query = dns.message.make_query(next(iter(self.zones)), "SOA")
        wait_until_answering(self.process, self.port, query, lambda: self.log.read_text()[-2000:])

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)

"""Servers for the client tests: BIND 9 with a zone of every record type, and scripted servers.

Test modules import the fixtures they use from here (tests/names/conftest.py is not ours); each
fixture function is named *_fixture and registered under the short name tests ask for.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.reversename
import pytest

from dnsadmin.names import client
from tests.conftest import ROOT, clean_environment
from tests.services import free_port

ZONE = "client.test."
# Every type the client has a lookup for. "www.client.test" exists twice over (here and under
# the search suffix) so that the ndots tests can tell which name was asked.
ZONE_TEXT = """\
$TTL 3600
@ SOA ns1.client.test. hostmaster.client.test. 2024010101 7200 900 1209600 300
@ NS ns1
@ MX 10 mail
@ TXT "v=spf1 -all"
@ CAA 0 issue "letsencrypt.org"
@ DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==
@ HTTPS 1 . alpn="h2,h3" port=8443
ns1 A 192.0.2.53
mail A 192.0.2.25
www A 192.0.2.1
www AAAA 2001:db8::1
www SSHFP 4 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
_443._tcp.www TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
www.client.test A 192.0.2.99
alias CNAME www
_xmpp._tcp SRV 5 10 5222 www
naptr NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp
host HINFO "PC" "Linux"
host RP hostmaster.client.test. info.client.test.
info TXT "contact"
afs AFSDB 1 afsdb.client.test.
svc SVCB 1 www.client.test. port=8080
_http._tcp URI 10 1 "https://www.client.test/"
old DNAME client.test.
sub NS ns1.sub
ns1.sub A 192.0.2.54
sub DS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
"""
REVERSE_V4 = "2.0.192.in-addr.arpa."
REVERSE_V6 = "8.b.d.0.1.0.0.2.ip6.arpa."
POINTED_V4 = "192.0.2.10"
POINTED_V6 = "2001:db8::10"

NAMED_CONF = """\
options {{
    directory "{directory}";
    pid-file "{directory}/named.pid";
    session-keyfile "{directory}/session.key";
    managed-keys-directory "{directory}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    allow-transfer {{ any; }};
}};
controls {{ }};
zone "{zone}" {{ type primary; file "forward.zone"; }};
zone "{reverse_v4}" {{ type primary; file "reverse-v4.zone"; allow-transfer {{ none; }}; }};
zone "{reverse_v6}" {{ type primary; file "reverse-v6.zone"; }};
"""


def _reverse_zone_text(address: str, origin: str) -> str:
    owner = dns.reversename.from_address(address).relativize(dns.name.from_text(origin))
    return (
        "$TTL 3600\n"
        "@ SOA ns1.client.test. hostmaster.client.test. 1 7200 900 1209600 300\n"
        "@ NS ns1.client.test.\n"
        f"{owner} PTR www.client.test.\n"
    )


@dataclass(frozen=True)
class Named:
    address: str
    port: int

    @property
    def server(self) -> str:
        return f"{self.address}:{self.port}"

    def resolver(
        self, resolv_conf: str | None = None, hosts: str | None = None, timeout: float = 5.0
    ) -> client.Resolver:
        """A client resolver that asks this server only."""
        return client.create_resolver([(self.address, self.port)], resolv_conf, hosts, timeout)


def _write_named_files(directory: Path, port: int) -> Path:
    (directory / "forward.zone").write_text(ZONE_TEXT)
    (directory / "reverse-v4.zone").write_text(_reverse_zone_text(POINTED_V4, REVERSE_V4))
    (directory / "reverse-v6.zone").write_text(_reverse_zone_text(POINTED_V6, REVERSE_V6))
    conf = directory / "named.conf"
    conf.write_text(
        NAMED_CONF.format(
            directory=directory,
            port=port,
            zone=ZONE,
            reverse_v4=REVERSE_V4,
            reverse_v6=REVERSE_V6,
        )
    )
    return conf


def _wait_until_serving(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    probe = dns.message.make_query(ZONE, "SOA")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"named exited with {process.returncode}:\n{log.read_text()}")
        try:
            if dns.query.udp(probe, "127.0.0.1", port=port, timeout=0.2).answer:
                return
        except (OSError, dns.exception.DNSException):
            time.sleep(0.1)
    pytest.fail(f"named did not serve {ZONE} within 30 s:\n{log.read_text()}")


def _server_command(kind: str, directory: Path, port: int) -> list[str]:
    """BIND 9, or the appliance's `manage.py rundns` serving the same zone files loaded into a
    database of its own (so the zones go through loadzone and the database, as an operator's)."""
    conf = _write_named_files(directory, port)
    if kind == "bind":
        return ["named", "-g", "-n", "1", "-c", str(conf)]
    env = _appliance_env(directory)
    manage = [sys.executable, "manage.py"]
    run = functools.partial(subprocess.run, cwd=ROOT, env=env, check=True, capture_output=True)
    run([*manage, "migrate", "--noinput"])
    for origin, file in {ZONE: "forward.zone", REVERSE_V4: "reverse-v4.zone",
                         REVERSE_V6: "reverse-v6.zone"}.items():  # fmt: skip
        run([*manage, "loadzone", str(directory / file), "--origin", origin])
    # As named.conf: transfers for the forward and the IPv6 reverse zone, not the IPv4 one.
    allow = f"from dnsadmin.models import Zone; Zone.objects.exclude(origin='{REVERSE_V4}')"
    run([*manage, "shell", "-c", allow + ".update(transfer_acl='127.0.0.0/8')"])
    return [*manage, "rundns", "--address", "127.0.0.1", "--port", str(port), "--no-recursion"]


def _appliance_env(directory: Path) -> dict[str, str]:
    return clean_environment({
        "DATABASE_URL": f"sqlite:///{directory / 'appliance.sqlite3'}",
        "APPLIANCE_VAR_DIR": str(directory),
        "DEBUG": "1",
    })  # fmt: skip


@pytest.fixture(name="named", scope="module", params=["bind", "appliance"])
def named_fixture(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Named]:
    """An authoritative server on an ephemeral loopback port serving the test zones: every
    client test runs against BIND 9 and against `manage.py rundns`."""
    directory = tmp_path_factory.mktemp(request.param)
    port = free_port()
    command = _server_command(request.param, directory, port)
    log = directory / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=_appliance_env(directory) if request.param == "appliance" else None,
        )
    try:
        _wait_until_serving(process, port, log)
        yield Named("127.0.0.1", port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(name="silent_server")
def silent_server_fixture() -> Iterator[tuple[str, int]]:
    """A server that takes queries and never answers, over UDP and TCP (connections are
    accepted by the kernel's backlog and then left unanswered)."""
    while True:
        udp, tcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket()
        udp.bind(("127.0.0.1", 0))
        try:
            tcp.bind(udp.getsockname())  # the kernel's free UDP port may be taken for TCP
            break
        except OSError:
            udp.close()
            tcp.close()
    with udp, tcp:
        tcp.listen(8)
        yield udp.getsockname()


# A scripted server's behaviour: the response to a query, told whether it came over TCP.
Handler = Callable[[dns.message.Message, bool], dns.message.Message]


def _reply(handler: Handler, wire: bytes, over_tcp: bool) -> bytes | None:
    try:
        request = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return None  # garbage gets no answer, and must not stop the server
    return handler(request, over_tcp).to_wire()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = _reply(self.handler, data, over_tcp=False)
        if reply and self.transport:
            self.transport.sendto(reply, addr)


async def _serve_stream(
    handler: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            length = int.from_bytes(await reader.readexactly(2), "big")
            reply = _reply(handler, await reader.readexactly(length), over_tcp=True)
            if reply:
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


StartServer = Callable[[Handler], Awaitable[tuple[str, int]]]


@pytest.fixture(name="scripted_server")
async def scripted_server_fixture() -> AsyncIterator[StartServer]:
    """Start tiny UDP+TCP servers on loopback that answer as a handler says; stop them after."""
    loop = asyncio.get_running_loop()
    transports: list[asyncio.BaseTransport] = []
    streams: list[asyncio.Server] = []

    async def start(handler: Handler) -> tuple[str, int]:
        port = free_port()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(handler), local_addr=("127.0.0.1", port)
        )
        transports.append(transport)
        serve = functools.partial(_serve_stream, handler)
        streams.append(await asyncio.start_server(serve, "127.0.0.1", port))
        return "127.0.0.1", port

    yield start
    for transport in transports:
        transport.close()
    for stream in streams:
        stream.close()
        await stream.wait_closed()


def failing_with(rcode: dns.rcode.Rcode) -> Handler:
    """A handler that answers every query with ``rcode``."""

    def handle(request: dns.message.Message, over_tcp: bool) -> dns.message.Message:
        response = dns.message.make_response(request)
        response.set_rcode(rcode)
        return response

    return handle

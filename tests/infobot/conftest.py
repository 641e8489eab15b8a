"""A real ngircd for integration tests, and a plain-socket client playing the human."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.services import free_port

NGIRCD_CONF = """\
[Global]
Name = irc.test.local
Info = appliance test server
Listen = 127.0.0.1
Ports = {port}
PidFile = {dir}/ngircd.pid
MotdPhrase = test server
ServerUID = root
ServerGID = root

[Limits]
PingTimeout = 120
PongTimeout = 20
MaxConnectionsIP = 0
MaxPenaltyTime = 0
MaxNickLength = 30

[Options]
DNS = no
Ident = no
PAM = no
"""


class Ngircd:
    """ngircd in the foreground on a free port; ``restart`` keeps the port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.conf = directory / "ngircd.conf"
        self.conf.write_text(NGIRCD_CONF.format(port=self.port, dir=directory))
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["ngircd", "--nodaemon", "--config", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"ngircd exited with {self.process.returncode}") from None
                time.sleep(0.05)
        raise RuntimeError("ngircd did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def ngircd(tmp_path: Path):
    server = Ngircd(tmp_path)
    server.start()
    yield server
    server.stop()


class Human:
    """A minimal IRC client over a plain socket."""

    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.lines: list[str] = []

    async def connect(self, port: int) -> Human:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        await self.send(f"NICK {self.nick}", f"USER {self.nick} 0 * :human")
        await self.expect(" 001 ")
        return self

    async def send(self, *lines: str) -> None:
        for line in lines:
            self.writer.write(line.encode() + b"\r\n")
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data + b"\r\n")
        await self.writer.drain()

    async def expect(self, needle: str, timeout: float = 10.0) -> str:
        """Return the next line containing needle (answering PINGs meanwhile)."""
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.reader.readline()
                if not raw:
                    raise ConnectionError("server closed the connection")
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.lines.append(line)
                if line.startswith("PING "):
                    await self.send("PONG " + line[5:])
                if needle in line:
                    return line

    async def collect(self, seconds: float) -> list[str]:
        """Collect every line that arrives within seconds."""
        got: list[str] = []
        try:
            async with asyncio.timeout(seconds):
                while True:
                    got.append(await self.expect(""))
        except TimeoutError:
            return got

    async def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def humans():
    made: list[Human] = []

    async def connect(nick: str, port: int) -> Human:
        human = await Human(nick).connect(port)
        made.append(human)
        return human

    yield connect
    for human in made:
        await human.close()


class FakeServer:
    """A scripted IRC server: registers each client, records what it receives.

    ``pong`` decides whether it answers PINGs; ``greeting`` lines go out after the MOTD.
    """

    register_on = "USER "  # a server that negotiates CAP holds registration until CAP END

    def __init__(self, pong: bool = True, greeting: list[bytes] | None = None) -> None:
        self.pong = pong
        self.greeting = greeting or []
        self.received: list[str] = []
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self, tls: ssl.SSLContext | None = None) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0, ssl=tls)
        return self.server.sockets[0].getsockname()[1]

    def answer(self, line: str) -> bytes:
        """Extra replies, for subclasses that play other parts of the protocol."""
        return b""

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        while raw := await reader.readline():
            line = raw.decode().rstrip("\r\n")
            self.received.append(line)
            writer.write(self.answer(line))
            if line.startswith(self.register_on):
                writer.write(b":srv 001 bot :hi\r\n:srv 376 bot :end\r\n")
                writer.write(b":bot!u@h JOIN #a\r\n" + b"".join(self.greeting))
            elif line.startswith("QUIT"):
                writer.write(b"ERROR :Closing link\r\n")
                break
            elif line.startswith("PING ") and self.pong:
                writer.write(f":srv PONG srv :{line.split(':', 1)[1]}\r\n".encode())
        writer.close()

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def fake_server():
    servers: list[FakeServer] = []

    async def make(
        cls: type[FakeServer] = FakeServer, tls=None, **kwargs
    ) -> tuple[FakeServer, int]:
        server = cls(**kwargs)
        servers.append(server)
        return server, await server.start(tls)

    yield make
    for server in servers:
        await server.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """Make a self-signed certificate for 127.0.0.1 with openssl."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key

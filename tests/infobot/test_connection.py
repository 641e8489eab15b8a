import asyncio
import base64
import ssl
import time

from botadmin.infobot import ChannelConfig, NetworkConfig, Timing
from botadmin.infobot.connection import Connection, backoff

from .conftest import FakeServer


def config(port: int) -> NetworkConfig:
    return NetworkConfig(
        "fake", "127.0.0.1", port, tls=False, nick="bot", channels=[ChannelConfig("#a")]
    )


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (3, 8.0), (10, 60.0)]:
        delays = [backoff(attempt, 1.0, 60.0) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1


async def test_it_declares_a_silent_link_dead_and_reconnects(fake_server):
    server, port = await fake_server(pong=False)
    timing = Timing(ping_interval=0.1, ping_timeout=0.1, reconnect_base=0.05, reconnect_cap=0.1)
    connection = Connection(config(port), lambda network, event: None, timing)
    connection.start()
    try:
        await until(lambda: server.connections >= 2)
        assert "PING :infobot-watchdog" in server.received
        assert "no reply to PING" in connection.last_error
    finally:
        await connection.stop()


async def test_it_measures_lag_from_its_pings(fake_server):
    server, port = await fake_server(pong=True)
    connection = Connection(config(port), lambda network, event: None, Timing(ping_interval=0.05))
    connection.start()
    try:
        await until(lambda: connection.status().lag is not None)
        assert connection.status().connected
        assert server.connections == 1
    finally:
        await connection.stop()


async def test_bad_input_does_not_crash_the_link(fake_server):
    garbage = [
        b"\xff\xfe\x00 :\r\n",
        b"\r\n",
        b":srv 353\r\n",
        b":x!y@z PRIVMSG\r\n",
        b"@;;; :\r\n",
    ]
    server, port = await fake_server(greeting=[*garbage, b":ann!a@h PRIVMSG #a :still fine\r\n"])
    events = []
    connection = Connection(config(port), lambda network, event: events.append(event), Timing())
    connection.start()
    try:
        await until(lambda: any(e.text == "still fine" for e in events))
        assert connection.status().connected
    finally:
        await connection.stop()


async def test_queued_lines_go_out_in_order_and_own_messages_become_events(fake_server):
    server, port = await fake_server()
    events = []
    timing = Timing(burst=2, rate=50.0)
    connection = Connection(config(port), lambda network, event: events.append(event), timing)
    connection.start()
    try:
        await until(lambda: connection.status().channels == ["#a"])
        for i in range(8):
            connection.say("#a", f"line {i}")
        await until(lambda: len([e for e in events if e.own]) == 8)
        # An own event is made when the line is written; the server reads it a moment later.
        await until(lambda: sum(line.startswith("PRIVMSG") for line in server.received) == 8)
        said = [line for line in server.received if line.startswith("PRIVMSG")]
        assert said == [f"PRIVMSG #a :line {i}" for i in range(8)]
        assert [e.text for e in events if e.own] == [f"line {i}" for i in range(8)]
    finally:
        await connection.stop()


async def test_after_its_burst_the_bucket_paces_lines_at_its_rate(fake_server):
    server, port = await fake_server()
    sent: list[float] = []  # when each line was written: own events are made then

    def on_event(network, event) -> None:
        if event.own:
            sent.append(time.monotonic())

    connection = Connection(config(port), on_event, Timing(burst=2, rate=10.0))
    connection.start()
    try:
        await until(lambda: connection.status().channels == ["#a"])
        for i in range(8):
            connection.say("#a", f"line {i}")
        await until(lambda: len(sent) == 8)
        # Whatever the load, at most burst + rate * t lines go out in t seconds, so the
        # six lines after the burst take at least 0.6 s (a lower bound: never flaky).
        assert sent[-1] - sent[0] >= (8 - 2) / 10.0 - 0.01
    finally:
        await connection.stop()


async def test_stop_sends_quit(fake_server):
    server, port = await fake_server()
    connection = Connection(config(port), lambda network, event: None, Timing())
    connection.start()
    await until(lambda: connection.status().connected)
    await connection.stop("bye now")
    await until(lambda: "QUIT :bye now" in server.received)


class SaslServer(FakeServer):
    """Offers SASL PLAIN and accepts one account and password."""

    register_on = "CAP END"

    def answer(self, line: str) -> bytes:
        if line == "CAP LS 302":
            return b":srv CAP * LS :sasl=PLAIN server-time\r\n"
        if line.startswith("CAP REQ :"):
            return f":srv CAP * ACK :{line[9:]}\r\n".encode()
        if line == "AUTHENTICATE PLAIN":
            return b"AUTHENTICATE +\r\n"
        if line.startswith("AUTHENTICATE "):
            ok = base64.b64decode(line[13:]) == b"acct\0acct\0s3cret"
            return b":srv 903 * :SASL ok\r\n" if ok else b":srv 904 * :SASL failed\r\n"
        return b""


async def test_it_authenticates_with_sasl_plain_over_tls(fake_server, certificate):
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server, port = await fake_server(SaslServer, tls=server_tls)
    network = NetworkConfig(
        "tls", "127.0.0.1", port, tls=True, nick="bot", sasl_account="acct", sasl_password="s3cret"
    )
    client_tls = ssl.create_default_context(cafile=str(cert))
    connection = Connection(network, lambda network, event: None, Timing(), client_tls)
    connection.start()
    try:
        await until(lambda: connection.status().connected)
        assert server.received.index("CAP END") > server.received.index("AUTHENTICATE PLAIN")
        assert "CAP REQ :sasl server-time" in server.received
        assert connection.status().last_error is None
    finally:
        await connection.stop()


async def test_it_does_not_connect_to_a_server_with_an_untrusted_certificate(
    fake_server, certificate
):
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server, port = await fake_server(tls=server_tls)
    network = NetworkConfig("tls", "127.0.0.1", port, tls=True, nick="bot")
    connection = Connection(network, lambda network, event: None, Timing(reconnect_base=5))
    connection.start()
    try:
        await until(lambda: connection.last_error is not None)
        assert "CERTIFICATE_VERIFY_FAILED" in connection.last_error
        assert not connection.status().connected
    finally:
        await connection.stop()

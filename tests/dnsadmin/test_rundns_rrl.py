"""`manage.py rundns` with response rate limiting on and DNS cookies: a burst from one /24 is
held to its rate (some answers slipped, the rest dropped) while another /24 is answered, a
client with our server cookie is not limited, `dig +cookie` gets a server cookie it calls good,
and the dashboard shows what was limited."""

from __future__ import annotations

import re
import socket
import time

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import pytest
from django.core.management import call_command
from django.utils import timezone

from appliance.models import WorkerStatus
from tests.appliance.test_pages import field, worker_row_html
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_rundns import start_rundns, stop

RATE = 5
BURST = 60


@pytest.fixture
def limited_rundns(worker_env, tmp_path):
    zone_file = tmp_path / "example.org.zone"
    zone_file.write_text(ZONE)
    call_command("loadzone", str(zone_file))
    env = {**worker_env, "DNS_RRL_RESPONSES_PER_SECOND": str(RATE), "DNS_RRL_SLIP": "2"}
    server = start_rundns(env)
    yield server
    if server.process.poll() is None:
        stop(server)


def burst(port: int, source: str, queries: list[bytes]) -> list[dns.message.Message]:
    """Send the queries at once from source (a loopback address), return what came back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        for query in queries:
            sock.sendto(query, ("127.0.0.1", port))
        responses = []
        sock.settimeout(2.0)  # the dropped ones never come: this is how long we listen
        try:
            while len(responses) < len(queries):
                responses.append(dns.message.from_wire(sock.recv(65535)))
        except TimeoutError:
            pass
    return responses


def www(qid: int, *options: dns.edns.Option) -> bytes:
    query = dns.message.make_query("www.example.org", "A", use_edns=0, options=list(options))
    query.id = qid
    return query.to_wire()


def is_slipped(response: dns.message.Message) -> bool:
    return bool(response.flags & dns.flags.TC) and not response.answer


@pytest.mark.integration
def test_a_burst_from_one_network_is_held_to_its_rate_and_another_is_answered(limited_rundns):
    port = limited_rundns.port
    flood = burst(port, "127.0.1.7", [www(i) for i in range(BURST)])
    answered = [r for r in flood if r.answer]
    slipped = [r for r in flood if is_slipped(r)]
    # The burst takes well under a second, so a few seconds' worth at most get through.
    assert RATE <= len(answered) < BURST // 3
    assert slipped and len(answered) + len(slipped) < BURST  # slip 2: the rest dropped
    # Another /24 has its own bucket: all of its few queries are answered in full.
    other = burst(port, "127.0.2.7", [www(i) for i in range(RATE - 1)])
    assert len(other) == RATE - 1 and all(r.answer for r in other)
    # A limited client that sent a cookie is told BADCOOKIE (with our server cookie) instead
    # of a truncated answer, as from BIND; holding our cookie, it is not limited any more.
    client_cookie = dns.edns.GenericOption(10, b"c" * 8)
    learnt = burst(port, "127.0.1.8", [www(i, client_cookie) for i in range(4)])
    told = [r for r in learnt if r.rcode() == dns.rcode.BADCOOKIE]
    assert told and not any(r.answer for r in learnt)
    cookie = next(o for o in told[0].options if o.otype == dns.edns.COOKIE).to_wire()
    trusted = burst(
        port, "127.0.1.8", [www(i, dns.edns.GenericOption(10, cookie)) for i in range(BURST)]
    )
    assert len(trusted) == BURST and all(r.answer for r in trusted)
    assert_dashboard_shows_the_limits(limited_rundns)


def assert_dashboard_shows_the_limits(server) -> None:
    deadline = time.monotonic() + 20  # the worker reports every 5 s
    details = {}
    while time.monotonic() < deadline:
        row = WorkerStatus.objects.filter(kind="dns", pid=server.process.pid).first()
        details = row.details if row else {}
        if details.get("rate_limited", {}).get("slipped"):
            break
        time.sleep(0.2)
    limited = details.get("rate_limited", {})
    assert limited.get("slipped", 0) >= 1 and limited.get("dropped", 0) >= 1


@pytest.mark.django_db
def test_the_dashboard_shows_what_was_rate_limited_and_shed(user_client):
    details = {
        "zones": 1,
        "port": 53,
        "queries": 900,
        "rate_limited": {"dropped": 40, "slipped": 38},
    }
    WorkerStatus.objects.create(
        kind="dns",
        host="ns1",
        pid=5,
        last_seen=timezone.now(),
        details={**details, "shed": 12, "upstream_dropped": 4},
    )
    WorkerStatus.objects.create(
        kind="dns", host="ns1", pid=6, last_seen=timezone.now(), details={"queries": 3}
    )
    page = user_client.get("/").content.decode()
    limited, plain = (worker_row_html(page, "dns", "ns1", pid) for pid in (5, 6))
    assert field(limited, "queries") == (
        "900 rate-limited: 40 dropped, 38 slipped shed under load: 12 upstream replies dropped: 4"
    )
    assert field(plain, "queries") == "3"


@pytest.mark.integration
def test_dig_gets_a_server_cookie_it_calls_good(limited_rundns):
    first = limited_rundns.dig("+cookie", "www.example.org", "A")
    match = re.search(r"COOKIE: ([0-9a-f]{48}) \(good\)", first)
    assert match, first
    assert "192.0.2.80" in first
    # Sent back, it is accepted: dig still calls the fresh one good.
    again = limited_rundns.dig(f"+cookie={match.group(1)}", "www.example.org", "A")
    assert re.search(r"COOKIE: [0-9a-f]{48} \(good\)", again), again
    over_tcp = limited_rundns.dig("+tcp", "+cookie", "www.example.org", "A")
    assert re.search(r"COOKIE: [0-9a-f]{48} \(good\)", over_tcp), over_tcp
    malformed = limited_rundns.dig("+cookie=0102030405", "www.example.org", "A")
    assert "status: FORMERR" in malformed

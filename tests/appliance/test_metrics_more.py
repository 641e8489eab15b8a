"""/metrics beyond queries by rcode: transports, cache hits and misses, transfers out and in,
RFC 2136 updates, rate limiting and bot plugin errors, as the workers report them in their
heartbeat (a real rundns with dig, nsupdate and a primary on loopback) and the query stats."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from appliance.models import WorkerStatus
from botadmin.infobot import Incoming, Plugin, Timing, command, every
from dnsadmin import secondary
from dnsadmin.models import QueryStats, Zone
from tests.dnsadmin.conftest import ZONE
from tests.dnsadmin.test_rundns import start_rundns, stop, wait_for
from tests.dnsadmin.test_update_nsupdate import (
    manage,
    nsupdate,
    shared_secrets_key,  # noqa: F401 (fixture)
)
from tests.infobot.fakeclock import FakeClock
from tests.names.fake_primary import FakePrimary, zone_lines
from tests.plugins.conftest import FakeNetwork

TOKEN = "s3cret"


def scrape(client: Client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return response.content.decode()


def sample(text: str, name: str, **labels: str) -> float | None:
    """Return the value of the first sample of name carrying labels (others may be there too)."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and all(f'{k}="{v}"' in match.group(1).split(",") for k, v in labels.items()):
            return float(match.group(2))
    return None


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOW = TOKEN, []


# from the heartbeats and the query stats ---------------------------------------------------


@pytest.mark.django_db
def test_the_workers_counters_are_exported_by_worker(client, metrics_on):
    now = timezone.now()
    dns_details = {
        "by_transport": {"udp": 40, "tcp": 2},
        "transfers_out": {"AXFR": 3, "IXFR": 1},
        "transfers_in": {"IXFR": 5, "failed": 1},
        "updates": {"accepted": 7, "refused": 2},
        "rate_limited": {"dropped": 11, "slipped": 4},
        "shed": 6,
        "upstream_dropped": 5,
    }
    WorkerStatus.objects.create(kind="dns", host="box", pid=10, last_seen=now, details=dns_details)
    WorkerStatus.objects.create(
        kind="bot", host="box", pid=20, last_seen=now, details={"plugin_errors": {"dig": 3}}
    )
    # A worker silent for minutes is gone: its counts are not exported any more.
    stale = now - datetime.timedelta(minutes=5)
    WorkerStatus.objects.create(kind="dns", host="old", pid=9, last_seen=stale, details=dns_details)
    text = scrape(client)
    worker = {"host": "box", "pid": "10"}
    expected = [
        ("appliance_dns_queries_by_transport_total", {"transport": "udp"}, 40),
        ("appliance_dns_queries_by_transport_total", {"transport": "tcp"}, 2),
        ("appliance_dns_transfers_out_total", {"type": "AXFR"}, 3),
        ("appliance_dns_transfers_out_total", {"type": "IXFR"}, 1),
        ("appliance_dns_transfers_in_total", {"kind": "IXFR"}, 5),
        ("appliance_dns_transfers_in_total", {"kind": "failed"}, 1),
        ("appliance_dns_updates_total", {"result": "accepted"}, 7),
        ("appliance_dns_updates_total", {"result": "refused"}, 2),
        ("appliance_dns_rrl_responses_total", {"action": "dropped"}, 11),
        ("appliance_dns_rrl_responses_total", {"action": "slipped"}, 4),
        ("appliance_dns_shed_total", {}, 6),
        ("appliance_dns_upstream_replies_dropped_total", {}, 5),
    ]
    for name, labels, value in expected:
        assert sample(text, name, **worker, **labels) == value, name
        assert f"# TYPE {name} counter" in text
    assert sample(text, "appliance_bot_plugin_errors_total", pid="20", plugin="dig") == 3
    assert 'host="old"' not in text


@pytest.mark.django_db
def test_what_an_older_worker_reports_in_another_shape_is_left_out(client, metrics_on):
    details = {"by_transport": "udp", "updates": {"accepted": "many"}, "shed": None}
    details["upstream_dropped"] = "some"
    WorkerStatus.objects.create(
        kind="dns", host="box", pid=1, last_seen=timezone.now(), details=details
    )
    text = scrape(client)
    assert "# TYPE appliance_dns_updates_total counter" in text
    for name in ("by_transport", "updates", "shed", "upstream_replies_dropped"):
        assert not re.search(rf"^appliance_dns_\w*{name}\w*\{{", text, re.M)


@pytest.mark.django_db
def test_cache_hits_and_misses_come_from_the_answers_sources(client, metrics_on):
    now = timezone.now()
    long_ago = now - datetime.timedelta(hours=3)
    for minute, source, count in [
        (now, "cache", 30), (now, "recursive", 6), (now, "forwarder", 4),
        (now, "authority", 500), (long_ago, "cache", 10), (long_ago, "recursive", 50),
    ]:  # fmt: skip
        QueryStats.objects.create(minute=minute, rcode="NOERROR", source=source, count=count)
    text = scrape(client)
    assert sample(text, "appliance_dns_cache_hits_total") is None  # no labels: a bare sample
    assert "\nappliance_dns_cache_hits_total 40\n" in text
    assert "\nappliance_dns_cache_misses_total 60\n" in text
    # The ratio is the last hour's: 30 hits of 40 lookups; our zones' answers are no lookup.
    assert "\nappliance_dns_cache_hit_ratio 0.75\n" in text


# the counts behind them ----------------------------------------------------------------------


class Failing(Plugin):
    """Fails in a command and in a scheduled job."""

    @command("fail")
    async def fail(self, msg: Incoming, args: str) -> None:
        raise RuntimeError("plugin bug")

    @every(10)
    async def tick(self) -> None:
        raise RuntimeError("job bug")


async def test_the_plugin_host_counts_each_plugins_errors_and_keeps_them_over_unloads():
    clock = FakeClock()
    network = FakeNetwork([Failing], [], Timing(), clock)
    await network.start()
    try:
        assert network.host.errors() == {}
        await network.say("ann", "#pub", "!fail")
        await network.say("ann", "#pub", "!fail")
        await clock.advance(25)  # two runs of the job
        assert network.host.errors() == {"failing": 4}
    finally:
        await network.host.stop()  # unloaded: its scheduler is gone, its count is not
    assert network.host.errors() == {"failing": 4}


@pytest.mark.integration
def test_a_running_worker_counts_transports_transfers_and_updates(
    shared_secrets_key,  # noqa: F811 (the fixture)
    tmp_path,
    metrics_on,
):
    (tmp_path / "example.org.zone").write_text(ZONE)
    call_command("loadzone", str(tmp_path / "example.org.zone"))
    (tmp_path / "acme.key").write_text(manage("tsig", "add", "acme"))
    manage("zone", "grant", "example.org", "acme", "zonesub")
    Zone.objects.filter(origin="example.org.").update(transfer_acl="127.0.0.1 key acme")
    with FakePrimary(7, lambda query: zone_lines("sec.test.", 7)) as primary:
        secondary.add_secondary("sec.test.", [f"127.0.0.1:{primary.port}"])
        server = start_rundns(shared_secrets_key, "--no-recursion")
        try:
            key = tmp_path / "acme.key"
            # Each update from an address of its own, as from clients elsewhere.
            signed = nsupdate(
                server, key, "local 127.0.0.2", "update add h.example.org 300 A 1.2.3.4"
            )
            assert signed.returncode == 0, signed.stderr
            unsigned = nsupdate(
                server, None, "local 127.0.0.3", "update add x.example.org 300 A 1.2.3.4"
            )
            assert "REFUSED" in unsigned.stderr
            for _ in range(3):
                assert "status: NOERROR" in server.dig("+notcp", "www.example.org", "A")
            assert "status: NOERROR" in server.dig("+tcp", "www.example.org", "A")
            assert "192.0.2.80" in server.dig("example.org", "AXFR")
            assert "192.0.2.80" in server.dig("-k", str(key), "example.org", "AXFR")
            client = Client()
            # Exact counts, but for the transports: nsupdate's own messages come on top.
            wanted = {
                ("appliance_dns_transfers_out_total", "type", "AXFR"): 2,
                ("appliance_dns_updates_total", "result", "accepted"): 1,
                ("appliance_dns_updates_total", "result", "refused"): 1,
                ("appliance_dns_transfers_in_total", "kind", "AXFR"): 1,
            }
            at_least = {"udp": 3, "tcp": 1}

            def counted() -> bool:
                text = scrape(client)
                exact = all(
                    sample(text, name, **{label: value}) == count
                    for (name, label, value), count in wanted.items()
                )
                by_transport = "appliance_dns_queries_by_transport_total"
                return exact and all(
                    (sample(text, by_transport, transport=transport) or 0) >= count
                    for transport, count in at_least.items()
                )

            # The heartbeat writes the counts every few seconds.
            assert wait_for(counted, 30), scrape(client)
        finally:
            stop(server)

"""/metrics: Prometheus text for a token or an allow-listed client, nothing for others."""

from __future__ import annotations

import pytest
from django.utils import timezone

from appliance.models import WorkerStatus
from dnsadmin.models import QueryStats
from tests.dnsadmin.conftest import zone  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_it_is_off_until_configured(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOW = "", []
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize(
    ("token", "allow", "header", "status"),
    [
        ("s3cret", [], "Bearer s3cret", 200),
        ("s3cret", [], "Bearer wrong", 403),
        ("s3cret", [], "", 403),
        ("", ["127.0.0.0/8"], "", 200),
        ("", ["192.0.2.0/24"], "", 403),
    ],
)
def test_a_token_or_an_allowed_network_is_needed(client, settings, token, allow, header, status):
    settings.METRICS_TOKEN, settings.METRICS_ALLOW = token, allow
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", **extra).status_code == status


def test_it_exports_queries_zones_workers_and_the_bot(client, settings, zone):  # noqa: F811
    settings.METRICS_TOKEN = "s3cret"
    QueryStats.objects.create(minute=timezone.now(), rcode="NOERROR", source="authority", count=7)
    WorkerStatus.objects.create(
        kind="bot", host="box", pid=1, last_seen=timezone.now(),
        details={"networks": {"libera": {"connected": True}}},
    )  # fmt: skip
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    text = response.content.decode()
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'appliance_dns_queries_total{rcode="NOERROR",source="authority"} 7' in text
    assert f'appliance_zone_serial{{zone="example.org."}} {zone.serial}' in text
    assert 'appliance_zone_records{zone="example.org."} 3' in text
    assert 'appliance_worker_up{kind="bot",host="box",pid="1"} 1' in text
    assert 'appliance_bot_connected{network="libera"} 1' in text
    assert "# TYPE appliance_dns_cache_entries gauge" in text

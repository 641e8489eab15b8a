"""The dashboard over the last hour, day and week: the query figures and charts, the top
names, clients and channels of the range chosen, each linking to the log of that range."""

from __future__ import annotations

import datetime
import html
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from botadmin.models import Channel, LogLine, Network
from dnsadmin.models import QueryLogEntry, QueryStats

pytestmark = pytest.mark.django_db

DAYS_AGO = datetime.timedelta(days=3)


def panel(response, title: str) -> dict:
    return next(p.context for p in response.context["panels"] if p.title == title)


def log_query(name: str, client: str, when: datetime.datetime) -> None:
    QueryLogEntry.objects.create(
        time=when, client=client, name=name, rdtype="A", rcode="NOERROR",
        source="authority", latency_ms=0.1,
    )  # fmt: skip


def links(page: str, text: str) -> list[str]:
    """Return the targets of the links whose text is text."""
    found = re.findall(rf'<a href="([^"]+)">{re.escape(text)}</a>', page)
    return [html.unescape(href) for href in found]


def test_the_week_is_summed_and_charted_beside_the_hour_and_the_day(staff_client):
    now = timezone.now()
    QueryStats.objects.create(minute=now, rcode="NOERROR", source="authority", count=60)
    QueryStats.objects.create(minute=now - DAYS_AGO, rcode="NXDOMAIN", source="cache", count=120)
    response = staff_client.get(reverse("dashboard"))
    queries = panel(response, "DNS queries")
    totals = {period["label"]: period["total"] for period in queries["periods"]}
    assert totals == {"last hour": 60, "last day": 60, "last week": 180}
    page = response.content.decode()
    assert "<th>last week</th>" in page
    charts = json.loads(re.search(r'id="query-charts"[^>]*>(.*?)</script>', page).group(1))
    week, day = charts["week"], charts["day"]
    # Queries per second, one point an hour: 120 queries are 120/3600 at one point.
    assert sum(week["rcode"]["NXDOMAIN"]) * 3600 == pytest.approx(120)
    assert sum(week["source"]["authority"]) * 3600 == pytest.approx(60)
    assert "NXDOMAIN" not in day["rcode"] and "cache" not in day["source"]
    assert len(week["times"]) == 7 * 24 + 1 and week["times"][1] - week["times"][0] == 3600


@pytest.mark.parametrize(
    ("top", "names"),
    [
        ("hour", ["new.example.org."]),
        ("day", ["new.example.org."]),
        ("week", ["old.example.org.", "new.example.org."]),
        ("nonsense", ["new.example.org."]),  # read as the day
    ],
)
def test_the_top_names_and_clients_cover_the_range_chosen(staff_client, top, names):
    now = timezone.now()
    for _ in range(2):
        log_query("old.example.org.", "192.0.2.9", now - DAYS_AGO)
    log_query("new.example.org.", "192.0.2.1", now)
    response = staff_client.get(reverse("dashboard"), {"top": top})
    queries = panel(response, "DNS queries")
    assert [name for name, _ in queries["top_names"]] == names
    assert len(queries["top_clients"]) == len(names)
    shown = top if top != "nonsense" else "day"
    page = response.content.decode()
    assert f"Top names, last {shown}" in page and f"<strong>{shown}</strong>" in page


def test_a_top_name_and_client_link_to_the_query_log_of_that_range(staff_client):
    now = timezone.now()
    log_query("old.example.org.", "192.0.2.9", now - DAYS_AGO)
    log_query("old.example.org.", "192.0.2.9", now - datetime.timedelta(days=9))
    page = staff_client.get(reverse("dashboard"), {"top": "week"}).content.decode()
    for text in ("old.example.org.", "192.0.2.9"):
        (target,) = links(page, text)
        assert target.startswith(reverse("dnsadmin:query-log")) and "since=" in target
        log = staff_client.get(target)
        # The week's entry is listed; the one nine days old is before the range.
        assert log.context["page"].paginator.count == 1, target
        assert log.context["page"][0].time == now - DAYS_AGO


def test_the_chart_links_name_the_start_of_their_range(staff_client):
    page = staff_client.get(reverse("dashboard")).content.decode()
    charts = json.loads(re.search(r'id="query-charts"[^>]*>(.*?)</script>', page).group(1))
    starts = {name: datetime.datetime.fromisoformat(charts[name]["since"]) for name in charts}
    assert starts["hour"] > starts["day"] > starts["week"]
    assert starts["day"] - starts["week"] == datetime.timedelta(days=6)
    log = staff_client.get(reverse("dnsadmin:query-log"), {"since": charts["week"]["since"]})
    assert log.status_code == 200 and log.context["form"].is_valid()


def test_the_busiest_channels_cover_the_range_chosen(staff_client):
    network = Network.objects.create(name="libera", host="irc.example.org")
    quiet = Channel.objects.create(network=network, name="#quiet")
    busy = Channel.objects.create(network=network, name="#busy")
    now = timezone.now()
    LogLine.objects.create(channel=quiet, time=now, nick="ann", kind="message", text="hi")
    for _ in range(3):
        LogLine.objects.create(
            channel=busy, time=now - DAYS_AGO, nick="bob", kind="message", text="old"
        )
    day = panel(staff_client.get(reverse("dashboard")), "IRC logs")["busiest"]
    assert [(channel.name, lines) for channel, lines, _ in day] == [("#quiet", 1)]
    response = staff_client.get(reverse("dashboard"), {"top": "week"})
    week = panel(response, "IRC logs")["busiest"]
    assert [(channel.name, lines, share) for channel, lines, share in week] == [
        ("#busy", 3, 100),
        ("#quiet", 1, 33),
    ]
    assert "Busiest channels, last week" in response.content.decode()

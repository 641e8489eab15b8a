"""Small things an operator meets: HEAD, the 403 page, logging out, dropping a pending item."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from botadmin.models import Channel, LogLine, Network
from dnsadmin.models import Zone
from tests.dnsadmin.conftest import zone  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_head_is_answered_where_get_is(client):
    network = Network.objects.create(name="libera", host="irc.example.org")
    Channel.objects.create(network=network, name="#python")
    for path in ("/healthz", "/robots.txt", "/logs/", "/logs/libera/python/"):
        response = client.head(path, follow=True)
        assert response.status_code == 200, path


def test_the_403_page_is_a_page_of_the_site(user_client):
    response = user_client.get(reverse("dnsadmin:zone-create"))
    html = response.content.decode()
    assert response.status_code == 403
    assert 'class="topbar"' in html and "Only staff can do this." in html


def test_logging_out_says_so(staff_client):
    response = staff_client.post(reverse("logout"), follow=True)
    assert "You are logged out." in response.content.decode()


def test_one_pending_rrset_can_be_dropped(staff_client, zone: Zone):  # noqa: F811
    add = reverse("dnsadmin:record-add", args=[zone.pk]) + "?type=A"
    for owner in ("one", "two"):
        fields = {"owner": owner, "address": "192.0.2.1", "enabled": "on", "action": "queue"}
        staff_client.post(add, fields)
    page = staff_client.post(
        reverse("dnsadmin:pending-drop", args=[zone.pk]),
        {"owner": "one", "rdtype": "A"},
        follow=True,
    ).content.decode()
    assert "one A is no longer pending." in page
    assert "(1 RRset)." in page and "(2 RRsets)." in page
    assert [edit.owner for edit in page_pending(staff_client, zone)] == ["two"]


def page_pending(client, shown: Zone):
    return client.get(reverse("dnsadmin:zone-detail", args=[shown.pk])).context["pending"]


def test_the_dashboard_shows_the_busiest_readable_channels(user_client):
    network = Network.objects.create(name="libera", host="irc.example.org")
    public = Channel.objects.create(network=network, name="#python")
    secret = Channel.objects.create(network=network, name="#secret", public=False)
    for channel, count in ((public, 3), (secret, 9)):
        for number in range(count):
            LogLine.objects.create(
                channel=channel, time=timezone.now(), nick="a", kind="message", text=str(number)
            )
    panel = next(p for p in user_client.get("/").context["panels"] if p.title == "IRC logs")
    assert [(c.name, lines, share) for c, lines, share in panel.context["busiest"]] == [
        ("#python", 3, 100)
    ]

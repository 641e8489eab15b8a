"""The site's shell: login, the dashboard, the health check and the WebSocket router."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from channels.testing import WebsocketCommunicator
from django.urls import path

from appliance.asgi import application


@pytest.mark.django_db
def test_the_dashboard_needs_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_the_login_page_renders_a_form(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content and b'name="password"' in response.content


@pytest.mark.django_db
def test_a_user_can_log_in_and_see_the_dashboard(client, django_user_model):
    django_user_model.objects.create_user("alice", password="s3cret-pass")
    response = client.post("/accounts/login/", {"username": "alice", "password": "s3cret-pass"})
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert b"<h1>Dashboard</h1>" in page.content
    assert b"alice" in page.content


@pytest.mark.django_db
def test_logout_is_a_post_and_ends_the_session(user_client):
    assert user_client.post("/accounts/logout/").status_code == 302
    assert user_client.get("/").status_code == 302


def worker_row_html(page: str, kind: str, host: str, pid: int) -> str:
    """The dashboard's table row of one worker process."""
    match = re.search(rf'<tr data-worker="{kind}-{host}-{pid}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {kind} {host} {pid}"
    return match.group(1)


def field(row: str, name: str) -> str:
    """The text of one cell of a row, tags stripped and spaces collapsed."""
    cell = re.search(rf'<td data-field="{name}">(.*?)</td>', row, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", cell).split())


@pytest.mark.django_db
def test_the_dashboard_shows_each_dns_worker_with_its_zones_serials_and_queries(user_client):
    from django.utils import timezone

    from appliance.models import WorkerStatus

    for pid, queries in ((41, 1500), (42, 7)):
        WorkerStatus.objects.create(
            kind="dns",
            host="ns1",
            pid=pid,
            last_seen=timezone.now(),
            details={
                "zones": 2,
                "serials": {"example.org.": 2024010203, "example.net.": pid},
                "port": 5300,
                "queries": queries,
            },
        )
    page = user_client.get("/").content.decode()
    first, second = (worker_row_html(page, "dns", "ns1", pid) for pid in (41, 42))
    assert "running" in first and "running" in second
    assert field(first, "queries") == "1500" and field(second, "queries") == "7"
    assert field(first, "serving") == (
        "2 zones loaded, port 5300 example.net. serial 41 example.org. serial 2024010203"
    )
    assert "example.net. serial 42" in field(second, "serving")


@pytest.mark.django_db
def test_the_dashboard_shows_each_bot_shard_with_its_networks(user_client):
    from django.utils import timezone

    from appliance.models import WorkerStatus

    up = {"connected": True, "nick": "infobot", "last_error": None, "lag": 0.1, "channels": []}
    down = {**up, "connected": False, "nick": None, "last_error": "connection refused"}
    WorkerStatus.objects.create(
        kind="bot",
        host="irc1",
        pid=7,
        last_seen=timezone.now() - timedelta(minutes=5),
        details={"networks": {"libera": up, "items": down}},
    )
    row = worker_row_html(user_client.get("/").content.decode(), "bot", "irc1", 7)
    assert field(row, "serving") == (
        "items: not connected (connection refused) libera: connected as infobot"
    )
    assert field(row, "queries") == "–" and "not seen" in row


@pytest.mark.django_db
def test_the_admin_link_is_shown_to_staff_only(user_client, django_user_model, client):
    assert b'href="/admin/"' not in user_client.get("/").content
    staff = django_user_model.objects.create_user("root", password="pw", is_staff=True)
    client.force_login(staff)
    assert b'href="/admin/"' in client.get("/").content


@pytest.mark.django_db
def test_healthz_reports_the_database_as_json(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_is_unreachable(client, monkeypatch):
    from django.db import DatabaseError, connection

    def broken_cursor(*args, **kwargs):
        raise DatabaseError("down")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


@pytest.fixture
def echo_route(monkeypatch):
    """A throwaway WebSocket route, so the router is tested apart from the apps' consumers."""
    from channels.generic.websocket import AsyncWebsocketConsumer

    from appliance import routing

    class Echo(AsyncWebsocketConsumer):
        async def receive(self, text_data=None, bytes_data=None):
            await self.send(text_data=text_data)

    monkeypatch.setattr(
        routing,
        "websocket_urlpatterns",
        [*routing.websocket_urlpatterns, path("ws/echo/", Echo.as_asgi())],
    )
    # URLRouter copied the list at import; rebuild the application around the new routes.
    from channels.auth import AuthMiddlewareStack
    from channels.routing import URLRouter
    from channels.security.websocket import AllowedHostsOriginValidator

    return AllowedHostsOriginValidator(
        AuthMiddlewareStack(URLRouter(routing.websocket_urlpatterns))
    )


@pytest.mark.django_db(transaction=True)
async def test_the_websocket_router_accepts_a_local_origin(echo_route):
    communicator = WebsocketCommunicator(
        echo_route, "/ws/echo/", headers=[(b"origin", b"http://localhost")]
    )
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_to(text_data="hi")
    assert await communicator.receive_from() == "hi"
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_websocket_router_rejects_a_foreign_origin():
    communicator = WebsocketCommunicator(
        application, "/ws/anything/", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert not connected


async def test_the_asgi_application_routes_http_and_websocket():
    assert set(application.application_mapping) == {"http", "websocket"}


@pytest.mark.django_db
def test_anonymous_readers_see_only_the_public_logs_in_the_menu(client):
    page = client.get("/accounts/login/").content.decode()
    assert 'href="/logs/"' in page
    assert 'href="/dns/zones/"' not in page and 'href="/admin/"' not in page
